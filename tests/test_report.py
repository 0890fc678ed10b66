"""Report: each format says exactly what DESIGN.md promises, for programs and for people."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest

from dedupe.detector import Detector
from dedupe.report import FORMATS, printable, write_report, write_verdicts
from dedupe.settings import Settings
from dedupe.story import Evidence, Group, Match, Member, Pair, Report, Story, Topic, Verdict
from tests.conftest import articles

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
    assert text.startswith(
        "read       10 stories\n"
        "groups     2 (2 syndicated)\n"
        "in groups  4 stories\n"
        "topics     3\n"
        "largest    g1 (2 stories), g2 (2)\n"
    )


def test_table_is_plain_and_fits_a_sane_width_when_piped() -> None:
    text = render(seed_report(), "table")
    assert "\x1b[" not in text
    assert max(len(line) for line in text.splitlines()) <= 120


def test_empty_report_in_every_format() -> None:
    report = Report(stories=0, groups=(), pairs=())
    assert json.loads(render(report, "json"))["groups"] == []
    assert render(report, "jsonl") == ""
    assert render(report, "csv") == "id,title,group,relation,canonical,topic\n"
    assert (
        render(report, "table").split()
        == "read 0 stories groups 0 in groups 0 stories topics 0".split()
    )


def test_summary_speaks_singular() -> None:
    report = Report(
        stories=1,
        groups=(Group("g1", "duplicate", "a", (Member("a", "original"),)),),
        pairs=(),
        topics=(Topic("t1", "bank", ("a",)),),
        titles={"a": "A"},
    )
    assert render(report, "table").startswith(
        "read       1 story\ngroups     1 (1 duplicate)\nin groups  1 story\ntopics     1\n"
        "largest    g1 (1 story)\n"
    )


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


def test_the_table_shows_control_characters_in_ids_literally() -> None:
    members = (Member("\x1b[2Ja", "original"), Member("b\x07", "exact", 1.0))
    report = Report(2, (Group("g1", "duplicate", "\x1b[2Ja", members),), (), titles={})
    text = render(report, "table")
    assert not set(text) & {"\x1b", "\x07"}
    assert "canonical \\x1b[2Ja" in text and "b\\x07  exact" in text


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


@pytest.fixture(scope="module")
def large_report() -> Report:
    """A few hundred generated stories: articles with from one to six copies each, some exact,
    some with a sentence added, so groups differ in size and every pair shares a passage."""
    stories = []
    for n, article in enumerate(articles(120, seed=12)):
        stories.append(article)
        for k in range(n % 6 if n < 60 else 0):
            body = article.body if k % 2 else f"{article.body} Copy {k} ends here for good."
            stories.append(Story(id=f"{article.id}-copy{k}", title=article.title, body=body))
    return Detector(settings=Settings()).scan(stories)


def group_headings(text: str) -> list[str]:
    return [line for line in text.splitlines() if re.match(r"g\d+  ", line)]


def test_a_large_table_starts_with_its_summary_and_shows_the_largest_groups_first(
    large_report: Report,
) -> None:
    assert len(large_report.groups) > 40 and large_report.stories > 250
    text = render_table(large_report, limit=7)

    grouped = sum(len(group.members) for group in large_report.groups)
    assert text.startswith(
        f"read       {large_report.stories} stories\ngroups     {len(large_report.groups)} ("
    )
    assert f"\nin groups  {grouped} stories\n" in text.split("\n\n")[0]
    headings = group_headings(text)
    sizes = [int(re.search(r", (\d+) stories,", line)[1]) for line in headings]
    assert len(headings) == 7
    assert sizes == sorted((len(g.members) for g in large_report.groups), reverse=True)[:7]
    hidden_groups = len(large_report.groups) - 7
    hidden_topics = len(large_report.topics) - 7
    assert text.rstrip().endswith(
        f"… {hidden_groups} more groups and {hidden_topics} more topics: --limit 0 shows all"
    )


def test_the_table_shows_every_group_with_limit_0_and_twenty_by_default(
    large_report: Report,
) -> None:
    assert len(group_headings(render_table(large_report, limit=0))) == len(large_report.groups)
    out = io.StringIO()
    write_report(large_report, "table", out)
    assert len(group_headings(out.getvalue())) == 20


def test_the_formats_for_programs_keep_every_group_whatever_the_limit(large_report: Report) -> None:
    out = io.StringIO()
    write_report(large_report, "json", out, limit=1)
    assert len(json.loads(out.getvalue())["groups"]) == len(large_report.groups)
    out = io.StringIO()
    write_report(large_report, "jsonl", out, limit=1)
    assert len(out.getvalue().splitlines()) == len(large_report.groups)


@pytest.mark.parametrize("columns", [80, 60])
def test_the_table_follows_columns_and_keeps_the_shared_passage(
    large_report: Report, columns: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", str(columns))
    text = render_table(large_report, limit=5)

    assert max(len(line) for line in text.splitlines()) <= columns
    assert "sc…" not in text and "0.…" not in text
    words = " ".join(text.split())
    shown = {line.split()[0] for line in group_headings(text)}
    canonicals = {group.canonical for group in large_report.groups if group.id in shown}
    shown_pairs = [
        pair
        for pair in large_report.pairs
        if {pair.a, pair.b} & canonicals and pair.evidence.shared
    ]
    assert shown_pairs
    for pair in shown_pairs:
        assert " ".join(pair.evidence.shared[0].split()[:8]) in words
        assert f"containment {pair.evidence.containment:.2f}" in words


def test_a_piped_table_is_120_columns_wide_without_columns(
    large_report: Report, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    lines = render_table(large_report, limit=5).splitlines()
    assert 80 < max(len(line) for line in lines) <= 120
    assert all(line == line.rstrip() for line in lines)


def test_a_large_group_lists_its_first_members_and_counts_the_rest() -> None:
    members = (Member("m00", "original"),) + tuple(
        Member(f"m{n:02d}", "exact", 1.0) for n in range(1, 25)
    )
    report = Report(stories=25, groups=(Group("g1", "duplicate", "m00", members),), pairs=())
    assert "  … 15 more stories (--limit 0 shows all)" in render_table(report, limit=20)
    assert "… 15 more" not in render_table(report, limit=0)


def test_the_verdicts_table_names_each_draft_by_its_title_and_file() -> None:
    drafts = [
        Story(id="draft-1", title="Kazakhstan deports foreigners", origin="drafts.jsonl:1"),
        Story(id="draft-2", title="Council opens a library", origin="drafts.jsonl:2"),
    ]
    out = io.StringIO()
    write_verdicts(verdicts(), "table", out, drafts=drafts)
    lines = out.getvalue().splitlines()

    assert "Kazakhstan deports foreigners  ALREADY PUBLISHED" in lines
    assert "Council opens a library  NEW" in lines
    assert "  drafts.jsonl:1, draft-1" in lines and "  drafts.jsonl:2, draft-2" in lines


def render_table(report: Report, limit: int) -> str:
    out = io.StringIO()
    write_report(report, "table", out, limit=limit)
    return out.getvalue()
