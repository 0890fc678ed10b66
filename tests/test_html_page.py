"""Article pages as input: trafilatura keeps the article, the site's furniture stays out."""

import io
import json

import pytest

from dedupe import Detector, Story
from dedupe.ingest import InputError, html_page, read
from tests.conftest import HARBOUR, RAIL
from tests.test_cli import run
from tests.web_pages import (
    ERROR_PAGE,
    MOST_READ,
    harbour_times_page,
    ledger_page,
    ledger_section_front,
)

FURNITURE = (
    "cookies",
    "Accept all",
    "Most read",
    "Share on",
    "Photo:",
    "Read more",
    "Related:",
    "Trending",
    "All rights reserved",
    "morning briefing",
    "Business correspondent",
)


def write_pages(folder, pages):
    folder.mkdir()
    for name, html in pages.items():
        (folder / name).write_text(html, encoding="utf-8")
    return folder


def read_all(*inputs, **options):
    errors: list[InputError] = []
    return list(read(list(inputs), errors=errors, **options)), errors


def test_a_page_gives_its_article_with_its_metadata(tmp_path):
    (stories, errors) = read_all(
        write_pages(tmp_path / "pages", {"port.html": ledger_page(HARBOUR, "port")})
    )
    assert errors == []
    [story] = stories
    assert story.title == HARBOUR.title
    assert story.body == HARBOUR.body
    assert story.url == "https://ledger.example/news/port"
    assert story.id == Story(url=story.url).id
    assert story.published == "2025-03-04T09:00:00Z"
    assert story.language == "en"
    assert story.extra == {"author": "Mara Jovic"}


def test_furniture_and_links_to_other_stories_stay_out_of_the_text():
    for html in (
        ledger_page(RAIL, "rail", read_more=HARBOUR.title),
        harbour_times_page(RAIL, "rail"),
    ):
        story = html_page.page_story(html.encode(), "page.html")
        assert story.body == RAIL.body
        for text in (*FURNITURE, *MOST_READ[:3], HARBOUR.title):
            assert text.lower() not in story.body.lower()


def test_og_url_and_a_json_ld_date_are_read_and_a_page_without_a_url_has_none():
    story = html_page.page_story(harbour_times_page(HARBOUR, "port").encode(), "p.html")
    assert story.url == "https://harbourtimes.example/port.html"
    assert story.published == "2025-03-04T09:00:00Z" and story.language == "en-GB"
    bare = ledger_page(HARBOUR, "port").replace('<link rel="canonical"', '<link rel="alternate"')
    story = html_page.page_story(bare.encode(), "saved/port.html")
    assert story.url is None and story.id.startswith("c-")


def test_a_date_without_a_time_stays_a_date():
    html = ledger_page(Story(title=HARBOUR.title, body=HARBOUR.body), "port")
    html = html.replace("2025-03-04T10:00:00+01:00", "2025-03-04")
    assert html_page.page_story(html.encode(), "p.html").published == "2025-03-04"


@pytest.mark.parametrize(
    "start",
    ["", "\ufeff", "\n\n  ", "<!-- saved from url=(0042)https://ledger.example/ -->\n"],
)
def test_pages_are_told_from_their_content_whatever_their_name(tmp_path, start):
    html = start + ledger_page(HARBOUR, "port")
    path = tmp_path / "saved-page.txt"
    path.write_text(html, encoding="utf-8")
    (stories, errors) = read_all(path)
    assert errors == [] and [s.title for s in stories] == [HARBOUR.title]


def test_stdin_and_the_named_format(tmp_path):
    html = ledger_page(HARBOUR, "port").encode()
    [story] = read(["-"], stdin=io.BytesIO(html))
    assert story.body == HARBOUR.body and story.origin == "<stdin>"
    # A fragment without <html> is a page only when asked, or by its name.
    fragment = html.split(b"<body>", 1)[1]
    assert [s.body for s in read(["-"], "html", stdin=io.BytesIO(fragment))] == [HARBOUR.body]
    (tmp_path / "port.htm").write_bytes(fragment)
    assert [s.body for s in read([tmp_path / "port.htm"])] == [HARBOUR.body]


def test_a_page_declared_in_a_legacy_encoding_is_read_in_it():
    story = Story(
        title="Grève au port de Valdora",
        body=" ".join(["Les dockers du port réclament une hausse de salaire."] * 8),
    )
    html = ledger_page(story, "greve").replace('charset="utf-8"', 'charset="windows-1252"')
    assert html_page.page_story(html.encode("cp1252"), "p.html").body == story.body
    # A page that says UTF-8 but is not is read in what its bytes are.
    mislabelled = html_page.page_story(ledger_page(story, "greve").encode("cp1252"), "p.html")
    assert mislabelled.body == story.body


def test_pages_without_an_article_are_skipped_with_the_reason(tmp_path):
    folder = write_pages(
        tmp_path / "pages",
        {
            "a-front.html": ledger_section_front(),
            "b-404.html": ERROR_PAGE,
            "c-port.html": ledger_page(HARBOUR, "port"),
        },
    )
    (stories, errors) = read_all(folder)
    assert [s.title for s in stories] == [HARBOUR.title]
    assert [str(e) for e in errors] == [
        f"{folder / 'a-front.html'}: no article text found in page",
        f"{folder / 'b-404.html'}: no article text found in page",
    ]
    with pytest.raises(InputError, match="no article text found in page"):
        list(read([folder], on_error="fail"))


def test_broken_huge_and_binary_pages_are_bad_records_not_tracebacks(tmp_path, monkeypatch):
    folder = tmp_path / "pages"
    folder.mkdir()
    (folder / "a-binary.html").write_bytes(b"<!DOCTYPE html><html>" + bytes(range(256)) * 8)
    (folder / "b-broken.html").write_text(
        "<!DOCTYPE html><html><body><div><p>Half a tag <a hre", encoding="utf-8"
    )
    (folder / "c-huge.html").write_text(
        ledger_page(RAIL, "rail") + " " * (1 << 20), encoding="utf-8"
    )
    monkeypatch.setattr(html_page, "MAX_PAGE_BYTES", 1 << 20)
    (stories, errors) = read_all(folder)
    assert stories == []
    messages = [str(e) for e in errors]
    assert messages[0].startswith(f"{folder / 'a-binary.html'}: not a text file")
    assert messages[1] == f"{folder / 'b-broken.html'}: no article text found in page"
    assert messages[2] == f"{folder / 'c-huge.html'}: page is larger than 1 MB; skipped"


def test_the_same_story_on_two_sites_is_grouped_and_one_sites_stories_are_not():
    pages = [
        ledger_page(HARBOUR, "port", read_more=RAIL.title),
        ledger_page(RAIL, "rail", read_more=HARBOUR.title),
        harbour_times_page(HARBOUR, "valdora-port-expansion"),
    ]
    stories = [
        html_page.page_story(html.encode(), f"page-{i}.html") for i, html in enumerate(pages)
    ]
    report = Detector().scan(stories, topics=False)
    assert [sorted(m.id for m in g.members) for g in report.groups] == [
        sorted([stories[0].id, stories[2].id])
    ]


def test_scan_of_a_folder_of_pages_through_the_command_line(tmp_path):
    folder = write_pages(
        tmp_path / "pages",
        {
            "ledger-port.html": ledger_page(HARBOUR, "port", read_more=RAIL.title),
            "ledger-rail.html": ledger_page(RAIL, "rail", read_more=HARBOUR.title),
            "times-port.html": harbour_times_page(HARBOUR, "port"),
            "times-rail.html": harbour_times_page(RAIL, "rail"),
            "ledger-news.html": ledger_section_front(),
            "saved.html": "<!DOCTYPE html>",
        },
    )
    result = run("scan", str(folder), "--format", "json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["stories"] == 4
    copies = [
        ["https://ledger.example/news/port", "https://harbourtimes.example/port.html"],
        ["https://ledger.example/news/rail", "https://harbourtimes.example/rail.html"],
    ]
    expected = sorted(sorted(Story(url=url).id for url in urls) for urls in copies)
    assert sorted(sorted(m["id"] for m in g["members"]) for g in report["groups"]) == expected
    # Only ingest's own messages, each naming its page, not the extractor's log.
    assert result.stderr.splitlines() == [
        f"dedupe: skipped {folder / 'ledger-news.html'}: no article text found in page",
        f"dedupe: skipped {folder / 'saved.html'}: no article text found in page",
        "dedupe: skipped 2 bad record(s) in all",
    ]
