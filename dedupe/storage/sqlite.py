"""The SQLite storage: the embedded default, one file shared by every process on one machine.

Schema (version 4; ``PRAGMA application_id`` marks the file as a dedupe index, ``PRAGMA
user_version`` holds the version)::

    stories(seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE, at INTEGER, buckets BLOB,
            record BLOB)                      -- plus an index on at, for prune and stats
    buckets(bucket INTEGER PRIMARY KEY, postings BLOB)

``record`` is the zlib JSON of the story (``codec.encode_record``), ``at`` its moment in
microseconds (published, else added), ``buckets`` the numbers of the buckets that hold its
postings (``codec.pack_buckets``), so that removing it rewrites those and no others. A bucket's
``postings`` are 7 bytes each (``codec.postings``), in the order the stories were stored: one row
per bucket, not per band key, so that a posting costs its 7 bytes and not a b-tree cell of 16.
Band keys are folded to 40 bits first (``codec.fold_key``: an extra candidate now and then, never
a changed verdict). Older versions are refused with a message to rebuild: version 1 held whole
keys, version 2 the band keys of dedupe 0.1, whose word hashes were others, and version 3 a row
per band key and records compressed without the dictionary. AUTOINCREMENT keeps sequence
numbers from being reused after the newest story is removed.

Concurrency: WAL mode lets readers run beside the one writer; every write is one ``BEGIN
IMMEDIATE`` transaction, which takes the write lock up front (waiting up to ``BUSY_TIMEOUT``)
instead of failing when a reader turns writer. A writer killed mid-transaction leaves nothing:
the uncommitted WAL frames are ignored on the next open.
"""

from __future__ import annotations

import os
import random
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from dedupe.storage import KEY_WEIGHT, IndexStats, StorageError
from dedupe.storage.codec import (
    POSTING_BYTES,
    SUFFIX_BITS,
    SUFFIX_BYTES,
    bucket,
    encode_record,
    folded_keys,
    iso,
    micros,
    pack_buckets,
    postings,
    readable,
    storable_ids,
    story_time,
    unpack_buckets,
)
from dedupe.story import Story

APPLICATION_ID = 0x44445550  # "DDUP"
SCHEMA_VERSION = 4
# A story's row takes about 2 KB: a 4 KB page holds one and wastes the rest, 8 KB pages hold
# three. Measured: 4.9 KB per story with 4 KB pages, 4.1 KB with 8 KB pages.
PAGE_SIZE = 8192
# The WAL is cut back to this after a checkpoint, rather than keep the size of the largest batch;
# and a writer that finds it larger forces a checkpoint that starts it over (``_trim_wal``).
WAL_LIMIT = 64 * 2**20
# Long enough to wait out a bulk batch or a prune step of another process.
BUSY_TIMEOUT = 30.0
# Rows per statement: well under SQLite's limit on bound parameters.
_CHUNK = 500
# Stories per prune transaction, so that writers get the lock between steps of a large prune.
_PRUNE_STEP = 1000

_SCHEMA = (
    """CREATE TABLE stories (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        at INTEGER NOT NULL,
        buckets BLOB NOT NULL,
        record BLOB NOT NULL
    )""",
    "CREATE INDEX stories_at ON stories (at)",
    """CREATE TABLE buckets (
        bucket INTEGER PRIMARY KEY,
        postings BLOB NOT NULL
    )""",
    f"PRAGMA application_id = {APPLICATION_ID}",
    f"PRAGMA user_version = {SCHEMA_VERSION}",
)


def _chunks(items: Sequence, size: int = _CHUNK) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _marks(count: int) -> str:
    return ", ".join("?" * count)


def _entries(posted: object) -> np.ndarray | None:
    """A bucket's postings as rows of ``POSTING_BYTES`` bytes; None for a bucket that is not
    one (written by something else), which is passed over."""
    if not isinstance(posted, bytes) or len(posted) % POSTING_BYTES:
        return None
    return np.frombuffer(posted, dtype=np.uint8).reshape(-1, POSTING_BYTES)


def _sequence_numbers(entries: np.ndarray) -> np.ndarray:
    return entries[:, SUFFIX_BYTES:].copy().view(">u4").ravel().astype(np.int64)


def _ranked(
    held: list[tuple[int, bytes]], folded: np.ndarray, before: int | None, limit: int | None
) -> list[int]:
    """The sequence numbers posted under any of the ``folded`` keys in these buckets (with
    ``before``, only the earlier ones), at most ``limit``, ranked as ``Storage.lookup`` says."""
    parts = [(n, entries) for n, posted in held if (entries := _entries(posted)) is not None]
    if not parts:
        return []
    entries = np.concatenate([e for _, e in parts])
    numbers = np.repeat([n for n, _ in parts], [len(e) for _, e in parts]).astype(np.int64)
    low = entries[:, :SUFFIX_BYTES].astype(np.int64)
    keys = numbers << SUFFIX_BITS | low[:, 0] << 16 | low[:, 1] << 8 | low[:, 2]
    seqs = _sequence_numbers(entries)
    hit = np.isin(keys, folded)
    if before is not None:
        hit &= seqs < before
    keys, seqs = keys[hit], seqs[hit]
    _, key_of, stories = np.unique(keys, return_inverse=True, return_counts=True)
    found, story_of = np.unique(seqs, return_inverse=True)
    if limit is None or len(found) <= limit:
        return found.tolist()
    weights = np.zeros(len(found), dtype=np.int64)
    np.add.at(weights, story_of, KEY_WEIGHT // stories[key_of])
    return found[np.lexsort((-found, -weights))[:limit]].tolist()


class SqliteStorage:
    """An index in one SQLite file; its folder must exist. With ``create``, a missing (or
    zero-byte) file is made into a new index; without it, only an existing index is opened.

    Each thread (and each process after a fork) gets its own connection: a SQLite connection
    must not be shared across a fork, and separate connections let threads read in parallel.
    """

    def __init__(self, path: Path, *, create: bool = True) -> None:
        self.path = path.resolve()
        self._wal = self.path.with_name(self.path.name + "-wal")
        if not self.path.parent.is_dir():
            raise StorageError(
                f"cannot open index {path}: the folder {self.path.parent} does not exist"
            )
        if self.path.is_dir():
            raise StorageError(f"cannot open index {path}: it is a folder")
        if not create and not self.path.exists():
            raise StorageError(f"no index at {path} (index add creates one)")
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._connections: dict[threading.Thread, sqlite3.Connection] = {}
        self._damaged: set[str] = set()
        # SQLite may make the file only while the index is being created: a connection opened
        # later (another thread's) must not make an empty file where the index was deleted.
        self._mode = "rwc" if create else "rw"
        self._prepare(self._connection(), path, create)
        self._mode = "rw"

    # --- connections and transactions -------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        thread = threading.current_thread()
        with self._lock:
            if self._pid != os.getpid():
                # Forked: the parent's connections are its own; never touch them here.
                self._pid, self._connections = os.getpid(), {}
            connection = self._connections.get(thread)
            if connection is None:
                # Connections of threads that have ended go, so they do not pile up.
                for ended in [t for t in self._connections if not t.is_alive()]:
                    self._connections.pop(ended).close()
                with self._errors():
                    connection = sqlite3.connect(
                        f"{self.path.as_uri()}?mode={self._mode}",
                        uri=True,
                        timeout=BUSY_TIMEOUT,
                        isolation_level=None,
                        check_same_thread=False,
                    )
                    # FULL: a committed story survives a power cut, not only a crash.
                    connection.execute("PRAGMA synchronous = FULL")
                    connection.execute(f"PRAGMA journal_size_limit = {WAL_LIMIT}")
                self._connections[thread] = connection
            return connection

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as error:
            reason = getattr(error, "sqlite_errorname", "")
            if reason == "SQLITE_NOTADB":
                message = f"{self.path} is not a dedupe index (not a SQLite database): {error}"
            elif reason == "SQLITE_CORRUPT":
                message = f"the index {self.path} is damaged: {error}"
            else:
                message = f"SQLite index {self.path}: {error}"
            raise StorageError(message) from error

    @contextmanager
    def _transaction(self, begin: str = "BEGIN IMMEDIATE") -> Iterator[sqlite3.Connection]:
        connection = self._connection()
        with self._errors():
            connection.execute(begin)
            try:
                yield connection
                connection.execute("COMMIT")
            except BaseException:
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
                raise
        if begin == "BEGIN IMMEDIATE":
            self._trim_wal(connection)

    def _trim_wal(self, connection: sqlite3.Connection) -> None:
        """Start the WAL over when it has grown past ``WAL_LIMIT``.

        The automatic checkpoints are passive: they copy pages back but let the WAL start over
        only at a moment when no one reads it, which never comes while several processes add
        and check without pause. The WAL then grew without end (4.5 GB beside a 0.7 GB index,
        200k stories into 4 writers), and every page read probed a hash table per 4,096 frames
        of it. RESTART waits (the busy timeout) for the readers of older frames to finish, which
        takes milliseconds, and holds back other writers meanwhile. A checkpoint that cannot
        finish is left to the next writer: the story is committed either way.
        """
        try:
            if os.path.getsize(self._wal) <= WAL_LIMIT:
                return
            connection.execute("PRAGMA wal_checkpoint(RESTART)").fetchall()
        except (OSError, sqlite3.OperationalError):
            pass

    def _prepare(self, connection: sqlite3.Connection, given: Path, create: bool) -> None:
        """Create the schema in a new file; refuse a file that is not a dedupe index of this
        version rather than write into another application's database.

        Many processes may open a new file at once. SQLite answers some of the steps that
        involve another connection's lock ("database is locked") at once instead of waiting
        the busy timeout, notably the switch to WAL; every step can be taken again, so they
        are retried until ``BUSY_TIMEOUT``.
        """
        deadline = time.monotonic() + BUSY_TIMEOUT
        pause = 0.005
        with self._errors():
            while True:
                try:
                    self._prepare_once(connection, given, create)
                    return
                except sqlite3.OperationalError as error:
                    busy = error.sqlite_errorcode & 0xFF == sqlite3.SQLITE_BUSY
                    if not busy or time.monotonic() + pause > deadline:
                        raise
                time.sleep(pause * random.uniform(0.5, 1.5))
                pause = min(2 * pause, 0.2)

    def _prepare_once(self, connection: sqlite3.Connection, given: Path, create: bool) -> None:
        # Only a file without a single page is new: a database that some other program made,
        # if only by setting its user_version, is not ours to write into, tables or not.
        if connection.execute("PRAGMA page_count").fetchone()[0] == 0:
            if not create:
                raise StorageError(f"{given} is empty, not an index (index add creates one)")
            # Takes effect when the first table is made, and writes nothing by itself.
            connection.execute(f"PRAGMA page_size = {PAGE_SIZE}")
            # The schema and its marks in one transaction: no other opener ever sees a file
            # that is half made. WAL comes after, as it writes the header on its own.
            connection.execute("BEGIN IMMEDIATE")
            try:
                if self._is_blank(connection):  # another opener may have made it meanwhile
                    for statement in _SCHEMA:
                        connection.execute(statement)
                connection.execute("COMMIT")
            except BaseException:
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
                raise
        application_id = connection.execute("PRAGMA application_id").fetchone()[0]
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        if application_id != APPLICATION_ID:
            raise StorageError(
                f"{self.path} is a SQLite database of another application, not a dedupe index"
            )
        if version != SCHEMA_VERSION:
            advice = (
                ": rebuild it with `dedupe index add` into a new file"
                if version < SCHEMA_VERSION
                else ""
            )
            raise StorageError(
                f"{self.path} is a dedupe index of schema version {version}; this version "
                f"of dedupe reads version {SCHEMA_VERSION}{advice}"
            )
        if connection.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            connection.execute("PRAGMA journal_mode = WAL")

    @staticmethod
    def _is_blank(connection: sqlite3.Connection) -> bool:
        """Nothing written yet: no table, no application id, no version."""
        marks = connection.execute(
            "SELECT count(*), (SELECT * FROM pragma_application_id), "
            "(SELECT * FROM pragma_user_version) FROM sqlite_master"
        ).fetchone()
        return marks == (0, 0, 0)

    # --- the protocol -----------------------------------------------------------------------

    def add(self, story: Story, keys: Sequence[int]) -> int | None:
        return self.add_many([(story, keys)])[0]

    def add_many(self, items: Sequence[tuple[Story, Sequence[int]]]) -> list[int | None]:
        now = datetime.now(UTC)
        # Encoded before the write lock is taken, so other writers wait only for the inserts.
        rows = []
        for story, keys in items:
            folded = folded_keys(keys)
            at, record = story_time(story, now), encode_record(story)
            rows.append((story.id, at, pack_buckets(map(bucket, folded)), record, folded))
        seqs: list[int | None] = []
        added: dict[int, list[bytes]] = {}
        with self._transaction() as connection:
            for row in rows:
                # Looked up first, not left to the UNIQUE constraint: a refused insert would
                # still use up a sequence number.
                if connection.execute("SELECT 1 FROM stories WHERE id = ?", row[:1]).fetchone():
                    seqs.append(None)
                    continue
                seq = connection.execute(
                    "INSERT INTO stories (id, at, buckets, record) VALUES (?, ?, ?, ?)", row[:4]
                ).lastrowid
                seqs.append(seq)
                for number, posted in postings(row[4], seq).items():
                    added.setdefault(number, []).append(posted)
            # Appended by SQLite itself, in bucket order: the b-tree is walked once, and no
            # bucket is read into Python to be written back.
            connection.executemany(
                "INSERT INTO buckets (bucket, postings) VALUES (?, ?) ON CONFLICT (bucket) "
                "DO UPDATE SET postings = CAST(postings || excluded.postings AS BLOB)",
                sorted((number, b"".join(posted)) for number, posted in added.items()),
            )
        return seqs

    def lookup(
        self, keys: Sequence[int], before: int | None = None, limit: int | None = None
    ) -> list[str]:
        folded = np.array(folded_keys(keys), dtype=np.int64)
        if not len(folded):
            return []
        numbers = sorted(set((folded >> SUFFIX_BITS).tolist()))
        connection = self._connection()
        with self._errors():
            held = [
                row
                for chunk in _chunks(numbers)
                for row in connection.execute(
                    f"SELECT bucket, postings FROM buckets WHERE bucket IN ({_marks(len(chunk))})",
                    chunk,
                )
            ]
            seqs = _ranked(held, folded, before, limit)
            found = [
                story_id
                for chunk in _chunks(seqs)
                for (story_id,) in connection.execute(
                    f"SELECT id FROM stories WHERE seq IN ({_marks(len(chunk))})", chunk
                )
            ]
        return sorted(found)

    def get(self, ids: Sequence[str]) -> list[Story]:
        records: dict[str, bytes] = {}
        connection = self._connection()
        with self._errors():
            for chunk in _chunks(storable_ids(ids)):
                records.update(
                    connection.execute(
                        f"SELECT id, record FROM stories WHERE id IN ({_marks(len(chunk))})",
                        chunk,
                    ).fetchall()
                )
        stories = readable(records.items(), str(self.path), self._damaged)
        return [stories[story_id] for story_id in ids if story_id in stories]

    def remove(self, ids: Sequence[str]) -> int:
        removed = 0
        with self._transaction() as connection:
            for chunk in _chunks(storable_ids(ids)):
                held = connection.execute(
                    f"SELECT seq, buckets FROM stories WHERE id IN ({_marks(len(chunk))})", chunk
                ).fetchall()
                removed += self._forget(connection, held)
        return removed

    def prune(self, before: datetime) -> int:
        limit = micros(before)
        removed = 0
        while True:
            with self._transaction() as connection:
                held = connection.execute(
                    "SELECT seq, buckets FROM stories WHERE at < ? LIMIT ?", (limit, _PRUNE_STEP)
                ).fetchall()
                removed += self._forget(connection, held)
            if len(held) < _PRUNE_STEP:
                return removed

    @staticmethod
    def _forget(connection: sqlite3.Connection, held: list[tuple[int, bytes]]) -> int:
        """Delete these stories, and their postings from the buckets they name: each bucket
        read and written once, however many of the stories it holds."""
        seqs: dict[int, set[int]] = {}
        for seq, packed in held:
            try:
                numbers = unpack_buckets(packed)
            except ValueError:
                # A bucket list that is not one (written by something else) still lets its
                # story go; its postings stay behind, pointing to no story, which lookups pass
                # over.
                continue
            for number in numbers:
                seqs.setdefault(number, set()).add(seq)
        numbers = sorted(seqs)
        kept: list[tuple[bytes, int]] = []
        emptied: list[tuple[int]] = []
        for chunk in _chunks(numbers):
            rows = connection.execute(
                f"SELECT bucket, postings FROM buckets WHERE bucket IN ({_marks(len(chunk))})",
                chunk,
            ).fetchall()
            for number, posted in rows:
                entries = _entries(posted)
                if entries is None:
                    continue
                gone = np.isin(_sequence_numbers(entries), list(seqs[number]))
                if gone.all():
                    emptied.append((number,))
                elif gone.any():
                    kept.append((entries[~gone].tobytes(), number))
        connection.executemany("UPDATE buckets SET postings = ? WHERE bucket = ?", kept)
        connection.executemany("DELETE FROM buckets WHERE bucket = ?", emptied)
        connection.executemany("DELETE FROM stories WHERE seq = ?", [(seq,) for seq, _ in held])
        return len(held)

    def stats(self) -> IndexStats:
        """``bytes`` is the size of the database file, without the transient WAL."""
        with self._transaction("BEGIN") as connection:
            count = connection.execute("SELECT count(*) FROM stories").fetchone()[0]
            # Apart, min() and max() each read one end of the index on at.
            oldest = connection.execute("SELECT min(at) FROM stories").fetchone()[0]
            newest = connection.execute("SELECT max(at) FROM stories").fetchone()[0]
            pages = connection.execute("PRAGMA page_count").fetchone()[0]
            page_size = connection.execute("PRAGMA page_size").fetchone()[0]
        return IndexStats(
            stories=count,
            oldest=None if oldest is None else iso(oldest),
            newest=None if newest is None else iso(newest),
            bytes=pages * page_size,
        )

    def close(self) -> None:
        with self._lock:
            connections, self._connections = self._connections, {}
        if self._pid == os.getpid():
            for connection in connections.values():
                connection.close()

    def __contains__(self, story_id: object) -> bool:
        if not storable_ids([story_id]):
            return False
        connection = self._connection()
        with self._errors():
            row = connection.execute("SELECT 1 FROM stories WHERE id = ?", (story_id,))
            return row.fetchone() is not None

    def __len__(self) -> int:
        connection = self._connection()
        with self._errors():
            return connection.execute("SELECT count(*) FROM stories").fetchone()[0]
