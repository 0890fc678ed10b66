"""The in-memory storage, for ``dedupe check --against`` and tests: gone when the process ends."""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Sequence

from dedupe.story import Story


class MemoryStorage:
    def __init__(self) -> None:
        self._stories: dict[str, tuple[int, Story, tuple[int, ...]]] = {}
        self._buckets: defaultdict[int, dict[str, int]] = defaultdict(dict)
        self._next = 1
        self._lock = threading.Lock()

    def add(self, story: Story, keys: Sequence[int]) -> int | None:
        with self._lock:
            if story.id in self._stories:
                return None
            seq, self._next = self._next, self._next + 1
            self._stories[story.id] = (seq, story, tuple(keys))
            for key in keys:
                self._buckets[key][story.id] = seq
            return seq

    def lookup(self, keys: Sequence[int], before: int | None = None) -> list[str]:
        with self._lock:
            found = {
                story_id
                for key in keys
                for story_id, seq in self._buckets.get(key, {}).items()
                if before is None or seq < before
            }
        return sorted(found)

    def get(self, ids: Sequence[str]) -> list[Story]:
        with self._lock:
            return [self._stories[i][1] for i in ids if i in self._stories]

    def remove(self, ids: Sequence[str]) -> int:
        with self._lock:
            removed = 0
            for story_id in ids:
                held = self._stories.pop(story_id, None)
                if held is None:
                    continue
                removed += 1
                for key in held[2]:
                    bucket = self._buckets[key]
                    bucket.pop(story_id, None)
                    if not bucket:
                        del self._buckets[key]
            return removed

    def __contains__(self, story_id: object) -> bool:
        return story_id in self._stories

    def __len__(self) -> int:
        return len(self._stories)
