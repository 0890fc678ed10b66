"""JSON documents: one story object, an array of them, or a stream of either (as jq prints).

Arrays are read one element at a time, so a large export needs no more memory than its largest
story; each story's origin is the line its object starts on.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

from ..story import Story
from .errors import InputError
from .records import describe, story_from_record
from .source import Line

# Text is read in at least this many characters at a time, and the window grows geometrically
# while a value is incomplete, so re-parsing the unfinished value stays linear overall.
_CHUNK_CHARS = 64 * 1024
# One value larger than this is refused, not held: it is not a story.
_MAX_VALUE_CHARS = 64 * 1024 * 1024
_NOT_WHITESPACE = re.compile(r"[^ \t\n\r]")
_DECODER = json.JSONDecoder()
_UNCLOSED = "invalid JSON: the array is not closed"


class _Window:
    """The not yet parsed text of a JSON document, and the line its first character is on."""

    def __init__(self, source: str, lines: Iterable[Line]) -> None:
        self._source = source
        self._lines = iter(lines)
        self._text = ""
        self._pos = 0
        self._first_line = 1
        self._at_end = False

    def peek(self) -> str | None:
        """The next character after whitespace (not consumed); None at the end of input."""
        while True:
            if significant := _NOT_WHITESPACE.search(self._text, self._pos):
                self._pos = significant.start()
                return significant.group()
            self._pos = len(self._text)
            if not self._read_more(_CHUNK_CHARS):
                return None

    def skip(self) -> None:
        """Consume the character ``peek`` returned."""
        self._pos += 1

    def line(self, pos: int | None = None) -> int:
        """The line number of ``pos`` (by default, of the next character)."""
        pos = self._pos if pos is None else pos
        return self._first_line + self._text.count("\n", 0, pos)

    def value(self) -> tuple[Any, int]:
        """The next JSON value (after ``peek``) and the line it starts on."""
        while True:
            try:
                value, end = _DECODER.raw_decode(self._text, self._pos)
            except json.JSONDecodeError as err:
                # Lines are read whole and JSON tokens never span lines, so a value is merely
                # unfinished exactly when the parser failed for want of more text.
                unfinished = not self._text[err.pos :].strip()
                if not unfinished or self._at_end:
                    message = f"invalid JSON: {err.msg}"
                    raise InputError(self._source, self.line(err.pos), message) from None
                held = len(self._text) - self._pos
                if held > _MAX_VALUE_CHARS:
                    message = f"a JSON value longer than {_MAX_VALUE_CHARS:,} characters"
                    raise InputError(self._source, self.line(), message) from None
                self._read_more(max(held, _CHUNK_CHARS))
                continue
            line = self.line()
            self._pos = end
            return value, line

    def _read_more(self, chars: int) -> bool:
        """Append whole lines, about ``chars`` characters; False when the input is exhausted."""
        parts: list[str] = []
        held = 0
        for line in self._lines:
            if line.problem:
                # A damaged line breaks the document's structure; nothing after it can be trusted.
                raise InputError(self._source, line.number, line.problem)
            parts.append(line.text)
            held += len(line.text)
            if held >= chars:
                break
        else:
            self._at_end = True
        self._first_line = self.line()
        self._text = self._text[self._pos :] + "".join(parts)
        self._pos = 0
        return bool(parts)


def read_json(source: str, lines: Iterable[Line]) -> Iterator[Story | InputError]:
    """Every story object of a JSON document; invalid JSON ends the document with an error."""
    window = _Window(source, lines)
    while (char := window.peek()) is not None:
        if char == "[":
            window.skip()
            yield from _array(window, source)
        else:
            yield _story(*window.value(), source)


def _array(window: _Window, source: str) -> Iterator[Story | InputError]:
    if window.peek() == "]":
        window.skip()
        return
    while True:
        if window.peek() is None:
            raise InputError(source, window.line(), _UNCLOSED)
        yield _story(*window.value(), source)
        char = window.peek()
        if char == "]":
            window.skip()
            return
        if char != ",":
            message = "invalid JSON: Expecting ',' delimiter" if char else _UNCLOSED
            raise InputError(source, window.line(), message)
        window.skip()


def _story(value: Any, line: int, source: str) -> Story | InputError:
    if not isinstance(value, dict):
        return InputError(source, line, f"expected a JSON object, got {describe(value)}")
    return story_from_record(value, source, line)
