"""Group: join accepted pairs into groups of one story each, and name each group's original.

Plain connected components chain unrelated stories through one member (a round-up that quotes two
stories joins them). Here two groups merge only when most of the pairs between them were accepted,
strongest pairs first; so a story joins a group only if it copies most of its members.

Stories are rows of the scan's fingerprints, in id order, so that comparing rows compares ids.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dedupe.compiled import jit, worth
from dedupe.fingerprint import NO_DATE, Prints
from dedupe.settings import Settings
from dedupe.verify import EXACT, MICROS_PER_DAY, NEAR_DUPLICATE, Verified, window_days


def fitness(
    truncated: np.ndarray, published: np.ndarray, size: np.ndarray, teasers: np.ndarray
) -> np.ndarray:
    """Each row's rank as its group's original, lowest first: not a teaser, earliest published,
    fullest, then by row (id). ``teasers`` marks the rows some pair found to be a teaser."""
    rows = np.arange(len(truncated))
    undated = published == NO_DATE
    moment = np.where(undated, np.iinfo(np.int64).max, published)
    by_fitness = np.lexsort((rows, -size, moment, undated, truncated | teasers))
    rank = np.empty(len(truncated), dtype=np.int64)
    rank[by_fitness] = rows
    return rank


@dataclass(frozen=True, slots=True)
class Copies:
    """The stories that hold another's very text: each copy's row (ascending) and the row of
    the representative it is a copy of."""

    rows: np.ndarray
    of: np.ndarray


def exact_copies(prints: Prints, settings: Settings) -> tuple[np.ndarray, Copies]:
    """One representative per distinct text, the fittest to be an original (rows, ascending),
    and the other stories with exactly its text (``text_classes``)."""
    rank = fitness(prints.truncated, prints.published, prints.size, np.zeros(len(prints), bool))
    return text_classes(prints.text_key, prints.published, prints.size, rank, settings)


def text_classes(
    keys: np.ndarray,
    published: np.ndarray,
    size: np.ndarray,
    rank: np.ndarray,
    settings: Settings,
) -> tuple[np.ndarray, Copies]:
    """The classes of stories with one text (equal ``keys``): the fittest of each (lowest
    ``rank``) represents it (rows, ascending), the others are its copies.

    Where dates decide (a window set by the user, or a short notice: ``verify.window_days``, by
    the fittest story's size), a text's stories are split by date first: each run of stories
    within the window of the run's earliest is one class; undated stories join the earliest run.
    """
    by_text = np.lexsort((rank, keys[:, 1], keys[:, 0]))
    ordered = keys[by_text]
    new_text = np.concatenate([[True], (ordered[1:] != ordered[:-1]).any(axis=1)])
    text = np.cumsum(new_text[: len(by_text)]) - 1
    window = window_days(size[by_text[new_text[: len(by_text)]]], settings)
    # Undated first (they join the earliest run), then by date, then by row.
    by_date = np.lexsort((by_text, published[by_text], text))
    members = by_text[by_date]
    worth(len(members))
    run = _date_runs(text[by_date], published[members], window)
    by_rank = np.lexsort((rank[members], run))
    first = _run_starts(run[by_rank])
    reps = members[by_rank][first]
    rep_of = reps[run]
    copy = members != rep_of
    rows, of = members[copy], rep_of[copy]
    by_row = np.argsort(rows, kind="stable")
    return np.sort(reps), Copies(rows[by_row], of[by_row])


@dataclass(frozen=True, slots=True)
class Grouped:
    """Groups of rows, numbered in the order of their canonical row (= id). ``members`` holds
    each group's rows, canonical first, the others in row order; ``pair`` the index in the
    verified pairs of the pair that explains each member (-1 for the canonical, -2 for an exact
    copy of its representative ``copy_of``)."""

    canonical: np.ndarray
    offsets: np.ndarray
    members: np.ndarray
    pair: np.ndarray
    copy_of: np.ndarray

    def __len__(self) -> int:
        return len(self.canonical)


def group(verified: Verified, copies: Copies, rank: np.ndarray, rows: int) -> Grouped:
    """Groups of the accepted pairs between representatives, each with the exact copies of its
    representatives; ``rank`` orders rows by fitness to be the original (``fitness``), and each
    representative must be the fittest of its copies."""
    order = np.lexsort((verified.b, verified.a, -verified.score))
    worth(100 * len(order))
    label = _merge(rows, verified.a, verified.b, order)
    paired = np.zeros(rows, dtype=np.bool_)
    paired[verified.a] = paired[verified.b] = True
    size = np.bincount(label[paired], minlength=rows)
    merged = np.flatnonzero(paired & (size[label] > 1))
    # A text with exact copies is a group even when none of its other pairs could join it.
    has_copies = np.zeros(rows, dtype=np.bool_)
    has_copies[copies.of] = True
    alone = np.flatnonzero(has_copies & ~(paired & (size[label] > 1)))
    reps = np.concatenate([merged, alone])
    labels = np.concatenate([label[merged], alone])
    # Each group's canonical is its fittest representative; groups are numbered by canonical.
    by_group = np.lexsort((rank[reps], labels))
    reps, labels = reps[by_group], labels[by_group]
    first = _run_starts(labels)
    number = np.empty(len(first), dtype=np.int64)
    number[np.argsort(reps[first], kind="stable")] = np.arange(len(first))
    group_of = number[np.repeat(np.arange(len(first)), np.diff(np.append(first, len(reps))))]
    canonical = np.empty(len(first), dtype=np.int64)
    canonical[number] = reps[first]
    explaining = _explaining(verified, reps, group_of, canonical, rows)
    # Members: every representative and its exact copies, canonical first, then by row.
    group_at = np.full(rows, -1, dtype=np.int64)
    group_at[reps] = group_of
    member = np.concatenate([reps, copies.rows])
    member_group = np.concatenate([group_of, group_at[copies.of]])
    pair = np.concatenate([explaining, np.full(len(copies.rows), -2, dtype=np.int64)])
    copy_of = np.concatenate([np.full(len(reps), -1, dtype=np.int64), copies.of])
    by_member = np.lexsort((member, member != canonical[member_group], member_group))
    offsets = np.zeros(len(canonical) + 1, dtype=np.int64)
    np.cumsum(np.bincount(member_group, minlength=len(canonical)), out=offsets[1:])
    return Grouped(
        canonical=canonical,
        offsets=offsets,
        members=member[by_member],
        pair=pair[by_member],
        copy_of=copy_of[by_member],
    )


def _explaining(
    verified: Verified,
    reps: np.ndarray,
    group_of: np.ndarray,
    canonical: np.ndarray,
    rows: int,
) -> np.ndarray:
    """For each representative, the index of the pair that gives its place in its group: the
    pair with the group's canonical when there is one, else its strongest pair inside the group
    (by score, then ids); -1 for the canonical itself."""
    group = np.full(rows, -1, dtype=np.int64)
    group[reps] = group_of
    ga, gb = group[verified.a], group[verified.b]
    inside = np.flatnonzero((ga >= 0) & (ga == gb))
    a, b = verified.a[inside], verified.b[inside]
    head = canonical[ga[inside]]
    with_canonical = (a == head) | (b == head)
    # Each pair stands for both its ends; the best pair of an end sorts last among its pairs.
    ends = np.concatenate([a, b])
    key = (
        np.tile(b, 2), np.tile(a, 2), np.tile(verified.score[inside], 2),
        np.tile(with_canonical, 2), ends,
    )  # fmt: skip
    by_end = np.lexsort(key)
    starts = _run_starts(ends[by_end])
    last = np.append(starts[1:], len(by_end))[: len(starts)] - 1
    best = np.full(rows, -1, dtype=np.int64)
    best[ends[by_end][last]] = np.tile(inside, 2)[by_end][last]
    explaining = best[reps]
    explaining[reps == canonical[group_of]] = -1
    return explaining


def _run_starts(values: np.ndarray) -> np.ndarray:
    """Where each run of equal values begins in a sorted array."""
    return np.flatnonzero(np.concatenate([[True], values[1:] != values[:-1]])[: len(values)])


def relation_of(verified: Verified, pair: np.ndarray) -> np.ndarray:
    """The relation code of each member's explaining pair (EXACT for copies, 0 the canonical)."""
    codes = np.zeros(len(pair), dtype=np.uint8)
    codes[pair >= 0] = verified.relation[pair[pair >= 0]]
    codes[pair == -2] = EXACT
    return codes


def duplicates(grouped: Grouped, codes: np.ndarray) -> np.ndarray:
    """Whether each group's members (but its canonical) are all exact or near copies."""
    copy = (codes == EXACT) | (codes == NEAR_DUPLICATE)
    copy[grouped.offsets[:-1]] = True
    return np.logical_and.reduceat(copy, grouped.offsets[:-1]) if len(grouped) else copy[:0]


@jit
def _merge(rows, a, b, order):
    """Each row's group label after merging the pairs in ``order``: two groups merge when more
    than half the pairs between them were accepted."""
    degree = np.zeros(rows + 1, dtype=np.int64)
    for p in range(len(a)):
        degree[a[p] + 1] += 1
        degree[b[p] + 1] += 1
    start = np.cumsum(degree)
    fill = start[:-1].copy()
    neighbours = np.empty(2 * len(a), dtype=np.int64)
    for p in range(len(a)):
        neighbours[fill[a[p]]] = b[p]
        fill[a[p]] += 1
        neighbours[fill[b[p]]] = a[p]
        fill[b[p]] += 1
    label = np.arange(rows)
    size = np.ones(rows, dtype=np.int64)
    head = np.arange(rows)
    tail = np.arange(rows)
    following = np.full(rows, -1, dtype=np.int64)
    for p in order:
        ra, rb = label[a[p]], label[b[p]]
        if ra == rb:
            continue
        small, large = (ra, rb) if size[ra] < size[rb] else (rb, ra)
        links = 0
        i = head[small]
        while i != -1:
            for k in range(start[i], start[i + 1]):
                if label[neighbours[k]] == large:
                    links += 1
            i = following[i]
        if 2 * links <= size[small] * size[large]:
            continue
        i = head[small]
        while i != -1:
            label[i] = large
            i = following[i]
        following[tail[large]] = head[small]
        tail[large] = tail[small]
        size[large] += size[small]
    return label


@jit
def _date_runs(text, published, window):
    """The run of each story, stories in order of text, then date (undated first): a run ends
    where a dated story is more than its text's ``window`` days after the run's earliest."""
    run = np.empty(len(text), dtype=np.int64)
    current = -1
    start = NO_DATE
    for k in range(len(text)):
        moment = published[k]
        if k == 0 or text[k] != text[k - 1]:
            current += 1
            start = moment
        elif start == NO_DATE or moment == NO_DATE:
            if start == NO_DATE:
                start = moment
        elif abs(moment - start) / MICROS_PER_DAY > window[text[k]]:
            current += 1
            start = moment
        run[k] = current
    return run
