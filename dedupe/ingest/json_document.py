"""JSON documents: one story object, an array of them, or a stream of either (as jq prints).

Arrays are read one element at a time, so a large export needs no more memory than its largest
story; each story's origin is the line its object starts on.

A bad element costs itself alone. Undecodable bytes are read as U+FFFD and refuse only the element
they fall in. After an element that is not valid JSON, reading resumes at the next line that starts
with "{" indented as the broken element's first line was: exporters (``json.dump(..., indent=2)``,
jq) start every element of a document that way, and nested objects deeper.
"""

from __future__ import annotations

import json
import re
from collections import deque
from collections.abc import Generator, Iterable, Iterator
from typing import Any, NamedTuple

from ..story import Story
from .errors import InputError
from .records import describe, json_problem, story_from_record
from .source import Line

# Text is read in at least this many characters at a time, and the window grows geometrically
# while a value is incomplete, so re-parsing the unfinished value stays linear overall.
_CHUNK_CHARS = 64 * 1024
# One value larger than this is refused, not held: it is not a story.
_MAX_VALUE_CHARS = 64 * 1024 * 1024
_NOT_WHITESPACE = re.compile(r"[^ \t\n\r]")
_DECODER = json.JSONDecoder()
_UNCLOSED = "invalid JSON: the array is not closed"


class _Damage(NamedTuple):
    """A damaged line, not yet reported, and where in the document's text its damage is."""

    offset: int
    error: InputError


class _Window:
    """The not yet parsed text of a JSON document, from the start of the line its next
    character is on, and the damaged lines read but not yet reported."""

    def __init__(self, source: str, lines: Iterable[Line]) -> None:
        self._source = source
        self._lines = iter(lines)
        self._text = ""
        self._pos = 0
        self._start = 0
        """Where ``_text`` starts in the document's text."""
        self._counted = (0, 1)
        """A position in ``_text`` and its line number: lines are counted on from there, so that
        a document on one long line is not recounted from its start for every element."""
        self._at_end = False
        self._damage: deque[_Damage] = deque()

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

    def offset(self) -> int:
        """Where the next character is in the document's text."""
        return self._start + self._pos

    def line(self, pos: int | None = None) -> int:
        """The line number of ``pos`` (by default, of the next character)."""
        pos = self._pos if pos is None else pos
        counted_pos, counted_line = self._counted
        if pos < counted_pos:
            return counted_line - self._text.count("\n", pos, counted_pos)
        self._counted = (pos, counted_line + self._text.count("\n", counted_pos, pos))
        return self._counted[1]

    def indent(self) -> str | None:
        """The whitespace before the next character on its line; None if other text is there."""
        prefix = self._text[self._text.rfind("\n", 0, self._pos) + 1 : self._pos]
        return None if prefix.strip() else prefix

    def value(self) -> tuple[Any, int]:
        """The next JSON value (after ``peek``) and the line it starts on; InputError if it is
        not valid JSON."""
        while True:
            try:
                value, end = _DECODER.raw_decode(self._text, self._pos)
            except json.JSONDecodeError as err:
                # Lines are read whole and JSON tokens never span lines, so a value is merely
                # unfinished exactly when the parser failed for want of more text.
                unfinished = not self._text[err.pos :].strip()
                if not unfinished or self._at_end:
                    raise InputError(self._source, self.line(err.pos), json_problem(err)) from None
                held = len(self._text) - self._pos
                if held > _MAX_VALUE_CHARS:
                    message = f"a JSON value longer than {_MAX_VALUE_CHARS:,} characters"
                    raise InputError(self._source, self.line(), message) from None
                self._read_more(max(held, _CHUNK_CHARS))
                continue
            except (ValueError, RecursionError) as err:
                raise InputError(self._source, self.line(), json_problem(err)) from None
            line = self.line()
            self._pos = end
            return value, line

    def resume_at(self, indent: str) -> bool:
        """Skip to the next line that starts with ``indent`` and "{"; False if no line does.

        Damaged lines skipped are dropped: they are part of what the broken value costs.
        """
        marker = "\n" + indent + "{"
        while (found := self._text.find(marker, self._pos)) < 0:
            # Keep the tail: the marker may be cut at the end of the text read so far.
            self._pos = max(self._pos, len(self._text) - len(marker))
            self.take_damage(self.offset())
            if not self._read_more(_CHUNK_CHARS):
                self._pos = len(self._text)
                return False
        self._pos = found + len(marker) - 1
        self.take_damage(self.offset())
        return True

    def take_damage(self, before: int | None = None, line: int | None = None) -> list[_Damage]:
        """The damaged lines not yet reported, oldest first, whose damage is before offset
        ``before`` and on a line up to ``line`` (no bound for None)."""
        taken: list[_Damage] = []
        while self._damage and (
            (before is None or self._damage[0].offset < before)
            and (line is None or self._damage[0].error.line <= line)
        ):
            taken.append(self._damage.popleft())
        return taken

    def _read_more(self, chars: int) -> bool:
        """Append whole lines, about ``chars`` characters; False when the input is exhausted."""
        parts: list[str] = []
        held = 0
        offset = self._start + len(self._text)
        for line in self._lines:
            if line.problem:
                at = offset + held + (line.column - 1 if line.column else 0)
                self._damage.append(
                    _Damage(at, InputError(self._source, line.number, line.problem))
                )
            parts.append(line.text)
            held += len(line.text)
            if held >= chars:
                break
        else:
            self._at_end = True
        cut = self._text.rfind("\n", 0, self._pos) + 1
        self._counted = (0, self.line(cut))
        self._start += cut
        self._text = self._text[cut:] + "".join(parts)
        self._pos -= cut
        return bool(parts)


def read_json(source: str, lines: Iterable[Line]) -> Iterator[Story | InputError]:
    """Every story object of a JSON document; a bad element is an error for itself alone, and
    invalid JSON that reading cannot resume after ends the document with an error."""
    window = _Window(source, lines)
    while (char := window.peek()) is not None:
        if char == "[":
            window.skip()
            yield from _array(window, source)
        else:
            yield from _element(window, source)
    yield from (damage.error for damage in window.take_damage())


def _array(window: _Window, source: str) -> Iterator[Story | InputError]:
    if window.peek() == "]":
        window.skip()
        return
    while True:
        if window.peek() is None:
            raise InputError(source, window.line(), _UNCLOSED)
        if (yield from _element(window, source)):
            continue
        char = window.peek()
        if char == "]":
            window.skip()
            return
        if char is None:
            raise InputError(source, window.line(), _UNCLOSED)
        if char == ",":
            window.skip()
        else:
            # The next element is read as if the comma were there: nothing is lost.
            yield InputError(source, window.line(), "invalid JSON: Expecting ',' delimiter")


def _element(window: _Window, source: str) -> Generator[Story | InputError, None, bool]:
    """The story of the next value, or the error that costs it; True if the value was not
    valid JSON and reading resumed at the start of a later one."""
    start = window.offset()
    try:
        value, line = window.value()
    except InputError as error:
        # The window is still at the broken value's start.
        indent = window.indent()
        damage = window.take_damage(line=error.line)
        yield from (d.error for d in damage if d.offset < start)
        # A damaged line in the broken value most likely broke it, and says more.
        cause = next((d.error for d in damage if d.offset >= start), error)
        if indent is None or not window.resume_at(indent):
            raise cause from None
        yield cause
        return True
    damage = window.take_damage(window.offset())
    yield from (d.error for d in damage if d.offset < start)
    within = [d.error for d in damage if d.offset >= start]
    yield within[0] if within else _story(value, line, source)
    return False


def _story(value: Any, line: int, source: str) -> Story | InputError:
    if not isinstance(value, dict):
        return InputError(source, line, f"expected a JSON object, got {describe(value)}")
    return story_from_record(value, source, line)
