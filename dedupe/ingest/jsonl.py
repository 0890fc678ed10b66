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
        if line.problem:
            yield InputError(source, line.number, line.problem)
            continue
        text = line.text.strip()
        if not text:
            continue
        try:
            record = orjson.loads(text)
        except orjson.JSONDecodeError:
            # orjson reads valid JSON three times as fast; Python's reader says what is wrong,
            # and reads what it reads beyond that (integers past 64 bits, NaN), as before.
            try:
                record = json.loads(text)
            except (ValueError, RecursionError) as err:
                yield InputError(source, line.number, json_problem(err))
                continue
        if not isinstance(record, dict):
            message = f"expected a JSON object, got {describe(record)}"
            yield InputError(source, line.number, message)
            continue
        yield story_from_record(record, source, line.number)
