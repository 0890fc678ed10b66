"""How the persistent backends write a story, its band keys and its moment in time.

A story is stored as zlib-compressed JSON: plain data that any client can read and none can be
made to execute, unlike a pickle on a shared server. Moments are integer microseconds since the
epoch, so that ordering and range queries on them are exact in SQLite integers and Redis scores
(doubles hold integers up to 2**53 exactly).

Band keys are stored folded to ``KEY_BITS`` (40) bits: see ``fold_key``. A band key is a 64-bit
hash, and a story has some 80 of them, so at 1M stories they are most of the index. Both backends
keep them as postings in buckets: the top ``BUCKET_BITS`` of a folded key name its bucket, and
its posting is the other bits (3 bytes) and the story's sequence number (4 bytes). A story keeps
only the numbers of its buckets, for its removal (``pack_buckets``): about 2 bytes each.
"""

from __future__ import annotations

import json
import logging
import zlib
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from importlib.resources import files
from typing import Any

from dedupe.storage import StorageError, UnstorableStory
from dedupe.story import Story

log = logging.getLogger("dedupe")

_FIELDS = ("title", "body", "url", "source", "published", "language")
_TEXTS = ("title", "body")
_JSON_TYPES = {
    dict: "an object",
    list: "a list",
    str: "text",
    bool: "a boolean",
    int: "a number",
    float: "a number",
}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_KEY_LIMIT = 1 << 64
KEY_BITS = 40
KEY_BYTES = KEY_BITS // 8
_KEY_MASK = (1 << KEY_BITS) - 1
# 2**18 buckets: at 1M stories of ~80 keys, some 300 postings (2 KB) each; at 100k, 30.
BUCKET_BITS = 18
SUFFIX_BITS = KEY_BITS - BUCKET_BITS
SUFFIX_BYTES = 3
_SUFFIX_MASK = (1 << SUFFIX_BITS) - 1
SEQ_BYTES = 4
POSTING_BYTES = SUFFIX_BYTES + SEQ_BYTES
# A record is a few KB, too short for zlib to learn the language from it; compressed against
# the English stop words and common news words shipped in the package, and a record's JSON
# skeleton, it is a tenth smaller (1,461 to 1,308 B on benchmarks/index_speed.py's stories).
# The dictionary is part of the storage format, frozen in its own file: records written with
# one are unreadable with another, so it changes only with the schema versions of the backends.
RECORD_DICTIONARY = files("dedupe.storage").joinpath("record_dictionary.txt").read_bytes()


class DamagedRecord(StorageError):
    """A stored record that cannot be read back as a story: the index is damaged, or was
    written by something else. The message names the index and the story."""

    def __init__(self, index: str, story_id: str, problem: str) -> None:
        super().__init__(f"index {index} holds a damaged record for story {story_id!r}: {problem}")


def check_storable(story: Story) -> None:
    """Refuse a story that no index can hold as it was given, before any of it is stored.

    A field of the wrong type would be stored and fail every check that read it back; text
    that is not valid Unicode (a lone surrogate, as ``errors="surrogateescape"`` leaves from
    undecodable bytes) cannot be written as UTF-8 at all, by SQLite, Redis or JSON.

    Raises:
        UnstorableStory: naming the story and what is wrong with it.
    """
    problem = _story_problem(story)
    if problem is not None:
        origin = f" ({story.origin})" if story.origin else ""
        raise UnstorableStory(f"story {story.id!r}{origin} cannot be stored: {problem}")


def storable_ids(ids: Iterable[object]) -> list[str]:
    """The ids an index could hold, in order, each once: an id that is not text in valid
    Unicode was never stored (see ``check_storable``), and SQLite and Redis cannot even look
    it up (a command-line argument of undecodable bytes arrives as such an id)."""
    found: list[str] = []
    for story_id in dict.fromkeys(ids):
        if isinstance(story_id, str):
            try:
                story_id.encode("utf-8")
            except UnicodeEncodeError:
                continue
            found.append(story_id)
    return found


def _story_problem(story: Story) -> str | None:
    # ``Story`` refuses fields of the wrong type itself; what it lets through is text that UTF-8
    # cannot write, and extra fields that JSON cannot.
    problem = _record_problem(_record(story))
    if problem is not None:
        return problem
    texts = [("id", story.id)] + [(name, getattr(story, name) or "") for name in _FIELDS]
    for name, text in texts:
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as error:
            return (
                f"its {name} is not valid Unicode "
                f"(a lone surrogate, {text[error.start]!r}, at {error.start})"
            )
    try:
        json.dumps(story.extra, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return "its extra fields hold text that is not valid Unicode (a lone surrogate)"
    except (TypeError, ValueError) as error:
        return f"its extra fields cannot be written as JSON: {error}"
    return None


def _record(story: Story) -> dict[str, Any]:
    """The story without its id (the backends key it by id).

    ``extra`` is kept as its own object rather than merged in as ``Story.to_dict`` does, so an
    unknown field named like a known one still comes back where it was.
    """
    record = {name: getattr(story, name) for name in _FIELDS}
    record = {name: value for name, value in record.items() if value is not None}
    if story.extra:
        record["extra"] = story.extra
    return record


def encode_record(story: Story) -> bytes:
    """The story without its id, as compressed JSON (see ``_record``).

    Encoding is the check: callers (``Index``) have most often checked the story already, and
    only a story that fails here is looked at again, to say what is wrong with it.

    Raises:
        UnstorableStory: see ``check_storable``.
    """
    record = _record(story)
    if _record_problem(record) is None:
        try:
            story.id.encode("utf-8")
            text = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
            packer = zlib.compressobj(zdict=RECORD_DICTIONARY)
            return packer.compress(text.encode("utf-8")) + packer.flush()
        except (UnicodeEncodeError, TypeError, ValueError):
            pass  # named below
    check_storable(story)
    raise UnstorableStory(f"story {story.id!r} cannot be stored as JSON")


def _json_type(value: Any) -> str:
    return "null" if value is None else _JSON_TYPES.get(type(value), type(value).__name__)


def _record_problem(record: Any) -> str | None:
    """What keeps a decoded record from being a story, if anything."""
    if not isinstance(record, dict):
        return f"it is {_json_type(record)}, not an object"
    unknown = sorted(set(record) - {*_FIELDS, "extra"})
    if unknown:
        return f"it has fields no story has: {', '.join(map(repr, unknown))}"
    for name, value in record.items():
        if name == "extra":
            if not isinstance(value, dict):
                return f"its extra fields are {_json_type(value)}, not an object"
        elif not isinstance(value, str) and (name in _TEXTS or value is not None):
            return f"its {name} is {_json_type(value)}, not text"
    return None


def decode_record(story_id: str, blob: bytes, index: str) -> Story:
    """The story stored by ``encode_record``, its fields' types checked: a field of the wrong
    type would otherwise fail later, in whatever met the story (``index`` names the index in
    the error).

    Raises:
        DamagedRecord: the record is not compressed JSON, or not a story.
    """
    try:
        unpacker = zlib.decompressobj(zdict=RECORD_DICTIONARY)
        text = unpacker.decompress(blob) + unpacker.flush()
        if not unpacker.eof:
            raise ValueError("it is cut short")
        record = json.loads(text.decode("utf-8"))
    except (zlib.error, UnicodeDecodeError, TypeError, ValueError) as error:
        raise DamagedRecord(index, story_id, f"it is unreadable: {error}") from None
    problem = _record_problem(record)
    if problem is not None:
        raise DamagedRecord(index, story_id, problem)
    return Story(id=story_id, **record)


def readable(
    records: Iterable[tuple[str, bytes]], index: str, reported: set[str]
) -> dict[str, Story]:
    """The stories of stored records by id, leaving out the damaged ones.

    One damaged record should not stop every check that meets it, nor go unseen: each is
    logged as a warning, once per story for as long as the index is open (``reported`` holds
    the ids already logged), and the check goes on without it.
    """
    stories: dict[str, Story] = {}
    for story_id, blob in records:
        try:
            stories[story_id] = decode_record(story_id, blob, index)
        except DamagedRecord as damaged:
            if story_id not in reported:
                reported.add(story_id)
                log.warning("%s; left out of checks (remove it and add it again)", damaged)
    return stories


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


def fold_key(key: int) -> int:
    """A band key folded to ``KEY_BITS`` bits: its low 40 bits XOR its high 24.

    What the persistent backends store and look up. Two band keys that fold alike only make an
    extra candidate, which verification on the real sets then refuses: no verdict changes, a
    check may fetch one more story. Band keys are uniform 64-bit hashes, so a looked-up key meets
    a stranger's folded key with probability (postings held) / 2**40: at 1M stories of ~80 keys,
    8e7 / 1.1e12 = 7e-5 per key, one extra candidate in ~170 checks; at 10M stories, one in ~17.
    Folding (rather than cutting off bits) keeps every key below 2**40 exact, and keys that
    differ only in their high or only in their low bits apart.
    """
    return (key ^ (key >> KEY_BITS)) & _KEY_MASK


def folded_keys(keys: Sequence[int]) -> list[int]:
    """Band keys checked (see ``unique_keys``), folded, deduplicated and sorted."""
    return sorted({fold_key(key) for key in unique_keys(keys)})


def pack_keys(folded: Sequence[int]) -> bytes:
    """Folded band keys as big-endian ``KEY_BYTES``-byte integers."""
    return b"".join(key.to_bytes(KEY_BYTES, "big") for key in folded)


def bucket(key: int) -> int:
    """The bucket of a folded key."""
    return key >> SUFFIX_BITS


def suffix(key: int) -> bytes:
    """What a posting keeps of a folded key: the bits below its bucket's."""
    return (key & _SUFFIX_MASK).to_bytes(SUFFIX_BYTES, "big")


def postings(folded: Sequence[int], seq: int) -> dict[int, bytes]:
    """A story's postings by bucket, for its folded keys and its sequence number."""
    packed = seq.to_bytes(SEQ_BYTES, "big")
    found: dict[int, bytes] = {}
    for key in folded:
        number = bucket(key)
        found[number] = found.get(number, b"") + suffix(key) + packed
    return found


def pack_buckets(numbers: Iterable[int]) -> bytes:
    """Bucket numbers, deduplicated and sorted, as the gaps between them in LEB128 varints:
    about 2 bytes each for a story's ~80 buckets of 2**18, against 5 for a folded key."""
    packed = bytearray()
    last = 0
    for number in sorted(set(numbers)):
        gap, last = number - last, number
        while gap >= 0x80:
            packed.append(gap & 0x7F | 0x80)
            gap >>= 7
        packed.append(gap)
    return bytes(packed)


def unpack_buckets(packed: bytes) -> list[int]:
    """The bucket numbers of ``pack_buckets``.

    Raises:
        ValueError: ``packed`` is not such a list (cut short, or not bytes).
    """
    if not isinstance(packed, bytes):
        raise ValueError(f"a bucket list is bytes, not {_json_type(packed)}")
    numbers: list[int] = []
    last = gap = shift = 0
    for byte in packed:
        gap |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            last += gap
            numbers.append(last)
            gap = shift = 0
    if shift or (numbers and numbers[-1] >> BUCKET_BITS):
        raise ValueError("the bucket list is damaged")
    return numbers
