"""The HTML report in a real browser: Debian's chromium, headless, driven by Playwright.

Needs the ``chromium`` package (``apt-get install chromium``) and playwright (the test extra):
without them these tests skip, or fail when CI=true. Playwright never downloads a browser here;
it drives the system's chromium through ``executable_path``, with a fresh profile.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from dedupe import Detector, Story
from dedupe.ingest import read
from dedupe.report import write_report, write_verdicts
from tests.conftest import HARBOUR, HARBOUR_TEASER, SEED
from tests.html_stories import (
    PAYLOADS,
    hostile_stories,
    many_groups,
    sourced_stories,
    write_html,
)
from tests.test_detector import CHINESE

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# No GPU, no sandbox (tests run as root), and nothing of the browser's own on the network: no
# QUIC, component updates, sync or background requests.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Records, before the page's own script runs, any script the policy refused: story text that
# became markup would show up here even though the policy kept it from running.
WATCH = """
window.__violations = [];
document.addEventListener("securitypolicyviolation",
    (event) => window.__violations.push(event.violatedDirective + " " + event.blockedURI));
"""


def missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[test]')"
    if not Path(CHROMIUM).exists():
        return "no chromium browser (apt-get install chromium)"
    return None


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    reason = missing()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1200, "height": 900},
        )
        yield context
        context.close()


@dataclass
class Opened:
    """A report open in a tab, with what happened there besides drawing it."""

    page: Any
    dialogs: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def groups(self) -> Any:
        return self.page.locator("#group-list .group")


@pytest.fixture
def open_report(browser: Any) -> Iterator[Callable[[Path], Opened]]:
    pages: list[Any] = []

    def opened(path: Path) -> Opened:
        page = browser.new_page()
        pages.append(page)
        tab = Opened(page)
        page.add_init_script(WATCH)
        page.on("dialog", lambda dialog: (tab.dialogs.append(dialog.message), dialog.dismiss()))
        page.on("request", lambda request: tab.requests.append(request.url))
        page.on("pageerror", lambda error: tab.errors.append(str(error)))
        page.goto(path.as_uri())
        page.wait_for_selector("#group-list .group")
        return tab

    yield opened
    for page in pages:
        page.close()


def expect(locator: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def words(text: str) -> str:
    """Text as a reader compares it: letters and digits, case aside."""
    return " ".join(re.findall(r"\w+", text.lower().replace(",", "")))


def test_the_seed_report_shows_both_groups_with_their_shared_passages_marked(
    open_report: Callable[[Path], Opened], tmp_path: Path
) -> None:
    report = Detector(jobs=1).scan(read([str(SEED)]), texts=True)
    path = tmp_path / "seed.html"
    with path.open("w", encoding="utf-8") as out:
        write_report(report, "html", out)
    tab = open_report(path)
    expect(tab.groups()).to_have_count(2)
    assert tab.page.locator("#shown").inner_text() == "Showing 2 of 2 groups"
    for group in report.groups:
        card = tab.page.locator(f'.group[data-group="{group.id}"]')
        titles = card.locator("table.members td.title").all_inner_texts()
        assert len(titles) == 2
        assert all(
            report.titles[m.id] in title for m, title in zip(group.members, titles, strict=True)
        )
        (pair,) = [p for p in report.pairs if p.a == group.canonical]
        sides = card.locator(".columns .side")
        expect(sides).to_have_count(2)
        for side in range(2):
            marked = [words(t) for t in sides.nth(side).locator("mark.shared").all_inner_texts()]
            # Each passage is marked in both texts, however each wrote it ("52,000", "China,").
            assert sorted(marked) == sorted(words(passage) for passage in pair.evidence.shared)
        evidence = card.locator(".evidence .words").inner_text()
        assert "Teaser: a short excerpt or paraphrase" in evidence
        assert "of the teaser's wording" in evidence
    assert tab.errors == [] and tab.dialogs == []
    assert tab.page.evaluate("window.__violations") == []
    assert tab.requests == [path.as_uri()]


def test_passages_of_scripts_without_spaces_are_marked_in_both_texts(
    open_report: Callable[[Path], Opened], tmp_path: Path
) -> None:
    # dedupe's tokens of Chinese are overlapping pairs of characters ("国家 家统 统计"): the
    # page finds the run of text they came from, up to a character that differs ("周二", "周三").
    stories = [
        Story(id="zh", title="工业利润增长", body=CHINESE),
        Story(id="zh-copy", title="工业利润增长", body=CHINESE.replace("周二", "周三")),
    ]
    tab = open_report(write_html(stories, tmp_path / "zh.html"))
    sides = tab.page.locator(".columns .side")
    for side in range(2):
        marked = sides.nth(side).locator("mark.shared").all_inner_texts()
        assert marked[0] == "国家统计局周"
        assert marked[1].startswith("公布的数据显示，今年前五个月") and marked[1].endswith(
            "仍然较大"
        )


def test_filters_search_and_sorting_change_what_is_shown(
    open_report: Callable[[Path], Opened], tmp_path: Path
) -> None:
    tab = open_report(write_html(sourced_stories(), tmp_path / "sourced.html"))
    page = tab.page

    def shown() -> list[str]:
        return tab.groups().evaluate_all("cards => cards.map(card => card.dataset.group)")

    expect(tab.groups()).to_have_count(2)
    harbour, rail = "g1", "g2"
    assert shown() == [harbour, rail]

    page.select_option("#relation", "teaser")
    expect(tab.groups()).to_have_count(1)
    assert shown() == [harbour]
    page.select_option("#relation", "near-duplicate")
    expect(tab.groups()).to_have_count(1)
    assert shown() == [rail]
    page.select_option("#relation", "")

    page.select_option("#source", "rail-news.example")
    expect(tab.groups()).to_have_count(1)
    assert shown() == [rail]
    page.select_option("#source", "wire.example")
    expect(tab.groups()).to_have_count(2)
    page.select_option("#source", "")

    # Words of the texts are searched, not only the titles: seagrass is in no title.
    page.fill("#search", "SEAGRASS")
    expect(page.locator("#shown")).to_have_text("Showing 1 of 1 group (2 in all)")
    assert shown() == [harbour]
    page.fill("#search", "night trains")
    expect(page.locator(f'.group[data-group="{rail}"]')).to_have_count(1)
    expect(tab.groups()).to_have_count(1)
    page.fill("#search", "no story says this")
    expect(tab.groups()).to_have_count(0)
    page.fill("#search", "")
    expect(tab.groups()).to_have_count(2)

    page.select_option("#sort", "date-old")
    expect(tab.groups().first).to_have_attribute("data-group", rail)
    page.select_option("#sort", "date-new")
    expect(tab.groups().first).to_have_attribute("data-group", harbour)
    page.select_option("#sort", "score-low")
    expect(tab.groups().first).to_have_attribute("data-group", rail)  # its copy's 0.90
    page.select_option("#sort", "score-high")
    expect(tab.groups().first).to_have_attribute("data-group", harbour)  # its exact copy's 1.0


def test_two_other_members_can_be_put_side_by_side(
    open_report: Callable[[Path], Opened], tmp_path: Path
) -> None:
    tab = open_report(write_html(sourced_stories(), tmp_path / "sourced.html"))
    card = tab.page.locator('.group[data-group="g1"]')
    left, right = card.locator(".pickers select").all()
    left.select_option(label=f"exact: {HARBOUR.title}")
    right.select_option(label=f"teaser: {HARBOUR_TEASER.title}")
    expect(card.locator(".compare .note")).to_contain_text("not compared directly")
    expect(card.locator(".columns mark")).to_have_count(0)
    left.select_option(label=f"original: {HARBOUR.title}")
    expect(card.locator(".evidence .words")).to_contain_text("Teaser:")
    assert card.locator(".columns .side").nth(1).locator("mark").count() > 0


def test_topics_start_collapsed_and_open_to_their_titles(
    open_report: Callable[[Path], Opened], tmp_path: Path
) -> None:
    tab = open_report(write_html(many_groups(60), tmp_path / "many.html"))
    topics = tab.page.locator("#topic-list details.topic")
    assert topics.count() > 0
    assert topics.evaluate_all("panels => panels.filter(panel => panel.open).length") == 0
    expect(topics.first.locator("li")).to_have_count(0)
    topics.first.locator("summary").click()
    # The page fills a topic's list on its toggle event, which comes after the click returns.
    expect(topics.first.locator("li").nth(1)).to_be_attached()


def test_a_long_report_draws_its_groups_a_page_at_a_time(
    open_report: Callable[[Path], Opened], tmp_path: Path
) -> None:
    tab = open_report(write_html(many_groups(60), tmp_path / "many.html"))
    expect(tab.groups()).to_have_count(20)
    expect(tab.page.locator("#shown")).to_have_text("Showing 20 of 60 groups")
    tab.page.evaluate("document.getElementById('more-groups').click()")
    expect(tab.groups()).to_have_count(40)
    # Scrolling to the end of the list draws the rest.
    tab.page.locator("#more-groups").scroll_into_view_if_needed()
    expect(tab.groups()).to_have_count(60)
    expect(tab.page.locator("#more-groups")).to_be_hidden()


def test_hostile_story_text_runs_nothing_and_shows_as_written(
    open_report: Callable[[Path], Opened], tmp_path: Path
) -> None:
    tab = open_report(write_html(hostile_stories(), tmp_path / "hostile.html"))
    page = tab.page
    expect(tab.groups()).to_have_count(len(PAYLOADS))
    # Open every topic and hover every member, the ways a reader would reach the text.
    for summary in page.locator("#topic-list summary").all():
        summary.click()
    for cell in page.locator("#group-list :is(td.title, td.source)").all():
        cell.hover()
    listed = page.locator("#group-list").inner_text()
    for payload in PAYLOADS:
        assert payload in listed, payload
    # Marked passages hold the payloads as text too.
    assert any("window.__pwned" in t for t in page.locator("mark.shared").all_inner_texts())
    assert page.locator("#group-list :is(script, img, svg, iframe, textarea, b)").count() == 0
    assert page.locator("#source option", has_text="<b>source</b>").count() == len(PAYLOADS)
    protocols = page.locator("a[href]").evaluate_all("links => links.map(link => link.protocol)")
    assert set(protocols) <= {"http:", "https:"}
    assert len(protocols) > len(PAYLOADS)  # each copy's link, and the two http ones
    assert page.evaluate("window.__pwned") is None
    assert page.evaluate("window.__violations") == []
    assert tab.dialogs == [] and tab.errors == []
    assert tab.requests == [(tmp_path / "hostile.html").as_uri()]


def test_the_check_report_shows_the_draft_beside_the_story_it_copies(
    open_report: Callable[[Path], Opened], tmp_path: Path
) -> None:
    draft = Story(
        id="draft",
        title="Employers facing a choice: Hire a foreigner or shut down the business",
        body="The number of foreign workers in Serbia continues to grow: in 2024, over 52,000 "
        "work permits have been issued, mostly to citizens of China, Turkey, Russia, India, "
        "and Nepal. <script>window.__pwned = 'draft'</script>",
    )
    detector = Detector()
    detector.add_many(read([str(SEED)]))
    verdict = detector.check(draft)
    assert verdict.is_duplicate
    path = tmp_path / "check.html"
    with path.open("w", encoding="utf-8") as out:
        stored = detector.stored([match.story_id for match in verdict.matches])
        write_verdicts([verdict], "html", out, drafts=[draft], matched=stored)
    tab = open_report(path)
    card = tab.groups().first
    expect(card.locator("h3")).to_contain_text("already published")
    sides = card.locator(".columns .side")
    assert "<script>window.__pwned = 'draft'</script>" in sides.nth(0).inner_text()
    for side in range(2):
        marked = " ".join(sides.nth(side).locator("mark.shared").all_inner_texts())
        assert "over 52,000 work permits" in marked
    assert tab.page.evaluate("window.__pwned") is None
