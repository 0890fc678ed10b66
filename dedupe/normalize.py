"""Normalize: make two copies of one story look the same, whatever the outlet did to the text.

NFKC and case folding, one form for quotes, dashes and numbers ("10,000" = "10 000" = "10000"),
without the boilerplate that feeds wrap around stories ("Read more", "Source Link", datelines, share
lines) and the truncation marks of teasers. Tokens come out for any script: words where words are
separated by spaces, character bigrams where they are not (Chinese, Japanese, Thai, ...).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import regex
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

# Scripts written without spaces between words: their tokens are overlapping character bigrams.
_UNSPACED = r"\p{Han}\p{Hiragana}\p{Katakana}\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}\p{Tibetan}"
_TOKEN = regex.compile(
    rf"(?P<unspaced>[{_UNSPACED}]+)"
    r"|(?P<number>\p{Nd}+(?:[.,]\p{Nd}+)*)"
    r"|(?P<word>[\p{L}\p{M}\p{Nd}]+)",
    regex.VERSION1,
)

_QUOTES = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u2032": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u201f": '"',
        "\u00ab": '"',
        "\u00bb": '"',
        "\u2033": '"',
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2013": "-",
        "\u2014": "-",
        "\u2015": "-",
        "\u2212": "-",
    }
)

# Thousands separators: "10,000", "10 000" (also no-break and thin spaces), "10'000".
_THOUSANDS = regex.compile(
    r"(?<![\p{Nd}.,])\p{Nd}{1,3}(?:([,' \u00a0\u202f\u2009])\p{Nd}{3})(?:\1\p{Nd}{3})*"
    r"(?![\p{Nd}]|[.,]\p{Nd})"
)
_DECIMAL_COMMA = regex.compile(r"(?<=\p{Nd}),(?=\p{Nd}{1,2}(?!\p{Nd}))")

# Feed and wire boilerplate: whole lines, and phrases at the edges of a story.
_BOILERPLATE_LINE = regex.compile(
    r"^\s*(?:read more|source link|share this(?: article| story)?|click here.*|"
    r"(?:follow|like) us on .*|advertisement|reuter|reuters|continue reading.*|"
    r"(?:related|more)(?: stories| articles| news)?:?)\s*$",
    regex.IGNORECASE | regex.MULTILINE,
)
_BOILERPLATE_PHRASE = regex.compile(
    r"^\s*read more:?|read more:?\s*$|"
    # Datelines: "LONDON (Reuters) -", "(AP) --", "WASHINGTON, Feb 26 -".
    r"^\s*(?:[\p{Lu}][\p{Lu}\p{Zs}.,'-]{1,40})?\s*\((?:reuters|ap|afp|upi|dpa|bloomberg)\)\s*-+\s*",
    regex.IGNORECASE,
)
_TRUNCATION = regex.compile(r"\s*(?:\[\s*(?:…|\.\.\.)\s*\]|…|\.{3,})\s*$")

STOP_WORDS = frozenset(ENGLISH_STOP_WORDS)


@dataclass(frozen=True, slots=True)
class Tokens:
    """A text's tokens: ``words`` case-folded for matching, ``display`` as written, for evidence."""

    words: tuple[str, ...]
    display: tuple[str, ...]
    truncated: bool


def clean(text: str) -> tuple[str, bool]:
    """The text without boilerplate or a trailing truncation mark, and whether it had one."""
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES)
    text = _BOILERPLATE_LINE.sub("", text)
    text = _BOILERPLATE_PHRASE.sub("", text.strip())
    truncated = bool(_TRUNCATION.search(text))
    if truncated:
        text = _TRUNCATION.sub("", text)
    return text, truncated


def _join_numbers(text: str) -> str:
    text = _THOUSANDS.sub(lambda m: regex.sub(r"[,' \u00a0\u202f\u2009]", "", m.group()), text)
    return _DECIMAL_COMMA.sub(".", text)


def tokenize(text: str, max_tokens: int | None = None) -> Tokens:
    """Tokens of any script, after cleaning; ``max_tokens`` bounds the cost of a huge story."""
    text, truncated = clean(text)
    text = _join_numbers(text)
    words: list[str] = []
    display: list[str] = []
    for match in _TOKEN.finditer(text):
        piece = match.group()
        if match.lastgroup == "unspaced":
            grams = (
                [piece] if len(piece) == 1 else [piece[i : i + 2] for i in range(len(piece) - 1)]
            )
            display.extend(grams)
            words.extend(g.casefold() for g in grams)
        else:
            display.append(piece)
            words.append(piece.casefold())
        if max_tokens is not None and len(words) >= max_tokens:
            del words[max_tokens:], display[max_tokens:]
            break
    return Tokens(tuple(words), tuple(display), truncated)


def is_content(word: str) -> bool:
    """Words that carry the story rather than the grammar: no stop words, no single letters."""
    return len(word) > 1 and word not in STOP_WORDS


def normalized_text(words: tuple[str, ...]) -> str:
    """One string per distinct text: what ``exact`` compares."""
    return " ".join(words)
