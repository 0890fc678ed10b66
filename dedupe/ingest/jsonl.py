"""JSON Lines: one story object per line, the format programs exchange stories in."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

import orjson

from ..story import Story
from . import source
from .errors import InputError
from .records import describe, json_problem, record_text, story_from_record
from .source import Line, decode_line, encoding_label


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


def parse_raw_line(
    source_name: str, number: int, raw: bytes, encoding: str
) -> Story | InputError | None:
    """``parse_line`` of one line as bytes, without its newline: UTF-8 goes to orjson
    undecoded (it checks the bytes as it parses, and refuses what Python's decoder refuses);
    whatever it refuses, and every other encoding, is decoded and parsed as ``parse_line``
    parses a line, for the same story or the same message. Decoding a block of lines to text,
    searching it for NULs and splitting it cost a worker a third of its parsing."""
    if _orjson_reads(raw, encoding):
        text = raw.strip()
        if not text:
            return None
        try:
            record = orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
        else:
            if isinstance(record, dict):
                return story_from_record(record, source_name, number)
    if len(raw) >= source.MAX_LINE_BYTES:
        return parse_line(source_name, source.too_long(number))
    return parse_line(source_name, decode_line(number, raw, encoding, encoding_label(encoding)))


def raw_line_text(raw: bytes, encoding: str) -> str | None:
    """``record_text`` of a line (without its newline) that was read as a story once, parsed from
    its bytes by orjson; None where ``parse_raw_line`` would not have parsed it so (another
    encoding, a line orjson refuses), for the caller to read it as a whole story."""
    if not _orjson_reads(raw, encoding):
        return None
    try:
        record = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return record_text(record) if isinstance(record, dict) else None


def _orjson_reads(raw: bytes, encoding: str) -> bool:
    """Whether orjson may read a line straight from its bytes: UTF-8, not too long, no NUL."""
    return encoding == "utf-8" and len(raw) < source.MAX_LINE_BYTES and b"\0" not in raw
