"""Verify: decide what a candidate pair really is, on the stories' real sets, and keep the evidence.

The sketches only proposed the pair. Here the exact shingle sets, the lead of the longer story and
the facts of both decide: copies and rewrites share text *and* facts; a teaser shares the content
words of its article's lead; a template look-alike shares text but reports other numbers and names,
and is rejected.
"""

from __future__ import annotations

from difflib import SequenceMatcher
from typing import NamedTuple

import numpy as np
from rapidfuzz import fuzz

from dedupe.fingerprint import Fingerprint
from dedupe.settings import Settings
from dedupe.story import Evidence, Pair, Relation

# Evidence passages are searched in the first tokens only: SequenceMatcher is quadratic at worst.
_PASSAGE_WINDOW = 3000


class Measures(NamedTuple):
    jaccard: float
    containment: float
    lead_containment: float
    title_similarity: float
    fact_agreement: float
    days_apart: float | None


def _overlap(a: np.ndarray, b: np.ndarray) -> int:
    return len(np.intersect1d(a, b, assume_unique=True))


def lead_containment(short: Fingerprint, full: Fingerprint, settings: Settings) -> float:
    """Share of the short story's content words found in the lead of the full one.

    The lead window grows with the short story (twice its length), since a longer excerpt reaches
    further into its article.
    """
    words = np.unique(short.content)
    if not len(words):
        return 0.0
    window = max(settings.lead_tokens, 2 * short.size)
    lead = np.unique(full.content[full.content_positions < window])
    return _overlap(words, lead) / len(words)


def fact_agreement(a: Fingerprint, b: Fingerprint) -> float:
    """Share of the facts of the story with fewer facts that the other one also reports."""
    fewer, more = sorted((a.facts, b.facts), key=len)
    if not fewer:
        return 1.0
    return len(fewer & more) / len(fewer)


def days_apart(a: Fingerprint, b: Fingerprint) -> float | None:
    if a.published is None or b.published is None:
        return None
    return abs((a.published - b.published).total_seconds()) / 86400


def measure(a: Fingerprint, b: Fingerprint, settings: Settings) -> Measures:
    """``a`` is the fuller story, ``b`` the shorter one."""
    shared = _overlap(a.shingles, b.shingles)
    union = len(a.shingles) + len(b.shingles) - shared
    smaller = min(len(a.shingles), len(b.shingles))
    titles = fuzz.token_sort_ratio(" ".join(a.title_words), " ".join(b.title_words))
    return Measures(
        jaccard=shared / union if union else 0.0,
        containment=shared / smaller if smaller else 0.0,
        lead_containment=lead_containment(b, a, settings),
        title_similarity=float(titles),
        fact_agreement=fact_agreement(a, b),
        days_apart=days_apart(a, b),
    )


def decide(
    a: Fingerprint, b: Fingerprint, m: Measures, settings: Settings
) -> tuple[Relation, float] | None:
    """The relation and score of an ordered pair (``a`` fuller), or None when it is no copy."""
    if a.text_key == b.text_key:
        return "exact", 1.0
    if m.fact_agreement < settings.fact_agreement:
        return None
    if m.days_apart is not None and m.days_apart > settings.window_days:
        return None
    if (
        b.size < settings.short_story_tokens
        and m.title_similarity < settings.short_story_title_similarity
    ):
        return None
    is_short = b.truncated or b.size <= settings.teaser_max_ratio * a.size
    is_teaser = is_short and m.lead_containment >= settings.teaser_lead_containment
    if m.jaccard >= settings.near_duplicate_jaccard:
        return "near-duplicate", m.jaccard
    if m.containment >= settings.syndicated_containment or m.jaccard >= settings.syndicated_jaccard:
        if is_teaser:
            return "teaser", max(m.containment, m.lead_containment)
        return "syndicated", max(m.containment, m.jaccard)
    if is_teaser:
        return "teaser", m.lead_containment
    headline_only = not a.story.body.strip() or not b.story.body.strip()
    if m.title_similarity >= settings.title_similarity and (
        headline_only or m.lead_containment >= settings.teaser_lead_containment
    ):
        return "syndicated", m.title_similarity / 100
    return None


def shared_passages(a: Fingerprint, b: Fingerprint, settings: Settings) -> tuple[str, ...]:
    """The longest runs of words the two texts share, longest first, as written in ``a``."""
    left, right = a.words[:_PASSAGE_WINDOW], b.words[:_PASSAGE_WINDOW]
    blocks = SequenceMatcher(None, left, right, autojunk=False).get_matching_blocks()
    blocks = sorted(
        (blk for blk in blocks if blk.size >= settings.shared_min_tokens),
        key=lambda blk: (-blk.size, blk.a),
    )
    return tuple(
        " ".join(a.display[k.a : k.a + k.size]) for k in blocks[: settings.shared_passages]
    )


def order(x: Fingerprint, y: Fingerprint) -> tuple[Fingerprint, Fingerprint]:
    """(fuller, shorter): the teaser or excerpt goes second; ties by id keep the order stable."""
    return min((x, y), (y, x), key=lambda p: (p[0].truncated, -p[0].size, p[0].id))


def verify(x: Fingerprint, y: Fingerprint, settings: Settings) -> Pair | None:
    a, b = order(x, y)
    m = measure(a, b, settings)
    decision = decide(a, b, m, settings)
    if decision is None:
        return None
    relation, score = decision
    evidence = Evidence(
        title_similarity=m.title_similarity,
        containment=m.containment,
        jaccard=m.jaccard,
        shared=shared_passages(a, b, settings),
    )
    return Pair(a=a.id, b=b.id, relation=relation, score=score, evidence=evidence)
