"""Draw the Reuters pairs worth labelling by hand, and show them for reading.

Reuters-21578 carries real re-transmissions, CORRECTED versions and rewrites of one story, and
many look-alikes built from one template (earnings tables, dividend notices, market reports). The
corpus labels none of them, so ``labels/reuters_pairs.csv`` holds labels given by reading pairs
drawn here, from five strata:

- ``corrected``: a "CORRECTED" story and its closest partner (the story it corrects, if present);
- ``overlap-*``: pairs with different bodies, by word 3-shingle Jaccard band, sampled per band;
- ``template``: pairs alike once numbers are masked but with other figures or another company;
- ``related``: two stories about the same company (one ticker in both headlines) that share
  some text, such as an announcement and its follow-up;
- ``same-body``: identical bodies under different headlines (a retitle, or two companies whose
  notices happen to read the same) or sent more than a day apart (a re-run, or a routine notice
  that reads the same each week).

Nine more pairs were added by hand: CORRECTED stories whose original is in the corpus but shares
too little text to be drawn (found by the company name in the headline), and the one re-sent copy
among four identical Bundesbank notices.

Run ``python -m benchmarks.label_reuters`` to print every drawn pair that is not labelled yet, as a
word diff; the draw is seeded, so the same pairs come back.
"""

from __future__ import annotations

import csv
import difflib
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from datasketch import MinHash, MinHashLSH

from benchmarks.data import load_reuters, normalize_space, resolve_data_dir
from dedupe.story import Story

LABELS_FILE = Path(__file__).parent / "labels" / "reuters_pairs.csv"
WORD = re.compile(r"\w+")
CORRECTED = re.compile(r"^\W*CORRECTED\b")
TICKER = re.compile(r"<([A-Z][A-Z.]*)>")
OVERLAP_BANDS = ((0.3, 0.5), (0.5, 0.7), (0.7, 0.9), (0.9, 1.0))
PER_BAND = 20
TEMPLATES = 40
RELATED = 20
# Masked Jaccard above this means "the same sentences with other figures".
TEMPLATE_MASKED = 0.8


@dataclass(frozen=True, slots=True)
class Candidate:
    stratum: str
    a: Story
    b: Story
    jaccard: float
    masked_jaccard: float


def word_shingles(text: str, mask_numbers: bool = False, size: int = 3) -> set[str]:
    words = WORD.findall(text.lower())
    if mask_numbers:
        words = ["#" if any(c.isdigit() for c in w) else w for w in words]
    return {" ".join(words[i : i + size]) for i in range(max(1, len(words) - size + 1))}


def jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0


def similar_pairs(sets: Sequence[set[str]], threshold: float) -> set[tuple[int, int]]:
    """Index pairs whose MinHash estimate passes ``threshold`` (verified later on real sets)."""
    signatures = MinHash.bulk([{s.encode() for s in words} for words in sets], num_perm=128)
    lsh = MinHashLSH(threshold=threshold, num_perm=128)
    with lsh.insertion_session() as session:
        for index, signature in enumerate(signatures):
            session.insert(index, signature)
    return {
        (index, match)
        for index, signature in enumerate(signatures)
        for match in lsh.query(signature)
        if match > index
    }


def days_apart(a: Story, b: Story) -> float:
    """Days between two stories' dates; 0 when either date is missing."""
    if not (a.published and b.published):
        return 0.0
    gap = datetime.fromisoformat(a.published) - datetime.fromisoformat(b.published)
    return abs(gap.total_seconds()) / 86400


def newid(story: Story) -> int:
    return int(story.id.removeprefix("reuters-"))


def draw_candidates(stories: Sequence[Story], seed: int) -> list[Candidate]:
    """The pairs to label, stratum by stratum, in a seeded order."""
    raw = [word_shingles(story.body) for story in stories]
    masked = [word_shingles(story.body, mask_numbers=True) for story in stories]
    scored = [
        Candidate(
            "", stories[i], stories[j], jaccard(raw[i], raw[j]), jaccard(masked[i], masked[j])
        )
        for i, j in similar_pairs(raw, 0.3) | similar_pairs(masked, 0.6)
    ]
    scored.sort(key=lambda c: (newid(c.a), newid(c.b)))
    rng = random.Random(seed)
    drawn: list[Candidate] = []

    def take(stratum: str, pool: list[Candidate], count: int | None = None) -> None:
        chosen = pool if count is None else rng.sample(pool, min(count, len(pool)))
        drawn.extend(Candidate(stratum, c.a, c.b, c.jaccard, c.masked_jaccard) for c in chosen)

    different = [c for c in scored if normalize_space(c.a.body) != normalize_space(c.b.body)]
    corrected = [c for c in different if (CORRECTED.match(c.a.title) or CORRECTED.match(c.b.title))]
    take("corrected", [c for c in corrected if c.jaccard >= 0.1])
    for low, high in OVERLAP_BANDS:
        band = [c for c in different if low <= c.jaccard < high and c not in corrected]
        take(f"overlap-{low:.1f}", band, PER_BAND)
    look_alikes = [c for c in different if c.masked_jaccard >= TEMPLATE_MASKED and c.jaccard < 0.9]
    take("template", look_alikes, TEMPLATES)
    related = [
        c
        for c in different
        if 0.1 <= c.jaccard < 0.5
        and c not in corrected
        and set(TICKER.findall(c.a.title)) & set(TICKER.findall(c.b.title))
    ]
    take("related", related, RELATED)
    take(
        "same-body",
        [
            c
            for c in scored
            if normalize_space(c.a.body) == normalize_space(c.b.body)
            and (
                normalize_space(c.a.title) != normalize_space(c.b.title) or days_apart(c.a, c.b) > 1
            )
        ],
    )
    unique: dict[tuple[int, int], Candidate] = {}
    for candidate in drawn:
        unique.setdefault((newid(candidate.a), newid(candidate.b)), candidate)
    return list(unique.values())


def read_labels(path: Path = LABELS_FILE) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def word_diff(a: str, b: str) -> str:
    """Both texts as one, changed words marked [-a-]{+b+}: a correction is easy to see."""
    left, right = a.split(), b.split()
    parts: list[str] = []
    matcher = difflib.SequenceMatcher(a=left, b=right, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            parts.append(" ".join(left[i1:i2]))
            continue
        if i2 > i1:
            parts.append("[-" + " ".join(left[i1:i2]) + "-]")
        if j2 > j1:
            parts.append("{+" + " ".join(right[j1:j2]) + "+}")
    return " ".join(parts)


def show(candidate: Candidate) -> str:
    a, b = candidate.a, candidate.b
    return "\n".join(
        (
            f"== {newid(a)},{newid(b)}  {candidate.stratum}  J={candidate.jaccard:.2f} "
            f"masked={candidate.masked_jaccard:.2f}",
            f"A {a.published}  {a.title}",
            f"B {b.published}  {b.title}",
            word_diff(a.body, b.body),
        )
    )


def main(
    data: Annotated[Path | None, typer.Option(help="The shared data folder.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the draw.")] = 1987,
    labelled: Annotated[bool, typer.Option(help="Show labelled pairs too.")] = False,
) -> None:
    """Print the drawn pairs (those not labelled yet, unless --labelled) as word diffs."""
    stories = load_reuters(resolve_data_dir(data))
    done = set()
    if LABELS_FILE.exists() and not labelled:
        done = {(int(r["newid_a"]), int(r["newid_b"])) for r in read_labels()}
    for candidate in draw_candidates(stories, seed):
        if (newid(candidate.a), newid(candidate.b)) not in done:
            typer.echo(show(candidate) + "\n")


if __name__ == "__main__":
    typer.run(main)
