"""The batch stages both engines share, as functions over rows and arrays: the local engine
(``Detector.scan``) and the Spark engine call the same rules, so that their reports agree by
construction.

A scan's stories are rows, in id order: ``fingerprint_batch`` makes the fingerprints and band
keys of a batch; ``find_groups`` the exact classes, candidate pairs, verification and groups;
``report_groups`` and ``report_pairs`` the report's groups and pairs, explaining each member
once; ``topic_rows`` the
stories topics are made of. Ids appear only at the edges.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Container, Mapping, Sequence
from typing import Literal

import numpy as np

from dedupe.compiled import compile_now
from dedupe.fingerprint import Prints, fingerprint
from dedupe.group import Grouped, duplicates, exact_copies, fitness, group, relation_of
from dedupe.index import band_keys, band_weights, candidate_pairs, fold_keys
from dedupe.rows import distinct
from dedupe.settings import Settings
from dedupe.story import Evidence, Group, Member, Pair, Story
from dedupe.verify import EXACT, RELATIONS, TEASER, Verified, days_between, explain, verify

# The stages of a scan after reading, in their order, each told with how many things it works on:
# stories, candidate pairs, accepted pairs, pairs to explain, stories to cluster into topics, and
# texts to read back (only when the scan keeps them).
Stage = Literal["candidates", "verifying", "grouping", "explaining", "topics", "texts"]


def story_digest(story: Story) -> bytes:
    """A stable digest of a record's every field: two records under one id are one story only
    when their digests agree."""
    return hashlib.blake2b(repr(story.to_dict()).encode("utf-8"), digest_size=16).digest()


def fingerprint_batch(
    stories: Sequence[Story], settings: Settings, words: dict[int, str] | None = None
) -> tuple[Prints, np.ndarray]:
    """Fingerprints and band keys of a batch: the unit of work of every engine's workers. The
    keys are folded to 32 bits (``fold_keys``): a scan holds every story's keys at once."""
    prints = fingerprint(stories, settings, words)
    return prints, fold_keys(band_keys(prints, settings))


def load_compiled(settings: Settings) -> None:
    """Compile (or load from numba's cache) the loops that fingerprinting runs, now: a process
    about to start workers loads them once, and its workers inherit them."""
    compile_now()
    fingerprint_batch([_WARM_UP], settings)


# A story that runs every fingerprinting loop: title, body, a number with separators, names.
_WARM_UP = Story(id="warm-up", title="A Title", body="The Bank of Chile said 10,000 rose.")


def version_names(versions: Mapping[str, int], taken: Container[str]) -> dict[str, list[str]]:
    """The names of the stories that share an id, for each id held by several: the first keeps
    the id, the others become ``id~2``, ``id~3``, ... skipping any name already ``taken`` by a
    story of the corpus, so that a renamed story never lands on another's id.

    Callers give the stories of one id these names in the order of their records' digests, so the
    names do not depend on the order in which the stories were read.
    """
    names: dict[str, list[str]] = {}
    for story_id in sorted(versions):
        listed = [story_id]
        number = 1
        while len(listed) < versions[story_id]:
            number += 1
            name = f"{story_id}~{number}"
            if name not in taken:
                listed.append(name)
        names[story_id] = listed
    return names


def find_groups(
    prints: Prints,
    keys: np.ndarray,
    settings: Settings,
    lap: Callable[..., None] | None = None,
    stage: Callable[[Stage, int], None] | None = None,
) -> tuple[Verified, Grouped]:
    """The accepted pairs between distinct texts, and the groups they and the exact copies make.
    ``lap`` is told when each stage is done (``dedupe -v``), ``stage`` when each starts.
    ``keys`` are spent: an exact copy's are zeroed, so that only one of each text is proposed
    (a copy of them would cost a million stories 600 MB)."""
    lap = lap or (lambda *args: None)
    stage = stage or (lambda *args: None)
    stage("candidates", len(prints))
    reps, copies = exact_copies(prints, settings)
    copy_rows = np.ones(len(prints), dtype=np.bool_)
    copy_rows[reps] = False
    keys[copy_rows] = 0
    weights = band_weights(settings)
    candidates = candidate_pairs(keys, settings.max_bucket, settings.max_partners, weights)
    lap("%d candidate pairs", len(candidates))
    stage("verifying", len(candidates))
    verified = verify(prints, candidates, settings)
    lap("verified: %d pairs accepted", len(verified))
    stage("grouping", len(verified))
    rank = fitness(
        prints.truncated, prints.published, prints.size, teasers_of(verified, len(prints))
    )
    return verified, group(verified, copies, rank, len(prints))


def teasers_of(verified: Verified, rows: int) -> np.ndarray:
    """The rows that some accepted pair found to be a teaser: never a group's original."""
    teasers = np.zeros(rows, dtype=np.bool_)
    teasers[verified.b[verified.relation == TEASER]] = True
    return teasers


def explained(grouped: Grouped, verified: Verified) -> np.ndarray:
    """The verified pairs whose shared passages the report shows: the pair that explains each
    member, but for exact copies, which have nothing to show."""
    pairs = grouped.pair[grouped.pair >= 0]
    return distinct(pairs[verified.relation[pairs] != EXACT])


def passages(
    verified: Verified,
    wanted: np.ndarray,
    stories: Callable[[np.ndarray], Sequence[Story]],
    settings: Settings,
) -> dict[int, tuple[str, ...]]:
    """The shared passages of the verified pairs ``wanted``, by pair. ``stories`` reads the
    stories of rows: their texts are needed only here, for the pairs reported."""
    needed, pairs = pair_rows(verified, wanted)
    shared = explain(stories(needed), pairs, settings)
    return dict(zip(wanted.tolist(), shared, strict=True))


def pair_rows(verified: Verified, wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rows the verified pairs ``wanted`` are made of, each once, and the pairs as
    positions among them: each story is read and tokenized once, however many pairs it is in."""
    needed, ends = np.unique(
        np.concatenate([verified.a[wanted], verified.b[wanted]]), return_inverse=True
    )
    return needed, ends.reshape(2, -1).T


def report_groups(grouped: Grouped, verified: Verified, ids: Sequence[str]) -> tuple[Group, ...]:
    """The report's groups, their members in order, each with the relation and score of the
    pair that explains it (``report_pairs``)."""
    pair = grouped.pair
    duplicate = duplicates(grouped, relation_of(verified, pair)).tolist()
    members = grouped.members.tolist()
    explaining = pair.tolist()
    relation = [RELATIONS[code - 1] for code in verified.relation.tolist()]
    score = verified.score.tolist()
    offsets = grouped.offsets.tolist()
    groups: list[Group] = []
    for number in range(len(grouped)):
        first, stop = offsets[number], offsets[number + 1]
        listed = [Member(ids[members[first]], "original")]
        for k in range(first + 1, stop):
            q = explaining[k]
            if q == -2:
                listed.append(Member(ids[members[k]], "exact", 1.0))
            else:
                listed.append(Member(ids[members[k]], relation[q], score[q]))
        kind = "duplicate" if duplicate[number] else "syndicated"
        groups.append(Group(f"g{number + 1}", kind, listed[0].id, tuple(listed)))
    return tuple(groups)


def report_pairs(
    grouped: Grouped,
    verified: Verified,
    ids: Sequence[str],
    published: np.ndarray,
    shared: Mapping[int, tuple[str, ...]],
) -> tuple[Pair, ...]:
    """The pair that explains each member but the canonical, in the order of the groups and
    their members: an exact copy with its representative, the others with their evidence and
    the ``shared`` passages of those that have them (``shared`` may still be being found
    elsewhere: it is read last)."""
    pair = grouped.pair
    # An exact copy's days from its representative, for all copies at once.
    copy = pair == -2
    days = np.full(len(pair), np.nan)
    days[copy] = days_between(published[grouped.copy_of[copy]], published[grouped.members[copy]])
    measured = np.flatnonzero(pair >= 0)
    evidence = dict(zip(measured.tolist(), verified.evidences(pair[measured], shared), strict=True))
    relation = [RELATIONS[code - 1] for code in verified.relation.tolist()]
    score = verified.score.tolist()
    ends = list(zip(verified.a.tolist(), verified.b.tolist(), strict=True))
    members, copy_of = grouped.members.tolist(), grouped.copy_of.tolist()
    pairs: list[Pair] = []
    for k, (q, moment) in enumerate(zip(pair.tolist(), days.tolist(), strict=True)):
        if q == -2:
            exact = Evidence(100.0, 1.0, 1.0, days_apart=None if np.isnan(moment) else moment)
            pairs.append(Pair(ids[copy_of[k]], ids[members[k]], "exact", 1.0, exact))
        elif q >= 0:
            a, b = ends[q]
            pairs.append(Pair(ids[a], ids[b], relation[q], score[q], evidence[k]))
    return tuple(pairs)


def topic_rows(grouped: Grouped, count: int) -> np.ndarray:
    """The rows topics are made of: every story in no group, and each group's canonical."""
    keep = np.ones(count, dtype=np.bool_)
    keep[grouped.members] = False
    keep[grouped.canonical] = True
    return np.flatnonzero(keep)
