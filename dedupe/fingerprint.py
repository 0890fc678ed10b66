"""Fingerprint: what the later stages compare stories on, for a whole batch at once.

A batch's fingerprints are one set of flat arrays (``Prints``), not an object per story: the word
hashes of each story in order (one uint32 each, the top bit marking a content word), and the sets
derived from them once, here: the word 3-shingles (what copies share), the content words (what a
teaser paraphrases), the facts (numbers and names: what a template look-alike changes) and the
headline's words; plus the normalized title, a key of the whole normalized text (exact copies),
and the date. A million stories take a few hundred bytes each. MinHash signatures follow
datasketch's affine permutations and are computed for a batch in one compiled loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from functools import lru_cache

import numpy as np

from dedupe.compiled import in_threads, is_compiled, jit
from dedupe.normalize import (
    ALPHA,
    COMMON_WORDS,
    CONTENT_BIT,
    HASH_BITS,
    NUMBER,
    Tokenized,
    clean_and_tokenize,
    hash_table,
    hash_words,
)
from dedupe.rows import (
    Rows,
    distinct,
    gather,
    release_freed,
    scatter_order,
    sets_of,
    sort_rows,
    unique_rows,
)
from dedupe.settings import Settings
from dedupe.story import Story

# A story with no date; dates are microseconds since the epoch, UTC.
NO_DATE = np.iinfo(np.int64).min
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Topics read a story's title and the content words of its lead: enough to say what it is about.
_TOPIC_WORDS = 60
# Odd multipliers that spread each position of a shingle over the whole word.
_POSITION_MULTIPLIERS = np.array(
    [0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xD6E8FEB86659FD93,
     0xFF51AFD7ED558CCD, 0xC4CEB9FE1A85EC53, 0x94D049BB133111EB, 0xBF58476D1CE4E5B9],
    dtype=np.uint64,
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Prints:
    """The fingerprints of ``len(self)`` stories, row ``i`` for story ``i``.

    The text is the body (the title when there is none); ``size`` is its number of words.
    ``shingles``, ``content``, ``numbers``, ``names``, ``title_words``: sorted sets of 31-bit
    hashes; ``first_seen``, beside ``content``, the position of each content word's first
    occurrence in the text (16 bits: ``Settings.max_tokens`` is at most 65,535), so that the
    lead of any length is a subset of ``content``; ``topic_words``: the words topics are made
    of, in order, repeats kept. ``text_key`` is 128 bits of the normalized title and text: equal
    keys, the same text. ``published`` is microseconds since the epoch, ``NO_DATE`` when
    undated. The words themselves, in order, are not kept: every later stage reads these sets.
    """

    size: np.ndarray
    shingles: Rows
    content: Rows
    first_seen: Rows
    numbers: Rows
    names: Rows
    title_words: Rows
    topic_words: Rows
    title_text: tuple[str, ...]
    text_key: np.ndarray
    truncated: np.ndarray
    headline_only: np.ndarray
    published: np.ndarray

    def __len__(self) -> int:
        return len(self.truncated)

    def take(self, rows: np.ndarray) -> Prints:
        """These stories' fingerprints, in this order."""
        rows = np.asarray(rows, dtype=np.int64)
        taken = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Rows):
                taken[f.name] = value.take(rows)
            elif isinstance(value, tuple):
                taken[f.name] = tuple(value[r] for r in rows.tolist())
            else:
                taken[f.name] = value[rows]
        return Prints(**taken)

    @staticmethod
    def concat(parts: Sequence[Prints]) -> Prints:
        """The stories of every part, one part after the other: a few stories (a draft and
        its candidates), whose memory is not worth giving back to the system."""
        if len(parts) == 1:
            return parts[0]
        order = np.arange(sum(len(p) for p in parts))
        return Prints.gather(list(parts), order, release=False)

    @staticmethod
    def gather(parts: list[Prints], order: np.ndarray, release: bool = True) -> Prints:
        """The stories of every part, one part after the other, then taken in ``order``: each
        value is copied once, straight to its place. ``parts`` is emptied, and each part's
        arrays let go as soon as they are copied, and with ``release`` their memory given back
        to the system as a field is gathered and after it (``release_freed``, which walks the
        whole heap): a million stories' fingerprints are held once, not twice."""
        order = np.asarray(order, dtype=np.int64)
        columns = {f.name: [getattr(p, f.name) for p in parts] for f in fields(Prints)}
        parts.clear()
        joined: dict[str, object] = {}
        for name in list(columns):
            values = columns.pop(name)
            if isinstance(values[0], Rows):
                joined[name] = gather(values, order, release)
            elif isinstance(values[0], tuple):
                every = [t for value in values for t in value]
                joined[name] = tuple(every[r] for r in order.tolist())
            else:
                joined[name] = scatter_order(values, order)
            del values
            if release:
                release_freed()
        return Prints(**joined)  # type: ignore[arg-type]


def micros(moment: datetime | None) -> int:
    """A moment as microseconds since the epoch; ``NO_DATE`` for None."""
    if moment is None:
        return int(NO_DATE)
    return (moment - _EPOCH) // _MICROSECOND


_MICROSECOND = timedelta(microseconds=1)


def fingerprint(
    stories: Sequence[Story], settings: Settings, words: dict[int, str] | None = None
) -> Prints:
    """The fingerprints of a batch of stories.

    With ``words``, the topic words are found, and the text of every one not yet in ``words``
    is added to it (hash -> word): topics are labelled with words, and only hashes leave this
    stage. Without, ``topic_words`` is empty: a scan without topics and the streaming index
    need none (a fifth of a fingerprint's memory).
    """
    count = len(stories)
    # Texts alternate: title 2i, body 2i + 1.
    texts: list[str] = [""] * (2 * count)
    texts[0::2] = [story.title for story in stories]
    texts[1::2] = [story.body for story in stories]
    titles = np.zeros(2 * count, dtype=np.bool_)
    titles[0::2] = True
    batch, cut = clean_and_tokenize(texts, settings.max_tokens, normalized=titles)
    truncated = cut[1::2].copy()
    has_body = np.diff(batch.offsets)[1::2] > 0
    # The text is the body; a story that is only a headline is its title.
    title = 2 * np.arange(count, dtype=np.int64)
    text = title + has_body
    main = np.zeros(2 * count, dtype=np.bool_)
    main[text] = True
    names, name_offsets = batch.names_in(main)
    codes = Rows(batch.codes, batch.offsets)
    tokens = codes.take(text)
    topic_words = Rows.empty(count)
    if words is not None:
        topic_values, topic_words_offsets, topic_tokens = _topic_rows(batch, has_body)
        _learn(words, batch, topic_values, topic_tokens)
        topic_words = Rows(topic_values, topic_words_offsets)
    content, first_seen = _content_rows(tokens)
    return Prints(
        size=tokens.lengths.astype(np.int32),
        shingles=_shingle_rows(tokens, settings.shingle_size),
        content=content,
        first_seen=first_seen,
        numbers=_number_rows(batch),
        names=unique_rows(Rows(names, name_offsets[0::2])),
        title_words=unique_rows(_title_words(codes.take(title))),
        topic_words=topic_words,
        title_text=tuple(batch.normalized[0::2]),
        text_key=_text_keys(batch.keys),
        truncated=truncated,
        headline_only=~has_body,
        published=np.fromiter(
            (micros(story.published_at()) for story in stories), dtype=np.int64, count=count
        ),
    )


def _shingle_rows(tokens: Rows, size: int) -> Rows:
    """Each row's distinct ``size``-word shingles, sorted. Every row is sorted at once, as one
    array of (row, shingle) keys: numpy's vectorized sort took a fifth of the time that numba's
    sort took row by row."""
    lengths = tokens.lengths
    offsets = np.zeros(len(tokens) + 1, dtype=np.int64)
    np.cumsum(np.where(lengths > 0, lengths - np.minimum(lengths, size) + 1, 0), out=offsets[1:])
    keys = np.empty(int(offsets[-1]), dtype=np.uint64)
    _shingle_keys(tokens.values, tokens.offsets, size, keys)
    sort_rows(keys, offsets)
    return sets_of(keys, len(tokens))


# Rows sorted at once for content words: a key holds the row (17 bits), the word's hash (31)
# and its position (16).
_CONTENT_ROWS = 1 << 17


def _number_rows(batch: Tokenized) -> Rows:
    """Each story's distinct numbers, of its title and its body: a story's two texts are
    neighbours in the batch. Sorted at once, like the shingles."""
    stories = batch.offsets[0::2]
    keys = np.empty(len(batch.codes), dtype=np.uint64)
    keys = keys[: _number_keys(batch.codes, batch.kinds, stories, keys)]
    keys.sort()
    return sets_of(keys, len(stories) - 1)


def _content_rows(tokens: Rows) -> tuple[Rows, Rows]:
    """Each row's distinct content words, sorted, and the position of each one's first
    occurrence beside it. Rows are sorted by (row, hash, position) keys, like the shingles,
    ``_CONTENT_ROWS`` at most in one array of keys."""
    values, first, sizes = [], [], []
    for start in range(0, max(len(tokens), 1), _CONTENT_ROWS):
        part = tokens
        if len(tokens) > _CONTENT_ROWS:
            part = tokens.take(np.arange(start, min(start + _CONTENT_ROWS, len(tokens))))
        keys = np.empty(len(part.values), dtype=np.uint64)
        rows = np.zeros(len(part) + 1, dtype=np.int64)
        keys = keys[: _content_keys(part.values, part.offsets, keys, rows)]
        sort_rows(keys, rows)
        values.append(np.empty(len(keys), dtype=np.uint32))
        first.append(np.empty(len(keys), dtype=np.uint16))
        sizes.append(np.zeros(len(part), dtype=np.int64))
        n = _first_seen(keys, values[-1], first[-1], sizes[-1])
        values[-1], first[-1] = values[-1][:n], first[-1][:n]
    offsets = np.zeros(len(tokens) + 1, dtype=np.int64)
    np.cumsum(np.concatenate(sizes), out=offsets[1:])
    if len(values) == 1:
        return Rows(values[0], offsets), Rows(first[0], offsets)
    return Rows(np.concatenate(values), offsets), Rows(np.concatenate(first), offsets)


def _topic_rows(
    batch: Tokenized, has_body: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The words topics are made of (``_topic_words``), their offsets, and their tokens."""
    out = np.empty(len(batch.codes), dtype=np.uint32)
    source = np.empty(len(batch.codes), dtype=np.int64)
    offsets = np.zeros(len(has_body) + 1, dtype=np.int64)
    n = _topic_words(
        batch.codes, batch.kinds, batch.offsets, has_body, 2 * _TOPIC_WORDS, _TOPIC_WORDS,
        out, source, offsets,
    )  # fmt: skip
    return out[:n], offsets, source[:n]


def _title_words(titles: Rows) -> Rows:
    """The content words of each title, or all its words when it has none."""
    content = (titles.values & np.uint32(CONTENT_BIT)) != 0
    row = np.repeat(np.arange(len(titles)), titles.lengths)
    has_content = np.zeros(len(titles), dtype=np.bool_)
    has_content[row[content]] = True
    kept = titles.where(content | ~has_content[row])
    return Rows(kept.values & np.uint32(HASH_BITS), kept.offsets)


def _text_keys(keys: np.ndarray) -> np.ndarray:
    """One 128-bit key of each story's title and body keys (texts 2i and 2i + 1)."""
    with np.errstate(over="ignore"):
        return np.stack(
            [
                mix64(keys[0::2, 0] ^ (keys[1::2, 0] * np.uint64(0x9E3779B97F4A7C15))),
                mix64(keys[0::2, 1] + keys[1::2, 1] * np.uint64(0xC2B2AE3D27D4EB4F)),
            ],
            axis=1,
        )


def _learn(words: dict[int, str], batch: Tokenized, values: np.ndarray, tokens: np.ndarray) -> None:
    """Add the text of the topic words ``words`` lacks, case-folded, all decoded at once."""
    # Each distinct word and its first occurrence, as ``np.unique(values, return_index=True)``
    # finds them, from one sort of (word, position) keys: a fifth of the time.
    keys = (values.astype(np.uint64) << np.uint64(32)) | np.arange(len(values), dtype=np.uint64)
    keys.sort()
    words_of = keys >> np.uint64(32)
    head = np.ones(len(keys), dtype=np.bool_)
    np.not_equal(words_of[1:], words_of[:-1], out=head[1:])
    found = words_of[head].astype(values.dtype)
    first = (keys[head] & np.uint64(0xFFFFFFFF)).astype(np.int64)
    new = [k for k, value in enumerate(found.tolist()) if value not in words]
    if new:
        folded = batch.folded(tokens[first[new]]).split("\n")
        words.update(zip(found[new].tolist(), folded, strict=True))


def mix64(values: np.ndarray) -> np.ndarray:
    """splitmix64's finalizer: an avalanching bijection, so near-equal inputs hash far apart."""
    with np.errstate(over="ignore"):
        values = values ^ (values >> np.uint64(30))
        values = values * np.uint64(0xBF58476D1CE4E5B9)
        values = values ^ (values >> np.uint64(27))
        values = values * np.uint64(0x94D049BB133111EB)
        return values ^ (values >> np.uint64(31))


def distinctive(sets: Rows) -> Rows:
    """Each set without the common news words (``COMMON_WORDS``), unless nothing else is left:
    what the candidate channels band, so that a shared beat is no match."""
    values = np.empty(len(sets.values), dtype=np.uint32)
    offsets = np.zeros(len(sets) + 1, dtype=np.int64)
    n = _distinctive(sets.values, sets.offsets, _common_table(), values, offsets)
    return Rows(values[:n], offsets)


@lru_cache(maxsize=1)
def _common_table() -> np.ndarray:
    """The common words' hashes in an open-addressing table, probed in ``_distinctive``: a
    search of the sorted hashes for each word was most of the channels' time."""
    return hash_table(distinct(hash_words(sorted(COMMON_WORDS))), _COMMON_SLOTS, _NO_WORD)


# Slots of the common words' table (a power of two, a fifth of them taken), and the mark of an
# empty one: no 31-bit hash.
_COMMON_SLOTS = 1024
_NO_WORD = np.uint32(0xFFFFFFFF)


def leads(prints: Prints, window: int) -> Rows:
    """The distinct content words among the first ``window`` words of each story."""
    values = np.empty(len(prints.content.values), dtype=np.uint32)
    offsets = np.zeros(len(prints) + 1, dtype=np.int64)
    n = _leads(
        prints.content.values, prints.first_seen.values, prints.content.offsets, window, values,
        offsets,
    )  # fmt: skip
    return Rows(values[:n], offsets)


@lru_cache(maxsize=8)
def _permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The affine permutations of datasketch 2's MinHash (scheme "affine32"), drawn the same way
    (``a * h + b`` modulo 2^32, ``a`` odd, so each is a bijection), without importing it."""
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return a, b


def signatures(sets: Rows, num_perm: int, seed: int, count: int | None = None) -> np.ndarray:
    """MinHash signatures of many sets at once: an (n, count) uint32 matrix, the first ``count``
    (default all) of ``num_perm`` permutations, for a channel that bands fewer than all. An empty
    set gets the all-ones signature, which callers must leave out of the index."""
    a, b = _permutations(num_perm, seed)
    a, b = a[:count], b[:count]
    out = np.full((len(sets), len(a)), np.iinfo(np.uint32).max, dtype=np.uint32)
    if not is_compiled():
        # A few stories (a draft and its candidates): one 2-D operation, not a loop per value.
        nonempty = np.flatnonzero(sets.lengths)
        if len(nonempty):
            values = sets.take(nonempty)
            with np.errstate(over="ignore"):
                permuted = values.values[:, None] * a + b
            out[nonempty] = np.minimum.reduceat(permuted, values.offsets[:-1], axis=0)
        return out

    def work(start: int, stop: int) -> None:
        _minhash(sets.values, sets.offsets, a, b, out, start, stop)

    in_threads(work, len(sets))
    return out


# --- compiled loops --------------------------------------------------------------------------


@jit
def _shingle_keys(tokens, offsets, size, keys):
    """Each row's ``size``-word shingles (a shorter text is one shingle), in order, written to
    ``keys`` with the row above each: ``row << 32 | shingle``."""
    n = 0
    mask = np.uint64(HASH_BITS)
    for r in range(len(offsets) - 1):
        first, stop = offsets[r], offsets[r + 1]
        words = stop - first
        if words == 0:
            continue
        width = min(size, words)
        high = np.uint64(r) << np.uint64(32)
        for i in range(first, stop - width + 1):
            combined = np.uint64(0)
            for k in range(width):
                combined += (np.uint64(tokens[i + k]) & mask) * _POSITION_MULTIPLIERS[k]
            combined ^= combined >> np.uint64(30)
            combined *= np.uint64(0xBF58476D1CE4E5B9)
            combined ^= combined >> np.uint64(27)
            combined *= np.uint64(0x94D049BB133111EB)
            combined ^= combined >> np.uint64(31)
            keys[n] = high | (combined & np.uint64(0xFFFFFFFF))
            n += 1
    return n


@jit
def _number_keys(codes, kinds, offsets, keys):
    """The numbers of each row as ``row << 32 | hash``, to ``keys``; how many."""
    n = 0
    for r in range(len(offsets) - 1):
        high = np.uint64(r) << np.uint64(32)
        for t in range(offsets[r], offsets[r + 1]):
            if kinds[t] & NUMBER:
                keys[n] = high | np.uint64(codes[t] & np.uint32(HASH_BITS))
                n += 1
    return n


@jit
def _content_keys(tokens, offsets, keys, rows):
    """The content words of each row as ``row << 47 | hash << 16 | position``, cut by ``rows``:
    sorted, each word's first occurrence comes first. How many."""
    n = 0
    for r in range(len(offsets) - 1):
        start, stop = offsets[r], offsets[r + 1]
        high = np.uint64(r) << np.uint64(47)
        for t in range(start, stop):
            # Written whatever the token, kept by moving on only after a content word: half
            # the words are, and a branch on it was hard to predict.
            hashed = np.uint64(tokens[t] & np.uint32(HASH_BITS))
            keys[n] = high | (hashed << np.uint64(16)) | np.uint64(t - start)
            n += np.int64(tokens[t] >> np.uint32(31))
        rows[r + 1] = n
    return n


@jit
def _first_seen(keys, values, first, sizes):
    """From sorted ``_content_keys``: each row's distinct words to ``values``, the position of
    the first occurrence of each to ``first``, and how many each row has to ``sizes``."""
    n = 0
    for i in range(len(keys)):
        word = keys[i] >> np.uint64(16)
        new = np.int64(i == 0 or word != keys[i - 1] >> np.uint64(16))
        values[n] = np.uint32(word & np.uint64(HASH_BITS))
        first[n] = np.uint16(keys[i] & np.uint64(0xFFFF))
        sizes[word >> np.uint64(31)] += new
        n += new
    return n


@jit
def _topic_words(codes, kinds, offsets, has_body, window, limit, out, source, new):
    """Per story: the lettered content words of its title (when it has a body), then of the
    first ``limit`` content words among the first ``window`` words of its text, written to
    ``out`` with the token each came from in ``source``, cut by ``new``; how many. Numbers count
    towards ``limit`` but are left out: they name no topic."""
    count = len(has_body)
    n = 0
    content = np.uint32(CONTENT_BIT)
    mask = np.uint32(HASH_BITS)
    for s in range(count):
        if has_body[s]:
            for t in range(offsets[2 * s], offsets[2 * s + 1]):
                if codes[t] & content and kinds[t] & ALPHA:
                    out[n] = codes[t] & mask
                    source[n] = t
                    n += 1
        text = 2 * s + 1 if has_body[s] else 2 * s
        taken = 0
        for t in range(offsets[text], min(offsets[text + 1], offsets[text] + window)):
            if taken == limit:
                break
            if codes[t] & content:
                taken += 1
                if kinds[t] & ALPHA:
                    out[n] = codes[t] & mask
                    source[n] = t
                    n += 1
        new[s + 1] = n
    return n


@jit
def _distinctive(values, offsets, common, out, new):
    """``distinctive``: each row's values not in the table ``common``, or all of them when none
    is left; written to ``out``, cut by ``new``; how many."""
    mask = len(common) - 1
    n = 0
    for r in range(len(offsets) - 1):
        first, stop = offsets[r], offsets[r + 1]
        row = n
        for i in range(first, stop):
            slot = values[i] & mask
            while common[slot] != _NO_WORD and common[slot] != values[i]:
                slot = (slot + 1) & mask
            if common[slot] == _NO_WORD:
                out[n] = values[i]
                n += 1
        if n == row:
            out[n : n + stop - first] = values[first:stop]
            n += stop - first
        new[r + 1] = n
    return n


@jit
def _leads(values, first_seen, offsets, window, out, new):
    """``leads``: each row's values first seen before ``window``, to ``out``, cut by ``new``."""
    n = 0
    for r in range(len(offsets) - 1):
        for i in range(offsets[r], offsets[r + 1]):
            if first_seen[i] < window:
                out[n] = values[i]
                n += 1
        new[r + 1] = n
    return n


@jit
def _minhash(values, offsets, a, b, out, start, stop):
    """The signatures of sets ``start:stop`` to ``out``, two values at a time: each
    permutation's minimum is then read and written once for both, a third less work."""
    k = len(a)
    mask = np.uint64(0xFFFFFFFF)
    for s in range(start, stop):
        row = out[s]
        i, end = offsets[s], offsets[s + 1]
        while i < end:
            v = np.uint64(values[i])
            w = np.uint64(values[i + 1] if i + 1 < end else values[i])
            for p in range(k):
                x = np.uint32((np.uint64(a[p]) * v + np.uint64(b[p])) & mask)
                y = np.uint32((np.uint64(a[p]) * w + np.uint64(b[p])) & mask)
                row[p] = min(row[p], min(x, y))
            i += 2
