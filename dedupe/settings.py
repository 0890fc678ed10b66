"""The tunables of every stage, in one frozen dataclass, with the reason for each default.

Thresholds were set on the labelled sets in ``benchmarks/`` (BBC syndication variants, Reuters wire
copies, SemEval, UCI); see ``benchmarks/RESULTS.md``. None was fitted to a single example.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, fields


@dataclass(frozen=True, slots=True)
class Settings:
    # --- fingerprint -------------------------------------------------------------------------
    # 3-word shingles survive light edits better than the 5-word shingles of the usual recipe,
    # while still being specific enough that shared phrases mean shared text.
    shingle_size: int = 3
    # Stories longer than this many tokens are cut: wire copy and feeds rarely exceed it, and it
    # bounds the cost of one huge story.
    max_tokens: int = 20_000
    # Lead window: a teaser paraphrases the first paragraph or two of its article.
    lead_tokens: int = 80
    num_perm: int = 128
    seed: int = 1

    # --- candidates (LSH bands: threshold is about (1/bands) ** (1/rows)) ----------------------
    # Whole text: 32 bands x 4 rows proposes pairs from Jaccard ~0.42 up.
    text_bands: int = 32
    text_rows: int = 4
    # Lead: a teaser against the lead of its article, 32 x 3 proposes from Jaccard ~0.31 up (the
    # seed's teasers share 0.40 and 0.56 with their articles). Lead and title sets leave out the
    # common news words (``COMMON_WORDS``): with them, stories of one beat collided quadratically
    # often, 4.4 times the pairs on the 100k speed corpus. 32 x 4 would propose a sixth as many
    # but find a teaser at 0.40 only half the time.
    lead_bands: int = 32
    lead_rows: int = 3
    # Titles: verification accepts on a title only when rapidfuzz scores it >= 88, which takes most
    # words in common; 16 x 5 proposes from ~0.57 up (forum threads and wire series reuse titles:
    # 20 x 4 proposed twice the pairs for 0.1% more of the accepted ones).
    title_bands: int = 16
    title_rows: int = 5
    # A band bucket larger than this is boilerplate (a shared template or a stock phrase); its
    # members are linked to the first few of it only, so one bucket never costs n^2 pairs.
    max_bucket: int = 64
    # A story proposed with more stories than this keeps those it shares the most with (bands
    # weighted by channel, ``index.band_weights``; a pair stays when either story keeps it): a
    # copy shares many bands, a story of the same beat a few, and those pairs grew with the
    # square of the corpus (26.8 million candidates for a million stories, 0.56 million for
    # 100,000). 32 cost the labelled Reuters retransmissions (a dividend notice's partners are
    # dozens of notices of one template, sharing every band alike): F1 0.936 to 0.928. 64 keeps
    # every labelled figure; at a million stories it keeps about nine candidates in ten.
    max_partners: int = 64
    # The streaming check's counterpart: a draft is verified against at most this many stored
    # stories, those sharing the most band keys with it, each key weighted by how few stories
    # it is shared with (a stock phrase's key, shared with hundreds, counts for little); so a
    # verdict names at most this many matches. On benchmarks/index_speed.py's stories (and
    # teasers made of their first 40 words under new titles), ranked so, the best 16 kept every
    # edited copy and every teaser's article that LSH proposed at all, at 100k and at 300k
    # stories; copies share 59 to 80 of a story's 80 keys, teasers 1 to 17. Ranked by the
    # count of keys alone, 32 lost 3 teasers in 484 at 300k. Without a cap a check proposed up
    # to 172 stories at 100k, 681 at 300k and 2,050 at 1M (benchmarks/RESULTS.md).
    max_candidates: int = 32

    # --- verify ------------------------------------------------------------------------------
    near_duplicate_jaccard: float = 0.8
    syndicated_containment: float = 0.5
    syndicated_jaccard: float = 0.35
    # A teaser is an excerpt: cut with a mark, or short in itself and against its article. A full
    # article half as long as another on the same subject is a follow-up, not a teaser (BBC).
    teaser_max_ratio: float = 0.6
    teaser_max_tokens: int = 120
    teaser_lead_containment: float = 0.55
    title_similarity: float = 88.0
    # The share of the smaller set of facts that the other story must report too. A correction
    # changes one figure of many, a template look-alike most of them: on the labelled Reuters
    # pairs the numbers of copies agree at 1.0 (corrections 0.91 at the lower quartile), those of
    # templates at 0.33 (0.67 at the upper quartile). Names are looser: a rewrite names people
    # its source did not.
    number_agreement: float = 0.7
    name_agreement: float = 0.5
    # A copy is a copy whatever its date: archives, late re-runs by small outlets and checks against
    # last year's stories all meet copies weeks apart (a held-out set with copies 5 to 90 days
    # after their source scored F1 0 under a four-day window for every pair). ``window_days`` is
    # for users who want one: stories further apart are never copies. Off by default.
    window_days: float | None = None
    # Dates decide only where the text cannot: a short notice (a dividend notice, a price line, a
    # weekly central-bank or sugar-import statement) says what every notice of its kind says, and
    # the same words weeks apart are the next notice, not a copy. The labelled Reuters notices
    # re-sent 8 to 36 days apart run 49 to 106 words, and none of its copies came more than 3.4
    # days after its story; 99% of BBC articles run over 134 words.
    notice_tokens: int = 120
    notice_window_days: float = 4.0
    # When even the fuller of two stories is this short (a dividend notice, a price line), the text
    # says only what every notice of its kind says and the title names the subject: titles must
    # agree too. (A teaser is short, but its article is not.)
    short_story_tokens: int = 40
    short_story_title_similarity: float = 60.0
    # A floor under the score of a reported pair, for users who want only the surest copies (a
    # review queue, a takedown list): a pair scored below it is no copy at all. Off by default:
    # each rule above has its threshold from the labelled sets, and a score is on that rule's own
    # measure (Jaccard, containment, lead containment, title similarity), so one floor across
    # the rules is the user's choice, not a measured one.
    min_score: float = 0.0
    shared_passages: int = 3
    shared_min_tokens: int = 4

    # --- topics ------------------------------------------------------------------------------
    topics: bool = True
    topic_distance: float = 0.9
    topic_block_size: int = 2000
    topic_min_size: int = 2
    topic_label_terms: int = 3

    def __post_init__(self) -> None:
        """Refuse a value no stage can use, here and by name: otherwise it fails deep inside a
        stage (``text_bands=40`` in a numpy reshape) or quietly finds nothing."""
        for field in fields(self):
            value = getattr(self, field.name)
            if field.name == "window_days" and value is None:
                continue
            low, high, allowed = _RANGES[field.name]
            kind = bool if field.type == "bool" else int if field.type == "int" else float
            if not _is(value, kind) or (kind is not bool and not low <= value <= high):
                raise ValueError(f"Settings.{field.name} must be {allowed}, not {value!r}")
        for channel in ("text", "lead", "title"):
            bands, rows = getattr(self, f"{channel}_bands"), getattr(self, f"{channel}_rows")
            if bands * rows > self.num_perm:
                raise ValueError(
                    f"Settings.{channel}_bands x {channel}_rows must be at most num_perm "
                    f"({self.num_perm}): each band reads its own rows of the signature, "
                    f"not {bands} x {rows} = {bands * rows}"
                )


def _is(value: object, kind: type) -> bool:
    """Whether ``value`` is of ``kind``: a bool is not a number here (``True`` would read as 1),
    an int is a float, as in a type hint, and numpy's numbers count as numbers."""
    if kind is bool or isinstance(value, bool):
        return isinstance(value, bool) and kind is bool
    return isinstance(value, numbers.Integral if kind is int else numbers.Real)


_COUNT = (1, math.inf, "a whole number of at least 1")
_LIMIT = (0, math.inf, "a whole number of at least 0 (0 turns it off)")
_SHARE = (0, 1, "a number from 0 to 1")
_PERCENT = (0, 100, "a number from 0 to 100 (rapidfuzz's scale)")
_DAYS = (0, math.inf, "a number of days of at least 0")
# Inclusive bounds of every field and what to tell a user who set it outside them. NaN is outside
# every range: a comparison with it is always false.
_RANGES: dict[str, tuple[float, float, str]] = {
    "shingle_size": _COUNT,
    # Word positions are held in 16 bits (``Prints.first_seen``).
    "max_tokens": (1, 65_535, "a whole number from 1 to 65,535"),
    "lead_tokens": _COUNT,
    "num_perm": _COUNT,
    # numpy's RandomState takes 32-bit seeds.
    "seed": (0, 2**32 - 1, "a whole number from 0 to 2**32 - 1"),
    "text_bands": _COUNT,
    "text_rows": _COUNT,
    "lead_bands": _COUNT,
    "lead_rows": _COUNT,
    "title_bands": _COUNT,
    "title_rows": _COUNT,
    "max_bucket": _COUNT,
    "max_partners": _COUNT,
    "max_candidates": _COUNT,
    "near_duplicate_jaccard": _SHARE,
    "syndicated_containment": _SHARE,
    "syndicated_jaccard": _SHARE,
    "teaser_max_ratio": _SHARE,
    "teaser_max_tokens": _LIMIT,
    "teaser_lead_containment": _SHARE,
    "title_similarity": _PERCENT,
    "number_agreement": _SHARE,
    "name_agreement": _SHARE,
    "window_days": (0, math.inf, "None (no window) or a number of days of at least 0"),
    "notice_tokens": _LIMIT,
    "notice_window_days": _DAYS,
    "short_story_tokens": _LIMIT,
    "short_story_title_similarity": _PERCENT,
    "min_score": _SHARE,
    "shared_passages": _LIMIT,
    "shared_min_tokens": _COUNT,
    "topics": (0, 1, "True or False"),
    # Cosine distance runs from 0 (the same words) to 2; TF-IDF weights, never negative, keep it
    # within 1, where anything above merges every story into one topic.
    "topic_distance": (0, 2, "a cosine distance from 0 to 2"),
    "topic_block_size": _COUNT,
    "topic_min_size": _COUNT,
    "topic_label_terms": _COUNT,
}
