"""Plain text: the whole input is one story, a draft or a saved article."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from ..story import Story
from .errors import InputError
from .records import MAX_BODY_CHARS, build_story
from .source import Line


def read_text(source: str, lines: Iterable[Line]) -> Iterator[Story | InputError]:
    """One story: the first non-blank line is its title, the rest its body."""
    title: str | None = None
    body: list[str] = []
    chars = 0
    for line in lines:
        if line.problem:
            yield InputError(source, line.number, line.problem)
            return
        if title is None:
            title = line.text.strip() or None
            continue
        body.append(line.text.rstrip("\r\n"))
        chars += len(line.text)
        if chars > MAX_BODY_CHARS:
            break  # the rest would be cut anyway
    yield build_story(source, None, title=title or "", body="\n".join(body))
