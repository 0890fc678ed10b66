"""Readers for the labelled sets in the shared data folder.

Each reader turns one dataset into ``Story`` objects plus its labels, in file order, so that every
benchmark sees the same stories under the same ids. The data stays where it is: the licences of
most sets allow research use but not redistribution.
"""

from __future__ import annotations

import csv
import gzip
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from dedupe.story import Story

DATA_ENV = "DEDUPE_DATA"
REPO_ROOT = Path(__file__).resolve().parent.parent

BBC_FILE = "bbc-news-greene2006/bbc.jsonl.gz"
REUTERS_FILE = "reuters-21578/reuters21578.jsonl.gz"
UCI_FILE = "uci-news-aggregator-sample/uci-news-aggregator.first-rows.clean.csv.gz"
SEMEVAL_FILE = "semeval2022-task8-dev/pairs.csv.gz"
AG_NEWS_FILE = "ag-news-test/test.csv.gz"
AG_NEWS_CLASSES = {"1": "World", "2": "Sports", "3": "Business", "4": "Sci/Tech"}


def resolve_data_dir(option: Path | None = None) -> Path:
    """The data folder: ``--data``, else ``$DEDUPE_DATA``, else ``../shared/data`` from the repo."""
    path = option or Path(os.environ.get(DATA_ENV) or REPO_ROOT.parent / "shared" / "data")
    if not path.is_dir():
        raise FileNotFoundError(f"data folder {path} not found: pass --data DIR or set {DATA_ENV}")
    return path


@dataclass(frozen=True, slots=True)
class Corpus:
    """Stories and one label per story id (a section, a class or a story cluster)."""

    stories: list[Story]
    labels: dict[str, str]


@dataclass(frozen=True, slots=True)
class ScoredPair:
    """Two stories with a human similarity score: SemEval's ``Overall``, 1 (same) to 4."""

    pair_id: str
    language: str
    a: Story
    b: Story
    overall: float


def normalize_space(text: str) -> str:
    """Whitespace collapsed: how "identical body" is meant for the exact-duplicate sets."""
    return " ".join(text.split())


def read_jsonl(path: Path) -> Iterator[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        for line in lines:
            yield json.loads(line)


def load_bbc(root: Path) -> Corpus:
    """BBC (Greene & Cunningham 2006): 2,225 articles; labels are the five sections.

    Ids follow the files: ``business/001`` becomes ``bbc-business-001``.
    """
    stories: list[Story] = []
    labels: dict[str, str] = {}
    for record in read_jsonl(root / BBC_FILE):
        story_id = "bbc-" + record["doc_id"].replace("/", "-")
        stories.append(
            Story(id=story_id, title=record["title"], body=record["body"], source="bbc.co.uk")
        )
        labels[story_id] = record["category"]
    return Corpus(stories, labels)


def reuters_date(text: str) -> str | None:
    """The date as ISO 8601, from the form 26-FEB-1987 15:01:01.79; a few are malformed."""
    try:
        moment = datetime.strptime(text.strip(), "%d-%b-%Y %H:%M:%S.%f")
    except ValueError:
        return None
    return moment.replace(microsecond=0).isoformat()


def load_reuters(root: Path) -> list[Story]:
    """Reuters-21578: the 19,043 stories that have both a title and a body, as ``reuters-NEWID``.

    The body is kept as transmitted (with its closing "Reuter"): that is what a feed carries.
    """
    return [
        Story(
            id=f"reuters-{record['newid']}",
            title=record["title"],
            body=record["body"],
            published=reuters_date(record["date"]),
            source="Reuters",
        )
        for record in read_jsonl(root / REUTERS_FILE)
        if record["title"] and record["body"]
    ]


def load_uci(root: Path) -> Corpus:
    """UCI News Aggregator prefix: 6,366 headlines (no body); labels are the aggregator's STORY."""
    stories: list[Story] = []
    labels: dict[str, str] = {}
    with gzip.open(root / UCI_FILE, "rt", encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            story_id = f"uci-{row['ID']}"
            published = datetime.fromtimestamp(float(row["TIMESTAMP"]) / 1000, tz=UTC)
            stories.append(
                Story(
                    id=story_id,
                    title=row["TITLE"],
                    url=row["URL"],
                    source=row["PUBLISHER"],
                    published=published.isoformat(timespec="seconds"),
                )
            )
            labels[story_id] = row["STORY"]
    return Corpus(stories, labels)


def load_ag_news(root: Path) -> Corpus:
    """AG News test split: 7,600 title + description items; labels are the four classes.

    The set escapes "$" as " #36;" and line breaks as a backslash; both are undone here so that
    the detector sees ordinary text.
    """
    stories: list[Story] = []
    labels: dict[str, str] = {}
    with gzip.open(root / AG_NEWS_FILE, "rt", encoding="utf-8", newline="") as handle:
        for number, (label, title, description) in enumerate(csv.reader(handle), start=1):
            story_id = f"ag-{number:05d}"
            body = description.replace(" #36;", " $").replace("\\", " ")
            stories.append(Story(id=story_id, title=title, body=body))
            labels[story_id] = AG_NEWS_CLASSES[label]
    return Corpus(stories, labels)


# A headline is followed by a line break or a double space in these scraped texts; otherwise it
# is the first sentence, if that is short enough to be a headline.
HEADLINE_BREAK = re.compile(r"\n|\s{2,}")
FIRST_SENTENCE = re.compile(r"^(.+?[.!?。？！])\s")
HEADLINE_MAX_WORDS = 25


def split_headline(text: str) -> tuple[str, str]:
    """SemEval's text is "title body" run together: split off the title where it can be seen.

    When no break or short first sentence is found the whole text becomes the body, so that a
    wrong guess never invents a title.
    """
    text = text.strip()
    for pattern in (HEADLINE_BREAK, FIRST_SENTENCE):
        match = pattern.search(text)
        if match is None:
            continue
        head = text[: match.start()] if pattern is HEADLINE_BREAK else match.group(1)
        if 0 < len(head.split()) <= HEADLINE_MAX_WORDS:
            return head.strip(), text[len(head) :].strip()
    return "", text


def load_semeval(root: Path) -> list[ScoredPair]:
    """SemEval-2022 Task 8 pairs (400 of the dev set) with both texts as stories.

    ``pair_id`` is "ID1_ID2"; an article id that comes with two different texts (the scrape
    differs between pairs) gets a suffix, so one id always means one text.
    """
    texts: dict[str, str] = {}
    pairs: list[ScoredPair] = []

    def story_for(article: str, language: str, text: str) -> Story:
        story_id = f"semeval-{article}"
        while texts.setdefault(story_id, text) != text:
            story_id += "'"
        title, body = split_headline(text)
        return Story(id=story_id, title=title, body=body, language=language)

    with gzip.open(root / SEMEVAL_FILE, "rt", encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            first, second = row["pair_id"].split("_")
            lang1, lang2 = row["lang1"], row["lang2"]
            pairs.append(
                ScoredPair(
                    pair_id=row["pair_id"],
                    language=lang1 if lang1 == lang2 else f"{lang1}-{lang2}",
                    a=story_for(first, lang1, row["text_1"]),
                    b=story_for(second, lang2, row["text_2"]),
                    overall=float(row["Overall"]),
                )
            )
    return pairs
