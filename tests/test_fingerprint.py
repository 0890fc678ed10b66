import threading

import numpy as np

from dedupe.fingerprint import Prints, distinctive, fingerprint, leads, signatures
from dedupe.normalize import hash_words
from dedupe.rows import Rows
from dedupe.settings import Settings
from dedupe.story import Story
from tests.conftest import HARBOUR, HARBOUR_TEASER, RAIL, articles, printed_with_kernels

SETTINGS = Settings()


def shingles(*bodies: str) -> list[np.ndarray]:
    prints = fingerprint([Story(id=str(n), body=b) for n, b in enumerate(bodies)], SETTINGS)
    return [prints.shingles[n] for n in range(len(bodies))]


def test_shingles_are_order_sensitive_and_unique():
    a, b, same, short = shingles("a b c d", "d c b a", "x x x x x", "short")
    assert a.dtype == np.uint32
    assert len(a) == 2 and len(np.intersect1d(a, b)) == 0
    assert len(same) == 1 and len(short) == 1


def test_batch_signatures_estimate_jaccard():
    rng = np.random.default_rng(0)
    base = rng.integers(0, 2**31, 400, dtype=np.uint32)
    other = np.concatenate([base[:300], rng.integers(0, 2**31, 100, dtype=np.uint32)])
    sets = Rows.of([np.unique(base), np.unique(other), np.empty(0, np.uint32)])
    sigs = signatures(sets, 256, 1)
    estimate = float(np.mean(sigs[0] == sigs[1]))
    assert abs(estimate - 300 / 500) < 0.08
    assert (sigs[2] == np.iinfo(np.uint32).max).all()


def test_the_permutations_are_datasketchs():
    from datasketch import MinHash

    values = np.array([12345, 67890, 4242], dtype=np.uint32)
    ours = signatures(Rows.of([values]), 16, 7)[0]
    a, b = MinHash(num_perm=16, seed=7).permutations
    expected = (values[:, None] * a.astype(np.uint32)) + b.astype(np.uint32)
    assert (ours == expected.min(axis=0)).all()


def test_facts_are_numbers_and_names_in_running_text():
    text = "Nevertheless, the council led by Mirela Kostic approved 1.2 billion for 14 cranes."
    prints = fingerprint([Story(id="a", title="Cranes for 2028", body=text)], SETTINGS)
    assert set(prints.numbers[0]) == set(hash_words(["1.2", "14", "2028"]))
    assert set(prints.names[0]) == set(hash_words(["mirela", "kostic"]))


def test_distinctive_sets_leave_common_words_out_unless_nothing_else_is_left():
    common, rare = np.sort(hash_words(["said", "government"])), hash_words(["valdora"])
    sets = Rows.of([np.sort(np.concatenate([common, rare])), common, np.empty(0, np.uint32)])
    kept = distinctive(sets)
    assert [kept[row].tolist() for row in range(3)] == [rare.tolist(), common.tolist(), []]


def test_a_lead_is_the_content_words_first_seen_in_its_window():
    prints = fingerprint([HARBOUR, RAIL], SETTINGS)
    window = 12
    lead = leads(prints, window)
    for row in range(2):
        seen = prints.first_seen[row] < window
        assert lead[row].tolist() == prints.content[row][seen].tolist()
        assert 0 < len(lead[row]) < len(prints.content[row])


def test_fingerprint_fields():
    prints = fingerprint([HARBOUR, HARBOUR_TEASER, RAIL], SETTINGS, words={})
    full, teaser = 0, 1
    assert prints.truncated.tolist() == [False, True, False]
    assert not (prints.text_key[full] == prints.text_key[teaser]).all()
    assert "valdora" in prints.title_text[full].split()
    assert prints.size[full] > prints.size[teaser] > 0
    assert 0 < len(prints.content[full]) < prints.size[full]
    assert len(prints.title_words[full]) > 0 and len(prints.topic_words[full]) > 0
    # Topic words are found only for a scan that asks for them (with their texts).
    assert len(fingerprint([HARBOUR], SETTINGS).topic_words.values) == 0
    # The same story fingerprints the same way every time, alone or in a batch.
    again = fingerprint([HARBOUR], SETTINGS)
    assert (again.text_key[0] == prints.text_key[full]).all()
    assert np.array_equal(again.shingles[0], prints.shingles[full])


def test_content_words_of_more_rows_than_one_sort_holds():
    from dedupe.fingerprint import _CONTENT_ROWS, _content_rows

    rng = np.random.default_rng(3)
    lengths = rng.integers(0, 4, _CONTENT_ROWS + 50)
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    # Few distinct words, half of them content words: repeats within a row are common.
    values = rng.integers(0, 6, offsets[-1]).astype(np.uint32) | np.uint32(1 << 31)
    values[rng.random(len(values)) < 0.5] &= np.uint32((1 << 31) - 1)
    content, first = _content_rows(Rows(values, offsets))
    for row in [
        0,
        1,
        _CONTENT_ROWS - 1,
        _CONTENT_ROWS,
        len(lengths) - 1,
        *rng.integers(0, len(lengths), 50),
    ]:
        tokens = values[offsets[row] : offsets[row + 1]].tolist()
        seen = {}
        for position, token in enumerate(tokens):
            if token >> 31:
                seen.setdefault(token & ((1 << 31) - 1), position)
        assert content[row].tolist() == sorted(seen)
        assert first[row].tolist() == [seen[word] for word in sorted(seen)]


def test_rows_of_fingerprints_can_be_taken_and_joined():
    prints = fingerprint([HARBOUR, HARBOUR_TEASER, RAIL], SETTINGS)
    joined = Prints.concat([prints.take([2]), prints.take([0, 1])])
    assert joined.title_text == (prints.title_text[2], prints.title_text[0], prints.title_text[1])
    assert np.array_equal(joined.shingles[1], prints.shingles[0])
    assert np.array_equal(joined.first_seen[2], prints.first_seen[1])
    assert joined.size.tolist() == [prints.size[2], prints.size[0], prints.size[1]]


def _dump(kernels: str) -> dict:
    """Fingerprints and band keys of a corpus, computed in a fresh process whose loops run
    ``compiled`` or ``interpreted``."""
    program = (
        "import json, sys; from dedupe.pipeline import fingerprint_batch;"
        "from dedupe.settings import Settings; from tests.conftest import articles;"
        "from tests.conftest import HARBOUR, HARBOUR_TEASER, RAIL;"
        "p, k = fingerprint_batch([HARBOUR, HARBOUR_TEASER, RAIL, *articles(30, seed=9)], Settings(), {});"
        "print(json.dumps({'keys': k.tolist(), 'content': p.content.values.tolist(), 'first': p.first_seen.values.tolist(),"
        "'shingles': p.shingles.values.tolist(), 'names': p.names.values.tolist(),"
        "'numbers': p.numbers.values.tolist(), 'text_key': p.text_key.tolist(),"
        "'titles': p.title_text, 'topics': p.topic_words.values.tolist()}))"
    )
    return printed_with_kernels(program, kernels)


def test_compiled_and_interpreted_loops_agree():
    compiled, interpreted = _dump("compiled"), _dump("interpreted")
    assert compiled == interpreted
    assert any(compiled["keys"][0])


def test_fingerprints_from_many_threads_at_once_agree():
    stories = articles(40, seed=5)
    expected = fingerprint(stories, SETTINGS).shingles.values.tolist()
    failures: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(3):
                assert fingerprint(stories, SETTINGS).shingles.values.tolist() == expected
        except BaseException as error:  # any failure in a thread is the finding
            failures.append(error)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
