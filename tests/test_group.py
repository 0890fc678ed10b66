from dedupe.group import group_pairs
from dedupe.story import Evidence, Pair

EVIDENCE = Evidence(80.0, 0.6, 0.5)


def pair(a: str, b: str, relation: str = "syndicated", score: float = 0.7) -> Pair:
    return Pair(a, b, relation, score, EVIDENCE)


def fitness(story_id: str):
    return story_id


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
    assert len(pairs) == 3


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
    assert sorted([m.id for m in g.members] for g in groups) == [["r", "r-copy"], ["s1", "s2", "s3"]]
