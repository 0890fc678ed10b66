"""Settings refuse, at construction and by name, every value no stage can use."""

from __future__ import annotations

import dataclasses
import math
import re

import numpy as np
import pytest

from dedupe.settings import Settings

COUNTS = [
    "shingle_size",
    "lead_tokens",
    "num_perm",
    "text_bands",
    "text_rows",
    "lead_bands",
    "lead_rows",
    "title_bands",
    "title_rows",
    "max_bucket",
    "max_partners",
    "max_candidates",
    "shared_min_tokens",
    "topic_block_size",
    "topic_min_size",
    "topic_label_terms",
]
LIMITS = ["teaser_max_tokens", "notice_tokens", "short_story_tokens", "shared_passages"]
SHARES = [
    "near_duplicate_jaccard",
    "syndicated_containment",
    "syndicated_jaccard",
    "teaser_max_ratio",
    "teaser_lead_containment",
    "number_agreement",
    "name_agreement",
    "min_score",
]
PERCENTS = ["title_similarity", "short_story_title_similarity"]


def refused(message: str, **values: object) -> None:
    with pytest.raises(ValueError, match=message):
        Settings(**values)


def test_every_field_has_a_rule() -> None:
    ruled = {*COUNTS, *LIMITS, *SHARES, *PERCENTS}
    ruled |= {"max_tokens", "seed", "window_days", "notice_window_days", "topics", "topic_distance"}
    assert ruled == {field.name for field in dataclasses.fields(Settings)}


def test_the_defaults_are_valid() -> None:
    Settings()


@pytest.mark.parametrize("name", COUNTS)
def test_counts_start_at_one(name: str) -> None:
    refused(rf"^Settings\.{name} must be a whole number of at least 1, not 0$", **{name: 0})
    refused(rf"Settings\.{name} .* not -3$", **{name: -3})
    refused(rf"Settings\.{name} .* not 2\.5$", **{name: 2.5})
    refused(rf"Settings\.{name} .* not True$", **{name: True})


@pytest.mark.parametrize("name", LIMITS)
def test_limits_start_at_zero(name: str) -> None:
    assert getattr(Settings(**{name: 0}), name) == 0
    refused(rf"^Settings\.{name} must be a whole number of at least 0 .*, not -1$", **{name: -1})


@pytest.mark.parametrize("name", SHARES)
def test_shares_run_from_zero_to_one(name: str) -> None:
    assert getattr(Settings(**{name: 0}), name) == 0
    assert getattr(Settings(**{name: 1.0}), name) == 1.0
    refused(rf"^Settings\.{name} must be a number from 0 to 1, not 1\.5$", **{name: 1.5})
    refused(rf"Settings\.{name} .* not -0\.1$", **{name: -0.1})
    refused(rf"Settings\.{name} .* not nan$", **{name: math.nan})
    refused(rf"Settings\.{name} .* not '0\.5'$", **{name: "0.5"})


@pytest.mark.parametrize("name", PERCENTS)
def test_title_similarities_run_from_zero_to_a_hundred(name: str) -> None:
    assert getattr(Settings(**{name: 100}), name) == 100
    refused(rf"^Settings\.{name} must be a number from 0 to 100 .*, not 100\.5$", **{name: 100.5})
    refused(rf"Settings\.{name} .* not -1$", **{name: -1})


def test_stories_are_cut_at_most_at_65535_words() -> None:
    assert Settings(max_tokens=65_535).max_tokens == 65_535
    refused(r"^Settings\.max_tokens must be a whole number from 1 to 65,535, not 0$", max_tokens=0)
    refused(r"Settings\.max_tokens .* not 65536$", max_tokens=65_536)


def test_window_days_is_none_or_at_least_zero() -> None:
    assert Settings(window_days=None).window_days is None
    assert Settings(window_days=0).window_days == 0
    refused(
        r"^Settings\.window_days must be None \(no window\) or .* at least 0, not -1$",
        window_days=-1,
    )
    refused(r"Settings\.window_days .* not nan$", window_days=math.nan)
    refused(
        r"^Settings\.notice_window_days must be .* at least 0, not -2\.0$", notice_window_days=-2.0
    )
    refused(r"Settings\.notice_window_days .* not None$", notice_window_days=None)


def test_the_seed_is_what_numpy_takes() -> None:
    assert Settings(seed=2**32 - 1).seed == 2**32 - 1
    refused(r"^Settings\.seed must be a whole number from 0 to 2\*\*32 - 1, not -1$", seed=-1)
    refused(r"Settings\.seed .* not 4294967296$", seed=2**32)


def test_topics_is_a_bool_and_the_distance_a_cosine_distance() -> None:
    refused(r"^Settings\.topics must be True or False, not 1$", topics=1)
    assert Settings(topic_distance=2).topic_distance == 2
    refused(
        r"^Settings\.topic_distance must be a cosine distance from 0 to 2, not 2\.5$",
        topic_distance=2.5,
    )


@pytest.mark.parametrize("channel", ["text", "lead", "title"])
def test_the_bands_of_each_channel_fit_in_the_signature(channel: str) -> None:
    assert Settings(num_perm=128, **{f"{channel}_bands": 32, f"{channel}_rows": 4})
    message = (
        re.escape(f"Settings.{channel}_bands x {channel}_rows must be at most num_perm (128)")
        + r".*, not 40 x 4 = 160$"
    )
    refused(message, **{f"{channel}_bands": 40, f"{channel}_rows": 4})


def test_a_smaller_signature_must_still_hold_every_channel() -> None:
    refused(r"Settings\.text_bands x text_rows must be at most num_perm \(64\)", num_perm=64)
    assert Settings(num_perm=64, text_bands=16, lead_bands=16, title_bands=12)


def test_replace_is_validated_too() -> None:
    with pytest.raises(ValueError, match="topic_block_size"):
        dataclasses.replace(Settings(), topic_block_size=0)


def test_numpy_numbers_are_numbers() -> None:
    settings = Settings(num_perm=np.int64(256), title_similarity=np.float64(90.0))
    assert settings.num_perm == 256 and settings.title_similarity == 90.0
    refused(r"Settings\.num_perm .* not np\.float64\(64\.0\)$", num_perm=np.float64(64.0))
