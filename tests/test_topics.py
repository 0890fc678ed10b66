"""Topics: coherent, labelled, deterministic, and sane at the edges."""

from __future__ import annotations

import dataclasses
import random
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from scipy import sparse
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import squareform

from dedupe.fingerprint import fingerprint
from dedupe.settings import Settings
from dedupe.story import Story, Topic
from dedupe.topics import _agglomerate, _blocks, _cosine_distances, _weights, cluster_topics
from tests.conftest import printed_with_kernels

ROOT = Path(__file__).resolve().parent.parent
SEED_PAGE = ROOT / "seeds" / "feed-page.txt"
_WORD = re.compile(r"\w+")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3})")


def topics_of(docs: list[tuple[str, list[str]]], settings: Settings) -> tuple[Topic, ...]:
    """The topics of stories made of these words, fingerprinted as a scan does."""
    stories = [Story(id=story_id, body=" ".join(words)) for story_id, words in docs]
    words: dict[int, str] = {}
    prints = fingerprint(stories, settings, words)
    return cluster_topics([s.id for s in stories], prints.topic_words, words, settings)


def tokens(text: str) -> list[str]:
    """Close enough to the normalize stage for topics: lower-cased words, "10,000" as one."""
    return _WORD.findall(_THOUSANDS.sub("", text).lower())


FOOTBALL = [
    "The striker scored twice as the club won the league match against their rivals.",
    "A late goal from the striker gave the club a league win and lifted the fans.",
    "The manager praised his striker after the club's league victory and the winning goal.",
    "Fans cheered as the club's new striker scored on his league debut in the match.",
]
RATES = [
    "The central bank raised interest rates to curb inflation, the bank's governor said.",
    "Inflation pushed the central bank to keep interest rates high for another quarter.",
    "Economists expect the central bank to cut interest rates once inflation slows.",
    "The bank's governor warned that inflation may force further interest rate rises.",
]
NOISE = [
    "Bake the sourdough loaf for forty minutes until the crust is golden and crisp.",
    "Astronomers photographed a comet passing close to Jupiter's largest moon.",
    "Prune roses in early spring, before the new shoots appear on the stems.",
]


def corpus() -> list[tuple[str, list[str]]]:
    texts = [("football", FOOTBALL), ("rates", RATES), ("noise", NOISE)]
    return [(f"{name}-{i}", tokens(text)) for name, items in texts for i, text in enumerate(items)]


def test_two_clear_topics_and_noise() -> None:
    topics = topics_of(corpus(), Settings())

    assert [set(topic.members) for topic in topics] == [
        {f"football-{i}" for i in range(4)},
        {f"rates-{i}" for i in range(4)},
    ]
    assert [topic.id for topic in topics] == ["t1", "t2"]
    assert set(topics[0].label.split()) <= {"striker", "club", "league", "goal", "scored"}
    assert set(topics[1].label.split()) <= {"bank", "central", "inflation", "interest", "rates"}


def test_labels_are_the_configured_number_of_content_terms() -> None:
    settings = dataclasses.replace(Settings(), topic_label_terms=2)
    for topic in topics_of(corpus(), settings):
        terms = topic.label.split()
        assert len(terms) == 2
        assert not {"the", "and", "his"} & set(terms)


def test_terms_of_equal_weight_are_labelled_alphabetically() -> None:
    settings = dataclasses.replace(Settings(), topic_label_terms=2)
    docs = [(story, ["zebra", "mango", "apple", "kiwi"]) for story in ("a", "b")]
    docs += [(story, ["quartz", "basalt"]) for story in ("c", "d")]
    docs += [(story, ["granite"]) for story in ("e", "f")]

    labels = {topic.members: topic.label for topic in topics_of(docs, settings)}

    assert labels == {("a", "b"): "apple kiwi", ("c", "d"): "basalt quartz", ("e", "f"): "granite"}


def test_same_topics_twice_and_in_any_input_order() -> None:
    docs = corpus()
    first = topics_of(docs, Settings())
    shuffled = docs[:]
    random.Random(3).shuffle(shuffled)

    assert topics_of(docs, Settings()) == first
    assert topics_of(shuffled, Settings()) == first


def test_topics_are_ordered_by_size_then_first_member() -> None:
    docs = [(f"b-{i}", tokens(text)) for i, text in enumerate(RATES[:2])]
    docs += [(f"a-{i}", tokens(text)) for i, text in enumerate(FOOTBALL[:2])]
    docs += [(f"c-{i}", tokens(text)) for i, text in enumerate(RATES[2:] + FOOTBALL[2:3])]

    topics = topics_of(docs, Settings())

    sizes = [len(topic.members) for topic in topics]
    assert sizes == sorted(sizes, reverse=True)
    for topic in topics:
        assert list(topic.members) == sorted(topic.members)
    same_size = [topic for topic in topics if len(topic.members) == sizes[-1]]
    assert [t.members[0] for t in same_size] == sorted(t.members[0] for t in same_size)


def test_seed_page_puts_the_two_ukraine_labour_stories_together() -> None:
    stories = split_seed_page(SEED_PAGE.read_text(encoding="utf-8"))
    by_title = {title: story_id for story_id, title, _ in stories}
    war = by_title["War cost Ukraine 40% of its labor force"]
    italy = by_title["Italy to help Ukraine rebuild its labor market"]
    # After grouping, each pair (full article + teaser) is represented by its full article.
    teasers = {
        by_title["Kazakhstan Deports 10,000 Foreigners Amid Crackdown on Migration Violations"],
        by_title["Employers facing a choice: Hire a foreigner or shut down the business"],
    }
    docs = [(sid, tokens(f"{title}\n{body}")) for sid, title, body in stories if sid not in teasers]
    assert len(docs) == 8

    topics = topics_of(docs, Settings())

    ukraine = [topic for topic in topics if war in topic.members]
    assert ukraine and set(ukraine[0].members) == {war, italy}
    assert "ukraine" in ukraine[0].label.split()
    # Nothing else is forced together: every other topic shares a country or a subject.
    titles = {sid: title for sid, title, _ in stories}
    for topic in topics:
        assert len(topic.members) <= 2, [titles[m] for m in topic.members]


def split_seed_page(page: str) -> list[tuple[str, str, str]]:
    """(id, title, body) of the scraped page: an article, then teasers after each "Read more"."""
    skip = {"Category: NEWS", "Source Link", "Read more"}
    stories: list[list[str]] = []
    for line in page.splitlines():
        line = line.strip()
        if line.startswith("Read more") and line != "Read more":
            stories.append([line.removeprefix("Read more").strip()])
        elif line and line not in skip:
            if not stories:
                stories.append([])
            stories[-1].append(line)
    return [(f"story-{i}", lines[0], "\n".join(lines[1:])) for i, lines in enumerate(stories)]


@pytest.mark.parametrize("docs", [[], [("only", tokens(FOOTBALL[0]))]])
def test_too_few_stories_make_no_topic(docs: list[tuple[str, list[str]]]) -> None:
    assert topics_of(docs, Settings()) == ()


def test_a_single_story_is_a_topic_when_the_minimum_is_one() -> None:
    settings = dataclasses.replace(Settings(), topic_min_size=1)
    (topic,) = topics_of([("only", tokens(RATES[0]))], settings)
    assert topic.id == "t1" and topic.members == ("only",)
    assert topic.label


def test_stories_without_content_words_join_no_topic() -> None:
    docs = corpus() + [("empty", []), ("grammar", ["the", "and", "of", "a", "1", "2025"])]
    topics = topics_of(docs, Settings())
    members = {m for topic in topics for m in topic.members}
    assert not {"empty", "grammar"} & members
    assert topics == topics_of(corpus(), Settings())


def test_only_stories_without_content_words_make_no_topic() -> None:
    assert topics_of([("a", []), ("b", ["the", "of"]), ("c", ["42"])], Settings()) == ()


def test_identical_stories_make_one_topic() -> None:
    docs = [(f"copy-{i}", tokens(RATES[0])) for i in range(5)]
    (topic,) = topics_of(docs, Settings())
    assert topic.members == tuple(f"copy-{i}" for i in range(5))


def test_duplicate_ids_are_refused() -> None:
    with pytest.raises(ValueError, match="unique"):
        topics_of([("a", ["bank"]), ("a", ["rates"])], Settings())


def test_large_inputs_are_clustered_in_blocks_without_mixing_topics() -> None:
    # A block size far below the input size takes the partition path of big inputs.
    settings = dataclasses.replace(Settings(), topic_block_size=6)
    docs = [
        (f"{name}-{copy}-{i}", tokens(text))
        for copy in range(3)
        for name, items in (("football", FOOTBALL), ("rates", RATES))
        for i, text in enumerate(items)
    ]

    topics = topics_of(docs, settings)

    assert topics
    for topic in topics:
        assert len({member.split("-")[0] for member in topic.members}) == 1
    assert topics_of(docs, settings) == topics


def test_blocks_cover_every_row_once_and_respect_the_size() -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer

    texts = [text for _ in range(5) for text in FOOTBALL + RATES + NOISE]
    weights = TfidfVectorizer().fit_transform(texts).tocsr()

    blocks = _blocks(weights, 7)

    rows = sorted(row for block in blocks for row in block)
    assert rows == list(range(len(texts)))
    assert max(len(block) for block in blocks) <= 7


VOCABULARY = ["bank", "rates", "goal", "club", "comet", "moon", "bread", "oven", "the", "2025"]


@hypothesis_settings(max_examples=20, deadline=None)
@given(
    st.lists(st.lists(st.sampled_from(VOCABULARY), max_size=8), max_size=25),
    st.sampled_from([5, 2000]),
    st.integers(min_value=1, max_value=3),
)
def test_topics_are_well_formed(words: list[list[str]], block_size: int, min_size: int) -> None:
    settings = dataclasses.replace(Settings(), topic_block_size=block_size, topic_min_size=min_size)
    docs = [(f"s{i:02d}", doc) for i, doc in enumerate(words)]

    topics = topics_of(docs, settings)

    assert all(isinstance(topic, Topic) for topic in topics)
    assert [topic.id for topic in topics] == [f"t{i}" for i in range(1, len(topics) + 1)]
    members = [m for topic in topics for m in topic.members]
    assert len(members) == len(set(members))
    assert all(len(topic.members) >= min_size for topic in topics)
    assert all(list(topic.members) == sorted(topic.members) for topic in topics)
    assert topics_of(list(reversed(docs)), settings) == topics


def random_weights(rows: int, columns: int, density: float, seed: int) -> sparse.csr_matrix:
    """Rows of L2 norm 1 (or empty), in float32, as TF-IDF weighs stories."""
    rng = np.random.default_rng(seed)
    counts = sparse.random(rows, columns, density=density, format="csr", random_state=rng)
    norms = np.sqrt(np.asarray(counts.multiply(counts).sum(axis=1))).ravel()
    return sparse.csr_matrix(sparse.diags(1 / np.maximum(norms, 1e-3)) @ counts, dtype=np.float32)


def scipy_distances(weights: sparse.csr_matrix) -> np.ndarray:
    """Cosine distances as SciPy's sparse product gives them, in the condensed order."""
    distances = 1.0 - (weights @ weights.T).toarray().astype(np.float64)
    np.clip(distances, 0.0, 1.0, out=distances)
    np.fill_diagonal(distances, 0.0)
    return squareform(distances, checks=False)


def test_distances_are_those_of_scipys_sparse_product_to_the_bit() -> None:
    weights = random_weights(60, 40, 0.15, seed=5)
    columns = weights.tocsc()
    out = np.empty(60 * 59 // 2)
    near = np.zeros(60, dtype=np.bool_)

    _cosine_distances(
        weights.indptr,
        weights.indices,
        weights.data,
        columns.indptr,
        columns.indices,
        columns.data,
        0.9,
        out,
        near,
    )

    expected = scipy_distances(weights)
    assert np.array_equal(out, expected)
    square = squareform(expected) + np.eye(60)
    assert near.tolist() == (square < 0.9).any(axis=1).tolist()


def test_rows_left_alone_change_no_cluster_of_the_others() -> None:
    # Three words a row out of 300: some 20 rows have no other within the cut.
    weights = random_weights(80, 300, 0.01, seed=7)
    tree = linkage(scipy_distances(weights), method="average")
    every_row = fcluster(tree, np.nextafter(0.9, 0.0), criterion="distance")

    labels = _agglomerate(weights, 0.9)

    def clusters(labels: np.ndarray) -> set[frozenset[int]]:
        return {frozenset(np.flatnonzero(labels == label).tolist()) for label in set(labels)}

    assert clusters(labels) == clusters(every_row)
    sizes = np.bincount(labels)
    assert (sizes == 1).sum() > 20 and (sizes > 2).any()
    assert sorted(set(labels.tolist())) == list(range(len(sizes)))


def test_weights_are_scikit_learns_tf_idf_to_the_bit() -> None:
    from sklearn.feature_extraction.text import TfidfTransformer

    rng = np.random.default_rng(11)
    counts = sparse.random(200, 500, density=0.05, format="csr", random_state=rng)
    counts.data = rng.integers(1, 6, size=counts.nnz).astype(np.float32)
    counts = counts.astype(np.float32)

    weights = _weights(counts)

    expected = TfidfTransformer(sublinear_tf=True).fit_transform(counts).tocsr()
    assert weights.dtype == expected.dtype == np.float32
    assert np.array_equal(weights.indptr, expected.indptr)
    assert np.array_equal(weights.indices, expected.indices)
    assert np.array_equal(weights.data, expected.data)


def test_topics_of_a_feed_page_leave_scikit_learn_unimported() -> None:
    program = (
        "import sys; from dedupe.settings import Settings;"
        "from tests.test_topics import corpus, topics_of;"
        "assert topics_of(corpus(), Settings()); print('sklearn' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def _topics_in_a_process(kernels: str, compile_first: bool) -> list:
    """Topics of a corpus cut into blocks, found in a fresh process whose loops run ``kernels``;
    ``compile_first`` compiles them before dedupe.topics is imported, as a scan does."""
    program = (
        "import dataclasses, json; from dedupe import compiled;"
        f"compiled.compile_now() if {compile_first} else None;"
        "from dedupe.settings import Settings; from tests.test_topics import corpus, topics_of;"
        "docs = [(f'{i}-{d}', words) for i in range(4) for d, words in corpus()];"
        "settings = dataclasses.replace(Settings(), topic_block_size=20);"
        "found = [list(topic.members) for topic in topics_of(docs, settings)];"
        "import dedupe.topics as t;"
        "print(json.dumps([hasattr(t._cosine_distances, 'py_func'), found]))"
    )
    return printed_with_kernels(program, kernels)


def test_compiled_and_interpreted_distances_give_the_same_topics() -> None:
    late_compiled, late = _topics_in_a_process("", compile_first=True)
    compiled, topics = _topics_in_a_process("compiled", compile_first=False)
    interpreted, same = _topics_in_a_process("interpreted", compile_first=False)
    assert late_compiled and compiled and not interpreted
    assert topics and late == topics == same
