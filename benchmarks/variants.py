"""Seeded, labelled syndication variants of real articles: the ``syndication`` set.

No public corpus labels teasers, rewrites and re-posts of the same article, so they are made here
from BBC articles, imitating what aggregators and syndication partners do to a story:

- ``exact``: the same title and text under another id and source;
- ``near-copy``: a few typos, dropped words and changed punctuation;
- ``retitled``: the same text under another headline;
- ``rewrite``: 10-30% of sentences dropped, some swapped, light paraphrase, attribution moved,
  a dateline and boilerplate ("Read more:", "Share this article", "Source Link") added;
- ``teaser``: the lead, lightly paraphrased, cut mid-sentence and ending "[…]" or "...";

and one hard negative, which must *not* be matched with its base:

- ``look-alike``: the same text with every number, name and date swapped for another, as with two
  earnings reports or match reports written from one template.

Everything is drawn from ``random.Random(seed)``, so one seed always gives the same corpus.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from datasketch import MinHash, MinHashLSH

from benchmarks.baseline import shingles
from dedupe.story import Story

VARIANT_KINDS = ("exact", "near-copy", "retitled", "rewrite", "teaser")
LOOK_ALIKE = "look-alike"

# Word and phrase swaps of the kind sub-editors make; only lowercase occurrences are swapped, so
# that names ("New York", "Sales Director") stay as they are.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "said": ("stated", "noted", "told reporters"),
    "says": ("states", "notes"),
    "company": ("firm",),
    "firm": ("company",),
    "companies": ("firms",),
    "firms": ("companies",),
    "rose": ("climbed", "increased"),
    "fell": ("dropped", "declined"),
    "jumped": ("surged",),
    "increase": ("rise",),
    "big": ("large",),
    "large": ("big",),
    "announced": ("unveiled",),
    "expected": ("forecast",),
    "more than": ("over",),
    "because of": ("due to",),
    "people": ("individuals",),
    "buy": ("purchase",),
    "major": ("key",),
    "profits": ("earnings",),
    "warned": ("cautioned",),
    "claimed": ("alleged",),
    "started": ("began",),
    "began": ("started",),
    "almost": ("nearly",),
    "nearly": ("almost",),
    "around": ("about",),
    "important": ("significant",),
    "difficult": ("tough",),
    "film": ("movie",),
    "movie": ("film",),
    "believe": ("think",),
    "believes": ("thinks",),
    "country": ("nation",),
    "government": ("administration",),
    "chief executive": ("boss",),
    "currently": ("now",),
    "despite": ("in spite of",),
    "following": ("after",),
    "children": ("kids",),
    "won": ("claimed",),
    "boost": ("lift",),
    "analysts": ("experts",),
    "officials": ("authorities",),
    "quickly": ("rapidly",),
    "decision": ("move",),
    "plan": ("scheme",),
    "shares": ("stock",),
    "wants": ("hopes",),
    "top": ("leading",),
}
SYNONYM = re.compile(r"\b(" + "|".join(sorted(SYNONYMS, key=len, reverse=True)) + r")\b")

HEADLINE_KICKERS = ("UPDATE 1-", "Report: ", "Analysis: ", "Breaking: ")
DATELINES = ("LONDON (Reuters) - ", "(AP) — ", "LONDON, Jan 12 (Reuters) - ", "(AFP) - ")
BOILERPLATE = ("Share this article", "Source Link", "Advertisement", "Follow us for more news")
TRUNCATION_MARKS = (" […]", "...", " ...", "…")
SOURCES = ("wire-one.example", "daily-digest.example", "newsroom.example", "aggregator.example")

# The sentence splitter breaks after . ! ? (and a closing quote) before a capital or digit.
SENTENCE_END = re.compile(r"[.!?][\"”']?(?=\s+[\"“']?[A-Z0-9£$])")
# "Claim, the company said." and "Claim, said Mr Smith." become "The company said claim."
ATTRIBUTION = re.compile(
    r"^(?P<claim>[^\"“].{20,}?),\s+"
    r"(?:(?P<who>(?:[\w.'-]+\s){0,5}?[\w.'-]+)\s+(?P<verb>said|says|added)"
    r"|(?P<verb2>said|says|added)\s+(?P<who2>(?:[\w.'-]+\s){0,5}?[\w.'-]+))\.$"
)
PARENTHESIS = re.compile(r" \([^)]{1,40}\)")
FILLER = re.compile(r" (?:also|very|now|just|still|recently|already|currently|really)\b")
FUNCTION_WORDS = frozenset(
    "the a an it its this that there these those they he she we his her their our".split()
)

HEADLINE_DANGLERS = FUNCTION_WORDS | frozenset(
    "of to and in on at by for from with has have had is are was were will would which who".split()
)

NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
NAME = re.compile(r"\b[A-Z][a-z]+(?:[A-Z][a-z]+)*\b")
ACRONYM = re.compile(r"\b[A-Z]{2,5}\b")
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS = (
    "January February March April May June July August September October November December"
).split()
# A capitalised word after these (or first in a sentence) may be capitalised for grammar only.
CLAUSE_OPENERS = frozenset("\"“'‘(:;-—–") | {""}
# "In 2004, the firm made a loss." becomes "The firm made a loss in 2004." The phrase may hold
# only small words, numbers and dates, and the rest no comma, so that "On Monday Mitsubishi, the
# car maker, said" is left alone.
LEADING_PHRASE = re.compile(
    r"^(?P<lead>(?:In|On|At|After|Before|During|Since|Under|For|By|Last|Earlier)"
    r"(?: (?:[a-z0-9][\w'%-]*|" + "|".join((*MONTHS, *DAYS)) + r")){1,8}),"
    r"\s+(?P<rest>[a-z][^,]{10,}?)\.$"
)
# Capitalised words that are not facts of the story.
NOT_NAMES = frozenset("I Mr Mrs Ms Dr Sir The But And".split())
NAME_POOL = (
    "Ashford Barlow Carrick Dunmore Ellison Fairbank Garrow Hadley Ingram Jarvis Kendall Langley "
    "Mercer Norcott Oakley Prescott Radley Stanton Thorne Upton Vance Whitby Yardley Ainsworth "
    "Bramwell Calloway Delaney Everett Fenwick Galloway Holloway Irvine Keswick Lockhart Marlow "
    "Newell Orton Pemberton Redfern Sheridan Tilbury Underwood Wexford Alder Brook Crane Drake "
    "Fisher Grove Hale Knox Lowell Moss Nash Pike Reed Shaw Tate Wade Voss Brandt Castillo Duval "
    "Eriksen Ferrante Gruber Haas Ivanov Jansen Kowalski Lindqvist Moreau Novak Okafor Petrov "
    "Rossi Sato Tanaka Varga Weber Yilmaz Zeller Abbott Bexley Corwin Dalton Easton Farrow Gilmore "
    "Harlow Kirby Lennox Morton Nolan Porter Quinn Rowley Selby Thornton Walsh Winslow Ashby"
).split()
ACRONYM_POOL = (
    "US UK EU UN BBC ITV IMF FBI NHS CBI AOL IBM BT BA WTO OPEC NATO FIFA UEFA RFU ECB FSA SEC"
).split()
# A look-alike must differ in enough facts to be a different story, not a near copy.
LOOK_ALIKE_MIN_FACTS = 8
LOOK_ALIKE_MIN_SHARE = 0.05


@dataclass(frozen=True, slots=True)
class Variant:
    """A story made from ``base``; every kind but ``look-alike`` is a copy of it."""

    story: Story
    base: str
    kind: str

    @property
    def positive(self) -> bool:
        return self.kind != LOOK_ALIKE


@dataclass(frozen=True, slots=True)
class SyndicationSet:
    """The corpus (bases, variants, look-alikes and distractors, shuffled) and its labels."""

    stories: tuple[Story, ...]
    variants: tuple[Variant, ...]

    def truth(self) -> dict[str, str]:
        """Story id to its story: a base and its copies share the base's id; all else is alone."""
        label = {story.id: story.id for story in self.stories}
        label.update({v.story.id: v.base for v in self.variants if v.positive})
        return label


def split_sentences(text: str) -> list[str]:
    sentences: list[str] = []
    start = 0
    for end in SENTENCE_END.finditer(text):
        sentences.append(text[start : end.end()].strip())
        start = end.end()
    if text[start:].strip():
        sentences.append(text[start:].strip())
    return sentences


def body_sentences(body: str) -> list[str]:
    return [s for paragraph in body.splitlines() for s in split_sentences(paragraph)]


def capitalize(text: str) -> str:
    return text[:1].upper() + text[1:]


def decapitalize(text: str) -> str:
    """Lowercase the first letter only when the first word is a function word, not a name."""
    first = text.split(" ", 1)[0]
    return text[:1].lower() + text[1:] if first.lower() in FUNCTION_WORDS else text


def swap_synonyms(text: str, rng: random.Random, rate: float) -> str:
    return SYNONYM.sub(
        lambda m: rng.choice(SYNONYMS[m.group(1)]) if rng.random() < rate else m.group(1), text
    )


def move_attribution(sentence: str) -> str:
    """Put the speaker first, as rewrites often do; a sentence without one is returned as is."""
    match = ATTRIBUTION.match(sentence)
    if match is None:
        return sentence
    who = match.group("who") or match.group("who2")
    verb = match.group("verb") or match.group("verb2")
    return f"{capitalize(who)} {verb} {decapitalize(match.group('claim'))}."


def move_leading_phrase(sentence: str) -> str:
    match = LEADING_PHRASE.match(sentence)
    if match is None:
        return sentence
    lead = match.group("lead")
    return f"{capitalize(match.group('rest'))} {lead[:1].lower()}{lead[1:]}."


def paraphrase(sentence: str, rng: random.Random, rate: float) -> str:
    """Light paraphrase: synonyms at ``rate``, and half the time a moved attribution or phrase."""
    if rng.random() < 0.5:
        sentence = move_leading_phrase(move_attribution(sentence))
    return swap_synonyms(sentence, rng, rate)


def retitle(title: str, rng: random.Random) -> str:
    """A light retitle: headline synonyms, or failing those a kicker in front."""
    new = swap_synonyms(title, rng, 1.0)
    return new if new != title else rng.choice(HEADLINE_KICKERS) + title


def headline_from_lead(body: str) -> str:
    """The first words of the lead as a headline, as aggregators do when a feed has none."""
    words = body_sentences(body)[0].rstrip(".").split()[:9]
    while len(words) > 4 and words[-1].lower() in HEADLINE_DANGLERS:
        words.pop()
    return capitalize(" ".join(words))


def trim(sentence: str, rng: random.Random) -> str:
    """Drop what a teaser has no room for: asides in brackets and some filler words."""
    if rng.random() < 0.5:
        sentence = PARENTHESIS.sub("", sentence)
    return FILLER.sub(lambda m: "" if rng.random() < 0.5 else m.group(), sentence)


def make_teaser(article: Story, rng: random.Random) -> tuple[str, str]:
    """The lead (35-70 words), trimmed and paraphrased, cut mid-sentence, under a retitled
    headline."""
    lead: list[str] = []
    for sentence in body_sentences(article.body)[:3]:
        lead.append(paraphrase(trim(sentence, rng), rng, 0.4))
        if sum(len(s.split()) for s in lead) >= 70:
            break
    words = " ".join(lead).split()
    cut = min(rng.randint(35, 70), max(len(words) - 3, 20), len(words))
    while cut > 20 and words[cut - 1][-1] in '.!?"”':
        cut -= 1
    body = " ".join(words[:cut]).rstrip(",;:") + rng.choice(TRUNCATION_MARKS)
    return retitle(article.title, rng), body


def make_rewrite(article: Story, rng: random.Random, other_title: str) -> tuple[str, str]:
    """Sentences dropped and swapped, paraphrased, with a dateline and boilerplate added."""
    first, *rest = body_sentences(article.body)
    dropped = set(rng.sample(range(len(rest)), round(len(rest) * rng.uniform(0.1, 0.3))))
    kept = [s for n, s in enumerate(rest) if n not in dropped]
    for _ in range(min(2, len(kept) // 3)):
        n = rng.randrange(len(kept) - 1)
        kept[n], kept[n + 1] = kept[n + 1], kept[n]
    sentences = [paraphrase(s, rng, 0.2) for s in [first, *kept]]
    if rng.random() < 0.5:
        sentences[0] = rng.choice(DATELINES) + sentences[0]
    paragraphs: list[str] = []
    while sentences:
        size = rng.randint(1, 3)
        paragraphs.append(" ".join(sentences[:size]))
        sentences = sentences[size:]
    boilerplate = [f"Read more: {other_title}", *rng.sample(BOILERPLATE, rng.randint(1, 2))]
    rng.shuffle(boilerplate)
    return retitle(article.title, rng), "\n\n".join(paragraphs + boilerplate)


def misspell(word: str, rng: random.Random) -> str:
    if len(word) < 5 or not word.isalpha():
        return word
    n = rng.randrange(1, len(word) - 2)
    return word[:n] + word[n + 1] + word[n] + word[n + 2 :]


def make_near_copy(article: Story, rng: random.Random) -> tuple[str, str]:
    """2-3% of words edited (typos, dropped small words), some commas and quotes changed."""
    tokens = re.split(r"(\s+)", article.body)
    word_positions = range(0, len(tokens), 2)
    edits = min(max(2, round(len(word_positions) * rng.uniform(0.02, 0.03))), 12)
    for n in rng.sample(word_positions, min(edits, len(word_positions))):
        word = tokens[n]
        if word.lower() in {"the", "a", "of", "that", "to"}:
            tokens[n] = ""
        else:
            tokens[n] = misspell(word, rng)
    body = "".join(tokens)
    body = re.sub(r",(?= )", lambda m: " -" if rng.random() < 0.15 else ",", body)
    body = re.sub(r"\"([^\"]*)\"", r"“\1”", body)
    title = misspell(article.title, rng) if rng.random() < 0.3 else article.title
    return title, body


def new_number(text: str, rng: random.Random) -> str:
    """Another number of the same shape: a year moves a little, other figures change digits."""
    if re.fullmatch(r"(19[5-9]\d|20[0-3]\d)", text):
        return str(int(text) + rng.choice((-3, -2, -1, 1, 2, 3)))
    while True:
        digits = [
            rng.choice("123456789") if n == 0 else rng.choice("0123456789") if c.isdigit() else c
            for n, c in enumerate(text)
        ]
        candidate = "".join(digits)
        if candidate != text:
            return candidate


def look_alike_facts(article: Story, rng: random.Random) -> dict[str, str] | None:
    """A replacement for every number, name, acronym and date of the article, or None when it
    has too few facts for a swap to make a different story.

    A name is a capitalised word seen at least once inside a sentence (not first), so that
    sentence-initial "The" or "But" stay; once known, it is swapped everywhere, even first.
    """
    text = f"{article.title}\n{article.body}"
    names: set[str] = set()
    for sentence in [article.title, *body_sentences(article.body)]:
        names.update(
            m.group()
            for m in NAME.finditer(sentence)
            if sentence[: m.start()].rstrip()[-1:] not in CLAUSE_OPENERS
        )
    names -= NOT_NAMES
    days = sorted(names & set(DAYS))
    months = sorted(names & set(MONTHS))
    names = names - set(DAYS) - set(MONTHS)
    acronyms = sorted(set(ACRONYM.findall(text)))
    numbers = sorted(set(NUMBER.findall(text)))
    facts = len(names) + len(acronyms) + len(numbers) + len(days) + len(months)
    total_words = len(text.split())
    if facts < LOOK_ALIKE_MIN_FACTS or facts / total_words < LOOK_ALIKE_MIN_SHARE:
        return None
    swaps: dict[str, str] = {}
    for originals, pool in (
        (sorted(names), NAME_POOL),
        (acronyms, ACRONYM_POOL),
        (days, DAYS),
        (months, MONTHS),
    ):
        choices = [p for p in pool if p not in originals]
        rng.shuffle(choices)
        swaps.update(zip(originals, choices, strict=False))
    swaps.update({number: new_number(number, rng) for number in numbers})
    return swaps


def apply_swaps(text: str, swaps: dict[str, str]) -> str:
    """Swap names as whole words and numbers as whole numbers ("1" never inside "1,000")."""
    words = sorted((k for k in swaps if not k[0].isdigit()), key=len, reverse=True)
    numbers = sorted((k for k in swaps if k[0].isdigit()), key=len, reverse=True)
    for keys, pattern in (
        (words, r"\b({})\b"),
        (numbers, r"(?<![\d.,])({})(?!\d|[.,]\d)"),
    ):
        if keys:
            alternatives = "|".join(map(re.escape, keys))
            text = re.sub(pattern.format(alternatives), lambda m: swaps[m.group(1)], text)
    return text


def overlapping_articles(articles: Sequence[Story], containment: float = 0.2) -> set[str]:
    """Articles that share text with another (the BBC set holds exact and edited re-runs).

    They would be unlabelled positives, so the generator never uses them.
    """
    sets = [shingles(a) for a in articles]
    signatures = MinHash.bulk([s or {b""} for s in sets], num_perm=128)
    lsh = MinHashLSH(threshold=0.1, num_perm=128)
    for n, signature in enumerate(signatures):
        lsh.insert(n, signature)
    overlapping: set[str] = set()
    for n, signature in enumerate(signatures):
        for m in lsh.query(signature):
            shared = len(sets[n] & sets[m])
            if m != n and shared >= containment * min(len(sets[n]), len(sets[m])):
                overlapping.update((articles[n].id, articles[m].id))
    return overlapping


def make_syndication_set(
    articles: Sequence[Story],
    bases: int,
    distractors: int,
    seed: int,
    variant_rate: float = 0.6,
    look_alike_rate: float = 0.5,
) -> SyndicationSet:
    """Draw ``bases`` articles and give each every variant kind with probability
    ``variant_rate`` and a look-alike with ``look_alike_rate`` (when it has enough facts); add
    ``distractors`` other articles, untouched, among which are same-section stories."""
    rng = random.Random(seed)
    excluded = overlapping_articles(articles)
    pool = [a for a in articles if a.id not in excluded]
    chosen = rng.sample(pool, min(bases + distractors, len(pool)))
    base_articles, others = chosen[:bases], chosen[bases:]
    other_titles = [a.title for a in others] or [a.title for a in base_articles]
    variants: list[Variant] = []
    for article in base_articles:
        for kind in VARIANT_KINDS:
            if rng.random() >= variant_rate:
                continue
            if kind == "exact":
                title, body = article.title, article.body
            elif kind == "near-copy":
                title, body = make_near_copy(article, rng)
            elif kind == "retitled":
                title = retitle(article.title, rng)
                if rng.random() < 0.5 or title.startswith(HEADLINE_KICKERS):
                    title = headline_from_lead(article.body)
                body = article.body
            elif kind == "rewrite":
                title, body = make_rewrite(article, rng, rng.choice(other_titles))
            else:
                title, body = make_teaser(article, rng)
            story = Story(
                id=f"{article.id}~{kind}", title=title, body=body, source=rng.choice(SOURCES)
            )
            variants.append(Variant(story, article.id, kind))
        swaps = look_alike_facts(article, rng)
        if swaps is not None and rng.random() < look_alike_rate:
            story = Story(
                id=f"{article.id}~{LOOK_ALIKE}",
                title=apply_swaps(article.title, swaps),
                body=apply_swaps(article.body, swaps),
                source=rng.choice(SOURCES),
            )
            variants.append(Variant(story, article.id, LOOK_ALIKE))
    stories = [*base_articles, *(v.story for v in variants), *others]
    rng.shuffle(stories)
    return SyndicationSet(stories=tuple(stories), variants=tuple(variants))


def spread_in_time(
    corpus: SyndicationSet, seed: int, delay_days: tuple[float, float] = (5.0, 90.0)
) -> SyndicationSet:
    """The same corpus with dates: bases and distractors published at random over 2024, and each
    variant and look-alike ``delay_days`` after its base, as an archive, a late re-run by a small
    outlet or a check against last year's stories meets them. A draw of its own, so the undated
    set stays as it was."""
    rng = random.Random(f"dates-{seed}")
    start = datetime(2024, 1, 1, tzinfo=UTC)
    of_variant = {v.story.id: v for v in corpus.variants}
    published = {
        s.id: start + timedelta(days=rng.uniform(0, 366))
        for s in corpus.stories
        if s.id not in of_variant
    }
    for variant in corpus.variants:
        delay = timedelta(days=rng.uniform(*delay_days))
        published[variant.story.id] = published[variant.base] + delay

    def dated(story: Story) -> Story:
        moment = published[story.id].isoformat(timespec="seconds").replace("+00:00", "Z")
        return replace(story, published=moment)

    return SyndicationSet(
        stories=tuple(dated(s) for s in corpus.stories),
        variants=tuple(replace(v, story=dated(v.story)) for v in corpus.variants),
    )
