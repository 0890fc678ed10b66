"""The command line: a thin typer layer over ``Detector``.

Each command parses its arguments, reads stories through ``dedupe.ingest``, calls the detector,
renders through ``dedupe.report`` and sets the exit code: 0 done (for ``check``: new), 1 ``check``
found the story already published, 2 any other failure (usage, input, index, an internal error),
130 interrupted. A closed pipe ends quietly, with the exit code the command had decided. Messages
go to stderr, one line each.
"""

from __future__ import annotations

import errno
import functools
import gc
import io
import json
import logging
import os
import re
import secrets
import stat
import sys
import tempfile
import traceback
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TextIO

import typer
from typer.core import TyperGroup

import dedupe
from dedupe.detector import Detector
from dedupe.ingest import FORMATS as INPUT_FORMATS
from dedupe.ingest import InputError, read
from dedupe.report import TABLE_LIMIT, printable, write_report, write_verdicts
from dedupe.settings import Settings
from dedupe.storage import StorageError, UnstorableStory
from dedupe.story import Story

if TYPE_CHECKING:
    from rich.console import Console

    from dedupe.progress import Shown


class _Commands(TyperGroup):
    """Every command ends as the exit codes promise, whatever escapes it: no traceback, no 1."""

    def invoke(self, ctx: typer.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise
        except KeyboardInterrupt:
            say("interrupted")
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except BrokenPipeError:
            # Writes that ``output`` does not make (``index stats``) to a reader that went away.
            _drop_stdout()
            raise typer.Exit(EXIT_NEW) from None
        except Exception as error:
            if ctx.params.get("verbose"):
                traceback.print_exc()
            say(f"error: internal error: {type(error).__name__}: {error}")
            raise typer.Exit(EXIT_USAGE) from None


def run() -> None:
    """The ``dedupe`` command: the app, then an exit that leaves the process's objects to the
    system instead of freeing them one by one (a scan's report is millions of them: a quarter
    of a second after the report was written). Spark's session is left to end as usual."""
    try:
        app(prog_name="dedupe")
    except SystemExit as done:
        if "pyspark" in sys.modules:
            raise
        code = done.code if isinstance(done.code, int) else 0 if done.code is None else 1
        if not isinstance(done.code, int | None):
            print(done.code, file=sys.stderr)
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (BrokenPipeError, ValueError):  # a reader gone, or the stream closed
                pass
        os._exit(code)


app = typer.Typer(
    cls=_Commands,
    help="Find copies, syndicated rewrites and teasers in news feeds; group the rest by topic.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@functools.cache
def stderr() -> Console:
    """rich's console on stderr, for the progress display of the commands that draw one: made
    only then, and ``rich.file_proxy`` with it (the report's tables import the rest of rich)."""
    from rich.console import Console

    return Console(stderr=True)


EXIT_NEW, EXIT_PUBLISHED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class OutputFormat(StrEnum):
    table = "table"
    json = "json"
    jsonl = "jsonl"
    csv = "csv"
    html = "html"


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
    Path | None,
    typer.Option(
        "--output", "-o", metavar="FILE", help="Write the result to this file, not stdout."
    ),
]
InputFormatOption = Annotated[
    InputFormat | None,
    typer.Option("--input-format", help="Read every input as this format instead of sniffing it."),
]
WindowOption = Annotated[
    float | None,
    typer.Option(
        "--window",
        min=0,
        metavar="DAYS",
        help="Only stories published within this many days of each other can be copies "
        "(default: a copy is a copy whatever its date).",
        show_default=False,
    ),
]

MinScoreOption = Annotated[
    float,
    typer.Option(
        "--min-score",
        min=0,
        max=1,
        metavar="SCORE",
        help="Report no pair scored below this (default: every pair the rules accept).",
        show_default=False,
    ),
]


def configured(window: float | None, min_score: float) -> Settings:
    """The settings of ``--window`` and ``--min-score``. A value that click lets through but
    ``Settings`` refuses (``nan``) ends the command with exit 2, naming the option and the rule
    it broke, not an internal error."""
    settings = Settings()
    for option, field, value in (
        ("--window", "window_days", window),
        ("--min-score", "min_score", min_score),
    ):
        try:
            settings = replace(settings, **{field: value})
        except ValueError as error:
            raise fail(f"{option}: {error}") from None
    return settings


def say(message: str) -> None:
    """A message on stderr, unwrapped: file names and paths must stay whole. One line, shown and
    not obeyed: a message can quote story text, and a terminal acts on control characters."""
    line = "dedupe: " + printable(message, keep="\t")
    proxy = sys.modules.get("rich.file_proxy")
    if proxy is not None and isinstance(sys.stderr, proxy.FileProxy):
        # A progress display is drawn on stderr (rich stands in for it meanwhile): the line goes
        # above the display, not into it.
        stderr().out(line, highlight=False)
    else:
        typer.echo(line, err=True)


def fail(message: str) -> typer.Exit:
    say(f"error: {message}")
    return typer.Exit(EXIT_USAGE)


@contextmanager
def reading(
    inputs: Sequence[str],
    input_format: InputFormat | None,
    on_error: OnError,
    errors: _Skipped | None = None,
    shown: Shown | None = None,
) -> Iterator[Iterator[Story]]:
    """The stories of the inputs as a stream; bad input ends the command with exit 2, and
    skipped bad records are counted on stderr at the end (and in ``errors``, for the report).
    ``shown`` counts every record read (stories, bad records, an archive's other records) and
    the bytes read, for the progress display."""
    errors = _Skipped() if errors is None else errors
    try:
        yield read(
            inputs,
            input_format.value if input_format else None,
            on_error.value,
            errors,
            records=shown.records if shown else None,
            consumed=shown.consumed if shown else None,
        )
    except InputError as error:
        raise fail(str(error)) from None
    for error in errors.first:
        say(f"skipped {error}")
    if errors.count:
        say(f"skipped {errors.count} bad record(s) in all")


class _Skipped:
    """The bad records skipped: a count and the first few to show. A file of millions of bad
    lines must not keep them all in memory."""

    shown = 10

    def __init__(self) -> None:
        self.first: list[InputError] = []
        self.count = 0

    def append(self, error: InputError) -> None:
        if self.count < self.shown:
            self.first.append(error)
        self.count += 1


def read_stories(
    inputs: Sequence[str], input_format: InputFormat | None, on_error: OnError
) -> list[Story]:
    with reading(inputs, input_format, on_error) as stories:
        return list(stories)


def writable(path: Path | None) -> None:
    """End the command with exit 2 now if ``-o`` cannot be written: before the work, not after."""
    if path is None:
        return
    target = path.resolve()
    try:
        if target.is_dir():
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR))
        if _replaced(target):
            with tempfile.TemporaryFile(dir=target.parent):
                pass
    except OSError as error:
        raise fail(f"cannot write {path}: {error.strerror}") from None


def _replaced(target: Path) -> bool:
    """Whether ``-o`` is written beside itself and then put in place: a device or a pipe
    (``-o /dev/null``) cannot be replaced, and has no old report to lose."""
    return not target.exists() or target.is_file()


@contextmanager
def output(path: Path | None) -> Iterator[TextIO]:
    """Where the result goes: stdout, or the file ``-o``, written whole or not at all.

    The file is written under a temporary name beside it and replaces it once complete (with the
    old file's permissions), so a run that fails leaves the old report as it was. Text the
    encoding cannot take, lone surrogates in stories a program built, is written as backslash
    escapes (in JSON the very escape that reads back as the same text) rather than failing
    halfway through.
    """
    if path is None:
        if isinstance(sys.stdout, io.TextIOWrapper):
            sys.stdout.reconfigure(errors="backslashreplace")
        try:
            yield sys.stdout
            sys.stdout.flush()
        except BrokenPipeError:
            # The reader has gone (``| head -1``): the command still ends with its own exit code.
            _drop_stdout()
        return
    target = path.resolve()
    replaced = _replaced(target)
    written = target.with_name(f".{target.name}.{secrets.token_hex(4)}") if replaced else target
    try:
        with written.open(
            "x" if replaced else "w", encoding="utf-8", errors="backslashreplace", newline=""
        ) as out:
            yield out
        if replaced:
            if target.exists():
                os.chmod(written, stat.S_IMODE(target.stat().st_mode))
            os.replace(written, target)
    except OSError as error:
        raise fail(f"cannot write {path}: {error.strerror}") from None
    finally:
        if replaced:
            written.unlink(missing_ok=True)


def _drop_stdout() -> None:
    """Point stdout at /dev/null, so that what is still buffered for a reader that has gone is
    not written again at exit, as Python's note on SIGPIPE advises."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


@contextmanager
def room_for_temporary_data() -> Iterator[None]:
    """A scan keeps its stories' texts in a temporary file: a full disk there ends the command
    with exit 2 and says which folder, instead of a traceback."""
    try:
        yield
    except OSError as error:
        if error.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
            raise
        raise fail(
            f"cannot write temporary data in {tempfile.gettempdir()}: {error.strerror} "
            "(set TMPDIR to a folder with room)"
        ) from None


class _StderrNow(io.TextIOBase):
    """Stderr as it is at each write, for the log: while a progress display is drawn, rich
    stands in for stderr and prints each line above the display instead of through it."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def _print_version(asked: bool) -> None:
    if asked:
        typer.echo(f"dedupe {dedupe.__version__}")
        raise typer.Exit()


@app.callback()
def main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Say more on stderr.")] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="dedupe: %(levelname)s: %(message)s",
        stream=_StderrNow(),
    )
    # The page extractors log, as errors, every page they cannot read ("lxml parsing failed:
    # Document is empty"), naming no file; ingest reports the same page as a skipped record that
    # names it. Their messages are kept for -v.
    for extractor in ("trafilatura", "htmldate", "courlan"):
        logging.getLogger(extractor).setLevel(logging.INFO if verbose else logging.CRITICAL)


@app.command()
def scan(
    inputs: Annotated[
        list[str],
        typer.Argument(
            metavar="INPUT...", help="Files, folders, or - for stdin (JSONL, CSV, RSS/Atom, pages)."
        ),
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
        int,
        typer.Option(
            "--jobs", "-j", min=0, metavar="N", help="Processes to use; 0 = one per core, 1 = none."
        ),
    ] = 0,
    engine: Annotated[
        Engine,
        typer.Option("--engine", help="Run here, or on Spark (pip install 'dedupe\\[spark]')."),
    ] = Engine.local,
    master: Annotated[
        str, typer.Option("--master", metavar="URL", help="The Spark master, with --engine spark.")
    ] = "local[2]",
    window: WindowOption = None,
    min_score: MinScoreOption = 0.0,
    limit: Annotated[
        int,
        typer.Option(
            "--limit",
            min=0,
            metavar="N",
            help="How many groups and topics the table shows, largest first; 0 shows all "
            "(json, jsonl and csv always hold all).",
        ),
    ] = TABLE_LIMIT,
) -> None:
    """Group the copies, rewrites and teasers in a corpus, and cluster the rest by topic."""
    # The report's records, made after the scan, are as many objects again and make no cycles
    # either (see ``Detector.scan``); the command ends with them.
    gc.disable()
    writable(out)
    settings = configured(window, min_score)
    skipped = _Skipped()
    from dedupe.progress import progress_shown

    # Spark draws progress of its own on stderr: the display is for the local engine.
    with progress_shown("reading", inputs, stderr(), show=engine is Engine.local) as shown:
        if engine is Engine.spark:
            try:
                from dedupe.engines.spark import scan_stories
            except ImportError:
                raise fail("--engine spark needs pyspark: pip install 'dedupe[spark]'") from None
            with reading(inputs, input_format, on_error, skipped) as stories:
                report = scan_stories(stories, master=master, settings=settings, topics=topics)
        else:
            detector = Detector(settings=settings, jobs=jobs or None)
            with (
                reading(inputs, input_format, on_error, skipped, shown) as stories,
                room_for_temporary_data(),
            ):
                # Only the HTML page shows the texts: the other formats keep none in memory.
                texts = fmt is OutputFormat.html
                report = detector.scan(stories, topics=topics, texts=texts, stage=shown.stage)
        if not report.stories:
            say("warning: no story in " + ", ".join(inputs))
        shown.writing(out)
        with output(out) as stream:
            write_report(report, fmt.value, stream, limit=limit, skipped=skipped.count)


IndexOption = Annotated[
    str | None,
    typer.Option(
        "--index",
        "-i",
        metavar="PATH|URL",
        help="A SQLite file or a redis:// URL (created only by --add).",
        show_default=False,
    ),
]


@contextmanager
def opened(
    index: str | None, settings: Settings | None = None, *, create: bool = False
) -> Iterator[Detector]:
    """A detector on an index; an index that cannot be used ends the command with exit 2.
    Only commands that add may ``create`` it: to the others a mistyped path is an error, not
    an empty archive."""
    try:
        with Detector(index=index, settings=settings, create_index=create) as detector:
            yield detector
    except StorageError as error:
        raise fail(str(error)) from None


@app.command()
def check(
    drafts: Annotated[
        list[str], typer.Argument(metavar="DRAFT...", help="The draft(s): files, or - for stdin.")
    ],
    against: Annotated[
        list[str] | None,
        typer.Option(
            "--against",
            "-a",
            metavar="PATH",
            help="What was already published: files or folders (repeat for more).",
        ),
    ] = None,
    index: IndexOption = None,
    add: Annotated[
        bool, typer.Option("--add", help="Add each new draft to the index, in the same step.")
    ] = False,
    fmt: FormatOption = OutputFormat.table,
    out: OutputOption = None,
    input_format: InputFormatOption = None,
    window: WindowOption = None,
    min_score: MinScoreOption = 0.0,
) -> None:
    """Check drafts against what was published: exit 1 if any was, 0 if all are new."""
    if (against is None) == (index is None):
        raise fail("say what to check against: --against FILES or --index INDEX (one of them)")
    if add and index is None:
        raise fail("--add needs --index: there is nothing to add the draft to")
    writable(out)
    settings = configured(window, min_score)
    stories = read_stories(drafts, input_format, OnError.fail)
    if not stories:
        raise fail("no story to check in " + ", ".join(drafts))
    with opened(index, settings, create=add) as detector:
        if against is not None:
            refused: list[UnstorableStory] = []
            with reading(against, None, OnError.skip) as corpus:
                # A fresh index in memory: every story of the corpus is new to it.
                held = detector.add_many(corpus, errors=refused)
            say_refused(refused)
            if not held:
                raise fail(f"nothing to check against: {', '.join(against)} hold no story")
        if add:
            verdicts = [detector.add(story, only_new=True) for story in stories]
        else:
            verdicts = [detector.check(story) for story in stories]
        matched: list[Story] = []
        if fmt is OutputFormat.html:
            named = {match.story_id: None for verdict in verdicts for match in verdict.matches}
            matched = detector.stored(list(named))
    with output(out) as stream:
        write_verdicts(verdicts, fmt.value, stream, drafts=stories, matched=matched)
    raise typer.Exit(EXIT_PUBLISHED if any(v.is_duplicate for v in verdicts) else EXIT_NEW)


index_app = typer.Typer(
    help="Build and keep the index of what was published.", no_args_is_help=True
)
app.add_typer(index_app, name="index")
RequiredIndex = Annotated[
    str,
    typer.Option(
        "--index",
        "-i",
        metavar="PATH|URL",
        help="A SQLite file or a redis:// URL.",
        show_default=False,
    ),
]
NewOrOldIndex = Annotated[
    str,
    typer.Option(
        "--index",
        "-i",
        metavar="PATH|URL",
        help="A SQLite file or a redis:// URL, created if missing.",
        show_default=False,
    ),
]
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


@index_app.command("add")
def index_add(
    inputs: Annotated[
        list[str], typer.Argument(metavar="INPUT...", help="Files, folders, or - for stdin.")
    ],
    index: NewOrOldIndex,
    input_format: InputFormatOption = None,
    on_error: Annotated[
        OnError, typer.Option("--on-error", help="Skip bad records (counted on stderr) or stop.")
    ] = OnError.skip,
) -> None:
    """Add published stories to the index in bulk (without checking them)."""
    from dedupe.progress import progress_shown

    # Stories the index cannot hold are skipped like bad records, or stop the command.
    refused: list[UnstorableStory] | None = [] if on_error is OnError.skip else None
    with (
        opened(index, create=True) as detector,
        progress_shown("indexing", inputs, stderr()) as shown,
        reading(inputs, input_format, on_error, shown=shown) as stories,
    ):
        added = detector.add_many(stories, errors=refused)
        held = detector.stats().stories
    say_refused(refused or [])
    say(f"added {added} stories; the index holds {held}")


def say_refused(refused: Sequence[UnstorableStory]) -> None:
    """Stories skipped because no index can hold them, counted like skipped bad records."""
    for error in refused[:10]:
        say(f"skipped {error}")
    if refused:
        say(f"skipped {len(refused)} record(s) that the index cannot hold")


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
    ids: Annotated[
        list[str], typer.Argument(metavar="ID...", help="Ids of the stories to forget.")
    ],
    index: RequiredIndex,
) -> None:
    """Forget stories by id."""
    with opened(index) as detector:
        removed = detector.remove(ids)
    say(f"removed {removed} of {len(ids)} stories")


@index_app.command("prune")
def index_prune(
    index: RequiredIndex,
    older_than: Annotated[
        str, typer.Option("--older-than", metavar="AGE", help="An age such as 30d, 12h or 2w.")
    ],
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
