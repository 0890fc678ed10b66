"""The Redis storage: one index shared by crawlers in many processes on many machines.

``redis://[:password@]host[:port][/db][?prefix=name]`` (or ``rediss://`` for TLS); every key of
the index starts with ``name:`` (default ``dedupe``), so several indexes can share one server::

    {p}:meta        hash    schema version
    {p}:next        string  the last sequence number given (INCR)
    {p}:rec         hash    id -> the story's sequence number (4 bytes), the length of its
                            bucket list (4 bytes), the list (``codec.pack_buckets``), then the
                            zlib JSON of the story (``codec.encode_record``)
    {p}:ids         hash    sequence number -> id
    {p}:time        zset    sequence number, scored by its moment in microseconds
    {p}:b:{n}       string  postings of band-key bucket n: 7 bytes each, the low 22 bits of
                            the folded key (3 bytes) and the sequence number (4 bytes)
    {p}:try:{token} hash    id -> sequence number given by one add call, kept a minute

Band keys are folded to 40 bits (``codec.fold_key``: an extra candidate now and then, never a
changed verdict). Older schemas are refused: version 1 held whole 64-bit keys (10-byte
postings), version 2 the band keys of dedupe 0.1, whose word hashes were others, version 3 each
story's folded keys in a hash of their own and buckets with APPEND's spare room.

Why buckets: a Redis key costs about 90 bytes, so a set of sequence numbers per band key would
cost some 8 KB per story for its ~80 keys. Instead the top 18 bits of a folded key pick one of
2**18 bucket strings of packed postings: 7 bytes per key. Postings are appended (APPEND, once
per bucket and script call), which keeps room spare in a growing bucket (a third more memory on
average) but costs each add the same whatever the index's size: written at its exact size (GET,
then SET of the whole bucket), each add rewrote 80 buckets, and a build of a million stories
slowed to a few hundred adds a second, the server's CPU its limit. A lookup scans the buckets
of its keys on the server: a few KB each up to a few million stories. A story's record holds the
numbers of its buckets, two bytes each, so that removing it rewrites those buckets only.

Everything is written by Lua scripts, each one atomic on the server: the id check, the sequence
number, the record and every posting of a story appear together or not at all. What is read back
is JSON, integers and packed integers; nothing is unpickled or evaluated.

A lost connection is retried with exponential backoff (redis-py ``Retry``); a retried add could
otherwise find its own first attempt and call the story held, so each add call leaves the
sequence numbers it gave under a one-minute ``try`` key and a retry returns them.

A server that forgets must be noticed, not written on as if nothing happened: an opener refuses a
server that may evict the index (``_check_server``) and an index whose parts no longer agree
(``_prepare``); add and lookup refuse to run once the index's metadata is gone (a restart
without persistence, a flush, an eviction). A full server (``maxmemory`` reached, nothing
evicted) refuses every command that may need memory, unless the script calling it has written
already; so the scripts that forget delete before they write, and nothing that only reads or
cleans up runs in a MULTI (which a full server refuses whole): remove, prune and stats go on
working on a full server, and make room.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from string import Template
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import redis
from redis.backoff import ExponentialBackoff, NoBackoff
from redis.exceptions import AuthenticationError, AuthorizationError, OutOfMemoryError
from redis.retry import Retry

from dedupe.storage import KEY_WEIGHT, IndexStats, StorageError
from dedupe.storage.codec import (
    BUCKET_BITS,
    SEQ_BYTES,
    SUFFIX_BITS,
    bucket,
    encode_record,
    folded_keys,
    iso,
    micros,
    pack_buckets,
    pack_keys,
    readable,
    storable_ids,
    story_time,
    suffix,
)
from dedupe.story import Story

log = logging.getLogger("dedupe")

SCHEMA_VERSION = 4
DEFAULT_PREFIX = "dedupe"
# No ':' so that one index's key names can never fall under another's prefix.
_PREFIX = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
# The bytes that give the length of a record's bucket list.
_LENGTH_BYTES = 4
# stats() measures every this-many-th bucket and scales up.
_BUCKET_SAMPLE = 64
# Stories per script call: a call of 100 holds the server for some 20 ms.
_STEP = 100

# Seconds to wait before retry n: 0.2, 0.4, ... capped at 3; 8 retries give up after ~15 s.
_BACKOFF_BASE = 0.1
_BACKOFF_CAP = 3.0
RETRIES = 8
_LOGIN_REFUSED = (AuthenticationError, AuthorizationError)

# The error the scripts give when the index's metadata is gone.
_GONE = "dedupe: the index metadata is gone"

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
    bits=BUCKET_BITS,
    suffix=SUFFIX_BITS,
    a=2 ** (BUCKET_BITS - 8),
    b=2 ** (BUCKET_BITS - 16),
    c=2 ** (SUFFIX_BITS - 16),
)

_ADD = _POSTING + Template(
    """
-- KEYS: next, rec, ids, time, try, meta; ARGV: bucket prefix, then for each story its id, its
-- record (without its sequence number), moment and packed folded band keys.
if redis.call('EXISTS', KEYS[6]) == 0 then
  return redis.error_reply('ERR $gone')
end
local given, fresh, added, touched = {}, {}, {}, {}
local last = tonumber(redis.call('GET', KEYS[1]) or '0')
if last + (#ARGV - 1) / 4 >= 4294967296 then
  return redis.error_reply('ERR sequence numbers exhausted')
end
for i = 2, #ARGV, 4 do
  local id, keys = ARGV[i], ARGV[i + 3]
  if redis.call('HEXISTS', KEYS[2], id) == 1 then
    -- Held: by another call, or by this call's first attempt whose reply was lost.
    local earlier = not fresh[id] and redis.call('HGET', KEYS[5], id)
    given[#given + 1] = earlier and tonumber(earlier) or false
  else
    local seq = redis.call('INCR', KEYS[1])
    local packed = struct.pack('>I4', seq)
    redis.call('HSET', KEYS[2], id, packed .. ARGV[i + 1])
    redis.call('HSET', KEYS[3], seq, id)
    redis.call('ZADD', KEYS[4], ARGV[i + 2], seq)
    for j = 1, #keys, 5 do
      local number, entry = posting(keys, j, packed)
      if not added[number] then
        added[number] = {}
        touched[#touched + 1] = number
      end
      table.insert(added[number], entry)
    end
    redis.call('HSET', KEYS[5], id, seq)
    given[#given + 1] = seq
  end
  fresh[id] = true
end
for _, number in ipairs(touched) do
  redis.call('APPEND', ARGV[1] .. number, table.concat(added[number]))
end
-- A retry comes within seconds; a minute is ample.
redis.call('EXPIRE', KEYS[5], 60)
return given
"""
).substitute(gone=_GONE)

_LOOKUP = Template("""
-- KEYS: ids, meta; ARGV: bucket prefix, before ('' for none), limit ('' for none), then a
-- bucket and a key suffix per key.
if redis.call('EXISTS', KEYS[2]) == 0 then
  return redis.error_reply('ERR $gone')
end
local before, limit = tonumber(ARGV[2]), tonumber(ARGV[3])
local weights, seqs = {}, {}
for i = 4, #ARGV, 2 do
  local postings = redis.call('GET', ARGV[1] .. ARGV[i])
  local found = {}
  if postings then
    local at = string.find(postings, ARGV[i + 1], 1, true)
    while at do
      if at % 7 == 1 then
        local seq = struct.unpack('>I4', postings, at + 3)
        if not before or seq < before then found[#found + 1] = seq end
      end
      at = string.find(postings, ARGV[i + 1], at + 1, true)
    end
  end
  local weight = math.floor($weight / math.max(#found, 1))
  for _, seq in ipairs(found) do
    if weights[seq] then
      weights[seq] = weights[seq] + weight
    else
      weights[seq] = weight
      seqs[#seqs + 1] = seq
    end
  end
end
if limit and #seqs > limit then
  table.sort(seqs, function(x, y)
    if weights[x] ~= weights[y] then return weights[x] > weights[y] end
    return x > y
  end)
  for k = #seqs, limit + 1, -1 do seqs[k] = nil end
end
local ids = {}
for i = 1, #seqs, 1000 do
  local found = redis.call('HMGET', KEYS[1], unpack(seqs, i, math.min(i + 999, #seqs)))
  for _, id in ipairs(found) do
    if id then ids[#ids + 1] = id end
  end
end
return ids
""").substitute(gone=_GONE, weight=KEY_WEIGHT)

_FORGET = """
-- KEYS: rec, ids, time; ARGV[1]: bucket prefix.

-- The bucket numbers of the list at bytes first to last of s (see codec.pack_buckets); nil
-- when it is damaged.
local function buckets(s, first, last)
  local numbers, number, gap, scale = {}, 0, 0, 1
  for j = first, last do
    local byte = string.byte(s, j)
    gap = gap + (byte % 128) * scale
    if byte < 128 then
      number = number + gap
      numbers[#numbers + 1] = number
      gap, scale = 0, 1
    else
      scale = scale * 128
    end
  end
  if scale > 1 then return nil end
  return numbers
end

local function forget(id)
  local entry = redis.call('HGET', KEYS[1], id)
  if not entry then return 0 end
  -- Deletes first: on a full server the first write of a script may not be one that needs
  -- memory (SET), and the later ones may.
  redis.call('HDEL', KEYS[1], id)
  -- A damaged entry (written by something else) still lets its story go; postings it cannot
  -- name stay behind, pointing to no story, which lookups pass over.
  if #entry < 8 then return 1 end
  local seq, size = struct.unpack('>I4>I4', entry)
  if redis.call('HGET', KEYS[2], seq) == id then
    redis.call('HDEL', KEYS[2], seq)
    redis.call('ZREM', KEYS[3], seq)
  end
  local numbers = #entry >= 8 + size and buckets(entry, 9, 8 + size)
  if not numbers then return 1 end
  local packed = string.sub(entry, 1, 4)
  for _, number in ipairs(numbers) do
    local bucket = ARGV[1] .. number
    local postings = redis.call('GET', bucket)
    if postings then
      -- Every posting of the story in the bucket: its sequence number at byte 4 of 7.
      local kept, start = {}, 1
      local at = string.find(postings, packed, 1, true)
      while at do
        if at % 7 == 4 then
          kept[#kept + 1] = string.sub(postings, start, at - 4)
          start = at + 4
        end
        at = string.find(postings, packed, at + 1, true)
      end
      if start > 1 then
        kept[#kept + 1] = string.sub(postings, start)
        local rest = table.concat(kept)
        if #rest == 0 then
          redis.call('DEL', bucket)
        else
          redis.call('SET', bucket, rest)
        end
      end
    end
  end
  return 1
end
"""

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
local seqs = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', '(' .. ARGV[2], 'LIMIT', 0, ARGV[3])
local removed = 0
for _, seq in ipairs(seqs) do
  local id = redis.call('HGET', KEYS[2], seq)
  if id then
    removed = removed + forget(id)
  end
  -- Gone with its story; or, in a damaged index, left by none: either way never met again.
  redis.call('HDEL', KEYS[2], seq)
  redis.call('ZREM', KEYS[3], seq)
end
return {#seqs, removed}
"""
)

_STATE = """
-- KEYS: meta, next, rec, ids, time. For each: its type, and its size (HLEN, ZCARD) or, for a
-- string, its value; at one moment, so that adds going on meanwhile cannot make the parts seem
-- to disagree.
local state = {}
for _, name in ipairs(KEYS) do
  local kind = redis.call('TYPE', name)['ok']
  local size = false
  if kind == 'hash' then
    size = redis.call('HLEN', name)
  elseif kind == 'zset' then
    size = redis.call('ZCARD', name)
  elseif kind == 'string' then
    size = redis.call('GET', name)
  end
  state[#state + 1] = kind
  state[#state + 1] = size
end
local schema = false
if state[1] == 'hash' then schema = redis.call('HGET', KEYS[1], 'schema') end
state[#state + 1] = schema
return state
"""

_COUNT = """
-- KEYS: rec, time. The stories held, and the scores of the oldest and newest, at one moment
-- (a script, not a MULTI: a full server refuses a MULTI even of reads).
local oldest = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
local newest = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
return {redis.call('HLEN', KEYS[1]), oldest[2] or false, newest[2] or false}
"""


def _chunks(items: Sequence, size: int = _STEP) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _record(entry: bytes) -> bytes:
    """The zlib JSON of a story's entry in the records hash; what is left of a damaged entry,
    which then fails to decode, naming the story."""
    start = SEQ_BYTES + _LENGTH_BYTES
    size = int.from_bytes(entry[SEQ_BYTES:start], "big")
    return entry[start + size :]


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
        self._damaged: set[str] = set()
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
        self._ids, self._times = f"{p}:ids", f"{p}:time"
        self._buckets = f"{p}:b:"
        self._add = self._client.register_script(_ADD)
        self._lookup = self._client.register_script(_LOOKUP)
        self._remove = self._client.register_script(_REMOVE)
        self._prune = self._client.register_script(_PRUNE)
        self._state = self._client.register_script(_STATE)
        self._count = self._client.register_script(_COUNT)
        self._check_server()
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
        except OutOfMemoryError:
            raise StorageError(
                f"Redis at {self.where} is full (maxmemory reached) and stores no more stories: "
                "make room with `dedupe index prune` or `dedupe index remove`, or give it more "
                "maxmemory"
            ) from None
        except redis.ResponseError as error:
            if _GONE in str(error):
                raise self._gone() from None
            raise StorageError(
                f"Redis index at {self.where} (prefix {self.prefix!r}): {error}"
            ) from None
        except redis.RedisError as error:
            raise StorageError(
                f"Redis index at {self.where} (prefix {self.prefix!r}): {error}"
            ) from None

    def _check_server(self) -> None:
        """Refuse a server that may evict the index; warn when it keeps nothing over a restart.

        An evicting server drops whole keys when it is full: a record hash, the buckets, or
        the metadata (read only when an index is opened, so the least recently used of all),
        while ``add`` went on reporting stories as added. So the policy must evict nothing of
        the index. ``noeviction`` does: a full server refuses writes, which ``add`` reports,
        and remove and prune still work. Also accepted:

        - the ``volatile-*`` policies, which evict only keys with a time to live: no key of
          the index has one but the one-minute ``try`` keys, whose loss can at worst make an
          add retried after a lost reply call its own story held. A full server then refuses
          writes as with ``noeviction``. (Managed servers often default to ``volatile-lru``.)
        - any policy while ``maxmemory`` is 0: without a limit nothing is evicted. A warning
          says that the policy will evict the index the day a limit is set.

        ``CONFIG`` is often disabled on managed servers; ``INFO`` gives the same two settings.
        When neither answers, the check is skipped with a warning. Persistence: without the
        append-only file or snapshots a restart empties the server, so that is warned about
        (not refused: a scratch index may not need it). ``INFO`` tells only whether the
        append-only file is on, not whether the server snapshots, so without ``CONFIG`` a
        server without it is not warned about.
        """
        settings = self._server_settings()
        if settings is None:
            log.warning(
                "cannot read the settings of Redis at %s (CONFIG and INFO refused): make sure "
                "its maxmemory-policy is noeviction and that it persists (appendonly yes)",
                self.where,
            )
            return
        policy, limit, persists = settings
        if policy.startswith("allkeys-"):
            if limit:
                raise StorageError(
                    f"Redis at {self.where} evicts keys when full (maxmemory-policy {policy}): "
                    "it would drop stories of the index and the index would not know; run "
                    "`CONFIG SET maxmemory-policy noeviction` there (and set it in redis.conf)"
                )
            log.warning(
                "Redis at %s has maxmemory-policy %s: nothing is evicted while maxmemory is 0, "
                "but the index will lose stories once a limit is set; use noeviction",
                self.where,
                policy,
            )
        if persists is False:
            log.warning(
                "Redis at %s persists nothing (appendonly no, no save points): a restart "
                "empties the index; run `CONFIG SET appendonly yes` there",
                self.where,
            )

    def _server_settings(self) -> tuple[str, int, bool | None] | None:
        """The eviction policy, ``maxmemory``, and whether anything persists (None: unknown);
        from ``CONFIG``, else ``INFO``; None when the server tells neither."""
        with self._errors():
            try:
                config = self._client.config_get("maxmemory*")
                config |= self._client.config_get("appendonly")
                config |= self._client.config_get("save")
                persists = config["appendonly"] == "yes" or bool(config["save"].strip())
                return config["maxmemory-policy"], int(config["maxmemory"]), persists
            except (redis.ResponseError, KeyError, ValueError):
                pass
            try:
                memory = self._client.info("memory")
                aof = self._client.info("persistence").get("aof_enabled")
                return memory["maxmemory_policy"], int(memory["maxmemory"]), (aof == 1) or None
            except (redis.ResponseError, KeyError, ValueError):
                return None

    def _prepare(self, create: bool) -> None:
        """Mark a new index with the schema version (with ``create``); refuse one of another
        version, keys under the prefix that some other program wrote, or an index whose parts
        no longer agree because the server lost some of them."""
        state = self._read_state()
        if state["meta"] == "none":
            left = self._remaining()
            # Read again: another process may have made the index meanwhile.
            state = self._read_state()
            if state["meta"] == "none":
                if left and self._dedupe_shaped(state):
                    raise self._gone(left)
                if left:
                    raise self._foreign()
                if not create:
                    raise StorageError(
                        f"no index at Redis {self.where} under prefix {self.prefix!r} "
                        "(index add creates one)"
                    )
                with self._errors():
                    self._client.hsetnx(self._meta, "schema", SCHEMA_VERSION)
                state = self._read_state()
        version = state["schema"]
        if version is None:
            raise self._foreign()
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
        if not self._dedupe_shaped(state):
            raise self._foreign()
        self._check_whole(state)

    def _read_state(self) -> dict[str, object]:
        """The type and size of each key of the index (see ``_STATE``), by name, and the
        schema version (None when there is none)."""
        names = ("meta", "next", "rec", "ids", "time")
        keys = [self._meta, self._next, self._records, self._ids, self._times]
        with self._errors():
            reply = self._state(keys=keys)
        state: dict[str, object] = {"schema": reply[-1]}
        for number, name in enumerate(names):
            state[name] = reply[2 * number].decode()
            state[f"{name} size"] = reply[2 * number + 1]
        return state

    @staticmethod
    def _dedupe_shaped(state: dict[str, object]) -> bool:
        """Each key of the index that exists has the type the index gives it."""
        kinds = {"next": "string", "rec": "hash", "ids": "hash", "time": "zset"}
        return all(state[name] in ("none", kind) for name, kind in kinds.items())

    def _check_whole(self, state: dict[str, object]) -> None:
        """Every story has its record, id and time, written together by one script, and the
        counter is past them all; an index where these disagree lost keys to an eviction or a
        flush, and would answer wrongly from then on."""
        sizes = [int(state[f"{name} size"] or 0) for name in ("rec", "ids", "time")]
        last = int(state["next size"] or 0)
        problem = ""
        if len(set(sizes)) > 1:
            problem = "it holds {} records, {} ids and {} times".format(*sizes)
        elif last < sizes[0]:
            problem = f"it holds {sizes[0]} stories but its sequence counter is at {last}"
        elif sizes[0] == 0 and last and self._remaining(beside=("meta", "next")):
            # Unless a story was added while the keys were being scanned.
            if self._read_state()["next size"] == state["next size"]:
                problem = "it holds no story but band-key buckets remain"
        if problem:
            raise StorageError(
                f"Redis at {self.where}: the index under prefix {self.prefix!r} is damaged: "
                f"{problem}: the server lost data (eviction, or a restart without persistence); "
                "rebuild it with `dedupe index add` under a new prefix"
            )

    def _remaining(self, beside: Sequence[str] = ()) -> int:
        """How many keys under the prefix there are, leaving out the ``try`` keys (which go by
        themselves) and the named parts ``beside``. Scans the whole database: only for an
        index that is missing or empty."""
        skip = {f"{self.prefix}:{name}".encode() for name in beside}
        tries = f"{self.prefix}:try:".encode()
        with self._errors():
            return sum(
                1
                for key in self._client.scan_iter(match=f"{self.prefix}:*", count=10_000)
                if key not in skip and not key.startswith(tries)
            )

    def _gone(self, left: int | None = None) -> StorageError:
        """The error for an index whose metadata is gone (``left``: the keys that remain)."""
        if left is None:
            left = self._remaining()
        remain = f" but {left} keys with its prefix remain" if left else ""
        return StorageError(
            f"Redis at {self.where}: the metadata of the index under prefix {self.prefix!r} is "
            f"gone{remain}: the server lost data (eviction, a restart without persistence, or "
            "a flush); rebuild the index with `dedupe index add` under a new prefix"
        )

    def _foreign(self) -> StorageError:
        return StorageError(
            f"Redis at {self.where}: the keys under prefix {self.prefix!r} are not a dedupe "
            "index; choose another prefix"
        )

    def add(self, story: Story, keys: Sequence[int]) -> int | None:
        return self.add_many([(story, keys)])[0]

    def add_many(self, items: Sequence[tuple[Story, Sequence[int]]]) -> list[int | None]:
        now = datetime.now(UTC)
        encoded = []
        for story, keys in items:
            folded = folded_keys(keys)
            numbers = pack_buckets(map(bucket, folded))
            record = len(numbers).to_bytes(_LENGTH_BYTES, "big") + numbers
            record += encode_record(story)
            encoded.append((story.id, record, story_time(story, now), pack_keys(folded)))
        given: list[int | None] = []
        with self._errors():
            for chunk in _chunks(encoded):
                args: list[str | bytes | int] = [self._buckets]
                for fields in chunk:
                    args.extend(fields)
                # A token per call: a retry of this call, and only that, sees its own adds.
                attempt = f"{self.prefix}:try:{secrets.token_hex(12)}"
                keys = [self._next, self._records, self._ids, self._times]
                given.extend(self._add(keys=[*keys, attempt, self._meta], args=args))
        return given

    def lookup(
        self, keys: Sequence[int], before: int | None = None, limit: int | None = None
    ) -> list[str]:
        args: list[str | bytes | int] = [self._buckets]
        args += ["" if before is None else before, "" if limit is None else limit]
        for key in folded_keys(keys):
            args.extend((bucket(key), suffix(key)))
        if len(args) == 3:
            return []
        with self._errors():
            ids = self._lookup(keys=[self._ids, self._meta], args=args)
        return sorted({story_id.decode("utf-8") for story_id in ids})

    def get(self, ids: Sequence[str]) -> list[Story]:
        unique = storable_ids(ids)
        records: list[tuple[str, bytes]] = []
        with self._errors():
            for chunk in _chunks(unique, 1000):
                entries = self._client.hmget(self._records, chunk)
                records.extend(
                    (i, _record(e)) for i, e in zip(chunk, entries, strict=True) if e is not None
                )
        index = f"{self.where} (prefix {self.prefix!r})"
        stories = readable(records, index, self._damaged)
        return [stories[story_id] for story_id in ids if story_id in stories]

    def remove(self, ids: Sequence[str]) -> int:
        keys = [self._records, self._ids, self._times]
        with self._errors():
            return sum(
                self._remove(keys=keys, args=[self._buckets, *chunk])
                for chunk in _chunks(storable_ids(ids))
            )

    def prune(self, before: datetime) -> int:
        keys = [self._records, self._ids, self._times]
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
        names = [self._meta, self._next, self._records, self._ids, self._times]
        sampled = range(0, 2**BUCKET_BITS, _BUCKET_SAMPLE)
        with self._errors():
            count, oldest, newest = self._count(keys=[self._records, self._times])
            with self._client.pipeline(transaction=False) as pipe:
                for name in names:
                    pipe.memory_usage(name, samples=1000)
                for number in sampled:
                    pipe.memory_usage(f"{self._buckets}{number}", samples=0)
                used = [size or 0 for size in pipe.execute()]
        return IndexStats(
            stories=count,
            oldest=iso(int(float(oldest))) if oldest else None,
            newest=iso(int(float(newest))) if newest else None,
            bytes=sum(used[: len(names)]) + sum(used[len(names) :]) * _BUCKET_SAMPLE,
        )

    def close(self) -> None:
        self._client.close()

    def __contains__(self, story_id: object) -> bool:
        if not storable_ids([story_id]):
            return False
        with self._errors():
            return bool(self._client.hexists(self._records, story_id))

    def __len__(self) -> int:
        with self._errors():
            return int(self._client.hlen(self._records))
