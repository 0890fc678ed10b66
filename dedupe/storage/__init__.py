"""Where the index keeps what was published: one small protocol, several backends.

The index code talks only to ``Storage``; which backend answers is chosen by ``open_storage``
from the ``--index`` value. Backends hold plain stories and integer band keys, never pickles.

Every stored story gets a sequence number, its place in the order of arrival, assigned in the same
atomic step that stores it. A story is then checked only against those that arrived before it: of
two copies offered at the same moment by two crawlers, exactly one is new.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from dedupe.story import Story

# The weight of a key held by one story (see ``Storage.lookup``): integers, so that every backend
# ranks alike, to the last tie.
KEY_WEIGHT = 1 << 20


class StorageError(Exception):
    """The index cannot be opened, read or written; the message says which index and why."""


class UnstorableStory(StorageError, ValueError):
    """A story that no index can hold as given: a field of the wrong type, or text that is not
    valid Unicode. The message names the story. A ``ValueError`` too: the fault is in the
    story given, not in the index."""


@dataclass(frozen=True, slots=True)
class IndexStats:
    """What an index holds. ``oldest`` and ``newest`` are ISO 8601 UTC moments: when a story was
    published, or when it was added if it gives no publication time."""

    stories: int
    oldest: str | None
    newest: str | None
    bytes: int


class Storage(Protocol):
    def add(self, story: Story, keys: Sequence[int]) -> int | None:
        """Store a story under its band keys, atomically; its sequence number, or None (and
        nothing stored) when its id is already held. Keys are integers in [1, 2**64)."""
        ...

    def add_many(self, items: Sequence[tuple[Story, Sequence[int]]]) -> list[int | None]:
        """``add`` for each item, in one transaction (or round trip) per batch: bulk loading
        pays the commit once. An id repeated within the batch is stored once. A story that
        cannot be stored refuses the call (``UnstorableStory``, naming it) before anything is
        stored: the caller leaves it out (see ``codec.check_storable``) and tries again."""
        ...

    def lookup(
        self, keys: Sequence[int], before: int | None = None, limit: int | None = None
    ) -> list[str]:
        """Ids of the stories stored under any of these keys, sorted; with ``before``, only
        those that arrived before that sequence number; with ``limit``, only that many: those
        of the greatest weight, ties to the latest stored. A story weighs the sum of the keys
        it is stored under, and a key ``KEY_WEIGHT // n`` when n of the stories looked at are
        stored under it: a rare key says more than one shared by hundreds (a stock phrase)."""
        ...

    def get(self, ids: Sequence[str]) -> list[Story]:
        """The stored stories, in the order of ``ids``; ids not held are left out, and so are
        damaged records (each logged once as a warning), so that a check goes on without them."""
        ...

    def remove(self, ids: Sequence[str]) -> int:
        """Forget these stories and their keys; how many were held."""
        ...

    def prune(self, before: datetime) -> int:
        """Forget the stories published (or, without a publication time, added) before that
        moment; a naive moment is taken as UTC. How many were removed."""
        ...

    def stats(self) -> IndexStats: ...

    def close(self) -> None:
        """Release connections; the data stays where it is."""
        ...

    def __contains__(self, story_id: object) -> bool: ...

    def __len__(self) -> int: ...


_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def open_storage(spec: str | None, create: bool = True) -> Storage:
    """Open the index named by ``--index``.

    ``None`` keeps it in memory; a ``redis://`` or ``rediss://`` URL opens a Redis index (the
    ``prefix`` query parameter lets several indexes share one server); anything else is the path
    of a SQLite file.

    ``create``: make the index if it does not exist yet. Commands that only read or clean up an
    index pass False, so that a mistyped path or prefix is refused rather than taken for an
    empty index (and a file left behind). A memory index is always new.

    Raises:
        StorageError: the index cannot be opened, does not exist (without ``create``), or is not
            a dedupe index of this version.
    """
    if spec is None:
        from dedupe.storage.memory import MemoryStorage

        return MemoryStorage()
    if spec.startswith(("redis://", "rediss://")):
        from dedupe.storage.redis import RedisStorage

        return RedisStorage(spec, create=create)
    if _URL.match(spec):
        raise StorageError(
            f"unsupported index {spec!r}: give a file path (SQLite) or a redis:// URL"
        )
    if not spec.strip():
        raise StorageError("the index path is empty")
    from dedupe.storage.sqlite import SqliteStorage

    return SqliteStorage(Path(spec), create=create)
