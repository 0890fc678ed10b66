"""Corpora for the HTML report's tests: stories with sources and dates to filter and sort, and
hostile stories whose every field tries to run script in the page."""

from __future__ import annotations

from pathlib import Path

from dedupe import Detector, Story
from dedupe.report import write_report
from tests.conftest import HARBOUR, HARBOUR_TEASER, RAIL, articles, edited

# Each sets window.__pwned (or opens a dialog) if the page ever runs it.
PAYLOADS = (
    "<script>window.__pwned = 'script'</script>",
    "<img src=x onerror=\"window.__pwned = 'img'; alert(1)\">",
    "<svg onload=\"window.__pwned = 'svg'\"></svg>",
    "</textarea><script>window.__pwned = 'textarea'</script>",
    "</script><script>window.__pwned = 'json'</script>",
    "<!--<script>window.__pwned = 'comment'</script>-->",
    "<iframe src=\"javascript:parent.__pwned = 'iframe'\"></iframe>",
    "{{ 7 * 7 }} {% if true %}jinja{% endif %}",
)
HOSTILE_URLS = (
    "javascript:window.__pwned = 'link'",
    " JaVaScRiPt:window.__pwned = 'link'",
    "data:text/html,<script>window.__pwned = 'data'</script>",
    "vbscript:msgbox(1)",
    "https://example.com/\"><script>window.__pwned='href'</script>",
    "http://example.com/ok?a=1&b=<b>",
    "//example.com/no-scheme",
    "java\tscript:window.__pwned = 'tab'",
)


def sourced_stories() -> list[Story]:
    """Two groups to filter and sort: the harbour story (teaser and a mirror's exact copy) and the
    night-train story (a wire rewrite), from four sources, dated apart, and two stories alone."""
    return [
        Story(
            id="harbour",
            title=HARBOUR.title,
            body=HARBOUR.body,
            source="valdora-herald.example",
            published="2025-03-04T09:00:00Z",
            url="https://valdora-herald.example/port",
        ),
        Story(
            id="harbour-teaser",
            title=HARBOUR_TEASER.title,
            body=HARBOUR_TEASER.body,
            source="wire.example",
            published="2025-03-04T11:00:00Z",
        ),
        Story(
            id="harbour-mirror",
            title=HARBOUR.title,
            body=HARBOUR.body,
            source="mirror.example",
            published="2025-03-05T09:00:00Z",
        ),
        Story(
            id="rail",
            title=RAIL.title,
            body=RAIL.body,
            source="rail-news.example",
            published="2025-03-03T09:00:00Z",
        ),
        edited(
            RAIL,
            "rail-wire",
            {"on Monday": "on Monday morning", "four times a week": "four nights a week"},
            source="wire.example",
            published="2025-03-03T15:00:00Z",
        ),
        *articles(2, seed=5),
    ]


def many_groups(count: int) -> list[Story]:
    """``count`` articles, each with a copy that adds a sentence: ``count`` groups of two."""
    stories = []
    for article in articles(count, seed=31):
        stories.append(article)
        copy_body = f"{article.body} The copy adds this sentence at its end."
        stories.append(Story(id=f"{article.id}-copy", title=article.title, body=copy_body))
    return stories


def hostile_stories() -> list[Story]:
    """For each payload an article carrying it in its id, title, body and source, with a link
    that is no http(s) link (or a tricky one), and a copy of it: so each payload is shown in a
    group, in the members' table and side by side, inside the shared passages too."""
    stories = []
    carriers = articles(len(PAYLOADS), seed=47)
    for number, (payload, article) in enumerate(zip(PAYLOADS, carriers, strict=True)):
        sentences = article.body.split(". ")
        middle = len(sentences) // 2
        body = ". ".join([*sentences[:middle], payload, *sentences[middle:]])
        fields = {
            "title": f"{article.title} {payload}",
            "body": body,
            "source": f"<b>source</b> {payload}",
            "published": article.published,
        }
        stories.append(Story(id=f"hostile-{number} {payload}", url=HOSTILE_URLS[number], **fields))
        stories.append(
            Story(
                id=f"hostile-{number}-copy {payload}",
                url=f"https://copies.example/{number}",
                **{**fields, "body": f"{body} The copy adds this sentence at its end."},
            )
        )
    return stories


def write_html(stories: list[Story], path: Path) -> Path:
    """The HTML report of a scan of ``stories``, as ``dedupe scan --format html`` writes it."""
    report = Detector(jobs=1).scan(stories, texts=True)
    with path.open("w", encoding="utf-8") as out:
        write_report(report, "html", out)
    return path
