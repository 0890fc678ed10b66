"""Rows: many variable-length arrays kept as one flat array and the offsets that cut it.

The fingerprints of a corpus are millions of small sets (the shingles of each story, its content
words, its names). As numpy arrays of their own each would cost a hundred bytes of header and a
Python object; as rows of one flat array they cost their values, and a compiled loop reads them
all without touching Python.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np

from dedupe.compiled import jit, worth


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
        worth(len(self.values))
        starts, stops = self.offsets[rows], self.offsets[rows + 1]
        offsets = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(stops - starts, out=offsets[1:])
        # Allocated here, not in the compiled loop: numpy's large arrays use huge pages.
        values = np.empty(offsets[-1], dtype=self.values.dtype)
        _take(self.values, starts, stops, values, offsets)
        return Rows(values, offsets)

    def where(self, keep: np.ndarray) -> Rows:
        """Each row without the values where ``keep`` (one flag per value) is False."""
        kept = np.zeros(len(keep) + 1, dtype=np.int64)
        np.cumsum(keep, out=kept[1:])
        return Rows(self.values[keep], kept[self.offsets])


def gather(parts: list[Rows], order: np.ndarray, release: bool = False) -> Rows:
    """The rows of every part, one part after the other, then taken in ``order`` (which may
    leave rows out): each value copied once, straight to its place. ``parts`` is emptied as it
    goes, each part let go once copied, and with ``release`` the memory of every
    ``_RELEASE_EVERY`` parts given back (``release_freed``), so that gathering a million
    stories' sets holds them once, not twice."""
    lengths = np.concatenate([p.lengths for p in parts])
    offsets = np.zeros(len(order) + 1, dtype=np.int64)
    np.cumsum(lengths[order], out=offsets[1:])
    start = np.full(len(lengths), -1, dtype=np.int64)
    start[order] = offsets[:-1]
    values = np.empty(offsets[-1], dtype=parts[0].values.dtype if parts else np.uint32)
    worth(len(values))
    first = 0
    parts.reverse()
    while parts:
        part = parts.pop()
        _scatter(part.values, part.offsets, start[first : first + len(part)], values)
        first += len(part)
        del part
        if release and len(parts) % _RELEASE_EVERY == 0:
            release_freed()
    return Rows(values, offsets)


# Parts (batches of a scan) gathered between two ``release_freed``: a million stories' shingles
# are a thousand parts of 0.9 MB.
_RELEASE_EVERY = 100


def scatter_order(parts: list[np.ndarray], order: np.ndarray) -> np.ndarray:
    """The arrays joined, then taken in ``order`` (along their first axis; it may leave rows
    out), each copied once; ``parts`` is emptied as it goes."""
    place = np.full(sum(len(part) for part in parts), -1, dtype=np.int64)
    place[order] = np.arange(len(order))
    out = np.empty((len(order), *parts[0].shape[1:]), dtype=parts[0].dtype)
    first = 0
    parts.reverse()
    while parts:
        part = parts.pop()
        taken = place[first : first + len(part)]
        kept = taken >= 0
        out[taken[kept]] = part[kept]
        first += len(part)
    return out


def release_freed() -> None:
    """Give the memory of freed arrays back to the system. glibc keeps what a batch's arrays
    freed for its own reuse, and a million stories' gathered fingerprints (fresh, large
    allocations) never reuse it: without this, gathering holds them twice."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@cache
def _malloc_trim() -> ctypes._CFuncPtr | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc (musl has no malloc_trim)
        return None


def distinct(values: np.ndarray) -> np.ndarray:
    """The distinct values, sorted: by sorting, since ``np.unique`` hashes plain arrays, ten
    times slower on millions of values (and imports ``numpy.ma``, a tenth of a draft's check)."""
    values = np.sort(values)
    return values[np.concatenate([[True], values[1:] != values[:-1]])[: len(values)]]


def unique_rows(rows: Rows) -> Rows:
    """Each row of uint32 values sorted, without repeats: a set per row. All rows are sorted at
    once, as (row, value) keys: numpy's vectorized sort beats numba's sort row by row."""
    worth(len(rows.values))
    keys = np.repeat(np.arange(len(rows), dtype=np.uint64) << np.uint64(32), rows.lengths)
    keys |= rows.values
    keys.sort()
    return sets_of(keys, len(rows))


def sort_rows(keys: np.ndarray, offsets: np.ndarray) -> None:
    """Sort keys whose rows (their high bits) already come in order, cut by ``offsets``, in
    place: a few dozen rows at a time, which stay in the cache, took a fifth less time than one
    sort of them all."""
    bounds = offsets[::_ROWS_PER_SORT].tolist() + [int(offsets[-1])]
    for first, stop in zip(bounds[:-1], bounds[1:], strict=True):
        keys[first:stop].sort()


_ROWS_PER_SORT = 32


def sets_of(keys: np.ndarray, count: int) -> Rows:
    """``count`` rows of sets from sorted keys ``row << 32 | value``: each row's distinct
    values, in order."""
    values = np.empty(len(keys), dtype=np.uint32)
    sizes = np.zeros(count, dtype=np.int64)
    n = _distinct_keys(keys, values, sizes)
    offsets = np.zeros(count + 1, dtype=np.int64)
    np.cumsum(sizes, out=offsets[1:])
    return Rows(values[:n], offsets)


@jit
def _scatter(values, offsets, start, out):
    for r in range(len(offsets) - 1):
        if start[r] >= 0:
            stop = start[r] + offsets[r + 1] - offsets[r]
            out[start[r] : stop] = values[offsets[r] : offsets[r + 1]]


@jit
def _take(values, starts, stops, out, offsets):
    for r in range(len(starts)):
        out[offsets[r] : offsets[r + 1]] = values[starts[r] : stops[r]]


@jit
def _distinct_keys(keys, values, sizes):
    n = 0
    for i in range(len(keys)):
        if i == 0 or keys[i] != keys[i - 1]:
            values[n] = np.uint32(keys[i] & np.uint64(0xFFFFFFFF))
            sizes[keys[i] >> np.uint64(32)] += 1
            n += 1
    return n
