"""Article pages built as news sites build them, for the tests of HTML and WARC input.

Each site wraps a story in its own furniture: navigation, a cookie banner, share lines, a caption,
an in-article "Read more" line and a "most read" box quoting other stories' headlines, a footer.
The furniture is the same on every page of a site, so a reader that keeps it matches unrelated
stories of one site and misses copies of one story on two sites.
"""

from html import escape

from dedupe import Story

MOST_READ = (
    "Central bank holds rates as inflation cools",
    "Floods close mountain roads in the north",
    "Football club names new coach after losing streak",
    "Night trains return between Valdora and the capital",
    "Port of Valdora to double container capacity by 2028",
)


def _paragraphs(story: Story) -> list[str]:
    return [escape(line) for line in story.body.split("\n")]


def ledger_page(story: Story, slug: str, *, read_more: str = MOST_READ[0]) -> str:
    """The Daily Ledger: semantic HTML5, canonical link, article:published_time."""
    paragraphs = _paragraphs(story)
    body = "\n".join(f"<p>{p}</p>" for p in paragraphs[:2])
    body += (
        '\n<figure><img src="/img/lead.jpg" alt="">'
        "<figcaption>Cranes at the container terminal on Tuesday. Photo: Daily Ledger"
        "</figcaption></figure>"
        f"\n<p><strong>Read more:</strong> <a href='/news/other'>{escape(read_more)}</a></p>\n"
    )
    body += "\n".join(f"<p>{p}</p>" for p in paragraphs[2:])
    most_read = "".join(
        f'<li><a href="/news/{i}">{escape(t)}</a></li>' for i, t in enumerate(MOST_READ)
    )
    return f"""<!DOCTYPE html>
<!-- served by ledger-web-3 -->
<html lang="en">
<head>
<meta charset="utf-8">
<title>{escape(story.title)} | Daily Ledger</title>
<link rel="canonical" href="https://ledger.example/news/{slug}">
<meta property="og:title" content="{escape(story.title)}">
<meta name="author" content="Mara Jovic">
<meta property="article:published_time" content="{story.published or "2025-03-04T10:00:00+01:00"}">
<script>window.dataLayer = window.dataLayer || []; dataLayer.push({{"section": "news"}});</script>
</head>
<body>
<div id="cookie-banner" class="cookie-consent">
<p>We use cookies to give you the best experience on our website. By continuing to browse the site you agree to our use of cookies and to our privacy policy.</p>
<button>Accept all</button> <button>Manage preferences</button>
</div>
<header class="site-header"><a class="logo" href="/">Daily Ledger</a>
<nav><ul><li><a href="/">Home</a></li><li><a href="/news">News</a></li><li><a href="/business">Business</a></li>
<li><a href="/sport">Sport</a></li><li><a href="/culture">Culture</a></li><li><a href="/opinion">Opinion</a></li></ul></nav>
</header>
<main>
<article class="story">
<h1>{escape(story.title)}</h1>
<p class="byline">By Mara Jovic, business correspondent</p>
<div class="share-bar"><a href="#">Share on Facebook</a> <a href="#">Share on X</a> <a href="#">Share by email</a> <a href="#">Copy link</a></div>
{body}
<div class="share-bar"><a href="#">Share on Facebook</a> <a href="#">Share on X</a> <a href="#">Share by email</a></div>
</article>
</main>
<aside class="most-read"><h2>Most read</h2><ol>{most_read}</ol></aside>
<aside class="newsletter"><h2>Get the morning briefing</h2><p>The day's top stories in your inbox every morning at seven. Sign up now, it is free.</p></aside>
<footer><p>© 2025 Daily Ledger Media Ltd. All rights reserved.</p>
<ul><li><a href="/about">About us</a></li><li><a href="/privacy">Privacy policy</a></li><li><a href="/terms">Terms of use</a></li><li><a href="/contact">Contact</a></li></ul></footer>
</body>
</html>
"""


def harbour_times_page(story: Story, slug: str) -> str:
    """The Harbour Times: div soup, og:url, a JSON-LD date, no <article> or <main>."""
    paragraphs = _paragraphs(story)
    body = "\n".join(f'<p class="para">{p}</p>' for p in paragraphs[:3])
    body += f'\n<p class="para">Related: {escape(MOST_READ[2])}</p>\n'
    body += "\n".join(f'<p class="para">{p}</p>' for p in paragraphs[3:])
    trending = "".join(
        f'<div class="item"><a href="/t/{i}">{escape(t)}</a></div>'
        for i, t in enumerate(reversed(MOST_READ))
    )
    published = story.published or "2025-03-04T10:00:00Z"
    return f"""<html lang="en-GB">
<head>
<meta http-equiv="Content-Type" content="text/html; charset=utf-8">
<title>{escape(story.title)} - The Harbour Times</title>
<meta property="og:url" content="https://harbourtimes.example/{slug}.html">
<meta property="og:site_name" content="The Harbour Times">
<script type="application/ld+json">{{"@context": "https://schema.org", "@type": "NewsArticle", "headline": "{escape(story.title)}", "datePublished": "{published}"}}</script>
</head>
<body>
<div id="gdpr">This site uses cookies. <a href="/cookies">Find out more</a> <a href="#">OK</a></div>
<div id="top"><div class="menu"><a href="/">Front page</a> | <a href="/local">Local</a> | <a href="/shipping">Shipping</a> | <a href="/weather">Weather</a> | <a href="/jobs">Jobs</a></div></div>
<div id="wrapper">
<div id="content" class="content">
<div class="headline"><h1>{escape(story.title)}</h1></div>
<div class="meta">Staff reporter | <span class="date">{published}</span></div>
<div class="social">Share this: Facebook | X | WhatsApp</div>
<div class="story-body">
{body}
</div>
<div class="tags">Tags: <a href="/tag/valdora">Valdora</a> <a href="/tag/transport">Transport</a></div>
</div>
<div id="sidebar" class="sidebar"><h3>Trending now</h3>{trending}
<div class="ad">Advertisement</div></div>
</div>
<div id="footer">The Harbour Times, 12 Quay Street, Valdora. Copyright 2025. <a href="/privacy">Privacy</a> <a href="/advertise">Advertise with us</a></div>
</body>
</html>
"""


TEASERS = (
    "The bank left its main rate at 3.5 percent and said price growth was slowing faster than expected.",
    "Landslides cut three passes after two days of heavy rain; drivers are told to avoid the area.",
    "The club turned to its former youth coach after nine games without a win.",
    "Overnight trains run again from December after a gap of ten years.",
    "A 1.2 billion euro plan adds two deep-water berths and 14 electric cranes.",
)


def ledger_section_front() -> str:
    """A section front: headlines and one-line teasers, no article."""
    items = "".join(
        f'<li><h3><a href="/news/{i}">{escape(t)}</a></h3><p>{escape(teaser)}</p><p>Updated 2 hours ago</p></li>'
        for i, (t, teaser) in enumerate(zip(MOST_READ, TEASERS, strict=True))
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>News | Daily Ledger</title></head>
<body>
<header><nav><a href="/">Home</a> <a href="/news">News</a> <a href="/business">Business</a> <a href="/sport">Sport</a></nav></header>
<main><h1>News</h1><ul class="teasers">{items}</ul></main>
<footer><p>© 2025 Daily Ledger Media Ltd. All rights reserved.</p></footer>
</body></html>
"""


ERROR_PAGE = """<!DOCTYPE html>
<html><head><title>Page not found | Daily Ledger</title></head>
<body><nav><a href="/">Home</a> <a href="/news">News</a></nav>
<h1>Sorry, we could not find that page</h1><p>The page you asked for has moved or no longer exists. Try the search or go back to the home page.</p>
</body></html>
"""
