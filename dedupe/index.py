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

import itertools
import threading
from collections import OrderedDict
from collections.abc import Sequence
from datetime import datetime

import numpy as np

from dedupe.compiled import compile_now, in_threads, is_compiled, jit, worth
from dedupe.fingerprint import Prints, distinctive, fingerprint, leads, mix64, signatures
from dedupe.rows import Rows, distinct, release_freed
from dedupe.settings import Settings
from dedupe.storage import IndexStats, Storage, UnstorableStory
from dedupe.storage.codec import check_storable
from dedupe.story import Match, Story, Verdict
from dedupe.verify import RELATIONS, explain, verify

# Fingerprints of stories read back from the index, kept for the next check: a crawler's drafts
# meet the same stored stories again and again (one beat, one bucket), and fingerprinting them
# was most of a check's time.
_KNOWN_FINGERPRINTS = 10_000
# Bands bucketed at a time by a scan: their pair codes are held at once.
_BANDS_AT_ONCE = 8
# The story checked or added one at a time at which the loops are compiled (see
# ``Index._fingerprint``): a ``dedupe check`` of a draft or a few stays interpreted, a crawler
# runs compiled from its eighth story on.
_COMPILE_AT = 8


def channels(prints: Prints, settings: Settings) -> list[tuple[Rows, int, int]]:
    """(sets, bands, rows) of each channel: the text's shingles, the distinctive content words
    of its lead, and those of its title."""
    return [
        (prints.shingles, settings.text_bands, settings.text_rows),
        (distinctive(leads(prints, settings.lead_tokens)), settings.lead_bands, settings.lead_rows),
        (distinctive(prints.title_words), settings.title_bands, settings.title_rows),
    ]


def band_keys(prints: Prints, settings: Settings) -> np.ndarray:
    """An (n, total bands) uint64 matrix of band keys over every channel; 0 marks no key.

    Each key mixes the channel and band number in, so one table can hold every band. A story with
    an empty set has no keys in that channel: all empty sets would otherwise share one bucket.
    """
    every = channels(prints, settings)
    keys = np.empty((len(prints), sum(bands for _, bands, _ in every)), dtype=np.uint64)
    column = 0
    for number, (sets, bands, rows) in enumerate(every):
        sigs = signatures(sets, settings.num_perm, settings.seed, bands * rows)
        if is_compiled():
            _band_keys(sigs, sets.lengths, bands, rows, number, keys, column)
        else:
            # A few stories: whole-matrix passes, not the loop per story run interpreted.
            parts = sigs.astype(np.uint64).reshape(len(prints), bands, rows)
            key = np.arange(bands, dtype=np.uint64) | np.uint64(number << 16)
            for row in range(rows):
                with np.errstate(over="ignore"):
                    key = mix64(key * np.uint64(0x9E3779B97F4A7C15) + parts[:, :, row])
            key[key == 0] = 1
            key[sets.lengths == 0] = 0
            keys[:, column : column + bands] = key
        column += bands
    return keys


def fold_keys(keys: np.ndarray) -> np.ndarray:
    """Band keys folded to 32 bits, 0 still marking no key: what a scan buckets stories by.
    Within one band of a million stories, keys that collide by chance make some 120 pairs,
    which verification refuses, against millions proposed; the keys take half the memory
    (320 bytes a story), and the streaming index keeps its 64-bit keys."""
    folded = (keys ^ (keys >> np.uint64(32))).astype(np.uint32)
    folded[(folded == 0) & (keys != 0)] = 1
    return folded


def candidate_pairs(
    keys: np.ndarray, max_bucket: int, max_partners: int, weights: np.ndarray
) -> np.ndarray:
    """Pairs (i, j), i < j, of rows that share any band key: an (m, 2) int64 array, sorted, unique.

    A bucket is one key in one band. A bucket larger than ``max_bucket`` is a stock phrase or
    template shared by many stories; its members are paired only with its first ``max_bucket``
    members (by row), so the cost stays linear. A story paired with more than ``max_partners``
    others keeps those it shares the most with (the ``weights`` of the bands they share,
    ``band_weights``; ties to the lower row), and a pair stays when either of its stories keeps
    it: copies share many bands, stories of one beat or one template a few, and without the bound
    their pairs grew with the square of the corpus.
    """
    worth(keys.size)
    most = int(weights.sum()) if len(weights) else 0
    # A pair's entry while candidates are found: its code ``i * n + j`` shifted over the sum of
    # the weights of the bands it is in (8 bits with the default bands), so that 20 million
    # pairs take 8 bytes each, not 12; at least the 3 bits of ``_bucket_pairs``' own codes.
    shift = np.uint64(max(most.bit_length(), 3))
    if (keys.shape[0] ** 2) << int(shift) >= 1 << 64:
        raise ValueError(f"{keys.shape[0]:,} stories are too many for one scan: use Spark")

    def bucket(first: int, stop: int) -> np.ndarray:
        entries = np.empty(0, np.uint64)
        for band in range(first, stop, _BANDS_AT_ONCE):
            codes = _bucket_pairs(keys, band, min(band + _BANDS_AT_ONCE, stop), max_bucket, weights)
            codes.sort()
            entries = _union(entries, codes[: _runs(codes, shift)], shift)
            del codes
        return entries

    # Bands are bucketed apart, so threads share them out, and a few at a time, so that the
    # codes of all pairs in all bands (some 65 million at a million stories) are never held.
    parts = in_threads(bucket, keys.shape[1], _BANDS_AT_ONCE)
    # What the threads' tables and codes freed is given back before the pairs are joined, and
    # each step's input before the next: these are the largest arrays of a scan.
    release_freed()
    entries = np.empty(0, np.uint64)
    while parts:
        entries = _union(entries, parts.pop(0), shift)
    release_freed()
    # Each pair listed under both its stories; int32 where the pairs allow, half the memory.
    ends = np.empty(2 * len(entries), dtype=np.int32 if len(entries) < 2**31 else np.int64)
    keep = _top_partners(entries, shift, keys.shape[0], most, max_partners, ends)
    del ends
    release_freed()
    # Split straight into their place: numpy's quotients, stack and cast held four copies of a
    # million stories' 20 million pairs, the peak of a scan's memory.
    out = np.empty((int(np.count_nonzero(keep)), 2), dtype=np.int64)
    _kept_pairs(entries, shift, keep, max(keys.shape[0], 1), out)
    return out


def band_weights(settings: Settings) -> np.ndarray:
    """How much sharing each band column of ``band_keys`` tells of a copy: a text band (copies
    and rewrites) 4, a lead band (a teaser and its article) 2, a title band 1 (headlines are
    reused by series, templates and follow-ups). On the first 300,000 stories of the 1M speed
    corpus these weights lost half as many accepted pairs to ``max_partners`` as counting every
    band alike."""
    return np.repeat(
        np.array([4, 2, 1], dtype=np.uint64),
        [settings.text_bands, settings.lead_bands, settings.title_bands],
    )


class Index:
    """The streaming side: stories held in a ``Storage`` under their band keys, checked and added
    one at a time (or in bulk) by ``Detector``. Nothing outside it reaches into the storage.

    Safe from threads: the storage is, and the fingerprints kept of stored stories (a crawler's
    drafts meet the same stored stories again and again) are behind a lock.
    """

    def __init__(self, storage: Storage, settings: Settings) -> None:
        self.storage = storage
        self.settings = settings
        self._known: OrderedDict[Story, Prints] = OrderedDict()
        self._known_lock = threading.Lock()
        self._asked = itertools.count(1)

    def check(self, story: Story) -> Verdict:
        """The stored stories that ``story`` copies or is copied by; stores nothing."""
        prints, keys = self._fingerprint(story)
        return Verdict(story.id, self._matches(story, prints, self.candidates(story.id, keys)))

    def add(self, story: Story, *, only_new: bool = False) -> Verdict:
        """Store ``story``, then check it against the stories that arrived before it (see
        ``Detector.add``)."""
        check_storable(story)
        prints, keys = self._fingerprint(story)
        seq = self.storage.add(story, _keys(keys))
        if seq is None:
            held = self.candidates(story.id, keys)
            return Verdict(story.id, self._matches(story, prints, held))
        earlier = self.candidates(story.id, keys, before=seq)
        verdict = Verdict(story.id, self._matches(story, prints, earlier))
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

    def candidates(self, story_id: str, keys: np.ndarray, before: int | None = None) -> list[Story]:
        """Stored stories that share a band key (with ``before``: only those that arrived
        earlier), at most ``Settings.max_candidates`` of them; and the stored story with the
        same id, if any."""
        ids = self.storage.lookup(_keys(keys), before, self.settings.max_candidates)
        if before is None:
            # Asked for with the others: ``get`` leaves it out when it is not held.
            ids = sorted({*ids, story_id})
        return self.storage.get(ids)

    def _fingerprint(self, story: Story) -> tuple[Prints, np.ndarray]:
        """The fingerprint and band keys of a story checked or added on its own.

        The loops are compiled at the ``_COMPILE_AT``-th such story, not when the work done
        would pay for it (``compiled.worth``, some 150 stories): a process that checks stories
        one at a time (a crawler) goes on checking them, and interpreted, each check
        fingerprints its draft and its candidates not seen before word by word in Python. A
        one-draft ``dedupe check`` stays interpreted: it answers before numba would have loaded.
        """
        if next(self._asked) == _COMPILE_AT:
            compile_now()
        prints = fingerprint([story], self.settings)
        return prints, band_keys(prints, self.settings)[0]

    def _fingerprints(self, stories: Sequence[Story]) -> list[Prints]:
        """Fingerprints of stored stories, each on its own, from the cache when the same record
        was seen."""
        with self._known_lock:
            known = {s: self._known[s] for s in stories if s in self._known}
        missing = [s for s in stories if s not in known]
        if missing:
            made = fingerprint(missing, self.settings)
            known.update((s, made.take([n])) for n, s in enumerate(missing))
        with self._known_lock:
            for s in stories:
                self._known[s] = known[s]
                self._known.move_to_end(s)
            while len(self._known) > _KNOWN_FINGERPRINTS:
                self._known.popitem(last=False)
        return [known[s] for s in stories]

    def _matches(
        self, story: Story, prints: Prints, candidates: Sequence[Story]
    ) -> tuple[Match, ...]:
        if not candidates:
            return ()
        both = Prints.concat([prints, *self._fingerprints(candidates)])
        pairs = np.stack(
            [np.zeros(len(candidates), np.int64), np.arange(1, len(candidates) + 1)], axis=1
        )
        found = verify(both, pairs, self.settings)
        if not len(found):
            return ()
        # Shared passages only for the pairs reported: each story explained is tokenized again.
        stories = [story, *candidates]
        rows = distinct(np.concatenate([found.a, found.b]))
        explained = [stories[r] for r in rows.tolist()]
        local = np.searchsorted(rows, np.stack([found.a, found.b], axis=1))
        shared = explain(explained, local, self.settings)
        matches = []
        for k, b in enumerate(found.b.tolist()):
            # The draft is row 0, one end of every pair.
            other = stories[b] if b else stories[int(found.a[k])]
            relation = RELATIONS[found.relation[k] - 1]
            evidence = found.evidence(k, shared[k])
            matches.append(Match(other.id, relation, float(found.score[k]), evidence, other.title))
        return tuple(sorted(matches, key=lambda m: (-m.score, m.story_id)))


@jit
def _band_keys(sigs, lengths, bands, rows, channel, keys, column):
    """Each story's keys of one channel, to ``keys`` from ``column`` on: a band's key is its
    channel and number, then each of its rows of the signature in turn, mixed in (splitmix64's
    finalizer), as ``band_keys`` does with numpy for a few stories. One pass per story, every
    band at once (vectorized): numpy's passes over the whole matrix, row by row of the bands,
    took a fifth of the band keys' time."""
    key = np.empty(bands, dtype=np.uint64)
    for s in range(len(sigs)):
        if lengths[s] == 0:
            keys[s, column : column + bands] = 0
            continue
        for band in range(bands):
            key[band] = np.uint64(band) | np.uint64(channel << 16)
        for row in range(rows):
            for band in range(bands):
                k = key[band] * np.uint64(0x9E3779B97F4A7C15)
                k += np.uint64(sigs[s, band * rows + row])
                k ^= k >> np.uint64(30)
                k *= np.uint64(0xBF58476D1CE4E5B9)
                k ^= k >> np.uint64(27)
                k *= np.uint64(0x94D049BB133111EB)
                key[band] = k ^ (k >> np.uint64(31))
        for band in range(bands):
            keys[s, column + band] = key[band] if key[band] != 0 else np.uint64(1)


@jit
def _bucket_pairs(keys, first_band, stop_band, max_bucket, weights):
    """The codes ``(i * n + j) << 3 | weight`` of the pairs of rows each bucket of the bands
    ``first_band:stop_band`` makes, with the weight of the bucket's band (below 8), unordered and
    repeated (a pair shares several bands: 2 to 3 codes a pair). Buckets are found by hashing
    each band's keys into a table of slots, each slot's rows kept in a list in row order; a
    slot's first row, last row and count are side by side, one cache line for the three."""
    n = keys.shape[0]
    room = 1
    while room < 2 * n:
        room <<= 1
    slot_key = np.zeros(room, dtype=keys.dtype)
    slot = np.empty((room, 3), dtype=np.int64)
    following = np.empty(n, dtype=np.int64)
    used = np.empty(n, dtype=np.int64)
    members = np.empty(n, dtype=np.int64)
    codes = np.empty(1 << 20, dtype=np.uint64)
    held = 0
    mask = np.uint64(room - 1)
    for band in range(first_band, stop_band):
        slots = 0
        for r in range(n):
            key = keys[r, band]
            if key == 0:
                continue
            s = (np.uint64(key) * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(20) & mask
            while slot_key[s] != 0 and slot_key[s] != key:
                s = (s + np.uint64(1)) & mask
            if slot_key[s] == 0:
                slot_key[s] = key
                slot[s, 0] = r
                slot[s, 2] = 0
                used[slots] = s
                slots += 1
            else:
                following[slot[s, 1]] = r
            slot[s, 1] = r
            following[r] = -1
            slot[s, 2] += 1
        for u in range(slots):
            s = used[u]
            count = slot[s, 2]
            slot_key[s] = 0
            if count < 2:
                continue
            r = slot[s, 0]
            for m in range(count):
                members[m] = r
                r = following[r]
            first = min(count, max_bucket)
            needed = held + first * count
            if needed > len(codes):
                grown = np.empty(max(len(codes) + len(codes) // 2, needed), dtype=np.uint64)
                grown[:held] = codes[:held]
                codes = grown
            weight = weights[band]
            for x in range(first):
                for y in range(x + 1, count):
                    codes[held] = (np.uint64(members[x] * n + members[y]) << np.uint64(3)) | weight
                    held += 1
    return codes[:held]


@jit
def _runs(codes, shift):
    """Sorted ``_bucket_pairs`` codes made each pair's entry once, in place, over the first
    codes: its code over the sum of its bands' weights (``shift`` bits); how many pairs."""
    n = 0
    for k in range(len(codes)):
        pair = codes[k] >> np.uint64(3)
        weight = codes[k] & np.uint64(7)
        if n and codes[n - 1] >> shift == pair:
            codes[n - 1] += weight
        else:
            codes[n] = (pair << shift) | weight
            n += 1
    return n


@jit
def _union(entries, more, shift):
    """Two sorted lists of distinct pairs' entries as one, the weights of a pair in both summed:
    a view of an array with room for both lists (copying it to its size held the pairs twice;
    pages never written take no memory)."""
    out = np.empty(len(entries) + len(more), dtype=entries.dtype)
    i = j = n = 0
    while i < len(entries) and j < len(more):
        x, y = entries[i] >> shift, more[j] >> shift
        if x < y:
            out[n] = entries[i]
            i += 1
        elif x > y:
            out[n] = more[j]
            j += 1
        else:
            out[n] = entries[i] + (more[j] & ((np.uint64(1) << shift) - np.uint64(1)))
            i += 1
            j += 1
        n += 1
    for k in range(i, len(entries)):
        out[n] = entries[k]
        n += 1
    for k in range(j, len(more)):
        out[n] = more[k]
        n += 1
    return out[:n]


@jit
def _top_partners(entries, shift, rows, bands, limit, ends):
    """Which pairs to keep: every pair of a story with at most ``limit`` partners; of a story
    with more, its ``limit`` partners that share the most of the ``bands`` with it (by weight),
    ties to the lower row. ``ends``, room for two numbers a pair, lists each story's pairs."""
    m = len(entries)
    keep = np.zeros(m, dtype=np.bool_)
    start = np.zeros(rows + 1, dtype=np.int64)
    width = np.uint64(max(rows, 1))
    for p in range(m):
        code = entries[p] >> shift
        start[np.int64(code // width) + 1] += 1
        start[np.int64(code % width) + 1] += 1
    crowded = False
    for r in range(rows):
        crowded = crowded or start[r + 1] > limit
        start[r + 1] += start[r]
    if not crowded:
        keep[:] = True
        return keep
    filled = start[:-1].copy()
    for p in range(m):
        code = entries[p] >> shift
        for r in (np.int64(code // width), np.int64(code % width)):
            ends[filled[r]] = p
            filled[r] += 1
    for r in range(rows):
        own = ends[start[r] : start[r + 1]]
        if len(own) <= limit:
            for p in own:
                keep[p] = True
            continue
        # Most bands first, then the lower row: one sortable number per partner.
        rank = np.empty(len(own), dtype=np.int64)
        for k in range(len(own)):
            code = entries[own[k]] >> shift
            first, second = np.int64(code // width), np.int64(code % width)
            other = second if first == r else first
            weight = np.int64(entries[own[k]] & ((np.uint64(1) << shift) - np.uint64(1)))
            rank[k] = (bands - weight) * (rows + 1) + other
        for k in np.argsort(rank)[:limit]:
            keep[own[k]] = True
    return keep


@jit
def _kept_pairs(entries, shift, keep, rows, out):
    """The pairs (i, j) of the entries kept, in order, into ``out``."""
    width = np.uint64(rows)
    n = 0
    for p in range(len(entries)):
        if keep[p]:
            code = entries[p] >> shift
            out[n, 0] = np.int64(code // width)
            out[n, 1] = np.int64(code % width)
            n += 1


def _keys(row: np.ndarray) -> list[int]:
    return [int(k) for k in row if k]
