"""The character tables the tokenizer reads: what each code point is, and how it folds.

Tokens, names and numbers are found by compiled loops over code points (``normalize``), which
cannot call a regular expression engine or ``str.casefold``. They look each code point up here
instead: its properties as one byte of flags, and its case folding. The tables are derived from
the ``regex`` module's Unicode properties (the ones the tokenizer's patterns used) and Python's
``str.casefold``, written once by ``python -m dedupe.charset`` and shipped with the package, so
that every process and every Python version folds and splits words alike: an index shared by
crawlers on different machines depends on it.
"""

from __future__ import annotations

import sys
from functools import lru_cache
from importlib.resources import files
from typing import NamedTuple

import numpy as np

# One byte of flags per code point.
WORD = 1  # \p{L}, \p{M} or \p{Nd}: a character of a token
DIGIT = 2  # \p{Nd}
LETTER = 4  # \p{L}
UPPER = 8  # \p{Lu}
LOWER = 16  # \p{Ll}
UNSPACED = 32  # a script written without spaces between words: tokens are character bigrams
SPACE = 64  # \s
MARK = 128  # \p{M}

CODE_POINTS = sys.maxunicode + 1
# Scripts whose words are not separated by spaces (as the tokenizer's pattern named them).
_UNSPACED_SCRIPTS = r"\p{Han}\p{Hiragana}\p{Katakana}\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}\p{Tibetan}"
_FILE = "charset.npz"


class Tables(NamedTuple):
    """``flags[cp]``; ``fold[cp]`` is the folded code point, or ``-(1 + k)`` when it folds to
    several, listed in row ``k`` of ``multi`` (zero-padded)."""

    flags: np.ndarray
    fold: np.ndarray
    multi: np.ndarray


@lru_cache(maxsize=1)
def tables() -> Tables:
    """The tables, from the runs of equal values they are stored as (a few thousand each): a
    draft's check inflated 5.5 MB of tables in 18 ms before, 4 ms now."""
    with files("dedupe").joinpath(_FILE).open("rb") as stored, np.load(stored) as data:
        flags = _expanded(data["flag_starts"], data["flags"])
        fold = np.arange(CODE_POINTS, dtype=np.int32) + _expanded(
            data["delta_starts"], data["fold_delta"]
        )
        fold[data["multi_points"]] = -1 - np.arange(len(data["multi_points"]), dtype=np.int32)
        return Tables(flags, fold, data["multi"])


def _expanded(starts: np.ndarray, values: np.ndarray) -> np.ndarray:
    """A table of every code point from its runs: ``values[k]`` from ``starts[k]`` on."""
    return np.repeat(values, np.diff(starts, append=CODE_POINTS))


def _runs(table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where each run of equal values of a table starts, and its value."""
    starts = np.concatenate([[0], np.flatnonzero(table[1:] != table[:-1]) + 1])
    return starts.astype(np.int32), table[starts]


def build() -> dict[str, np.ndarray]:
    """The tables from this Python's ``regex`` and ``str.casefold`` (a few seconds)."""
    import regex

    classes = {
        WORD: r"[\p{L}\p{M}\p{Nd}]",
        DIGIT: r"\p{Nd}",
        LETTER: r"\p{L}",
        UPPER: r"\p{Lu}",
        LOWER: r"\p{Ll}",
        UNSPACED: f"[{_UNSPACED_SCRIPTS}]",
        SPACE: r"\s",
        MARK: r"\p{M}",
    }
    everything = "".join(map(chr, range(CODE_POINTS))).encode("utf-32-le", "surrogatepass")
    text = everything.decode("utf-32-le", "surrogatepass")
    flags = np.zeros(CODE_POINTS, dtype=np.uint8)
    for flag, pattern in classes.items():
        found = [m.start() for m in regex.finditer(pattern, text)]
        flags[found] |= flag
    fold_delta = np.zeros(CODE_POINTS, dtype=np.int32)
    multi_points: list[int] = []
    multi: list[list[int]] = []
    for point in range(CODE_POINTS):
        if 0xD800 <= point <= 0xDFFF:
            continue
        folded = chr(point).casefold()
        if len(folded) == 1:
            fold_delta[point] = ord(folded) - point
        else:
            multi_points.append(point)
            multi.append([ord(c) for c in folded] + [0] * (3 - len(folded)))
    return {
        "flags": flags,
        "fold_delta": fold_delta,
        "multi_points": np.array(multi_points, dtype=np.int32),
        "multi": np.array(multi, dtype=np.int32).reshape(-1, 3),
    }


if __name__ == "__main__":
    from pathlib import Path

    target = Path(__file__).with_name(_FILE)
    built = build()
    flag_starts, flags = _runs(built["flags"])
    delta_starts, fold_delta = _runs(built["fold_delta"])
    np.savez_compressed(
        target,
        flag_starts=flag_starts,
        flags=flags,
        delta_starts=delta_starts,
        fold_delta=fold_delta,
        multi_points=built["multi_points"],
        multi=built["multi"],
    )
    print(f"wrote {target} ({target.stat().st_size:,} bytes)")
