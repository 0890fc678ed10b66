"""RSS and Atom feeds, read with feedparser: one story per entry."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import feedparser

from ..story import Story
from .errors import InputError
from .html_text import html_to_text
from .records import build_story

_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})


def read_feed(source: str, data: bytes) -> Iterator[Story | InputError]:
    """The entries of a feed document; InputError if nothing can be read from it.

    feedparser gets the bytes, so the XML declaration decides the encoding. It flags documents
    that are merely sloppy ("bozo") yet still yields their entries; those are kept, and only a
    document that gives no story at all is refused.
    """
    parsed = feedparser.parse(data)
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
