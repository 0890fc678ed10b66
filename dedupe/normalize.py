"""Normalize: make two copies of one story look the same, whatever the outlet did to the text.

NFKC and case folding, one form for numbers ("10,000" = "10 000" = "10000"), no punctuation,
without the boilerplate that feeds wrap around stories ("Read more", "Source Link", datelines, share
lines) and the truncation marks of teasers. Tokens come out for any script: words where words are
separated by spaces, character bigrams where they are not (Chinese, Japanese, Thai, ...).

``clean`` works on whole texts with a few patterns on their edges. Everything per character (number
forms, tokens, case folding, word hashes, names) is one compiled pass over the code points of a
whole batch of texts (``tokenize_batch``), reading the tables of ``charset``. A token is what the
pattern ``\\p{Nd}+(?:[.,]\\p{Nd}+)*|[\\p{L}\\p{M}\\p{Nd}]+`` finds, first alternative first, in the
text with its numbers joined; a word's hash is 31 bits of a 64-bit hash of its case-folded code
points, the same in every process.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files

import numpy as np
import regex

from dedupe.charset import DIGIT, LETTER, LOWER, MARK, SPACE, UNSPACED, UPPER, WORD, tables
from dedupe.compiled import jit, worth
from dedupe.rows import distinct

# Feed and wire boilerplate: whole lines, and phrases at the edges of a story. (The standard
# library's engine, a third faster than ``regex`` on these; text is NFKC already, where the two
# fold case alike.)
_BOILERPLATE_LINE = re.compile(
    r"read more|source link|share this(?: article| story)?|click here\b.*|"
    r"(?:follow|like) us on\b.*|advertisement|reuters?|continue reading\b.*|"
    r"(?:related|more)(?: stories| articles| news)?:?",
    re.IGNORECASE,
)
# A lead-in "Read more", or a dateline: "LONDON (Reuters) -", "WASHINGTON, Feb 26 (AP) --".
_LEAD_IN = regex.compile(
    r"\s*(?:read more:?\s*|[^\n()]{0,40}\((?:reuters|ap|afp|upi|dpa|bloomberg)\)\s*[-–—]+\s*)",
    regex.IGNORECASE,
)
_READ_MORE_TAIL = regex.compile(r"\s*read more:?\s*$", regex.IGNORECASE)
_TRUNCATION = regex.compile(r"\s*(?:\[\s*(?:…|\.\.\.)\s*\]|…|\.{3,})\s*$")
_TRUNCATION_ENDS = ("]", "…", "...")
# Only lines this short can be boilerplate.
_BOILERPLATE_CHARS = 60
# How a boilerplate line begins, one entry per alternative of ``_BOILERPLATE_LINE`` (keep them in
# step): only lines that begin so are matched against it (``clean_batch``).
_BOILERPLATE_STARTS = (
    "read more", "source link", "share this", "click here", "follow us on", "like us on",
    "advertisement", "reuter", "continue reading", "related", "more",
)  # fmt: skip
# The lead-in and tail the edge patterns look for first, as code points.
_READ_MORE = np.array([ord(c) for c in "read more"], dtype=np.uint32)
# ASCII case-folded, as ``charset``'s table folds it: the tokenizer's fast path.
_ASCII_FOLD = np.array([ord(chr(c).casefold()) for c in range(128)], dtype=np.uint32)
# What ``str.isspace`` and ``str.splitlines`` take for a space and a line break, of ASCII.
_ASCII_SPACE = np.array([chr(c).isspace() for c in range(128)], dtype=np.bool_)
_ASCII_BREAK = np.array([len(f"a{chr(c)}b".splitlines()) == 2 for c in range(128)], np.bool_)


def _word_list(name: str) -> frozenset[str]:
    text = files("dedupe").joinpath(name).read_text("utf-8")
    return frozenset(line for line in text.splitlines() if line and not line.startswith("#"))


# scikit-learn's English stop words, as a file: importing scikit-learn for them took half of the
# start-up of ``dedupe check``.
STOP_WORDS = _word_list("stop_words.txt")
# Content words in the leads of more than 2% of news stories ("said", "government", "million"):
# two stories sharing them share a beat, not a text. Derived by ``benchmarks/common_words.py``.
COMMON_WORDS = _word_list("common_words.txt")

# Bits of a token's kind.
NUMBER = 1  # starts with a digit and is longer than one character: a fact
ALPHA = 2  # holds a letter: a word a topic can be named by
CONTENT_BIT = 1 << 31
HASH_BITS = CONTENT_BIT - 1

_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)
_KEY_PRIME = np.uint64(0x9E3779B97F4A7C15)
_SEPARATORS = (ord(","), ord("'"), ord("’"), ord(" "), 0xA0, 0x202F, 0x2009)


def clean(text: str) -> tuple[str, bool]:
    """The text without boilerplate or a trailing truncation mark, and whether it had one.

    Each pattern runs only where a plain test says it can match (a short line, an opening
    bracket near the start, a mark or "more" at the end): cleaning is paid per story, twice.
    """
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    lines = text.splitlines()
    if any(len(line) < _BOILERPLATE_CHARS and _is_boilerplate(line) for line in lines):
        text = "\n".join(
            line for line in lines if not (len(line) < _BOILERPLATE_CHARS and _is_boilerplate(line))
        )
    text = text.strip()
    start, stop, truncated = _edges(text)
    return text[start:stop], truncated


def _edges(text: str) -> tuple[int, int, bool]:
    """Where a stripped text is left after its lead-in ("Read more", a dateline) and a trailing
    truncation mark or "Read more", and whether it had the mark."""
    start = 0
    head = text[:80]
    if "(" in head or head[:12].lower().startswith("read more"):
        lead_in = _LEAD_IN.match(head)
        if lead_in:
            start = lead_in.end()
    # Edge patterns run on the last characters only: a search over the whole text costs its length.
    tail = text[max(start, len(text) - 40) :]
    kept = len(tail)
    if tail.rstrip().lower().endswith(("read more", "read more:")):
        tail = _READ_MORE_TAIL.sub("", tail)
    truncated = tail.rstrip().endswith(_TRUNCATION_ENDS) and bool(_TRUNCATION.search(tail))
    if truncated:
        tail = _TRUNCATION.sub("", tail)
    return start, len(text) - kept + len(tail), truncated


def _is_boilerplate(line: str) -> bool:
    return _BOILERPLATE_LINE.fullmatch(line.strip()) is not None


@dataclass(frozen=True, slots=True)
class Tokenized:
    """The tokens of a batch of texts, flat: those of text ``t`` are
    ``[offsets[t], offsets[t + 1])``.

    ``codes`` holds each token's word hash with the top bit set on content words (not a stop word,
    more than one character); ``kinds`` its ``NUMBER`` and ``ALPHA`` bits; ``starts`` and ``ends``
    its span in ``chars``, the batch's code points with numbers joined, which ``segments`` cuts into
    texts. ``keys`` is a 128-bit hash of each text's token sequence; ``normalized`` the case-folded
    tokens, joined by spaces, of the texts asked for (others: ""). A text's tokens stop at
    ``max_tokens``.
    """

    codes: np.ndarray
    kinds: np.ndarray
    starts: np.ndarray
    ends: np.ndarray
    offsets: np.ndarray
    keys: np.ndarray
    normalized: list[str]
    chars: np.ndarray
    segments: np.ndarray
    max_tokens: int

    def names_in(self, wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The 31-bit hashes of the names in the texts ``wanted`` (a mask), and the offsets
        that cut them per text."""
        flags, fold, multi = tables()
        found = np.empty(len(self.chars) // 2 + 1, dtype=np.uint32)
        offsets = np.zeros(len(wanted) + 1, dtype=np.int64)
        n = _names(
            self.chars, self.segments, self.codes, self.starts, self.ends, self.offsets,
            self.max_tokens, flags, fold, multi, wanted, found, offsets,
        )  # fmt: skip
        return found[:n], offsets

    def folded(self, tokens: np.ndarray) -> str:
        """These tokens case-folded, one per line."""
        _, fold, multi = tables()
        out = np.empty(int(3 * (self.ends[tokens] - self.starts[tokens] + 1).sum()), np.uint32)
        n = _folded(self.chars, self.starts, self.ends, tokens, fold, multi, out)
        return out[: max(n - 1, 0)].tobytes().decode("utf-32-le", "surrogatepass")

    def display(self, text: int, first: int, stop: int) -> str:
        """Tokens ``first`` to ``stop`` of a text as written (after NFKC and number joining),
        joined by single spaces."""
        return self.displays(np.array([text]), np.array([first]), np.array([stop]))[0]

    def displays(self, texts: np.ndarray, firsts: np.ndarray, stops: np.ndarray) -> list[str]:
        """``display`` of many runs of tokens at once (the passages of a report): one compiled
        pass and one decoding, not a call of each per passage."""
        base = self.offsets[texts]
        first, stop = base + firsts, base + stops
        tokens = np.zeros(len(self.starts) + 1, dtype=np.int64)
        np.cumsum(self.ends - self.starts + 1, out=tokens[1:])
        out = np.empty(int((tokens[stop] - tokens[first]).sum()) + len(texts), dtype=np.uint32)
        n = _joined(self.chars, self.starts, self.ends, first, stop, out)
        # Tokens hold no newline: it can cut the runs apart.
        return out[:n].tobytes().decode("utf-32-le", "surrogatepass").split("\n")[: len(texts)]


def tokenize_batch(
    texts: Sequence[str], max_tokens: int, normalized: np.ndarray | None = None
) -> Tokenized:
    """Tokens of cleaned texts (``clean``), each cut at ``max_tokens``; ``normalized`` is a
    boolean mask of the texts whose normalized text is wanted."""
    cps, bounds = _code_points(texts)
    worth(len(cps))
    return _tokenized(cps, bounds[:-1], bounds[1:], max_tokens, normalized)


def clean_and_tokenize(
    texts: Sequence[str], max_tokens: int, normalized: np.ndarray | None = None
) -> tuple[Tokenized, np.ndarray]:
    """``tokenize_batch`` of the texts cleaned (``clean_batch``), and whether each was
    truncated."""
    cps, starts, stops, truncated = clean_batch(texts)
    return _tokenized(cps, starts, stops, max_tokens, normalized), truncated


def clean_batch(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``clean`` of every text, as code points: text ``t`` is ``cps[starts[t]:stops[t]]``; and
    whether each was truncated.

    ``clean``'s Python, a pattern on every title and every short line, was a fifth of a batch's
    time. Here it runs whole only on the texts that need NFKC (not ASCII, a few); of the rest,
    compiled passes over the batch's code points find the lines that could be boilerplate and
    the texts whose edges could hold a lead-in or a mark, and the patterns run on those alone.
    """
    count = len(texts)
    ascii = np.fromiter(map(str.isascii, texts), dtype=np.bool_, count=count)
    truncated = np.zeros(count, dtype=np.bool_)
    texts = list(texts)
    for t in np.flatnonzero(~ascii).tolist():
        texts[t], truncated[t] = clean(texts[t])
    joined = "".join(texts)
    cps, bounds = _code_points(texts, joined)
    worth(len(cps))
    lines = np.empty((len(cps) // 4 + 1, 2), dtype=np.int64)
    lines = lines[: _boilerplate_lines(cps, bounds, ascii, *_boilerplate_starts(), lines)]
    boilerplate = np.fromiter(
        (_is_boilerplate(joined[a:b]) for a, b in lines.tolist()), dtype=np.bool_, count=len(lines)
    )
    out = np.empty(len(cps), dtype=np.uint32)
    starts = np.empty(count, dtype=np.int64)
    stops = np.empty(count, dtype=np.int64)
    edges = np.empty(count, dtype=np.bool_)
    _without_boilerplate(cps, bounds, ascii, lines, boilerplate, out, starts, stops, edges)
    for t in np.flatnonzero(edges).tolist():
        first, stop = starts[t], stops[t]
        # ``_edges`` reads the first 80 characters and the last 40: only they are decoded.
        skipped = max(stop - first - 120, 0)
        points = out[first:stop]
        if skipped:
            points = np.concatenate([points[:80], points[-40:]])
        start, end, truncated[t] = _edges(points.tobytes().decode("utf-32-le"))
        starts[t], stops[t] = first + start, first + end + skipped
    return out, starts, stops, truncated


def _code_points(texts: Sequence[str], joined: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The code points of the texts (``joined``: already joined), one after the other, and the
    bounds that cut them."""
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    bounds = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum(lengths, out=bounds[1:])
    if joined is None:
        joined = "".join(texts)
    encoded = joined.encode("utf-32-le", "surrogatepass")
    return np.frombuffer(encoded, dtype=np.uint32), bounds


@lru_cache(maxsize=1)
def _boilerplate_starts() -> tuple[np.ndarray, np.ndarray]:
    """``_BOILERPLATE_STARTS`` as code points, and the offsets that cut them."""
    return _code_points(_BOILERPLATE_STARTS)


def _tokenized(
    cps: np.ndarray,
    firsts: np.ndarray,
    stops: np.ndarray,
    max_tokens: int,
    normalized: np.ndarray | None,
) -> Tokenized:
    """The tokens of the texts ``cps[firsts[t]:stops[t]]``, cleaned already."""
    count = len(firsts)
    flags, fold, multi = tables()
    # Outputs are allocated here, not in the compiled loops: numpy's large arrays use huge
    # pages, and first touching the small pages numba's allocator gets cost more than the loops.
    chars = np.empty(int((stops - firsts).sum()), dtype=np.uint32)
    segments = np.empty(count + 1, dtype=np.int64)
    chars = chars[: _join_numbers(cps, firsts, stops, flags, chars, segments)]
    want_text = np.zeros(count, np.bool_) if normalized is None else normalized
    capacity = len(chars)
    codes = np.empty(capacity, dtype=np.uint32)
    kinds = np.empty(capacity, dtype=np.uint8)
    starts = np.empty(capacity, dtype=np.int32)
    ends = np.empty(capacity, dtype=np.int32)
    offsets = np.zeros(count + 1, dtype=np.int64)
    keys = np.empty((count, 2), dtype=np.uint64)
    room = 7 * np.diff(segments)[want_text].sum() + 1
    text = np.empty(room, dtype=np.uint32)
    text_offsets = np.zeros(count + 1, dtype=np.int64)
    n = _tokenize(
        chars, segments, flags, fold, multi, _stop_table(), max_tokens, want_text,
        codes, kinds, starts, ends, offsets, keys, text, text_offsets,
    )  # fmt: skip
    codes, kinds, starts, ends = codes[:n], kinds[:n], starts[:n], ends[:n]
    # One decode for every text wanted (a decode each cost more than tokenizing the titles),
    # cut in one pass: the others are empty.
    every = text[: text_offsets[-1]].tobytes().decode("utf-32-le", "replace")
    bounds = text_offsets.tolist()
    normalized_texts = list(map(every.__getitem__, map(slice, bounds[:-1], bounds[1:])))
    return Tokenized(
        codes, kinds, starts, ends, offsets, keys, normalized_texts, chars, segments, max_tokens
    )


@dataclass(frozen=True, slots=True)
class Tokens:
    """One text's tokens: ``words`` case-folded for matching, ``display`` as written, for
    evidence; ``text`` is the cleaned text they came from."""

    words: tuple[str, ...]
    display: tuple[str, ...]
    truncated: bool
    text: str


def tokenize(text: str, max_tokens: int | None = None) -> Tokens:
    """One text's tokens, after cleaning, as strings: for evidence and for reading, not for the
    hot path."""
    cleaned, truncated = clean(text)
    batch = tokenize_batch([cleaned], max_tokens or len(cleaned) + 1, np.ones(1, np.bool_))
    size = int(batch.offsets[1])
    display = tuple(batch.display(0, 0, size).split(" ")) if size else ()
    words = tuple(batch.normalized[0].split(" ")) if display else ()
    joined = batch.chars.tobytes().decode("utf-32-le", "surrogatepass")
    return Tokens(words, display, truncated, joined)


def hash64(words: Sequence[str]) -> np.ndarray:
    """The 64-bit hashes of words as the tokenizer hashes them (case-folded)."""
    lengths = np.fromiter(map(len, words), dtype=np.int64, count=len(words))
    bounds = np.zeros(len(words) + 1, dtype=np.int64)
    np.cumsum(lengths, out=bounds[1:])
    cps = np.frombuffer("".join(words).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    _, fold, multi = tables()
    return _hash_spans(cps, bounds, fold, multi)


def hash_words(words: Sequence[str]) -> np.ndarray:
    """The 31-bit word hashes of words, as tokens carry them without the content bit."""
    return (hash64(words) & np.uint64(HASH_BITS)).astype(np.uint32)


@lru_cache(maxsize=1)
def _stop_table() -> np.ndarray:
    """The stop words' 64-bit hashes in an open-addressing table (``_is_stop``): a word is
    looked up in one or two probes, where a search of the sorted hashes took nine unpredictable
    steps for each of the many stop words of a text. No stop word hashes to 0."""
    return hash_table(distinct(hash64(sorted(STOP_WORDS))), _STOP_SLOTS, np.uint64(0))


# Slots of the stop words' table: a power of two, a sixth of them taken, 16 kB.
_STOP_SLOTS = 2048


def hash_table(values: np.ndarray, slots: int, empty: np.generic) -> np.ndarray:
    """Distinct hashes in an open-addressing table of ``slots`` (a power of two) holding
    ``empty`` where none is: a hash is in its low bits' slot or, taken, in the next free one."""
    if empty in values or 2 * len(values) > slots:
        raise ValueError(f"{len(values)} hashes, {empty} among them, in {slots} slots")
    table = np.full(slots, empty, dtype=values.dtype)
    for value in values.tolist():
        slot = value & (slots - 1)
        while table[slot] != empty:
            slot = (slot + 1) & (slots - 1)
        table[slot] = value
    return table


def is_content(word: str) -> bool:
    """Words that carry the story rather than the grammar: no stop words, no single letters."""
    return len(word) > 1 and word not in STOP_WORDS


# --- compiled loops --------------------------------------------------------------------------


@jit
def _lower_is(cps, at, stop, word, first, end):
    """Whether ``cps[at:stop]`` begins with ``word[first:end]`` (lower-case ASCII), in any case."""
    if stop - at < end - first:
        return False
    for k in range(end - first):
        point = cps[at + k]
        if 65 <= point <= 90:
            point += 32
        if point != word[first + k]:
            return False
    return True


@jit
def _next_line(cps, stop, end):
    """Where the line after the one ending at ``stop`` begins: past its break, "\\r\\n" one
    break, as ``str.splitlines`` has it."""
    if stop + 1 < end and cps[stop] == 13 and cps[stop + 1] == 10:
        return stop + 2
    return stop + 1


@jit
def _line_end(cps, line, end):
    """Where the line beginning at ``line`` ends (``str.splitlines``'s ASCII breaks, all below
    31: most code points are told from them without the table)."""
    stop = line
    while stop < end and (cps[stop] > 30 or not _ASCII_BREAK[cps[stop]]):
        stop += 1
    return stop


@jit
def _boilerplate_lines(cps, bounds, ascii, words, word_bounds, found):
    """The lines of the ASCII texts that could be boilerplate: shorter than
    ``_BOILERPLATE_CHARS`` and beginning, after spaces, as one of ``words`` (cut by
    ``word_bounds``: ``_BOILERPLATE_STARTS``). Their bounds to ``found``, in order; how many."""
    n = 0
    for t in range(len(bounds) - 1):
        if not ascii[t]:
            continue
        line, end = bounds[t], bounds[t + 1]
        while line < end:
            stop = _line_end(cps, line, end)
            if stop - line < _BOILERPLATE_CHARS:
                at = line
                while at < stop and _ASCII_SPACE[cps[at]]:
                    at += 1
                for w in range(len(word_bounds) - 1):
                    if _lower_is(cps, at, stop, words, word_bounds[w], word_bounds[w + 1]):
                        found[n, 0], found[n, 1] = line, stop
                        n += 1
                        break
            line = _next_line(cps, stop, end)
    return n


@jit
def _agency_dash(cps, bracket, end):
    """Whether the bracket at ``bracket`` closes after 2 to 9 characters and is followed, after
    spaces, by a dash (ASCII: "-")."""
    close = bracket + 1
    while close < min(bracket + 11, end) and cps[close] != 41:
        close += 1
    if not (bracket + 3 <= close < end and cps[close] == 41):
        return False
    close += 1
    while close < end and _ASCII_SPACE[cps[close]]:
        close += 1
    return close < end and cps[close] == 45


@jit
def _without_boilerplate(cps, bounds, ascii, lines, boilerplate, out, starts, stops, edges):
    """Every text to ``out``, cut by ``starts`` and ``stops``: an ASCII one without its
    boilerplate ``lines`` (``clean``'s rule: the others joined by "\\n"), stripped, with
    ``edges`` set where ``_edges`` could cut it (a dateline or "read more" at the start, "read
    more" or a mark at the end); one that is not, as it is (cleaned already)."""
    w = 0
    c = 0
    for t in range(len(bounds) - 1):
        first, end = bounds[t], bounds[t + 1]
        last = c
        dropped = False
        while last < len(lines) and lines[last, 0] < end:
            dropped |= boilerplate[last]
            last += 1
        starts[t] = w
        edges[t] = False
        if not ascii[t] or not dropped:
            out[w : w + end - first] = cps[first:end]
            w += end - first
        else:
            line = first
            kept = 0
            while line < end:
                stop = _line_end(cps, line, end)
                if c < last and lines[c, 0] == line:
                    c += 1
                    if boilerplate[c - 1]:
                        line = _next_line(cps, stop, end)
                        continue
                if kept:
                    out[w] = 10
                    w += 1
                out[w : w + stop - line] = cps[line:stop]
                w += stop - line
                kept += 1
                line = _next_line(cps, stop, end)
        c = last
        stops[t] = w
        if not ascii[t]:
            continue
        first, end = starts[t], w
        while first < end and _ASCII_SPACE[out[first]]:
            first += 1
        while end > first and _ASCII_SPACE[out[end - 1]]:
            end -= 1
        starts[t], stops[t] = first, end
        size = len(_READ_MORE)
        edges[t] = _lower_is(out, first, end, _READ_MORE, 0, size)
        # A dateline (``_LEAD_IN``): its bracket in the first 41 characters, before any other
        # bracket or line break, closed after 2 to 9 more (an agency), then a dash.
        for i in range(first, min(first + 41, end)):
            if out[i] == 40 or out[i] == 41 or out[i] == 10:
                if out[i] == 40:
                    edges[t] |= _agency_dash(out, i, end)
                break
        if end - first >= size and (
            _lower_is(out, end - size, end, _READ_MORE, 0, size)
            or (out[end - 1] == 58 and _lower_is(out, end - size - 1, end - 1, _READ_MORE, 0, size))
        ):
            edges[t] = True
        dots = end - first >= 3 and out[end - 1] == 46 and out[end - 2] == 46 and out[end - 3] == 46
        if end > first and (out[end - 1] == 93 or dots):
            edges[t] = True


@jit
def _mix(x):
    # splitmix64's finalizer: an avalanching bijection, so near-equal inputs hash far apart.
    x ^= x >> np.uint64(30)
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


@jit
def _fold_hash(cps, start, stop, fold, multi):
    """(hash, folded length) of the code points ``start:stop``, case-folded."""
    h = _FNV_OFFSET
    length = 0
    for t in range(start, stop):
        point = fold[cps[t]]
        if point >= 0:
            h = (h ^ np.uint64(point)) * _FNV_PRIME
            length += 1
        else:
            row = multi[-point - 1]
            for m in range(3):
                if row[m] == 0:
                    break
                h = (h ^ np.uint64(row[m])) * _FNV_PRIME
                length += 1
    return _mix(h ^ np.uint64(length)), length


@jit
def _hash_spans(cps, bounds, fold, multi):
    out = np.empty(len(bounds) - 1, dtype=np.uint64)
    for w in range(len(bounds) - 1):
        out[w] = _fold_hash(cps, bounds[w], bounds[w + 1], fold, multi)[0]
    return out


@jit
def _is_separator(point):
    for separator in _SEPARATORS:
        if point == separator:
            return True
    return False


@jit
def _join_numbers(cps, starts, stops, flags, out, segments):
    """The texts with one form per number: thousands separators dropped where a group of one to
    three digits is followed by groups of three behind one separator (``10,000``, ``10 000``,
    ``10'000``), then a decimal comma made a point (``7,5``). These are the rules of the patterns
    ``(?<![\\d.,])\\d{1,3}(?:([,' ])\\d{3})(?:\\1\\d{3})*(?![\\d]|[.,]\\d)`` and
    ``(?<=\\d),(?=\\d{1,2}(?!\\d))``, applied in that order, to the texts
    ``cps[starts[s]:stops[s]]``. Written to ``out``, cut by ``segments``; how much of ``out`` was
    written."""
    w = 0
    for s in range(len(starts)):
        first, end = starts[s], stops[s]
        segments[s] = w
        i = first
        while i < end:
            point = cps[i]
            if not flags[point] & DIGIT:
                # A decimal comma: after a digit, before one or two. The second rule, applied
                # here, in the same pass: the digits after a comma are never joined.
                if point == 44 and i > first and flags[cps[i - 1]] & DIGIT:
                    r = i + 1
                    while r < end and r - i <= 3 and flags[cps[r]] & DIGIT:
                        r += 1
                    if 2 <= r - i <= 3:
                        point = 46
                out[w] = point
                w += 1
                i += 1
                continue
            j = i
            while j < end and flags[cps[j]] & DIGIT:
                j += 1
            joined_end = -1
            before = cps[i - 1] if i > first else 0
            free = i == first or not (flags[before] & DIGIT or before == 46 or before == 44)
            if free and j - i <= 3 and j < end and _is_separator(cps[j]):
                separator = cps[j]
                groups = 0
                p = j
                while (
                    p + 3 < end
                    and cps[p] == separator
                    and flags[cps[p + 1]] & DIGIT
                    and flags[cps[p + 2]] & DIGIT
                    and flags[cps[p + 3]] & DIGIT
                ):
                    groups += 1
                    p += 4
                for k in range(groups, 0, -1):
                    q = j + 4 * k
                    if q < end and flags[cps[q]] & DIGIT:
                        continue
                    if q + 1 < end and (cps[q] == 46 or cps[q] == 44) and flags[cps[q + 1]] & DIGIT:
                        continue
                    joined_end = q
                    break
            if joined_end >= 0:
                for t in range(i, joined_end):
                    if flags[cps[t]] & DIGIT:
                        out[w] = cps[t]
                        w += 1
                i = joined_end
            else:
                for t in range(i, j):
                    out[w] = cps[t]
                    w += 1
                i = j
    segments[len(starts)] = w
    return w


@jit
def _is_stop(table, h):
    """Whether the word of 64-bit hash ``h`` is a stop word (``_stop_table``)."""
    mask = np.uint64(len(table) - 1)
    slot = h & mask
    while table[slot] != 0:
        if table[slot] == h:
            return True
        slot = (slot + np.uint64(1)) & mask
    return False


@jit
def _pieces(
    chars, i, j, flags, fold, multi, stop_table, max_tokens, want_text, codes, kinds, starts,
    ends, n, tokens, key1, key2, text, text_start, written,
):  # fmt: skip
    """The tokens of ``chars[i:j]``, a token with a run of an unspaced script: the run's
    character bigrams (a lone character itself), the rest whole; as ``_tokenize`` writes them,
    and its counts and keys after them."""
    k = i
    while k < j and tokens < max_tokens:
        r = k + 1
        unspaced = flags[chars[k]] & UNSPACED
        while r < j and (flags[chars[r]] & UNSPACED) == unspaced:
            r += 1
        if unspaced and r - k > 1:
            pieces = r - k - 1
            width = 2
        else:
            pieces = 1
            width = r - k
        for p in range(k, k + pieces):
            if tokens == max_tokens:
                break
            h, length = _fold_hash(chars, p, p + width, fold, multi)
            code = h & np.uint64(HASH_BITS)
            if length > 1 and not _is_stop(stop_table, h):
                code |= np.uint64(CONTENT_BIT)
            kind = NUMBER if length > 1 and flags[chars[p]] & DIGIT else 0
            for t in range(p, p + width):
                if flags[chars[t]] & LETTER:
                    kind |= ALPHA
                    break
            codes[n] = code
            kinds[n] = kind
            starts[n] = p
            ends[n] = p + width
            n += 1
            tokens += 1
            key1 = (key1 ^ h) * _FNV_PRIME
            key2 = (key2 + h) * _KEY_PRIME
            if want_text:
                written = _fold_into(chars, p, p + width, fold, multi, text, written, text_start)
        k = r
    return n, tokens, key1, key2, written


@jit
def _fold_into(chars, first, stop, fold, multi, text, written, text_start):
    """The case-folded code points of ``chars[first:stop]`` written to ``text`` at
    ``written``, after a space unless they begin the text at ``text_start``; where they end."""
    if written > text_start:
        text[written] = 32
        written += 1
    return _fold_span(chars, first, stop, fold, multi, text, written)


@jit
def _fold_span(chars, first, stop, fold, multi, out, n):
    """The case-folded code points of ``chars[first:stop]`` written to ``out`` at ``n``; where
    they end."""
    for t in range(first, stop):
        point = fold[chars[t]]
        if point >= 0:
            out[n] = point
            n += 1
        else:
            row = multi[-point - 1]
            for m in range(3):
                if row[m] == 0:
                    break
                out[n] = row[m]
                n += 1
    return n


@jit
def _goes_on(chars, j, end, flags):
    """Whether a number goes on at ``j``: a point or a comma there, a digit after it."""
    return j + 1 < end and (chars[j] == 46 or chars[j] == 44) and flags[chars[j + 1]] & DIGIT != 0


@jit
def _tokenize(
    chars, segments, flags, fold, multi, stop_table, max_tokens, want_text, codes,
    kinds, starts, ends, offsets, keys, text, text_offsets,
):  # fmt: skip
    """The tokens of every text, written to the arrays given; how many."""
    count = len(segments) - 1
    n = 0
    written = 0
    for s in range(count):
        end = segments[s + 1]
        key1 = _FNV_OFFSET
        key2 = np.uint64(0)
        tokens = 0
        i = segments[s]
        while i < end and tokens < max_tokens:
            if not flags[chars[i]] & WORD:
                i += 1
                continue
            # One pass finds the token's end, folds and hashes it: the common case, a token in
            # no unspaced script, is then done, here.
            seen = flags[chars[i]]
            h = _FNV_OFFSET
            length = 0
            j = i
            number = seen & DIGIT
            while j < end:
                here = flags[chars[j]]
                if not here & WORD or (number and not here & DIGIT):
                    break
                seen |= here
                # ``_fold_hash``'s step, written out (called per code point, it cost the
                # tokenizer half again its time), ASCII first: most text is. The ASCII branch
                # ends in its own ``continue``, a tenth faster than branches that meet again.
                c = chars[j]
                if c < 128:
                    h = (h ^ np.uint64(_ASCII_FOLD[c])) * _FNV_PRIME
                    length += 1
                    j += 1
                    if number and _goes_on(chars, j, end, flags):
                        h = (h ^ np.uint64(chars[j])) * _FNV_PRIME
                        length += 1
                        j += 1
                    continue
                point = fold[c]
                if point >= 0:
                    h = (h ^ np.uint64(point)) * _FNV_PRIME
                    length += 1
                else:
                    row = multi[-point - 1]
                    for m in range(3):
                        if row[m] == 0:
                            break
                        h = (h ^ np.uint64(row[m])) * _FNV_PRIME
                        length += 1
                j += 1
                if number and _goes_on(chars, j, end, flags):
                    h = (h ^ np.uint64(chars[j])) * _FNV_PRIME
                    length += 1
                    j += 1
            h = _mix(h ^ np.uint64(length))
            if seen & UNSPACED:
                n, tokens, key1, key2, written = _pieces(
                    chars, i, j, flags, fold, multi, stop_table, max_tokens, want_text[s],
                    codes, kinds, starts, ends, n, tokens, key1, key2, text, text_offsets[s],
                    written,
                )  # fmt: skip
                i = j
                continue
            code = h & np.uint64(HASH_BITS)
            if length > 1:
                # ``_is_stop`` written out: a call per token cost the tokenizer a twentieth.
                slot = h & np.uint64(len(stop_table) - 1)
                while stop_table[slot] != 0 and stop_table[slot] != h:
                    slot = (slot + np.uint64(1)) & np.uint64(len(stop_table) - 1)
                if stop_table[slot] == 0:
                    code |= np.uint64(CONTENT_BIT)
            codes[n] = code
            kinds[n] = (NUMBER if length > 1 and number else 0) | (ALPHA if seen & LETTER else 0)
            starts[n] = i
            ends[n] = j
            n += 1
            tokens += 1
            key1 = (key1 ^ h) * _FNV_PRIME
            key2 = (key2 + h) * _KEY_PRIME
            if want_text[s]:
                written = _fold_into(chars, i, j, fold, multi, text, written, text_offsets[s])
            i = j
        offsets[s + 1] = n
        keys[s, 0] = _mix(key1 ^ np.uint64(tokens))
        keys[s, 1] = key2
        text_offsets[s + 1] = written
    return n


@jit
def _joined(chars, starts, ends, first, stop, out):
    """The code points of the tokens ``first[k]:stop[k]`` of each run, a space between each two
    tokens and a newline after each run, written to ``out``; how many."""
    n = 0
    for k in range(len(first)):
        for t in range(first[k], stop[k]):
            if t > first[k]:
                out[n] = 32
                n += 1
            for c in range(starts[t], ends[t]):
                out[n] = chars[c]
                n += 1
        out[n] = 10
        n += 1
    return n


@jit
def _folded(chars, starts, ends, tokens, fold, multi, out):
    """The case-folded code points of these tokens, each ended by a newline; how many."""
    n = 0
    for token in tokens:
        n = _fold_span(chars, starts[token], ends[token], fold, multi, out, n)
        out[n] = 10
        n += 1
    return n


@jit
def _names(
    chars, segments, codes, starts, ends, offsets, max_tokens, flags, fold, multi, wanted, found,
    names,
):  # fmt: skip
    """Names in running text: a capitalised word after a lower-case word, a digit or a comma
    (the pattern ``(?<=[\\p{Ll}\\p{Nd},;:]\\s+)\\p{Lu}[\\p{L}\\p{M}'-]*\\p{L}``), so that
    sentence-initial words ("Nevertheless") are not taken for names; their 31-bit hashes to
    ``found``, cut by ``names``; how many. A name begins a token (a capital after a space), so
    only the tokens' starts are read, a sixth of the code points, and a name that is one token
    has its hash already; a text whose tokens stopped at ``max_tokens`` is read whole."""
    n = 0
    for s in range(len(segments) - 1):
        if not wanted[s]:
            names[s + 1] = n
            continue
        first, end = segments[s], segments[s + 1]
        whole = offsets[s + 1] - offsets[s] >= max_tokens
        t = offsets[s]
        i = first
        while True:
            # The next place a name could begin: the next code point, or the next token.
            if whole:
                i += 1
                if i >= end:
                    break
            elif t < offsets[s + 1]:
                i = starts[t]
                t += 1
            else:
                break
            if i == first or not (flags[chars[i]] & UPPER and flags[chars[i - 1]] & SPACE):
                continue
            k = i - 1
            while k >= first and flags[chars[k]] & SPACE:
                k -= 1
            before = chars[k] if k >= first else 0
            if not (
                k >= first
                and (
                    flags[before] & (LOWER | DIGIT) or before == 44 or before == 59 or before == 58
                )
            ):
                continue
            j = i + 1
            last = -1
            while j < end and (
                flags[chars[j]] & (LETTER | MARK) or chars[j] == 39 or chars[j] == 45
            ):
                if flags[chars[j]] & LETTER:
                    last = j
                j += 1
            if last > i:
                if not whole and ends[t - 1] == last + 1:
                    found[n] = codes[t - 1] & np.uint32(HASH_BITS)
                else:
                    h = _fold_hash(chars, i, last + 1, fold, multi)[0]
                    found[n] = np.uint32(h & np.uint64(HASH_BITS))
                n += 1
                i = last
        names[s + 1] = n
    return n
