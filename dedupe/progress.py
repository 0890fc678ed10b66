"""The progress display of long commands: drawn on a terminal (stderr) only, with rich.

Imported only by the commands that read many stories (``scan``, ``index add``): a
pre-publication check never draws one, and rich's progress module costs its start-up.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

from rich.console import Console
from rich.filesize import decimal
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from dedupe.ingest import input_size
from dedupe.pipeline import Stage

# What the progress display says of each stage of a scan after reading (``Detector.scan``).
STAGE_NAMES: dict[Stage, str] = {
    "candidates": "finding candidate pairs among {:,} stories",
    "verifying": "verifying {:,} candidate pairs",
    "grouping": "grouping {:,} accepted pairs",
    "explaining": "explaining {:,} pairs",
    "topics": "clustering {:,} stories into topics",
    "texts": "reading back the texts of {:,} stories",
}


class Shown:
    """The progress display of a long command, on a terminal (stderr) only. While reading, it
    shows the bytes read against the size of the input when that is known (files and folders,
    not stdin), with an ETA, and the records read per second; after, the stage the work is in.

    Its callbacks are None when nothing is shown: piped runs stay quiet and pay nothing per
    record. On a terminal, a record costs one addition, and the bytes read are told a block at
    a time by the reader.
    """

    def __init__(self, bar: Progress | None = None, label: str = "", size: int | None = None):
        self.records_read = 0
        self._bar = bar
        self._task = bar.add_task(label, total=size, shown=self, reading=True) if bar else None
        self.records: Callable[[int], None] | None = self._count if bar else None
        self.consumed: Callable[[int], None] | None = self._consume if bar else None
        self.stage: Callable[[Stage, int], None] | None = self._stage if bar else None

    def _count(self, records: int) -> None:
        self.records_read += records

    def _consume(self, size: int) -> None:
        self._bar.advance(self._task, size)  # type: ignore[union-attr, arg-type]

    def _stage(self, name: Stage, count: int) -> None:
        self.now(STAGE_NAMES[name].format(count))

    def now(self, what: str) -> None:
        """Name what the command does now that reading is done, with the time it has taken so
        far; drawn at once, so that even a short stage is seen."""
        if self._bar is not None and self._task is not None:
            self._bar.remove_task(self._task)
            self._task = self._bar.add_task(what, total=None, reading=False)
            self._bar.refresh()

    def writing(self, out: Path | None) -> None:
        """Say that the report is being written, or end the display if the report goes to the
        terminal it is drawn on: it would draw over the report."""
        if self._bar is not None and out is None and sys.stdout.isatty():
            self._bar.stop()
        else:
            self.now("writing the report")


class _ReadColumn(ProgressColumn):
    """While reading: the share and bytes of the input read, when its size is known, and the
    records read, per second. Nothing in the later stages."""

    def render(self, task: Task) -> Text:
        if not task.fields["reading"]:
            return Text("")
        read = task.fields["shown"].records_read
        rate = read / task.elapsed if task.elapsed else 0.0
        text = f"{read:,} records  {rate:,.0f} records/s"
        if task.total:
            size = f"{decimal(int(task.completed))} of {decimal(int(task.total))}"
            text = f"{task.percentage:3.0f}%  {size}  {text}"
        return Text(text)


class _ElapsedColumn(ProgressColumn):
    """The time the reading, or the stage, has taken so far: rich's own column stops once all
    the bytes are read, while the last records read are still being worked on."""

    def render(self, task: Task) -> Text:
        return Text(str(timedelta(seconds=int(task.elapsed or 0))), style="progress.elapsed")


class _EtaColumn(TimeRemainingColumn):
    """The time left to read the input, when its size is known."""

    def render(self, task: Task) -> Text:
        left = super().render(task)
        return Text.assemble("ETA ", left) if left.plain else left


@contextmanager
def progress_shown(
    label: str, inputs: Sequence[str], console: Console, *, show: bool = True
) -> Iterator[Shown]:
    """The progress display of a command that reads ``inputs`` (``Shown``), drawn on
    ``console`` if ``show`` and stderr is a terminal. Reading runs at most two batches per
    worker ahead of fingerprinting, so the display follows the work."""
    if not show or not sys.stderr.isatty():
        yield Shown()
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        _ReadColumn(),
        _ElapsedColumn(),
        _EtaColumn(),
    )
    # Stdout is not redirected: the report may be written to it while the display is shown.
    with Progress(*columns, console=console, transient=True, redirect_stdout=False) as bar:
        shown = Shown(bar, label, input_size(inputs))
        bar.refresh()
        yield shown
