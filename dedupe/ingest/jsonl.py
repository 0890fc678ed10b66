"""JSON Lines: one story object per line, the format programs exchange stories in."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

import orjson

from ..story import Story
from .errors import InputError
from .records import describe, json_problem, story_from_record
from .source import Line


def read_jsonl(source: str, lines: Iterable[Line]) -> Iterator[Story | InputError]:
    """One story per non-blank line; a bad line is an error for that line alone."""
    for line in lines:
        item = parse_line(source, line)
        if item is not None:
            yield item


def parse_line(source: str, line: Line) -> Story | InputError | None:
    """The story of one line, its error, or None for a blank line."""
    if line.problem:
        return InputError(source, line.number, line.problem)
    text = line.text.strip()
    if not text:
        return None
    try:
        record = orjson.loads(text)
    except orjson.JSONDecodeError:
        # orjson reads valid JSON three times as fast; Python's reader says what is wrong,
        # and reads what it reads beyond that (integers past 64 bits, NaN), as before.
        try:
            record = json.loads(text)
        except (ValueError, RecursionError) as err:
            return InputError(source, line.number, json_problem(err))
    if not isinstance(record, dict):
        return InputError(source, line.number, f"expected a JSON object, got {describe(record)}")
    return story_from_record(record, source, line.number)
