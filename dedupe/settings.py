"""The tunables of every stage, in one frozen dataclass, with the reason for each default.

Thresholds were set on the labelled sets in ``benchmarks/`` (BBC syndication variants, Reuters wire
copies, SemEval, UCI); see ``benchmarks/RESULTS.md``. None was fitted to a single example.
"""

from __future__ import annotations

from dataclasses import dataclass


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
    shared_passages: int = 3
    shared_min_tokens: int = 4

    # --- topics ------------------------------------------------------------------------------
    topics: bool = True
    topic_distance: float = 0.9
    topic_block_size: int = 2000
    topic_min_size: int = 2
    topic_label_terms: int = 3
