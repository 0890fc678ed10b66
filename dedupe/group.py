"""Group: join accepted pairs into groups of one story each, and name each group's original.

Plain connected components chain unrelated stories through one member (a round-up that quotes two
stories joins them). Here two groups merge only when most of the pairs between them were accepted,
strongest pairs first; so a story joins a group only if it copies most of its members.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from datetime import UTC, datetime
from typing import Any

from dedupe.fingerprint import Fingerprint
from dedupe.settings import Settings
from dedupe.story import Evidence, Group, Member, Pair
from dedupe.verify import days_between, window_days

_COPY_RELATIONS = {"exact", "near-duplicate"}


def original_first(teasers: AbstractSet[str]) -> Callable[[Fingerprint], tuple]:
    """How fit a story is to be its group's original, lowest first: not a teaser, earliest
    published, fullest, then by id."""
    latest = datetime.max.replace(tzinfo=UTC)

    def key(fp: Fingerprint) -> tuple:
        is_teaser = fp.truncated or fp.id in teasers
        return (is_teaser, fp.published is None, fp.published or latest, -fp.size, fp.id)

    return key


def exact_copies(
    fps: Sequence[Fingerprint], settings: Settings
) -> tuple[list[int], dict[str, list[str]]]:
    """One representative per distinct text, the fittest to be an original (positions in
    ``fps``, ascending), and the ids of the other stories with exactly its text.

    Where dates decide (a window set by the user, or a short notice: ``verify.window_days``), a
    text's stories are split by date first: each run of stories within the window of the run's
    earliest is one class; undated stories join the earliest run.
    """
    classes: defaultdict[bytes, list[int]] = defaultdict(list)
    for number, fp in enumerate(fps):
        classes[fp.text_key].append(number)
    fitness = original_first(set())
    reps: list[int] = []
    copies: dict[str, list[str]] = {}
    for numbers in classes.values():
        for run in _date_runs([fps[n] for n in numbers], numbers, settings):
            rep = min(run, key=lambda n: fitness(fps[n]))
            reps.append(rep)
            copies[fps[rep].id] = sorted(fps[n].id for n in run if n != rep)
    return sorted(reps), copies


def _date_runs(
    same_text: Sequence[Fingerprint], numbers: Sequence[int], settings: Settings
) -> list[list[int]]:
    window = window_days(same_text[0], settings)
    if len(numbers) == 1 or window == float("inf"):
        return [list(numbers)]
    earliest = datetime.min.replace(tzinfo=UTC)
    by_date = sorted(
        zip(same_text, numbers, strict=True),
        key=lambda item: (item[0].published or earliest, item[0].id),
    )
    runs: list[list[int]] = []
    start: datetime | None = None
    for fp, number in by_date:
        gap = days_between(start, fp.published)
        if runs and (gap is None or gap <= window):
            runs[-1].append(number)
            start = start or fp.published
        else:
            runs.append([number])
            start = fp.published
    return runs


def _merge_groups(ids: Sequence[str], pairs: Sequence[Pair]) -> list[list[str]]:
    neighbours: defaultdict[str, set[str]] = defaultdict(set)
    for pair in pairs:
        neighbours[pair.a].add(pair.b)
        neighbours[pair.b].add(pair.a)
    root = {i: i for i in ids}
    members = {i: [i] for i in ids}

    def find(i: str) -> str:
        while root[i] != i:
            root[i] = root[root[i]]
            i = root[i]
        return i

    for pair in sorted(pairs, key=lambda p: (-p.score, p.a, p.b)):
        ra, rb = find(pair.a), find(pair.b)
        if ra == rb:
            continue
        small, large = sorted((members[ra], members[rb]), key=len)
        large_set = set(large)
        links = sum(len(neighbours[i] & large_set) for i in small)
        if 2 * links <= len(small) * len(large):
            continue
        keep, gone = (ra, rb) if len(members[ra]) >= len(members[rb]) else (rb, ra)
        root[gone] = keep
        members[keep].extend(members.pop(gone))
    return [sorted(group) for group in members.values() if len(group) > 1]


def group_pairs(
    pairs: Sequence[Pair],
    copies: Mapping[str, Sequence[str]],
    canonical_key: Callable[[str], Any],
) -> tuple[tuple[Group, ...], tuple[Pair, ...]]:
    """Groups and the pairs inside them, both in a deterministic order.

    ``pairs`` join distinct texts, each named by its representative; ``copies`` maps a
    representative to the other stories with exactly its text, which join its group as ``exact``.
    ``canonical_key`` orders stories by how fit each is to be the original (lowest first), and each
    representative must be the fittest of its copies.
    """
    paired = {p.a for p in pairs} | {p.b for p in pairs}
    merged = _merge_groups(sorted(paired), pairs)
    # A text with exact copies is a group even when none of its other pairs could join it.
    grouped = {rep for reps in merged for rep in reps}
    merged += [[r] for r in sorted(set(copies) - grouped) if copies[r]]
    group_of = {rep: number for number, reps in enumerate(merged) for rep in reps}
    inside_pairs: list[list[Pair]] = [[] for _ in merged]
    for pair in pairs:
        number = group_of.get(pair.a)
        if number is not None and number == group_of.get(pair.b):
            inside_pairs[number].append(pair)
    found = sorted(
        (
            (min(reps, key=canonical_key), reps, inside)
            for reps, inside in zip(merged, inside_pairs, strict=True)
        ),
        key=lambda item: item[0],
    )

    by_ends = {frozenset((p.a, p.b)): p for p in pairs}
    groups: list[Group] = []
    kept: list[Pair] = []
    for number, (canonical, reps, inside) in enumerate(found, start=1):
        listed = [Member(canonical, "original")]
        for rep in reps:
            if rep != canonical:
                pair = by_ends.get(frozenset((rep, canonical))) or max(
                    (p for p in inside if rep in (p.a, p.b)), key=lambda p: (p.score, p.a, p.b)
                )
                listed.append(Member(rep, pair.relation, pair.score))
            listed.extend(Member(copy, "exact", 1.0) for copy in copies.get(rep, ()))
        listed[1:] = sorted(listed[1:], key=lambda m: m.id)
        relation = (
            "duplicate" if all(m.relation in _COPY_RELATIONS for m in listed[1:]) else "syndicated"
        )
        groups.append(Group(f"g{number}", relation, canonical, tuple(listed)))
        kept.extend(sorted(inside, key=lambda p: (canonical not in (p.a, p.b), p.a, p.b)))
        for rep in reps:
            kept.extend(copy_pair(rep, copy) for copy in copies.get(rep, ()))
    return tuple(groups), tuple(kept)


def copy_pair(original: str, copy: str) -> Pair:
    """The pair of two stories with the same normalized text: nothing to measure."""
    return Pair(original, copy, "exact", 1.0, Evidence(100.0, 1.0, 1.0))
