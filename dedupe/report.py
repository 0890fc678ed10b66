"""Report: a scan's results as a table or an HTML page for people, and as JSON, JSONL or CSV for
programs.

- ``json`` is exactly ``Report.to_dict()``, the version 1 schema of DESIGN.md.
- ``jsonl`` is one group per line: the group's dict plus a ``pairs`` list of the accepted pairs
  inside that group, so each line carries its own evidence and can be handled alone. Stories in no
  group, topics, and pairs whose stories ended up in different groups are not in it; use ``json``
  for the whole report.
- ``csv`` is one row per scanned story, in the report's id order, with its group, its relation in
  the group, the group's canonical story and its topic (empty where there is none). Topics are
  made of canonicals, each standing for its group, so a group's copies get their canonical's topic:
  filtering the CSV by topic shows every story about it. A text cell that starts like a formula
  (``=``, ``+``, ``-``, ``@``, a tab or a carriage return), as a story's id or title may, gets a
  leading ``'`` so that a spreadsheet shows it instead of running it: OWASP's advice against CSV
  injection. JSON keeps the text exact.
- ``table`` is for a terminal: a summary first (stories, groups by relation, stories in groups,
  topics, the largest groups), then the largest groups, each member with its title and the
  evidence of its pair on lines of their own, then the largest topics; ``limit`` of each (0: all),
  as wide as the terminal or ``COLUMNS``. Story text is shown, never obeyed: control characters
  a terminal would act on are shown as ``\\xNN`` escapes, and rich markup in it stays literal.
- ``html`` is one self-contained page for a browser (``dedupe.report_html``): the summary with
  charts, each group's stories side by side with their shared passages marked, the topics.

Verdicts of ``dedupe check`` use the same formats: ``json`` is always
``{"version": 1, "verdicts": [...]}`` so a reader never has to ask whether it got one verdict or a
list; ``jsonl`` is one verdict per line; ``csv`` one row per (story, match), with one row with empty
match columns for a story that is new.
"""

from __future__ import annotations

import csv
import errno
import json
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from typing import Any, TextIO

import orjson
from rich.console import Console, RenderableType
from rich.console import Group as Stack
from rich.padding import Padding
from rich.text import Text

from .story import Evidence, Group, Pair, Report, Story, Topic, Verdict

FORMATS = ("table", "json", "jsonl", "csv", "html")

STORY_COLUMNS = ("id", "title", "group", "relation", "canonical", "topic")
VERDICT_COLUMNS = (
    "id",
    "verdict",
    "match",
    "match_title",
    "relation",
    "score",
    "title_similarity",
    "containment",
    "jaccard",
    "shared",
)
# "\n", not the csv module's "\r\n": ``out`` is a text stream that already translates newlines for
# its platform, and "\r\n" through it would become "\r\r\n" on Windows.
_CSV_LINE_END = "\n"
# Shared passages in one CSV cell: a newline inside a cell is valid CSV but breaks line-based tools.
_PASSAGE_SEPARATOR = " | "
# Piped or redirected tables without ``COLUMNS`` keep a fixed, readable width instead of rich's
# 80-column fallback; below ``_MIN_WIDTH`` an indented title has no room left.
_PIPED_WIDTH = 120
_MIN_WIDTH = 40
# The table's default: two screens of groups and topics, not a 30,000-line scroll of a 20k scan.
TABLE_LIMIT = 20
_LARGEST_IN_SUMMARY = 5
# Members and topic stories listed under each (all of them with ``limit`` 0): one boilerplate
# group of a thousand copies must not fill the screen alone.
_MEMBERS_SHOWN = 10
# Characters of a shared passage in the table: two lines at 80 columns; the formats for programs
# keep it whole.
_PASSAGE_SHOWN = 140
# What a terminal acts on instead of showing: C0 controls, DEL and C1 (U+009B alone starts a
# control sequence). In a story's text they could clear the screen, retitle the window or hide
# lines; rich strips only a few of them (BEL, CR, ...), never ESC.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# OWASP's list of the first characters that make a spreadsheet run a cell as a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def write_report(
    report: Report, fmt: str, out: TextIO, *, limit: int = TABLE_LIMIT, skipped: int = 0
) -> None:
    """Write ``report`` to ``out`` in ``fmt``, one of ``FORMATS``. ``limit`` is how many groups
    and topics the table shows, largest first (0: all); the other formats hold them all.
    ``skipped``: the bad records reading skipped, for the summaries people read."""
    if fmt == "html":
        # Imported here: Jinja2 costs every other command its start-up time.
        from dedupe.report_html import write_report_html

        write_report_html(report, out, skipped=skipped)
        return
    writers = {**_REPORT_WRITERS, "table": partial(_report_table, limit=limit, skipped=skipped)}
    _writer(writers, fmt)(report, out)


def write_verdicts(
    verdicts: Sequence[Verdict],
    fmt: str,
    out: TextIO,
    *,
    drafts: Sequence[Story] = (),
    matched: Sequence[Story] = (),
) -> None:
    """Write the verdicts of ``dedupe check`` to ``out`` in ``fmt``, one of ``FORMATS``.
    ``drafts``, the stories checked, let the table name each by its title and file; ``matched``,
    the stored stories the verdicts name, let the HTML page show their texts."""
    if fmt == "html":
        from dedupe.report_html import write_verdicts_html

        write_verdicts_html(verdicts, out, drafts=drafts, matched=matched)
        return
    writers = {**_VERDICT_WRITERS, "table": partial(_verdicts_table, drafts=drafts)}
    _writer(writers, fmt)(verdicts, out)


def printable(text: str, keep: str = "\t\n") -> str:
    """``text`` with every control character but those in ``keep`` shown as a ``\\xNN`` escape:
    story text on a terminal is to be read, not obeyed."""
    return _CONTROL.sub(
        lambda found: found[0] if found[0] in keep else f"\\x{ord(found[0]):02x}", text
    )


def _writer(writers: dict[str, Callable[[Any, TextIO], None]], fmt: str) -> Callable[..., None]:
    try:
        return writers[fmt]
    except KeyError:
        raise ValueError(f"unknown format {fmt!r}: expected one of {', '.join(FORMATS)}") from None


# --- programs --------------------------------------------------------------------------------


def _write_json(record: dict[str, Any], out: TextIO) -> None:
    # Serialized whole before the first write: a refused NaN (below) leaves nothing half written.
    out.write(_json(record, indent=2))
    out.write("\n")


def _write_lines(records: Iterable[dict[str, Any]], out: TextIO) -> None:
    for record in records:
        out.write(_json(record))
        out.write("\n")


def _json(record: dict[str, Any], indent: int | None = None) -> str:
    """``record`` as JSON, by orjson (a 100k-story report in a twentieth of the time). NaN and
    infinity never reach it: the story types refuse them as they make the record. Text with a
    lone surrogate (from a program's story, never from input) is left to the standard library,
    whose output the stream then writes as escapes."""
    try:
        return orjson.dumps(record, option=orjson.OPT_INDENT_2 if indent else 0).decode()
    except TypeError:
        return json.dumps(record, indent=indent, ensure_ascii=False)


def _report_json(report: Report, out: TextIO) -> None:
    _write_json(report.to_dict(), out)


def _report_jsonl(report: Report, out: TextIO) -> None:
    pairs_of = pairs_by_group(report)
    _write_lines(
        (
            {**group.to_dict(), "pairs": [pair.to_dict() for pair in pairs_of[group.id]]}
            for group in report.groups
        ),
        out,
    )


def pairs_by_group(report: Report) -> dict[str, list[Pair]]:
    """Each group's pairs: those with both stories in it, in the report's pair order."""
    group_of = {member.id: group.id for group in report.groups for member in group.members}
    pairs_of: dict[str, list[Pair]] = {group.id: [] for group in report.groups}
    for pair in report.pairs:
        group_id = group_of.get(pair.a)
        if group_id is not None and group_of.get(pair.b) == group_id:
            pairs_of[group_id].append(pair)
    return pairs_of


def _report_csv(report: Report, out: TextIO) -> None:
    membership = {
        member.id: (group.id, member.relation, group.canonical)
        for group in report.groups
        for member in group.members
    }
    topic_of = {story_id: topic.id for topic in report.topics for story_id in topic.members}
    for group in report.groups:
        if group.canonical in topic_of:
            topic_of.update(dict.fromkeys((m.id for m in group.members), topic_of[group.canonical]))
    writer = csv.writer(out, lineterminator=_CSV_LINE_END)
    writer.writerow(STORY_COLUMNS)
    for story_id in _story_ids(report):
        group_id, relation, canonical = membership.get(story_id, ("", "", ""))
        title = report.titles.get(story_id, "")
        row = (story_id, title, group_id, relation, canonical, topic_of.get(story_id, ""))
        writer.writerow(_cells(row))


def _cells(row: Sequence[object]) -> list[object]:
    """A CSV row with each text cell that a spreadsheet would run as a formula behind a ``'``.

    Every text cell, not only the story's: the ones dedupe names itself (``g1``, ``teaser``)
    never start so. Numbers are dedupe's own scores, never negative, and stay numbers. A bare
    carriage return (old Mac line ends) becomes a newline: the csv module quotes a cell holding a
    newline, but not one holding only a carriage return, which readers then split into two rows.
    """
    return [_cell(cell) if isinstance(cell, str) else cell for cell in row]


def _cell(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return f"'{text}" if text.startswith(_FORMULA_START) else text


def _story_ids(report: Report) -> list[str]:
    """The stories of ``report.titles``, then any grouped or topical story it lacks.

    ``titles`` is optional on a hand-built Report; without the fallback its groups would vanish
    from the CSV.
    """
    listed = set(report.titles)
    unlisted = {m.id for g in report.groups for m in g.members if m.id not in listed}
    unlisted |= {s for t in report.topics for s in t.members if s not in listed}
    return [*report.titles, *sorted(unlisted)]


def _verdicts_json(verdicts: Sequence[Verdict], out: TextIO) -> None:
    _write_json({"version": 1, "verdicts": [verdict.to_dict() for verdict in verdicts]}, out)


def _verdicts_jsonl(verdicts: Sequence[Verdict], out: TextIO) -> None:
    _write_lines((verdict.to_dict() for verdict in verdicts), out)


def _verdicts_csv(verdicts: Sequence[Verdict], out: TextIO) -> None:
    writer = csv.writer(out, lineterminator=_CSV_LINE_END)
    writer.writerow(VERDICT_COLUMNS)
    for verdict in verdicts:
        decision = verdict.to_dict()["verdict"]
        if not verdict.matches:
            empty = [""] * (len(VERDICT_COLUMNS) - 2)
            writer.writerow(_cells((verdict.story_id, decision, *empty)))
        for match in verdict.matches:
            evidence = match.evidence.to_dict()
            row = (
                verdict.story_id,
                decision,
                match.story_id,
                match.title,
                match.relation,
                round(match.score, 3),
                evidence["title_similarity"],
                evidence["containment"],
                evidence["jaccard"],
                _PASSAGE_SEPARATOR.join(evidence["shared"]),
            )
            writer.writerow(_cells(row))


# --- people ----------------------------------------------------------------------------------


class _Console(Console):
    def on_broken_pipe(self) -> None:
        """A closed pipe reaches the caller as the error it is; rich would exit the program with
        status 1, which ``dedupe check`` gives to "already published"."""
        raise BrokenPipeError(errno.EPIPE, "Broken pipe")


def _printer(out: TextIO) -> Callable[..., None]:
    """Print to ``out``: in colour as wide as a terminal, or as plain text anywhere else, as wide
    as ``COLUMNS`` says (rich would take 80) and without the spaces rich pads each line with."""
    terminal = out.isatty()
    console = _Console(
        file=out,
        width=None if terminal else _piped_width(),
        color_system="auto" if terminal else None,
        highlight=False,
        emoji=False,
    )
    if terminal:
        return console.print

    def print_plain(renderable: RenderableType = "") -> None:
        with console.capture() as captured:
            console.print(renderable)
        out.write("".join(line.rstrip() + "\n" for line in captured.get().splitlines()))

    return print_plain


def _piped_width() -> int:
    columns = os.environ.get("COLUMNS", "")
    return int(columns) if columns.isdigit() and int(columns) >= _MIN_WIDTH else _PIPED_WIDTH


def _report_table(report: Report, out: TextIO, limit: int = TABLE_LIMIT, skipped: int = 0) -> None:
    """The summary, then the largest groups and topics, at most ``limit`` of each (0: all)."""
    show = _printer(out)
    groups = sorted(report.groups, key=lambda group: -len(group.members))
    topics = sorted(report.topics, key=lambda topic: -len(topic.members))
    show(_summary(report, groups, skipped))
    shown_groups, shown_topics = _first(groups, limit), _first(topics, limit)
    pairs_of = pairs_by_group(report)
    if shown_groups:
        show(_heading("Groups", len(shown_groups), len(groups)))
    for group in shown_groups:
        show(_group_lines(group, pairs_of[group.id], report.titles, limit))
    if shown_topics:
        show(_heading("Topics", len(shown_topics), len(topics)))
    canonical_of = {group.canonical: group for group in report.groups}
    for topic in shown_topics:
        show(_topic_lines(topic, report.titles, canonical_of, limit))
    hidden = [
        _count(len(items) - len(shown), f"more {one}", f"more {many}")
        for items, shown, one, many in (
            (groups, shown_groups, "group", "groups"),
            (topics, shown_topics, "topic", "topics"),
        )
        if len(items) > len(shown)
    ]
    if hidden:
        show(Text(f"… {' and '.join(hidden)}: --limit 0 shows all"))


def _first(items: Sequence[Any], limit: int) -> Sequence[Any]:
    return items if limit == 0 else items[:limit]


def _summary(report: Report, groups: Sequence[Group], skipped: int = 0) -> Text:
    """What the scan found, in a few lines: whatever follows is detail."""
    read = _count(report.stories, "story", "stories")
    if report.folded:
        read += f" ({_count(report.folded, 'repeated record', 'repeated records')} folded in)"
    if skipped:
        read += f", {_count(skipped, 'bad record', 'bad records')} skipped"
    lines = [("read", read)]
    grouped = sum(len(group.members) for group in groups)
    by_relation = Counter(group.relation for group in groups)
    kinds = ", ".join(f"{n:,} {relation}" for relation, n in sorted(by_relation.items()))
    lines.append(("groups", f"{len(groups):,}" + (f" ({kinds})" if kinds else "")))
    lines.append(("in groups", _count(grouped, "story", "stories")))
    lines.append(("topics", f"{len(report.topics):,}"))
    if groups:
        first, *rest = groups[:_LARGEST_IN_SUMMARY]
        largest = [f"{first.id} ({_count(len(first.members), 'story', 'stories')})"]
        largest += [f"{group.id} ({len(group.members):,})" for group in rest]
        lines.append(("largest", ", ".join(largest)))
    summary = Text()
    for label, value in lines:
        summary.append(f"{label:<11}", style="bold").append(value + "\n")
    return summary


def _heading(name: str, shown: int, total: int) -> Text:
    more = f" ({shown:,} of {total:,} shown)" if shown < total else ""
    return Text(f"{name}, largest first{more}", style="bold underline")


def _group_lines(group: Group, pairs: Sequence[Pair], titles: dict[str, str], limit: int) -> Stack:
    """A group: each member's id, relation and score, then, indented under it, its title and the
    evidence of its pair. Evidence on lines of its own stays legible at 80 columns, where
    columns of figures beside a title shrank to ``sc… 0.…``."""
    lines: list[Any] = [
        _text(
            f"{group.id}  {group.relation}, {_count(len(group.members), 'story', 'stories')}, "
            f"canonical {group.canonical}",
            style="bold",
        )
    ]
    pairs_of: dict[str, list[Pair]] = {}
    for pair in pairs:
        pairs_of.setdefault(pair.a, []).append(pair)
        pairs_of.setdefault(pair.b, []).append(pair)
    members = _first(group.members, _MEMBERS_SHOWN if limit else 0)
    for member in members:
        line = _text(f"  {member.id}  {member.relation}")
        if member.score is not None:
            line.append(f" {member.score:.2f}")
        own = pairs_of.get(member.id, [])
        pair = None if member.id == group.canonical else _pair_of(group.canonical, own)
        other = None if pair is None else pair.a if pair.b == member.id else pair.b
        if other is not None and other != group.canonical:
            line.append_text(_text(f" (with {other})"))
        lines.append(line)
        detail = [_text(titles.get(member.id, ""))]
        if pair is not None:
            detail.append(_evidence_line(pair.evidence))
        lines.append(Padding(Stack(*detail), (0, 0, 0, 6)))
    if len(members) < len(group.members):
        lines.append(_more(len(group.members) - len(members), indent="  "))
    return Stack(*lines, Text(""))


def _pair_of(canonical: str, own: Sequence[Pair]) -> Pair | None:
    """Of a member's ``own`` pairs, the one its relation and score come from: the one with the
    canonical, else its strongest (as the group stage chose them); None for an exact copy folded
    into another."""
    with_canonical = [pair for pair in own if canonical in (pair.a, pair.b)]
    if with_canonical:
        return with_canonical[0]
    return max(own, key=lambda pair: (pair.score, pair.a, pair.b), default=None)


def _evidence_line(evidence: Evidence) -> Text:
    """The measures in words, then the first shared passage: one is enough to see why."""
    measures = [
        f"title {evidence.title_similarity:.0f}",
        f"containment {evidence.containment:.2f}",
        f"jaccard {evidence.jaccard:.2f}",
    ]
    if evidence.days_apart is not None:
        measures.append(f"{evidence.days_apart:.1f} days apart")
    line = Text(", ".join(measures), style="dim")
    if evidence.shared:
        line.append(": ", style="dim").append_text(_text(f'"{_shortened(evidence.shared[0])}"'))
    return line


def _shortened(passage: str) -> str:
    """A passage cut at a word to a few lines: an exact copy shares its whole text."""
    if len(passage) <= _PASSAGE_SHOWN:
        return passage
    return passage[: _PASSAGE_SHOWN + 1].rsplit(" ", 1)[0] + " …"


def _topic_lines(
    topic: Topic, titles: dict[str, str], canonical_of: dict[str, Group], limit: int
) -> Stack:
    """A topic: its label and size, then its stories' titles; a canonical says which group it
    stands for."""
    heading = _text(f"{topic.id}  {topic.label}")
    heading.append(f"  ({_count(len(topic.members), 'story', 'stories')})")
    heading.stylize("bold")
    members = _first(topic.members, _MEMBERS_SHOWN if limit else 0)
    lines = []
    for story_id in members:
        line = f"{story_id}  {titles.get(story_id, '')}".rstrip()
        group = canonical_of.get(story_id)
        if group is not None:
            line += f"  ({group.id}, {_count(len(group.members), 'story', 'stories')})"
        lines.append(_text(line))
    if len(members) < len(topic.members):
        lines.append(_more(len(topic.members) - len(members)))
    return Stack(heading, Padding(Stack(*lines), (0, 0, 0, 2)), Text(""))


def _verdicts_table(verdicts: Sequence[Verdict], out: TextIO, drafts: Sequence[Story] = ()) -> None:
    """Each draft by its title and where it was read, its verdict, and the stories it copies
    with the evidence under each."""
    show = _printer(out)
    draft_of = {draft.id: draft for draft in drafts}
    for verdict in verdicts:
        draft = draft_of.get(verdict.story_id)
        line = _text(draft.title if draft is not None and draft.title else verdict.story_id)
        line.append("  ")
        if verdict.is_duplicate:
            line.append("ALREADY PUBLISHED", style="bold red")
        else:
            line.append("NEW", style="bold green")
        where = [verdict.story_id]
        if draft is not None and draft.origin:
            where.insert(0, draft.origin)
        lines: list[Any] = [line, Padding(_text(", ".join(where), style="dim"), (0, 0, 0, 2))]
        for match in verdict.matches:
            heading = _text(f"  {match.story_id}  {match.relation} {match.score:.2f}")
            detail = Stack(_text(match.title), _evidence_line(match.evidence))
            lines += [heading, Padding(detail, (0, 0, 0, 6))]
        show(Stack(*lines, Text("")))


def _text(story_text: str, style: str = "") -> Text:
    """A table cell of story text: rich's ``Text`` keeps ``[bold]`` literal (a markup string would
    be interpreted), and ``printable`` keeps a terminal from acting on it."""
    return Text(printable(story_text), style=style)


def _more(hidden: int, indent: str = "") -> Text:
    return Text(f"{indent}… {_count(hidden, 'more story', 'more stories')} (--limit 0 shows all)")


def _count(number: int, one: str, many: str) -> str:
    return f"{number:,} {one if number == 1 else many}"


_REPORT_WRITERS: dict[str, Callable[[Any, TextIO], None]] = {
    "table": _report_table,
    "json": _report_json,
    "jsonl": _report_jsonl,
    "csv": _report_csv,
}
_VERDICT_WRITERS: dict[str, Callable[[Any, TextIO], None]] = {
    "table": _verdicts_table,
    "json": _verdicts_json,
    "jsonl": _verdicts_jsonl,
    "csv": _verdicts_csv,
}
