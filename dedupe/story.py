"""Stories and the results the detector gives about them.

These are the data contracts of ``../shared/DESIGN.md``: every stage, the CLI, the crawlers and the
benchmarks exchange these types and nothing else.
"""

from __future__ import annotations

import hashlib
import json
import math
import operator
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Literal

import numpy as np

Relation = Literal["exact", "near-duplicate", "syndicated", "teaser"]
MemberRelation = Literal["original", "exact", "near-duplicate", "syndicated", "teaser"]

STORY_FIELDS = ("id", "title", "body", "url", "source", "published", "language")


def published_text(value: object) -> str | None:
    """``published`` as the ISO 8601 text a story keeps: from a ``datetime`` (an aware one in
    UTC, "...Z"), a ``date``, or ISO 8601 text, which is kept as written.

    A crawler hands over whatever its feed library parsed; a date that is not one ("yesterday")
    would silently make the story undated, so it is refused instead.

    Raises:
        ValueError: anything else, or a moment that UTC cannot hold (year 1 or 9999 at the edge).
    """
    if value is None:
        return None
    if isinstance(value, datetime):
        moment, written = value, None
    elif isinstance(value, date):
        return value.isoformat()
    elif isinstance(value, str):
        written = value.strip()
        if not written:
            return None
        try:
            moment = datetime.fromisoformat(written)
        except ValueError:
            raise ValueError(f"published is not an ISO 8601 date: {value!r}") from None
    else:
        raise ValueError(
            f"published must be a datetime, a date or ISO 8601 text, not {type(value).__name__}"
        )
    try:
        in_utc = moment.astimezone(UTC) if moment.tzinfo is not None else moment
    except OverflowError:
        raise ValueError(f"published is outside the calendar in UTC: {value!r}") from None
    if written is not None:
        return written
    return in_utc.isoformat().replace("+00:00", "Z")


def story_id_for(url: str | None, title: str, body: str) -> str:
    """A deterministic id: from the url when there is one, else from the content.

    A url names the same story across re-crawls even when its text changed; without one, the
    content is all that identifies it.
    """
    if url:
        return "u-" + hashlib.blake2b(url.strip().encode("utf-8"), digest_size=8).hexdigest()
    content = f"{title.strip()}\n{body.strip()}".encode()
    return "c-" + hashlib.blake2b(content, digest_size=8).hexdigest()


@dataclass(frozen=True, slots=True)
class Story:
    """One news item. ``extra`` keeps unknown input fields so they pass through untouched.

    ``published`` may be given as a ``datetime`` or ``date`` too; it is kept as ISO 8601 text.
    ``origin`` says where the story was read ("feed.jsonl:12"), for messages only.
    ``id_from_content`` is true when no id or url named the story: identical records are then
    distinct stories, not one story read twice.

    Raises:
        TypeError: a text field holds something else (a number as a title).
        ValueError: ``published`` is not a date.
    """

    id: str = ""
    title: str = ""
    body: str = ""
    url: str | None = None
    source: str | None = None
    published: str | None = None
    language: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)
    origin: str | None = field(default=None, compare=False)
    id_from_content: bool = field(default=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        for name in ("id", "title", "body"):
            if not isinstance(getattr(self, name), str):
                raise TypeError(f"{name} must be text, not {type(getattr(self, name)).__name__}")
        for name in ("url", "source", "language"):
            if not isinstance(getattr(self, name), str | None):
                raise TypeError(
                    f"{name} must be text or None, not {type(getattr(self, name)).__name__}"
                )
        object.__setattr__(self, "published", published_text(self.published))
        if not self.id:
            object.__setattr__(self, "id", story_id_for(self.url, self.title, self.body))
            object.__setattr__(self, "id_from_content", not self.url)

    @classmethod
    def checked(
        cls,
        id: str,
        title: str,
        body: str,
        url: str | None,
        source: str | None,
        published: str | None,
        language: str | None,
        extra: dict[str, Any],
        origin: str | None,
    ) -> Story:
        """A story from fields its maker has checked as ``__init__`` would (texts are text,
        ``published`` is ISO 8601 as ``published_text`` keeps it): the input readers, which check
        every record themselves. Checking again cost a fifth of reading a large corpus."""
        from_content = not id and not url
        if not id:
            id = story_id_for(url, title, body)
        values = (id, title, body, url, source, published, language, extra, origin, from_content)
        return _restored(*values)

    def published_at(self) -> datetime | None:
        """``published`` as an aware UTC moment (a naive one taken as UTC); None when missing."""
        if not self.published:
            return None
        moment = datetime.fromisoformat(self.published)
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)

    def __reduce__(self) -> tuple:
        # A dataclass with slots pickles through its fields() at every story; as a tuple of its
        # values, a batch pickles and unpickles in a third of the time. The values were checked
        # when the story was made.
        return (_restored, _values(self))

    def to_dict(self) -> dict[str, Any]:
        """The story as the JSONL/CSV record it came from: known fields, then the unknown ones."""
        record: dict[str, Any] = {name: getattr(self, name) for name in STORY_FIELDS}
        record = {k: v for k, v in record.items() if v is not None}
        record.update({k: v for k, v in self.extra.items() if k not in record})
        return record


def _rounded(value: float, digits: int) -> float:
    """A measure as the JSON report writes it. NaN and infinity are refused here, where every
    number of a report or verdict passes: JSON has no way to write them (Python would write
    ``NaN``, which every strict reader refuses, and a fast encoder ``null``, which says nothing)."""
    if not math.isfinite(value):
        raise ValueError(f"Out of range float values are not JSON compliant: {value!r}")
    return round(float(value), digits)


def _rounded_column(values: Sequence[float | None], digits: int) -> list[float | None]:
    """``_rounded`` of each value, None kept: a report's measures a column at a time. numpy
    scales and rounds them all, which gives Python's correctly rounded result except where a
    scaled value lies within a hair of a half (the scaling's own error could tip it): those few
    are rounded by Python."""
    kept = [value for value in values if value is not None]
    array = np.array(kept, dtype=np.float64)
    finite = np.isfinite(array)
    if not finite.all():
        _rounded(kept[int(np.argmin(finite))], digits)
    scaled = array * 10.0**digits
    rounded = (np.rint(scaled) / 10.0**digits).tolist()
    for k in np.flatnonzero(np.abs(scaled - np.floor(scaled) - 0.5) < 1e-6).tolist():
        rounded[k] = round(kept[k], digits)
    if len(kept) == len(values):
        return rounded
    given = iter(rounded)
    return [None if value is None else next(given) for value in values]


_SLOTS = (*STORY_FIELDS, "extra", "origin", "id_from_content")
_values = operator.attrgetter(*_SLOTS)
# Each slot's own setter: a frozen story's fields set without ``object.__setattr__`` looking
# each name up again, half the cost of making a story (every record read makes one).
_SETTERS = tuple(Story.__dict__[name].__set__ for name in _SLOTS)


def _restored(*values: Any) -> Story:
    story = object.__new__(Story)
    for setter, value in zip(_SETTERS, values, strict=True):
        setter(story, value)
    return story


@dataclass(frozen=True, slots=True)
class Evidence:
    """Why a pair was accepted, measured on the stories' real sets. ``days_apart`` is the time
    between the two publications, when both are dated. ``number_agreement`` and
    ``name_agreement``: the share of the facts (numbers, names) of the story reporting fewer that
    the other reports too; None for exact copies, which are never measured."""

    title_similarity: float
    containment: float
    jaccard: float
    shared: tuple[str, ...] = ()
    days_apart: float | None = None
    number_agreement: float | None = None
    name_agreement: float | None = None

    def to_dict(self) -> dict[str, Any]:
        record: dict[str, Any] = {
            "title_similarity": _rounded(self.title_similarity, 1),
            "containment": _rounded(self.containment, 3),
            "jaccard": _rounded(self.jaccard, 3),
            "shared": list(self.shared),
        }
        if self.days_apart is not None:
            record["days_apart"] = _rounded(self.days_apart, 2)
        for name in ("number_agreement", "name_agreement"):
            if getattr(self, name) is not None:
                record[name] = _rounded(getattr(self, name), 3)
        return record


@dataclass(frozen=True, slots=True)
class Pair:
    """An accepted relation between two stories: ``a`` the fuller one, ``b`` the copy or teaser."""

    a: str
    b: str
    relation: Relation
    score: float
    evidence: Evidence

    def to_dict(self) -> dict[str, Any]:
        return {
            "a": self.a,
            "b": self.b,
            "relation": self.relation,
            "score": _rounded(self.score, 3),
            "evidence": self.evidence.to_dict(),
        }


@dataclass(frozen=True, slots=True)
class Member:
    id: str
    relation: MemberRelation
    score: float | None = None

    def to_dict(self) -> dict[str, Any]:
        record: dict[str, Any] = {"id": self.id, "relation": self.relation}
        if self.score is not None:
            record["score"] = _rounded(self.score, 3)
        return record


@dataclass(frozen=True, slots=True)
class Group:
    """Copies of one story. ``relation`` is "duplicate" when every member is an exact or
    near-duplicate copy, "syndicated" otherwise."""

    id: str
    relation: Literal["duplicate", "syndicated"]
    canonical: str
    members: tuple[Member, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "relation": self.relation,
            "canonical": self.canonical,
            "members": [m.to_dict() for m in self.members],
        }


@dataclass(frozen=True, slots=True)
class Topic:
    id: str
    label: str
    members: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "label": self.label, "members": list(self.members)}


@dataclass(frozen=True, slots=True)
class Match:
    """A stored story that the checked story copies or is copied by."""

    story_id: str
    relation: Relation
    score: float
    evidence: Evidence
    title: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.story_id,
            "title": self.title,
            "relation": self.relation,
            "score": _rounded(self.score, 3),
            "evidence": self.evidence.to_dict(),
        }


@dataclass(frozen=True, slots=True)
class Verdict:
    """The answer to "was this already published?" for one story."""

    story_id: str
    matches: tuple[Match, ...] = ()

    @property
    def is_duplicate(self) -> bool:
        return bool(self.matches)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.story_id,
            "verdict": "duplicate" if self.is_duplicate else "new",
            "matches": [m.to_dict() for m in self.matches],
        }

    def to_json(self) -> str:
        """The verdict as one JSON object, as ``dedupe check --format json`` writes it."""
        return json.dumps(self.to_dict(), ensure_ascii=False, allow_nan=False)


@dataclass(frozen=True, slots=True)
class Report:
    """The result of a batch scan (JSON report version 1).

    ``folded`` counts the records that repeated another's id (or url) with the very same fields,
    such as one feed fetched twice: they are one story, but a reader must see that they were read.
    """

    stories: int
    groups: tuple[Group, ...]
    pairs: tuple[Pair, ...]
    topics: tuple[Topic, ...] = ()
    folded: int = 0
    # Every scanned story's id and title, in id order: the table and CSV list each story once.
    titles: dict[str, str] = field(default_factory=dict, compare=False)
    # The grouped stories themselves, by id, when the scan was asked for them
    # (``Detector.scan(texts=True)``): the HTML report shows their texts side by side. Not JSON.
    texts: dict[str, Story] = field(default_factory=dict, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": 1,
            "stories": self.stories,
            "folded": self.folded,
            "groups": [g.to_dict() for g in self.groups],
            "pairs": _pair_records(self.pairs),
            "topics": [t.to_dict() for t in self.topics],
        }

    def to_json(self) -> str:
        """The report as one JSON object, as ``dedupe scan --format json`` writes it."""
        return json.dumps(self.to_dict(), ensure_ascii=False, allow_nan=False)


def _pair_records(pairs: Sequence[Pair]) -> list[dict[str, Any]]:
    """``Pair.to_dict`` of every pair of a report: each measure rounded a column at a time
    (``_rounded_column``), where rounding one number at a time was most of writing a report."""
    evidence = [pair.evidence for pair in pairs]
    columns = (
        _rounded_column([pair.score for pair in pairs], 3),
        _rounded_column([e.title_similarity for e in evidence], 1),
        _rounded_column([e.containment for e in evidence], 3),
        _rounded_column([e.jaccard for e in evidence], 3),
        _rounded_column([e.days_apart for e in evidence], 2),
        _rounded_column([e.number_agreement for e in evidence], 3),
        _rounded_column([e.name_agreement for e in evidence], 3),
    )
    records = []
    for pair, e, score, title, contained, jaccard, days, numbers, names in zip(
        pairs, evidence, *columns, strict=True
    ):
        found: dict[str, Any] = {
            "title_similarity": title,
            "containment": contained,
            "jaccard": jaccard,
            "shared": list(e.shared),
        }
        if days is not None:
            found["days_apart"] = days
        if numbers is not None:
            found["number_agreement"] = numbers
        if names is not None:
            found["name_agreement"] = names
        record = {"a": pair.a, "b": pair.b, "relation": pair.relation, "score": score}
        records.append({**record, "evidence": found})
    return records
