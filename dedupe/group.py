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
from dedupe.verify import EXACT, NEAR_DUPLICATE, Verified, days_between, window_days


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


def exact_copies(prints: Prints, settings: Settings) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """One representative per distinct text, the fittest to be an original (rows, ascending),
    and the rows of the other stories with exactly its text, by representative.

    Where dates decide (a window set by the user, or a short notice: ``verify.window_days``), a
    text's stories are split by date first: each run of stories within the window of the run's
    earliest is one class; undated stories join the earliest run.
    """
    rank = fitness(prints.truncated, prints.published, prints.size, np.zeros(len(prints), bool))
    keys = prints.text_key
    by_text = np.lexsort((rank, keys[:, 1], keys[:, 0]))
    ordered = keys[by_text]
    changes = np.concatenate([[True], (ordered[1:] != ordered[:-1]).any(axis=1)])
    bounds = [*np.flatnonzero(changes[: len(by_text)]).tolist(), len(by_text)]
    reps: list[int] = []
    copies: dict[int, np.ndarray] = {}
    for first, stop in zip(bounds[:-1], bounds[1:], strict=True):
        if stop - first == 1:
            reps.append(int(by_text[first]))
            continue
        members = by_text[first:stop]
        for rep, held in same_text(members, prints.published, prints.size, rank, settings):
            reps.append(rep)
            if len(held):
                copies[rep] = held
    return np.array(sorted(reps), dtype=np.int64), copies


def same_text(
    members: np.ndarray,
    published: np.ndarray,
    size: np.ndarray,
    rank: np.ndarray,
    settings: Settings,
) -> list[tuple[int, np.ndarray]]:
    """(representative, rows of its exact copies) of stories that share one text, fittest first
    (``members`` in order of ``rank``): one class, or one per run of dates where dates decide."""
    window = window_days(size[members[:1]], settings)[0]
    runs = [members] if window == np.inf else _date_runs(members, published, window)
    classes = []
    for run in runs:
        rep = int(run[np.argmin(rank[run])])
        classes.append((rep, np.sort(run[run != rep])))
    return classes


def _date_runs(members: np.ndarray, published: np.ndarray, window: float) -> list[np.ndarray]:
    # Undated first (they join the earliest run), then by date, then by row.
    by_date = members[np.lexsort((members, published[members]))]
    runs: list[list[int]] = []
    start = NO_DATE
    for row in by_date.tolist():
        moment = published[row]
        gap = days_between(np.array([start]), np.array([moment]))[0]
        if runs and (np.isnan(gap) or gap <= window):
            runs[-1].append(row)
            if start == NO_DATE:
                start = moment
        else:
            runs.append([row])
            start = moment
    return [np.array(run, dtype=np.int64) for run in runs]


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


def group(
    verified: Verified, copies: dict[int, np.ndarray], rank: np.ndarray, rows: int
) -> Grouped:
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
    alone = np.array(sorted(r for r in copies if not (paired[r] and size[label[r]] > 1)), np.int64)
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
    copy_rows = [copies.get(r, np.empty(0, np.int64)) for r in reps.tolist()]
    counts = np.array([len(c) for c in copy_rows], dtype=np.int64)
    member = np.concatenate([reps, *copy_rows])
    member_group = np.concatenate([group_of, np.repeat(group_of, counts)])
    pair = np.concatenate([explaining, np.full(int(counts.sum()), -2, dtype=np.int64)])
    copy_of = np.concatenate([np.full(len(reps), -1, dtype=np.int64), np.repeat(reps, counts)])
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
