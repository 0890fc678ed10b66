"""The index commands through typer's ``CliRunner``, in process: which commands may create an
index, and what the others say about one that is missing or unusable."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dedupe.cli import app
from tests.conftest import HARBOUR, RAIL

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args))


def jsonl(path: Path, stories) -> str:
    path.write_text("".join(json.dumps(s.to_dict()) + "\n" for s in stories), encoding="utf-8")
    return str(path)


@pytest.mark.parametrize(
    "command",
    [
        ["check", "DRAFT", "--index", "INDEX"],
        ["index", "stats", "--index", "INDEX"],
        ["index", "remove", "harbour", "--index", "INDEX"],
        ["index", "prune", "--older-than", "30d", "--index", "INDEX"],
    ],
)
def test_only_adding_commands_create_an_index(tmp_path, command):
    draft = jsonl(tmp_path / "draft.jsonl", [HARBOUR])
    mistyped = tmp_path / "publshed.sqlite"
    args = [draft if a == "DRAFT" else str(mistyped) if a == "INDEX" else a for a in command]
    result = invoke(*args)
    assert result.exit_code == 2
    assert f"dedupe: error: no index at {mistyped} (index add creates one)" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["draft.jsonl"]


def test_index_add_and_check_with_add_create_the_index(tmp_path):
    added = tmp_path / "added.sqlite"
    result = invoke(
        "index", "add", jsonl(tmp_path / "feed.jsonl", [HARBOUR, RAIL]), "-i", str(added)
    )
    assert result.exit_code == 0, result.stderr
    assert "added 2 stories; the index holds 2" in result.stderr
    checked = tmp_path / "checked.sqlite"
    draft = jsonl(tmp_path / "draft.jsonl", [HARBOUR])
    assert invoke("check", draft, "--index", str(checked), "--add").exit_code == 0
    assert invoke("check", draft, "--index", str(checked)).exit_code == 1
    stats = invoke("index", "stats", "--index", str(added), "-f", "json")
    assert json.loads(stats.stdout)["stories"] == 2


def test_index_add_skips_a_story_the_index_cannot_hold_and_stores_the_rest(tmp_path):
    # JSON can carry a lone surrogate ("\udc80" escaped), which no index can store as UTF-8.
    feed = tmp_path / "feed.jsonl"
    lines = [
        json.dumps({"id": f"n{n}", "title": f"Notice {n}", "body": f"Road {n} closes."})
        for n in range(1000)
    ]
    lines[500] = '{"id": "s\\udc80", "title": "Lone surrogate", "body": "Bad id."}'
    feed.write_text("\n".join(lines) + "\n", encoding="utf-8")
    index = str(tmp_path / "index.sqlite")
    result = invoke("index", "add", str(feed), "--index", index)
    assert result.exit_code == 0, result.stderr
    assert "skipped" in result.stderr and "Traceback" not in result.stderr
    stats = invoke("index", "stats", "--index", index, "-f", "json")
    assert json.loads(stats.stdout)["stories"] == 999

    failed = invoke("index", "add", str(feed), "--index", index, "--on-error", "fail")
    assert failed.exit_code == 2 and "feed.jsonl:501" in failed.stderr


def test_check_against_a_corpus_skips_a_story_no_index_can_hold(tmp_path):
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text(
        json.dumps(HARBOUR.to_dict())
        + '\n{"id": "s\\udc80", "title": "Lone surrogate", "body": "Bad id."}\n',
        encoding="utf-8",
    )
    draft = jsonl(tmp_path / "draft.jsonl", [HARBOUR])
    result = invoke("check", draft, "--against", str(corpus))
    assert result.exit_code == 1, result.stderr
    assert "skipped" in result.stderr


@pytest.mark.parametrize(
    "age", ["99999999999d", "9" * 400 + "s", "800000w"], ids=["days", "infinite", "weeks"]
)
def test_prune_refuses_an_age_older_than_the_calendar(tmp_path, age):
    index = str(tmp_path / "index.sqlite")
    added = invoke("index", "add", jsonl(tmp_path / "feed.jsonl", [HARBOUR]), "-i", index)
    assert added.exit_code == 0
    result = invoke("index", "prune", "--older-than", age, "--index", index)
    assert result.exit_code == 2  # not 1, an uncaught OverflowError
    assert f"dedupe: error: --older-than {age} reaches back before the year 1" in result.stderr
    stats = invoke("index", "stats", "--index", index, "-f", "json")
    assert json.loads(stats.stdout)["stories"] == 1
