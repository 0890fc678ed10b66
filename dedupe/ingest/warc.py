"""WARC archives (Common Crawl's CC-NEWS, Heritrix, ``wget --warc-file``): the article pages in
them, streamed record by record with warcio.

An archive holds far more than pages: the requests that fetched them, metadata, redirects, images,
scripts. Only an HTML page fetched whole (a ``response`` with status 200) can hold an article; the
rest is counted and left, since it is what an archive is normally made of, not bad input.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, BinaryIO

from ..story import Story
from .errors import InputError
from .html_page import MAX_PAGE_BYTES, page_story
from .source import DECOMPRESSION_ERRORS

if TYPE_CHECKING:
    from warcio.archiveiterator import ArchiveIterator

log = logging.getLogger("dedupe")
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_BLOCK = 1024 * 1024


def looks_like_warc(head: bytes) -> bool:
    """True for an archive: every record, the first included, starts with its WARC version."""
    return head.startswith((b"WARC/1.0\r\n", b"WARC/1.1\r\n"))


def read_warc(source: str, stream: BinaryIO) -> Iterator[Story | InputError | None]:
    """The stories of the archive's HTML responses; a page without an article is a bad record
    named by its url; None for each other record (a request, an image), so that progress counts
    it. A truncated or corrupt archive ends with InputError after what was read.

    ``stream`` is the archive with any gzip undone: a ``.warc.gz`` is gzip member by member,
    which Python's gzip reads as one stream.
    """
    # warcio is imported only to read an archive: sniffing every input for one must not pay it.
    from warcio.archiveiterator import ArchiveIterator

    records = ArchiveIterator(stream)
    count = skipped = 0
    try:
        while (record := _next_record(records, source, count)) is not None:
            count += 1
            page = _html_page(record)
            if page is None:
                skipped += 1
                yield None
                continue
            story = _record_story(record, source, *page)
            if record.raw_stream.limit > 0:
                # The archive ended inside this record: its page is cut short.
                raise _damaged(source, count - 1, f"the record of {page[0]} is cut short")
            yield story
    finally:
        if skipped:
            log.info("%s: skipped %d non-article records", source, skipped)


def _next_record(records: ArchiveIterator, source: str, count: int) -> Any:
    """The next record, None at the end; InputError if the archive is damaged there."""
    from warcio.exceptions import ArchiveLoadFailed

    try:
        return next(records, None)
    except (ArchiveLoadFailed, *DECOMPRESSION_ERRORS) as error:
        raise _damaged(source, count, str(error)) from None
    except Exception:
        # warcio reads each record's header as it comes, and fails on a cut or damaged one with
        # whatever its parsing meets (AttributeError on a header cut before its target URI).
        raise _damaged(source, count, "a record header is cut or damaged") from None


def _damaged(source: str, count: int, detail: str) -> InputError:
    return InputError(
        source, None, f"truncated or corrupt WARC archive after {count} records: {detail}"
    )


def _html_page(record: Any) -> tuple[str, str | None] | None:
    """(url, declared charset) of a record holding an HTML page fetched whole, else None."""
    if record.rec_type != "response" or record.http_headers is None:
        return None
    if record.http_headers.get_statuscode() != "200":
        return None
    from email.message import Message

    content_type = Message()
    content_type["content-type"] = record.http_headers.get_header("Content-Type") or ""
    if content_type.get_content_type() not in _HTML_TYPES:
        return None
    charset = content_type.get_param("charset")
    url = record.rec_headers.get_header("WARC-Target-URI") or ""
    return url.strip("<> "), charset if isinstance(charset, str) else None


def _record_story(record: Any, source: str, url: str, charset: str | None) -> Story | InputError:
    try:
        # content_stream undoes the HTTP transfer and content encodings (chunked, gzip).
        data = record.content_stream().read(MAX_PAGE_BYTES + 1)
        while record.raw_stream.read(_BLOCK):
            pass  # the rest of a page too large to read
    except Exception as error:
        # A damaged content encoding costs this record; a damaged archive fails at the next.
        return InputError(source, None, f"{url}: cannot read the page: {error}")
    if len(data) > MAX_PAGE_BYTES:
        message = f"{url}: page is larger than {MAX_PAGE_BYTES >> 20} MB; skipped"
        return InputError(source, None, message)
    fetched = record.rec_headers.get_header("WARC-Date")
    return page_story(data, source, url=url or None, charset=charset, published=fetched)
