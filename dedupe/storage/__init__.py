"""Where the index keeps what was published: one small protocol, several backends.

The index code talks only to ``Storage``; which backend answers is chosen by ``open_storage``
from the ``--index`` value. Backends hold plain stories and integer band keys, never pickles.

Every stored story gets a sequence number, its place in the order of arrival, assigned in the same
atomic step that stores it. A story is then checked only against those that arrived before it: of
two copies offered at the same moment by two crawlers, exactly one is new.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from dedupe.story import Story


class Storage(Protocol):
    def add(self, story: Story, keys: Sequence[int]) -> int | None:
        """Store a story under its band keys, atomically; its sequence number, or None (and
        nothing stored) when its id is already held."""
        ...

    def lookup(self, keys: Sequence[int], before: int | None = None) -> list[str]:
        """Ids of the stories stored under any of these keys, sorted; with ``before``, only
        those that arrived before that sequence number."""
        ...

    def get(self, ids: Sequence[str]) -> list[Story]: ...

    def remove(self, ids: Sequence[str]) -> int:
        """Forget these stories and their keys; how many were held."""
        ...

    def __contains__(self, story_id: object) -> bool: ...

    def __len__(self) -> int: ...


def open_storage(spec: str | None) -> Storage:
    """``None`` keeps the index in memory; persistent backends come with the shared index."""
    from dedupe.storage.memory import MemoryStorage

    if spec is None:
        return MemoryStorage()
    raise ValueError(f"unsupported index {spec!r}: only the in-memory index is available yet")
