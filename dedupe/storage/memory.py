"""The in-memory storage, for ``dedupe check --against`` and tests: gone when the process ends."""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Sequence

from dedupe.story import Story


class MemoryStorage:
    def __init__(self) -> None:
        self._stories: dict[str, Story] = {}
        self._buckets: defaultdict[int, list[str]] = defaultdict(list)
        self._lock = threading.Lock()

    def add(self, story: Story, keys: Sequence[int]) -> bool:
        with self._lock:
            if story.id in self._stories:
                return False
            self._stories[story.id] = story
            for key in keys:
                self._buckets[key].append(story.id)
            return True

    def lookup(self, keys: Sequence[int]) -> list[str]:
        with self._lock:
            return sorted({i for key in keys for i in self._buckets.get(key, ())})

    def get(self, ids: Sequence[str]) -> list[Story]:
        with self._lock:
            return [self._stories[i] for i in ids if i in self._stories]

    def __contains__(self, story_id: object) -> bool:
        return story_id in self._stories

    def __len__(self) -> int:
        return len(self._stories)
