"""The ingest stage: every format, sniffing, encodings, folders, stdin, gzip and bad input."""

from __future__ import annotations

import gzip
import io
import json
import os
import pickle
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dedupe.ingest import (
    FORMATS,
    MAX_BODY_CHARS,
    ByteBlock,
    InputError,
    copied_story,
    copied_text,
    input_size,
    read,
)
from dedupe.ingest import source as ingest_source
from dedupe.ingest.sniff import sniff_format
from dedupe.story import Story, story_id_for

SEED = Path(__file__).resolve().parents[1] / "seeds" / "feed-page.txt"


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        # surrogatepass: hostile inputs hold lone surrogates, written as the bytes a broken
        # exporter writes.
        content = content.encode("utf-8", "surrogatepass")
    path.write_bytes(content)
    return path


def read_all(*inputs: str | Path, **options: object) -> tuple[list[Story], list[InputError]]:
    errors: list[InputError] = []
    stories = list(read(list(inputs), errors=errors, **options))  # type: ignore[arg-type]
    return stories, errors


def jsonl(*records: object) -> str:
    return "".join(json.dumps(record) + "\n" for record in records)


# --- InputError -------------------------------------------------------------------------------


def test_input_error_names_source_and_line() -> None:
    error = InputError("feed.jsonl", 12, "invalid JSON: Expecting ',' delimiter")
    assert str(error) == "feed.jsonl:12: invalid JSON: Expecting ',' delimiter"
    assert str(InputError("feed.jsonl", None, "not a text file")) == "feed.jsonl: not a text file"
    assert (error.source, error.line, error.message) == (
        "feed.jsonl",
        12,
        "invalid JSON: Expecting ',' delimiter",
    )


def test_input_error_survives_pickling_for_worker_processes() -> None:
    error = pickle.loads(pickle.dumps(InputError("a.csv", 3, "expected 3 fields, found 2")))
    assert str(error) == "a.csv:3: expected 3 fields, found 2"


# --- JSON Lines -------------------------------------------------------------------------------


def test_jsonl_reads_fields_and_keeps_unknown_ones(tmp_path: Path) -> None:
    path = write(
        tmp_path / "feed.jsonl",
        jsonl(
            {
                "id": "a1",
                "title": " Title ",
                "body": "Body text.",
                "url": "https://example.com/a",
                "source": "Wire",
                "published": "2025-07-02T10:00:00Z",
                "language": "en",
                "tags": ["x", {"y": 1}],
                "score": 0.5,
            }
        )
        + "\n   \n"
        + jsonl({"id": 42, "title": "Second"}),
    )
    stories, errors = read_all(path)
    assert errors == []
    first, second = stories
    assert first == Story(
        id="a1",
        title="Title",
        body="Body text.",
        url="https://example.com/a",
        source="Wire",
        published="2025-07-02T10:00:00Z",
        language="en",
    )
    assert first.extra == {"tags": ["x", {"y": 1}], "score": 0.5}
    assert first.origin == f"{path}:1"
    assert (second.id, second.title, second.body, second.origin) == (
        "42",
        "Second",
        "",
        f"{path}:4",
    )


def test_jsonl_body_aliases_apply_only_without_body(tmp_path: Path) -> None:
    path = write(
        tmp_path / "a.jsonl",
        jsonl(
            {"title": "t1", "text": "from text"},
            {"title": "t2", "content": "from content"},
            {"title": "t3", "body": "real body", "text": "kept aside"},
        ),
    )
    stories, _ = read_all(path)
    assert [s.body for s in stories] == ["from text", "from content", "real body"]
    assert stories[0].extra == {}
    assert stories[2].extra == {"text": "kept aside"}


def test_missing_ids_are_derived_deterministically(tmp_path: Path) -> None:
    path = write(
        tmp_path / "a.jsonl",
        jsonl({"title": "T", "body": "B"}, {"title": "T", "url": "https://example.com/x"}),
    )
    first_run, _ = read_all(path)
    second_run, _ = read_all(path)
    assert [s.id for s in first_run] == [s.id for s in second_run]
    assert first_run[0].id == story_id_for(None, "T", "B")
    assert first_run[1].id == story_id_for("https://example.com/x", "T", "")


def test_published_dates_are_normalized_to_utc(tmp_path: Path) -> None:
    path = write(
        tmp_path / "a.jsonl",
        jsonl(
            {"title": "a", "published": "2025-07-02T12:00:00+02:00"},
            {"title": "b", "published": "Wed, 02 Jul 2025 12:00:00 +0200"},
            {"title": "c", "published": "2025-07-02"},
            {"title": "d", "published": ""},
        ),
    )
    stories, errors = read_all(path)
    assert errors == []
    assert [s.published for s in stories] == [
        "2025-07-02T10:00:00Z",
        "2025-07-02T10:00:00Z",
        "2025-07-02",
        None,
    ]


def test_jsonl_bad_records_are_skipped_and_reported(tmp_path: Path) -> None:
    path = write(
        tmp_path / "feed.jsonl",
        '{"title": "ok 1"}\n'
        '{"title": "a" "body": "b"}\n'
        "[1, 2]\n"
        '{"title": 3}\n'
        '{"title": "x", "body": ["list"]}\n'
        '{"title": "x", "url": 7}\n'
        '{"id": true, "title": "x"}\n'
        '{"title": "  ", "body": "\\n"}\n'
        '{"title": "x", "published": "yesterday"}\n'
        '{"title": "ok 2"}\n',
    )
    stories, errors = read_all(path)
    assert [s.title for s in stories] == ["ok 1", "ok 2"]
    assert [str(e) for e in errors] == [
        f"{path}:2: invalid JSON: Expecting ',' delimiter",
        f"{path}:3: expected a JSON object, got an array",
        f"{path}:4: title must be a string, not a number",
        f"{path}:5: body must be a string, not an array",
        f"{path}:6: url must be a string, not a number",
        f"{path}:7: id must be a string or a number, not a boolean",
        f"{path}:8: empty story: no title and no body",
        f"{path}:9: published is not an ISO 8601 or RFC 2822 date: 'yesterday'",
    ]
    assert all(e.source == str(path) and e.line is not None for e in errors)


def test_fail_mode_raises_at_the_first_bad_record_after_yielding_the_good_ones(
    tmp_path: Path,
) -> None:
    path = write(tmp_path / "feed.jsonl", '{"title": "ok"}\n{"title": \n{"title": "never"}\n')
    stories = read([path], on_error="fail")
    assert next(stories).title == "ok"
    with pytest.raises(InputError) as raised:
        next(stories)
    assert (raised.value.source, raised.value.line) == (str(path), 2)
    assert raised.value.message.startswith("invalid JSON: ")


def test_title_only_story_is_fine(tmp_path: Path) -> None:
    stories, errors = read_all(write(tmp_path / "a.jsonl", jsonl({"title": "Only a headline"})))
    assert errors == []
    assert (stories[0].title, stories[0].body) == ("Only a headline", "")


def test_huge_body_is_cut_without_error(tmp_path: Path) -> None:
    body = "word " * (MAX_BODY_CHARS // 4)
    path = write(tmp_path / "big.jsonl", jsonl({"title": "big", "body": body}, {"title": "next"}))
    stories, errors = read_all(path)
    assert errors == []
    assert len(stories[0].body) == MAX_BODY_CHARS
    assert stories[1].title == "next"


def test_an_overlong_line_costs_only_itself(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(ingest_source, "MAX_LINE_BYTES", 1024)
    path = write(
        tmp_path / "a.jsonl",
        jsonl({"title": "before"}, {"title": "x" * 5000}, {"title": "after"}),
    )
    stories, errors = read_all(path)
    assert [s.title for s in stories] == ["before", "after"]
    assert [(e.line, e.message) for e in errors] == [(2, "line is longer than 1,024 bytes")]


# --- JSON documents ---------------------------------------------------------------------------


def test_json_array_gives_each_story_the_line_it_starts_on(tmp_path: Path) -> None:
    path = write(
        tmp_path / "export.json",
        '[\n  {"title": "one",\n   "body": "first"},\n  7,\n  {\n    "title": "two"\n  }\n]\n',
    )
    stories, errors = read_all(path)
    assert [(s.title, s.origin) for s in stories] == [("one", f"{path}:2"), ("two", f"{path}:5")]
    assert [str(e) for e in errors] == [f"{path}:4: expected a JSON object, got a number"]


def test_json_single_object_and_pretty_printed_stream(tmp_path: Path) -> None:
    single = write(tmp_path / "one.json", json.dumps({"title": "solo", "body": "b"}, indent=2))
    stream = write(
        tmp_path / "stream.json",
        json.dumps({"title": "a"}, indent=2) + "\n" + json.dumps({"title": "b"}, indent=2) + "\n",
    )
    assert [s.title for s in read_all(single)[0]] == ["solo"]
    assert [s.title for s in read_all(stream)[0]] == ["a", "b"]


def test_invalid_json_with_no_element_to_resume_at_ends_the_file(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.json", '[\n {"title": "kept"},\n {"title": "x" "y"}\n]\n')
    stories, errors = read_all(path)
    assert [s.title for s in stories] == ["kept"]
    assert [str(e) for e in errors] == [f"{path}:3: invalid JSON: Expecting ',' delimiter"]

    unclosed = write(tmp_path / "unclosed.json", '[{"title": "a"},\n')
    stories, errors = read_all(unclosed)
    assert [s.title for s in stories] == ["a"]
    assert errors[0].message == "invalid JSON: the array is not closed"


# --- CSV --------------------------------------------------------------------------------------


def test_csv_reads_headers_case_insensitively_and_keeps_extra_columns(tmp_path: Path) -> None:
    path = write(
        tmp_path / "feed.csv",
        "ID,Title,BODY,Url,Section\n"
        '1,First,"Para one.\nPara two.",https://example.com/1,World\n'
        "2,Second,Body two,,Sport\n",
    )
    stories, errors = read_all(path)
    assert errors == []
    first, second = stories
    assert (first.id, first.title, first.body) == ("1", "First", "Para one.\nPara two.")
    assert (first.url, first.extra, first.origin) == (
        "https://example.com/1",
        {"Section": "World"},
        f"{path}:2",
    )
    # The first record spans lines 2-3, so the second starts on line 4.
    assert (second.url, second.origin) == (None, f"{path}:4")


def test_csv_bad_rows_name_their_first_physical_line(tmp_path: Path) -> None:
    path = write(
        tmp_path / "feed.csv",
        'title,body\nok,"one\ntwo"\ntoo,many,fields\n\nfew\n"bad"quote,x\n,\nlast,ok\n',
    )
    stories, errors = read_all(path)
    assert [s.title for s in stories] == ["ok", "last"]
    assert [(e.line, e.message) for e in errors] == [
        (4, "expected 2 fields, found 3"),
        (6, "expected 2 fields, found 1"),
        (7, "invalid CSV: ',' expected after '\"'"),
        (8, "empty story: no title and no body"),
    ]


def test_csv_delimiter_follows_the_header(tmp_path: Path) -> None:
    tsv = write(tmp_path / "a.tsv", "id\ttitle\tbody\n1\tTab, separated\tBody; text\n")
    semicolon = write(tmp_path / "b.csv", "title;body\nSemi, colon;Body\n")
    assert [(s.title, s.body) for s in read_all(tsv)[0]] == [("Tab, separated", "Body; text")]
    assert [(s.title, s.body) for s in read_all(semicolon)[0]] == [("Semi, colon", "Body")]


def test_csv_with_old_mac_line_endings(tmp_path: Path) -> None:
    path = write(tmp_path / "mac.csv", "title,body\rFirst,One\rSecond,Two\r")
    stories, errors = read_all(path)
    assert errors == []
    assert [(s.title, s.origin) for s in stories] == [
        ("First", f"{path}:2"),
        ("Second", f"{path}:3"),
    ]


def test_csv_without_a_story_column_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "people.csv", "name,age\nAda,36\n")
    stories, errors = read_all(path)
    assert stories == []
    assert [str(e) for e in errors] == [
        f"{path}:1: the CSV header has no title or body column (columns: name, age)"
    ]


def test_csv_accepts_fields_beyond_the_default_size_limit(tmp_path: Path) -> None:
    body = "x" * 300_000
    stories, errors = read_all(write(tmp_path / "big.csv", f"title,body\nBig,{body}\n"))
    assert errors == []
    assert len(stories[0].body) == 300_000


# --- RSS and Atom -----------------------------------------------------------------------------

RSS = """<?xml version="1.0" encoding="windows-1252"?>
<rss version="2.0"><channel><title>Times &amp; Co</title><language>en-gb</language>
<item>
  <title>Kazakhstan deports 10,000</title>
  <link>https://example.com/a</link>
  <guid>a-1</guid>
  <pubDate>Wed, 02 Jul 2025 12:00:00 +0200</pubDate>
  <description>&lt;p&gt;First para &amp;amp; caf\xe9.&lt;/p&gt;&lt;p&gt;Second&amp;nbsp;para
  &lt;br/&gt;same paragraph&lt;/p&gt;&lt;script&gt;track()&lt;/script&gt;</description>
</item>
<item><title></title><description></description></item>
<item><title>No guid</title><link>https://example.com/b</link></item>
</channel></rss>
"""

ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="de">
  <title type="html">Die &lt;b&gt;Zeitung&lt;/b&gt;</title>
  <entry>
    <id>urn:example:1</id>
    <title>Über den Fluss</title>
    <updated>2025-07-02T10:00:00Z</updated>
    <link href="https://example.de/1"/>
    <content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">
      <p>Eins</p><p>Zwei &amp; drei</p></div></content>
  </entry>
</feed>
"""


def test_rss_items_become_stories_with_plain_text_bodies(tmp_path: Path) -> None:
    path = write(tmp_path / "feed.rss", RSS.encode("cp1252"))
    stories, errors = read_all(path)
    first, second = stories
    assert first.title == "Kazakhstan deports 10,000"
    assert first.body == "First para & café.\nSecond para\nsame paragraph"
    assert (first.id, first.url, first.source) == ("a-1", "https://example.com/a", "Times & Co")
    assert (first.published, first.language, first.origin) == (
        "2025-07-02T10:00:00Z",
        "en-gb",
        str(path),
    )
    assert second.id == story_id_for("https://example.com/b", "No guid", "")
    assert [str(e) for e in errors] == [f"{path}: entry 2: empty story: no title and no body"]


def test_atom_entries_with_xhtml_content(tmp_path: Path) -> None:
    stories, errors = read_all(write(tmp_path / "atom.xml", ATOM))
    assert errors == []
    (story,) = stories
    assert (story.id, story.title, story.body) == (
        "urn:example:1",
        "Über den Fluss",
        "Eins\nZwei & drei",
    )
    assert (story.source, story.language, story.published) == (
        "Die Zeitung",
        "de",
        "2025-07-02T10:00:00Z",
    )


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ('<?xml version="1.0"?><rss><channel><item><title>x</ti', "unclosed token"),
        ('<?xml version="1.0"?><note><to>someone</to></note>', "no RSS or Atom elements"),
    ],
)
def test_unreadable_feed_is_refused_as_a_whole(tmp_path: Path, content: str, reason: str) -> None:
    path = write(tmp_path / "feed.xml", content)
    stories, errors = read_all(path)
    assert stories == []
    assert len(errors) == 1
    assert (errors[0].source, errors[0].line) == (str(path), None)
    assert errors[0].message.startswith("not a readable RSS or Atom feed") and reason in str(
        errors[0]
    )


# --- scraped feed pages -----------------------------------------------------------------------

SEED_TITLES = [
    "10,000 foreigners are deported from Kazakhstan amid crackdown on migration violations",
    "Average net salary in May 107,705 dinars, median salary 84,406 dinars",
    "Kazakhstan Deports 10,000 Foreigners Amid Crackdown on Migration Violations",
    "EU: Georgia’s economy to slow but stay strong; business confidence hit by political turmoil",
    "Employers have to choose between hiring a foreigner or shutting down the business",
    "War cost Ukraine 40% of its labor force",
    "Employers facing a choice: Hire a foreigner or shut down the business",
    "Kazakhstan improving quality of life – Global Banking & Finance Review",
    "IDFI: Georgia’s IT sector slows down",
    "Italy to help Ukraine rebuild its labor market",
]


def test_seed_page_gives_two_articles_and_eight_teasers() -> None:
    stories, errors = read_all(SEED)
    assert errors == []
    assert [s.title for s in stories] == SEED_TITLES
    for story in stories:
        for boilerplate in ("Source Link", "Read more"):
            assert boilerplate not in story.title and boilerplate not in story.body
        assert story.extra == {"category": "NEWS"}
        assert story.body
    articles = [s for s in stories if not s.body.endswith("[…]")]
    assert [s.title for s in articles] == [SEED_TITLES[0], SEED_TITLES[4]]
    kazakhstan, serbia = articles
    assert kazakhstan.body.startswith("First Deputy Minister of Internal Affairs Baurzhan Alenov")
    assert kazakhstan.body.endswith("They work primarily in the construction sector.")
    assert len(kazakhstan.body.split("\n")) == 11
    assert serbia.body.startswith("Data from the National Employment Service show")
    assert serbia.body.endswith("there are things they don’t like.")
    assert [s.origin for s in stories[:3]] == [f"{SEED}:2", f"{SEED}:15", f"{SEED}:17"]


def test_seed_page_ids_are_derived_from_content() -> None:
    first, _ = read_all(SEED)
    second, _ = read_all(SEED)
    assert [s.id for s in first] == [s.id for s in second]
    assert all(s.id == story_id_for(None, s.title, s.body) for s in first)
    assert len({s.id for s in first}) == 10


def test_page_title_on_the_line_after_a_bare_read_more(tmp_path: Path) -> None:
    path = write(
        tmp_path / "page.txt",
        "Lead headline\nLead text.\nRead more about the lead in our archive.\nSource Link\n"
        "Read more\nSecond headline\nSecond text […]\nRead more » Third headline\n"
        "Third text […]\nRead more\n",
    )
    stories, errors = read_all(path)
    assert errors == []
    assert [(s.title, s.body) for s in stories] == [
        ("Lead headline", "Lead text.\nRead more about the lead in our archive."),
        ("Second headline", "Second text […]"),
        ("Third headline", "Third text […]"),
    ]
    assert stories[0].extra == {}


# --- plain text -------------------------------------------------------------------------------


def test_text_file_is_one_story(tmp_path: Path) -> None:
    path = write(tmp_path / "draft.txt", "\n\n  The headline  \n\nFirst paragraph.\n\nSecond.\n")
    stories, errors = read_all(path)
    assert errors == []
    assert [(s.title, s.body, s.origin) for s in stories] == [
        ("The headline", "First paragraph.\n\nSecond.", str(path))
    ]


def test_empty_text_file_is_an_empty_story(tmp_path: Path) -> None:
    path = write(tmp_path / "empty.txt", "\n  \n")
    assert [str(e) for e in read_all(path)[1]] == [f"{path}: empty story: no title and no body"]


def test_huge_text_body_is_cut(tmp_path: Path) -> None:
    path = write(tmp_path / "long.txt", "Title\n" + ("paragraph " * 1000 + "\n") * 250)
    stories, errors = read_all(path)
    assert errors == []
    assert len(stories[0].body) == MAX_BODY_CHARS


# --- sniffing ---------------------------------------------------------------------------------


def test_formats_are_sniffed_from_content_without_extensions(tmp_path: Path) -> None:
    inputs = {
        "jsonl": jsonl({"title": "from jsonl"}),
        "json": json.dumps([{"title": "from json"}], indent=2),
        "csv": "title,body\nfrom csv,b\n",
        "feed": ATOM,
        "page": "Category: NEWS\nfrom page\ntext\nSource Link\nRead more\n",
        "text": "from text\nbody\n",
    }
    titles = {
        name: read_all(write(tmp_path / name, content))[0][0].title
        for name, content in inputs.items()
    }
    assert titles == {
        "jsonl": "from jsonl",
        "json": "from json",
        "csv": "from csv",
        "feed": "Über den Fluss",
        "page": "from page",
        "text": "from text",
    }


@pytest.mark.parametrize(
    ("head", "suffix", "expected"),
    [
        ('{"title": "x"}\n{"title": "y"}\n', ".json", "jsonl"),
        ('{\n  "title": "x"\n}\n', ".jsonl", "json"),
        ('{"title": "x"\n{"title": "y"}\n', "", "jsonl"),
        ('[\n  {"title": "x"}\n]\n', "", "json"),
        ("[Update] Markets rally\nStocks rose.\n", "", "text"),
        ("Body, mind and spirit: the festival\nIt opened, with crowds, on Friday.\n", "", "text"),
        ("title,body\nx,y\n", "", "csv"),
        ("name,age\nAda,36\n", ".csv", "csv"),
        ("A headline\nRead moreAnother headline\n", "", "page"),
        ("A headline\nRead more about it here.\n", "", "text"),
        ("just text\n", ".rss", "feed"),
        ("just text\n", ".txt", "text"),
    ],
)
def test_sniffing_prefers_content_over_the_extension(head: str, suffix: str, expected: str) -> None:
    assert sniff_format(head, True, suffix) == expected


def test_explicit_format_overrides_sniffing(tmp_path: Path) -> None:
    path = write(tmp_path / "notes.jsonl", '{"title": "x"}\n')
    stories, _ = read_all(path, input_format="text")
    assert stories[0].title == '{"title": "x"}'
    with pytest.raises(ValueError, match="unknown input format"):
        read([path], input_format="yaml")
    assert set(FORMATS) == {"jsonl", "json", "csv", "feed", "html", "warc", "page", "text"}


# --- folders, stdin, gzip ---------------------------------------------------------------------


def test_folders_are_read_recursively_in_sorted_order_without_hidden_files(tmp_path: Path) -> None:
    write(tmp_path / "b.jsonl", jsonl({"title": "b"}))
    write(tmp_path / "a" / "z.txt", "a/z\n")
    write(tmp_path / "a" / "c" / "d.txt", "a/c/d\n")
    write(tmp_path / "a" / "b.txt", "a/b\n")
    write(tmp_path / ".hidden.jsonl", jsonl({"title": "hidden"}))
    write(tmp_path / ".git" / "x.txt", "hidden folder\n")
    stories, errors = read_all(tmp_path)
    assert errors == []
    assert [s.title for s in stories] == ["a/b", "a/c/d", "a/z", "b"]


def test_stdin_is_read_for_a_dash(tmp_path: Path) -> None:
    stdin = io.BytesIO(jsonl({"title": "piped"}).encode())
    file = write(tmp_path / "f.txt", "from file\n")
    stories, _ = read_all(file, "-", stdin=stdin)
    assert [(s.title, s.origin) for s in stories] == [
        ("from file", str(file)),
        ("piped", "<stdin>:1"),
    ]


def test_bad_stdin_record_names_stdin(tmp_path: Path) -> None:
    stdin = io.BytesIO(b'{"title": "a"}\nnot json\n')
    with pytest.raises(InputError, match=r"^<stdin>:2: invalid JSON"):
        list(read(["-"], on_error="fail", stdin=stdin))


def test_gzip_is_undone_whatever_the_name(tmp_path: Path) -> None:
    named = write(tmp_path / "feed.jsonl.gz", gzip.compress(jsonl({"title": "gz"}).encode()))
    unnamed = write(tmp_path / "blob", gzip.compress(b"title,body\nzipped csv,b\n"))
    piped = io.BytesIO(gzip.compress(SEED.read_bytes()))
    assert [s.title for s in read_all(named)[0]] == ["gz"]
    assert [s.title for s in read_all(unnamed)[0]] == ["zipped csv"]
    assert len(read_all("-", stdin=piped)[0]) == 10


def test_corrupt_gzip_is_reported(tmp_path: Path) -> None:
    data = gzip.compress(jsonl({"title": "x"}).encode() * 100)
    path = write(tmp_path / "cut.jsonl.gz", data[: len(data) // 2])
    _, errors = read_all(path)
    assert len(errors) == 1 and errors[0].message.startswith("cannot read the compressed data")


# --- progress: bytes read against the size of the input -------------------------------------


def test_input_size_is_the_files_on_disk_that_read_reads(tmp_path: Path) -> None:
    records = "".join(jsonl({"title": f"story {n}", "body": "text " * 40}) for n in range(2000))
    folder = tmp_path / "feeds"
    plain = write(folder / "a.jsonl", records)
    packed = write(folder / "nested" / "b.jsonl.gz", gzip.compress(records.encode()))
    write(folder / ".hidden.jsonl", records)
    write(folder / ".git" / "c.jsonl", records)
    single = write(tmp_path / "single.jsonl", jsonl({"title": "alone"}))
    # Folders by the rules of read (hidden files left out); gzip as it is on disk.
    on_disk = plain.stat().st_size + packed.stat().st_size
    assert input_size([folder]) == on_disk
    assert input_size([folder, single]) == on_disk + single.stat().st_size
    assert input_size(single) == single.stat().st_size
    # Stdin and other streams have no size before they are read.
    assert input_size([single, "-"]) is None
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    assert input_size([fifo]) is None


def test_the_bytes_read_are_told_a_block_at_a_time(tmp_path: Path) -> None:
    records = "".join(jsonl({"title": f"story {n}", "body": "text " * 40}) for n in range(20000))
    plain = write(tmp_path / "feeds" / "a.jsonl", records)
    write(tmp_path / "feeds" / "b.jsonl.gz", gzip.compress(records.encode()))
    told: list[int] = []
    counted: list[int] = []
    stories = list(read([tmp_path / "feeds"], consumed=told.append, records=counted.append))
    assert len(stories) == len(counted) == 40000
    assert sum(told) == input_size([tmp_path / "feeds"])
    # Megabytes at a time, not a call per record: what a display costs while reading.
    assert plain.stat().st_size > 4 * 2**20 and len(told) < 20
    piped: list[int] = []
    assert len(list(read(["-"], stdin=io.BytesIO(plain.read_bytes()), consumed=piped.append)))
    assert sum(piped) == plain.stat().st_size


# --- encodings --------------------------------------------------------------------------------

WESTERN = (
    "Le ministre a déclaré que l’économie française connaîtra une croissance modérée en 2025, "
    "grâce à la consommation des ménages. « C’est un signal fort », a-t-il ajouté — selon "
    "l’Insee, l’inflation reste élevée à 2,5 %, et le coût de l’énergie pèse sur les foyers."
)
GERMAN = (
    "Die Bundesregierung erwartet für das kommende Jahr ein Wachstum von 1,5 Prozent. Der "
    "Präsident der Bundesbank äußerte sich zurückhaltend über die Konjunktur und warnte vor "
    "höheren Zinsen für Verbraucher und Unternehmen in Süddeutschland."
)
RUSSIAN = (
    "Первый заместитель министра внутренних дел сообщил о депортации почти десяти тысяч "
    "иностранцев с начала года. Премьер-министр заявил о необходимости ужесточить контроль "
    "за миграцией и поручил министерству труда подготовить концепцию политики."
)


@pytest.mark.parametrize(
    ("text", "encoding"),
    [(WESTERN, "cp1252"), (GERMAN, "latin-1"), (RUSSIAN, "cp1251"), (RUSSIAN, "koi8-r")],
)
def test_legacy_encodings_are_told_and_decoded(tmp_path: Path, text: str, encoding: str) -> None:
    path = write(tmp_path / "legacy.txt", f"Headline\n{text}\n".encode(encoding))
    stories, errors = read_all(path)
    assert errors == []
    assert stories[0].body == text


def test_legacy_encoding_in_a_line_format(tmp_path: Path) -> None:
    records = ({"title": "Économie", "body": WESTERN}, {"title": "Städte", "body": GERMAN})
    content = "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records)
    stories, errors = read_all(write(tmp_path / "legacy.jsonl", content.encode("cp1252")))
    assert errors == []
    assert [(s.title, s.body) for s in stories] == [("Économie", WESTERN), ("Städte", GERMAN)]


def test_utf8_bom_and_utf16_are_handled(tmp_path: Path) -> None:
    bom = write(tmp_path / "bom.csv", b"\xef\xbb\xbf" + "title,body\nCafé,b\n".encode())
    utf16 = write(tmp_path / "wide.jsonl", jsonl({"title": "Заголовок"}).encode("utf-16"))
    assert [s.title for s in read_all(bom)[0]] == ["Café"]
    assert [s.title for s in read_all(utf16)[0]] == ["Заголовок"]


def test_an_encoding_that_cannot_be_told_is_refused(tmp_path: Path) -> None:
    # Too short to tell cp1251 Russian from the Greek or Hebrew that the same bytes spell.
    path = write(tmp_path / "short.txt", "Премьер-министр\n".encode("cp1251"))
    stories, errors = read_all(path)
    assert stories == []
    assert [str(e) for e in errors] == [
        f"{path}: cannot tell the text encoding (byte 0xcf at offset 0 is not UTF-8); "
        "convert the file to UTF-8"
    ]


def test_a_single_accent_is_read_in_the_most_used_code_page(tmp_path: Path) -> None:
    path = write(tmp_path / "short.txt", "Café\n".encode("cp1252"))
    assert [s.title for s in read_all(path)[0]] == ["Café"]


@pytest.mark.parametrize(
    "data",
    [
        b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + bytes(range(256)) * 4,
        bytes((i * 151 + 7) % 256 for i in range(4000)),
        bytes(128 + (i * 37) % 128 for i in range(4000)),
    ],
)
def test_binary_junk_is_refused_with_a_message(tmp_path: Path, data: bytes) -> None:
    path = write(tmp_path / "junk", data)
    stories, errors = read_all(path)
    assert stories == []
    assert len(errors) == 1 and errors[0].source == str(path)
    assert errors[0].message.startswith(("not a text file", "cannot tell the text encoding"))


def test_invalid_bytes_later_in_a_utf8_file_cost_one_record(tmp_path: Path) -> None:
    # The bad line lies beyond the head the encoding is told from.
    lines = [json.dumps({"title": f"story {n}"}).encode() for n in range(6000)]
    lines[5000] = '{"title": "caf\xe9"}'.encode("latin-1")
    path = write(tmp_path / "mixed.jsonl", b"\n".join(lines) + b"\n")
    stories, errors = read_all(path)
    assert len(stories) == 5999
    assert [str(e) for e in errors] == [f"{path}:5001: invalid UTF-8 (byte 0xe9 at column 15)"]


# --- errors across inputs ---------------------------------------------------------------------


def test_missing_path_is_a_usage_error_raised_at_once(tmp_path: Path) -> None:
    good = write(tmp_path / "good.txt", "x\n")
    missing = tmp_path / "missing.jsonl"
    with pytest.raises(InputError) as raised:
        read([good, missing])  # not iterated: checked at the call
    assert str(raised.value) == f"{missing}: no such file or directory"


def test_unreadable_input_is_skipped_or_raised(tmp_path: Path) -> None:
    junk = write(tmp_path / "a.bin", b"\x00\x01\x02" * 100)
    good = write(tmp_path / "b.txt", "Good\n")
    stories, errors = read_all(junk, good)
    assert [s.title for s in stories] == ["Good"]
    assert [str(e) for e in errors] == [f"{junk}: not a text file (binary content)"]
    with pytest.raises(InputError, match="binary content"):
        list(read([junk, good], on_error="fail"))


def test_skip_mode_without_an_error_list_still_skips(tmp_path: Path) -> None:
    path = write(tmp_path / "a.jsonl", 'nope\n{"title": "fine"}\n')
    assert [s.title for s in read([path])] == ["fine"]


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.binary(max_size=600))
def test_arbitrary_bytes_never_raise_in_skip_mode(tmp_path: Path, data: bytes) -> None:
    path = write(tmp_path / "fuzz", data)
    for input_format in (None, *FORMATS):
        stories, errors = read_all(path, input_format=input_format)
        assert all(isinstance(s, Story) and (s.title or s.body) for s in stories)
        assert all(e.source == str(path) for e in errors)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    records=st.lists(
        st.fixed_dictionaries({"title": st.text(min_size=1).filter(str.strip), "body": st.text()}),
        min_size=1,
        max_size=5,
    )
)
def test_jsonl_round_trips_story_text(tmp_path: Path, records: list[dict[str, str]]) -> None:
    path = write(tmp_path / "round.jsonl", jsonl(*records))
    stories, errors = read_all(path)
    assert errors == []
    assert [(s.title, s.body) for s in stories] == [
        (r["title"].strip(), r["body"].strip()) for r in records
    ]


# --- blocks for a batch job --------------------------------------------------------------------


def test_blocks_leave_json_lines_to_be_parsed_elsewhere_and_settle_reports_as_iterating(
    tmp_path: Path,
) -> None:
    lines = jsonl(*({"id": f"s{n}", "title": f"Story {n}", "body": "Text."} for n in range(5)))
    write(tmp_path / "a.jsonl", lines.replace('"s2"', "{broken"))
    write(tmp_path / "b.txt", "A title\n\nA plain text story.\n")
    errors: list[InputError] = []
    counted: list[int] = []
    reading = read([tmp_path], errors=errors, records=counted.append)
    blocks = list(reading.blocks(2))
    assert [type(block).__name__ for block in blocks] == ["LineBlock"] * 3 + ["list"]
    assert [s.title for s in blocks[-1]] == ["A title"]  # read here, a story already
    parsed = [item for block in blocks[:3] for item in block.parse()]
    assert [getattr(item, "id", None) for item in parsed] == ["s0", "s1", None, "s3", "s4"]
    reading.settle([None if isinstance(item, Story) else item for item in parsed])
    assert [(e.source.endswith("a.jsonl"), e.line) for e in errors] == [(True, 3)]
    assert sum(counted) == 6  # five records of a.jsonl, one of b.txt
    failing = read([tmp_path / "a.jsonl"], on_error="fail")
    outcomes = [item for block in failing.blocks(10) for item in block.parse()]
    with pytest.raises(InputError, match=r"a\.jsonl:3: invalid JSON"):
        failing.settle([None if isinstance(item, Story) else item for item in outcomes])


def hostile_jsonl() -> bytes:
    """JSON Lines with every kind of bad line, a BOM, CRLF endings and no final newline."""
    good = [json.dumps({"id": f"s{n}", "title": f"Story {n}", "body": "Text é."}) for n in range(9)]
    lines = [
        codecs_bom() + good[0].encode(),
        b"",
        good[1].encode() + b"\r",
        b"{broken",
        good[2].encode()[:-2] + b'\xe9"}',
        good[3].encode().replace(b"Text", b"Te\x00xt"),
        b'{"title": "' + b"x" * 3000 + b'"}',
        good[4].encode(),
        b"[1, 2]",
        b'{"title": "' + b"y" * 900 + b'"}',
        *(g.encode() for g in good[5:]),
    ]
    return b"\n".join(lines)


def codecs_bom() -> bytes:
    return "\ufeff".encode()


def test_a_copied_line_s_text_is_its_story_s(tmp_path: Path) -> None:
    records = [
        {"id": "a", "title": "  Rates held  ", "body": "  The bank held rates.  "},
        {"id": "b", "title": "Only a title", "body": None},
        {"id": "c", "title": "T", "text": " From the text field "},
        {"id": "d", "title": "T", "content": "From content", "text": "not this"},
        {"id": "e", "title": "T", "body": "", "text": "the body field wins, even empty"},
        {"id": "f", "title": "Lone \ud800 surrogate", "body": " "},
        {"id": "g", "title": "T", "body": "x" * (MAX_BODY_CHARS + 10), "published": "2026-01-02"},
    ]
    # As written (UTF-8, a lone surrogate escaped) and with every character escaped.
    lines = [json.dumps(r, ensure_ascii=r["id"] == "f").encode("utf-8") for r in records]
    lines += [json.dumps(record).encode("ascii") for record in records]
    for raw in lines:
        story = copied_story("in.jsonl", raw + b"\n", 1, "utf-8")
        assert copied_text("in.jsonl", raw + b"\n", 1, "utf-8") == (story.body or story.title)
    # Another encoding is read as a whole story.
    raw = json.dumps(records[0], ensure_ascii=False).encode("utf-16-le")
    assert copied_text("in.jsonl", raw, 1, "utf-16-le") == "The bank held rates."


def test_copied_blocks_give_what_reading_line_by_line_gives(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(ingest_source, "MAX_LINE_BYTES", 1024)
    # Small reads: lines cross the reads they are copied in, and the long one outgrows them.
    monkeypatch.setattr(ingest_source, "_BLOCK", 256)
    for name, content in [("a.jsonl", hostile_jsonl()), ("b.jsonl.gz", gzip.compress(b"\n" * 3))]:
        path = write(tmp_path / "in" / name, content)
        expected_errors: list[InputError] = []
        expected = list(read([path], errors=expected_errors))
        folder = tmp_path / f"copies-{name}"
        folder.mkdir()
        errors: list[InputError] = []
        counted: list[int] = []
        reading = read([path], errors=errors, records=counted.append)
        stories = []
        for block in reading.blocks(3, str(folder)):
            if isinstance(block, ByteBlock):
                items, places = block.parse()
                found = [item for item in items if isinstance(item, Story)]
                assert len(places) == len(found)
                for story, (start, stop, line) in zip(found, places.tolist(), strict=True):
                    raw = (folder / Path(block.path).name).read_bytes()[start:stop]
                    assert copied_story(block.source, raw, line, block.encoding) == story
                    text = copied_text(block.source, raw, line, block.encoding)
                    assert text == (story.body or story.title)
                    assert story.origin == f"{path}:{line}"
            else:
                items = block.parse()
            reading.settle([None if isinstance(item, Story) else item for item in items])
            stories += [item for item in items if isinstance(item, Story)]
        assert [(s, s.origin) for s in stories] == [(s, s.origin) for s in expected]
        assert [str(e) for e in errors] == [str(e) for e in expected_errors]
        assert sum(counted) == len(expected) + len(expected_errors)
    assert [str(e).split(": ", 1)[1] for e in read_errors(tmp_path / "in" / "a.jsonl")] == [
        "invalid JSON: Expecting property name enclosed in double quotes",
        "invalid UTF-8 (byte 0xe9 at column 55)",
        "NUL character at column 45",
        "line is longer than 1,024 bytes",
        "expected a JSON object, got an array",
    ]


def read_errors(path: Path) -> list[InputError]:
    errors: list[InputError] = []
    list(read([path], errors=errors))
    return errors
