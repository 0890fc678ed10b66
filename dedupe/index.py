"""Candidates: LSH channels that propose pairs worth verifying, so no stage compares all pairs.

Three channels, each banding the MinHash signature of one set of the fingerprint:
``text`` (word shingles: copies and rewrites), ``lead`` (content words of the first paragraph: a
teaser meets its article) and ``title`` (content words of the headline: retitled copies and
headline-only items). The lead and title sets leave out the words common to all news: stories on
one beat share them, and with them the channels proposed pairs quadratically in the corpus.

The same band keys serve the batch path (sort and cut runs of equal keys) and the streaming path
(look keys up in a ``Storage``).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from dedupe.fingerprint import (
    Fingerprint,
    distinctive,
    fingerprint,
    fingerprint_story,
    mix64,
    signatures,
)
from dedupe.settings import Settings
from dedupe.storage import IndexStats, Storage, UnstorableStory
from dedupe.storage.codec import check_storable
from dedupe.story import Match, Story, Verdict
from dedupe.verify import explain, verify

# Fingerprints of stories read back from the index, kept for the next check: a crawler's drafts
# meet the same stored stories again and again (one beat, one bucket), and fingerprinting them
# was most of a check's time.
_KNOWN_FINGERPRINTS = 10_000


@dataclass(frozen=True, slots=True)
class Channel:
    name: str
    members: Callable[[Fingerprint, Settings], np.ndarray]
    bands: int
    rows: int


def _lead(fp: Fingerprint, settings: Settings) -> np.ndarray:
    return distinctive(fp.lead(settings.lead_tokens))


def _title(fp: Fingerprint, settings: Settings) -> np.ndarray:
    return distinctive(fp.title_set())


def channels(settings: Settings) -> tuple[Channel, ...]:
    return (
        Channel("text", Fingerprint.shingles, settings.text_bands, settings.text_rows),
        Channel("lead", _lead, settings.lead_bands, settings.lead_rows),
        Channel("title", _title, settings.title_bands, settings.title_rows),
    )


def band_keys(fps: Sequence[Fingerprint], settings: Settings) -> np.ndarray:
    """An (n, total bands) uint64 matrix of band keys over every channel; 0 marks no key.

    Each key mixes the channel and band number in, so one table can hold every band. A story with
    an empty set has no keys in that channel: all empty sets would otherwise share one bucket.
    """
    columns = []
    for number, channel in enumerate(channels(settings)):
        sets = [channel.members(fp, settings) for fp in fps]
        width = channel.bands * channel.rows
        sigs = signatures(sets, settings.num_perm, settings.seed, width).astype(np.uint64)
        empty = np.array([len(s) == 0 for s in sets], dtype=bool)
        # Every band of the channel at once, one row of the band at a time.
        rows = sigs.reshape(len(fps), channel.bands, channel.rows)
        bands = np.arange(channel.bands, dtype=np.uint64) | np.uint64(number << 16)
        key = np.broadcast_to(bands, (len(fps), channel.bands))
        for row in range(channel.rows):
            with np.errstate(over="ignore"):
                key = mix64(key * np.uint64(0x9E3779B97F4A7C15) + rows[:, :, row])
        key[key == 0] = 1
        key[empty] = 0
        columns.append(key)
    if not columns:
        return np.zeros((len(fps), 0), dtype=np.uint64)
    return np.concatenate(columns, axis=1)


def candidate_pairs(keys: np.ndarray, max_bucket: int) -> np.ndarray:
    """Pairs (i, j), i < j, of rows that share any band key: an (m, 2) int64 array, sorted, unique.

    One band at a time, so the working memory is a few vectors of n, not the whole matrix. A
    bucket larger than ``max_bucket`` is a stock phrase or template shared by many stories; its
    members are paired only with its first ``max_bucket`` members, so the cost stays linear.
    """
    n = keys.shape[0]
    found: list[np.ndarray] = []
    held = distinct = 0
    for column in keys.T:
        rows = np.flatnonzero(column)
        ordered = column[rows]
        order = np.argsort(ordered, kind="stable")
        ordered, rows = ordered[order], rows[order]
        starts = np.flatnonzero(np.concatenate([[True], ordered[1:] != ordered[:-1]]))
        lengths = np.diff(np.concatenate([starts, [len(ordered)]]))
        # Buckets of one size at a time: their members as the rows of a matrix, so that pairing
        # them is one numpy call per size, not one per bucket.
        for length in np.unique(lengths[lengths >= 2]):
            first = starts[lengths == length]
            members = rows[first[:, None] + np.arange(length)]
            if length <= max_bucket:
                i, j = np.triu_indices(length, 1)
            else:
                i = np.repeat(np.arange(max_bucket), length - np.arange(1, max_bucket + 1))
                j = np.concatenate([np.arange(k + 1, length) for k in range(max_bucket)])
            found.append((members[:, i] * n + members[:, j]).ravel())
            held += found[-1].size
        # A pair shares several bands; folding the repeats out as they pile up keeps the working
        # memory near the distinct pairs (at 100k stories the bands give 5.7 codes a pair).
        if held > 2 * distinct + (1 << 22):
            found = [np.unique(np.concatenate(found))]
            held = distinct = found[0].size
    if not found:
        return np.empty((0, 2), dtype=np.int64)
    codes = np.unique(np.concatenate(found))
    return np.stack([codes // n, codes % n], axis=1)


class Index:
    """The streaming side: stories held in a ``Storage`` under their band keys, checked and added
    one at a time (or in bulk) by ``Detector``. Nothing outside it reaches into the storage.

    Safe from threads: the storage is, and the fingerprints kept of stored stories (a crawler's
    drafts meet the same stored stories again and again) are behind a lock.
    """

    def __init__(self, storage: Storage, settings: Settings) -> None:
        self.storage = storage
        self.settings = settings
        self._known: OrderedDict[Story, Fingerprint] = OrderedDict()
        self._known_lock = threading.Lock()

    def check(self, story: Story) -> Verdict:
        """The stored stories that ``story`` copies or is copied by; stores nothing."""
        fp = fingerprint_story(story, self.settings)
        return Verdict(story.id, self._matches(story, fp, self.candidates(fp)))

    def add(self, story: Story, *, only_new: bool = False) -> Verdict:
        """Store ``story``, then check it against the stories that arrived before it (see
        ``Detector.add``)."""
        check_storable(story)
        fp = fingerprint_story(story, self.settings)
        keys = band_keys([fp], self.settings)
        seq = self.storage.add(story, _keys(keys[0]))
        if seq is None:
            held = self.candidates(fp, keys=keys[0])
            return Verdict(story.id, self._matches(story, fp, held))
        earlier = self.candidates(fp, before=seq, keys=keys[0])
        verdict = Verdict(story.id, self._matches(story, fp, earlier))
        if only_new and verdict.is_duplicate:
            self.storage.remove([story.id])
        return verdict

    def add_many(self, stories: Sequence[Story], errors: list[UnstorableStory] | None) -> int:
        """Store a batch without checking it, in one transaction; how many were new. A story
        that cannot be stored is left out (its error appended to ``errors``, or raised once the
        rest is stored)."""
        storable: list[Story] = []
        refused: list[UnstorableStory] = []
        for story in stories:
            try:
                check_storable(story)
                storable.append(story)
            except UnstorableStory as error:
                refused.append(error)
        added = 0
        if storable:
            keys = band_keys(fingerprint(storable, self.settings), self.settings)
            rows = zip(storable, keys, strict=True)
            seqs = self.storage.add_many([(story, _keys(row)) for story, row in rows])
            added = sum(seq is not None for seq in seqs)
        if refused and errors is None:
            raise refused[0]
        if errors is not None:
            errors.extend(refused)
        return added

    def remove(self, ids: Sequence[str]) -> int:
        return self.storage.remove(ids)

    def prune(self, before: datetime) -> int:
        return self.storage.prune(before)

    def stats(self) -> IndexStats:
        return self.storage.stats()

    def stored(self, ids: Sequence[str]) -> list[Story]:
        return self.storage.get(ids)

    def close(self) -> None:
        self.storage.close()

    def candidates(
        self, fp: Fingerprint, before: int | None = None, keys: np.ndarray | None = None
    ) -> list[Story]:
        """Stored stories that share a band key with ``fp`` (with ``before``: only those that
        arrived earlier), and the stored story with its id, if any. ``keys``: ``fp``'s band keys,
        when the caller has them already."""
        if keys is None:
            keys = band_keys([fp], self.settings)[0]
        ids = set(self.storage.lookup(_keys(keys), before))
        if before is None and fp.id in self.storage:
            ids.add(fp.id)
        return self.storage.get(sorted(ids))

    def _fingerprints(self, stories: Sequence[Story]) -> list[Fingerprint]:
        """Fingerprints of stored stories, from the cache when the same record was seen."""
        with self._known_lock:
            known = {s: self._known[s] for s in stories if s in self._known}
        missing = [s for s in stories if s not in known]
        known.update(zip(missing, fingerprint(missing, self.settings), strict=True))
        with self._known_lock:
            for s in stories:
                self._known[s] = known[s]
                self._known.move_to_end(s)
            while len(self._known) > _KNOWN_FINGERPRINTS:
                self._known.popitem(last=False)
        return [known[s] for s in stories]

    def _matches(
        self, story: Story, fp: Fingerprint, candidates: Sequence[Story]
    ) -> tuple[Match, ...]:
        matches = []
        for other, other_fp in zip(candidates, self._fingerprints(candidates), strict=True):
            pair = verify(other_fp, fp, self.settings)
            if pair is not None:
                a, b = (other, story) if pair.a == other.id else (story, other)
                pair = explain(pair, a, b, self.settings)
                matches.append(
                    Match(other.id, pair.relation, pair.score, pair.evidence, other.title)
                )
        return tuple(sorted(matches, key=lambda m: (-m.score, m.story_id)))


def _keys(row: np.ndarray) -> list[int]:
    return [int(k) for k in row if k]
