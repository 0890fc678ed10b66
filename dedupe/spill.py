"""The spill: a scan's stories on disk, so that its memory does not grow with their texts.

A scan keeps fingerprints in memory and its stories in files of one temporary folder: the main
process writes the stories it read itself, and each worker process writes the stories it parsed
into a file of its own, so that no two processes write one file. A story is found again by its
place, a row of three numbers: its file, and where it starts and stops there. Only the stories a
report shows are read back. Stories are pickled one by one, not compressed: compressing took a
third of the loop that reads the input, and the files are on disk.
"""

from __future__ import annotations

import os
import pickle
import shutil
import tempfile
from collections.abc import Sequence
from io import BufferedWriter

import numpy as np

from dedupe.story import Story

# The file this process writes in each spill folder, opened at its first write. Keyed by process
# too: a worker forked while the main process had its file open must not write into it.
_OWN_FILES: dict[tuple[str, int], BufferedWriter] = {}


class Spill:
    """A scan's spill folder, and the place of every story written to it, row by row in the
    order the scan recorded them (``record``)."""

    def __init__(self) -> None:
        self.directory = tempfile.mkdtemp(prefix="dedupe-", suffix=".spill")
        self.paths: list[str] = []
        self._files: dict[str, int] = {}
        self._places: list[np.ndarray] = []
        self._table: np.ndarray | None = None

    def record(self, path: str, places: np.ndarray) -> int:
        """Note where a batch's stories are (``places``: start, stop in ``path``); the row of
        its first story: the others follow it."""
        number = self._files.setdefault(path, len(self.paths))
        if number == len(self.paths):
            self.paths.append(path)
        first = self.rows
        self._places.append(np.column_stack([np.full(len(places), number), places]))
        self._table = None
        return first

    @property
    def rows(self) -> int:
        return sum(len(p) for p in self._places)

    def places(self, rows: np.ndarray) -> np.ndarray:
        """The places (file, start, stop) of the stories of these rows."""
        if self._table is None:
            self._table = np.concatenate([np.empty((0, 3), np.int64), *self._places])
            self._places = [self._table]
        return self._table[rows].reshape(-1, 3)

    def stories(self, rows: np.ndarray) -> list[Story]:
        """The stories of these rows, in their order."""
        return read_spilled(self.paths, self.places(rows))

    def close(self) -> None:
        own = _OWN_FILES.pop((self.directory, os.getpid()), None)
        if own is not None:
            own.close()
        shutil.rmtree(self.directory, ignore_errors=True)


def write_spilled(directory: str, stories: Sequence[Story]) -> tuple[str, np.ndarray]:
    """Write stories to this process's own file of a spill folder; the file and the place
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
    return spilled.name, np.column_stack([offsets[:-1], offsets[1:]])


def read_spilled(paths: Sequence[str], places: np.ndarray) -> list[Story]:
    """The stories at these places (file, start, stop), in their order: read file by file in
    file order, stories that follow each other in one read."""
    stories: list[Story | None] = [None] * len(places)
    order = np.lexsort((places[:, 1], places[:, 0]))
    k = 0
    while k < len(order):
        number = int(places[order[k], 0])
        with open(paths[number], "rb") as spilled:
            while k < len(order) and places[order[k], 0] == number:
                end = k
                while (
                    end + 1 < len(order)
                    and places[order[end + 1], 0] == number
                    and places[order[end + 1], 1] == places[order[end], 2]
                ):
                    end += 1
                first = int(places[order[k], 1])
                spilled.seek(first)
                data = spilled.read(int(places[order[end], 2]) - first)
                for n in order[k : end + 1].tolist():
                    start, stop = int(places[n, 1]) - first, int(places[n, 2]) - first
                    # The scan's own temporary files, written by it: nothing foreign to unpickle.
                    stories[n] = pickle.loads(data[start:stop])
                k = end + 1
    return stories  # type: ignore[return-value]
