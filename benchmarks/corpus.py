"""Seeded, labelled corpora of any size for the speed benchmark.

``python -m benchmarks.corpus --stories N --out FILE.jsonl.gz [--seed S]`` writes N stories as
JSONL: unique base stories plus syndication variants of about 30% of them (``variants.py``: exact
copies, near copies, retitles, rewrites, teasers) and a few look-alikes, the hard negatives.

The shared data holds about 48k distinct texts (BBC, Reuters-21578, 20 Newsgroups, AG News); a
larger corpus needs more bases than that, so the rest are **synthetic**: each sentence is the first
half of a sentence of one real article joined to the second half of a sentence of another, both
drawn at random from one section of one source, with names and digits swapped. Words, vocabulary
and lengths stay those of real news, but a synthetic story shares no more than stray
half-sentences with any other story, so it adds no unlabelled duplicates.

Each record carries its labels as extra fields, passed through by the detector: ``label`` (the id
of the story's base: copies share it, everything else has its own) and ``kind`` (``original``,
``synthetic``, a variant kind or ``look-alike``). Bases are spread over four weeks and each copy is
published within two days after its base.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchmarks import data
from benchmarks.variants import (
    HEADLINE_KICKERS,
    LOOK_ALIKE,
    SOURCES,
    VARIANT_KINDS,
    apply_swaps,
    body_sentences,
    headline_from_lead,
    look_alike_facts,
    make_near_copy,
    make_rewrite,
    make_teaser,
    overlapping_articles,
    retitle,
)
from dedupe.story import Story

NEWSGROUPS_FILE = "20newsgroups-bydate/20news-bydate.jsonl.gz"

VARIANT_RATE = 0.3
# How many variants a syndicated base gets: most stories are picked up once or twice.
VARIANT_COUNTS = (1, 2, 3)
VARIANT_COUNT_WEIGHTS = (0.5, 0.3, 0.2)
LOOK_ALIKE_RATE = 0.05
STORIES_PER_BASE = (
    1
    + VARIANT_RATE * sum(c * w for c, w in zip(VARIANT_COUNTS, VARIANT_COUNT_WEIGHTS, strict=True))
    + LOOK_ALIKE_RATE * 0.5  # about half the bases have enough facts for a look-alike
)
# A synthetic story mixes the sentences of its section's articles, or of its source's when the
# section has fewer than this: few articles would each give it many halves.
MIN_SECTION = 1000
ANY_SECTION = ""
START = datetime(2024, 3, 4, tzinfo=UTC)
SPAN = timedelta(days=28)
# Copies come within two days of their base, as wire copies and rewrites mostly do.
COPY_DELAY = timedelta(days=2)
# Stories are shuffled and written in blocks of this many, so the file is in no telling order
# without holding a million stories in memory.
BLOCK = 20_000

# Usenet posts: quoted lines, attributions and signatures are another author's or no one's text.
QUOTED = re.compile(r"^\s*(?:>|\||:|In article|.*\b(?:writes|wrote|says):\s*$)")
SIGNATURE = re.compile(r"^-- ?$", re.MULTILINE)
REPLY = re.compile(r"^(?:re:\s*)+", re.IGNORECASE)
MIN_WORDS = 20
MAX_WORDS = 1200
# A capitalised word after a lowercase word or a comma is a name, not grammar.
NAME_AFTER_WORD = re.compile(r"(?<=[a-z,] )[A-Z][a-z]{2,}\b")
NAME_SLOT = "\x00"
# Reuters wraps lines and indents paragraphs; Usenet wraps lines and leaves blank lines.
REUTERS_PARAGRAPH = re.compile(r"\n\s+")
POST_PARAGRAPH = re.compile(r"\n\s*\n")
MIN_HALF_WORDS = 3
# A one-sentence synthetic story (AG News is all such) would share half its text with a real one.
MIN_TEMPLATE_SENTENCES = 4


@dataclass(frozen=True, slots=True)
class Article:
    """A real story of the pool, and its section within its source (for synthetic mixes)."""

    story: Story
    section: str
    # Each sentence split in two at a word near its middle; names replaced by NAME_SLOT.
    halves: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Pool:
    """The distinct real articles, and per source and section the names to swap in."""

    articles: tuple[Article, ...]
    # The articles whose shape a synthetic story takes: long enough that half a sentence shared
    # with a real story is a small part of either.
    templates: tuple[Article, ...]
    # The articles that have sentences to mix (not only tables or fragments), by source and
    # section, and by source alone under ANY_SECTION.
    sections: dict[tuple[str, str], tuple[Article, ...]]
    names: dict[str, tuple[str, ...]]


def reflow(text: str, paragraph_break: re.Pattern[str]) -> list[str]:
    """Paragraphs with their hard line wraps undone, as a feed would carry them."""
    paragraphs = (" ".join(p.split()) for p in paragraph_break.split(text))
    return [p for p in paragraphs if p]


def clean_post(text: str) -> tuple[str, list[str]]:
    """A Usenet post as a story: the subject (without "Re:") and the author's own paragraphs.

    Headers, quoted text, attributions, signatures and paragraphs that are mostly not words
    (code, uuencoded files, ASCII art) are dropped.
    """
    header, _, body = text.partition("\n\n")
    subject = next((h[8:].strip() for h in header.splitlines() if h.startswith("Subject:")), "")
    body = SIGNATURE.split(body, maxsplit=1)[0]
    own = "\n".join(line for line in body.splitlines() if not QUOTED.match(line))
    paragraphs = [
        p
        for p in reflow(own, POST_PARAGRAPH)
        if sum(c.isalpha() or c == " " for c in p) >= 0.8 * len(p)
    ]
    return REPLY.sub("", subject), paragraphs


def capped(paragraphs: list[str]) -> list[str]:
    """The first paragraphs up to MAX_WORDS: a few posts are whole FAQs."""
    kept: list[str] = []
    words = 0
    for paragraph in paragraphs:
        if kept and words + len(paragraph.split()) > MAX_WORDS:
            break
        kept.append(paragraph)
        words += len(paragraph.split())
    return kept


def read_sources(root: Path) -> Iterator[tuple[Story, str]]:
    """Every usable real story, with its section, in a fixed order."""
    for story in data.load_bbc(root).stories:
        yield story, story.id.split("-")[1]
    for record in data.read_jsonl(root / data.REUTERS_FILE):
        if record["title"] and record["body"]:
            paragraphs = reflow(record["body"], REUTERS_PARAGRAPH)
            body = "\n\n".join(paragraphs)
            section = record["topics"][0] if record["topics"] else "none"
            yield (
                Story(
                    id=f"reuters-{record['newid']}",
                    title=record["title"],
                    body=body,
                    source="Reuters",
                ),
                section,
            )
    for record in data.read_jsonl(root / NEWSGROUPS_FILE):
        title, paragraphs = clean_post(record["text"])
        group = record["newsgroup"]
        # Post numbers repeat across groups.
        yield (
            Story(
                id=f"ng-{group}-{record['doc_id']}",
                title=title,
                body="\n\n".join(capped(paragraphs)),
                source=group,
            ),
            group,
        )
    ag_news = data.load_ag_news(root)
    for story in ag_news.stories:
        yield (
            Story(id=story.id, title=story.title, body=story.body, source="agnews"),
            ag_news.labels[story.id],
        )


def split_halves(sentence: str) -> tuple[str, str] | None:
    """The sentence cut at the word nearest its middle, names slotted; None if too short."""
    words = sentence.split(" ")
    if len(words) < 2 * MIN_HALF_WORDS:
        return None
    middle = len(words) // 2
    first, second = " ".join(words[:middle]), " ".join(words[middle:])
    return NAME_AFTER_WORD.sub(NAME_SLOT, first), NAME_AFTER_WORD.sub(NAME_SLOT, second)


def build_pool(root: Path) -> Pool:
    """The real stories that share no text with another, ready to be mixed."""
    stories = [
        (story, section)
        for story, section in read_sources(root)
        if story.title and MIN_WORDS <= len(story.body.split())
    ]
    excluded = overlapping_articles([story for story, _ in stories])
    articles: list[Article] = []
    sections: dict[tuple[str, str], list[Article]] = {}
    names: dict[str, dict[str, None]] = {}
    for story, section in stories:
        if story.id in excluded:
            continue
        source = story.id.split("-")[0]
        sentences = body_sentences(story.body)
        halves = tuple(h for s in sentences if (h := split_halves(s)) is not None)
        article = Article(story, section, halves)
        articles.append(article)
        if halves:
            sections.setdefault((source, section), []).append(article)
            sections.setdefault((source, ANY_SECTION), []).append(article)
        found = names.setdefault(source, {})
        for sentence in sentences:
            found.update(dict.fromkeys(NAME_AFTER_WORD.findall(sentence)))
    return Pool(
        articles=tuple(articles),
        templates=tuple(a for a in articles if len(a.halves) >= MIN_TEMPLATE_SENTENCES),
        sections={key: tuple(group) for key, group in sections.items()},
        names={source: tuple(found) for source, found in names.items()},
    )


def digit_swap(rng: random.Random) -> dict[int, int]:
    """A permutation of the digits 1-9 (0 stays, so no number gains a leading zero)."""
    digits = list("123456789")
    rng.shuffle(digits)
    return str.maketrans("123456789", "".join(digits))


def fill_names(text: str, names: Sequence[str], rng: random.Random) -> str:
    parts = text.split(NAME_SLOT)
    if len(parts) == 1:
        return text
    filled = [parts[0]]
    for part in parts[1:]:
        filled += (rng.choice(names), part)
    return "".join(filled)


def spliced(mix: Sequence[Article], rng: random.Random) -> str:
    """The first half of a sentence of one random article and the second half of another's.

    Each half comes from its own article, so that a synthetic story takes at most a stray half
    from any one real story and contains none of them: not even a short one, whole or in part.
    """
    first, second = rng.choice(mix), rng.choice(mix)
    while second is first:
        second = rng.choice(mix)
    return f"{rng.choice(first.halves)[0]} {rng.choice(second.halves)[1]}"


def synthetic_story(story_id: str, pool: Pool, rng: random.Random) -> Story:
    """A new story made of half-sentences of articles of one section: see the module."""
    template = rng.choice(pool.templates)
    source = template.story.id.split("-")[0]
    mix = pool.sections[source, template.section]
    if len(mix) < MIN_SECTION:
        mix = pool.sections[source, ANY_SECTION]
    # The template's shape (paragraphs and their sentence counts) keeps lengths realistic.
    paragraphs: list[str] = []
    for paragraph in template.story.body.split("\n\n"):
        sentences = max(1, len(body_sentences(paragraph)))
        paragraphs.append(" ".join(spliced(mix, rng) for _ in range(sentences)))
    first, second = (a.story.title.split(" ") for a in rng.sample(mix, 2))
    title = " ".join(first[: max(1, len(first) // 2)] + second[len(second) // 2 :])
    names = pool.names[source]
    body = fill_names("\n\n".join(paragraphs), names, rng).translate(digit_swap(rng))
    return Story(
        id=story_id, title=title.translate(digit_swap(rng)), body=body, source=template.story.source
    )


def make_variant(base: Story, kind: str, rng: random.Random, other_title: str) -> tuple[str, str]:
    """Title and body of one variant kind, made as ``variants.make_syndication_set`` does."""
    if kind == "exact":
        return base.title, base.body
    if kind == "near-copy":
        return make_near_copy(base, rng)
    if kind == "retitled":
        title = retitle(base.title, rng)
        if rng.random() < 0.5 or title.startswith(HEADLINE_KICKERS):
            title = headline_from_lead(base.body)
        return title, base.body
    if kind == "rewrite":
        return make_rewrite(base, rng, other_title)
    return make_teaser(base, rng)


def record(story: Story, label: str, kind: str, published: datetime) -> str:
    fields = {
        "id": story.id,
        "title": story.title,
        "body": story.body,
        "source": story.source,
        "published": published.isoformat(timespec="seconds"),
        "label": label,
        "kind": kind,
    }
    return json.dumps(fields, ensure_ascii=False)


def cluster(base: Story, kind: str, pool: Pool, rng: random.Random) -> list[str]:
    """The base's record, its variants' and perhaps its look-alike's, as JSON lines."""
    published = START + SPAN * rng.random()
    lines = [record(base, base.id, kind, published)]
    if rng.random() < VARIANT_RATE:
        count = rng.choices(VARIANT_COUNTS, VARIANT_COUNT_WEIGHTS)[0]
        for variant_kind in rng.sample(VARIANT_KINDS, count):
            other_title = rng.choice(pool.articles).story.title
            title, body = make_variant(base, variant_kind, rng, other_title)
            variant = Story(
                id=f"{base.id}~{variant_kind}", title=title, body=body, source=rng.choice(SOURCES)
            )
            lines.append(
                record(variant, base.id, variant_kind, published + COPY_DELAY * rng.random())
            )
    if rng.random() < LOOK_ALIKE_RATE and (swaps := look_alike_facts(base, rng)) is not None:
        look_alike = Story(
            id=f"{base.id}~{LOOK_ALIKE}",
            title=apply_swaps(base.title, swaps),
            body=apply_swaps(base.body, swaps),
            source=rng.choice(SOURCES),
        )
        lines.append(
            record(look_alike, look_alike.id, LOOK_ALIKE, published + COPY_DELAY * rng.random())
        )
    return lines


def generate(pool: Pool, stories: int, seed: int) -> Iterator[str]:
    """Exactly ``stories`` JSON lines, shuffled block by block.

    Each base is real with the probability that spreads the real ones over the whole corpus
    (all of them when they are fewer than needed), and synthetic otherwise.
    """
    rng = random.Random(seed)
    real = list(pool.articles)
    rng.shuffle(real)
    real_share = min(1.0, len(real) * STORIES_PER_BASE / stories)
    written = synthetic = 0
    block: list[str] = []
    while written < stories:
        if real and rng.random() < real_share:
            base, kind = real.pop().story, "original"
        else:
            synthetic += 1
            base, kind = synthetic_story(f"syn-{synthetic:07d}", pool, rng), "synthetic"
        lines = cluster(base, kind, pool, rng)[: stories - written]
        written += len(lines)
        block += lines
        if len(block) >= BLOCK or written == stories:
            rng.shuffle(block)
            yield from block
            block = []


def write_corpus(path: Path, stories: int, seed: int, pool: Pool) -> None:
    """Write the corpus (gzip when the name ends in .gz), streaming, via a temporary file so
    that an interrupted run never leaves a corpus that looks complete."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    # Level 1: a million stories is gigabytes of text, and the corpus lives only in a cache.
    with (
        gzip.open(partial, "wt", encoding="utf-8", compresslevel=1)
        if path.suffix == ".gz"
        else partial.open("w", encoding="utf-8")
    ) as out:
        chunk: list[str] = []
        for line in generate(pool, stories, seed):
            chunk.append(line)
            if len(chunk) == BLOCK:
                out.write("\n".join(chunk) + "\n")
                chunk = []
        if chunk:
            out.write("\n".join(chunk) + "\n")
    partial.replace(path)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.corpus", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--stories", type=int, required=True, help="how many stories to write")
    parser.add_argument("--out", type=Path, required=True, help="FILE.jsonl or FILE.jsonl.gz")
    parser.add_argument("--seed", type=int, default=1, help="seed of every draw (default 1)")
    parser.add_argument("--data", type=Path, help="the shared data folder")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    write_corpus(args.out, args.stories, args.seed, build_pool(data.resolve_data_dir(args.data)))
    print(
        f"{args.stories} stories in {args.out} ({time.perf_counter() - started:.0f} s)",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
