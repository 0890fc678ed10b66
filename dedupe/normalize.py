"""Normalize: make two copies of one story look the same, whatever the outlet did to the text.

NFKC and case folding, one form for numbers ("10,000" = "10 000" = "10000"), no punctuation,
without the boilerplate that feeds wrap around stories ("Read more", "Source Link", datelines, share
lines) and the truncation marks of teasers. Tokens come out for any script: words where words are
separated by spaces, character bigrams where they are not (Chinese, Japanese, Thai, ...).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from importlib.resources import files

import regex

# Scripts written without spaces between words: their tokens are overlapping character bigrams.
_UNSPACED = regex.compile(
    r"[\p{Han}\p{Hiragana}\p{Katakana}\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}\p{Tibetan}]+"
)
# Punctuation never reaches a token, so quotes, apostrophes and dashes need no mapping of their
# own: "year’s" and "year's" both give "year", "s".
_TOKEN = regex.compile(r"\p{Nd}+(?:[.,]\p{Nd}+)*|[\p{L}\p{M}\p{Nd}]+")

# Thousands separators: "10,000", "10 000" (also no-break and thin spaces), "10'000".
_THOUSANDS = regex.compile(
    r"(?<![\p{Nd}.,])\p{Nd}{1,3}(?:([,'’ \u00a0\u202f\u2009])\p{Nd}{3})(?:\1\p{Nd}{3})*"
    r"(?![\p{Nd}]|[.,]\p{Nd})"
)
_SEPARATORS = regex.compile(r"[,'’ \u00a0\u202f\u2009]")
_DECIMAL_COMMA = regex.compile(r"(?<=\p{Nd}),(?=\p{Nd}{1,2}(?!\p{Nd}))")

# Feed and wire boilerplate: whole lines, and phrases at the edges of a story.
_BOILERPLATE_LINE = regex.compile(
    r"read more|source link|share this(?: article| story)?|click here\b.*|"
    r"(?:follow|like) us on\b.*|advertisement|reuters?|continue reading\b.*|"
    r"(?:related|more)(?: stories| articles| news)?:?",
    regex.IGNORECASE,
)
# A lead-in "Read more", or a dateline: "LONDON (Reuters) -", "WASHINGTON, Feb 26 (AP) --".
_LEAD_IN = regex.compile(
    r"\s*(?:read more:?\s*|[^\n()]{0,40}\((?:reuters|ap|afp|upi|dpa|bloomberg)\)\s*[-–—]+\s*)",
    regex.IGNORECASE,
)
_READ_MORE_TAIL = regex.compile(r"\s*read more:?\s*$", regex.IGNORECASE)
_TRUNCATION = regex.compile(r"\s*(?:\[\s*(?:…|\.\.\.)\s*\]|…|\.{3,})\s*$")



def _word_list(name: str) -> frozenset[str]:
    text = files("dedupe").joinpath(name).read_text("utf-8")
    return frozenset(line for line in text.splitlines() if line and not line.startswith("#"))


# scikit-learn's English stop words, as a file: importing scikit-learn for them took half of the
# start-up of ``dedupe check``.
STOP_WORDS = _word_list("stop_words.txt")
# Content words in the leads of more than 2% of news stories ("said", "government", "million"):
# two stories sharing them share a beat, not a text. Derived by ``benchmarks/common_words.py``.
COMMON_WORDS = _word_list("common_words.txt")


@dataclass(frozen=True, slots=True)
class Tokens:
    """A text's tokens: ``words`` case-folded for matching, ``display`` as written, for evidence;
    ``text`` is the cleaned text they came from."""

    words: tuple[str, ...]
    display: tuple[str, ...]
    truncated: bool
    text: str


def _is_boilerplate(line: str) -> bool:
    return len(line) < 60 and _BOILERPLATE_LINE.fullmatch(line.strip()) is not None


def clean(text: str) -> tuple[str, bool]:
    """The text without boilerplate or a trailing truncation mark, and whether it had one."""
    text = unicodedata.normalize("NFKC", text)
    lines = text.splitlines()
    if any(len(line) < 60 and _BOILERPLATE_LINE.fullmatch(line.strip()) for line in lines):
        text = "\n".join(
            line
            for line in lines
            if not (len(line) < 60 and _BOILERPLATE_LINE.fullmatch(line.strip()))
        )
    text = text.strip()
    lead_in = _LEAD_IN.match(text[:80])
    if lead_in:
        text = text[lead_in.end() :]
    # Edge patterns run on the last characters only: a search over the whole text costs its length.
    head, tail = text[:-40], text[-40:]
    tail = _READ_MORE_TAIL.sub("", tail)
    truncated = bool(_TRUNCATION.search(tail))
    if truncated:
        tail = _TRUNCATION.sub("", tail)
    return head + tail, truncated


def _join_numbers(text: str) -> str:
    text = _THOUSANDS.sub(lambda m: _SEPARATORS.sub("", m.group()), text)
    return _DECIMAL_COMMA.sub(".", text)


def _bigrams(run: str) -> list[str]:
    return [run] if len(run) == 1 else [run[i : i + 2] for i in range(len(run) - 1)]


def tokenize(text: str, max_tokens: int | None = None) -> Tokens:
    """Tokens of any script, after cleaning; ``max_tokens`` bounds the cost of a huge story."""
    text, truncated = clean(text)
    text = _join_numbers(text)
    display = _TOKEN.findall(text)
    unspaced = not text.isascii() and _UNSPACED.search(text) is not None
    if unspaced:
        display = [gram for token in display for gram in _split_unspaced(token)]
    if max_tokens is not None:
        display = display[:max_tokens]
    # Tokens never hold a space, and folding never makes one: fold them all in one call.
    words = " ".join(display).casefold().split(" ") if display else []
    return Tokens(tuple(words), tuple(display), truncated, text)


def _split_unspaced(token: str) -> list[str]:
    """A token with runs of an unspaced script: bigrams of each run, other parts as they are."""
    pieces: list[str] = []
    last = 0
    for run in _UNSPACED.finditer(token):
        if run.start() > last:
            pieces.append(token[last : run.start()])
        pieces.extend(_bigrams(run.group()))
        last = run.end()
    if last < len(token):
        pieces.append(token[last:])
    return pieces


def is_content(word: str) -> bool:
    """Words that carry the story rather than the grammar: no stop words, no single letters."""
    return len(word) > 1 and word not in STOP_WORDS


def normalized_text(words: tuple[str, ...]) -> str:
    """One string per distinct text: what ``exact`` compares."""
    return " ".join(words)
