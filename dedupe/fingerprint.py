"""Fingerprint: the sets a story is compared on, and their MinHash signatures, made in batches.

Per story: word shingles of the text (what copies share), the content words of its lead (what a
teaser paraphrases), the content words of its title, and its facts (numbers and names: what a
template look-alike changes). Signatures follow datasketch's MinHash permutations; they are computed
for a whole batch at once with numpy, so there is no Python loop per shingle.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

import numpy as np
import regex
from datasketch import MinHash

from dedupe.normalize import is_content, normalized_text, tokenize
from dedupe.settings import Settings
from dedupe.story import Story

_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)
# Odd multipliers that spread each position of a shingle over the whole word.
_POSITION_MULTIPLIERS = np.array(
    [
        0x9E3779B97F4A7C15,
        0xC2B2AE3D27D4EB4F,
        0x165667B19E3779F9,
        0xD6E8FEB86659FD93,
        0xFF51AFD7ED558CCD,
        0xC4CEB9FE1A85EC53,
        0x94D049BB133111EB,
        0xBF58476D1CE4E5B9,
    ],
    dtype=np.uint64,
)
# A name is a capitalised word inside a sentence (after a lower-case word, a digit or a comma), so
# that sentence-initial words ("Nevertheless") are not taken for names.
_NAME = regex.compile(r"(?<=[\p{Ll}\p{Nd},;:]\s+)\p{Lu}[\p{L}\p{M}'-]*\p{L}")


# Word hashes are cached: news vocabulary repeats, and hashing is most of the cost of a word.
_WORD_HASHES: dict[str, int] = {}
_WORD_HASHES_LIMIT = 1 << 21


def mix64(values: np.ndarray) -> np.ndarray:
    """splitmix64's finalizer: an avalanching bijection, so near-equal inputs hash far apart."""
    with np.errstate(over="ignore"):
        values = values ^ (values >> np.uint64(30))
        values = values * np.uint64(0xBF58476D1CE4E5B9)
        values = values ^ (values >> np.uint64(27))
        values = values * np.uint64(0x94D049BB133111EB)
        return values ^ (values >> np.uint64(31))


def hash_words(words: Sequence[str]) -> np.ndarray:
    """Stable 64-bit hashes (blake2b), the same in every process, unlike ``hash()``."""
    cache = _WORD_HASHES
    missing = set(words).difference(cache)
    if missing:
        if len(cache) + len(missing) > _WORD_HASHES_LIMIT:
            cache.clear()
            missing = set(words)
        for word in missing:
            digest = hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest()
            cache[word] = int.from_bytes(digest, "little")
    return np.fromiter(map(cache.__getitem__, words), dtype=np.uint64, count=len(words))


def shingle_hashes(word_hashes: np.ndarray, size: int) -> np.ndarray:
    """Unique hashes of the ``size``-word shingles; a shorter text is one shingle."""
    n = len(word_hashes)
    if n == 0:
        return np.empty(0, dtype=np.uint64)
    size = min(size, n)
    combined = np.zeros(n - size + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for position in range(size):
            combined += (
                word_hashes[position : n - size + 1 + position] * _POSITION_MULTIPLIERS[position]
            )
    return np.unique(mix64(combined))


def facts_of(text: str, words: Sequence[str]) -> frozenset[str]:
    """Numbers (two digits or more, or decimals) and names: what a story reports, not its wording.

    ``text`` is cleaned running text: names come from it only, since a headline in title case
    capitalises every word. Number tokens are all digits, with a decimal point at most.
    """
    numbers = {w for w in set(words) if w[0].isdigit() and len(w) > 1}
    names = {m.group().casefold() for m in _NAME.finditer(text)}
    return frozenset(numbers | names)


@dataclass(slots=True)
class Fingerprint:
    """What the later stages know of a story. ``words`` is the text (the title when there is no
    body); ``content`` the hashes of its content words in order, at ``content_positions``; the
    sets (shingles, lead, title) are sorted unique uint64 hashes."""

    story: Story
    words: tuple[str, ...]
    display: tuple[str, ...]
    title_words: tuple[str, ...]
    truncated: bool
    text_key: str
    shingles: np.ndarray
    content: np.ndarray
    content_positions: np.ndarray
    lead: np.ndarray
    title: np.ndarray
    facts: frozenset[str]
    published: datetime | None

    @property
    def id(self) -> str:
        return self.story.id

    @property
    def size(self) -> int:
        return len(self.words)


def fingerprint_story(story: Story, settings: Settings) -> Fingerprint:
    body = tokenize(story.body, settings.max_tokens)
    title = tokenize(story.title, settings.max_tokens)
    text = body if body.words else title
    word_hashes = hash_words(text.words)
    content_words = [w for w in set(text.words) if is_content(w)]
    positions = np.flatnonzero(np.isin(word_hashes, hash_words(content_words)))
    content = word_hashes[positions]
    title_content = [w for w in title.words if is_content(w)] or list(title.words)
    text_key = hashlib.blake2b(
        (normalized_text(title.words) + "\n" + normalized_text(body.words)).encode("utf-8"),
        digest_size=16,
    ).hexdigest()
    return Fingerprint(
        story=story,
        words=text.words,
        display=text.display,
        title_words=title.words,
        truncated=body.truncated,
        text_key=text_key,
        shingles=shingle_hashes(word_hashes, settings.shingle_size),
        content=content,
        content_positions=positions,
        lead=np.unique(content[positions < settings.lead_tokens]),
        title=np.unique(hash_words(title_content)),
        facts=facts_of(body.text or title.text, title.words + body.words),
        published=story.published_at(),
    )


def fingerprint(stories: Sequence[Story], settings: Settings) -> list[Fingerprint]:
    return [fingerprint_story(story, settings) for story in stories]


@lru_cache(maxsize=8)
def _permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    a, b = MinHash(num_perm=num_perm, seed=seed).permutations
    return a.astype(np.uint32), b.astype(np.uint32)


def signatures(sets: Sequence[np.ndarray], num_perm: int, seed: int) -> np.ndarray:
    """MinHash signatures of many sets at once: an (n, num_perm) uint32 matrix.

    The affine permutations are datasketch's (``a * h + b`` modulo 2^32); an empty set gets the
    all-ones signature, which callers must leave out of the index. One permutation at a time over
    all values of the batch keeps numpy on contiguous vectors (30x faster than a 2-D matrix).
    """
    a, b = _permutations(num_perm, seed)
    out = np.full((len(sets), num_perm), np.iinfo(np.uint32).max, dtype=np.uint32)
    lengths = np.fromiter((len(s) for s in sets), dtype=np.int64, count=len(sets))
    nonempty = np.flatnonzero(lengths)
    if len(nonempty) == 0:
        return out
    values = np.concatenate([sets[i] for i in nonempty]).astype(np.uint32)
    offsets = np.concatenate([[0], np.cumsum(lengths[nonempty])[:-1]])
    for p in range(num_perm):
        with np.errstate(over="ignore"):
            permuted = values * a[p] + b[p]
        out[nonempty, p] = np.minimum.reduceat(permuted, offsets)
    return out
