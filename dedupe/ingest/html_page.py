"""Article pages: a web page saved or fetched whole, read with trafilatura into one story.

A page is mostly not its article: navigation, cookie banners, "most read" boxes quoting other
stories' headlines, share lines, captions, footers. Read as text, that furniture is the same on
every page of a site, so unrelated stories look alike and the same story on two sites does not.
trafilatura keeps the article's own text and reads the title, date, author and canonical url from
the page's metadata. This is not the ``page`` format, which is the text of a feed's listing page
(``seeds/feed-page.txt``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, BinaryIO

from ..story import Story
from .encoding import bom_encoding, detect_encoding
from .errors import InputError
from .page import read_more_title
from .records import build_story, normalize_published
from .source import HEAD_BYTES

# Far above an article page, scripts and inline styles included: a larger one is a dump or a
# mistake, and lxml's tree of a page takes several times its size.
MAX_PAGE_BYTES = 16 * 1024 * 1024
# Fewer words than this is an error page, a paywall stub or a section front's leftovers ("Page not
# found. Go to the homepage."), not an article; low enough that a two-sentence brief is kept.
MIN_ARTICLE_WORDS = 25
NO_ARTICLE = "no article text found in page"
# Comments and an XML declaration (XHTML) may come before the document's first tag.
_HTML_START = re.compile(
    r"(?:\s|<!--.*?-->|<\?xml[^>]*>)*<(?:!doctype\s+html|html)[\s>]", re.IGNORECASE | re.DOTALL
)
_DECLARED_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([-\w:.]+)""", re.IGNORECASE)
# A line that links to another story, in the article's text: "Read more: <title>", "See also - ...".
# The separator is required so that a sentence such as "Related talks broke down" stays.
_LINK_LINE = re.compile(
    r"(?:read also|also read|see also|related(?: stories| articles| coverage)?|more on this"
    r"(?: story)?|recommended)\s*[:»›→|–—-]",
    re.IGNORECASE,
)
_DATE_OPTIONS = {
    "outputformat": "%Y-%m-%dT%H:%M:%S%z",
    "original_date": True,
    # Looking through the whole text for dates finds the dates the story talks about.
    "extensive_search": False,
}


def looks_like_html(head: bytes) -> bool:
    """True for a document that starts as an HTML page does, after any comments."""
    text = head[:4096].decode(bom_encoding(head) or "latin-1", "ignore").lstrip("\ufeff")
    return _HTML_START.match(text) is not None


def read_html_page(source: str, stream: BinaryIO) -> Iterator[Story | InputError]:
    """The one story of a page file (or stdin); a bad record if it holds no article."""
    data = stream.read(MAX_PAGE_BYTES + 1)
    if len(data) > MAX_PAGE_BYTES:
        yield InputError(source, None, f"page is larger than {MAX_PAGE_BYTES >> 20} MB; skipped")
        return
    # A file name is not where the page came from: the url is the page's own, or none.
    yield page_story(data, source)


def page_story(
    data: bytes,
    source: str,
    *,
    url: str | None = None,
    charset: str | None = None,
    published: str | None = None,
) -> Story | InputError:
    """The article of one page's bytes as a story, or why there is none.

    ``url`` is where the page was fetched (it wins over the page's canonical link, which copies
    of a page share and templates get wrong); ``charset`` what the server declared; ``published``
    the date to use when the page gives none (when it was fetched). Problems are named
    ``source``, with the url when there is one.
    """
    where = f"{url}: " if url else ""
    try:
        text = _decode(data, source, charset)
    except InputError as error:
        return InputError(source, None, where + error.message)
    # Imported here: trafilatura costs a sixth of a second, and most inputs hold no web page.
    import trafilatura
    from trafilatura.utils import load_html

    try:
        tree = load_html(text)
        language = _language(tree) if tree is not None else None
        document = tree is not None and trafilatura.bare_extraction(
            tree,
            url=url,
            with_metadata=True,
            favor_precision=True,
            include_comments=False,
            include_tables=False,
            date_extraction_params=_DATE_OPTIONS,
        )
    except Exception as error:
        # lxml and trafilatura raise many types on broken markup; one page must not end the run.
        return InputError(source, None, f"{where}cannot read the page: {error!r}")
    if not document or not document.text:
        return InputError(source, None, where + NO_ARTICLE)
    title = (document.title or "").strip()
    body = _article_text(document.text, title)
    if _prose_words(body) < MIN_ARTICLE_WORDS:
        return InputError(source, None, where + NO_ARTICLE)
    try:
        date = _page_date(document.date) or published
        date = normalize_published(date) if date else None
    except ValueError as error:
        return InputError(source, None, f"{where}{error}")
    return build_story(
        source,
        None,
        title=title,
        body=body,
        url=url or document.url or None,
        published=date,
        language=language,
        extra={"author": document.author} if document.author else None,
    )


def _decode(data: bytes, source: str, declared: str | None) -> str:
    """The page as text: in the encoding its BOM, server or markup declares when that reads it,
    else in the one told from its bytes; InputError if none can be told."""
    candidates = [bom_encoding(data), declared]
    if found := _DECLARED_CHARSET.search(data[:HEAD_BYTES]):
        candidates.append(found[1].decode("ascii"))
    for encoding in filter(None, candidates):
        try:
            return data.decode(encoding)
        except (LookupError, UnicodeDecodeError):
            continue  # an unknown name, or a page that is not what it says (often cp1252)
    sample = data[:HEAD_BYTES]
    encoding = detect_encoding(sample, len(data) <= HEAD_BYTES, source)
    # The encoding is known now; a stray bad byte further on costs a character, not the page.
    return data.decode(encoding, "replace").removeprefix("\ufeff")


def _language(tree: Any) -> str | None:
    """The language the page declares, as written ("en-GB")."""
    declared = tree.get("lang") or tree.get("{http://www.w3.org/XML/1998/namespace}lang")
    if not declared:
        meta = tree.xpath('//meta[translate(@http-equiv, "LANGUE", "langue")="content-language"]')
        declared = meta[0].get("content") if meta else None
    return (declared or "").strip() or None


def _article_text(text: str, title: str) -> str:
    """trafilatura's text without the headline it repeats and the lines linking elsewhere."""
    lines = [line.strip() for line in text.split("\n")]
    if lines and lines[0] == title:
        lines = lines[1:]
    return "\n".join(
        line
        for line in lines
        if line and read_more_title(line) is None and not _LINK_LINE.match(line)
    )


def _prose_words(text: str) -> int:
    """Words outside list items: a section front's text is a list of headlines and teasers."""
    return sum(len(line.split()) for line in text.split("\n") if not line.startswith("- "))


def _page_date(value: str | None) -> str | None:
    """The page's date; a midnight without a zone is how htmldate writes a date alone."""
    if not value:
        return None
    return value.removesuffix("T00:00:00")
