"""Where the index keeps what was published: one small protocol, several backends.

The index code talks only to ``Storage``; which backend answers is chosen by ``open_storage``
from the ``--index`` value. Backends hold plain stories and integer band keys, never pickles.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from dedupe.story import Story


class Storage(Protocol):
    def add(self, story: Story, keys: Sequence[int]) -> bool:
        """Store a story under its band keys; False, and nothing stored, if its id is held."""
        ...

    def lookup(self, keys: Sequence[int]) -> list[str]:
        """Ids of the stories stored under any of these keys."""
        ...

    def get(self, ids: Sequence[str]) -> list[Story]: ...

    def __contains__(self, story_id: object) -> bool: ...

    def __len__(self) -> int: ...


def open_storage(spec: str | None) -> Storage:
    """``None`` keeps the index in memory; persistent backends come with the shared index."""
    from dedupe.storage.memory import MemoryStorage

    if spec is None:
        return MemoryStorage()
    raise ValueError(f"unsupported index {spec!r}: only the in-memory index is available yet")
