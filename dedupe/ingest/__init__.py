"""Reading stories from files, folders and stdin, in any of the supported formats.

``read`` is the one entry point: it expands folders, undoes gzip, tells each input's encoding and
format from its content, and yields ``Story`` objects lazily, so that inputs of any size stream
(but feeds, which feedparser reads whole, up to ``feed.MAX_FEED_BYTES``, and article pages, one
story each, up to ``html_page.MAX_PAGE_BYTES``; WARC archives stream record by record). Bad
records are skipped and collected, or stop the run, as the caller chooses.
"""

from __future__ import annotations

import os
import stat
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import BinaryIO, Literal, Protocol, cast

import numpy as np

from ..story import Story
from .csv_table import read_csv
from .encoding import detect_encoding
from .errors import InputError
from .feed import read_feed
from .html_page import looks_like_html, read_html_page
from .json_document import read_json
from .jsonl import parse_raw_line, raw_line_text, read_jsonl
from .page import read_page
from .records import MAX_BODY_CHARS
from .sniff import looks_like_feed, sniff_format, suffix_of
from .source import (
    DECOMPRESSION_ERRORS,
    CopyError,
    Line,
    OpenedInput,
    copy_lines,
    iter_lines,
    line_encoding,
    open_input,
    splits_bytes,
)
from .text import read_text
from .warc import looks_like_warc, read_warc

__all__ = [
    "FORMATS",
    "MAX_BODY_CHARS",
    "ByteBlock",
    "InputError",
    "LineBlock",
    "Reading",
    "copied_story",
    "copied_text",
    "input_size",
    "read",
]

FORMATS = ("jsonl", "json", "csv", "feed", "html", "warc", "page", "text")
STDIN = "-"
_STDIN_NAME = "<stdin>"

# Formats read from the bytes: their markup or headers declare their encoding. An archive also
# yields None for each record that holds no page (a request, an image), so that it is counted.
_StreamReader = Callable[[str, BinaryIO], Iterator[Story | InputError | None]]
_STREAM_READERS: dict[str, _StreamReader] = {
    "feed": read_feed,
    "html": read_html_page,
    "warc": read_warc,
}
_LineReader = Callable[[str, Iterable[Line]], Iterator[Story | InputError]]
_LINE_READERS: dict[str, _LineReader] = {
    "jsonl": read_jsonl,
    "json": read_json,
    "csv": read_csv,
    "page": read_page,
    "text": read_text,
}


class ErrorSink(Protocol):
    """Where skipped bad records go: a list, or a counter that keeps only the first few."""

    def append(self, error: InputError, /) -> None: ...


def read(
    inputs: Sequence[str | Path],
    input_format: str | None = None,
    on_error: Literal["skip", "fail"] = "skip",
    errors: ErrorSink | None = None,
    stdin: BinaryIO | None = None,
    records: Callable[[int], None] | None = None,
    consumed: Callable[[int], None] | None = None,
) -> Reading:
    """The stories of files, folders (recursively) and "-" (stdin), in order, read as they are
    iterated (``Reading``).

    Folders are read in sorted path order, hidden files and folders left out. Each input's
    format is told from its content (the extension is a hint) unless ``input_format`` names one
    of ``FORMATS`` for all of them.

    A bad record (invalid JSON, wrong field types, a CSV row of the wrong width, an empty story,
    a line with undecodable bytes) and an input that cannot be read at all (binary, unknown
    encoding, broken gzip, not a feed, a feed too large to parse) raise InputError with
    ``on_error="fail"``; with "skip" they are appended to ``errors`` (when given) and reading
    goes on with the next record or input. Arguments are checked at once, not on first
    iteration: a missing path is a usage error and raises InputError in both modes.

    ``records`` is called with 1 for every record read, whatever it held: a story, a bad record,
    or an archive's record with no page in it; a progress display then moves through an archive
    of mostly other records too. ``consumed`` is called with the bytes read from the inputs as
    they are read, a block (up to a megabyte) at a time, never per record; for gzip they are the
    compressed bytes, as on disk: the measure of progress against ``input_size``.
    """
    if input_format is not None and input_format not in FORMATS:
        raise ValueError(f"unknown input format {input_format!r}; expected one of {FORMATS}")
    if on_error not in ("skip", "fail"):
        raise ValueError(f"on_error must be 'skip' or 'fail', not {on_error!r}")
    inputs = _listed(inputs)
    for item in inputs:
        if os.fspath(item) != STDIN and not os.path.exists(item):
            raise InputError(os.fspath(item), None, "no such file or directory")
    return Reading(inputs, input_format, on_error, errors, stdin, records, consumed)


@dataclass(frozen=True, slots=True)
class LineBlock:
    """Lines of a JSON Lines input, read but not yet parsed: parsing them into stories, most of
    what reading costs, can then happen in another process (``parse``)."""

    source: str
    lines: list[Line]

    def parse(self) -> list[Story | InputError]:
        """The story or the error of each record, in order."""
        return list(read_jsonl(self.source, self.lines))


@dataclass(frozen=True, slots=True)
class ByteBlock:
    """Whole lines of a JSON Lines input copied, as bytes, to ``path`` (``start:stop``, the
    first line numbered ``first``), not yet decoded nor parsed: the process that reads the input
    only copies it, and the processes that parse do the rest (``parse``)."""

    source: str
    path: str
    start: int
    stop: int
    first: int
    encoding: str

    def parse(self) -> tuple[list[Story | InputError], np.ndarray]:
        """The story or the error of each record, in order, and where each story's line is in
        ``path``: rows of (start, stop, line number), one per story."""
        with open(self.path, "rb") as copy:
            copy.seek(self.start)
            data = copy.read(self.stop - self.start)
        raws = data.split(b"\n")
        if not raws[-1]:
            raws.pop()  # the block ends with a newline
        items: list[Story | InputError] = []
        places: list[tuple[int, int, int]] = []
        start = self.start
        for number, raw in enumerate(raws, start=self.first):
            stop = min(start + len(raw) + 1, self.stop)
            item = parse_raw_line(self.source, number, raw, self.encoding)
            if item is not None:
                items.append(item)
                if isinstance(item, Story):
                    places.append((start, stop, number))
            start = stop
        return items, np.array(places, dtype=np.int64).reshape(-1, 3)


def copied_story(source: str, raw: bytes, number: int, encoding: str) -> Story:
    """The story of a line that ``ByteBlock.parse`` found one in, read again from its bytes."""
    item = parse_raw_line(source, number, raw.removesuffix(b"\n"), encoding)
    if not isinstance(item, Story):
        raise ValueError(f"{source}:{number} holds no story any more: {item}")
    return item


def copied_text(source: str, raw: bytes, number: int, encoding: str) -> str:
    """The text ``copied_story``'s story is matched on (its body, else its title), without
    dating, checking and making the rest of it: a fifth of reading back the stories whose pairs
    a scan explains."""
    text = raw_line_text(raw.removesuffix(b"\n"), encoding)
    if text is not None:
        return text
    story = copied_story(source, raw, number, encoding)
    return story.body or story.title


class Reading(Iterator[Story]):
    """The stories of ``read``'s inputs: iterate it for the stories, or ask for ``blocks`` of
    them, so that a batch job can parse JSON Lines in its worker processes."""

    def __init__(
        self,
        inputs: list[str | Path],
        input_format: str | None,
        on_error: Literal["skip", "fail"],
        errors: ErrorSink | None,
        stdin: BinaryIO | None,
        records: Callable[[int], None] | None,
        consumed: Callable[[int], None] | None,
    ) -> None:
        self._inputs = inputs
        self._format = input_format
        self._on_error = on_error
        self._errors = errors
        self._stdin = stdin
        self._records = records
        self._consumed = consumed
        self._stories: Iterator[Story] | None = None

    def __next__(self) -> Story:
        if self._stories is None:
            self._stories = cast(Iterator[Story], self._items(None))
        return next(self._stories)

    def blocks(
        self, size: int, folder: str | None = None
    ) -> Iterator[list[Story] | LineBlock | ByteBlock]:
        """The stories in blocks of at most ``size``: JSON Lines inputs as blocks of ``size``
        lines, to be parsed where they are sent, every other input as lists of the stories read
        here. With a ``folder``, JSON Lines whose lines are cut at their newline bytes (UTF-8 and
        the like) are copied there as they are read and come as ``ByteBlock``s, others as
        ``LineBlock``s. Each block's outcomes (its ``parse``, or only whether each record was an
        error) must be given to ``settle``, in the order of the blocks, so that its records are
        counted and its bad ones reported as iterating would."""
        stories: list[Story] = []
        for item in self._items(size, folder):
            if isinstance(item, LineBlock | ByteBlock):
                if stories:
                    yield stories
                    stories = []
                yield item
                continue
            stories.append(item)
            if len(stories) == size:
                yield stories
                stories = []
        if stories:
            yield stories

    def settle(self, outcomes: Sequence[InputError | None]) -> None:
        """Count a parsed line block's records and report its bad ones (None: a story)."""
        for outcome in outcomes:
            if self._records is not None:
                self._records(1)
            if outcome is not None:
                self._report(outcome)

    def _report(self, error: InputError) -> None:
        if self._on_error == "fail":
            raise error
        if self._errors is not None:
            self._errors.append(error)

    def _items(
        self, block: int | None, folder: str | None = None
    ) -> Iterator[Story | LineBlock | ByteBlock]:
        for name, path in _expand(self._inputs, self._report):
            items = _read_input(
                name, path, self._stdin, self._format, self._consumed, block, folder
            )
            for item in items:
                if isinstance(item, LineBlock | ByteBlock):
                    yield item
                    continue
                if self._records is not None:
                    self._records(1)
                if isinstance(item, InputError):
                    self._report(item)
                elif item is not None:
                    yield item


def input_size(inputs: Sequence[str | Path]) -> int | None:
    """How many bytes ``read`` will read from ``inputs``, as the files are on disk (folders
    expanded by the same rules): a progress display's total. None when an input is stdin or
    another stream (a pipe), whose size is known only once it is read."""
    total = 0
    for _, path in _expand(_listed(inputs), lambda error: None):
        if path is None:
            return None
        try:
            status = path.stat()
        except OSError:
            continue  # read reports it, and reads nothing of it
        if not stat.S_ISREG(status.st_mode):
            return None
        total += status.st_size
    return total


def _listed(inputs: Sequence[str | Path]) -> list[str | Path]:
    # A lone path is a sequence of characters; take it as the one input it is meant to be.
    return [inputs] if isinstance(inputs, str | os.PathLike) else list(inputs)


def _expand(
    inputs: Iterable[str | Path], report: Callable[[InputError], None]
) -> Iterator[tuple[str, Path | None]]:
    """Each input file as (name for messages, path), with None for stdin."""
    for item in inputs:
        name = os.fspath(item)
        if name == STDIN:
            yield _STDIN_NAME, None
        elif os.path.isdir(name):
            for path in _folder_files(Path(name), report):
                yield str(path), path
        else:
            yield name, Path(name)


def _folder_files(root: Path, report: Callable[[InputError], None]) -> list[Path]:
    def unreadable(error: OSError) -> None:
        report(InputError(str(error.filename), None, f"cannot read: {error.strerror}"))

    found: list[Path] = []
    for folder, subfolders, files in os.walk(root, onerror=unreadable):
        subfolders[:] = [name for name in subfolders if not name.startswith(".")]
        found.extend(Path(folder, name) for name in files if not name.startswith("."))
    # Sockets, pipes and dangling links are not inputs.
    return sorted((path for path in found if path.is_file()), key=lambda p: p.parts)


def _read_input(
    name: str,
    path: Path | None,
    stdin: BinaryIO | None,
    input_format: str | None,
    consumed: Callable[[int], None] | None,
    block: int | None,
    folder: str | None,
) -> Iterator[Story | InputError | LineBlock | ByteBlock | None]:
    """The stories and bad records of one input, or its blocks of ``block`` lines when it is
    JSON Lines and ``block`` is given (copied to ``folder``, when given, as ``ByteBlock``s); a
    failure to read it at all ends the list."""
    try:
        with open(path, "rb") if path else nullcontext(stdin or sys.stdin.buffer) as raw:
            yield from _parse(name, open_input(raw, consumed), input_format, block, folder)
    except CopyError:
        raise
    except InputError as error:
        yield error
    except OSError as error:
        yield InputError(name, None, f"cannot read: {error.strerror or error}")
    except DECOMPRESSION_ERRORS as error:
        # Raised by gzip for truncated or corrupt data.
        yield InputError(name, None, f"cannot read the compressed data: {error}")


def _parse(
    name: str,
    opened: OpenedInput,
    input_format: str | None,
    block: int | None,
    folder: str | None,
) -> Iterator[Story | InputError | LineBlock | ByteBlock | None]:
    encoding = None
    if input_format is None:
        if looks_like_warc(opened.head):
            input_format = "warc"
        # An HTML page before a feed: its head may hold "<feed" or "<rss" in a script or a link.
        elif looks_like_html(opened.head):
            input_format = "html"
        elif looks_like_feed(opened.head):
            input_format = "feed"
        else:
            encoding = detect_encoding(opened.head, opened.complete, name)
            head = opened.head.decode(encoding, "replace")
            input_format = sniff_format(head, opened.complete, suffix_of(name))
    if input_format in _STREAM_READERS:
        return _STREAM_READERS[input_format](name, opened.stream)
    encoding = encoding or detect_encoding(opened.head, opened.complete, name)
    if input_format == "jsonl" and block is not None and folder and splits_bytes(opened, encoding):
        return _copied_blocks(name, opened, encoding, block, folder)
    lines = iter_lines(opened, encoding, name)
    if input_format == "jsonl" and block is not None:
        return (LineBlock(name, chunk) for chunk in iter(lambda: list(islice(lines, block)), []))
    return _LINE_READERS[input_format](name, lines)


def _copied_blocks(
    name: str, opened: OpenedInput, encoding: str, block: int, folder: str
) -> Iterator[ByteBlock | LineBlock]:
    """A JSON Lines input copied to a file of its own in ``folder``, in blocks of lines."""
    encoding, bom = line_encoding(encoding)
    try:
        handle, path = tempfile.mkstemp(dir=folder, suffix=".jsonl")
    except OSError as error:
        raise CopyError(error.errno, error.strerror, error.filename) from error
    with open(handle, "wb") as copy:
        for cut in copy_lines(opened.stream, copy, block, bom):
            if isinstance(cut, Line):
                yield LineBlock(name, [cut])
            else:
                yield ByteBlock(name, path, *cut, encoding)
