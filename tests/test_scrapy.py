"""The Scrapy pipeline: real crawls in subprocesses against a small site on 127.0.0.1, and the
pipeline's handling of odd items on a real Scrapy crawler.

Needs scrapy (``pip install 'dedupe[scrapy]'``): without it these tests skip, or fail when CI=true.
"""

from __future__ import annotations

import dataclasses
import functools
import html
import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from dedupe import Story
from dedupe.story import story_id_for
from tests.conftest import HARBOUR, RAIL, ROOT, articles, edited

if TYPE_CHECKING:
    from dedupe.scrapy import DedupePipeline

pytest_plugins = ["tests.fixtures_redis"]


@pytest.fixture(autouse=True)
def scrapy_installed() -> None:
    try:
        import scrapy  # noqa: F401
    except ImportError:
        reason = "scrapy is not installed (pip install 'dedupe[scrapy]')"
        if os.environ.get("CI") == "true":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)


# --- the site: a news section, and a partner site carrying two of its stories ----------------

OTHER, DATED_BADLY = articles(2, seed=11)
RAIL_EDITED = edited(
    RAIL, "rail-copy", {"on Monday,": "on Monday evening,", "60 refurbished": "sixty refurbished"}
)


def page(site: str, links: list[str], story: Story | None, published: str = "") -> str:
    """A page as sites build them: navigation, the article, a sidebar quoting other stories."""
    article = ""
    if story is not None:
        paragraphs = "".join(f"<p>{html.escape(p)}</p>" for p in story.body.split("\n") if p)
        article = (
            f'<article class="story"><h1>{html.escape(story.title)}</h1>'
            f'<time datetime="{published}">{published}</time>{paragraphs}</article>'
        )
    nav = "".join(f'<li><a href="{link}">{link}</a></li>' for link in links)
    return (
        f'<html><head><meta name="site" content="{site}"><title>{site}</title></head><body>'
        f"<nav><ul>{nav}</ul></nav>{article}"
        f"<aside><h2>Most read on {site}</h2><p>{html.escape(OTHER.title)}</p></aside>"
        f"<footer>Cookies help {site} deliver its services. Read more.</footer></body></html>"
    )


def write_site(root: Path) -> None:
    news, mirror = root / "news", root / "mirror"
    news.mkdir()
    mirror.mkdir()
    pages = {
        news / "harbour.html": page("Valdora Daily", [], HARBOUR, "2025-03-04T09:00:00Z"),
        news / "rail.html": page("Valdora Daily", [], RAIL, "2025-03-03"),
        news / "other.html": page("Valdora Daily", [], OTHER, "2025-03-05"),
        news / "bad-date.html": page("Valdora Daily", [], DATED_BADLY, "last Tuesday"),
        news / "empty.html": page("Valdora Daily", [], Story(title="", body="")),
        mirror / "harbour.html": page("Coast Courier", ["/mirror/"], HARBOUR, "2025-03-04"),
        mirror / "rail.html": page("Coast Courier", ["/mirror/"], RAIL_EDITED, "2025-03-03"),
    }
    for path, text in pages.items():
        path.write_text(text, encoding="utf-8")
    section = [f"/news/{p.name}" for p in pages if p.parent == news] + ["/mirror/"]
    (news / "index.html").write_text(page("Valdora Daily", section, None), encoding="utf-8")
    partner = [f"/mirror/{p.name}" for p in pages if p.parent == mirror] + ["/news/"]
    (mirror / "index.html").write_text(page("Coast Courier", partner, None), encoding="utf-8")


ARTICLES = ["harbour", "rail", "other", "bad-date", "empty"]
COPIES = ["harbour", "rail"]


@pytest.fixture
def site(tmp_path: Path) -> Iterator[str]:
    """The site's base url, served from tmp_path on a free loopback port."""
    root = tmp_path / "site"
    root.mkdir()
    write_site(root)

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=root))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


# --- the crawl: a spider and the pipeline, in a process of its own --------------------------

CRAWL = """
import json
import sys

import scrapy
from scrapy import signals
from scrapy.crawler import CrawlerProcess

start, index, drop, out = sys.argv[1:5]


class News(scrapy.Spider):
    name = "news"
    allowed_domains = ["127.0.0.1"]
    start_urls = [start]

    def parse(self, response):
        for story in response.css("article.story"):
            yield {
                "title": story.css("h1::text").get(default=""),
                "text": story.css("p::text").getall(),
                "date": story.css("time::attr(datetime)").get(),
                "url": response.url,
                "source": response.css("meta[name=site]::attr(content)").get(),
            }
        yield from response.follow_all(css="nav a")


process = CrawlerProcess(
    {
        "ITEM_PIPELINES": {"dedupe.scrapy.DedupePipeline": 300},
        "DEDUPE_INDEX": index,
        "DEDUPE_DROP": drop == "drop",
        "ROBOTSTXT_OBEY": False,
        "TELNETCONSOLE_ENABLED": False,
        "LOG_LEVEL": "WARNING",
        # The site is small and links only to itself; these bound a crawl gone wrong.
        "CLOSESPIDER_TIMEOUT": 20,
        "CLOSESPIDER_PAGECOUNT": 50,
        "DOWNLOAD_TIMEOUT": 5,
    }
)
crawler = process.create_crawler(News)
seen = {"passed": [], "dropped": []}


def passed(item, response, spider):
    seen["passed"].append(dict(item))


def dropped(item, response, exception, spider):
    seen["dropped"].append({"url": item["url"], "reason": str(exception)})


crawler.signals.connect(passed, signals.item_scraped)
crawler.signals.connect(dropped, signals.item_dropped)
process.crawl(crawler)
process.start()
seen["stats"] = crawler.stats.get_stats()
with open(out, "w", encoding="utf-8") as file:
    json.dump(seen, file, default=str)
"""


def start_crawl(tmp_path: Path, name: str, site: str, index: str, drop: bool) -> subprocess.Popen:
    script = tmp_path / "crawl.py"
    script.write_text(CRAWL, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, str(script), f"{site}/news/", index, "drop" if drop else "mark",
         str(tmp_path / f"{name}.json")],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def finish(tmp_path: Path, name: str, process: subprocess.Popen) -> dict[str, Any]:
    """What the crawl passed on and dropped, and its stats; fails on any error in its log."""
    try:
        _, log = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise
    assert process.returncode == 0, log
    assert "Traceback" not in log and "ERROR" not in log, log
    result = json.loads((tmp_path / f"{name}.json").read_text(encoding="utf-8"))
    assert result["stats"]["finish_reason"] == "finished", result["stats"]
    return result


def crawl(tmp_path: Path, name: str, site: str, index: str, drop: bool = True) -> dict[str, Any]:
    return finish(tmp_path, name, start_crawl(tmp_path, name, site, index, drop))


def dedupe_stats(result: dict[str, Any]) -> dict[str, int]:
    return {k: v for k, v in result["stats"].items() if k.startswith("dedupe/")}


def path_of(url: str) -> str:
    return url.split("/", 3)[3]


def test_a_crawl_drops_the_copies_on_the_partner_site(tmp_path: Path, site: str) -> None:
    index = str(tmp_path / "index.sqlite")
    result = crawl(tmp_path, "first", site, index)

    assert dedupe_stats(result) == {
        "dedupe/new": 3,
        "dedupe/duplicate/exact": 1,
        "dedupe/duplicate/near-duplicate": 1,
        "dedupe/skipped": 2,
    }
    assert result["stats"]["item_dropped_count"] == 2
    passed = sorted(path_of(item["url"]) for item in result["passed"])
    dropped = {path_of(d["url"]): d["reason"] for d in result["dropped"]}
    # Pages are fetched concurrently: of each story and its copy, either may come first.
    for name in COPIES:
        pair = {f"news/{name}.html", f"mirror/{name}.html"}
        assert len(pair & set(passed)) == 1 and len(pair & set(dropped)) == 1, (passed, dropped)
        [kept] = pair & set(passed)
        [copy] = pair & set(dropped)
        relation = "exact" if name == "harbour" else "near-duplicate"
        assert dropped[copy].startswith(f"{relation} of {story_id_for(f'{site}/{kept}', '', '')}")
    assert {"news/other.html", "news/bad-date.html", "news/empty.html"} <= set(passed)
    # Skipped items pass on untouched, and only marking adds a field.
    assert all("dedupe" not in item for item in result["passed"])

    # A second crawl of the same site meets every page's story in the index (a dropped copy was
    # stored too): with DEDUPE_DROP off, each item passes on, marked with its verdict.
    again = crawl(tmp_path, "again", site, index, drop=False)
    assert dedupe_stats(again) == {
        "dedupe/duplicate/exact": 5,
        "dedupe/skipped": 2,
    }
    assert "item_dropped_count" not in again["stats"]
    verdicts = {path_of(i["url"]): i.get("dedupe", {}).get("verdict") for i in again["passed"]}
    assert verdicts == {
        **{f"news/{name}.html": "duplicate" for name in ["harbour", "rail", "other"]},
        **{f"mirror/{name}.html": "duplicate" for name in COPIES},
        "news/bad-date.html": None,
        "news/empty.html": None,
    }


def test_crawls_sharing_a_redis_index_find_each_story_new_once(
    tmp_path: Path, site: str, redis_url: str
) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    crawls = [start_crawl(folder, "crawl", site, redis_url, True) for folder in (first, second)]
    results = [
        finish(folder, "crawl", p) for folder, p in zip((first, second), crawls, strict=True)
    ]

    stats = [dedupe_stats(result) for result in results]
    total = {key: sum(s.get(key, 0) for s in stats) for key in {k for s in stats for k in s}}
    # Each crawl meets three stories on five pages (two of them copies on the partner site):
    # of the ten items, each story is new exactly once and the other seven are copies.
    assert total["dedupe/new"] == 3
    assert sum(v for k, v in total.items() if k.startswith("dedupe/duplicate/")) == 7
    assert total["dedupe/skipped"] == 4
    passed = [path_of(item["url"]) for r in results for item in r["passed"]]
    stories = [p for p in passed if p not in ("news/bad-date.html", "news/empty.html")]
    assert len(stories) == 3
    assert {p.split("/")[1] for p in stories} == {"harbour.html", "rail.html", "other.html"}


# --- the pipeline on a real crawler, item by item ---------------------------------------------


def pipeline(tmp_path: Path, **settings: Any) -> DedupePipeline:
    from scrapy.utils.test import get_crawler

    from dedupe.scrapy import DedupePipeline

    crawler = get_crawler(settings_dict={"DEDUPE_INDEX": str(tmp_path / "i.sqlite"), **settings})
    made = DedupePipeline.from_crawler(crawler)
    made.open_spider()
    return made


def test_an_enabled_pipeline_without_an_index_stops_the_crawl(tmp_path: Path) -> None:
    from scrapy.utils.test import get_crawler

    from dedupe.scrapy import DedupePipeline

    with pytest.raises(ValueError, match="DEDUPE_INDEX"):
        DedupePipeline.from_crawler(get_crawler())
    with pytest.raises(ValueError, match=r"unknown story fields \['headline'\]"):
        pipeline(tmp_path, DEDUPE_FIELDS={"headline": "h"})


def test_dict_item_and_dataclass_items_are_read_through_the_configured_fields(
    tmp_path: Path,
) -> None:
    import scrapy
    from scrapy.exceptions import DropItem

    class Article(scrapy.Item):
        headline = scrapy.Field()
        story_text = scrapy.Field()
        link = scrapy.Field()

    @dataclasses.dataclass
    class Copy:
        headline: str
        story_text: list[str]
        link: str

    fields = {"title": "headline", "body": "story_text", "url": "link"}
    dedupe = pipeline(tmp_path, DEDUPE_FIELDS=fields)
    first = Article(headline=HARBOUR.title, story_text=HARBOUR.body, link="http://a.test/1")
    assert dedupe.process_item(first) is first
    copy = Copy(HARBOUR.title, HARBOUR.body.split("\n"), "http://b.test/1")
    with pytest.raises(DropItem, match=r"exact of u-\w+ \(score 1.00, 'Port of Valdora"):
        dedupe.process_item(copy)
    other = {"headline": RAIL.title, "story_text": RAIL.body, "link": "http://a.test/2"}
    assert dedupe.process_item(other) is other
    assert dedupe.stats.get_value("dedupe/new") == 2
    assert dedupe.stats.get_value("dedupe/duplicate/exact") == 1
    dedupe.close_spider()


def test_marking_sets_the_verdict_on_the_configured_field(tmp_path: Path) -> None:
    dedupe = pipeline(tmp_path, DEDUPE_DROP=False, DEDUPE_MARK_FIELD="seen")
    item = {"title": RAIL.title, "body": RAIL.body, "url": "http://a.test/rail"}
    # An empty field gives way to the next one named for the same story field.
    copy = {
        "title": RAIL_EDITED.title,
        "body": [],
        "content": RAIL_EDITED.body,
        "url": "http://b.test/r",
    }
    assert dedupe.process_item(item)["seen"]["verdict"] == "new"
    marked = dedupe.process_item(copy)["seen"]
    assert marked["verdict"] == "duplicate"
    assert marked["matches"][0]["relation"] == "near-duplicate"
    assert marked["matches"][0]["id"] == story_id_for("http://a.test/rail", "", "")
    dedupe.close_spider()


@pytest.mark.parametrize(
    "item",
    [
        {"title": "", "body": "  ", "url": "http://a.test/empty"},
        {"title": RAIL.title, "body": RAIL.body, "published": "yesterday"},
        {"title": RAIL.title, "body": RAIL.body, "date": 20250303},
        {"title": 42, "body": RAIL.body},
        {"title": 0, "body": RAIL.body},
        {"title": RAIL.title, "body": ["a paragraph", 7]},
        {"title": RAIL.title, "body": "text that is not valid Unicode \ud800"},
    ],
    ids=[
        "no-text",
        "bad-date",
        "date-not-text",
        "title-not-text",
        "title-zero",
        "body-list",
        "surrogate",
    ],
)
def test_odd_items_pass_untouched_and_are_counted_as_skipped(
    tmp_path: Path, item: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    dedupe = pipeline(tmp_path)
    before = dict(item)
    with caplog.at_level(logging.WARNING, logger="dedupe.scrapy"):
        assert dedupe.process_item(item) is item
    assert item == before
    assert dedupe.stats.get_value("dedupe/skipped") == 1
    assert dedupe.stats.get_value("dedupe/new") is None
    assert "dedupe skipped an item" in caplog.text
    dedupe.close_spider()
