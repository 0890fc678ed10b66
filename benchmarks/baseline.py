"""The plain datasketch recipe that dedupe is measured against.

Word 5-shingles of the lowercased title and body, 128-permutation MinHash, ``MinHashLSH`` at a
Jaccard threshold of 0.5; every story is queried and each match is a predicted duplicate pair, and
the connected components of those pairs are its groups. This is the recipe most near-duplicate
pipelines start from, with nothing tuned for news, so the gap to it is what dedupe adds.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from datasketch import MinHash, MinHashLSH

from dedupe.story import Story

SHINGLE_WORDS = 5
NUM_PERM = 128
THRESHOLD = 0.5
WORD = re.compile(r"\w+")


def shingles(story: Story) -> set[bytes]:
    """Word 5-shingles of title and body; a text shorter than five words is one shingle."""
    words = WORD.findall(f"{story.title} {story.body}".lower())
    if len(words) < SHINGLE_WORDS:
        return {" ".join(words).encode()} if words else set()
    return {
        " ".join(words[start : start + SHINGLE_WORDS]).encode()
        for start in range(len(words) - SHINGLE_WORDS + 1)
    }


@dataclass(frozen=True, slots=True)
class BaselineResult:
    """Matched pairs (each sorted) and the connected components of size two or more."""

    pairs: frozenset[tuple[str, str]]
    groups: tuple[tuple[str, ...], ...]


def connected_components(
    ids: Iterable[str], pairs: Iterable[tuple[str, str]]
) -> tuple[tuple[str, ...], ...]:
    """Components of two or more ids, each sorted, in order of their first id."""
    parent = {story_id: story_id for story_id in ids}

    def root(node: str) -> str:
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for a, b in pairs:
        first, second = sorted((root(a), root(b)))
        parent[second] = first
    members: dict[str, list[str]] = {}
    for story_id in parent:
        members.setdefault(root(story_id), []).append(story_id)
    return tuple(sorted(tuple(sorted(group)) for group in members.values() if len(group) > 1))


def scan(stories: Sequence[Story]) -> BaselineResult:
    """Run the recipe over a corpus. Stories without a single word are left out of the index:
    their empty signatures would all match one another."""
    indexed = [(story.id, words) for story in stories if (words := shingles(story))]
    signatures = MinHash.bulk([words for _, words in indexed], num_perm=NUM_PERM)
    lsh = MinHashLSH(threshold=THRESHOLD, num_perm=NUM_PERM)
    with lsh.insertion_session() as session:
        for (story_id, _), signature in zip(indexed, signatures, strict=True):
            session.insert(story_id, signature)
    pairs = {
        (min(story_id, match), max(story_id, match))
        for (story_id, _), signature in zip(indexed, signatures, strict=True)
        for match in lsh.query(signature)
        if match != story_id
    }
    return BaselineResult(
        pairs=frozenset(pairs),
        groups=connected_components((story.id for story in stories), pairs),
    )
