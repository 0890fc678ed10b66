"""Verify: decide what a candidate pair really is, on the stories' real sets, and keep the evidence.

The sketches only proposed the pair. Here the exact shingle sets, the lead of the longer story and
the facts of both decide: copies and rewrites share text *and* facts; a teaser shares the content
words of its article's lead; a template look-alike shares text but reports other numbers and names,
and is rejected.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import NamedTuple

import numpy as np
from rapidfuzz import fuzz
from rapidfuzz.distance import Indel

from dedupe.fingerprint import Fingerprint
from dedupe.normalize import tokenize
from dedupe.settings import Settings
from dedupe.story import Evidence, Pair, Relation, Story

# Evidence passages are searched in the first tokens only: alignment costs the product of lengths.
_PASSAGE_WINDOW = 3000


class Measures(NamedTuple):
    jaccard: float
    containment: float
    lead_containment: float
    title_similarity: float
    number_agreement: float
    name_agreement: float
    days_apart: float | None


def _overlap(a: np.ndarray, b: np.ndarray) -> int:
    return len(np.intersect1d(a, b, assume_unique=True))


def lead_containment(short: Fingerprint, full: Fingerprint, settings: Settings) -> float:
    """Share of the short story's content words found in the lead of the full one.

    The lead window grows with the short story (twice its length), since a longer excerpt reaches
    further into its article.
    """
    words = short.content_set()
    if not len(words):
        return 0.0
    lead = full.lead(max(settings.lead_tokens, 2 * short.size))
    return _overlap(words, lead) / len(words)


def agreement(a: np.ndarray, b: np.ndarray) -> float:
    """Share of the smaller set of facts that the other story also reports; 1 with none."""
    fewer, more = sorted((a, b), key=len)
    if not len(fewer):
        return 1.0
    return _overlap(fewer, more) / len(fewer)


def days_between(a: datetime | None, b: datetime | None) -> float | None:
    """Days between two publications; None unless both are dated."""
    if a is None or b is None:
        return None
    return abs((a - b).total_seconds()) / 86400


def window_days(fuller: Fingerprint, settings: Settings) -> float:
    """How many days apart two stories may be and still be copies: any number, unless the user
    set a window or the fuller story is a short notice, whose words cannot tell this week's
    notice from last week's."""
    window = settings.window_days if settings.window_days is not None else float("inf")
    if fuller.size < settings.notice_tokens:
        window = min(window, settings.notice_window_days)
    return window


def measure(a: Fingerprint, b: Fingerprint, settings: Settings) -> Measures:
    """``a`` is the fuller story, ``b`` the shorter one."""
    a_shingles, b_shingles = a.shingles(settings), b.shingles(settings)
    shared = _overlap(a_shingles, b_shingles)
    union = len(a_shingles) + len(b_shingles) - shared
    smaller = min(len(a_shingles), len(b_shingles))
    return Measures(
        jaccard=shared / union if union else 0.0,
        containment=shared / smaller if smaller else 0.0,
        lead_containment=lead_containment(b, a, settings),
        title_similarity=float(fuzz.token_sort_ratio(a.title_text, b.title_text)),
        number_agreement=agreement(a.numbers, b.numbers),
        name_agreement=agreement(a.names, b.names),
        days_apart=days_between(a.published, b.published),
    )


def plausible(a: Fingerprint, b: Fingerprint, settings: Settings) -> bool:
    """Whether ``decide`` could accept the pair, from two set overlaps: most candidates share a
    beat, not a text, and fail here at a tenth of the cost of ``measure``.

    Every acceptance but ``exact`` and the headline-only title rule needs shingle containment of at
    least the lowest text threshold (Jaccard never exceeds containment), or the shorter story's
    content words in the other's lead, which are a subset of its content words.
    """
    if a.text_key == b.text_key or a.headline_only or b.headline_only:
        return True
    text = min(
        settings.near_duplicate_jaccard,
        settings.syndicated_containment,
        settings.syndicated_jaccard,
    )
    x, y = a.shingles(settings), b.shingles(settings)
    # The margin keeps a share exactly at the threshold, which rounding could otherwise drop.
    if _overlap(x, y) >= text * min(len(x), len(y)) - 1e-9:
        return True
    x, y = a.content_set(), b.content_set()
    return _overlap(x, y) >= settings.teaser_lead_containment * min(len(x), len(y)) - 1e-9


def decide(
    a: Fingerprint, b: Fingerprint, m: Measures, settings: Settings
) -> tuple[Relation, float] | None:
    """The relation and score of an ordered pair (``a`` fuller), or None when it is no copy."""
    if m.days_apart is not None and m.days_apart > window_days(a, settings):
        return None
    if a.text_key == b.text_key:
        return "exact", 1.0
    if m.number_agreement < settings.number_agreement or m.name_agreement < settings.name_agreement:
        return None
    if (
        a.size < settings.short_story_tokens
        and m.title_similarity < settings.short_story_title_similarity
    ):
        return None
    # A teaser is an excerpt of an article's lead, so the article must be longer than a lead.
    is_short = b.truncated or (
        b.size <= settings.teaser_max_tokens and b.size <= settings.teaser_max_ratio * a.size
    )
    is_teaser = (
        is_short
        and a.size > settings.lead_tokens
        and m.lead_containment >= settings.teaser_lead_containment
    )
    if m.jaccard >= settings.near_duplicate_jaccard:
        return "near-duplicate", m.jaccard
    if m.containment >= settings.syndicated_containment or m.jaccard >= settings.syndicated_jaccard:
        if is_teaser:
            return "teaser", max(m.containment, m.lead_containment)
        return "syndicated", max(m.containment, m.jaccard)
    if is_teaser:
        return "teaser", m.lead_containment
    if m.title_similarity >= settings.title_similarity and (
        a.headline_only or b.headline_only or m.lead_containment >= settings.teaser_lead_containment
    ):
        return "syndicated", m.title_similarity / 100
    return None


def order(x: Fingerprint, y: Fingerprint) -> tuple[Fingerprint, Fingerprint]:
    """(fuller, shorter): the teaser or excerpt goes second; ties by id keep the order stable."""
    return min((x, y), (y, x), key=lambda p: (p[0].truncated, -p[0].size, p[0].id))


def verify(x: Fingerprint, y: Fingerprint, settings: Settings) -> Pair | None:
    """The pair's relation and evidence, or None. Shared passages need the texts: ``explain``."""
    if not plausible(x, y, settings):
        return None
    a, b = order(x, y)
    m = measure(a, b, settings)
    decision = decide(a, b, m, settings)
    if decision is None:
        return None
    relation, score = decision
    evidence = Evidence(
        m.title_similarity,
        m.containment,
        m.jaccard,
        days_apart=m.days_apart,
        number_agreement=m.number_agreement,
        name_agreement=m.name_agreement,
    )
    return Pair(a=a.id, b=b.id, relation=relation, score=score, evidence=evidence)


def dated(pair: Pair, a: datetime | None, b: datetime | None) -> Pair:
    """The pair with the days between its stories in its evidence: exact copies are grouped by
    their text alone, never measured."""
    return replace(pair, evidence=replace(pair.evidence, days_apart=days_between(a, b)))


def explain(pair: Pair, a: Story, b: Story, settings: Settings) -> Pair:
    """The pair with its evidence's longest shared passages, as written in ``a``."""
    left = tokenize(a.body or a.title, _PASSAGE_WINDOW)
    right = tokenize(b.body or b.title, _PASSAGE_WINDOW)
    # The runs of words that a longest common subsequence keeps in both texts: the shared passages.
    runs = sorted(
        (
            (op.src_end - op.src_start, op.src_start)
            for op in Indel.opcodes(left.words, right.words)
            if op.tag == "equal" and op.src_end - op.src_start >= settings.shared_min_tokens
        ),
        key=lambda run: (-run[0], run[1]),
    )
    shared = tuple(
        " ".join(left.display[start : start + size])
        for size, start in runs[: settings.shared_passages]
    )
    return replace(pair, evidence=replace(pair.evidence, shared=shared))
