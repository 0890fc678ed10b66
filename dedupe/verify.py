"""Verify: decide what each candidate pair really is, on the stories' real sets, and explain it.

The sketches only proposed the pairs. Here the exact shingle sets, the lead of the longer story and
the facts of both decide: copies and rewrites share text *and* facts; a teaser shares the content
words of its article's lead; a template look-alike shares text but reports other numbers and names,
and is rejected.

All candidate pairs of a scan are verified at once, in the order a pair meets the tests: ``order``
(which story is the fuller), a compiled loop that measures the set overlaps, with the cheap
``plausible`` test first so that most pairs (stories of one beat, not one text) cost two overlaps,
then the title similarity of the plausible ones (rapidfuzz, in one call), then ``decide`` over the
measures as arrays. ``explain`` finds the shared passages of the pairs that are reported.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import NamedTuple

import numpy as np
from rapidfuzz import fuzz, process

from dedupe.compiled import in_threads, jit, worth
from dedupe.fingerprint import NO_DATE, Prints
from dedupe.normalize import HASH_BITS, clean_and_tokenize
from dedupe.settings import Settings
from dedupe.story import Evidence, Relation, Story

# Relation codes of ``Verified.relation``: RELATIONS[code - 1]; 0 is no relation.
RELATIONS: tuple[Relation, ...] = ("exact", "near-duplicate", "syndicated", "teaser")
EXACT, NEAR_DUPLICATE, SYNDICATED, TEASER = 1, 2, 3, 4
MICROS_PER_DAY = 86_400_000_000
# Shared passages are searched in the first words only: a huge story would cost its length.
_PASSAGE_WINDOW = 3000
# Candidate pairs verified at a time.
_CHUNK = 1 << 21


class Measures(NamedTuple):
    """What ``decide`` reads of each pair, as arrays (``a`` the fuller story)."""

    jaccard: np.ndarray
    containment: np.ndarray
    lead_containment: np.ndarray
    title_similarity: np.ndarray
    number_agreement: np.ndarray
    name_agreement: np.ndarray
    days_apart: np.ndarray  # NaN where either story is undated


@dataclass(frozen=True, slots=True)
class Verified:
    """Accepted pairs of rows: ``a`` the fuller story, ``b`` the copy or teaser, the relation
    code, the score and the evidence measured on the real sets."""

    a: np.ndarray
    b: np.ndarray
    relation: np.ndarray
    score: np.ndarray
    title_similarity: np.ndarray
    containment: np.ndarray
    jaccard: np.ndarray
    days_apart: np.ndarray
    number_agreement: np.ndarray
    name_agreement: np.ndarray

    def __len__(self) -> int:
        return len(self.a)

    def evidence(self, k: int, shared: tuple[str, ...] = ()) -> Evidence:
        """The evidence of pair ``k``, with its shared passages."""
        return self.evidences(np.array([k]), {k: shared})[0]

    def evidences(self, pairs: np.ndarray, shared: Mapping[int, tuple[str, ...]]) -> list[Evidence]:
        """The evidence of each of these pairs, with the ``shared`` passages of those that
        have them: a report's tens of thousands at once."""
        columns = (
            self.title_similarity, self.containment, self.jaccard, self.days_apart,
            self.number_agreement, self.name_agreement,
        )  # fmt: skip
        values = zip(pairs.tolist(), *(column[pairs].tolist() for column in columns), strict=True)
        return [
            Evidence(title, contained, jaccard, shared.get(k, ()), days, numbers, names)
            if days == days  # NaN: either story undated
            else Evidence(title, contained, jaccard, shared.get(k, ()), None, numbers, names)
            for k, title, contained, jaccard, days, numbers, names in values
        ]


def order(prints: Prints, pairs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(fuller, shorter) rows of each pair: the teaser or excerpt goes second; a tie goes to the
    lower row (rows are in id order), so the order is stable."""
    x, y = pairs[:, 0], pairs[:, 1]
    tx, ty = prints.truncated[x], prints.truncated[y]
    sx, sy = prints.size[x], prints.size[y]
    x_first = (tx < ty) | ((tx == ty) & ((sx > sy) | ((sx == sy) & (x < y))))
    return np.where(x_first, x, y), np.where(x_first, y, x)


def window_days(sizes: np.ndarray, settings: Settings) -> np.ndarray:
    """How many days apart two stories may be and still be copies, by the fuller one's size: any
    number, unless the user set a window or the fuller story is a short notice, whose words
    cannot tell this week's notice from last week's."""
    window = np.full(len(sizes), np.inf if settings.window_days is None else settings.window_days)
    notice = sizes < settings.notice_tokens
    window[notice] = np.minimum(window[notice], settings.notice_window_days)
    return window


def days_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Days between publications (microseconds since the epoch); NaN unless both are dated."""
    days = np.abs(a - b) / MICROS_PER_DAY
    days[(a == NO_DATE) | (b == NO_DATE)] = np.nan
    return days


def verify(prints: Prints, pairs: np.ndarray, settings: Settings) -> Verified:
    """The accepted pairs among candidate ``pairs`` of rows (an (m, 2) array), in their order.

    Pairs are verified ``_CHUNK`` at a time: each pair's measures take some forty bytes while it
    is verified, and a million stories make tens of millions of candidates."""
    if len(pairs) > _CHUNK:
        parts = [
            verify(prints, pairs[k : k + _CHUNK], settings) for k in range(0, len(pairs), _CHUNK)
        ]
        return Verified(
            *(np.concatenate([getattr(part, f.name) for part in parts]) for f in fields(Verified))
        )
    # A pair costs about what tokenizing a few hundred characters does.
    worth(200 * len(pairs))
    a, b = order(prints, pairs)
    same_text = (prints.text_key[a] == prints.text_key[b]).all(axis=1)
    headline = prints.headline_only[a] | prints.headline_only[b]
    plausible, m = measure(prints, a, b, same_text | headline, settings)
    a, b, same_text = a[plausible], b[plausible], same_text[plausible]
    relation, score = decide(prints, a, b, same_text, m, settings)
    accepted = relation > 0
    return Verified(
        a=a[accepted],
        b=b[accepted],
        relation=relation[accepted],
        score=score[accepted],
        title_similarity=m.title_similarity[accepted],
        containment=m.containment[accepted],
        jaccard=m.jaccard[accepted],
        days_apart=m.days_apart[accepted],
        number_agreement=m.number_agreement[accepted],
        name_agreement=m.name_agreement[accepted],
    )


def measure(
    prints: Prints, a: np.ndarray, b: np.ndarray, always: np.ndarray, settings: Settings
) -> tuple[np.ndarray, Measures]:
    """Which ordered pairs are plausible (``_measure``; ``always`` marks pairs that are, such as
    exact copies and headlines), and the measures of those."""
    shared = np.empty(len(a), dtype=np.int64)
    lead_hits = np.empty(len(a), dtype=np.int64)
    facts = np.empty((len(a), 2), dtype=np.float64)
    plausible = np.empty(len(a), dtype=np.bool_)
    text_floor = min(
        settings.near_duplicate_jaccard,
        settings.syndicated_containment,
        settings.syndicated_jaccard,
    )

    def work(start: int, stop: int) -> None:
        _measure(
            a, b, start, stop, always, prints.shingles.values, prints.shingles.offsets,
            prints.content.values, prints.content.offsets, prints.first_seen.values,
            prints.size, prints.numbers.values, prints.numbers.offsets,
            prints.names.values, prints.names.offsets, text_floor,
            settings.teaser_lead_containment, settings.lead_tokens,
            shared, lead_hits, facts, plausible,
        )  # fmt: skip

    in_threads(work, len(a))
    keep = np.flatnonzero(plausible)
    a, b, shared, lead_hits, facts = a[keep], b[keep], shared[keep], lead_hits[keep], facts[keep]
    la, lb = prints.shingles.lengths[a], prints.shingles.lengths[b]
    union = la + lb - shared
    smaller = np.minimum(la, lb)
    words = prints.content.lengths[b]
    with np.errstate(divide="ignore", invalid="ignore"):
        jaccard = np.where(union > 0, shared / union, 0.0)
        containment = np.where(smaller > 0, shared / smaller, 0.0)
        lead = np.where(words > 0, lead_hits / words, 0.0)
    titles = prints.title_text
    similarity = process.cpdist(
        [titles[i] for i in a.tolist()],
        [titles[i] for i in b.tolist()],
        scorer=fuzz.token_sort_ratio,
        dtype=np.float64,
        workers=-1,
    )
    return plausible, Measures(
        jaccard=jaccard,
        containment=containment,
        lead_containment=lead,
        title_similarity=np.asarray(similarity, dtype=np.float64).reshape(len(a)),
        number_agreement=facts[:, 0],
        name_agreement=facts[:, 1],
        days_apart=days_between(prints.published[a], prints.published[b]),
    )


def decide(
    prints: Prints,
    a: np.ndarray,
    b: np.ndarray,
    same_text: np.ndarray,
    m: Measures,
    settings: Settings,
) -> tuple[np.ndarray, np.ndarray]:
    """The relation code (0: no copy) and score of each ordered pair (``a`` fuller), the rules
    applied in order: a later rule decides only pairs the earlier ones left open."""
    size_a, size_b = prints.size[a], prints.size[b]
    headline = prints.headline_only[a] | prints.headline_only[b]
    relation = np.zeros(len(a), dtype=np.uint8)
    score = np.zeros(len(a), dtype=np.float64)
    open_ = ~(m.days_apart > window_days(size_a, settings))  # NaN: undated, never too far

    def settle(where: np.ndarray, code: int, value: np.ndarray | float) -> None:
        nonlocal open_
        chosen = open_ & where
        relation[chosen] = code
        score[chosen] = value[chosen] if isinstance(value, np.ndarray) else value
        open_ = open_ & ~where

    settle(same_text, EXACT, 1.0)
    open_ &= (m.number_agreement >= settings.number_agreement) & (
        m.name_agreement >= settings.name_agreement
    )
    open_ &= ~(
        (size_a < settings.short_story_tokens)
        & (m.title_similarity < settings.short_story_title_similarity)
    )
    # A teaser is an excerpt of an article's lead, so the article must be longer than a lead.
    is_short = prints.truncated[b] | (
        (size_b <= settings.teaser_max_tokens) & (size_b <= settings.teaser_max_ratio * size_a)
    )
    is_teaser = (
        is_short
        & (size_a > settings.lead_tokens)
        & (m.lead_containment >= settings.teaser_lead_containment)
    )
    settle(m.jaccard >= settings.near_duplicate_jaccard, NEAR_DUPLICATE, m.jaccard)
    shares_text = (m.containment >= settings.syndicated_containment) | (
        m.jaccard >= settings.syndicated_jaccard
    )
    settle(shares_text & is_teaser, TEASER, np.maximum(m.containment, m.lead_containment))
    settle(shares_text, SYNDICATED, np.maximum(m.containment, m.jaccard))
    settle(is_teaser, TEASER, m.lead_containment)
    settle(
        (m.title_similarity >= settings.title_similarity)
        & (headline | (m.lead_containment >= settings.teaser_lead_containment)),
        SYNDICATED,
        m.title_similarity / 100,
    )
    # The user's floor: a pair scored below it is no copy, whichever rule accepted it.
    below = score < settings.min_score
    relation[below], score[below] = 0, 0.0
    return relation, score


def explain(
    stories: Sequence[Story], pairs: np.ndarray, settings: Settings
) -> list[tuple[str, ...]]:
    """The longest passages each pair (i, j) of ``stories`` shares, as written in story i: runs
    of at least ``shared_min_tokens`` words in which every stretch of that many words also stands
    in story j, longest first, ``shared_passages`` of them. Each story is read once, however many
    pairs it is in."""
    return explain_texts([story.body or story.title for story in stories], pairs, settings)


def explain_texts(
    texts: Sequence[str], pairs: np.ndarray, settings: Settings
) -> list[tuple[str, ...]]:
    """``explain`` of the texts stories are matched on (their bodies, else their titles)."""
    tokens, _ = clean_and_tokenize(texts, _PASSAGE_WINDOW)
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    owner, start, length = _shared_runs(
        tokens.codes, tokens.offsets, pairs[:, 0], pairs[:, 1],
        settings.shared_min_tokens, settings.shared_passages,
    )  # fmt: skip
    found: list[list[str]] = [[] for _ in range(len(pairs))]
    shown = tokens.displays(pairs[owner, 0], start, start + length)
    for k, passage in zip(owner.tolist(), shown, strict=True):
        found[k].append(passage)
    return [tuple(passages) for passages in found]


# --- compiled loops --------------------------------------------------------------------------


@jit
def _overlap(x, x0, x1, y, y0, y1):
    """How many values two sorted, distinct runs share."""
    shared = 0
    while x0 < x1 and y0 < y1:
        if x[x0] < y[y0]:
            x0 += 1
        elif x[x0] > y[y0]:
            y0 += 1
        else:
            shared += 1
            x0 += 1
            y0 += 1
    return shared


@jit
def _overlap_reaching(x, x0, x1, y, y0, y1, needed):
    """How many values two sorted, distinct runs share, or -1 once they cannot share ``needed``:
    most candidate pairs share next to nothing, and are settled a third of the way through."""
    shared = 0
    while x0 < x1 and y0 < y1:
        if shared + min(x1 - x0, y1 - y0) < needed:
            return -1
        if x[x0] < y[y0]:
            x0 += 1
        elif x[x0] > y[y0]:
            y0 += 1
        else:
            shared += 1
            x0 += 1
            y0 += 1
    return shared if shared >= needed else -1


@jit
def _agreement(values, offsets, a, b):
    """Share of the smaller set of facts that the other story also reports; 1 with none."""
    fewer = min(offsets[a + 1] - offsets[a], offsets[b + 1] - offsets[b])
    if fewer == 0:
        return 1.0
    return _overlap(values, offsets[a], offsets[a + 1], values, offsets[b], offsets[b + 1]) / fewer


@jit
def _lead_overlap(content, first_seen, a0, a1, b0, b1, window):
    """How many of the content words ``b0:b1`` stand among those of ``a0:a1`` first seen
    before ``window``: the short story's words in the lead of the fuller one."""
    shared = 0
    while a0 < a1 and b0 < b1:
        if content[a0] < content[b0]:
            a0 += 1
        elif content[a0] > content[b0]:
            b0 += 1
        else:
            if first_seen[a0] < window:
                shared += 1
            a0 += 1
            b0 += 1
    return shared


@jit
def _measure(
    a, b, start, stop, always, shingles, shingle_offsets, content, content_offsets, first_seen,
    sizes, numbers, number_offsets, names, name_offsets, text_floor, lead_floor, lead_tokens,
    shared, lead_hits, facts, plausible,
):  # fmt: skip
    """The set overlaps of pairs ``start:stop``. A pair is plausible, and measured further, only
    if ``decide`` could accept it: every acceptance but ``exact`` and the headline-only title rule
    needs shingle containment of at least the lowest text threshold (Jaccard never exceeds
    containment), or the shorter story's content words in the other's lead, which are a subset of
    its content words. The margin keeps a share exactly at a threshold that rounding could drop.
    """
    for p in range(start, stop):
        x, y = a[p], b[p]
        s0, s1 = shingle_offsets[x], shingle_offsets[x + 1]
        t0, t1 = shingle_offsets[y], shingle_offsets[y + 1]
        c0, c1 = content_offsets[x], content_offsets[x + 1]
        d0, d1 = content_offsets[y], content_offsets[y + 1]
        needed = -1.0 if always[p] else text_floor * min(s1 - s0, t1 - t0) - 1e-9
        shared[p] = _overlap_reaching(shingles, s0, s1, shingles, t0, t1, needed)
        ok = shared[p] >= 0
        if not ok:
            needed = lead_floor * min(c1 - c0, d1 - d0) - 1e-9
            ok = _overlap_reaching(content, c0, c1, content, d0, d1, needed) >= 0
            if ok:
                shared[p] = _overlap(shingles, s0, s1, shingles, t0, t1)
        plausible[p] = ok
        if not ok:
            continue
        # The lead of the fuller story grows with the shorter one (twice its length): a longer
        # excerpt reaches further into its article.
        window = max(lead_tokens, 2 * sizes[y])
        lead_hits[p] = _lead_overlap(content, first_seen, c0, c1, d0, d1, window)
        facts[p, 0] = _agreement(numbers, number_offsets, x, y)
        facts[p, 1] = _agreement(names, name_offsets, x, y)


@jit
def _gram(codes, start, size):
    h = np.uint64(0)
    for k in range(size):
        h = h * np.uint64(0x100000001B3) + (np.uint64(codes[start + k]) & np.uint64(HASH_BITS))
    return h


@jit
def _shared_runs(codes, offsets, left, right, size, limit):
    """For each pair (``left[k]``, ``right[k]``) of texts, at most ``limit`` runs of words of the
    left text whose every ``size``-word stretch stands in the right one, longest first, then by
    position: the pair's index, each run's first word and its length in words. The right text's
    stretches go into a hash table that each pair marks as its own (``stamp``), so that no
    table is cleared or allocated per pair."""
    owner = np.empty(len(left) * limit, dtype=np.int64)
    starts = np.empty(len(left) * limit, dtype=np.int64)
    lengths = np.empty(len(left) * limit, dtype=np.int64)
    longest = 0
    for t in range(len(offsets) - 1):
        longest = max(longest, offsets[t + 1] - offsets[t])
    room = 16
    while room < 2 * longest:
        room <<= 1
    mask = np.uint64(room - 1)
    table = np.zeros(room, dtype=np.uint64)
    stamp = np.full(room, -1, dtype=np.int64)
    runs = np.empty((longest + 1, 2), dtype=np.int64)
    rank = np.empty(longest + 1, dtype=np.int64)
    found = 0
    for k in range(len(left)):
        l0, l1 = offsets[left[k]], offsets[left[k] + 1]
        r0, r1 = offsets[right[k]], offsets[right[k] + 1]
        n, m = l1 - l0, r1 - r0
        if n < size or m < size:
            continue
        for i in range(m - size + 1):
            h = _gram(codes, r0 + i, size)
            slot = (h * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(40) & mask
            while stamp[slot] == k and table[slot] != h:
                slot = (slot + np.uint64(1)) & mask
            stamp[slot] = k
            table[slot] = h
        count = 0
        last = -2
        for i in range(n - size + 1):
            h = _gram(codes, l0 + i, size)
            slot = (h * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(40) & mask
            while stamp[slot] == k and table[slot] != h:
                slot = (slot + np.uint64(1)) & mask
            if stamp[slot] == k:
                if i == last + 1:
                    runs[count - 1, 1] += 1
                else:
                    runs[count, 0] = i
                    runs[count, 1] = size
                    count += 1
                last = i
        for c in range(count):
            rank[c] = -runs[c, 1] * (n + 1) + runs[c, 0]
        for r in np.argsort(rank[:count])[:limit]:
            owner[found] = k
            starts[found] = runs[r, 0]
            lengths[found] = runs[r, 1]
            found += 1
    return owner[:found].copy(), starts[:found].copy(), lengths[:found].copy()
