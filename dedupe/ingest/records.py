"""Turning one input record into a Story: the field rules every format shares."""

from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from ..story import Story
from .errors import InputError

# A longer body is cut, not refused: wire dumps hold the odd giant record (a whole report pasted
# into one item), and its first two million characters say all that matching needs.
MAX_BODY_CHARS = 2_000_000
# Names exporters use for the body; read only when there is no "body" field.
BODY_ALIASES = ("text", "content")
STORY_COLUMNS = frozenset({"title", "body", *BODY_ALIASES})
# An unknown field nested deeper is refused: Python's JSON encoder recurses, so a value nested
# near the interpreter's recursion limit (1,000), which the decoder still reads, fails the report
# or the index later. Real records nest a few levels.
MAX_FIELD_DEPTH = 100
# A JSON escape ("\udc80") spells a lone surrogate, which no encoder writes: the index and the
# report would fail on the story later.
_SURROGATE = re.compile("[\ud800-\udfff]")


def origin(source: str, line: int | None) -> str:
    """Where a story was read, for messages: "feed.jsonl:12", or the path alone."""
    return source if line is None else f"{source}:{line}"


def build_story(
    source: str,
    line: int | None,
    *,
    title: str,
    body: str,
    id: str = "",
    url: str | None = None,
    publisher: str | None = None,
    published: str | None = None,
    language: str | None = None,
    extra: dict[str, Any] | None = None,
) -> Story | InputError:
    """A story from text fields already checked for type, and ``published`` as
    ``normalize_published`` gives it; an error if it has no text at all.

    ``source`` is the input the story was read from; the story's own ``source`` (its publisher) is
    ``publisher`` here, so that the two are not confused.
    """
    title, body = _story_texts(title, body)
    if not title and not body:
        return InputError(source, line, "empty story: no title and no body")
    try:
        # Identity must be exact: a replaced character could make two stories one.
        _check_identity(id, "id")
        _check_identity(url, "url")
        fields = {
            _clean_text(name): _clean_field(value, name) for name, value in (extra or {}).items()
        }
    except ValueError as err:
        return InputError(source, line, str(err))
    return Story.checked(
        id,
        title,
        body,
        url,
        publisher and _clean_text(publisher),
        published,
        language and _clean_text(language),
        fields,
        origin(source, line),
    )


def _story_texts(title: str, body: str) -> tuple[str, str]:
    """A story's title and body as it keeps them: stripped, the body cut, both cleaned."""
    return _clean_text(title.strip()), _clean_text(body.strip()[:MAX_BODY_CHARS])


def _body_field(record: Mapping[str, Any]) -> str | None:
    """The field a record's body is in: ``body``, else the first alias it has."""
    if "body" in record:
        return "body"
    return next((name for name in BODY_ALIASES if name in record), None)


def _check_identity(value: str | None, name: str) -> None:
    if value and not value.isascii() and (found := _SURROGATE.search(value)):
        character = f"lone surrogate U+{ord(found.group()):04X}"
        raise ValueError(f"{name} holds an invalid character ({character})")


def _clean_text(value: str) -> str:
    """``value`` with any lone surrogate as U+FFFD, the character for what cannot be read.
    Nearly no text holds one, and looking costs a tenth of what replacing costs (and ASCII text,
    most of it, needs no look at all)."""
    if value.isascii() or not _SURROGATE.search(value):
        return value
    return _SURROGATE.sub("\ufffd", value)


def _clean_field(value: Any, name: str, depth: int = 0) -> Any:
    """An unknown field's value, its text cleaned as ``_clean_text`` does, keys included."""
    if isinstance(value, str):
        return _clean_text(value)
    if not isinstance(value, list | dict):
        return value
    if depth == MAX_FIELD_DEPTH:
        raise ValueError(f"field {name!r} is nested more than {MAX_FIELD_DEPTH} levels deep")
    if isinstance(value, list):
        return [_clean_field(item, name, depth + 1) for item in value]
    return {_clean_text(key): _clean_field(item, name, depth + 1) for key, item in value.items()}


def record_text(record: Mapping[str, Any]) -> str:
    """The text a record's story is matched on, its body or else its title, cut and cleaned as
    ``story_from_record`` and ``build_story`` give them, without making the rest of the story:
    reading a scan's stories back to explain its pairs needs only that. For a record that was
    read as a story once: a field of the wrong type raises ``ValueError``."""
    field = _body_field(record)
    title, body = _story_texts(
        _text(record.get("title"), "title"), _text(record[field], field) if field else ""
    )
    return body or title


def story_from_record(
    record: Mapping[str, Any], source: str, line: int | None
) -> Story | InputError:
    """A story from a JSON object or CSV row; unknown fields are kept in ``extra``."""
    fields = dict(record)
    try:
        story_id = _identifier(fields.pop("id", None))
        title = _text(fields.pop("title", None), "title")
        field = _body_field(fields)
        body = _text(fields.pop(field), field) if field else ""
        url = _optional_text(fields.pop("url", None), "url")
        publisher = _optional_text(fields.pop("source", None), "source")
        published = _optional_text(fields.pop("published", None), "published")
        language = _optional_text(fields.pop("language", None), "language")
        published = normalize_published(published) if published else None
    except ValueError as err:
        return InputError(source, line, str(err))
    return build_story(
        source,
        line,
        title=title,
        body=body,
        id=story_id,
        url=url,
        publisher=publisher,
        published=published,
        language=language,
        extra=fields,
    )


def describe(value: Any) -> str:
    """The JSON name of a value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def json_problem(error: ValueError | RecursionError) -> str:
    """What is wrong with a JSON text the decoder refused, for messages.

    Besides syntax errors, hostile records make the decoder raise RecursionError (nesting deeper
    than Python's recursion limit) and a plain ValueError (an integer of more digits than Python
    converts, 4,300 by default).
    """
    if isinstance(error, json.JSONDecodeError):
        return f"invalid JSON: {error.msg}"
    if isinstance(error, RecursionError):
        return "JSON nested too deeply"
    return f"a JSON number of more than {sys.get_int_max_str_digits():,} digits"


def _identifier(value: Any) -> str:
    # Numeric ids are common in exports (database keys); a boolean id is a mistake.
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, float) and not math.isfinite(value):
        # JSON as Python reads it has NaN and Infinity; no record is named so.
        raise ValueError(f"id must be a finite number, not {value}")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise ValueError(f"id must be a string or a number, not {describe(value)}")


def _text(value: Any, name: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a string, not {describe(value)}")
    return value


def _optional_text(value: Any, name: str) -> str | None:
    if value is None:
        return None
    return _text(value, name).strip() or None


def normalize_published(value: str) -> str:
    """An ISO 8601 date; one with a time zone is given in UTC ("2025-07-02T10:00:00Z").

    One form lets later stages compare dates as strings to find the earliest copy. RFC 2822 dates,
    as in RSS and e-mail, are converted; anything else is an error.
    """
    try:
        when = datetime.fromisoformat(value)
        written = value
    except ValueError:
        # RFC 2822 is the rarer form: its parser (email.utils) is imported when one comes.
        from email.utils import parsedate_to_datetime

        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            raise ValueError(f"published is not an ISO 8601 or RFC 2822 date: {value!r}") from None
        except OverflowError:  # a year or hour of twenty digits
            raise ValueError(_outside(value)) from None
        written = when.isoformat()
    if when.tzinfo is None:
        # No zone given: keep the local time as written rather than invent a zone.
        return written
    try:
        in_utc = when.astimezone(UTC)
    except OverflowError:
        # 9999-12-31T23:59:59-01:00 is a moment of year 10000 in UTC; 0001-01-01T00:00:00+01:00
        # one of year 0.
        raise ValueError(_outside(value)) from None
    return in_utc.isoformat().replace("+00:00", "Z")


def _outside(value: str) -> str:
    return f"published is outside the calendar: {value!r}"
