"""Report: each format says exactly what DESIGN.md promises, for programs and for people."""

from __future__ import annotations

import csv
import io
import json

import pytest

from dedupe.report import FORMATS, printable, write_report, write_verdicts
from dedupe.story import Evidence, Group, Match, Member, Pair, Report, Topic, Verdict

TITLES = {
    "story-0": "10,000 foreigners are deported from Kazakhstan amid crackdown",
    "story-1": "Average net salary in May 107,705 dinars",
    "story-2": "Kazakhstan Deports 10,000 Foreigners Amid Crackdown",
    "story-3": "EU: Georgia’s economy to slow but stay strong",
    "story-4": "Employers have to choose between hiring a foreigner or shutting down",
    "story-5": "War cost Ukraine 40% of its labor force",
    "story-6": "Employers facing a choice: Hire a [bold]foreigner[/bold]",
    "story-7": "Kazakhstan improving quality of life",
    "story-8": "IDFI: Georgia’s IT sector slows down",
    "story-9": "Italy to help Ukraine rebuild its labor market",
}
KAZAKHSTAN = Evidence(85.0, 0.59, 0.07, ("from Kazakhstan since the beginning of 2025",))
EMPLOYERS = Evidence(71.6, 0.61, 0.1, ("over 52,000 work permits", "Serbia’s National Employment"))
STRAY = Evidence(40.0, 0.2, 0.05, ())


def seed_report() -> Report:
    return Report(
        stories=10,
        groups=(
            Group(
                "g1",
                "syndicated",
                "story-0",
                (Member("story-0", "original"), Member("story-2", "teaser", 0.83)),
            ),
            Group(
                "g2",
                "syndicated",
                "story-4",
                (Member("story-4", "original"), Member("story-6", "teaser", 0.8)),
            ),
        ),
        pairs=(
            Pair("story-0", "story-2", "teaser", 0.83, KAZAKHSTAN),
            Pair("story-4", "story-6", "teaser", 0.8, EMPLOYERS),
            # Accepted, then split by the group stage: it belongs to no single group.
            Pair("story-2", "story-6", "syndicated", 0.51, STRAY),
        ),
        topics=(
            Topic("t1", "foreign workers foreigners", ("story-0", "story-4")),
            Topic("t2", "georgia report idfi", ("story-3", "story-8")),
            Topic("t3", "ukraine labor italy", ("story-5", "story-9")),
        ),
        titles=TITLES,
    )


def render(report: Report, fmt: str) -> str:
    out = io.StringIO()
    write_report(report, fmt, out)
    return out.getvalue()


def render_verdicts(verdicts: list[Verdict], fmt: str) -> str:
    out = io.StringIO()
    write_verdicts(verdicts, fmt, out)
    return out.getvalue()


def test_json_is_the_version_1_report() -> None:
    report = seed_report()
    text = render(report, "json")

    assert json.loads(text) == report.to_dict()
    assert list(json.loads(text)) == ["version", "stories", "folded", "groups", "pairs", "topics"]
    assert text.endswith("}\n")
    assert "Serbia’s" in text  # ensure_ascii=False: the reader sees the text as written
    assert text.startswith('{\n  "version": 1,')


def test_jsonl_is_one_group_per_line_with_its_own_pairs() -> None:
    lines = render(seed_report(), "jsonl").splitlines()
    records = [json.loads(line) for line in lines]

    assert [record["id"] for record in records] == ["g1", "g2"]
    for record, group in zip(records, seed_report().groups, strict=True):
        assert {k: v for k, v in record.items() if k != "pairs"} == group.to_dict()
    assert records[0]["pairs"] == [seed_report().pairs[0].to_dict()]
    assert records[1]["pairs"] == [seed_report().pairs[1].to_dict()]


def test_csv_is_one_row_per_story_with_group_and_topic() -> None:
    rows = list(csv.DictReader(io.StringIO(render(seed_report(), "csv"))))

    assert [row["id"] for row in rows] == list(TITLES)
    assert list(rows[0]) == ["id", "title", "group", "relation", "canonical", "topic"]
    by_id = {row["id"]: row for row in rows}
    assert by_id["story-0"] == {
        "id": "story-0",
        "title": TITLES["story-0"],
        "group": "g1",
        "relation": "original",
        "canonical": "story-0",
        "topic": "t1",
    }
    # A copy is in its canonical's topic: topics are made of canonicals standing for groups.
    assert (by_id["story-2"]["relation"], by_id["story-2"]["topic"]) == ("teaser", "t1")
    assert by_id["story-5"]["group"] == "" and by_id["story-5"]["topic"] == "t3"
    assert [by_id["story-7"][c] for c in ("group", "relation", "canonical", "topic")] == [""] * 4


def test_csv_lists_grouped_stories_even_without_titles() -> None:
    report = Report(
        stories=3,
        groups=(
            Group("g1", "duplicate", "b", (Member("b", "original"), Member("a", "exact", 1.0))),
        ),
        pairs=(),
    )
    rows = list(csv.DictReader(io.StringIO(render(report, "csv"))))
    assert [(row["id"], row["group"]) for row in rows] == [("a", "g1"), ("b", "g1")]


def test_table_shows_titles_groups_evidence_topics_and_a_summary() -> None:
    text = render(seed_report(), "table")

    for title in TITLES.values():
        if title != TITLES["story-1"] and title != TITLES["story-7"]:
            assert title[:30] in text
    assert "g1" in text and "canonical story-0" in text and "teaser" in text
    assert "0.83" in text and "0.59" in text and "from Kazakhstan since the beginning" in text
    assert "ukraine labor italy" in text
    assert "[bold]foreigner[/bold]" in text  # titles are text, never rich markup
    assert text.rstrip().endswith("10 stories, 2 groups (4 stories), 3 topics")


def test_table_is_plain_and_fits_a_sane_width_when_piped() -> None:
    text = render(seed_report(), "table")
    assert "\x1b[" not in text
    assert max(len(line) for line in text.splitlines()) <= 120


def test_empty_report_in_every_format() -> None:
    report = Report(stories=0, groups=(), pairs=())
    assert json.loads(render(report, "json"))["groups"] == []
    assert render(report, "jsonl") == ""
    assert render(report, "csv") == "id,title,group,relation,canonical,topic\n"
    assert render(report, "table").strip() == "0 stories, 0 groups (0 stories), 0 topics"


def test_summary_speaks_singular() -> None:
    report = Report(
        stories=1,
        groups=(Group("g1", "duplicate", "a", (Member("a", "original"),)),),
        pairs=(),
        topics=(Topic("t1", "bank", ("a",)),),
        titles={"a": "A"},
    )
    assert render(report, "table").rstrip().endswith("1 story, 1 group (1 story), 1 topic")


def verdicts() -> list[Verdict]:
    match = Match("story-0", "teaser", 0.83, KAZAKHSTAN, title=TITLES["story-0"])
    again = Match("story-2", "near-duplicate", 0.9, EMPLOYERS, title=TITLES["story-2"])
    return [Verdict("draft-1", (match, again)), Verdict("draft-2")]


def test_verdicts_json_is_always_a_versioned_list() -> None:
    for given in (verdicts(), verdicts()[:1]):
        record = json.loads(render_verdicts(given, "json"))
        assert record == {"version": 1, "verdicts": [v.to_dict() for v in given]}


def test_verdicts_jsonl_is_one_verdict_per_line() -> None:
    lines = render_verdicts(verdicts(), "jsonl").splitlines()
    assert [json.loads(line) for line in lines] == [v.to_dict() for v in verdicts()]


def test_verdicts_csv_is_one_row_per_match_and_one_per_new_story() -> None:
    rows = list(csv.DictReader(io.StringIO(render_verdicts(verdicts(), "csv"))))

    assert [(row["id"], row["verdict"], row["match"]) for row in rows] == [
        ("draft-1", "duplicate", "story-0"),
        ("draft-1", "duplicate", "story-2"),
        ("draft-2", "new", ""),
    ]
    assert rows[0]["relation"] == "teaser" and rows[0]["score"] == "0.83"
    assert rows[0]["containment"] == "0.59"
    assert rows[1]["shared"] == "over 52,000 work permits | Serbia’s National Employment"


def test_verdicts_table_says_new_or_already_published_with_evidence() -> None:
    text = render_verdicts(verdicts(), "table")
    lines = text.splitlines()

    assert any(line.startswith("draft-1") and "ALREADY PUBLISHED" in line for line in lines)
    assert any(line.startswith("draft-2") and "NEW" in line for line in lines)
    assert "teaser" in text and "0.83" in text and TITLES["story-0"][:30] in text
    assert "from Kazakhstan since the beginning" in text
    assert "\x1b[" not in text


def hostile_report() -> Report:
    """Story text that a terminal or a spreadsheet would act on: ids, titles, a topic label and
    a shared passage."""
    return Report(
        stories=2,
        groups=(
            Group(
                "g1",
                "syndicated",
                "=1+1",
                (Member("=1+1", "original"), Member("-2+3", "teaser", 0.8)),
            ),
        ),
        pairs=(Pair("=1+1", "-2+3", "teaser", 0.8, Evidence(80.0, 0.6, 0.1, ("\x1b[2J wiped",))),),
        topics=(Topic("t1", "\x9b31m red \x07", ("=1+1",)),),
        titles={
            "=1+1": "\x1b]0;pwned\x07 [link=https://evil.example]click[/link]",
            "-2+3": "@SUM(A1:A9)",
        },
    )


def test_table_shows_control_characters_and_markup_in_story_text_literally() -> None:
    text = render(hostile_report(), "table")
    match = Match("=1+1", "teaser", 0.8, Evidence(80.0, 0.6, 0.1, ("\x1b[2J wiped",)), "\x9b2J\r")
    text += render_verdicts([Verdict("\x1b[31mdraft", (match,))], "table")

    assert not set(text) & {"\x1b", "\x9b", "\x07", "\r"}
    assert "\\x1b]0;pwned\\x07 [link=https://evil.example]click[/link]" in text
    assert '"\\x1b[2J wiped"' in text and "\\x9b31m red \\x07" in text
    assert "\\x1b[31mdraft" in text and "\\x9b2J\\x0d" in text


def test_printable_keeps_what_it_is_told_and_all_other_text() -> None:
    text = "tab\there\nnew line \x00\x7f\x85 Straße 東京 \u200b"
    assert printable(text) == "tab\there\nnew line \\x00\\x7f\\x85 Straße 東京 \u200b"
    assert printable(text, keep="\t").startswith("tab\there\\x0anew line")


def test_csv_cells_a_spreadsheet_would_run_start_with_a_quote() -> None:
    rows = list(csv.DictReader(io.StringIO(render(hostile_report(), "csv"))))
    assert [(row["id"], row["title"], row["canonical"]) for row in rows] == [
        ("'=1+1", "\x1b]0;pwned\x07 [link=https://evil.example]click[/link]", "'=1+1"),
        ("'-2+3", "'@SUM(A1:A9)", "'=1+1"),
    ]
    evidence = Evidence(80.0, 0.6, 0.1, ("+31 6 1234", "plain"))
    match = Match("\tfoo", "teaser", 0.834, evidence, title='=HYPERLINK("http://x")')
    rows = list(csv.DictReader(io.StringIO(render_verdicts([Verdict("@me", (match,))], "csv"))))
    assert [rows[0][c] for c in ("id", "match", "match_title", "shared", "score")] == [
        "'@me",
        "'\tfoo",
        '\'=HYPERLINK("http://x")',
        "'+31 6 1234 | plain",
        "0.834",
    ]


@pytest.mark.parametrize("fmt", ["xml", "", "JSON"])
def test_unknown_formats_are_refused(fmt: str) -> None:
    with pytest.raises(ValueError, match="expected one of table, json, jsonl, csv"):
        write_report(seed_report(), fmt, io.StringIO())
    with pytest.raises(ValueError, match="expected one of"):
        write_verdicts(verdicts(), fmt, io.StringIO())


def test_every_format_is_written() -> None:
    for fmt in FORMATS:
        assert render(seed_report(), fmt)
        assert render_verdicts(verdicts(), fmt)


def test_a_carriage_return_in_a_csv_cell_does_not_split_its_row() -> None:
    match = Match("m", "teaser", 0.5, Evidence(80.0, 0.6, 0.1), title="Old Mac\rline ends")
    text = render_verdicts([Verdict("a\r\nb", (match,))], "csv")
    (row,) = list(csv.DictReader(io.StringIO(text, newline="")))
    assert (row["id"], row["match_title"]) == ("a\nb", "Old Mac\nline ends")
