"""Rows: many variable-length arrays kept as one flat array and the offsets that cut it.

The fingerprints of a corpus are millions of small sets (the shingles of each story, its content
words, its names). As numpy arrays of their own each would cost a hundred bytes of header and a
Python object; as rows of one flat array they cost their values, and a compiled loop reads them
all without touching Python.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dedupe.compiled import jit


@dataclass(frozen=True, slots=True)
class Rows:
    """Row ``i`` is ``values[offsets[i]:offsets[i + 1]]``; ``offsets`` is int64, of length
    ``len(self) + 1``, starting at 0."""

    values: np.ndarray
    offsets: np.ndarray

    @classmethod
    def empty(cls, count: int, dtype: type = np.uint32) -> Rows:
        return cls(np.empty(0, dtype=dtype), np.zeros(count + 1, dtype=np.int64))

    @classmethod
    def of(cls, arrays: Sequence[np.ndarray], dtype: type = np.uint32) -> Rows:
        """Rows holding these arrays, in order."""
        offsets = np.zeros(len(arrays) + 1, dtype=np.int64)
        np.cumsum([len(a) for a in arrays], out=offsets[1:])
        values = np.concatenate(arrays).astype(dtype) if arrays else np.empty(0, dtype=dtype)
        return cls(values, offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, row: int) -> np.ndarray:
        return self.values[self.offsets[row] : self.offsets[row + 1]]

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def take(self, rows: np.ndarray) -> Rows:
        """These rows, in this order."""
        rows = np.asarray(rows, dtype=np.int64)
        values, offsets = _take(self.values, self.offsets[rows], self.offsets[rows + 1])
        return Rows(values, offsets)

    def where(self, keep: np.ndarray) -> Rows:
        """Each row without the values where ``keep`` (one flag per value) is False."""
        kept = np.zeros(len(keep) + 1, dtype=np.int64)
        np.cumsum(keep, out=kept[1:])
        return Rows(self.values[keep], kept[self.offsets])

    @staticmethod
    def concat(parts: Sequence[Rows]) -> Rows:
        """The rows of every part, one part after the other."""
        if not parts:
            return Rows.empty(0)
        if len(parts) == 1:
            return parts[0]
        starts = np.cumsum([0] + [len(p.values) for p in parts[:-1]])
        offsets = np.concatenate(
            [parts[0].offsets[:1]] + [p.offsets[1:] + s for p, s in zip(parts, starts, strict=True)]
        )
        return Rows(np.concatenate([p.values for p in parts]), offsets)


def unique_rows(rows: Rows) -> Rows:
    """Each row sorted, without repeats: a set per row."""
    values, offsets = _unique(rows.values, rows.offsets)
    return Rows(values, offsets)


@jit
def _take(values, starts, stops):
    offsets = np.zeros(len(starts) + 1, dtype=np.int64)
    for r in range(len(starts)):
        offsets[r + 1] = offsets[r] + stops[r] - starts[r]
    out = np.empty(offsets[-1], dtype=values.dtype)
    for r in range(len(starts)):
        out[offsets[r] : offsets[r + 1]] = values[starts[r] : stops[r]]
    return out, offsets


@jit
def _unique(values, offsets):
    out = np.empty(len(values), dtype=values.dtype)
    new = np.zeros(len(offsets), dtype=np.int64)
    n = 0
    for r in range(len(offsets) - 1):
        row = np.sort(values[offsets[r] : offsets[r + 1]])
        for k in range(len(row)):
            if k == 0 or row[k] != row[k - 1]:
                out[n] = row[k]
                n += 1
        new[r + 1] = n
    return out[:n].copy(), new
