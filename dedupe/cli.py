"""The command line: a thin typer layer over ``Detector``.

Each command parses its arguments, reads stories through ``dedupe.ingest``, calls the detector,
renders through ``dedupe.report`` and sets the exit code: 0 done (for ``check``: new), 1 ``check``
found the story already published, 2 usage or input error. Messages go to stderr.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
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
from dedupe.storage import StorageError, UnstorableStory
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


class Engine(StrEnum):
    local = "local"
    spark = "spark"


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


def say(message: str) -> None:
    """A message on stderr, unwrapped: file names and paths must stay whole."""
    typer.echo(f"dedupe: {message}", err=True)


def fail(message: str) -> typer.Exit:
    say(f"error: {message}")
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
        say(f"skipped {error}")
    if errors:
        say(f"skipped {len(errors)} bad record(s) in all")


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
    engine: Annotated[
        Engine, typer.Option("--engine", help="Run here, or on Spark (pip install dedupe[spark]).")
    ] = Engine.local,
    master: Annotated[
        str, typer.Option("--master", help="The Spark master, with --engine spark.")
    ] = "local[2]",
) -> None:
    """Group the copies, rewrites and teasers in a corpus, and cluster the rest by topic."""
    if engine is Engine.spark:
        try:
            from dedupe.engines.spark import scan_stories
        except ImportError:
            raise fail("--engine spark needs pyspark: pip install 'dedupe[spark]'") from None
        with reading(inputs, input_format, on_error) as stories:
            report = scan_stories(stories, master=master, topics=topics)
    else:
        detector = Detector(jobs=jobs or os.cpu_count() or 1)
        with (
            reading(inputs, input_format, on_error) as stories,
            progress_bar("scanning") as advance,
        ):
            report = detector.scan(stories, topics=topics, progress=advance)
    with output(out) as stream:
        write_report(report, fmt.value, stream)


IndexOption = Annotated[
    str | None,
    typer.Option(
        "--index",
        "-i",
        help="A SQLite file or a redis:// URL (created only by --add).",
        show_default=False,
    ),
]


@contextmanager
def opened(index: str | None, *, create: bool = False) -> Iterator[Detector]:
    """A detector on an index; an index that cannot be used ends the command with exit 2.
    Only commands that add may ``create`` it: to the others a mistyped path is an error, not
    an empty archive."""
    try:
        with Detector(index=index, create_index=create) as detector:
            yield detector
    except StorageError as error:
        raise fail(str(error)) from None


@app.command()
def check(
    drafts: Annotated[list[str], typer.Argument(help="The draft(s): files, or - for stdin.")],
    against: Annotated[
        list[str] | None,
        typer.Option("--against", "-a", help="What was already published: files or folders."),
    ] = None,
    index: IndexOption = None,
    add: Annotated[
        bool, typer.Option("--add", help="Add each new draft to the index, in the same step.")
    ] = False,
    fmt: FormatOption = OutputFormat.table,
    out: OutputOption = None,
    input_format: InputFormatOption = None,
) -> None:
    """Check drafts against what was published: exit 1 if any was, 0 if all are new."""
    if (against is None) == (index is None):
        raise fail("say what to check against: --against FILES or --index INDEX (one of them)")
    if add and index is None:
        raise fail("--add needs --index: there is nothing to add the draft to")
    stories = read_stories(drafts, input_format, OnError.fail)
    if not stories:
        raise fail("no story to check in " + ", ".join(drafts))
    with opened(index, create=add) as detector:
        if against is not None:
            refused: list[UnstorableStory] = []
            with reading(against, None, OnError.skip) as corpus:
                detector.add_many(corpus, errors=refused)
            say_refused(refused)
        if add:
            verdicts = [detector.add(story, only_new=True) for story in stories]
        else:
            verdicts = [detector.check(story) for story in stories]
    with output(out) as stream:
        write_verdicts(verdicts, fmt.value, stream)
    raise typer.Exit(EXIT_PUBLISHED if any(v.is_duplicate for v in verdicts) else EXIT_NEW)


index_app = typer.Typer(
    help="Build and keep the index of what was published.", no_args_is_help=True
)
app.add_typer(index_app, name="index")
RequiredIndex = Annotated[
    str, typer.Option("--index", "-i", help="A SQLite file or a redis:// URL.", show_default=False)
]
NewOrOldIndex = Annotated[
    str,
    typer.Option(
        "--index",
        "-i",
        help="A SQLite file or a redis:// URL, created if missing.",
        show_default=False,
    ),
]
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


@index_app.command("add")
def index_add(
    inputs: Annotated[list[str], typer.Argument(help="Files, folders, or - for stdin.")],
    index: NewOrOldIndex,
    input_format: InputFormatOption = None,
    on_error: Annotated[
        OnError, typer.Option("--on-error", help="Skip bad records (counted on stderr) or stop.")
    ] = OnError.skip,
) -> None:
    """Add published stories to the index in bulk (without checking them)."""
    # Stories the index cannot hold are skipped like bad records, or stop the command.
    refused: list[UnstorableStory] | None = [] if on_error is OnError.skip else None
    with (
        opened(index, create=True) as detector,
        reading(inputs, input_format, on_error) as stories,
        progress_bar("indexing") as advance,
    ):
        added = detector.add_many(_counted(stories, advance), errors=refused)
        held = len(detector.index_.storage)
    say_refused(refused or [])
    say(f"added {added} stories; the index holds {held}")


def say_refused(refused: Sequence[UnstorableStory]) -> None:
    """Stories skipped because no index can hold them, counted like skipped bad records."""
    for error in refused[:10]:
        say(f"skipped {error}")
    if refused:
        say(f"skipped {len(refused)} record(s) that the index cannot hold")


def _counted(stories: Iterator[Story], advance: Callable[[int], None] | None) -> Iterator[Story]:
    for story in stories:
        if advance is not None:
            advance(1)
        yield story


@index_app.command("stats")
def index_stats(index: RequiredIndex, fmt: FormatOption = OutputFormat.table) -> None:
    """What the index holds: stories, the oldest and newest, and its size."""
    with opened(index) as detector:
        stats = detector.stats()
    record = {
        "stories": stats.stories,
        "oldest": stats.oldest,
        "newest": stats.newest,
        "bytes": stats.bytes,
        "bytes_per_story": round(stats.bytes / stats.stories) if stats.stories else None,
    }
    if fmt in (OutputFormat.json, OutputFormat.jsonl):
        typer.echo(json.dumps(record))
    else:
        for name, value in record.items():
            typer.echo(f"{name:>16}  {'' if value is None else value}")


@index_app.command("remove")
def index_remove(
    ids: Annotated[list[str], typer.Argument(help="Ids of the stories to forget.")],
    index: RequiredIndex,
) -> None:
    """Forget stories by id."""
    with opened(index) as detector:
        removed = detector.remove(ids)
    say(f"removed {removed} of {len(ids)} stories")


@index_app.command("prune")
def index_prune(
    index: RequiredIndex,
    older_than: Annotated[str, typer.Option("--older-than", help="An age such as 30d, 12h or 2w.")],
) -> None:
    """Forget the stories published (else added) longer ago than an age."""
    match = _DURATION.match(older_than)
    if match is None:
        raise fail(f"--older-than takes an age such as 30d, 12h or 2w, not {older_than!r}")
    try:
        age = timedelta(seconds=float(match.group(1)) * _SECONDS[match.group(2)])
        before = datetime.now(UTC) - age
    except OverflowError:
        raise fail(
            f"--older-than {older_than} reaches back before the year 1: give a shorter age"
        ) from None
    with opened(index) as detector:
        removed = detector.prune(before)
    say(f"pruned {removed} stories older than {older_than}")
