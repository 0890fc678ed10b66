"""The in-memory storage, for ``dedupe check --against`` and tests: gone when the process ends."""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from dedupe.storage import KEY_WEIGHT, IndexStats
from dedupe.storage.codec import (
    check_storable,
    encode_record,
    iso,
    micros,
    story_time,
    unique_keys,
)
from dedupe.story import Story


@dataclass(frozen=True, slots=True)
class _Held:
    seq: int
    story: Story
    keys: tuple[int, ...]
    at: int


class MemoryStorage:
    def __init__(self) -> None:
        self._stories: dict[str, _Held] = {}
        self._buckets: defaultdict[int, dict[str, int]] = defaultdict(dict)
        self._next = 1
        self._lock = threading.Lock()

    def add(self, story: Story, keys: Sequence[int]) -> int | None:
        return self.add_many([(story, keys)])[0]

    def add_many(self, items: Sequence[tuple[Story, Sequence[int]]]) -> list[int | None]:
        now = datetime.now(UTC)
        for story, _ in items:
            check_storable(story)  # refused as the persistent indexes refuse it
        checked = [(story, tuple(unique_keys(keys))) for story, keys in items]
        seqs: list[int | None] = []
        with self._lock:
            for story, keys in checked:
                if story.id in self._stories:
                    seqs.append(None)
                    continue
                seq, self._next = self._next, self._next + 1
                self._stories[story.id] = _Held(seq, story, keys, story_time(story, now))
                for key in keys:
                    self._buckets[key][story.id] = seq
                seqs.append(seq)
        return seqs

    def lookup(
        self, keys: Sequence[int], before: int | None = None, limit: int | None = None
    ) -> list[str]:
        weights: Counter[str] = Counter()
        with self._lock:
            for key in set(keys):
                found = [
                    story_id
                    for story_id, seq in self._buckets.get(key, {}).items()
                    if before is None or seq < before
                ]
                for story_id in found:
                    weights[story_id] += KEY_WEIGHT // len(found)
            seqs = {story_id: self._stories[story_id].seq for story_id in weights}
        ranked = sorted(weights, key=lambda story_id: (-weights[story_id], -seqs[story_id]))
        return sorted(ranked[:limit])

    def get(self, ids: Sequence[str]) -> list[Story]:
        with self._lock:
            return [self._stories[i].story for i in ids if i in self._stories]

    def remove(self, ids: Sequence[str]) -> int:
        with self._lock:
            return sum(self._forget(story_id) for story_id in ids)

    def prune(self, before: datetime) -> int:
        limit = micros(before)
        with self._lock:
            old = [story_id for story_id, held in self._stories.items() if held.at < limit]
            return sum(self._forget(story_id) for story_id in old)

    def _forget(self, story_id: str) -> bool:
        held = self._stories.pop(story_id, None)
        if held is None:
            return False
        for key in held.keys:
            bucket = self._buckets[key]
            bucket.pop(story_id, None)
            if not bucket:
                del self._buckets[key]
        return True

    def stats(self) -> IndexStats:
        """``bytes`` is what the stories would take in a persistent index: their compressed
        records and 8 bytes per key, without any backend's overhead."""
        with self._lock:
            held = list(self._stories.values())
        moments = [h.at for h in held]
        return IndexStats(
            stories=len(held),
            oldest=iso(min(moments)) if moments else None,
            newest=iso(max(moments)) if moments else None,
            bytes=sum(len(encode_record(h.story)) + 8 * len(h.keys) for h in held),
        )

    def close(self) -> None:
        """Nothing to release: the stories live as long as this object."""

    def __contains__(self, story_id: object) -> bool:
        return story_id in self._stories

    def __len__(self) -> int:
        return len(self._stories)
