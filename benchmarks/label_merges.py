"""Draw the exact sets' merges of different bodies to label by hand, for an audited precision.

``bbc-exact`` and ``reuters-exact`` count only identical bodies as positives, so every merge of two
different bodies counts as false there, even a correction or a re-run of the same story. To
estimate how many of those merges are right, a sample of them is read and labelled:
``labels/bbc_merges.csv`` and ``labels/reuters_merges.csv`` (``id_a,id_b,label,kind,note``; ids
and labels only, no article text).

The sample is drawn per method: each merged pair that is not a positive (two co-members of one
group whose bodies differ, or a hand-labelled *different* pair with identical bodies) gets a
seeded hash of its two ids, and each method's ``SAMPLE`` pairs with the lowest hashes are its
sample (a bottom-k sample: uniform, and stable when the detector changes a little, since a pair's
place depends on its ids only). Both methods' samples are pooled, de-duplicated and shuffled, and
shown without saying which method merged a pair, so the labels do not depend on the method.
Pairs already in ``labels/reuters_pairs.csv`` take their label from there.

Run ``python -m benchmarks.label_merges`` to print every sampled pair not labelled yet, as a word
diff; ``--write-reused`` adds the reusable Reuters labels to the merge labels file first.
"""

from __future__ import annotations

import csv
import difflib
import hashlib
import random
import re
from collections.abc import Hashable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Annotated

import typer

LABELS_DIR = Path(__file__).parent / "labels"
MERGE_LABELS = {
    "bbc-exact": LABELS_DIR / "bbc_merges.csv",
    "reuters-exact": LABELS_DIR / "reuters_merges.csv",
}
FIELDS = ("id_a", "id_b", "label", "kind", "note")
SAMPLE = 60
SEED = 2024

Pair = tuple[str, str]


def natural(story_id: str) -> tuple[str, int | str]:
    """Sort key that puts reuters-9 before reuters-10."""
    head, _, tail = story_id.rpartition("-")
    return (head, int(tail)) if tail.isdigit() else (story_id, "")


def ordered(a: str, b: str) -> Pair:
    return (a, b) if natural(a) <= natural(b) else (b, a)


def pair_rank(pair: Pair, seed: int = SEED) -> str:
    """A pair's place in the draw: a seeded hash of its two ids, the same in either order."""
    a, b = sorted(pair)
    return hashlib.sha256(f"{seed}|{a}|{b}".encode()).hexdigest()


def sample_of(pairs: Iterable[Pair], size: int = SAMPLE, seed: int = SEED) -> list[Pair]:
    """The ``size`` pairs with the lowest ranks (all of them when there are fewer)."""
    return sorted((ordered(*p) for p in pairs), key=lambda p: pair_rank(p, seed))[:size]


def read_merge_labels(path: Path) -> dict[frozenset[str], bool]:
    """Pair -> is it the same story, from a merge labels file (empty if there is none)."""
    if not path.exists():
        return {}
    with path.open(newline="", encoding="utf-8") as handle:
        return {
            frozenset((row["id_a"], row["id_b"])): row["label"] == "same"
            for row in csv.DictReader(handle)
        }


def non_positive_merges(
    groups: Iterable[Iterable[str]], truth: Mapping[str, Hashable]
) -> list[Pair]:
    """Pairs of co-members of a group (both in ``truth``) whose true classes differ."""
    found = []
    for members in groups:
        inside = sorted((m for m in members if m in truth), key=natural)
        for i, a in enumerate(inside):
            found.extend((a, b) for b in inside[i + 1 :] if truth[a] != truth[b])
    return found


def word_diff(a: str, b: str, keep: int = 12) -> str:
    """Both texts as one, changed words marked [-a-]{+b+}; a long unchanged run keeps only its
    first and last ``keep`` words, a long changed run its first and last few dozen."""
    left, right = a.split(), b.split()
    parts: list[str] = []
    matcher = difflib.SequenceMatcher(a=left, b=right, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            words = left[i1:i2]
            if len(words) > 2 * keep + 5:
                words = [*words[:keep], f"<…{len(words) - 2 * keep} same…>", *words[-keep:]]
            parts.append(" ".join(words))
            continue
        if i2 > i1:
            parts.append("[-" + cut(left[i1:i2], 4 * keep) + "-]")
        if j2 > j1:
            parts.append("{+" + cut(right[j1:j2], 4 * keep) + "+}")
    return " ".join(parts)


def cut(words: list[str], most: int) -> str:
    """A changed run of words, its middle left out when it is long."""
    if len(words) <= most + 5:
        return " ".join(words)
    tail = most // 4
    return " ".join([*words[: most - tail], f"<…{len(words) - most} more…>", *words[-tail:]])


def show(pair: Pair, stories: dict, number: int) -> str:
    a, b = (stories[i] for i in pair)
    return "\n".join(
        (
            f"== #{number} {pair[0]},{pair[1]}",
            f"A {a.published or ''}  {a.title}  ({len(a.body.split())} words)",
            f"B {b.published or ''}  {b.title}  ({len(b.body.split())} words)",
            re.sub(r"\s+", " ", word_diff(a.body, b.body)),
        )
    )


def reused_labels(pairs: Sequence[Pair]) -> list[dict[str, str]]:
    """Rows for sampled Reuters pairs already labelled in ``labels/reuters_pairs.csv``."""
    from benchmarks.label_reuters import read_labels

    known = {
        frozenset((f"reuters-{r['newid_a']}", f"reuters-{r['newid_b']}")): r for r in read_labels()
    }
    rows = []
    for a, b in pairs:
        row = known.get(frozenset((a, b)))
        if row is not None:
            note = f"from reuters_pairs.csv: {row['note']}"
            rows.append(dict(zip(FIELDS, (a, b, row["label"], row["kind"], note), strict=True)))
    return rows


def main(
    data: Annotated[Path | None, typer.Option(help="The shared data folder.")] = None,
    only: Annotated[str | None, typer.Option(help="bbc-exact or reuters-exact.")] = None,
    write_reused: Annotated[
        bool, typer.Option(help="Append reusable reuters_pairs.csv labels first.")
    ] = False,
    labelled: Annotated[bool, typer.Option(help="Show labelled pairs too.")] = False,
) -> None:
    """Print each set's sampled non-positive merges (not labelled yet) as word diffs."""
    from benchmarks.data import resolve_data_dir
    from benchmarks.methods import METHODS
    from benchmarks.sets import Run, bbc_stories, exact_truth, reuters_split, reuters_stories

    run = Run(data=resolve_data_dir(data), seed=1, limit=None, methods=METHODS)
    for name in MERGE_LABELS:
        if only and name != only:
            continue
        if name == "bbc-exact":
            stories, split, corpus, topics = bbc_stories(run)[0], frozenset(), "bbc", True
        else:
            stories, split, corpus, topics = reuters_stories(run), reuters_split(), "reuters", False
        truth = exact_truth(stories, split)
        predictions, _ = run.predict(corpus, stories, topics=topics)
        pooled: dict[Pair, None] = {}
        for method, prediction in predictions.items():
            merges = non_positive_merges((m for _, m in prediction.groups), truth)
            drawn = sample_of(merges)
            typer.echo(
                f"{name} {method}: {len(merges)} non-positive merges, {len(drawn)} drawn", err=True
            )
            pooled.update(dict.fromkeys(drawn))
        pairs = list(pooled)
        random.Random(SEED).shuffle(pairs)
        path = MERGE_LABELS[name]
        if write_reused and name == "reuters-exact":
            done = read_merge_labels(path)
            new = [r for r in reused_labels(pairs) if frozenset((r["id_a"], r["id_b"])) not in done]
            fresh = not path.exists()
            with path.open("a", newline="", encoding="utf-8") as handle:
                writer = csv.DictWriter(handle, FIELDS)
                if fresh:
                    writer.writeheader()
                writer.writerows(new)
            typer.echo(f"{name}: {len(new)} labels reused from reuters_pairs.csv", err=True)
        done = {} if labelled else read_merge_labels(path)
        by_id = {s.id: s for s in stories}
        todo = [p for p in pairs if frozenset(p) not in done]
        typer.echo(f"{name}: {len(pairs)} pooled, {len(todo)} to label", err=True)
        for number, pair in enumerate(todo, 1):
            typer.echo(show(pair, by_id, number) + "\n")


if __name__ == "__main__":
    typer.run(main)
