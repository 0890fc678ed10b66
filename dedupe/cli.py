"""The command line: a thin typer layer over ``Detector``.

Each command parses its arguments, reads stories through ``dedupe.ingest``, calls the detector,
renders through ``dedupe.report`` and sets the exit code: 0 done (for ``check``: new), 1 ``check``
found the story already published, 2 usage or input error. Messages go to stderr.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, TextIO

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

from dedupe.detector import Detector
from dedupe.ingest import FORMATS as INPUT_FORMATS
from dedupe.ingest import InputError, read
from dedupe.report import write_report, write_verdicts
from dedupe.story import Story

app = typer.Typer(
    help="Find copies, syndicated rewrites and teasers in news feeds; group the rest by topic.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
stderr = Console(stderr=True)

EXIT_NEW, EXIT_PUBLISHED, EXIT_USAGE = 0, 1, 2


class OutputFormat(StrEnum):
    table = "table"
    json = "json"
    jsonl = "jsonl"
    csv = "csv"


class OnError(StrEnum):
    skip = "skip"
    fail = "fail"


InputFormat = StrEnum("InputFormat", {name: name for name in INPUT_FORMATS})

FormatOption = Annotated[
    OutputFormat, typer.Option("--format", "-f", help="How to write the result.")
]
OutputOption = Annotated[
    Path | None, typer.Option("--output", "-o", help="Write the result to this file, not stdout.")
]
InputFormatOption = Annotated[
    InputFormat | None,
    typer.Option("--input-format", help="Read every input as this format instead of sniffing it."),
]


def fail(message: str) -> typer.Exit:
    stderr.print(f"dedupe: error: {message}", markup=False, highlight=False)
    return typer.Exit(EXIT_USAGE)


@contextmanager
def reading(
    inputs: Sequence[str], input_format: InputFormat | None, on_error: OnError
) -> Iterator[Iterator[Story]]:
    """The stories of the inputs as a stream; bad input ends the command with exit 2, and
    skipped bad records are counted on stderr at the end."""
    errors: list[InputError] = []
    try:
        yield read(inputs, input_format.value if input_format else None, on_error.value, errors)
    except InputError as error:
        raise fail(str(error)) from None
    for error in errors[:10]:
        stderr.print(f"dedupe: skipped {error}", markup=False, highlight=False)
    if errors:
        stderr.print(
            f"dedupe: skipped {len(errors)} bad record(s) in all", markup=False, highlight=False
        )


def read_stories(
    inputs: Sequence[str], input_format: InputFormat | None, on_error: OnError
) -> list[Story]:
    with reading(inputs, input_format, on_error) as stories:
        return list(stories)


@contextmanager
def output(path: Path | None) -> Iterator[TextIO]:
    if path is None:
        yield sys.stdout
        return
    try:
        with path.open("w", encoding="utf-8", newline="") as out:
            yield out
    except OSError as error:
        raise fail(f"cannot write {path}: {error.strerror}") from None


class RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        return Text(f"{task.speed or 0:,.0f} stories/s")


@contextmanager
def progress_bar(label: str, total: int | None = None) -> Iterator[Callable[[int], None] | None]:
    """A progress bar with stories per second, on a terminal only: piped runs stay quiet."""
    if not sys.stderr.isatty():
        yield None
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=stderr, transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)


@app.callback()
def main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Say more on stderr.")] = False,
) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="dedupe: %(levelname)s: %(message)s",
        stream=sys.stderr,
    )


@app.command()
def scan(
    inputs: Annotated[
        list[str],
        typer.Argument(help="Files, folders, or - for stdin (JSONL, CSV, RSS/Atom, pages)."),
    ],
    fmt: FormatOption = OutputFormat.table,
    out: OutputOption = None,
    topics: Annotated[
        bool, typer.Option("--topics/--no-topics", help="Cluster the rest by topic.")
    ] = True,
    input_format: InputFormatOption = None,
    on_error: Annotated[
        OnError, typer.Option("--on-error", help="Skip bad records (counted on stderr) or stop.")
    ] = OnError.skip,
    jobs: Annotated[
        int, typer.Option("--jobs", "-j", min=0, help="Processes to use; 0 = one per core.")
    ] = 1,
) -> None:
    """Group the copies, rewrites and teasers in a corpus, and cluster the rest by topic."""
    detector = Detector(jobs=jobs or os.cpu_count() or 1)
    with reading(inputs, input_format, on_error) as stories, progress_bar("scanning") as advance:
        report = detector.scan(stories, topics=topics, progress=advance)
    with output(out) as stream:
        write_report(report, fmt.value, stream)


@app.command()
def check(
    drafts: Annotated[list[str], typer.Argument(help="The draft(s): files, or - for stdin.")],
    against: Annotated[
        list[str],
        typer.Option("--against", "-a", help="What was already published: files or folders."),
    ],
    fmt: FormatOption = OutputFormat.table,
    out: OutputOption = None,
    input_format: InputFormatOption = None,
) -> None:
    """Check drafts against what was published: exit 1 if any was, 0 if all are new."""
    corpus = read_stories(against, None, OnError.skip)
    stories = read_stories(drafts, input_format, OnError.fail)
    if not stories:
        raise fail("no story to check in " + ", ".join(drafts))
    detector = Detector()
    detector.add_many(corpus)
    verdicts = [detector.check(story) for story in stories]
    with output(out) as stream:
        write_verdicts(verdicts, fmt.value, stream)
    raise typer.Exit(EXIT_PUBLISHED if any(v.is_duplicate for v in verdicts) else EXIT_NEW)
