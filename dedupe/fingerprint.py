"""Fingerprint: what a story is compared on, kept small, and its MinHash signatures in batches.

Per story the fingerprint keeps the hashes of its words in order (one uint32 each, the top bit
marking a content word), from which the later stages derive the word shingles (what copies share),
the content words of the lead (what a teaser paraphrases) and their positions; the normalized
title; and the facts (numbers and names: what a template look-alike changes). That is a few
kilobytes a story, so a million stories fit in memory. Signatures follow datasketch's MinHash
permutations and are computed for a whole batch at once with numpy, with no Python loop per shingle.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

import numpy as np
import regex

from dedupe.normalize import COMMON_WORDS, is_content, normalized_text, tokenize
from dedupe.settings import Settings
from dedupe.story import Story

_CONTENT_BIT = np.uint32(1 << 31)
_NO_WORDS = np.empty(0, dtype=np.uint32)
_NO_WORDS.flags.writeable = False
_HASH_BITS = np.uint32((1 << 31) - 1)
# Odd multipliers that spread each position of a shingle over the whole word.
_POSITION_MULTIPLIERS = np.array(
    [0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xD6E8FEB86659FD93,
     0xFF51AFD7ED558CCD, 0xC4CEB9FE1A85EC53, 0x94D049BB133111EB, 0xBF58476D1CE4E5B9],
    dtype=np.uint64,
)  # fmt: skip
# A name is a capitalised word inside a sentence (after a lower-case word, a digit or a comma), so
# that sentence-initial words ("Nevertheless") are not taken for names.
_NAME = regex.compile(r"(?<=[\p{Ll}\p{Nd},;:]\s+)\p{Lu}[\p{L}\p{M}'-]*\p{L}")
# Topics read a story's title and the content words of its lead: enough to say what it is about.
_TOPIC_WORDS = 60

# Word hashes are cached: news vocabulary repeats, and hashing is most of the cost of a word. Token
# codes are the hashes with the content bit, which is a property of the word too.
_WORD_HASHES: dict[str, int] = {}
_TOKEN_CODES: dict[str, int] = {}
_CACHE_LIMIT = 1 << 21


def _hash(word: str) -> int:
    digest = hashlib.blake2b(word.encode("utf-8"), digest_size=4).digest()
    return int.from_bytes(digest, "little") & 0x7FFFFFFF


def _code(word: str) -> int:
    return _hash(word) | int(_CONTENT_BIT) if is_content(word) else _hash(word)


def _cached(
    words: Sequence[str], cache: dict[str, int], compute: Callable[[str], int]
) -> np.ndarray:
    missing = set(words).difference(cache)
    if missing:
        if len(cache) + len(missing) > _CACHE_LIMIT:
            cache.clear()
            missing = set(words)
        cache.update((word, compute(word)) for word in missing)
    try:
        return np.fromiter(map(cache.__getitem__, words), dtype=np.uint32, count=len(words))
    except KeyError:
        # Another thread (a crawler's) cleared the cache between our update and this read.
        return np.fromiter(map(compute, words), dtype=np.uint32, count=len(words))


def hash_words(words: Sequence[str]) -> np.ndarray:
    """Stable 31-bit word hashes (blake2b), the same in every process, unlike ``hash()``."""
    return _cached(words, _WORD_HASHES, _hash)


def token_codes(words: Sequence[str]) -> np.ndarray:
    """The words' hashes with the top bit set on content words."""
    return _cached(words, _TOKEN_CODES, _code)


def distinctive(words: np.ndarray) -> np.ndarray:
    """A sorted set of word hashes without the common news words (``COMMON_WORDS``), unless
    nothing else is left: what the candidate channels band, so that a shared beat is no match."""
    rest = words[~np.isin(words, _common_hashes(), assume_unique=True)]
    return rest if len(rest) else words


@lru_cache(maxsize=1)
def _common_hashes() -> np.ndarray:
    return np.unique(hash_words(sorted(COMMON_WORDS)))


def mix64(values: np.ndarray) -> np.ndarray:
    """splitmix64's finalizer: an avalanching bijection, so near-equal inputs hash far apart."""
    with np.errstate(over="ignore"):
        values = values ^ (values >> np.uint64(30))
        values = values * np.uint64(0xBF58476D1CE4E5B9)
        values = values ^ (values >> np.uint64(27))
        values = values * np.uint64(0x94D049BB133111EB)
        return values ^ (values >> np.uint64(31))


def shingle_hashes(word_hashes: np.ndarray, size: int) -> np.ndarray:
    """Unique uint32 hashes of the ``size``-word shingles; a shorter text is one shingle."""
    n = len(word_hashes)
    if n == 0:
        return np.empty(0, dtype=np.uint32)
    size = min(size, n)
    words = word_hashes.astype(np.uint64)
    combined = np.zeros(n - size + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for position in range(size):
            combined += words[position : n - size + 1 + position] * _POSITION_MULTIPLIERS[position]
    return np.unique(mix64(combined).astype(np.uint32))


def facts_of(text: str, words: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """What a story reports, not its wording: the hashes of its numbers (two digits or more, or
    decimals) and of its names.

    ``text`` is cleaned running text: names come from it only, since a headline in title case
    capitalises every word. Number tokens are all digits, with a decimal point at most.
    """
    numbers = [w for w in set(words) if w[0].isdigit() and len(w) > 1]
    names = list({m.group().casefold() for m in _NAME.finditer(text)})
    return np.unique(hash_words(numbers)), np.unique(hash_words(names))


@dataclass(slots=True, eq=False)
class Fingerprint:
    """What the later stages know of a story, without its text.

    ``tokens`` holds one hash per word of the text (the title when there is no body), in order,
    with the top bit set on content words; ``numbers`` and ``names`` the sorted hashes of its
    facts.
    """

    id: str
    title: str
    title_text: str
    tokens: np.ndarray
    truncated: bool
    headline_only: bool
    text_key: bytes
    numbers: np.ndarray
    names: np.ndarray
    published: datetime | None
    topic_words: tuple[str, ...]
    # Derived sets, made on first use: a story in many candidate pairs makes them once.
    _shingles: np.ndarray | None = field(default=None, repr=False)
    _words: np.ndarray | None = field(default=None, repr=False)

    @property
    def size(self) -> int:
        return len(self.tokens)

    def shingles(self, settings: Settings) -> np.ndarray:
        if self._shingles is None:
            self._shingles = shingle_hashes(self.tokens & _HASH_BITS, settings.shingle_size)
        return self._shingles

    def forget_words(self) -> None:
        """Drop the word hashes and the sets made from them, keeping id, titles and topic words:
        the end of a scan needs no more."""
        self.tokens = self.numbers = self.names = _NO_WORDS
        self._shingles = self._words = None

    def content_set(self) -> np.ndarray:
        """The distinct content words of the whole text."""
        if self._words is None:
            self._words = np.unique(self.content()[0])
        return self._words

    def content(self) -> tuple[np.ndarray, np.ndarray]:
        """The content words' hashes, in order, and their positions in the text."""
        positions = np.flatnonzero(self.tokens & _CONTENT_BIT)
        return self.tokens[positions] & _HASH_BITS, positions

    def lead(self, window: int) -> np.ndarray:
        """The content words among the first ``window`` words, as a set."""
        head = self.tokens[:window]
        return np.unique(head[(head & _CONTENT_BIT) != 0] & _HASH_BITS)

    def title_set(self) -> np.ndarray:
        words = self.title_text.split()
        return np.unique(hash_words([w for w in words if is_content(w)] or words))


def fingerprint_story(story: Story, settings: Settings) -> Fingerprint:
    body = tokenize(story.body, settings.max_tokens)
    title = tokenize(story.title, settings.max_tokens)
    text = body if body.words else title
    tokens = token_codes(text.words)
    title_text = normalized_text(title.words)
    text_key = hashlib.blake2b(
        (title_text + "\n" + normalized_text(body.words)).encode("utf-8"), digest_size=16
    ).digest()
    lead = [w for w in text.words[: _TOPIC_WORDS * 2] if is_content(w)][:_TOPIC_WORDS]
    topic_words = [w for w in title.words if is_content(w)] + lead if body.words else lead
    numbers, names = facts_of(body.text or title.text, title.words + body.words)
    return Fingerprint(
        id=story.id,
        title=story.title,
        title_text=title_text,
        tokens=tokens,
        truncated=body.truncated,
        headline_only=not body.words,
        text_key=text_key,
        numbers=numbers,
        names=names,
        published=story.published_at(),
        topic_words=tuple(map(sys.intern, topic_words)),
    )


def fingerprint(stories: Sequence[Story], settings: Settings) -> list[Fingerprint]:
    return [fingerprint_story(story, settings) for story in stories]


# Up to this many values x permutations, signatures are one 2-D operation (a few MB).
_BROADCAST_LIMIT = 1 << 20


@lru_cache(maxsize=8)
def _permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The affine permutations of datasketch 2's MinHash (scheme "affine32"), drawn the same way:
    importing datasketch took a third of a second of every ``dedupe check``, and indexes on
    disk hold band keys made from exactly these. ``a`` is odd, so ``a * h + b`` is a bijection."""
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return a, b


def signatures(
    sets: Sequence[np.ndarray], num_perm: int, seed: int, count: int | None = None
) -> np.ndarray:
    """MinHash signatures of many sets at once: an (n, count) uint32 matrix, the first ``count``
    (default all) of ``num_perm`` permutations, for a channel that bands fewer than all.

    The affine permutations are datasketch's (``a * h + b`` modulo 2^32); an empty set gets the
    all-ones signature, which callers must leave out of the index. One permutation at a time over
    all values of the batch keeps numpy on contiguous vectors (30x faster than a 2-D matrix).
    """
    a, b = _permutations(num_perm, seed)
    a, b = a[:count], b[:count]
    out = np.full((len(sets), len(a)), np.iinfo(np.uint32).max, dtype=np.uint32)
    lengths = np.fromiter((len(s) for s in sets), dtype=np.int64, count=len(sets))
    nonempty = np.flatnonzero(lengths)
    if len(nonempty) == 0:
        return out
    values = np.concatenate([sets[i] for i in nonempty]).astype(np.uint32)
    offsets = np.concatenate([[0], np.cumsum(lengths[nonempty])[:-1]])
    if len(values) * len(a) <= _BROADCAST_LIMIT:
        # A few stories (a crawler's add or check): one 2-D operation beats one per permutation.
        with np.errstate(over="ignore"):
            permuted = values[:, None] * a + b
        out[nonempty] = np.minimum.reduceat(permuted, offsets, axis=0)
        return out
    for p in range(len(a)):
        with np.errstate(over="ignore"):
            permuted = values * a[p] + b[p]
        out[nonempty, p] = np.minimum.reduceat(permuted, offsets)
    return out
