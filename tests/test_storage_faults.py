"""What the persistent indexes do when things go wrong: a writer killed mid-batch, a Redis
restart or outage, a Redis that evicts, forgets or is full, and files or keys that are not a
dedupe index."""

from __future__ import annotations

import itertools
import multiprocessing
import os
import random
import signal
import sqlite3
import threading
import time
from datetime import UTC, datetime, timedelta
from multiprocessing.sharedctypes import Synchronized

import pytest
import redis

from dedupe import Detector, Story
from dedupe.storage import StorageError, open_storage
from dedupe.storage.redis import RedisStorage
from tests.conftest import HARBOUR, HARBOUR_TEASER, RAIL, edited
from tests.fixtures_redis import RedisServer

pytest_plugins = ["tests.fixtures_redis"]

BATCH = 200
WORDS = "port council berth crane channel tide ships audit seagrass railway cabin night".split()


def _bulk_item(batch: int, number: int) -> tuple[Story, list[int]]:
    rng = random.Random(batch * 10_000 + number)
    body = " ".join(rng.choice(WORDS) for _ in range(400))
    keys = [rng.getrandbits(64) | 1 for _ in range(96)]
    return Story(id=f"bulk-{batch}-{number}", title=f"Bulk {batch} {number}", body=body), keys


def _bulk_writer(spec: str, first: int, committed: Synchronized) -> None:
    storage = open_storage(spec)
    for batch in itertools.count(first):
        storage.add_many([_bulk_item(batch, n) for n in range(BATCH)])
        committed.value = batch


@pytest.fixture(params=["sqlite", "redis"])
def shared_spec(request: pytest.FixtureRequest, tmp_path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "index.sqlite")
    return request.getfixturevalue("redis_url")


def test_a_writer_killed_mid_bulk_add_leaves_every_committed_story(shared_spec):
    context = multiprocessing.get_context("fork")
    committed_batches: list[int] = []
    first = 0
    # Killed at several points of a batch: making it, encoding it, inside the transaction.
    for delay in (0.0, 0.02, 0.035, 0.05):
        committed = context.Value("i", -1)
        writer = context.Process(target=_bulk_writer, args=(shared_spec, first, committed))
        writer.start()
        deadline = time.monotonic() + 60
        while committed.value < first + 1 and time.monotonic() < deadline:
            time.sleep(0.001)
        time.sleep(delay)
        os.kill(writer.pid, signal.SIGKILL)
        writer.join()
        last = committed.value
        assert last >= first + 1
        committed_batches.extend(range(first, last + 1))
        in_flight = [last + 1, last + 2]
        first = last + 3

        storage = open_storage(shared_spec)
        for batch in committed_batches:
            ids = [f"bulk-{batch}-{n}" for n in range(BATCH)]
            assert len(storage.get(ids)) == BATCH
        # SQLite commits a batch at once; Redis each story at once. Either way a story that
        # is there has every one of its keys.
        for batch in in_flight:
            held = [_bulk_item(batch, n) for n in range(BATCH)]
            there = [(story, keys) for story, keys in held if story.id in storage]
            if shared_spec.endswith(".sqlite"):
                assert len(there) in (0, BATCH)
            for story, keys in there:
                assert storage.lookup([keys[0]]) == storage.lookup([keys[-1]]) == [story.id]
        storage.close()

    storage = open_storage(shared_spec)
    assert len(storage) >= len(committed_batches) * BATCH
    if shared_spec.endswith(".sqlite"):
        with sqlite3.connect(shared_spec) as connection:
            assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert storage.add(Story(id="after", body="After the crash."), [5]) is not None
    assert storage.lookup([5]) == ["after"]


# --- Redis: restart and outage ---------------------------------------------------------------


def test_a_redis_restart_keeps_committed_stories_and_the_stream_goes_on(own_redis_server):
    detector = Detector(index=own_redis_server.url("news"))
    assert not detector.add(HARBOUR).is_duplicate
    assert not detector.add(RAIL).is_duplicate
    own_redis_server.restart()
    copy = edited(HARBOUR, "harbour-copy", {"welcomed": "praised"})
    assert detector.add(copy).matches[0].story_id == "harbour"
    assert detector.add(HARBOUR_TEASER).matches[0].story_id == "harbour"
    assert len(detector.index_.storage) == 4
    assert detector.index_.storage.add(Story(id="next", body="x"), [1]) == 5


def test_a_redis_outage_is_retried_then_reported_naming_the_server(own_redis_server):
    storage = RedisStorage(own_redis_server.url("news"), retries=2)
    storage.add(Story(id="a", body="x"), [1])
    own_redis_server.stop()
    where = f"127.0.0.1:{own_redis_server.port}"
    with pytest.raises(StorageError, match=f"cannot reach the Redis index at {where}"):
        storage.add(Story(id="b", body="y"), [2])
    with pytest.raises(StorageError, match=where):
        RedisStorage(own_redis_server.url("news"), retries=1)


def test_a_retried_redis_add_returns_its_first_answer(redis_url):
    # redis-py sends a script call again when its reply was lost; the stories that the first
    # attempt stored must not then be called held.
    storage = RedisStorage(redis_url)
    storage.add(Story(id="a", body="x"), [1])
    script, sent = storage._add, []

    def spy(keys: list, args: list) -> list:
        sent.append((keys, args))
        return script(keys=keys, args=args)

    storage._add = spy
    assert storage.add_many([(Story(id="b", body="y"), [2]), (Story(id="a", body="x"), [1])]) == [
        2,
        None,
    ]
    keys, args = sent[0]
    assert script(keys=keys, args=args) == [2, None]
    assert len(storage) == 2 and storage.lookup([2]) == ["b"]


# --- not a dedupe index ----------------------------------------------------------------------


def test_sqlite_refuses_what_is_not_a_dedupe_index(tmp_path):
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(random.Random(1).randbytes(8192))
    with pytest.raises(StorageError, match="not a dedupe index"):
        open_storage(str(garbage))

    other = tmp_path / "other-app.db"
    with sqlite3.connect(other) as connection:
        connection.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")
    before = other.read_bytes()
    with pytest.raises(StorageError, match="another application"):
        open_storage(str(other))
    assert other.read_bytes() == before and not (tmp_path / "other-app.db-wal").exists()

    newer = tmp_path / "newer.sqlite"
    open_storage(str(newer)).close()
    with sqlite3.connect(newer) as connection:
        connection.execute("PRAGMA user_version = 99")
    with pytest.raises(StorageError, match="schema version 99") as refused:
        open_storage(str(newer))
    assert "rebuild" not in str(refused.value)

    older = tmp_path / "older.sqlite"
    open_storage(str(older)).close()
    with sqlite3.connect(older) as connection:
        connection.execute("PRAGMA user_version = 3")  # a row per band key
    with pytest.raises(StorageError, match=r"schema version 3; .* reads version 4: rebuild"):
        open_storage(str(older))

    with pytest.raises(StorageError, match="does not exist"):
        open_storage(str(tmp_path / "missing" / "index.sqlite"))
    with pytest.raises(StorageError, match="is a folder"):
        open_storage(str(tmp_path))


def test_sqlite_never_takes_over_an_empty_database_of_another_program(tmp_path):
    # Only its user_version set, no table: not blank, and not ours.
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as connection:
        connection.execute("PRAGMA user_version = 7")
    before = other.read_bytes()
    for create in (True, False):
        with pytest.raises(StorageError, match="another application, not a dedupe index"):
            open_storage(str(other), create=create)
    assert other.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.db"]
    # A zero-byte file is new, for a command that creates.
    blank = tmp_path / "blank.sqlite"
    blank.touch()
    open_storage(str(blank)).add(Story(id="a", body="x"), [1])
    assert open_storage(str(blank), create=False).lookup([1]) == ["a"]


def test_redis_refuses_keys_that_are_not_a_dedupe_index(redis_server: RedisServer):
    client = redis.Redis(port=redis_server.port)
    client.set("other-app:rec", "not ours")
    with pytest.raises(StorageError, match="not a dedupe index"):
        open_storage(redis_server.url("other-app"))
    client.set("odd:meta", "a string")
    with pytest.raises(StorageError, match="not a dedupe index"):
        open_storage(redis_server.url("odd"))
    open_storage(redis_server.url("newer")).close()
    client.hset("newer:meta", "schema", 99)
    with pytest.raises(StorageError, match="schema version 99"):
        open_storage(redis_server.url("newer"))
    open_storage(redis_server.url("older")).close()
    client.hset("older:meta", "schema", 3)  # a hash of each story's keys, APPEND's buckets
    with pytest.raises(StorageError, match=r"schema version 3; .* reads version 4: rebuild"):
        open_storage(redis_server.url("older"))
    with pytest.raises(StorageError, match="prefix"):
        open_storage(redis_server.url("a:b"))


# --- the SQLite write-ahead log --------------------------------------------------------------


def _wal_size_after_busy_adds(path, monkeypatch) -> int:
    from dedupe.storage import sqlite as sqlite_storage

    monkeypatch.setattr(sqlite_storage, "WAL_LIMIT", 2**20)
    writer = open_storage(str(path))
    reader = open_storage(str(path))
    done = threading.Event()

    def read() -> None:  # a reader is always in the WAL, as when crawlers check and add at once
        while not done.is_set():
            reader.lookup([5, 7, 11])

    readers = [threading.Thread(target=read) for _ in range(2)]
    for thread in readers:
        thread.start()
    try:
        for batch in range(30):
            writer.add_many([_bulk_item(batch, n) for n in range(50)])
    finally:
        done.set()
        for thread in readers:
            thread.join()
    return (path.parent / (path.name + "-wal")).stat().st_size


def test_sqlite_wal_starts_over_while_readers_never_pause(tmp_path, monkeypatch):
    size = _wal_size_after_busy_adds(tmp_path / "index.sqlite", monkeypatch)
    # A batch writes well under 2 MB; without the forced checkpoint the WAL held all 30.
    assert size < 4 * 2**20, size


# --- Redis that forgets or fills up ----------------------------------------------------------


def _prefix_keys(server: RedisServer, prefix: str) -> list[bytes]:
    return sorted(redis.Redis(port=server.port).keys(f"{prefix}:*"))


def test_an_evicting_redis_is_refused_and_told_how_to_fix_it(start_redis_server):
    server = start_redis_server("--maxmemory-policy", "allkeys-lru", "--maxmemory", "100mb")
    with pytest.raises(StorageError) as refused:
        open_storage(server.url("news"))
    assert "evicts keys when full (maxmemory-policy allkeys-lru)" in str(refused.value)
    assert "CONFIG SET maxmemory-policy noeviction" in str(refused.value)
    assert _prefix_keys(server, "news") == []


def test_the_eviction_policy_is_read_from_info_where_config_is_disabled(start_redis_server):
    server = start_redis_server(
        "--maxmemory-policy", "allkeys-lfu", "--maxmemory", "100mb", "--rename-command", "CONFIG", ""
    )  # fmt: skip
    with pytest.raises(StorageError, match=r"maxmemory-policy allkeys-lfu"):
        open_storage(server.url("news"))


def test_policies_that_cannot_evict_the_index_are_accepted(start_redis_server, caplog):
    # volatile-* evict only keys with a time to live, and the index's data has none.
    volatile = start_redis_server("--maxmemory-policy", "volatile-lru", "--maxmemory", "100mb")
    open_storage(volatile.url("news")).close()
    assert caplog.records == []
    # Without maxmemory nothing is evicted; the policy is wrong only once a limit is set.
    unlimited = start_redis_server("--maxmemory-policy", "allkeys-lru")
    open_storage(unlimited.url("news")).close()
    assert "allkeys-lru" in caplog.text and "once a limit is set" in caplog.text


def test_a_redis_that_persists_nothing_is_warned_about(start_redis_server, redis_url, caplog):
    open_storage(redis_url).close()  # the session's server keeps an append-only file
    assert "persists nothing" not in caplog.text
    server = start_redis_server("--appendonly", "no")
    open_storage(server.url("news")).close()
    assert f"Redis at 127.0.0.1:{server.port}/0 persists nothing" in caplog.text


def test_a_restart_without_persistence_is_noticed_not_written_over(start_redis_server):
    # Before: adds went on into an index without metadata, and later opens called it foreign.
    server = start_redis_server("--appendonly", "no")
    detector = Detector(index=server.url("news"))
    detector.add(HARBOUR)
    detector.add(RAIL)
    server.restart()
    gone = "the metadata of the index under prefix 'news' is gone: the server lost data"
    with pytest.raises(StorageError, match=gone):
        detector.add(HARBOUR_TEASER)
    with pytest.raises(StorageError, match=gone):
        detector.check(HARBOUR_TEASER)
    assert _prefix_keys(server, "news") == []


def test_an_index_whose_metadata_vanished_is_reported_as_lost_data(redis_server, redis_url):
    prefix = redis_url.split("prefix=")[1]
    storage = open_storage(redis_url)
    storage.add_many([(Story(id=f"s{n}", body=f"Story {n}."), [n + 1]) for n in range(3)])
    client = redis.Redis(port=redis_server.port)
    client.delete(f"{prefix}:meta")  # as an eviction would: it is the least recently used
    left = [k for k in _prefix_keys(redis_server, prefix) if b":try:" not in k]
    lost = f"is gone but {len(left)} keys with its prefix remain: the server lost data"
    for create in (True, False):
        with pytest.raises(StorageError, match=lost):
            open_storage(redis_url, create=create)
    with pytest.raises(StorageError, match=lost):
        storage.add(Story(id="late", body="Late."), [9])
    with pytest.raises(StorageError, match=lost):
        storage.lookup([1])
    assert "late" not in storage


def test_an_index_that_lost_some_of_its_parts_is_refused(redis_server, redis_url):
    prefix = redis_url.split("prefix=")[1]
    storage = open_storage(redis_url)
    storage.add_many([(Story(id=f"s{n}", body=f"Story {n}."), [n + 1]) for n in range(3)])
    client = redis.Redis(port=redis_server.port)
    client.delete(f"{prefix}:rec")
    damaged = r"is damaged: it holds 0 records, 3 ids and 3 times: the server lost"
    with pytest.raises(StorageError, match=damaged):
        open_storage(redis_url, create=False)
    client.delete(f"{prefix}:ids", f"{prefix}:time")
    with pytest.raises(StorageError, match="it holds no story but band-key buckets remain"):
        open_storage(redis_url)
    storage.remove(["s0", "s1", "s2"])  # an index emptied by removal is whole
    client.delete(*[k for k in _prefix_keys(redis_server, prefix) if b":b:" in k])
    open_storage(redis_url, create=False).close()


def _crowded_item(number: int) -> tuple[Story, list[int]]:
    """A story whose band keys fall in 1,024 buckets: every bucket holds many postings, so
    forgetting a story rewrites its buckets (with SET) rather than deleting them."""
    rng = random.Random(number)
    body = " ".join(f"{rng.choice(WORDS)}{rng.randrange(10_000)}" for _ in range(300))
    keys = [(rng.randrange(1024) << 22) | rng.getrandbits(22) | 1 for _ in range(96)]
    return Story(id=f"full-{number}", title=f"Story {number}", body=body), keys


def _fill(storage, first: int) -> list[str]:
    """Add stories until the server is full, at last one by one: a refused call of 50 stories
    may leave room for a smaller one, and the server must be full for a small call too. The
    ids stored."""
    stored: list[str] = []
    number, size = first, 50
    while size:
        items = [_crowded_item(number + n) for n in range(size)]
        try:
            storage.add_many(items)
        except StorageError as error:
            assert "is full (maxmemory reached)" in str(error) and "index prune" in str(error)
            size //= 50
            continue
        stored.extend(story.id for story, _ in items)
        number += size
        assert len(stored) < 20_000, "the server never filled up"
    return stored


def test_a_full_redis_refuses_adds_clearly_and_still_removes_prunes_and_counts(start_redis_server):
    server = start_redis_server("--maxmemory", "4mb", "--maxmemory-policy", "noeviction")
    storage = open_storage(server.url("news"))
    stored = _fill(storage, 0)
    assert len(stored) > 100
    assert storage.stats().stories == len(stored)
    assert open_storage(server.url("news"), create=False).stats().stories == len(stored)
    assert storage.remove(stored[:20]) == 20
    assert storage.lookup(_crowded_item(0)[1]) == []
    stored = stored[20:] + _fill(storage, 50_000)
    assert storage.prune(datetime.now(UTC) + timedelta(days=1)) == len(stored)
    assert len(storage) == 0 and storage.stats().stories == 0
    assert storage.add(Story(id="after", body="After the prune."), [5]) is not None
