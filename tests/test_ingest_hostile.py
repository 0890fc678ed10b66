"""The ingest stage against hostile input: every bad record is skipped and named, never a traceback,
and reading goes on with the next record in bounded memory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dedupe.ingest import InputError, read
from dedupe.story import Story

# Deeper than Python's recursion limit, so that a recursive decoder cannot read it.
DEEP = "[" * 10_000 + "]" * 10_000
LONG_NUMBER = "1" * 5_000


def write(path: Path, content: str | bytes) -> Path:
    if isinstance(content, str):
        content = content.encode("utf-8", "surrogatepass")
    path.write_bytes(content)
    return path


def read_all(*inputs: str | Path, **options: object) -> tuple[list[Story], list[InputError]]:
    errors: list[InputError] = []
    stories = list(read(list(inputs), errors=errors, **options))  # type: ignore[arg-type]
    return stories, errors


def jsonl(*records: object) -> str:
    return "".join(json.dumps(record) + "\n" for record in records)


def messages(errors: list[InputError]) -> list[tuple[int | None, str]]:
    return [(error.line, error.message) for error in errors]


# --- JSON the decoder gives up on -------------------------------------------------------------


@pytest.mark.parametrize(
    ("record", "message"),
    [
        (DEEP, "JSON nested too deeply"),
        ('{"title": "deep", "tags": ' + DEEP + "}", "JSON nested too deeply"),
        ('{"title": "long", "id": ' + LONG_NUMBER + "}", "a JSON number of more than 4,300 digits"),
    ],
    ids=["deep-array", "deep-field", "long-number"],
)
def test_json_the_decoder_gives_up_on_costs_one_line(
    tmp_path: Path, record: str, message: str
) -> None:
    path = write(
        tmp_path / "a.jsonl", jsonl({"title": "before"}) + record + "\n" + jsonl({"title": "after"})
    )
    stories, errors = read_all(path)
    assert [s.title for s in stories] == ["before", "after"]
    assert messages(errors) == [(2, message)]


def test_a_deeply_nested_first_line_does_not_break_sniffing(tmp_path: Path) -> None:
    path = write(
        tmp_path / "a.jsonl",
        '{"title": "deep", "tags": ' + DEEP + "}\n" + jsonl({"title": "after"}),
    )
    stories, errors = read_all(path)
    assert [s.title for s in stories] == ["after"]
    assert messages(errors) == [(1, "JSON nested too deeply")]
