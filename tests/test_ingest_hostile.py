"""The ingest stage against hostile input: every bad record is skipped and named, never a traceback,
and reading goes on with the next record in bounded memory."""

from __future__ import annotations

import gzip
import io
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from dedupe.ingest import InputError, read
from dedupe.ingest import feed as ingest_feed
from dedupe.ingest import source as ingest_source
from dedupe.story import Story
from tests.test_ingest import jsonl, read_all, write

# Deeper than Python's recursion limit, so that a recursive decoder cannot read it.
DEEP = "[" * 10_000 + "]" * 10_000
LONG_NUMBER = "1" * 5_000


def rss(*items: str) -> str:
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Wire</title>'
        + "".join(f"<item>{item}</item>" for item in items)
        + "</channel></rss>"
    )


def messages(errors: list[InputError]) -> list[tuple[int | None, str]]:
    return [(error.line, error.message) for error in errors]


def output_of(stories: list[Story]) -> bytes:
    """The stories as the report writes them: UTF-8 JSON that keeps characters as they are."""
    return json.dumps([s.to_dict() for s in stories], ensure_ascii=False).encode("utf-8")


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


@pytest.mark.parametrize(
    ("element", "message"),
    [
        (DEEP, "JSON nested too deeply"),
        ('{"title": "long", "id": ' + LONG_NUMBER + "}", "a JSON number of more than 4,300 digits"),
    ],
    ids=["deep-array", "long-number"],
)
def test_json_the_decoder_gives_up_on_costs_one_array_element(
    tmp_path: Path, element: str, message: str
) -> None:
    path = write(
        tmp_path / "export.json",
        f'[\n  {{"title": "before"}},\n  {element},\n  {{"title": "after"}}\n]\n',
    )
    stories, errors = read_all(path)
    assert [s.title for s in stories] == ["before", "after"]
    assert messages(errors) == [(3, message)]


# --- JSON documents: a bad element costs itself alone -----------------------------------------


def pretty_array(elements: list[str]) -> str:
    """A JSON array as ``json.dump(..., indent=2)`` writes it, from elements already written."""
    return "[\n" + ",\n".join("  " + e.replace("\n", "\n  ") for e in elements) + "\n]\n"


def numbered_elements(count: int) -> list[str]:
    return [json.dumps({"title": f"story {n}", "body": "text"}, indent=2) for n in range(count)]


def test_a_damaged_line_costs_only_its_element(tmp_path: Path) -> None:
    # Well past the head the encoding is told from, and within a chunk of elements read at once.
    elements = numbered_elements(3000)
    elements[2000] = elements[2000].replace('"text"', '"caf\udce9"')
    path = write(
        tmp_path / "export.json", pretty_array(elements).encode("utf-8", "surrogateescape")
    )
    stories, errors = read_all(path)
    assert [s.title for s in stories] == [f"story {n}" for n in range(3000) if n != 2000]
    assert [(e.line, e.message) for e in errors] == [
        (2 + 4 * 2000 + 2, "invalid UTF-8 (byte 0xe9 at column 17)")
    ]


def test_a_damaged_line_costs_only_the_element_holding_the_bad_bytes(tmp_path: Path) -> None:
    elements = numbered_elements(2000)
    elements.append('{"title": "same line 1"}, {"title": "caf\udce9"}, {"title": "same line 2"}')
    elements.append('{"title": "last"}')
    path = write(
        tmp_path / "export.json", pretty_array(elements).encode("utf-8", "surrogateescape")
    )
    stories, errors = read_all(path)
    assert [s.title for s in stories][-3:] == ["same line 1", "same line 2", "last"]
    assert len(stories) == 2003
    assert [(e.line, e.message) for e in errors] == [
        (2 + 4 * 2000, "invalid UTF-8 (byte 0xe9 at column 43)")
    ]


def test_an_overlong_line_costs_only_its_element(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(ingest_source, "MAX_LINE_BYTES", 1024)
    elements = [
        '{"title": "before"}',
        '{\n  "title": "big",\n  "body": "' + "x" * 5000 + '"\n}',
        '{"title": "after"}',
    ]
    stories, errors = read_all(write(tmp_path / "export.json", pretty_array(elements)))
    assert [s.title for s in stories] == ["before", "after"]
    assert messages(errors) == [(5, "line is longer than 1,024 bytes")]


def test_reading_resumes_after_invalid_json_at_the_next_element(tmp_path: Path) -> None:
    path = write(
        tmp_path / "export.json",
        '[\n  {\n    "title": "one"\n  },\n  {\n    "title": "two" "x"\n  },\n'
        '  {\n    "title": "three",\n    "nested": {\n      "a": 1\n    }\n  }\n]\n',
    )
    stories, errors = read_all(path)
    assert [s.title for s in stories] == ["one", "three"]
    assert messages(errors) == [(6, "invalid JSON: Expecting ',' delimiter")]


def test_reading_resumes_after_invalid_json_in_a_stream_of_objects(tmp_path: Path) -> None:
    # As jq prints the elements of an array, one pretty-printed object after another.
    path = write(
        tmp_path / "stream.json",
        '{\n  "title": "one"\n}\n{\n  "title": \n}\n{\n  "title": "three"\n}\n',
    )
    stories, errors = read_all(path)
    assert [s.title for s in stories] == ["one", "three"]
    assert messages(errors) == [(6, "invalid JSON: Expecting value")]


def test_a_missing_comma_loses_no_story(tmp_path: Path) -> None:
    path = write(tmp_path / "export.json", '[\n  {"title": "one"}\n  {"title": "two"}\n]\n')
    stories, errors = read_all(path)
    assert [s.title for s in stories] == ["one", "two"]
    assert messages(errors) == [(3, "invalid JSON: Expecting ',' delimiter")]


# --- dates at the edges of the calendar -------------------------------------------------------


@pytest.mark.parametrize(
    "published",
    [
        "9999-12-31T23:59:59-01:00",
        "0001-01-01T00:00:00+01:00",
        "Fri, 31 Dec 9999 23:59:59 -0100",
        "Fri, 31 Dec 2025 99999999999999999999:59:59 +0000",
    ],
)
def test_a_date_outside_the_calendar_is_a_bad_record(tmp_path: Path, published: str) -> None:
    path = write(
        tmp_path / "a.jsonl",
        jsonl(
            {"title": "edge", "published": published},
            {"title": "after", "published": "9999-12-31T23:59:59Z"},
        ),
    )
    stories, errors = read_all(path)
    assert [(s.title, s.published) for s in stories] == [("after", "9999-12-31T23:59:59Z")]
    assert messages(errors) == [(1, f"published is outside the calendar: {published!r}")]


@pytest.mark.parametrize("published", ["9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00"])
def test_a_feed_date_outside_the_calendar_is_a_bad_entry(tmp_path: Path, published: str) -> None:
    path = write(
        tmp_path / "feed.xml",
        rss(
            f"<title>edge</title><pubDate>{published}</pubDate>",
            "<title>after</title><pubDate>Fri, 31 Dec 9999 23:00:00 +0000</pubDate>",
        ),
    )
    stories, errors = read_all(path)
    assert [(s.title, s.published) for s in stories] == [("after", "9999-12-31T23:00:00Z")]
    assert [str(e) for e in errors] == [
        f"{path}: entry 1: published is outside the calendar: {published!r}"
    ]


# --- lone surrogates --------------------------------------------------------------------------


def test_a_lone_surrogate_in_an_id_or_url_refuses_the_record(tmp_path: Path) -> None:
    path = write(
        tmp_path / "a.jsonl",
        '{"id": "s\\udc80", "title": "bad id"}\n'
        '{"title": "bad url", "url": "https://example.com/\\ud800"}\n'
        '{"id": "fine", "title": "after"}\n',
    )
    stories, errors = read_all(path)
    assert [s.id for s in stories] == ["fine"]
    assert messages(errors) == [
        (1, "id holds an invalid character (lone surrogate U+DC80)"),
        (2, "url holds an invalid character (lone surrogate U+D800)"),
    ]


def test_a_lone_surrogate_in_text_becomes_a_replacement_character(tmp_path: Path) -> None:
    path = write(
        tmp_path / "a.jsonl",
        '{"id": "a", "title": "t\\udc80", "body": "b\\ud800", "source": "s\\udfff", '
        '"language": "e\\udc00", "tags": ["x\\udc80", {"k\\udc80": "v\\udc80"}], "n\\ud800": 1}\n'
        # A surrogate pair is one character, not two lone ones.
        '{"id": "b", "title": "smile \\ud83d\\ude00"}\n',
    )
    stories, errors = read_all(path)
    assert errors == []
    first, second = stories
    assert (first.title, first.body, first.source, first.language) == (
        "t\ufffd",
        "b\ufffd",
        "s\ufffd",
        "e\ufffd",
    )
    assert first.extra == {"tags": ["x\ufffd", {"k\ufffd": "v\ufffd"}], "n\ufffd": 1}
    assert second.title == "smile \U0001f600"
    assert json.loads(output_of(stories))[0]["tags"] == ["x\ufffd", {"k\ufffd": "v\ufffd"}]


def test_a_character_reference_to_a_surrogate_in_a_feed(tmp_path: Path) -> None:
    path = write(
        tmp_path / "feed.xml",
        rss(
            "<guid>g-1</guid><title>caf&#xDC80; &#55296;</title><description>&#0;x&#1114112;</description>",
            "<guid>g-2</guid><title>after</title>",
        ),
    )
    stories, errors = read_all(path)
    assert errors == []
    assert [(s.id, s.title, s.body) for s in stories] == [
        ("g-1", "caf\ufffd \ufffd", "\ufffdx\ufffd"),
        ("g-2", "after", ""),
    ]
    assert output_of(stories)


def test_an_unknown_field_nested_too_deeply_for_the_report_is_refused(tmp_path: Path) -> None:
    # The decoder reads 900 levels; the encoder that writes the report, deeper in the stack, not.
    nested = "[" * 900 + "]" * 900
    path = write(
        tmp_path / "a.jsonl",
        '{"title": "deep", "tags": '
        + nested
        + "}\n"
        + jsonl({"title": "after", "tags": [[["ok"]]]}),
    )
    stories, errors = read_all(path)
    assert [(s.title, s.extra) for s in stories] == [("after", {"tags": [[["ok"]]]})]
    assert messages(errors) == [(1, "field 'tags' is nested more than 100 levels deep")]


# --- feeds too large to parse ------------------------------------------------------------------


def test_a_feed_larger_than_the_cap_is_refused_without_reading_it_all(monkeypatch) -> None:
    monkeypatch.setattr(ingest_feed, "MAX_FEED_BYTES", 1 << 20)
    huge = rss("<title>x</title><description>" + " " * (8 << 20) + "</description>").encode()
    stdin = io.BytesIO(huge)
    stories, errors = read_all("-", stdin=stdin)
    assert stories == []
    assert [str(e) for e in errors] == [
        "<stdin>: the feed is larger than 1 MB; split it into smaller feeds"
    ]
    # The cap and a buffer's worth, not the whole input.
    assert stdin.tell() < 3 << 20


def test_a_feed_at_the_cap_is_read(monkeypatch) -> None:
    feed = rss("<title>fits</title>").encode()
    monkeypatch.setattr(ingest_feed, "MAX_FEED_BYTES", len(feed))
    assert [s.title for s in read_all("-", stdin=io.BytesIO(feed))[0]] == ["fits"]


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads VmSize from /proc")
def test_a_gzip_bomb_of_a_feed_is_refused_in_bounded_memory(tmp_path: Path) -> None:
    # A gigabyte of spaces in one item, as gzip members of a mebibyte each: a 1 MB file.
    spaces = gzip.compress(b" " * (1 << 20))
    bomb = tmp_path / "bomb.xml.gz"
    bomb.write_bytes(
        gzip.compress(
            b'<?xml version="1.0"?><rss version="2.0"><channel><item><title>x</title><description>'
        )
        + spaces * 1024
        + gzip.compress(b"</description></item></channel></rss>")
    )
    script = textwrap.dedent(
        """
        import resource, sys
        from dedupe.ingest import read

        # What the process holds now, and room for reading a feed at the cap, not the gigabyte.
        status = open("/proc/self/status").read()
        held = int(status.split("VmSize:")[1].split()[0]) * 1024
        resource.setrlimit(resource.RLIMIT_AS, (held + (512 << 20), held + (512 << 20)))
        errors = []
        stories = list(read([sys.argv[1]], errors=errors))
        print(len(stories), *errors, sep="\\n")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(bomb)],
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.splitlines() == [
        "0",
        f"{bomb}: the feed is larger than 32 MB; split it into smaller feeds",
    ]


# --- stray bytes in the head a file's encoding is told from ----------------------------------

FRENCH = [
    json.dumps(
        {"title": f"Économie, numéro {n}", "body": "Le ministre a déclaré que l’économie…"},
        ensure_ascii=False,
    )
    for n in range(300)
]


@pytest.mark.parametrize(
    ("damaged", "errors_expected"),
    [
        ({100: b'{"title": "caf\xe9"}'}, [(101, "invalid UTF-8 (byte 0xe9 at column 15)")]),
        ({100: b'{"title": "x\xff"}'}, [(101, "invalid UTF-8 (byte 0xff at column 13)")]),
        # A few records pasted in from cp1252.
        (
            {
                10: b'{"title": "\x93Quoted\x94"}',
                20: b'{"title": "na\xefve"}',
                30: b'{"title": "\xc0 la"}',
            },
            [
                (11, "invalid UTF-8 (byte 0x93 at column 12)"),
                (21, "invalid UTF-8 (byte 0xef at column 14)"),
                (31, "invalid UTF-8 (byte 0xc0 at column 12)"),
            ],
        ),
        ({100: b'{"title": "x\x00"}'}, [(101, "NUL character at column 13")]),
    ],
    ids=["latin-1-byte", "0xff", "cp1252-records", "nul"],
)
def test_stray_bytes_in_the_head_of_a_utf8_file_cost_only_their_lines(
    tmp_path: Path, damaged: dict[int, bytes], errors_expected: list[tuple[int, str]]
) -> None:
    lines = [line.encode() for line in FRENCH]
    for index, line in damaged.items():
        lines[index] = line
    path = write(tmp_path / "a.jsonl", b"\n".join(lines) + b"\n")
    stories, errors = read_all(path)
    expected = [json.loads(line)["title"] for i, line in enumerate(FRENCH) if i not in damaged]
    assert [s.title for s in stories] == expected
    assert messages(errors) == errors_expected


def test_a_legacy_file_is_still_told_from_utf8_with_stray_bytes(tmp_path: Path) -> None:
    path = write(tmp_path / "a.jsonl", "\n".join(FRENCH).encode("cp1252"))
    stories, errors = read_all(path)
    assert errors == []
    assert stories[0].title == "Économie, numéro 0"


def test_a_damaged_line_of_a_multi_line_csv_record_is_named(tmp_path: Path) -> None:
    rows = "".join(f"Story {n},Body {n}\n" for n in range(8000)).encode()
    path = write(
        tmp_path / "a.csv", b"title,body\n" + rows + b'Multi,"first\nsecond \xe9"\nAfter,x\n'
    )
    stories, errors = read_all(path)
    assert [s.title for s in stories][-2:] == ["Story 7999", "After"]
    assert messages(errors) == [(8003, "invalid UTF-8 (byte 0xe9 at column 8)")]


def test_a_damaged_csv_header_refuses_the_file(tmp_path: Path) -> None:
    rows = "".join(f"Story {n},Body {n}\n" for n in range(8000)).encode()
    stories, errors = read_all(write(tmp_path / "a.csv", b"title,bo\x00dy\n" + rows))
    assert stories == []
    assert messages(errors) == [(1, "invalid CSV header: NUL character at column 9")]


# --- one hostile record of every kind ---------------------------------------------------------

HOSTILE = [
    # (file name, content, titles read, (line, start of message) of each error)
    (
        "nan-id.jsonl",
        '{"id": NaN, "title": "x"}\n{"title": "after"}\n',
        ["after"],
        [(1, "id must be a finite number, not nan")],
    ),
    (
        "infinite-id.jsonl",
        '{"id": -Infinity, "title": "x"}\n{"title": "after"}\n',
        ["after"],
        [(1, "id must be a finite number, not -inf")],
    ),
    (
        "long-id.jsonl",
        f'{{"id": {LONG_NUMBER}, "title": "x"}}\n{{"title": "after"}}\n',
        ["after"],
        [(1, "a JSON number of more than 4,300 digits")],
    ),
    (
        "nan-id.json",
        '[\n  {"id": Infinity, "title": "x"},\n  {"title": "after"}\n]\n',
        ["after"],
        [(2, "id must be a finite number, not inf")],
    ),
    (
        "deep.json",
        '{"title": "x", "tags": ' + DEEP + '}\n{"title": "after"}\n',
        ["after"],
        [(1, "JSON nested too deeply")],
    ),
    (
        "nul.csv",
        "title,body\n" + "ok,fine\n" * 20 + "A\0b,c\nafter,x\n",
        ["ok"] * 20 + ["after"],
        [(22, "NUL character at column 2")],
    ),
    (
        "nul.txt",
        "Title\n" + "text " * 40 + "\nbad \0 line\n",
        [],
        [(3, "NUL character at column 5")],
    ),
    (
        "nul-page.txt",
        "Headline one\nText one.\nSource Link\nRead moreHeadline two\nbad\0 text […]\nRead moreHeadline three\ntext three […]\n",
        ["Headline one", "Headline three"],
        [(5, "NUL character at column 4")],
    ),
    (
        "marked-section.xml",
        rss("<title>kept</title><description>before &lt;![ x]&gt; after</description>"),
        ["kept"],
        [],
    ),
    (
        "stray-end-tag.xml",
        rss("<title>a</title></gml:pos>"),
        [],
        [(None, "not a readable RSS or Atom feed: feedparser failed (KeyError")],
    ),
]


@pytest.mark.parametrize(
    ("name", "content", "titles", "expected"), HOSTILE, ids=[row[0] for row in HOSTILE]
)
def test_a_hostile_record_is_skipped_and_named(
    tmp_path: Path,
    name: str,
    content: str,
    titles: list[str],
    expected: list[tuple[int | None, str]],
) -> None:
    path = write(tmp_path / name, content)
    stories, errors = read_all(path)
    assert [s.title for s in stories] == titles
    assert [r["title"] for r in json.loads(output_of(stories))] == titles
    assert len(errors) == len(expected)
    for error, (line, message) in zip(errors, expected, strict=True):
        assert (error.source, error.line) == (str(path), line)
        assert error.message.startswith(message)


FAILING = [row for row in HOSTILE if row[3]]


@pytest.mark.parametrize(
    ("name", "content", "titles", "expected"), FAILING, ids=[row[0] for row in FAILING]
)
def test_a_hostile_record_stops_a_failing_run_with_an_input_error(
    tmp_path: Path,
    name: str,
    content: str,
    titles: list[str],
    expected: list[tuple[int | None, str]],
) -> None:
    path = write(tmp_path / name, content)
    with pytest.raises(InputError) as raised:
        list(read([path], on_error="fail"))
    (line, message), *_ = expected
    assert (raised.value.source, raised.value.line) == (str(path), line)
    assert raised.value.message.startswith(message)
