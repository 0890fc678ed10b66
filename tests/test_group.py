import numpy as np

from dedupe.fingerprint import NO_DATE
from dedupe.group import Copies, group
from dedupe.pipeline import report_groups, report_pairs
from dedupe.verify import RELATIONS, Verified


def pair(a: str, b: str, relation: str = "syndicated", score: float = 0.7):
    return a, b, relation, score


def fitness(story_id: str):
    return story_id


def group_pairs(pairs, copies, key):
    """The report's groups and pairs for pairs between named stories, as a scan makes them:
    stories are rows in id order, and ``key`` orders them by fitness to be the original."""
    ids = sorted({*(p[0] for p in pairs), *(p[1] for p in pairs), *copies}
                 | {c for cs in copies.values() for c in cs})  # fmt: skip
    row = {story_id: n for n, story_id in enumerate(ids)}
    count = len(pairs)
    verified = Verified(
        a=np.array([row[p[0]] for p in pairs], dtype=np.int64),
        b=np.array([row[p[1]] for p in pairs], dtype=np.int64),
        relation=np.array([RELATIONS.index(p[2]) + 1 for p in pairs], dtype=np.uint8),
        score=np.array([p[3] for p in pairs], dtype=np.float64),
        title_similarity=np.full(count, 80.0),
        containment=np.full(count, 0.6),
        jaccard=np.full(count, 0.5),
        days_apart=np.full(count, np.nan),
        number_agreement=np.ones(count),
        name_agreement=np.ones(count),
    )
    rank = np.empty(len(ids), dtype=np.int64)
    rank[sorted(range(len(ids)), key=lambda n: (key(ids[n]), ids[n]))] = np.arange(len(ids))
    held = sorted((row[c], row[r]) for r, cs in copies.items() for c in cs)
    rows, of = np.array(held, dtype=np.int64).reshape(-1, 2).T
    grouped = group(verified, Copies(rows, of), rank, len(ids))
    undated = np.full(len(ids), NO_DATE)
    return report_groups(grouped, verified, ids), report_pairs(grouped, verified, ids, undated, {})


def test_pairs_join_into_groups_with_a_canonical():
    groups, pairs = group_pairs(
        [pair("a", "b"), pair("a", "c", "teaser"), pair("b", "c")], {}, fitness
    )
    assert len(groups) == 1
    group = groups[0]
    assert group.id == "g1" and group.canonical == "a" and group.relation == "syndicated"
    assert [(m.id, m.relation) for m in group.members] == [
        ("a", "original"),
        ("b", "syndicated"),
        ("c", "teaser"),
    ]
    # Each member but the canonical is explained by one pair, with the canonical if there is one.
    assert [(p.a, p.b) for p in pairs] == [("a", "b"), ("a", "c")]


def test_one_member_does_not_chain_unrelated_stories():
    # A round-up "r" copies both "x" and "y", which have nothing in common.
    groups, pairs = group_pairs([pair("r", "x", score=0.9), pair("r", "y", score=0.8)], {}, fitness)
    assert len(groups) == 1
    assert {m.id for m in groups[0].members} == {"r", "x"}
    assert {(p.a, p.b) for p in pairs} == {("r", "x")}


def test_a_member_linked_to_most_of_a_group_joins_it():
    links = [
        pair("a", "b", score=0.9),
        pair("a", "c"),
        pair("b", "c"),
        pair("c", "d"),
        pair("a", "d"),
    ]
    groups, _ = group_pairs(links, {}, fitness)
    assert [m.id for m in groups[0].members] == ["a", "b", "c", "d"]


def test_exact_copies_join_their_representative():
    groups, pairs = group_pairs(
        [pair("a", "t", "teaser")], {"a": ["a2", "a3"], "z": ["z2"]}, fitness
    )
    assert [g.canonical for g in groups] == ["a", "z"]
    assert [(m.id, m.relation) for m in groups[0].members] == [
        ("a", "original"),
        ("a2", "exact"),
        ("a3", "exact"),
        ("t", "teaser"),
    ]
    assert groups[1].relation == "duplicate"
    assert ("z", "z2") in {(p.a, p.b) for p in pairs}


def test_canonical_follows_the_fitness_key():
    groups, _ = group_pairs([pair("a", "b")], {}, lambda i: {"a": 1, "b": 0}[i])
    assert groups[0].canonical == "b"
    assert groups[0].members[0].relation == "original"


def test_output_does_not_depend_on_pair_order():
    links = [pair("a", "b"), pair("c", "d", "near-duplicate", 0.9), pair("b", "e", "teaser", 0.6)]
    assert group_pairs(links, {}, fitness) == group_pairs(list(reversed(links)), {}, fitness)


def test_exact_copies_stay_a_group_when_their_other_pair_is_refused():
    links = [pair("s1", "s2"), pair("s1", "s3"), pair("s2", "s3"), pair("r", "s1", score=0.5)]
    groups, _ = group_pairs(links, {"r": ["r-copy"]}, fitness)
    assert sorted([m.id for m in g.members] for g in groups) == [
        ["r", "r-copy"],
        ["s1", "s2", "s3"],
    ]
