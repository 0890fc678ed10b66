"""The stories of a set served as web pages: a folder of article pages and a WARC of them.

Crawlers meet a story wrapped in its site's furniture: navigation, a cookie banner, share lines, a
caption, a "most read" box and an in-article "Read more" line quoting other stories' headlines, a
footer. The furniture is the same on every page of a site, so a reader that keeps it links
unrelated stories of one site and misses a copy on another. Each story here is rendered with one of
three site templates, under a URL of its own on that site; the "most read" box and the "Read more"
line quote headlines of other stories of the same corpus, as they would on a real site.

Everything is drawn from ``random.Random(seed)``: one seed always gives the same pages.
"""

# The templates are pages as sites serve them, one element a line: long lines read best as written.
# ruff: noqa: E501

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from html import escape
from io import BytesIO
from pathlib import Path
from tempfile import TemporaryDirectory

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from dedupe.story import Story

MOST_READ_ITEMS = 5
# When the pages were "fetched": the WARC-Date of every record, fixed so that runs agree.
FETCHED = "2024-06-03T09:00:00Z"


@dataclass(frozen=True, slots=True)
class Page:
    """What a template needs of one story, with every text already escaped for HTML."""

    url: str
    title: str
    paragraphs: tuple[str, ...]
    read_more: str
    most_read: tuple[str, ...]
    published: str | None


@dataclass(frozen=True, slots=True)
class WebPages:
    """Where the pages were written, and the URL each story was served under."""

    folder: Path
    warc: Path
    url_of: dict[str, str]


def with_read_more(page: Page, line: str, after: int) -> str:
    """The article's paragraphs with the "Read more" line after the ``after``-th paragraph."""
    paragraphs = [f"<p>{p}</p>" for p in page.paragraphs]
    paragraphs.insert(min(after, len(paragraphs)), line)
    return "\n".join(paragraphs)


def date_meta(page: Page, prop: str) -> str:
    return f'<meta property="{prop}" content="{page.published}">' if page.published else ""


def northgate_page(page: Page) -> str:
    """The Northgate Gazette: HTML5 (header, main, article), canonical link, most-read aside."""
    read_more = f'<p class="read-more"><strong>Read more:</strong> <a href="/news/">{page.read_more}</a></p>'
    most_read = "".join(f'<li><a href="/news/">{t}</a></li>' for t in page.most_read)
    return f"""<!DOCTYPE html>
<html lang="en-GB">
<head>
<meta charset="utf-8">
<title>{page.title} | The Northgate Gazette</title>
<link rel="canonical" href="{page.url}">
<meta property="og:title" content="{page.title}">
<meta property="og:site_name" content="The Northgate Gazette">
{date_meta(page, "article:published_time")}
<script>window.ngTrack = {{"section": "news", "paywall": false}};</script>
</head>
<body>
<div class="cookie-banner" id="consent">
<p>We and our partners use cookies to personalise content and ads and to analyse our traffic. You can change your choices at any time in our privacy centre.</p>
<button>Accept all cookies</button> <button>Reject non-essential</button>
</div>
<header class="masthead"><a class="logo" href="/">The Northgate Gazette</a>
<nav><ul><li><a href="/">Home</a></li><li><a href="/news/">News</a></li><li><a href="/business/">Business</a></li><li><a href="/politics/">Politics</a></li><li><a href="/sport/">Sport</a></li><li><a href="/entertainment/">Entertainment</a></li><li><a href="/technology/">Technology</a></li></ul></nav>
</header>
<main>
<article>
<h1>{page.title}</h1>
<p class="byline">By Gazette staff</p>
<div class="share"><a href="#">Share on Facebook</a> <a href="#">Share on X</a> <a href="#">Email</a> <a href="#">Copy link</a></div>
<figure><img src="/media/lead.jpg" alt=""><figcaption>The picture above was supplied to the Gazette. Photograph: Gazette picture desk</figcaption></figure>
{with_read_more(page, read_more, 2)}
<div class="share"><a href="#">Share this article</a></div>
</article>
</main>
<aside class="most-read"><h2>Most read</h2><ol>{most_read}</ol></aside>
<aside class="newsletter"><h2>The Gazette morning briefing</h2><p>Get the day's top stories in your inbox every weekday at seven. Sign up, it is free.</p></aside>
<footer><p>&copy; The Northgate Gazette Ltd. All rights reserved.</p>
<ul><li><a href="/about/">About us</a></li><li><a href="/privacy/">Privacy notice</a></li><li><a href="/terms/">Terms and conditions</a></li><li><a href="/contact/">Contact us</a></li></ul></footer>
</body>
</html>
"""


def wire_page(page: Page) -> str:
    """Riverside Wire: div soup without <article> or <main>, og:url only, a sidebar of
    related headlines and an advert in the text."""
    read_more = f'<p class="para">Read more: <a href="/story/">{page.read_more}</a></p>'
    related = "".join(f'<div class="item"><a href="/story/">{t}</a></div>' for t in page.most_read)
    published = (
        f'<script type="application/ld+json">{{"@context": "https://schema.org", "@type": '
        f'"NewsArticle", "datePublished": "{page.published}"}}</script>'
        if page.published
        else ""
    )
    body = with_read_more(page, read_more, 1).replace("<p>", '<p class="para">')
    return f"""<html lang="en">
<head>
<meta http-equiv="Content-Type" content="text/html; charset=utf-8">
<title>{page.title} - Riverside Wire</title>
<meta property="og:url" content="{page.url}">
<meta property="og:title" content="{page.title}">
<meta property="og:site_name" content="Riverside Wire">
{published}
</head>
<body>
<div id="gdpr-notice">This website uses cookies to improve your experience. <a href="/cookies">Learn more</a> <a href="#">Got it</a></div>
<div id="top"><div class="menu"><a href="/">Front page</a> | <a href="/world">World</a> | <a href="/money">Money</a> | <a href="/sport">Sport</a> | <a href="/arts">Arts</a> | <a href="/weather">Weather</a></div></div>
<div id="wrapper">
<div id="content" class="content">
<div class="headline"><h1>{page.title}</h1></div>
<div class="meta">Wire reporter</div>
<div class="social">Share: Facebook | X | WhatsApp | Email</div>
<div class="story-body">
{body}
<div class="ad-slot">Advertisement</div>
</div>
<div class="tags">Filed under: <a href="/tag/news">News</a> <a href="/tag/uk">UK</a></div>
</div>
<div id="sidebar" class="sidebar"><h3>Related stories</h3>{related}
<div class="ad">Advertisement</div></div>
</div>
<div id="footer">Riverside Wire is a member of the Independent Press Standards Organisation. Copyright Riverside Wire. <a href="/privacy">Privacy</a> | <a href="/advertise">Advertise</a></div>
</body>
</html>
"""


def courier_page(page: Page) -> str:
    """The Evening Courier: schema.org microdata (itemprop articleBody), both canonical and
    og:url, a caption before the text and a "Trending" list after it."""
    read_more = f'<p><b>READ MORE:</b> <a href="/news/">{page.read_more}</a></p>'
    trending = "".join(f'<li><a href="/news/">{t}</a></li>' for t in page.most_read)
    published = (
        f'<meta itemprop="datePublished" content="{page.published}">'
        f'<meta name="pubdate" content="{page.published}">'
        if page.published
        else ""
    )
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{page.title} | Evening Courier</title>
<link rel="canonical" href="{page.url}">
<meta property="og:url" content="{page.url}">
<meta property="og:type" content="article">
<meta name="description" content="Latest news from the Evening Courier.">
{published}
</head>
<body>
<div class="consent-bar">Your privacy matters. We use cookies and similar technologies for analytics and advertising. <button>I agree</button> <button>Settings</button></div>
<div class="site-nav"><ul><li><a href="/">Home</a></li><li><a href="/news/">News</a></li><li><a href="/sport/">Sport</a></li><li><a href="/whats-on/">What's on</a></li><li><a href="/property/">Property</a></li><li><a href="/jobs/">Jobs</a></li></ul></div>
<div class="page" itemscope itemtype="https://schema.org/NewsArticle">
<h1 itemprop="headline">{page.title}</h1>
<div class="byline">By Courier reporters</div>
<div class="share-tools">Share <a href="#">Facebook</a> <a href="#">X</a> <a href="#">Email</a></div>
<div class="lead-image"><img src="/img/lead.jpg" alt=""><p class="caption">Image: Courier picture library</p></div>
<div class="article-body" itemprop="articleBody">
{with_read_more(page, read_more, 3)}
</div>
<div class="comments-link"><a href="#comments">Comments</a></div>
</div>
<div class="trending"><h2>Trending</h2><ul>{trending}</ul></div>
<div class="newsletter-box">Sign up to our daily newsletter for the latest headlines.</div>
<footer class="site-footer"><p>Evening Courier, part of Courier Media Group. All rights reserved.</p>
<p><a href="/contact/">Contact</a> | <a href="/privacy/">Privacy</a> | <a href="/cookies/">Cookie policy</a> | <a href="/sitemap/">Site map</a></p></footer>
</body>
</html>
"""


# (site, path prefix, template) of each site a story may be served from.
SITES: tuple[tuple[str, str, Callable[[Page], str]], ...] = (
    ("https://www.northgate-gazette.example", "/news/", northgate_page),
    ("https://riversidewire.example", "/story/", wire_page),
    ("https://www.eveningcourier.example", "/news/local/", courier_page),
)


def slug(title: str) -> str:
    return "-".join(re.findall(r"[a-z0-9]+", title.lower())[:8]) or "story"


def render_pages(stories: Sequence[Story], seed: int) -> Iterator[tuple[Story, str, str]]:
    """(story, url, html) for each story, on a site drawn at random; the "most read" box and
    the "Read more" line quote headlines of other stories of ``stories``."""
    rng = random.Random(f"web-pages-{seed}")
    titles = [story.title for story in stories]
    for n, story in enumerate(stories):
        site, prefix, template = rng.choice(SITES)
        url = f"{site}{prefix}{slug(story.title)}-{n + 1:05d}"
        others = [titles[i] for i in rng.sample(range(len(titles)), MOST_READ_ITEMS + 2) if i != n]
        paragraphs = tuple(escape(line.strip()) for line in story.body.split("\n") if line.strip())
        page = Page(
            url=url,
            title=escape(story.title),
            paragraphs=paragraphs,
            read_more=escape(others[0]),
            most_read=tuple(escape(t) for t in others[1 : MOST_READ_ITEMS + 1]),
            published=escape(story.published) if story.published else None,
        )
        yield story, url, template(page)


def write_warc_record(writer: WARCWriter, url: str, html: bytes) -> None:
    headers = StatusAndHeaders(
        "200 OK",
        [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(html)))],
        protocol="HTTP/1.1",
    )
    record = writer.create_warc_record(
        url,
        "response",
        payload=BytesIO(html),
        http_headers=headers,
        warc_headers_dict={"WARC-Date": FETCHED},
    )
    writer.write_record(record)


@contextmanager
def web_pages(stories: Sequence[Story], seed: int) -> Iterator[WebPages]:
    """The stories as article pages in a temporary folder (one ``.html`` file each) and as a
    gzipped WARC of response records under the same URLs; both are removed afterwards."""
    with TemporaryDirectory(prefix="dedupe-web-pages-") as tmp:
        folder, warc = Path(tmp, "pages"), Path(tmp, "crawl.warc.gz")
        folder.mkdir()
        url_of: dict[str, str] = {}
        with warc.open("wb") as out:
            writer = WARCWriter(out, gzip=True)
            writer.write_record(
                writer.create_warcinfo_record(
                    "crawl.warc.gz", {"software": "benchmarks.web_pages", "format": "WARC 1.0"}
                )
            )
            for n, (story, url, html) in enumerate(render_pages(stories, seed)):
                data = html.encode("utf-8")
                Path(folder, f"{n + 1:05d}.html").write_bytes(data)
                write_warc_record(writer, url, data)
                url_of[story.id] = url
        yield WebPages(folder=folder, warc=warc, url_of=url_of)
