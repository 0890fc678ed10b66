"""The Redis storage: one index shared by crawlers in many processes on many machines.

``redis://[:password@]host[:port][/db][?prefix=name]`` (or ``rediss://`` for TLS); every key of
the index starts with ``name:`` (default ``dedupe``), so several indexes can share one server::

    {p}:meta        hash    schema version
    {p}:next        string  the last sequence number given (INCR)
    {p}:rec         hash    id -> zlib JSON of the story
    {p}:keys        hash    id -> its sequence number (4 bytes) and folded band keys (5 bytes
                            each)
    {p}:ids         hash    sequence number -> id
    {p}:time        zset    sequence number, scored by its moment in microseconds
    {p}:b:{n}       string  postings of band-key bucket n: 7 bytes each, the low 22 bits of
                            the folded key (3 bytes) and the sequence number (4 bytes)
    {p}:try:{token} hash    id -> sequence number given by one add call, kept a minute

Band keys are folded to 40 bits (``codec.fold_key``: an extra candidate now and then, never a
changed verdict); schema version 1 held whole 64-bit keys (10-byte postings) and is refused.

Why buckets: a Redis key costs about 90 bytes, so a set of sequence numbers per band key would
cost some 8 KB per story for its ~80 keys. Instead the top 18 bits of a folded key pick one of
2**18 bucket strings of packed postings: 7 bytes per key, plus APPEND's spare room. A lookup
scans the buckets of its keys on the server: a few KB each up to a few million stories.

Everything is written by Lua scripts, each one atomic on the server: the id check, the sequence
number, the record and every posting of a story appear together or not at all. What is read back
is JSON, integers and packed integers; nothing is unpickled or evaluated.

A lost connection is retried with exponential backoff (redis-py ``Retry``); a retried add could
otherwise find its own first attempt and call the story held, so each add call leaves the
sequence numbers it gave under a one-minute ``try`` key and a retry returns them.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from string import Template
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import redis
from redis.backoff import ExponentialBackoff, NoBackoff
from redis.exceptions import AuthenticationError, AuthorizationError
from redis.retry import Retry

from dedupe.storage import IndexStats, StorageError
from dedupe.storage.codec import (
    KEY_BITS,
    RecordError,
    decode_record,
    encode_record,
    folded_keys,
    iso,
    micros,
    pack_keys,
    story_time,
)
from dedupe.story import Story

SCHEMA_VERSION = 2
DEFAULT_PREFIX = "dedupe"
# No ':' so that one index's key names can never fall under another's prefix.
_PREFIX = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
# The low bits of a folded band key stored in its posting; the top 18 name its bucket.
_SUFFIX_BITS = 22
_SUFFIX_BYTES = 3
_SUFFIX_MASK = (1 << _SUFFIX_BITS) - 1
# stats() measures every this-many-th bucket and scales up.
_BUCKET_SAMPLE = 64
# Stories per script call: a call of 100 holds the server for some 20 ms.
_STEP = 100

# Seconds to wait before retry n: 0.2, 0.4, ... capped at 3; 8 retries give up after ~15 s.
_BACKOFF_BASE = 0.1
_BACKOFF_CAP = 3.0
RETRIES = 8
_LOGIN_REFUSED = (AuthenticationError, AuthorizationError)

# Defined in the scripts that turn a stored key into its bucket and posting.
_POSTING = Template("""
-- The bucket of the 5-byte folded key at byte j of s (its top $bits bits) and its posting:
-- the other $suffix bits in 3 bytes, then the 4-byte sequence number.
local function posting(s, j, seq)
  local a, b, c = string.byte(s, j, j + 2)
  local bucket = a * $a + b * $b + math.floor(c / $c)
  return bucket, string.char(c % $c) .. string.sub(s, j + 3, j + 4) .. seq
end
""").substitute(
    bits=KEY_BITS - _SUFFIX_BITS,
    suffix=_SUFFIX_BITS,
    a=2 ** (KEY_BITS - 8 - _SUFFIX_BITS),
    b=2 ** (KEY_BITS - 16 - _SUFFIX_BITS),
    c=2 ** (_SUFFIX_BITS - 16),
)

_ADD = (
    _POSTING
    + """
-- KEYS: next, rec, keys, ids, time, try; ARGV: bucket prefix, then for each story its
-- id, record, moment and packed folded band keys.
local given, fresh = {}, {}
local last = tonumber(redis.call('GET', KEYS[1]) or '0')
if last + (#ARGV - 1) / 4 >= 4294967296 then
  return redis.error_reply('ERR sequence numbers exhausted')
end
for i = 2, #ARGV, 4 do
  local id, keys = ARGV[i], ARGV[i + 3]
  if redis.call('HEXISTS', KEYS[2], id) == 1 then
    -- Held: by another call, or by this call's first attempt whose reply was lost.
    local earlier = not fresh[id] and redis.call('HGET', KEYS[6], id)
    given[#given + 1] = earlier and tonumber(earlier) or false
  else
    local seq = redis.call('INCR', KEYS[1])
    local packed = struct.pack('>I4', seq)
    redis.call('HSET', KEYS[2], id, ARGV[i + 1])
    redis.call('HSET', KEYS[3], id, packed .. keys)
    redis.call('HSET', KEYS[4], seq, id)
    redis.call('ZADD', KEYS[5], ARGV[i + 2], seq)
    for j = 1, #keys, 5 do
      local number, entry = posting(keys, j, packed)
      -- APPEND leaves up to as much room again as a bucket holds (a third more memory on
      -- average), but costs the same at any size; GET and SET would copy the bucket each time.
      redis.call('APPEND', ARGV[1] .. number, entry)
    end
    redis.call('HSET', KEYS[6], id, seq)
    given[#given + 1] = seq
  end
  fresh[id] = true
end
-- A retry comes within seconds; a minute is ample.
redis.call('EXPIRE', KEYS[6], 60)
return given
"""
)

_LOOKUP = """
-- KEYS: ids; ARGV: bucket prefix, before ('' for none), then a bucket and a key suffix per key.
local before = tonumber(ARGV[2])
local seqs, seen = {}, {}
for i = 3, #ARGV, 2 do
  local postings = redis.call('GET', ARGV[1] .. ARGV[i])
  if postings then
    local at = string.find(postings, ARGV[i + 1], 1, true)
    while at do
      if at % 7 == 1 then
        local seq = struct.unpack('>I4', postings, at + 3)
        if (not before or seq < before) and not seen[seq] then
          seen[seq] = true
          seqs[#seqs + 1] = seq
        end
      end
      at = string.find(postings, ARGV[i + 1], at + 1, true)
    end
  end
end
local ids = {}
for i = 1, #seqs, 1000 do
  local found = redis.call('HMGET', KEYS[1], unpack(seqs, i, math.min(i + 999, #seqs)))
  for _, id in ipairs(found) do
    if id then ids[#ids + 1] = id end
  end
end
return ids
"""

_FORGET = (
    _POSTING
    + """
-- KEYS: rec, keys, ids, time; ARGV[1]: bucket prefix.
local function forget(id)
  local entry = redis.call('HGET', KEYS[2], id)
  if not entry then return 0 end
  local packed = string.sub(entry, 1, 4)
  for j = 5, #entry, 5 do
    local number, wanted = posting(entry, j, packed)
    local bucket = ARGV[1] .. number
    local postings = redis.call('GET', bucket)
    local at = postings and string.find(postings, wanted, 1, true)
    while at and at % 7 ~= 1 do
      at = string.find(postings, wanted, at + 1, true)
    end
    if at and #postings == 7 then
      redis.call('DEL', bucket)
    elseif at then
      redis.call('SET', bucket, string.sub(postings, 1, at - 1) .. string.sub(postings, at + 7))
    end
  end
  local seq = struct.unpack('>I4', entry)
  redis.call('HDEL', KEYS[1], id)
  redis.call('HDEL', KEYS[2], id)
  redis.call('HDEL', KEYS[3], seq)
  redis.call('ZREM', KEYS[4], seq)
  return 1
end
"""
)

_REMOVE = (
    _FORGET
    + """
-- ARGV[2...]: ids
local removed = 0
for i = 2, #ARGV do
  removed = removed + forget(ARGV[i])
end
return removed
"""
)

_PRUNE = (
    _FORGET
    + """
-- ARGV[2]: remove stories with a moment before this; ARGV[3]: at most this many.
local seqs = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', '(' .. ARGV[2], 'LIMIT', 0, ARGV[3])
local removed = 0
for _, seq in ipairs(seqs) do
  local id = redis.call('HGET', KEYS[3], seq)
  if id then
    removed = removed + forget(id)
  else
    redis.call('ZREM', KEYS[4], seq)
  end
end
return {#seqs, removed}
"""
)


def _chunks(items: Sequence, size: int = _STEP) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class RedisStorage:
    """An index on a Redis server; ``retries`` is how often a lost connection is retried.
    With ``create``, an index that does not exist under the prefix is made; without it, only
    an existing index is opened."""

    def __init__(self, url: str, *, create: bool = True, retries: int = RETRIES) -> None:
        try:
            parts = urlsplit(url)
            # Names the server in messages; never the password.
            self.where = f"{parts.hostname or 'localhost'}:{parts.port or 6379}"
        except ValueError as error:
            raise StorageError(f"invalid Redis URL: {error}") from None
        query = parse_qsl(parts.query, keep_blank_values=True)
        prefixes = [value for name, value in query if name == "prefix"]
        self.prefix = prefixes[-1] if prefixes else DEFAULT_PREFIX
        db = parts.path.strip("/") or "0"
        if not db.isdigit():
            raise StorageError(f"invalid Redis URL: the database {db!r} is not a number")
        self.where += f"/{db}"
        if not _PREFIX.match(self.prefix):
            raise StorageError(
                f"Redis index prefix {self.prefix!r}: use 1 to 64 letters, digits, '_', '.' or '-'"
            )
        self._retries = retries
        address = urlunsplit(
            parts._replace(query=urlencode([q for q in query if q[0] != "prefix"]))
        )
        # A script call takes milliseconds; a stats() or prune step well under a second.
        options = {"socket_connect_timeout": 5.0, "socket_timeout": 10.0}
        self._check_login(address, options)
        self._client = redis.Redis.from_url(
            address,
            retry=Retry(ExponentialBackoff(cap=_BACKOFF_CAP, base=_BACKOFF_BASE), retries),
            # Named as well as implied by Retry: redis-py 5 retries only the errors listed here.
            retry_on_error=[redis.ConnectionError, redis.TimeoutError],
            **options,
        )
        p = self.prefix
        self._meta, self._next, self._records = f"{p}:meta", f"{p}:next", f"{p}:rec"
        self._entries, self._ids, self._times = f"{p}:keys", f"{p}:ids", f"{p}:time"
        self._buckets = f"{p}:b:"
        self._add = self._client.register_script(_ADD)
        self._lookup = self._client.register_script(_LOOKUP)
        self._remove = self._client.register_script(_REMOVE)
        self._prune = self._client.register_script(_PRUNE)
        self._prepare(create)

    def _check_login(self, address: str, options: dict[str, float]) -> None:
        """Refuse a wrong URL or password, or a server that does not answer, at once: the
        retries are meant for a server that is restarting, and waiting will not fix these."""
        try:
            probe = redis.Redis.from_url(address, retry=Retry(NoBackoff(), 0), **options)
        except ValueError as error:
            raise StorageError(f"invalid Redis URL for {self.where}: {error}") from None
        try:
            probe.ping()
        except TypeError as error:  # an unknown option in the query string
            raise StorageError(f"invalid Redis URL for {self.where}: {error}") from None
        except _LOGIN_REFUSED as error:
            raise StorageError(f"Redis at {self.where} refused the login: {error}") from None
        except redis.TimeoutError as error:
            raise StorageError(f"Redis at {self.where} did not answer: {error}") from None
        except redis.RedisError:
            pass  # refused or loading: perhaps restarting, so the retrying client waits for it
        finally:
            probe.close()

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except _LOGIN_REFUSED as error:
            raise StorageError(f"Redis at {self.where} refused the login: {error}") from None
        except (redis.ConnectionError, redis.TimeoutError) as error:
            raise StorageError(
                f"cannot reach the Redis index at {self.where} (prefix {self.prefix!r}) after "
                f"{self._retries} retries: {error}"
            ) from None
        except (redis.RedisError, RecordError) as error:
            raise StorageError(
                f"Redis index at {self.where} (prefix {self.prefix!r}): {error}"
            ) from None

    def _prepare(self, create: bool) -> None:
        """Mark a new index with the schema version (with ``create``); refuse one of another
        version, or keys under the prefix that some other program wrote."""
        foreign = StorageError(
            f"Redis at {self.where}: the keys under prefix {self.prefix!r} are not a dedupe "
            "index; choose another prefix"
        )
        with self._errors():
            try:
                meta = self._client.hgetall(self._meta)
                if not meta:
                    names = (self._next, self._records, self._entries, self._ids, self._times)
                    if not self._client.exists(*names):
                        if not create:
                            raise StorageError(
                                f"no index at Redis {self.where} under prefix {self.prefix!r} "
                                "(index add creates one)"
                            )
                        self._client.hsetnx(self._meta, "schema", SCHEMA_VERSION)
                    # Read again: another process may have made the index meanwhile.
                    meta = self._client.hgetall(self._meta)
            except redis.ResponseError:
                raise foreign from None
        version = meta.get(b"schema")
        if version is None:
            raise foreign
        if version != str(SCHEMA_VERSION).encode():
            held = version.decode(errors="replace")
            advice = (
                ": rebuild it with `dedupe index add` under a new prefix"
                if held.isdigit() and int(held) < SCHEMA_VERSION
                else ""
            )
            raise StorageError(
                f"Redis at {self.where}: prefix {self.prefix!r} holds a dedupe index of schema "
                f"version {held}; this version of dedupe reads version {SCHEMA_VERSION}{advice}"
            )

    def add(self, story: Story, keys: Sequence[int]) -> int | None:
        return self.add_many([(story, keys)])[0]

    def add_many(self, items: Sequence[tuple[Story, Sequence[int]]]) -> list[int | None]:
        now = datetime.now(UTC)
        encoded = [
            (story.id, encode_record(story), story_time(story, now), pack_keys(keys))
            for story, keys in items
        ]
        given: list[int | None] = []
        with self._errors():
            for chunk in _chunks(encoded):
                args: list[str | bytes | int] = [self._buckets]
                for fields in chunk:
                    args.extend(fields)
                # A token per call: a retry of this call, and only that, sees its own adds.
                attempt = f"{self.prefix}:try:{secrets.token_hex(12)}"
                keys = [self._next, self._records, self._entries, self._ids, self._times, attempt]
                given.extend(self._add(keys=keys, args=args))
        return given

    def lookup(self, keys: Sequence[int], before: int | None = None) -> list[str]:
        args: list[str | bytes | int] = [self._buckets, "" if before is None else before]
        for key in folded_keys(keys):
            args.extend((key >> _SUFFIX_BITS, (key & _SUFFIX_MASK).to_bytes(_SUFFIX_BYTES, "big")))
        if len(args) == 2:
            return []
        with self._errors():
            ids = self._lookup(keys=[self._ids], args=args)
        return sorted({story_id.decode("utf-8") for story_id in ids})

    def get(self, ids: Sequence[str]) -> list[Story]:
        unique = list(dict.fromkeys(ids))
        stories: dict[str, Story] = {}
        with self._errors():
            for chunk in _chunks(unique, 1000):
                blobs = self._client.hmget(self._records, chunk)
                for story_id, blob in zip(chunk, blobs, strict=True):
                    if blob is not None:
                        stories[story_id] = decode_record(story_id, blob)
        return [stories[story_id] for story_id in ids if story_id in stories]

    def remove(self, ids: Sequence[str]) -> int:
        keys = [self._records, self._entries, self._ids, self._times]
        with self._errors():
            return sum(
                self._remove(keys=keys, args=[self._buckets, *chunk])
                for chunk in _chunks(list(dict.fromkeys(ids)))
            )

    def prune(self, before: datetime) -> int:
        keys = [self._records, self._entries, self._ids, self._times]
        args = [self._buckets, micros(before), _STEP]
        removed = 0
        with self._errors():
            while True:
                examined, gone = self._prune(keys=keys, args=args)
                removed += gone
                if examined < _STEP:
                    return removed

    def stats(self) -> IndexStats:
        """``bytes`` is the server memory of the index (``MEMORY USAGE``), estimated: the
        hashes from 1000 fields each, the buckets from every 64th one. Exact figures would
        block the server for seconds on a large index."""
        names = [self._meta, self._next, self._records, self._entries, self._ids, self._times]
        sampled = range(0, 2 ** (KEY_BITS - _SUFFIX_BITS), _BUCKET_SAMPLE)
        with self._errors():
            with self._client.pipeline(transaction=True) as pipe:
                pipe.hlen(self._records)
                pipe.zrange(self._times, 0, 0, withscores=True)
                pipe.zrange(self._times, -1, -1, withscores=True)
                count, oldest, newest = pipe.execute()
            with self._client.pipeline(transaction=False) as pipe:
                for name in names:
                    pipe.memory_usage(name, samples=1000)
                for number in sampled:
                    pipe.memory_usage(f"{self._buckets}{number}", samples=0)
                used = [size or 0 for size in pipe.execute()]
        return IndexStats(
            stories=count,
            oldest=iso(int(oldest[0][1])) if oldest else None,
            newest=iso(int(newest[0][1])) if newest else None,
            bytes=sum(used[: len(names)]) + sum(used[len(names) :]) * _BUCKET_SAMPLE,
        )

    def close(self) -> None:
        self._client.close()

    def __contains__(self, story_id: object) -> bool:
        if not isinstance(story_id, str):
            return False
        with self._errors():
            return bool(self._client.hexists(self._records, story_id))

    def __len__(self) -> int:
        with self._errors():
            return int(self._client.hlen(self._records))
