"""The HTML report as a file: self-contained, its story text inert data, its evidence in words.
What a browser makes of it is tested in test_report_browser.py."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dedupe import Detector, Story, cli
from dedupe.report_html import MAX_TEXT_CHARS, evidence_words, safe_url, script_json
from dedupe.story import Evidence
from tests.conftest import HARBOUR, RAIL, SEED
from tests.html_stories import HOSTILE_URLS, PAYLOADS, hostile_stories, write_html


def embedded(html: str) -> dict:
    """The report data a page carries, read as the page's script reads it."""
    found = re.search(
        r'<script type="application/json" id="report-data">(.*?)</script>', html, re.S
    )
    assert found is not None
    return json.loads(found.group(1))


def test_scan_writes_one_self_contained_page(tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    result = CliRunner().invoke(cli.app, ["scan", str(SEED), "--format", "html", "-o", str(out)])
    assert result.exit_code == 0, result.output
    html = out.read_text("utf-8")
    assert html.startswith("<!DOCTYPE html>")
    # Nothing to fetch: no external script, style, image, font or frame, and a policy that
    # refuses any fetch the page might still try.
    assert not re.search(r"<(link|img|iframe|object|embed)\b|\bsrc=|@import|url\(", html)
    assert "default-src 'none'" in html.replace("&#39;", "'")
    assert len(re.findall(r"<script\b", html)) == 2
    data = embedded(html)
    assert [group["id"] for group in data["groups"]] == ["g1", "g2"]
    teaser = data["stories"]["c-14d30af7a6cab0d9"]
    assert teaser["t"] == "Employers facing a choice: Hire a foreigner or shut down the business"
    assert teaser["x"].startswith("The number of foreign workers in Serbia")
    (pair,) = data["groups"][0]["pairs"]
    assert "mostly to citizens of China Turkey Russia India and Nepal" in pair["shared"]


def test_the_summaries_count_the_bad_records_skipped(tmp_path: Path) -> None:
    feed = tmp_path / "feed.jsonl"
    records = [json.dumps(HARBOUR.to_dict()), "{not json", json.dumps(RAIL.to_dict())]
    feed.write_text("\n".join(records) + "\n", encoding="utf-8")
    table = CliRunner().invoke(cli.app, ["scan", str(feed)])
    assert table.exit_code == 0
    assert "read       2 stories, 1 bad record skipped" in table.stdout
    out = tmp_path / "report.html"
    html = CliRunner().invoke(cli.app, ["scan", str(feed), "--format", "html", "-o", str(out)])
    assert html.exit_code == 0
    assert "<dt>Skipped</dt><dd>1 bad record</dd>" in out.read_text("utf-8")


def test_summary_and_charts_are_in_the_page_itself(tmp_path: Path) -> None:
    html = write_html(hostile_stories(), tmp_path / "report.html").read_text("utf-8")
    summary = html[html.index('<section id="summary"') : html.index('<section id="groups"')]
    assert "16 stories" in summary and "8 (8 duplicate)" in summary
    assert summary.count("<svg") == 2
    assert "<title>2 stories: 8 groups</title>" in summary


def test_story_text_cannot_close_the_data_or_become_markup(tmp_path: Path) -> None:
    html = write_html(hostile_stories(), tmp_path / "report.html").read_text("utf-8")
    # Every "<" of story text is an escape inside the data: the page holds only its own tags.
    assert len(re.findall(r"<script\b", html)) == 2
    assert not re.search(r"<(img|svg onload|iframe|textarea|!--)", html)
    data = embedded(html)
    texts = [story["t"] + story.get("x", "") for story in data["stories"].values()]
    for payload in PAYLOADS:
        assert any(payload in text for text in texts), payload
    # The links that are no http(s) links are left out; the others kept as written.
    urls = {story.get("u") for story in data["stories"].values()}
    assert urls - {None} == {
        *(f"https://copies.example/{n}" for n in range(len(PAYLOADS))),
        "https://example.com/\"><script>window.__pwned='href'</script>",
        "http://example.com/ok?a=1&b=<b>",
    }


def test_data_is_json_without_a_single_angle_bracket_or_ampersand() -> None:
    data = {"t": "</script><script>alert(1)</script> & <!-- \u2028", "n": [1, 2.5]}
    text = str(script_json(data))
    assert not set(text) & set("<>&")
    assert json.loads(text) == data


@pytest.mark.parametrize(
    ("url", "kept"),
    [
        ("https://example.com/a?b=1", True),
        ("HTTP://EXAMPLE.COM/", True),
        *((url, False) for url in HOSTILE_URLS if not url.startswith("http")),
        ("https:///no-host", False),
        ("https://exa mple.com/", False),
        ("https://[::1/", False),
        ("", False),
        (None, False),
    ],
)
def test_only_http_links_are_kept(url: str | None, kept: bool) -> None:
    assert safe_url(url) == (url if kept else None)


def test_evidence_in_words() -> None:
    teaser = Evidence(76.5, 0.373, 0.045, ("a passage",), 0.5, 1.0, 0.875)
    assert evidence_words("teaser", teaser, "teaser") == [
        "Teaser: a short excerpt or paraphrase of the lead of the other.",
        "Shares 37% of the teaser's wording; 4% of the wording of both together.",
        "Titles 76% alike.",
        "Numbers agree; 88% of the names agree.",
        "Published 12 hours apart.",
    ]
    rewrite = Evidence(92.0, 0.8, 0.5, (), 3.25, 1.0, 1.0)
    assert evidence_words("syndicated", rewrite)[2:] == [
        "Titles 92% alike.",
        "Numbers and names agree.",
        "Published 3.2 days apart.",
    ]
    exact = Evidence(100.0, 1.0, 1.0, (), 0.01)
    assert evidence_words("exact", exact) == [
        "Exact: the same text once case, punctuation and spacing are set aside.",
        "Published within the hour.",
    ]


def test_a_huge_story_is_cut_in_the_page(tmp_path: Path) -> None:
    body = HARBOUR.body + " " + "Filler words follow here. " * 5000
    stories = [Story(id="a", title=HARBOUR.title, body=body), Story(id="b", title="x", body=body)]
    data = embedded(write_html(stories, tmp_path / "report.html").read_text("utf-8"))
    assert len(data["stories"]["a"]["x"]) == MAX_TEXT_CHARS
    assert data["stories"]["a"]["cut"] == MAX_TEXT_CHARS


def test_scan_keeps_the_grouped_texts_only_when_asked() -> None:
    stories = [HARBOUR, Story(id="harbour", title=HARBOUR.title, body=HARBOUR.body + " Again.")]
    assert Detector(jobs=1).scan(stories).texts == {}
    report = Detector(jobs=1).scan(stories, texts=True)
    # Two stories under one id: the second is renamed, and its text follows it.
    assert sorted(report.texts) == ["harbour", "harbour~2"]
    assert {story.id for story in report.texts.values()} == {"harbour", "harbour~2"}
    assert report.texts["harbour"].body != report.texts["harbour~2"].body


def test_check_writes_the_draft_beside_what_it_copies(tmp_path: Path) -> None:
    draft = tmp_path / "draft.txt"
    draft.write_text(
        "Employers facing a choice: Hire a foreigner or shut down the business\n"
        "The number of foreign workers in Serbia continues to grow: in 2024, over 52,000 work "
        "permits have been issued, mostly to citizens of China, Turkey, Russia, India, and Nepal.\n",
        encoding="utf-8",
    )
    out = tmp_path / "check.html"
    args = ["check", str(draft), "--against", str(SEED), "--format", "html", "-o", str(out)]
    result = CliRunner().invoke(cli.app, args)
    assert result.exit_code == 1, result.output
    data = embedded(out.read_text("utf-8"))
    (verdict,) = data["groups"]
    assert verdict["relation"] == "already published"
    assert [m["relation"] for m in verdict["members"]][0] == "draft"
    stored = [data["stories"][m["key"]] for m in verdict["members"][1:]]
    assert all(story["x"] for story in stored)
    assert data["stories"]["draft:0"]["o"] == str(draft)


def test_other_formats_do_not_import_jinja2() -> None:
    code = (
        "import io, sys\n"
        "from dedupe.cli import app\n"
        "from dedupe.report import write_report\n"
        "from dedupe.story import Report\n"
        "for fmt in ('table', 'json', 'jsonl', 'csv'):\n"
        "    write_report(Report(stories=0, groups=(), pairs=()), fmt, io.StringIO())\n"
        "assert 'jinja2' not in sys.modules\n"
        "write_report(Report(stories=0, groups=(), pairs=()), 'html', io.StringIO())\n"
        "assert 'jinja2' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
