"""CSV (and TSV): a header row naming the story fields, one story per record."""

from __future__ import annotations

import csv
import itertools
from collections.abc import Iterable, Iterator

from ..story import STORY_FIELDS, Story
from .errors import InputError
from .records import BODY_ALIASES, STORY_COLUMNS, story_from_record
from .source import MAX_LINE_BYTES, Line

# Tried in this order; the header decides which one a file uses.
_DELIMITERS = (",", "\t", ";", "|")
_KNOWN_FIELDS = frozenset({*STORY_FIELDS, *BODY_ALIASES})


def _header_delimiter(line: str, min_columns: int = 2) -> str | None:
    """The delimiter under which ``line`` is a header naming a title or body column, if any.

    Sniffing asks for two columns at least: a one-word first line is a headline, not a header.
    """
    best: str | None = None
    best_columns = min_columns - 1
    for delimiter in _DELIMITERS:
        try:
            names = next(csv.reader([line], delimiter=delimiter), [])
        except csv.Error:
            continue
        if len(names) > best_columns and STORY_COLUMNS & {n.strip().lower() for n in names}:
            best, best_columns = delimiter, len(names)
    return best


def looks_like_csv(lines: list[str]) -> bool:
    """True if ``lines`` start with a header naming a title or body column, and the record after
    it, if any, has as many fields: "Body, mind and spirit" is a headline, not a header."""
    text_lines = [line for line in lines if line.strip()]
    if not text_lines or not (delimiter := _header_delimiter(text_lines[0])):
        return False
    try:
        records = list(itertools.islice(csv.reader(text_lines, delimiter=delimiter), 2))
    except csv.Error:
        return False
    return len(records) < 2 or len(records[1]) == len(records[0])


def read_csv(source: str, lines: Iterable[Line]) -> Iterator[Story | InputError]:
    """One story per record; the line of an error is the record's first physical line."""
    # Bodies are long; the csv module's default limit (128 KiB per field) would refuse real
    # stories. The limit is process-wide, so it is only ever raised.
    csv.field_size_limit(max(csv.field_size_limit(), MAX_LINE_BYTES))
    problems: dict[int, str] = {}

    def texts() -> Iterator[str]:
        for line in lines:
            if line.problem:
                problems[line.number] = line.problem
            yield line.text

    stream = texts()
    skipped = 0
    for first in stream:
        if first.strip():
            break
        skipped += 1
    else:
        raise InputError(source, None, "no CSV header row")
    reader = csv.reader(
        itertools.chain([first], stream), delimiter=_header_delimiter(first, 1) or ",", strict=True
    )
    header_line = skipped + 1
    try:
        header = next(reader)
    except csv.Error as err:
        raise InputError(source, header_line, f"invalid CSV header: {err}") from None
    if problems:
        number, problem = next(iter(problems.items()))
        raise InputError(source, number, f"invalid CSV header: {problem}")
    columns = _columns(header, source, header_line)
    end = reader.line_num
    while True:
        start = skipped + end + 1
        error: InputError | None = None
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as err:
            row, error = [], InputError(source, start, f"invalid CSV: {err}")
        end = reader.line_num
        # The reader pulls lines only as the record needs them, so every problem seen so far is
        # on a line of this record; it is the more precise complaint.
        if problems:
            error = InputError(source, *next(iter(problems.items())))
            problems.clear()
        if error:
            yield error
        elif not "".join(row).strip() and len(row) <= 1:
            continue  # a blank line
        elif len(row) != len(columns):
            yield InputError(source, start, f"expected {len(columns)} fields, found {len(row)}")
        else:
            yield story_from_record(dict(zip(columns, row, strict=True)), source, start)


def _columns(header: list[str], source: str, line: int) -> list[str]:
    """The record key of each column: story fields by their lower-case name, others as written."""
    columns: list[str] = []
    for number, raw in enumerate(header, 1):
        name = raw.strip()
        key = name.lower() if name.lower() in _KNOWN_FIELDS else name or f"column_{number}"
        if key in columns:
            raise InputError(source, line, f"the CSV header names column {key!r} twice")
        columns.append(key)
    if not STORY_COLUMNS & set(columns):
        found = ", ".join(columns)
        message = f"the CSV header has no title or body column (columns: {found})"
        raise InputError(source, line, message)
    return columns
