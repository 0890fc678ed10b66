"""RSS and Atom feeds, read with feedparser: one story per entry."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, BinaryIO

from ..story import Story
from .errors import InputError
from .html_text import html_to_text
from .records import build_story

# feedparser parses a whole document at once, holding it in up to some 35 times its size. Peak
# RSS of reading a 32 MB feed, 130 MB of it the imports: 1.2 GB for 1.2 million one-line items,
# the worst shape found; 0.9-1.0 GB for one item of 32 MB of tags or character references;
# 0.3 GB for one of plain words. A larger feed is refused rather than risk the machine's memory:
# real feeds are a few megabytes, and an archive splits into several feeds.
MAX_FEED_BYTES = 32 * 1024 * 1024
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_CHARACTER_REFERENCE = re.compile(rb"&#(?:[xX]([0-9a-fA-F]+)|([0-9]+));")


def read_feed(source: str, stream: BinaryIO) -> Iterator[Story | InputError]:
    """The entries of a feed document; InputError if nothing can be read from it.

    feedparser gets the bytes, so the XML declaration decides the encoding. It flags documents
    that are merely sloppy ("bozo") yet still yields their entries; those are kept, and only a
    document that gives no story at all is refused.
    """
    parsed = _parse(source, stream)
    channel = parsed.feed
    publisher = _plain_text(channel.get("title"), channel.get("title_detail")) or None
    results = [
        _entry_story(entry, source, publisher, channel.get("language")) for entry in parsed.entries
    ]
    if not parsed.get("version") or (
        parsed.bozo and not any(isinstance(r, Story) for r in results)
    ):
        reason = parsed.get("bozo_exception") or "no RSS or Atom elements"
        raise InputError(source, None, f"not a readable RSS or Atom feed: {reason}")
    for number, result in enumerate(results, 1):
        if isinstance(result, InputError):
            # Entries have no line numbers; their position in the feed finds them.
            result = InputError(source, None, f"entry {number}: {result.message}")
        yield result


def _parse(source: str, stream: BinaryIO) -> Any:
    """The feed parsed; InputError if it is too large to parse, or feedparser fails on it."""
    data = stream.read(MAX_FEED_BYTES + 1)
    if len(data) > MAX_FEED_BYTES:
        message = f"the feed is larger than {MAX_FEED_BYTES >> 20} MB; split it into smaller feeds"
        raise InputError(source, None, message)
    data = _CHARACTER_REFERENCE.sub(_xml_character, data)
    # Imported here: it costs every command a tenth of its start-up, and most inputs are no feed.
    import feedparser

    try:
        return feedparser.parse(data)
    except Exception as error:
        # The loose parser feedparser falls back on for feeds that are not well-formed XML raises
        # on some markup (in 6.0, a "</gml:pos>" that closes nothing raises KeyError).
        message = f"not a readable RSS or Atom feed: feedparser failed ({error!r})"
        raise InputError(source, None, message) from None


def _xml_character(reference: re.Match[bytes]) -> bytes:
    """A character reference as written, or U+FFFD's if XML allows no document to hold its
    character: feedparser's loose parser raises on a surrogate (&#xDC80;), on NUL and on numbers
    beyond U+10FFFF, losing the whole feed to one bad character."""
    digits = (reference[1] or reference[2]).lstrip(b"0") or b"0"
    code = int(digits, 16 if reference[1] else 10) if len(digits) <= 8 else -1
    allowed = (
        code in (0x9, 0xA, 0xD)
        or 0x20 <= code <= 0xD7FF
        or 0xE000 <= code <= 0xFFFD
        or 0x10000 <= code <= 0x10FFFF
    )
    return reference[0] if allowed else b"&#xFFFD;"


def _entry_story(
    entry: Any, source: str, publisher: str | None, feed_language: str | None
) -> Story | InputError:
    title = _plain_text(entry.get("title"), entry.get("title_detail"))
    contents = entry.get("content") or []
    if contents:
        body_detail = contents[0]
        body = _plain_text(body_detail.get("value"), body_detail)
    else:
        body_detail = entry.get("summary_detail")
        body = _plain_text(entry.get("summary"), body_detail)
    language = (body_detail or {}).get("language") or feed_language
    try:
        published = _published(entry)
    except ValueError as err:
        return InputError(source, None, str(err))
    return build_story(
        source,
        None,
        title=title,
        body=body,
        id=entry.get("id") or "",
        url=entry.get("link") or None,
        publisher=publisher,
        published=published,
        language=language or None,
    )


def _published(entry: Any) -> str | None:
    """The entry's date, ISO 8601 in UTC; ValueError if it falls outside the calendar."""
    field = next((name for name in ("published", "updated") if entry.get(f"{name}_parsed")), None)
    if field is None:
        return None
    try:
        # feedparser gives these dates as UTC time tuples, whose year may be 0 or 10000 once
        # moved to UTC ("9999-12-31T23:59:59-01:00").
        moment = datetime(*entry[f"{field}_parsed"][:6], tzinfo=UTC)
    except ValueError:
        raise ValueError(f"published is outside the calendar: {entry.get(field)!r}") from None
    return moment.isoformat().replace("+00:00", "Z")


def _plain_text(value: str | None, detail: Any) -> str:
    if not value:
        return ""
    if detail and detail.get("type") in _HTML_TYPES:
        return html_to_text(value)
    return value
