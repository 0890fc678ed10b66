"""Derive ``dedupe/common_words.txt``: the content words so common in news leads that sharing them
says nothing about two stories being one.

    python -m benchmarks.common_words [--data DIR] [--share 0.02]

A word is listed when, averaged over the three news sources of the shared data (BBC, Reuters-21578,
AG News, each weighted alike so that no source's house style dominates), it appears in the lead of
more than ``--share`` of the stories. The candidate stage leaves these words out of the lead and
title sets it bands, so that stories on one subject stop colliding by the thousand (see
``dedupe/index.py``); verification still counts every word.
"""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from benchmarks import data
from dedupe.normalize import is_content, tokenize
from dedupe.settings import Settings

OUT = Path(__file__).resolve().parent.parent / "dedupe" / "common_words.txt"


def lead_words(title: str, body: str, window: int) -> set[str]:
    return {w for w in tokenize(body).words[:window] + tokenize(title).words if is_content(w)}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--share", type=float, default=0.02)
    args = parser.parse_args(argv)
    root = data.resolve_data_dir(args.data)
    window = Settings().lead_tokens
    sources = {
        "bbc": data.load_bbc(root).stories,
        "reuters": data.load_reuters(root),
        "ag-news": data.load_ag_news(root).stories,
    }
    shares: Counter[str] = Counter()
    for stories in sources.values():
        counts = Counter(w for s in stories for w in lead_words(s.title, s.body, window))
        for word, count in counts.items():
            shares[word] += count / len(stories) / len(sources)
    words = sorted(w for w, share in shares.items() if share > args.share)
    OUT.write_text(
        f"# Written by `python -m benchmarks.common_words --share {args.share}`: content words in"
        " the lead of more\n# than that share of BBC, Reuters-21578 and AG News stories.\n"
        + "\n".join(words)
        + "\n",
        encoding="utf-8",
    )
    print(f"{len(words)} words -> {OUT}")


if __name__ == "__main__":
    main()
