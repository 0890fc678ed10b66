import numpy as np

from dedupe.fingerprint import fingerprint
from dedupe.index import Index, band_keys, band_weights, candidate_pairs
from dedupe.settings import Settings
from dedupe.storage.memory import MemoryStorage
from dedupe.story import Story
from tests.conftest import HARBOUR, HARBOUR_TEASER, RAIL, edited

SETTINGS = Settings()


def test_copies_and_teasers_share_band_keys_and_strangers_do_not():
    copy = edited(HARBOUR, "copy", {"welcomed": "praised"})
    fps = fingerprint([HARBOUR, copy, HARBOUR_TEASER, RAIL], SETTINGS)
    pairs = {
        tuple(p) for p in candidate_pairs(band_keys(fps, SETTINGS), 64, 32, band_weights(SETTINGS))
    }
    assert (0, 1) in pairs and (0, 2) in pairs
    assert (0, 3) not in pairs and (2, 3) not in pairs


def test_empty_sets_have_no_keys():
    fps = fingerprint(
        [Story(id="e1", title="", body="!!!"), Story(id="e2", title="", body="...")], SETTINGS
    )
    keys = band_keys(fps, SETTINGS)
    assert (keys == 0).all()
    assert len(candidate_pairs(keys, 64, 32, band_weights(SETTINGS))) == 0


def test_large_buckets_cost_linear_pairs():
    keys = np.full((500, 1), 42, dtype=np.uint64)
    pairs = candidate_pairs(keys, 4, 500, np.ones(1, dtype=np.uint64))
    assert len(pairs) == 4 * 499 - 6  # every member paired with the first four, once
    assert (pairs[:, 0] < pairs[:, 1]).all()


def test_a_crowded_story_keeps_the_partners_it_shares_most_bands_with():
    # Row 0 shares one band with rows 1..9 (a beat) and three bands with rows 10 and 11 (copies).
    keys = np.zeros((12, 3), dtype=np.uint64)
    keys[:10, 0] = 7
    keys[[0, 10, 11], 1] = 8
    keys[[0, 10, 11], 2] = 9
    weights = np.ones(3, dtype=np.uint64)
    pairs = {tuple(p) for p in candidate_pairs(keys, 64, 4, weights).tolist()}
    # Row 0 keeps rows 10 and 11, then the lower rows 1 and 2 of its beat; rows 1..9 have nine
    # partners each and keep four of them, the lowest rows, so (1, 2), (1, 3) ... stay.
    assert {(0, 10), (0, 11), (0, 1), (0, 2), (10, 11)} <= pairs
    assert (0, 3) in pairs  # row 3 keeps it: row 0 is among its four lowest partners
    assert (0, 9) in pairs and (5, 9) not in pairs
    assert all(len([p for p in pairs if r in p]) >= 4 for r in range(1, 10))


def test_streaming_index_finds_stored_copies():
    index = Index(MemoryStorage(), SETTINGS)
    assert index.add_many([HARBOUR, RAIL], errors=None) == 2
    assert index.add(HARBOUR).is_duplicate  # held already: checked, not stored twice
    assert len(index.storage) == 2
    teaser = band_keys(fingerprint([HARBOUR_TEASER], SETTINGS), SETTINGS)[0]
    assert [s.id for s in index.candidates(HARBOUR_TEASER.id, teaser)] == ["harbour"]
    assert [m.story_id for m in index.check(HARBOUR_TEASER).matches] == ["harbour"]
    assert index.add(HARBOUR_TEASER).is_duplicate
    assert [s.id for s in index.candidates(HARBOUR_TEASER.id, teaser, before=1)] == []
    assert [s.id for s in index.candidates(HARBOUR_TEASER.id, teaser, before=3)] == ["harbour"]
