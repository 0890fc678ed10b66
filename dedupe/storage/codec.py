"""How the persistent backends write a story, its band keys and its moment in time.

A story is stored as zlib-compressed JSON: plain data that any client can read and none can be
made to execute, unlike a pickle on a shared server. Band keys are packed big-endian uint64s, and
moments are integer microseconds since the epoch, so that ordering and range queries on them are
exact in SQLite integers and Redis scores (doubles hold integers up to 2**53 exactly).
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from dedupe.story import Story

_FIELDS = ("title", "body", "url", "source", "published", "language")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_KEY_LIMIT = 1 << 64


class RecordError(ValueError):
    """A stored record that cannot be read back: the storage is damaged or not ours."""


def encode_record(story: Story) -> bytes:
    """The story without its id (the backends key it by id), as compressed JSON.

    ``extra`` is kept as its own object rather than merged in as ``Story.to_dict`` does, so an
    unknown field named like a known one still comes back where it was.
    """
    record = {name: getattr(story, name) for name in _FIELDS}
    record = {name: value for name, value in record.items() if value is not None}
    if story.extra:
        record["extra"] = story.extra
    try:
        text = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError) as error:
        raise ValueError(f"story {story.id!r} cannot be stored as JSON: {error}") from error
    return zlib.compress(text.encode("utf-8"))


def decode_record(story_id: str, blob: bytes) -> Story:
    try:
        record = json.loads(zlib.decompress(blob).decode("utf-8"))
        if not isinstance(record, dict):
            raise TypeError("not a JSON object")
        return Story(id=story_id, **record)
    except (zlib.error, UnicodeDecodeError, TypeError, ValueError) as error:
        raise RecordError(f"the record of story {story_id!r} is unreadable: {error}") from None


def micros(moment: datetime) -> int:
    """Microseconds since the epoch; a naive moment is UTC, as everywhere in dedupe."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // _MICROSECOND


def iso(moment_us: int) -> str:
    moment = _EPOCH + moment_us * _MICROSECOND
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def story_time(story: Story, added: datetime) -> int:
    """The moment that ``prune`` and ``stats`` go by: publication, else arrival."""
    if story.published:
        try:
            return micros(datetime.fromisoformat(story.published.strip()))
        except (ValueError, OverflowError):
            pass
    return micros(added)


def unique_keys(keys: Sequence[int]) -> list[int]:
    """Band keys, deduplicated and sorted: a key given twice would otherwise be stored twice."""
    unique = sorted(set(keys))
    if unique and not (0 < unique[0] and unique[-1] < _KEY_LIMIT):
        raise ValueError("band keys must be integers in [1, 2**64)")
    return unique


def pack_keys(keys: Sequence[int]) -> bytes:
    """Band keys, deduplicated and sorted, as big-endian uint64s."""
    unique = unique_keys(keys)
    return struct.pack(f">{len(unique)}Q", *unique)


def unpack_keys(packed: bytes) -> list[int]:
    return list(struct.unpack(f">{len(packed) // 8}Q", packed))
