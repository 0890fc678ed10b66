"""The HTML report: one self-contained file that a person opens in a browser, or gets by e-mail.

The page leads with a summary and two small charts (group sizes, match scores; inline SVG drawn
here), then lists the groups, largest first: each member with its title, source, date, link,
relation and score, two members side by side with their shared passages marked in both texts, and
the evidence in words. Topics follow, collapsed. The reader filters by relation and source,
searches titles and texts, and sorts by size, score or date.

A scan of 100,000 stories has thousands of groups: the page would take minutes to build every
panel, so the groups travel as JSON data and the page's script builds the panels that are shown,
a page at a time, as the reader scrolls or filters.

Story text is data, never markup:

- it reaches the page only inside ``<script type="application/json">``, with every ``<``, ``>``
  and ``&`` written as a JSON escape, so no text (``</script>`` included) can end that element;
- the page's script puts it in the page as text nodes, never as HTML, and keeps a link only when
  it is http(s) (checked here and again there);
- a Content Security Policy lets run only the page's own script and style, named by their hashes,
  and fetch nothing at all: an injected ``<script>`` or ``onerror=`` would not run, and the file
  works offline.

Jinja2 (autoescaping on) renders ``templates/report.html.j2``; it is imported only here, and this
module only when HTML is written, so that ``dedupe check`` starts as fast as before.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib.resources import files
from typing import Any, TextIO
from urllib.parse import urlsplit

from jinja2 import Environment, PackageLoader
from markupsafe import Markup

from dedupe import __version__
from dedupe.report import pairs_by_group
from dedupe.story import Evidence, Pair, Report, Story, Verdict

# A story's text in the page is cut here: a feed can hold a whole report pasted into one item
# (ingest keeps two million characters), and no reader compares that side by side. The shared
# passages come from the first few thousand words anyway (``verify._PASSAGE_WINDOW``).
MAX_TEXT_CHARS = 100_000
# The bins of the charts: group sizes (a bin is its lowest size), and match scores by tenths.
SIZE_BINS = (2, 3, 4, 5, 6, 11, 21, 51)
SCORE_BINS = 10
# Anything in a link that a browser would drop or act on (spaces, controls): such a link is
# refused whole rather than cleaned into something else.
_URL_UNSAFE = re.compile(r"[\x00-\x20\x7f-\x9f]")

RELATION_WORDS = {
    "exact": "the same text once case, punctuation and spacing are set aside",
    "near-duplicate": "the same text with small edits",
    "syndicated": "a rewrite, re-transmission, correction or partial copy of the same story",
    "teaser": "a short excerpt or paraphrase of the lead of the other",
}


@dataclass(frozen=True, slots=True)
class Bar:
    """One bar of a chart: its label and count, and where it stands in the chart's SVG units."""

    label: str
    count: int
    tip: str = ""
    x: float = 0
    y: float = 0
    width: float = 0
    height: float = 0


# The charts' geometry, in SVG units: bars rise from ``_BASE`` to at most ``_TALLEST`` high, with
# room above for the counts and below for the labels.
_CHART_WIDTH, _BASE, _TALLEST = 360, 118, 96
# A chart of a few bars keeps them narrow, rather than one bar across the whole chart.
_WIDEST_STEP = 48


def write_report_html(report: Report, out: TextIO, *, skipped: int = 0) -> None:
    """The report of a scan as one HTML page. ``report.texts`` holds the texts shown side by
    side (``Detector.scan(texts=True)``); without them the page shows titles only."""
    grouped = sum(len(group.members) for group in report.groups)
    by_relation = Counter(group.relation for group in report.groups)
    largest = sorted(report.groups, key=lambda group: -len(group.members))[:5]
    summary = [
        ("Stories read", _count(report.stories, "story", "stories")),
        ("Skipped", _count(skipped, "bad record", "bad records")),
        ("Folded in", _count(report.folded, "repeated record", "repeated records")),
        ("Groups", f"{len(report.groups):,}" + _kinds(by_relation)),
        ("Stories in groups", f"{grouped:,}"),
        ("Topics", f"{len(report.topics):,}"),
    ]
    largest_lines = [
        f"{group.id}: {_count(len(group.members), 'story', 'stories')}, "
        f"{report.titles.get(group.canonical, group.canonical)}"
        for group in largest
    ]
    scores = [m.score for g in report.groups for m in g.members[1:] if m.score is not None]
    _render(
        out,
        kind="scan",
        heading="Copies, rewrites and teasers",
        summary=summary,
        largest=largest_lines,
        charts=[
            _chart("Group sizes", "stories in a group", _size_bars(report)),
            _chart("Match scores", "score of each copy", _score_bars(scores)),
        ],
        data=_scan_data(report),
        missing_texts=bool(report.groups) and not report.texts,
    )


def write_verdicts_html(
    verdicts: Sequence[Verdict],
    out: TextIO,
    *,
    drafts: Sequence[Story] = (),
    matched: Sequence[Story] = (),
) -> None:
    """The verdicts of ``dedupe check`` as one HTML page: each draft beside the published stories
    it copies. ``drafts`` are the stories checked, in the order of ``verdicts``; ``matched`` the
    stored stories the verdicts name (``Detector.stored``)."""
    published = sum(verdict.is_duplicate for verdict in verdicts)
    summary = [
        ("Drafts checked", f"{len(verdicts):,}"),
        ("Already published", f"{published:,}"),
        ("New", f"{len(verdicts) - published:,}"),
    ]
    scores = [match.score for verdict in verdicts for match in verdict.matches]
    _render(
        out,
        kind="check",
        heading="Was it already published?",
        summary=summary,
        largest=[],
        charts=[_chart("Match scores", "score of each match", _score_bars(scores))]
        if scores
        else [],
        data=_check_data(verdicts, drafts, matched),
        missing_texts=False,
    )


def evidence_words(relation: str, evidence: Evidence, shorter: str = "shorter story") -> list[str]:
    """Why a pair is a copy, as a person says it: what kind of copy, how much wording the two
    share, whether their titles, numbers and names agree, how far apart they were published.
    ``shorter`` names the story that the containment is measured on (the teaser, the copy)."""
    words = [f"{relation.capitalize()}: {RELATION_WORDS.get(relation, relation)}."]
    if relation != "exact":
        words.append(
            f"Shares {evidence.containment:.0%} of the {shorter}'s wording; "
            f"{evidence.jaccard:.0%} of the wording of both together."
        )
        words.append(f"Titles {evidence.title_similarity:.0f}% alike.")
        facts = _facts_words(evidence.number_agreement, evidence.name_agreement)
        if facts:
            words.append(facts)
    if evidence.days_apart is not None:
        words.append(_days_words(evidence.days_apart))
    return words


def safe_url(url: str | None) -> str | None:
    """``url`` if it is an http(s) link to somewhere, else None: a ``javascript:`` or ``data:``
    link in a feed would run or show whatever its author wrote when clicked."""
    if not url or _URL_UNSAFE.search(url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    return url if parts.scheme.lower() in ("http", "https") and parts.netloc else None


def script_json(data: Any) -> Markup:
    """``data`` as JSON to place inside ``<script type="application/json">``: ``<``, ``>`` and
    ``&`` as escapes, so that no string in it can close the element or open a comment, and
    JSON.parse still reads back the very text."""
    text = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    escaped = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(escaped)


def _facts_words(numbers: float | None, names: float | None) -> str:
    if numbers is None or names is None:
        return ""
    if numbers == 1 and names == 1:
        return "Numbers and names agree."
    parts = [
        "numbers agree" if numbers == 1 else f"{numbers:.0%} of the numbers agree",
        "names agree" if names == 1 else f"{names:.0%} of the names agree",
    ]
    return parts[0].capitalize() + "; " + parts[1] + "."


def _days_words(days: float) -> str:
    hours = days * 24
    if hours < 1:
        return "Published within the hour."
    if days < 1:
        return f"Published {_count(round(hours), 'hour', 'hours')} apart."
    shown = f"{days:.1f}" if days < 10 else f"{days:,.0f}"
    return f"Published {shown} days apart."


def _kinds(by_relation: Counter[str]) -> str:
    kinds = ", ".join(f"{n:,} {relation}" for relation, n in sorted(by_relation.items()))
    return f" ({kinds})" if kinds else ""


def _count(number: int, one: str, many: str) -> str:
    return f"{number:,} {one if number == 1 else many}"


def _story_record(story: Story) -> dict[str, Any]:
    """What the page shows of a story, under short keys: at 100,000 stories every byte of a key
    is repeated tens of thousands of times."""
    text = story.body or story.title
    record: dict[str, Any] = {"t": story.title, "x": text[:MAX_TEXT_CHARS]}
    if len(text) > MAX_TEXT_CHARS:
        record["cut"] = MAX_TEXT_CHARS
    for key, value in (
        ("s", story.source),
        ("d", story.published),
        ("u", safe_url(story.url)),
    ):
        if value:
            record[key] = value
    return record


def _pair_record(pair: Pair, shorter: str) -> dict[str, Any]:
    return {
        "a": pair.a,
        "b": pair.b,
        "relation": pair.relation,
        "score": round(pair.score, 3),
        "shared": list(pair.evidence.shared),
        "words": evidence_words(pair.relation, pair.evidence, shorter),
    }


def _scan_data(report: Report) -> dict[str, Any]:
    stories: dict[str, dict[str, Any]] = {}
    for story_id, story in report.texts.items():
        stories[story_id] = _story_record(story)
    for story_id in _listed_ids(report):
        stories.setdefault(story_id, {"t": report.titles.get(story_id, "")})
    pairs_of = pairs_by_group(report)
    groups = [
        {
            "id": group.id,
            "relation": group.relation,
            "canonical": group.canonical,
            "members": [_member_record(m.id, m.relation, m.score) for m in group.members],
            "pairs": [
                _pair_record(pair, "teaser" if pair.relation == "teaser" else "copy")
                for pair in pairs_of[group.id]
            ],
        }
        for group in report.groups
    ]
    topics = [
        {"id": topic.id, "label": topic.label, "members": list(topic.members)}
        for topic in report.topics
    ]
    return {"kind": "scan", "stories": stories, "groups": groups, "topics": topics}


def _listed_ids(report: Report) -> Iterable[str]:
    for group in report.groups:
        yield from (member.id for member in group.members)
    for topic in report.topics:
        yield from topic.members


def _member_record(
    story_id: str, relation: str, score: float | None, key: str | None = None
) -> dict[str, Any]:
    record: dict[str, Any] = {"id": story_id, "relation": relation}
    if score is not None:
        record["score"] = round(score, 3)
    if key is not None:
        record["key"] = key
    return record


def _check_data(
    verdicts: Sequence[Verdict], drafts: Sequence[Story], matched: Sequence[Story]
) -> dict[str, Any]:
    """Each verdict as a group whose first member is the draft and the rest its matches. A
    draft may share its id with a stored story (a story checked again), so the page's stories
    are keyed apart: ``draft:N`` for the N-th draft, ``stored:ID`` for a stored one."""
    stories: dict[str, dict[str, Any]] = {}
    for story in matched:
        stories[f"stored:{story.id}"] = _story_record(story)
    groups = []
    for number, verdict in enumerate(verdicts):
        draft_key = f"draft:{number}"
        draft = drafts[number] if number < len(drafts) else None
        stories[draft_key] = _story_record(draft) if draft is not None else {"t": verdict.story_id}
        if draft is not None and draft.origin:
            stories[draft_key]["o"] = draft.origin
        members = [_member_record(verdict.story_id, "draft", None, draft_key)]
        pairs = []
        for match in verdict.matches:
            stored_key = f"stored:{match.story_id}"
            stories.setdefault(stored_key, {"t": match.title})
            members.append(_member_record(match.story_id, match.relation, match.score, stored_key))
            pairs.append(
                {
                    "a": stored_key,
                    "b": draft_key,
                    "relation": match.relation,
                    "score": round(match.score, 3),
                    "shared": list(match.evidence.shared),
                    "words": evidence_words(match.relation, match.evidence),
                }
            )
        groups.append(
            {
                "id": verdict.story_id,
                "relation": "already published" if verdict.is_duplicate else "new",
                "canonical": draft_key,
                "members": members,
                "pairs": pairs,
            }
        )
    return {"kind": "check", "stories": stories, "groups": groups, "topics": []}


def _size_bars(report: Report) -> list[Bar]:
    sizes = [len(group.members) for group in report.groups]
    if not sizes:
        return []
    in_bin = Counter(bisect_right(SIZE_BINS, size) - 1 for size in sizes)
    bars = []
    for number, low in enumerate(low for low in SIZE_BINS if low <= max(sizes)):
        high = SIZE_BINS[number + 1] - 1 if number + 1 < len(SIZE_BINS) else None
        label = str(low) if high == low else f"{low}+" if high is None else f"{low}–{high}"
        count = in_bin[number]
        bars.append(Bar(label, count, f"{label} stories: {_count(count, 'group', 'groups')}"))
    return bars


def _score_bars(scores: Sequence[float]) -> list[Bar]:
    if not scores:
        return []
    counts = Counter(min(int(score * SCORE_BINS), SCORE_BINS - 1) for score in scores)
    return [
        Bar(
            f"{n / SCORE_BINS:.1f}",
            counts.get(n, 0),
            f"score {n / SCORE_BINS:.1f} to {(n + 1) / SCORE_BINS:.1f}: {counts.get(n, 0):,}",
        )
        for n in range(SCORE_BINS)
    ]


def _chart(title: str, axis: str, bars: list[Bar]) -> dict[str, Any]:
    """A bar chart, laid out: bars share the width, and the tallest reaches ``_TALLEST``."""
    top = max((bar.count for bar in bars), default=0)
    step = min(_CHART_WIDTH / max(len(bars), 1), _WIDEST_STEP)
    placed = [
        Bar(
            bar.label,
            bar.count,
            bar.tip,
            x=round(number * step + step * 0.1, 1),
            y=round(_BASE - _TALLEST * bar.count / top, 1) if top else _BASE,
            width=round(step * 0.8, 1),
            height=round(_TALLEST * bar.count / top, 1) if top else 0,
        )
        for number, bar in enumerate(bars)
    ]
    return {"title": title, "axis": axis, "bars": placed, "width": _CHART_WIDTH, "base": _BASE}


def _asset(name: str) -> str:
    return files("dedupe").joinpath("templates", name).read_text("utf-8")


def _digest(text: str) -> str:
    """A CSP source naming exactly this inline script or style."""
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def _render(out: TextIO, **context: Any) -> None:
    script, style = _asset("report.js"), _asset("report.css")
    policy = (
        f"default-src 'none'; script-src {_digest(script)}; style-src {_digest(style)}; "
        "base-uri 'none'; form-action 'none'"
    )
    environment = Environment(
        loader=PackageLoader("dedupe", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    page = environment.get_template("report.html.j2").render(
        policy=policy,
        # Our own files, shipped in the package: the page's code, not story text.
        script=Markup(script),
        style=Markup(style),
        data=script_json(context.pop("data")),
        version=__version__,
        **context,
    )
    out.write(page)
