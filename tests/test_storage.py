"""The storage protocol, on every backend: memory, SQLite (a file in tmp_path) and a real Redis."""

from __future__ import annotations

import json
import multiprocessing
import os
import queue
import re
import sqlite3
import subprocess
import sys
import threading
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path

import pytest
import redis

from dedupe import Detector, Story
from dedupe.storage import IndexStats, Storage, StorageError, UnstorableStory, open_storage
from dedupe.storage.codec import (
    KEY_BITS,
    RECORD_DICTIONARY,
    decode_record,
    encode_record,
    fold_key,
    pack_buckets,
    unpack_buckets,
)
from dedupe.storage.memory import MemoryStorage
from dedupe.storage.redis import RedisStorage
from dedupe.storage.sqlite import SqliteStorage
from tests.conftest import HARBOUR, HARBOUR_TEASER, RAIL, ROOT, edited

pytest_plugins = ["tests.fixtures_redis"]


@pytest.fixture(params=["memory", "sqlite", "redis"])
def spec(request: pytest.FixtureRequest, tmp_path) -> str | None:
    """The ``--index`` value of a new, empty index on each backend."""
    if request.param == "memory":
        return None
    if request.param == "sqlite":
        return str(tmp_path / "index.sqlite")
    return request.getfixturevalue("redis_url")


@pytest.fixture(params=["sqlite", "redis"])
def shared_spec(request: pytest.FixtureRequest, tmp_path) -> str:
    """An index that several processes can open."""
    if request.param == "sqlite":
        return str(tmp_path / "index.sqlite")
    return request.getfixturevalue("redis_url")


@pytest.fixture
def storage(spec: str | None) -> Iterator[Storage]:
    opened = open_storage(spec)
    yield opened
    opened.close()


def story(story_id: str, **fields) -> Story:
    return Story(id=story_id, title=f"Title of {story_id}", body=f"Body of {story_id}.", **fields)


# --- the protocol ----------------------------------------------------------------------------


def test_open_storage_picks_the_backend_from_the_index_value(tmp_path):
    assert isinstance(open_storage(None), MemoryStorage)
    assert isinstance(open_storage(str(tmp_path / "a.sqlite")), SqliteStorage)
    with pytest.raises(StorageError, match="unsupported index"):
        open_storage("postgres://localhost/news")
    with pytest.raises(StorageError, match="empty"):
        open_storage(" ")


def test_open_storage_opens_redis_urls(redis_url):
    assert isinstance(open_storage(redis_url), RedisStorage)


def test_add_gives_sequence_numbers_and_refuses_held_ids(storage):
    assert storage.add(story("a"), [1, 2]) == 1
    assert storage.add(story("b"), [2, 3]) == 2
    assert storage.add(Story(id="a", title="Another", body="Other text."), [9]) is None
    assert len(storage) == 2
    assert "a" in storage and "zz" not in storage and 5 not in storage
    assert storage.get(["a"])[0].body == "Body of a."
    assert storage.lookup([9]) == []


def test_add_many_stores_a_batch_and_refuses_held_and_repeated_ids(storage):
    assert storage.add_many([]) == []
    assert storage.add(story("a"), [1]) == 1
    batch = [(story("b"), [2]), (story("a"), [3]), (story("c"), [4]), (story("b"), [5])]
    assert storage.add_many(batch) == [2, None, 3, None]
    assert storage.lookup([3, 5]) == []
    assert storage.lookup([1, 2, 4]) == ["a", "b", "c"]
    assert len(storage) == 3


def test_lookup_finds_stories_under_any_key_and_only_earlier_ones_with_before(storage):
    storage.add(story("a"), [10, 20])
    storage.add(story("b"), [20, 30])
    storage.add(story("c"), [40])
    assert storage.lookup([20]) == ["a", "b"]
    assert storage.lookup([30, 10, 99, 10]) == ["a", "b"]
    assert storage.lookup([20, 40], before=3) == ["a", "b"]
    assert storage.lookup([20], before=2) == ["a"]
    assert storage.lookup([20], before=1) == []
    assert storage.lookup([]) == []


def test_a_capped_lookup_keeps_the_heaviest_stories_and_ties_go_to_the_latest(storage):
    # Key 100 is a stock phrase, held by all six; 200 is held by s2 alone, 300 by s4 and s5.
    for n, keys in enumerate([[100], [100], [100, 200], [100], [100, 300], [100, 300]]):
        storage.add(story(f"s{n}"), keys)
    draft = [100, 200, 300]
    assert storage.lookup(draft) == ["s0", "s1", "s2", "s3", "s4", "s5"]
    assert storage.lookup(draft, limit=1) == ["s2"]
    assert storage.lookup(draft, limit=3) == ["s2", "s4", "s5"]
    assert storage.lookup(draft, limit=4) == ["s2", "s3", "s4", "s5"]
    assert storage.lookup(draft, limit=6) == storage.lookup(draft)
    # Weighed among the earlier stories only: 100 is held by four of them, 300 by none.
    assert storage.lookup(draft, before=5, limit=2) == ["s2", "s3"]
    assert storage.lookup([300], limit=1) == ["s5"]


def test_keys_cover_the_whole_uint64_range(storage):
    high = [1, 2**63 - 1, 2**63, 2**63 + 5, 2**64 - 1]
    storage.add(story("a"), high)
    storage.add(story("b"), [2**64 - 1, (1 << 44) + 7])
    for key in high[:-1]:
        assert storage.lookup([key]) == ["a"], key
    assert storage.lookup([2**64 - 1]) == ["a", "b"]
    assert storage.lookup([2**63 + 4, (2 << 44) + 7]) == []
    storage.remove(["a"])
    assert storage.lookup(high) == ["b"]
    for bad in (0, -1, 2**64):
        with pytest.raises(ValueError, match="band keys"):
            storage.add(story("c"), [5, bad])
    assert "c" not in storage


def test_keys_sharing_leading_bits_are_told_apart(storage):
    # In Redis both keys fall in one bucket, and the second key's low bytes occur in the
    # bucket's bytes at an offset that is not a posting boundary: only whole postings count.
    bucket = 3 << 44
    storage.add(story("a"), [bucket | 0x000000000BCD])
    assert storage.lookup([bucket | 0x0BCD00000001]) == []
    storage.add(story("b"), [bucket | 0x0BCD00000001])
    assert storage.lookup([bucket | 0x0BCD00000001]) == ["b"]
    assert storage.lookup([bucket | 0x000000000BCD]) == ["a"]


def test_redis_postings_match_only_at_posting_boundaries(redis_url):
    # Postings are 7 bytes (3 of key, 4 of sequence number); the looked-up key's 3 bytes occur
    # in the bucket at offset 2, inside the first posting: that is no match.
    storage = open_storage(redis_url)
    bucket = 3 << 22
    storage.add(story("a"), [bucket | 0x00000B])
    assert storage.lookup([bucket | 0x0B0000]) == []
    storage.add(story("b"), [bucket | 0x0B0000])
    assert storage.lookup([bucket | 0x0B0000]) == ["b"]
    assert storage.lookup([bucket | 0x00000B]) == ["a"]
    storage.remove(["a"])
    assert storage.lookup([bucket | 0x00000B, bucket | 0x0B0000]) == ["b"]


def test_fold_key_keeps_small_keys_and_folds_the_high_bits_in():
    assert [fold_key(k) for k in (1, 2**40 - 1)] == [1, 2**40 - 1]
    assert fold_key(2**63 + 4) != fold_key(2**63 + 5)
    assert fold_key((1 << 44) + 7) != fold_key((2 << 44) + 7)
    assert fold_key((5 << 40) | 9) == 5 ^ 9
    assert all(0 <= fold_key(k) < 2**KEY_BITS for k in (2**64 - 1, 2**63, 2**41 + 3))


def test_bucket_lists_keep_each_bucket_once_in_about_two_bytes():
    numbers = [2**18 - 1, 0, 5, 5, 127, 128, 20_000]
    assert unpack_buckets(pack_buckets(numbers)) == [0, 5, 127, 128, 20_000, 2**18 - 1]
    assert unpack_buckets(b"") == []
    spread = range(0, 2**18, 2**18 // 80)
    assert len(pack_buckets(spread)) == 2 * 80 + 1  # gaps of 3,276: two bytes each
    for damaged in (b"\x80", b"\xff\xff\xff", "text"):
        with pytest.raises(ValueError):
            unpack_buckets(damaged)


def test_persistent_indexes_store_folded_keys_so_a_fold_alike_is_only_a_candidate(shared_spec):
    # 5 and (12 << 40) | 9 fold alike: the second finds the first's story as a candidate,
    # which the detector's verification refuses like any other candidate that is no copy.
    storage = open_storage(shared_spec)
    storage.add(story("a"), [5])
    assert storage.lookup([(12 << 40) | 9]) == ["a"]
    assert storage.lookup([6, (12 << 40) | 8]) == []
    detector = Detector(index=shared_spec)
    detector.add(HARBOUR)
    assert not detector.check(RAIL).is_duplicate


def test_get_round_trips_every_field_in_the_order_asked(storage):
    full = Story(
        id="ünï-1",
        title="Порт Валдоры удвоит мощность — «τέλος» 🚢",
        body="Первый абзац.\n\nالفقرة الثانية. 第三段。",
        url="https://example.org/a?b=1",
        source="Wire",
        published="2025-03-04T09:00:00+01:00",
        language="ru",
        extra={"tags": ["порт", "ships"], "score": 1.5, "nested": {"none": None}, "title": "x"},
    )
    storage.add(full, [7])
    storage.add(story("b"), [8])
    got = storage.get(["b", "missing", "ünï-1", "b"])
    assert [s.id for s in got] == ["b", "ünï-1", "b"]
    assert got[1] == full and got[1].extra == full.extra
    assert got[1].to_dict() == full.to_dict()
    assert storage.get([]) == []


def test_remove_forgets_stories_and_their_keys(storage):
    storage.add(story("a"), [1, 2])
    storage.add(story("b"), [2, 3])
    assert storage.remove(["a", "missing", "a"]) == 1
    assert storage.lookup([1, 2, 3]) == ["b"]
    assert "a" not in storage and len(storage) == 1 and storage.get(["a"]) == []
    assert storage.add(story("a"), [1]) == 3  # a sequence number is never given twice
    assert storage.lookup([1]) == ["a"]
    assert storage.remove([]) == 0


def test_prune_goes_by_publication_else_by_arrival(storage):
    storage.add(story("old", published="2020-01-01T00:00:00Z"), [1])
    storage.add(story("mid", published="2024-06-01T12:00:00+02:00"), [2])
    storage.add(story("naive", published="2024-06-02T00:00:00"), [3])
    storage.add(story("undated"), [4])
    assert storage.prune(datetime(2024, 6, 1, 10, 30, tzinfo=UTC)) == 2
    assert storage.prune(datetime(2024, 6, 2)) == 0  # naive is UTC; "before" is strict
    assert storage.prune(datetime(2024, 6, 2, 0, 0, 1)) == 1
    assert storage.lookup([1, 2, 3, 4]) == ["undated"]
    assert storage.prune(datetime(2000, 1, 1, tzinfo=UTC)) == 0
    assert storage.prune(datetime.now(UTC).replace(year=2100)) == 1
    assert len(storage) == 0


def test_removing_every_story_leaves_no_posting_behind(shared_spec):
    storage = open_storage(shared_spec)
    # Two keys of one story in one bucket, and buckets shared between stories.
    storage.add_many([(story(f"s{n}"), [n + 1, n + 2, (n + 1) << 30]) for n in range(50)])
    assert storage.remove([f"s{n}" for n in range(0, 50, 2)]) == 25
    assert storage.lookup([2]) == ["s1"] and storage.lookup([3]) == ["s1"]
    assert storage.prune(datetime.now(UTC) + timedelta(days=1)) == 25
    if shared_spec.endswith(".sqlite"):
        with sqlite3.connect(shared_spec) as connection:
            assert connection.execute("SELECT count(*) FROM buckets").fetchone() == (0,)
    else:
        prefix = shared_spec.split("prefix=")[1]
        client = redis.Redis.from_url(shared_spec.split("?")[0])
        assert client.keys(f"{prefix}:b:*") == []


def test_redis_buckets_take_the_memory_of_their_postings(redis_url):
    # APPEND kept as much room again spare: 300 postings of 7 bytes took 4,144 bytes; the
    # allocator rounds 2,100 up to 2,560.
    storage = open_storage(redis_url)
    for n in range(0, 300, 30):
        storage.add_many([(story(f"s{n + k}"), [n + k + 1]) for k in range(30)])
    prefix = redis_url.split("prefix=")[1]
    client = redis.Redis.from_url(redis_url.split("?")[0])
    assert client.strlen(f"{prefix}:b:0") == 300 * 7
    assert client.memory_usage(f"{prefix}:b:0", samples=0) < 300 * 7 * 1.5


def test_records_are_compressed_against_the_dictionary_of_this_schema():
    # Records written with one dictionary cannot be read with another: a change to it is a new
    # schema version of both backends (and a new checksum here).
    assert zlib.adler32(RECORD_DICTIONARY) == 2567433862
    stored = encode_record(HARBOUR)
    assert len(stored) < len(zlib.compress(json.dumps(HARBOUR.to_dict()).encode()))
    assert decode_record("harbour", stored, "index") == HARBOUR
    with pytest.raises(StorageError, match="it is unreadable: it is cut short"):
        decode_record("harbour", stored[:-8], "index")


def test_remove_and_prune_many_stories_in_steps(storage):
    old = [
        (story(f"old-{n}", published="2020-01-01T00:00:00Z"), [n + 1, 5000]) for n in range(1300)
    ]
    assert storage.add_many(old) == list(range(1, 1301))
    storage.add(story("new", published="2025-01-01T00:00:00Z"), [5000])
    assert storage.remove([f"old-{n}" for n in range(600)]) == 600
    assert storage.prune(datetime(2021, 1, 1)) == 700
    assert len(storage) == 1 and storage.lookup([5000]) == ["new"]
    assert storage.lookup(list(range(1, 1301))) == []


def test_stats_count_stories_and_give_the_oldest_and_newest(storage):
    empty = storage.stats()
    assert (empty.stories, empty.oldest, empty.newest) == (0, None, None)
    storage.add(story("a", published="2021-05-06T09:08:09+02:00"), [1, 2])
    storage.add(story("b", published="2020-01-01T00:00:00Z"), [3])
    storage.add(story("c", published="2020-07-01T00:00:00Z"), [4])
    stats = storage.stats()
    assert stats == IndexStats(3, "2020-01-01T00:00:00Z", "2021-05-06T07:08:09Z", stats.bytes)
    assert stats.bytes > 0


# --- the detector on each backend ------------------------------------------------------------

STREAM = [
    HARBOUR,
    RAIL,
    edited(HARBOUR, "harbour-copy", {"welcomed": "praised", "Tuesday": "Wednesday"}),
    HARBOUR_TEASER,
    edited(RAIL, "rail-rewrite", {"Monday": "Sunday", "cabins": "compartments"}),
    HARBOUR,
    Story(id="weather", title="Storm warning for the coast", body="Gales of 90 km/h are due."),
]


def test_detector_verdicts_are_the_same_on_every_backend(spec):
    reference = Detector()
    expected = [reference.add(s).to_dict() for s in STREAM]
    detector = Detector(index=spec)
    assert [detector.add(s).to_dict() for s in STREAM] == expected
    draft = edited(HARBOUR, "draft", {"Nordline": "Sealink"})
    assert detector.check(draft).to_dict() == reference.check(draft).to_dict()
    assert len(detector.index_.storage) == len(reference.index_.storage) == 6
    assert any(m["relation"] == "teaser" for v in expected for m in v["matches"])


def test_a_story_added_twice_is_a_duplicate_and_stored_once(spec):
    detector = Detector(index=spec)
    assert not detector.add(HARBOUR).is_duplicate
    again = detector.add(HARBOUR)
    assert again.is_duplicate and again.matches[0].story_id == "harbour"
    assert detector.add_many([HARBOUR, RAIL]) == 1
    assert len(detector.index_.storage) == 2


def test_an_index_reopens_and_continues(shared_spec):
    first = Detector(index=shared_spec)
    first.add(HARBOUR)
    first.add(RAIL)
    first.index_.storage.close()

    second = Detector(index=shared_spec)
    assert len(second.index_.storage) == 2
    assert second.add(STREAM[2]).matches[0].story_id == "harbour"
    assert second.add(HARBOUR).is_duplicate
    assert second.index_.storage.add(story("next"), [1]) == 4
    assert second.index_.storage.stats().stories == 4


# --- many writers at once --------------------------------------------------------------------

COPIES = [Story(id=f"copy-{n}", title=HARBOUR.title, body=HARBOUR.body) for n in range(4)]


def _add_at_once(spec: str, number: int, start: Barrier, verdicts: Queue) -> None:
    detector = Detector(index=spec)
    _ = detector.index_  # open (and for a new SQLite file, create) before the race
    start.wait(timeout=30)
    for offered in (COPIES[number], RAIL):
        verdicts.put((offered.id, detector.add(offered).is_duplicate))


def test_adds_from_four_processes_give_exactly_one_new_copy(shared_spec):
    context = multiprocessing.get_context("fork")
    start, verdicts = context.Barrier(4), context.Queue()
    workers = [
        context.Process(target=_add_at_once, args=(shared_spec, n, start, verdicts))
        for n in range(4)
    ]
    for worker in workers:
        worker.start()
    results = [verdicts.get(timeout=60) for _ in range(8)]
    for worker in workers:
        worker.join(timeout=30)
        assert worker.exitcode == 0
    copies = [duplicate for story_id, duplicate in results if story_id.startswith("copy-")]
    rails = [duplicate for story_id, duplicate in results if story_id == "rail"]
    assert sorted(copies) == [False, True, True, True]
    assert sorted(rails) == [False, True, True, True]
    assert len(open_storage(shared_spec)) == 5


def test_adds_from_many_threads_give_exactly_one_new_copy(shared_spec):
    detector = Detector(index=shared_spec)
    copies = [Story(id=f"copy-{n}", title=RAIL.title, body=RAIL.body) for n in range(8)]
    verdicts: list[bool] = []
    threads = [
        threading.Thread(target=lambda s=s: verdicts.append(detector.add(s).is_duplicate))
        for s in copies
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(verdicts) == [False] + [True] * 7
    assert len(detector.index_.storage) == 8


def test_sqlite_closes_the_connections_of_threads_that_ended(tmp_path):
    storage = SqliteStorage(tmp_path / "index.sqlite")
    for _ in range(10):
        thread = threading.Thread(target=len, args=(storage,))
        thread.start()
        thread.join()
    assert len(storage) == 0
    assert len(storage._connections) <= 2  # this thread's and the last one's


# --- opening without creating ----------------------------------------------------------------


def test_a_missing_sqlite_index_is_refused_without_create_and_no_file_is_made(tmp_path):
    with pytest.raises(StorageError, match=r"no index at .*publshed\.sqlite \(index add creates"):
        open_storage(str(tmp_path / "publshed.sqlite"), create=False)
    empty = tmp_path / "empty.sqlite"
    empty.touch()
    with pytest.raises(StorageError, match="empty.sqlite is empty, not an index"):
        open_storage(str(empty), create=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.sqlite"]
    assert empty.stat().st_size == 0
    open_storage(str(tmp_path / "made.sqlite")).close()
    open_storage(str(tmp_path / "made.sqlite"), create=False).close()


def test_a_missing_redis_index_is_refused_without_create_and_no_key_is_written(redis_url):
    client = redis.Redis.from_url(redis_url.split("?")[0])
    prefix = redis_url.split("prefix=")[1]
    with pytest.raises(StorageError, match=f"no index at Redis .* under prefix '{prefix}'"):
        open_storage(redis_url, create=False)
    assert client.keys(f"{prefix}:*") == []
    open_storage(redis_url).close()
    open_storage(redis_url, create=False).close()


def test_a_detector_creates_its_index_unless_told_not_to(tmp_path):
    missing = str(tmp_path / "missing.sqlite")
    reader = Detector(index=missing, create_index=False)
    with pytest.raises(StorageError, match="no index at"):
        reader.check(HARBOUR)
    assert not (tmp_path / "missing.sqlite").exists()
    assert not Detector(index=missing).add(HARBOUR).is_duplicate
    assert reader.check(HARBOUR).is_duplicate


# --- the first use, from many threads at once ------------------------------------------------

# Run in a fresh interpreter: there the first use also imports the storage module, which lets
# the other threads in while the index is being opened (8 threads got 2 to 8 "new" verdicts
# for one story, each from an index of its own).
FIRST_USE = """
import json, sys, threading
from dedupe import Detector, Story
detector = Detector(index=sys.argv[1] if len(sys.argv) > 1 else None)
body = "Night trains will run again between Valdora and the capital from December, the railway said."
start, verdicts = threading.Barrier(8), []
def offer(n):
    start.wait(timeout=30)
    verdicts.append(detector.add(Story(id="shared", title="Night trains return", body=body)))
    detector.add(Story(id=f"own-{n}", title=f"Council notice {n}", body=f"Notice number {n}."))
threads = [threading.Thread(target=offer, args=(n,)) for n in range(8)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
storage = detector.index_.storage
print(json.dumps({"new": sum(not v.is_duplicate for v in verdicts), "held": len(storage),
                  "own": len(storage.get([f"own-{n}" for n in range(8)]))}))
"""


@pytest.mark.parametrize("backend", ["memory", "sqlite"])
def test_a_fresh_detector_used_by_many_threads_at_once_keeps_every_story(backend, tmp_path):
    index = [] if backend == "memory" else [str(tmp_path / "new.sqlite")]
    result = subprocess.run(
        [sys.executable, "-c", FIRST_USE, *index],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"new": 1, "held": 9, "own": 8}


def _open_new(path: str, start: Barrier, errors: Queue) -> None:
    start.wait(timeout=30)
    try:
        opened = SqliteStorage(Path(path))
        opened.add(story(f"by-{os.getpid()}-{threading.get_ident()}"), [1])
        opened.close()
        errors.put(None)
    except StorageError as error:
        errors.put(str(error))


@pytest.mark.parametrize("context", ["thread", "process"])
def test_many_openers_of_a_new_sqlite_file_at_once_all_open_one_index(context, tmp_path):
    # Before: now and then one of them got "database is locked" while another made the file.
    for round_ in range(15 if context == "thread" else 5):
        path = str(tmp_path / f"new-{round_}.sqlite")
        if context == "thread":
            start, errors = threading.Barrier(8), queue.Queue()
            workers = [
                threading.Thread(target=_open_new, args=(path, start, errors)) for _ in range(8)
            ]
        else:
            fork = multiprocessing.get_context("fork")
            start, errors = fork.Barrier(4), fork.Queue()
            workers = [fork.Process(target=_open_new, args=(path, start, errors)) for _ in range(4)]
        for worker in workers:
            worker.start()
        failures = [errors.get(timeout=60) for _ in workers]
        for worker in workers:
            worker.join()
        assert failures == [None] * len(workers)
        assert len(open_storage(path, create=False).lookup([1])) == len(workers)


# --- damaged records -------------------------------------------------------------------------


def _overwrite(spec: str, story_id: str, column: str, value: bytes | str) -> None:
    """Write a stored story's record or bucket list directly, as a damaged index might hold
    it. In Redis both are parts of one entry: a record is written after the entry's sequence
    number and bucket list, a bucket list over the whole entry."""
    if spec.endswith(".sqlite"):
        with sqlite3.connect(spec) as connection:
            connection.execute(f"UPDATE stories SET {column} = ? WHERE id = ?", (value, story_id))
        return
    prefix = spec.split("prefix=")[1]
    client = redis.Redis.from_url(spec.split("?")[0])
    if column == "record":
        entry = client.hget(f"{prefix}:rec", story_id)
        head = entry[: 8 + int.from_bytes(entry[4:8], "big")]
        value = head + (value if isinstance(value, bytes) else value.encode())
    client.hset(f"{prefix}:rec", story_id, value)


def _packed(record: object) -> bytes:
    return zlib.compress(json.dumps(record).encode())


@pytest.mark.parametrize(
    ("record", "problem"),
    [
        (_packed({"title": 5, "body": "x"}), "its title is a number, not text"),
        (_packed({"title": "t", "body": "x", "url": ["a"]}), "its url is a list, not text"),
        (_packed({"title": "t", "extra": [1, 2]}), "its extra fields are a list, not an object"),
        (_packed({"title": "t", "keys": [1, 2]}), "it has fields no story has: 'keys'"),
        (_packed(["t", "x"]), "it is a list, not an object"),
        (b"not zlib at all", "it is unreadable"),
        ("text, not bytes", "it is unreadable"),
    ],
    ids=["title", "url", "extra", "unknown", "list", "not-zlib", "text"],
)
def test_a_damaged_record_is_left_out_of_checks_and_reported_once(
    shared_spec, record, problem, caplog
):
    detector = Detector(index=shared_spec)
    detector.add(HARBOUR)
    detector.add(Story(id="harbour-again", title=HARBOUR.title, body=HARBOUR.body))
    detector.add(RAIL)
    _overwrite(shared_spec, "harbour", "record", record)
    draft = edited(HARBOUR, "draft", {"welcomed": "praised"})
    for _ in range(2):
        assert [m.story_id for m in detector.check(draft).matches] == ["harbour-again"]
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1
    assert "holds a damaged record for story 'harbour': " + problem in warnings[0]
    where = shared_spec if shared_spec.endswith(".sqlite") else shared_spec.split("prefix=")[1]
    assert where in warnings[0]
    assert detector.remove(["harbour"]) == 1
    detector.add(HARBOUR)
    assert detector.index_.storage.get(["harbour"]) == [HARBOUR]


def test_decoding_a_damaged_record_names_the_index_and_the_story():
    with pytest.raises(StorageError) as damaged:
        decode_record("s1", _packed({"title": 5}), "news.sqlite")
    assert str(damaged.value) == (
        "index news.sqlite holds a damaged record for story 's1': its title is a number, not text"
    )


@pytest.mark.parametrize(
    "buckets", [b"\x00\x00", b"\x00\x00\x00\x01\x82", "[1, 2, 3]"], ids=["short", "cut", "text"]
)
def test_a_story_with_a_damaged_bucket_list_can_still_be_removed_and_pruned(shared_spec, buckets):
    storage = open_storage(shared_spec)
    storage.add_many(
        [(story(f"s{n}", published="2020-01-01T00:00:00Z"), [n + 1]) for n in range(4)]
    )
    _overwrite(shared_spec, "s0", "buckets", buckets)
    _overwrite(shared_spec, "s1", "buckets", buckets)
    assert storage.remove(["s0"]) == 1
    assert storage.prune(datetime(2021, 1, 1)) == 3
    assert len(storage) == 0 and storage.lookup([1, 2, 3, 4]) == []


# --- stories that cannot be stored -----------------------------------------------------------

POISON = Story(id="s\udc80", title="Lone surrogate", body="Its id cannot be written as UTF-8.")


@pytest.mark.parametrize(
    ("bad", "problem"),
    [
        (POISON, r"its id is not valid Unicode \(a lone surrogate, '\\udc80', at 1\)"),
        (Story(id="t", title="A\ud800", body="x"), "its title is not valid Unicode"),
        (Story(id="e", body="x", extra={"k": "\udcff"}), "its extra fields hold text that is not"),
        (
            Story(id="j", body="x", extra={"k": {1, 2}}),
            "its extra fields cannot be written as JSON",
        ),
    ],
    ids=["id", "title", "extra", "extra-json"],
)
def test_a_story_that_cannot_be_stored_refuses_the_call_naming_it(storage, bad, problem):
    with pytest.raises(
        UnstorableStory, match=f"story {re.escape(repr(bad.id))} cannot be stored: {problem}"
    ):
        storage.add_many([(story("good"), [1]), (bad, [2])])
    assert len(storage) == 0 and storage.lookup([1, 2]) == []
    assert issubclass(UnstorableStory, ValueError) and issubclass(UnstorableStory, StorageError)


def test_an_id_that_cannot_be_stored_is_simply_not_held(storage):
    # As from `dedupe index remove` given an argument of undecodable bytes.
    storage.add(story("good"), [1])
    assert POISON.id not in storage
    assert [s.id for s in storage.get([POISON.id, "good"])] == ["good"]
    assert storage.remove([POISON.id, "good"]) == 1


def test_one_poisonous_story_costs_a_bulk_load_nothing_else(spec):
    stories = [
        Story(id=f"n{n}", title=f"Council notice {n}", body=f"Road {n} closes for repairs.")
        for n in range(1000)
    ]
    stories[500] = POISON
    detector = Detector(index=spec)
    refused: list[UnstorableStory] = []
    assert detector.add_many(stories, errors=refused) == 999
    assert len(detector.index_.storage) == 999
    assert [str(e) for e in refused] == [
        "story 's\\udc80' cannot be stored: its id is not valid Unicode "
        "(a lone surrogate, '\\udc80', at 1)"
    ]
    # Without a list for them, the first is raised once the rest of its batch is stored.
    again = Detector(index=None)
    with pytest.raises(UnstorableStory, match=r"'s\\udc80'"):
        again.add_many(stories)
    assert len(again.index_.storage) == 999
    with pytest.raises(UnstorableStory, match=r"'s\\udc80'"):
        detector.add(POISON)
    assert POISON.id not in detector.index_.storage
