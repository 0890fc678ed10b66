"""Scraped feed pages: the text of a news site's listing page, as in ``seeds/feed-page.txt``.

Such a page holds an optional "Category: X" line, then stories one after another. A story's first
line is its title and the lines after it its text. A full article ends with a "Source Link"
line; a teaser is introduced by a "Read more" link that, with the markup gone, runs straight into
the teaser's title ("Read moreAverage net salary in May ..."), and its text is usually cut off
with "[…]", which is kept as the mark of a truncated story. A full article may follow "Read more"
too. The link lines are page furniture, never part of a story.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from ..story import Story
from .errors import InputError
from .records import MAX_BODY_CHARS, build_story
from .source import Line

_CATEGORY = re.compile(r"category:\s*(?P<name>\S.*)", re.IGNORECASE)
_READ_MORE = "read more"
# What may stand between the link and the title: arrows, dashes, ellipses, separators.
_LINK_DECORATION = " \t:»›→|-–—….>"


def read_more_title(line: str) -> str | None:
    """The title a "Read more" link runs into, "" for a bare link, None for any other line.

    A continuation in lower case is a sentence ("Read more about the reform..."), not a link.
    """
    text = line.strip()
    if text[: len(_READ_MORE)].lower() != _READ_MORE:
        return None
    title = text[len(_READ_MORE) :].lstrip(_LINK_DECORATION)
    return None if title[:1].islower() else title


def is_source_link(line: str) -> bool:
    """True for the "Source Link" line that ends a full article."""
    return line.strip().lower() == "source link"


@dataclass
class _Draft:
    title: str
    line: int
    paragraphs: list[str] = field(default_factory=list)
    chars: int = 0
    problem: tuple[int, str] | None = None

    def add(self, text: str) -> None:
        if self.chars <= MAX_BODY_CHARS:
            self.paragraphs.append(text)
            self.chars += len(text) + 1


def read_page(source: str, lines: Iterable[Line]) -> Iterator[Story | InputError]:
    """The stories of a page, full articles and teasers alike, in page order."""
    category: str | None = None
    draft: _Draft | None = None
    at_top = True
    for line in lines:
        text = line.text.strip()
        if not text:
            continue
        if at_top:
            at_top = False
            if match := _CATEGORY.fullmatch(text):
                category = match["name"].strip()
                continue
        title = read_more_title(text)
        if title is not None or is_source_link(text):
            if draft:
                yield _finish(draft, source, category)
            # A bare "Read more" leaves the title to the next line; the last one on a page
            # introduces nothing.
            draft = _Draft(title, line.number) if title else None
        elif draft is None:
            draft = _Draft(text, line.number)
        else:
            draft.add(text)
        if draft and line.problem and not draft.problem:
            draft.problem = (line.number, line.problem)
    if draft:
        yield _finish(draft, source, category)


def _finish(draft: _Draft, source: str, category: str | None) -> Story | InputError:
    if draft.problem:
        return InputError(source, *draft.problem)
    return build_story(
        source,
        draft.line,
        title=draft.title,
        body="\n".join(draft.paragraphs),
        extra={"category": category} if category else None,
    )
