import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from dedupe.fingerprint import fingerprint
from dedupe.settings import Settings
from dedupe.story import Pair, Story
from dedupe.verify import RELATIONS, decide, explain, measure, order, verify
from tests.conftest import HARBOUR, HARBOUR_TEASER, RAIL, edited

SETTINGS = Settings()


def relation(x: Story, y: Story):
    prints = fingerprint([x, y], SETTINGS)
    found = verify(prints, np.array([[0, 1]]), SETTINGS)
    if not len(found):
        return None, None
    a, b = (x, y) if found.a[0] == 0 else (y, x)
    (shared,) = explain([a, b], np.array([[0, 1]]), SETTINGS)
    code = RELATIONS[found.relation[0] - 1]
    return code, Pair(a.id, b.id, code, float(found.score[0]), found.evidence(0, shared))


def test_exact_copy():
    rel, pair = relation(HARBOUR, Story(id="copy", title=HARBOUR.title, body=HARBOUR.body))
    assert rel == "exact" and pair.score == 1.0


def test_light_edit_is_near_duplicate():
    copy = edited(HARBOUR, "edit", {"on Tuesday": "on Tuesday evening", "welcomed": "praised"})
    rel, pair = relation(HARBOUR, copy)
    assert rel == "near-duplicate"
    assert pair.evidence.jaccard >= 0.8 and pair.evidence.shared


def test_teaser_meets_its_article():
    rel, pair = relation(HARBOUR, HARBOUR_TEASER)
    assert rel == "teaser"
    assert pair.a == "harbour" and pair.b == "harbour-teaser"
    assert any("electric cranes" in passage for passage in pair.evidence.shared)


def test_rewrite_with_dropped_and_moved_paragraphs_is_syndicated():
    paragraphs = HARBOUR.body.split("\n")
    body = "\n".join([paragraphs[1], paragraphs[0], paragraphs[3], paragraphs[5]])
    rewrite = Story(id="rewrite", title="Valdora port expansion approved", body=body)
    rel, pair = relation(HARBOUR, rewrite)
    assert rel == "syndicated"
    assert pair.evidence.containment >= 0.5


def test_correction_of_one_figure_is_still_a_copy():
    corrected = edited(HARBOUR, "fix", {"31 votes to 12": "32 votes to 11"})
    assert relation(HARBOUR, corrected)[0] in {"near-duplicate", "syndicated"}


def test_template_look_alike_with_other_facts_is_rejected():
    other = edited(
        HARBOUR,
        "other-port",
        {
            "Port of Valdora": "Port of Sandhaven",
            "University of Valdora": "University of Sandhaven",
            "by 2028": "by 2031",
            "1.2 billion": "800 million",
            "Mirela Kostic": "Tomas Lind",
            "Kostic said": "Lind said",
            "14 electric": "9 electric",
            "17 metres": "15 metres",
            "2.4 million": "1.1 million",
            "9 percent": "4 percent",
            "31 votes to 12": "27 votes to 20",
            "40 hectares": "12 hectares",
            "Nordline": "Eastway",
            "to Valdora": "to Sandhaven",
        },
        title="Port of Sandhaven to double container capacity by 2031",
    )
    assert relation(HARBOUR, other)[0] is None


def test_unrelated_stories_are_rejected():
    assert relation(HARBOUR, RAIL)[0] is None
    assert relation(HARBOUR_TEASER, RAIL)[0] is None


def test_headline_only_items_match_on_titles():
    a = Story(id="h1", title="Fed official says weak data caused by weather, should not slow taper")
    b = Story(
        id="h2", title="Fed official says weak data caused by weather, should not slow tapering"
    )
    c = Story(id="h3", title="Apple unveils new iPhone with bigger screen")
    assert relation(a, b)[0] is not None
    assert relation(a, c)[0] is None


VOCABULARY = [f"w{n}" for n in range(300)] + ["the", "of", "said", "12", "Paris", "Lyon"]


@settings(max_examples=300, deadline=None)
@given(
    words=st.lists(st.sampled_from(VOCABULARY), min_size=1, max_size=160),
    start=st.integers(0, 100),
    length=st.integers(1, 160),
    edits=st.lists(st.tuples(st.integers(0, 159), st.sampled_from(VOCABULARY)), max_size=60),
    headline_only=st.booleans(),
)
def test_the_cheap_filter_never_drops_a_pair_that_would_be_accepted(
    words, start, length, edits, headline_only
):
    """The cheap test of ``measure`` only saves time: whatever ``decide`` accepts when every
    pair is measured, it lets through."""
    other = words[start : start + length] or words[:1]
    for place, word in edits:
        if place < len(other):
            other[place] = word
    a = Story(id="a", title=" ".join(words[:8]), body=" ".join(words))
    b = Story(id="b", title=" ".join(other[:8]), body="" if headline_only else " ".join(other))
    prints = fingerprint([a, b], SETTINGS)
    fuller, shorter = order(prints, np.array([[0, 1]]))
    same = (prints.text_key[fuller] == prints.text_key[shorter]).all(axis=1)
    _, everything = measure(prints, fuller, shorter, np.ones(1, dtype=bool), SETTINGS)
    accepted = decide(prints, fuller, shorter, same, everything, SETTINGS)[0][0] > 0
    headline = prints.headline_only[fuller] | prints.headline_only[shorter]
    plausible, _ = measure(prints, fuller, shorter, same | headline, SETTINGS)
    assert plausible[0] or not accepted
