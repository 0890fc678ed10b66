import numpy as np
from datasketch import MinHash

from dedupe.fingerprint import facts_of, fingerprint, hash_words, shingle_hashes, signatures
from dedupe.normalize import tokenize
from dedupe.settings import Settings
from tests.conftest import HARBOUR, HARBOUR_TEASER, RAIL, articles


def test_shingles_are_order_sensitive_and_unique():
    a = shingle_hashes(hash_words(["a", "b", "c", "d"]), 3)
    assert a.dtype == np.uint32
    b = shingle_hashes(hash_words(["d", "c", "b", "a"]), 3)
    assert len(a) == 2 and len(np.intersect1d(a, b)) == 0
    assert len(shingle_hashes(hash_words(["x", "x", "x", "x", "x"]), 3)) == 1
    assert len(shingle_hashes(hash_words(["short"]), 3)) == 1


def test_batch_signatures_estimate_jaccard():
    rng = np.random.default_rng(0)
    base = rng.integers(0, 2**63, 400, dtype=np.uint64)
    other = np.concatenate([base[:300], rng.integers(0, 2**63, 100, dtype=np.uint64)])
    sigs = signatures([np.unique(base), np.unique(other), np.empty(0, np.uint64)], 256, 1)
    estimate = float(np.mean(sigs[0] == sigs[1]))
    assert abs(estimate - 300 / 500) < 0.08
    assert (sigs[2] == np.iinfo(np.uint32).max).all()


def test_signatures_use_datasketch_permutations():
    values = np.array([12345, 67890, 4242], dtype=np.uint64)
    ours = signatures([values], 16, 7)[0]
    a, b = MinHash(num_perm=16, seed=7).permutations
    expected = (values[:, None].astype(np.uint32) * a.astype(np.uint32)) + b.astype(np.uint32)
    assert (ours == expected.min(axis=0)).all()


def test_facts_are_numbers_and_names_in_running_text():
    text = "Nevertheless, the council led by Mirela Kostic approved 1.2 billion for 14 cranes."
    numbers, names = facts_of(text, tokenize(text).words)
    assert set(numbers) == set(hash_words(["1.2", "14"]))
    assert set(names) == set(hash_words(["mirela", "kostic"]))


def test_fingerprint_fields():
    settings = Settings()
    full, teaser, rail = fingerprint([HARBOUR, HARBOUR_TEASER, RAIL], settings)
    assert teaser.truncated and not full.truncated
    assert full.text_key != teaser.text_key
    assert len(full.lead(settings.lead_tokens)) > 0 and len(full.title_set()) > 0
    assert "valdora" in full.title_text.split()
    assert full.size > teaser.size > 0
    hashes, positions = full.content()
    assert len(hashes) == len(positions) and 0 < len(hashes) < full.size
    # The same story fingerprints the same way every time.
    again = fingerprint([HARBOUR], settings)[0]
    assert again.text_key == full.text_key
    assert np.array_equal(again.shingles(settings), full.shingles(settings))


def test_the_permutations_are_datasketchs():
    # Band keys in indexes on disk were made with these: a change would orphan every index.
    from datasketch import MinHash

    from dedupe.fingerprint import _permutations

    for num_perm, seed in ((128, 1), (64, 7)):
        a, b = MinHash(num_perm=num_perm, seed=seed).permutations
        mine = _permutations(num_perm, seed)
        assert (mine[0] == a).all() and (mine[1] == b).all()


def test_the_word_cache_is_safe_from_threads(monkeypatch):
    # A tiny cache is cleared all the time: a read must never meet a word another thread dropped.
    import sys
    import threading

    from dedupe import fingerprint as module

    monkeypatch.setattr(module, "_CACHE_LIMIT", 50)
    # Threads switch as often as the interpreter allows, so the race shows within a few rounds.
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    stories = articles(40, seed=5)
    expected = [fp.tokens.tolist() for fp in module.fingerprint(stories, Settings())]
    failures: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(5):
                got = [fp.tokens.tolist() for fp in module.fingerprint(stories, Settings())]
                assert got == expected
        except BaseException as error:  # any failure in a thread is the finding
            failures.append(error)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(previous)
    assert failures == []
