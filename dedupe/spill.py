"""The spill: a scan's stories on disk, so that its memory does not grow with their texts.

A scan keeps fingerprints in memory and its stories in files of one temporary folder. JSON Lines
are copied there, as bytes, by the process that reads them (``ingest.ByteBlock``), and a story is
its line, parsed again when it is wanted; stories read from other formats are pickled there, the
main process writing those it read itself and each worker those it made into a file of its own,
so that no two processes write one file. A story is found again by its place, a row of four
numbers: its file, where it starts and stops there, and its line number in its input (0 for a
pickle). Only the stories a report shows are read back. Pickles are not compressed: compressing
took a third of the loop that reads the input, and the files are on disk.
"""

from __future__ import annotations

import itertools
import os
import pickle
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from io import BufferedWriter
from typing import NamedTuple, TypeVar

import numpy as np

from dedupe.ingest import copied_story, copied_text
from dedupe.story import Story

T = TypeVar("T")

# The file this process writes in each spill folder, opened at its first write. Keyed by process
# too: a worker forked while the main process had its file open must not write into it.
_OWN_FILES: dict[tuple[str, int], BufferedWriter] = {}


class SpillFile(NamedTuple):
    """A file of the spill: pickled stories, or the copy of a JSON Lines input (its name for
    messages, and the encoding of its lines)."""

    path: str
    source: str | None = None
    encoding: str | None = None


class Spill:
    """A scan's spill folder, and the place of every story written to it, row by row in the
    order the scan recorded them (``record``)."""

    def __init__(self) -> None:
        self.directory = tempfile.mkdtemp(prefix="dedupe-", suffix=".spill")
        self.files: list[SpillFile] = []
        self._numbers: dict[str, int] = {}
        self._places: list[np.ndarray] = []
        self._table: np.ndarray | None = None

    def record(self, file: SpillFile, places: np.ndarray) -> int:
        """Note where a batch's stories are in ``file`` (``places``: rows of start, stop and,
        for a copied input, line number); the row of its first story: the others follow it."""
        number = self._numbers.setdefault(file.path, len(self.files))
        if number == len(self.files):
            self.files.append(file)
        first = self.rows
        lines = places[:, 2] if places.shape[1] > 2 else np.zeros(len(places), np.int64)
        self._places.append(np.column_stack([np.full(len(places), number), places[:, :2], lines]))
        self._table = None
        return first

    @property
    def rows(self) -> int:
        return sum(len(p) for p in self._places)

    def places(self, rows: np.ndarray) -> np.ndarray:
        """The places (file, start, stop, line) of the stories of these rows."""
        if self._table is None:
            self._table = np.concatenate([np.empty((0, 4), np.int64), *self._places])
            self._places = [self._table]
        return self._table[rows].reshape(-1, 4)

    def stories(self, rows: np.ndarray) -> list[Story]:
        """The stories of these rows, in their order."""
        return read_spilled(self.files, self.places(rows))

    def close(self) -> None:
        own = _OWN_FILES.pop((self.directory, os.getpid()), None)
        if own is not None:
            own.close()
        shutil.rmtree(self.directory, ignore_errors=True)


def write_spilled(directory: str, stories: Sequence[Story]) -> tuple[SpillFile, np.ndarray]:
    """Pickle stories into this process's own file of a spill folder; the file and the place
    (start, stop) of each story in it."""
    key = (directory, os.getpid())
    spilled = _OWN_FILES.get(key)
    if spilled is None:
        spilled = _OWN_FILES[key] = open(os.path.join(directory, f"{key[1]}.spill"), "ab")
    parts = [pickle.dumps(story, protocol=pickle.HIGHEST_PROTOCOL) for story in stories]
    offsets = np.zeros(len(parts) + 1, dtype=np.int64)
    np.cumsum([len(part) for part in parts], out=offsets[1:])
    offsets += spilled.tell()
    spilled.write(b"".join(parts))
    spilled.flush()
    return SpillFile(spilled.name), np.column_stack([offsets[:-1], offsets[1:]])


def read_spilled(files: Sequence[SpillFile], places: np.ndarray) -> list[Story]:
    """The stories at these places (file, start, stop, line), in their order."""
    return _read_back(files, places, _itself, copied_story)


def read_spilled_texts(files: Sequence[SpillFile], places: np.ndarray) -> list[str]:
    """The texts the stories at these places are matched on (their bodies, else their titles),
    in their order: all that explaining their pairs reads (``copied_text``)."""
    return _read_back(files, places, _matched_text, copied_text)


def _read_back(
    files: Sequence[SpillFile],
    places: np.ndarray,
    pickled: Callable[[Story], T],
    copied: Callable[[str, bytes, int, str], T],
) -> list[T]:
    """What ``pickled`` (of a pickled story) or ``copied`` (of a copied line) makes of each
    story at these places, in their order: read file by file, in the order they lie there, a
    span of neighbouring stories at a time. Not a memory map of the whole file: each worker
    reading its share of a million stories' passages would hold the pages of most of the file
    as its own resident memory."""
    made: list[T | None] = [None] * len(places)
    order = np.lexsort((places[:, 1], places[:, 0]))
    rows = zip(order.tolist(), places[order].tolist(), strict=True)
    for number, held in itertools.groupby(rows, key=lambda row: row[1][0]):
        file = files[number]
        encoding = file.encoding or "utf-8"
        with open(file.path, "rb", buffering=0) as spilled:
            for span in _spans(held):
                first, last = span[0][1][1], max(place[2] for _, place in span)
                data = memoryview(os.pread(spilled.fileno(), last - first, first))
                if len(data) < last - first:
                    raise OSError(f"the scan's temporary file {file.path} was cut short")
                for n, (_, start, stop, line) in span:
                    text = data[start - first : stop - first]
                    if file.source is None:
                        # The scan's own temporary files, written by it: nothing foreign to load.
                        made[n] = pickled(pickle.loads(text))
                    else:
                        made[n] = copied(file.source, bytes(text), line, encoding)
    return made  # type: ignore[return-value]


def _itself(story: Story) -> Story:
    return story


def _matched_text(story: Story) -> str:
    return story.body or story.title


def _spans(held: Iterable[tuple[int, list[int]]]) -> Iterator[list[tuple[int, list[int]]]]:
    """Stories in the order they lie in a file, cut into spans read at once: a span ends where
    the next story lies far from it, or when it has grown large."""
    span: list[tuple[int, list[int]]] = []
    for row in held:
        start = row[1][1]
        if span and (start - span[-1][1][2] > _GAP or start - span[0][1][1] > _SPAN):
            yield span
            span = []
        span.append(row)
    if span:
        yield span


# Bytes between two stories that one read still spans, and the most one read takes.
_GAP = 1 << 16
_SPAN = 1 << 23
