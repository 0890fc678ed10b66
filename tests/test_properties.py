"""Properties that must hold for any input, checked on generated stories."""

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dedupe import Detector, Story

SYLLABLES = ["ka", "lo", "mi", "ren", "tso", "va", "dri", "pel", "su", "nor", "qua", "bex"]
# Two vocabularies with no word in common: stories drawn from different ones are unrelated.
WORDS_A = sorted({a + b + c for a in SYLLABLES[:6] for b in SYLLABLES for c in SYLLABLES[:4]})
WORDS_B = sorted({a + b + c for a in SYLLABLES[6:] for b in SYLLABLES for c in SYLLABLES[4:8]})


def texts(words: list[str], min_size: int = 60):
    return st.lists(st.sampled_from(words), min_size=min_size, max_size=160).map(" ".join)


def story(story_id: str, body: str) -> Story:
    return Story(id=story_id, title=" ".join(body.split()[:6]), body=body)


def members(report) -> list[set[str]]:
    return [{m.id for m in g.members} for g in report.groups]


PROPERTY = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(st.lists(texts(WORDS_A, 20), min_size=2, max_size=6), st.randoms(use_true_random=False))
def test_input_order_does_not_change_the_report(bodies, random):
    stories = [story(f"s{i}", body) for i, body in enumerate(bodies)]
    stories.append(story("copy", bodies[0]))
    shuffled = stories[:]
    random.shuffle(shuffled)
    first = Detector().scan(stories, topics=False).to_dict()
    second = Detector().scan(shuffled, topics=False).to_dict()
    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)


@PROPERTY
@given(texts(WORDS_A))
def test_a_copy_is_exact(body):
    report = Detector().scan([story("a", body), story("b", body)], topics=False)
    assert [(m.id, m.relation) for m in report.groups[0].members] == [
        ("a", "original"),
        ("b", "exact"),
    ]
    assert report.groups[0].relation == "duplicate"


@PROPERTY
@given(st.lists(st.sampled_from(WORDS_A), min_size=120, max_size=200, unique=True), st.data())
def test_a_lightly_edited_copy_is_a_near_duplicate(words, data):
    # Distinct words: in a text of one word repeated, any edit changes most of its shingles.
    edited = words[:]
    for _ in range(2):
        position = data.draw(st.integers(0, len(words) - 1))
        edited[position] = data.draw(st.sampled_from(WORDS_B))
    report = Detector().scan(
        [story("a", " ".join(words)), story("b", " ".join(edited))], topics=False
    )
    relations = {m.relation for g in report.groups for m in g.members}
    assert relations == {"original", "near-duplicate"}


@PROPERTY
@given(texts(WORDS_A), texts(WORDS_B))
def test_a_story_never_groups_with_an_unrelated_one(body, stranger):
    report = Detector().scan(
        [story("a", body), story("a-copy", body), story("stranger", stranger)], topics=False
    )
    assert members(report) == [{"a", "a-copy"}]
