"""Report: a scan's results as a table for people, and as JSON, JSONL or CSV for programs.

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
- ``table`` is for a terminal: each group with its members' titles and the evidence of each pair,
  then the topics, then a one-line summary. Story text is shown, never obeyed: control characters
  a terminal would act on are shown as ``\\xNN`` escapes, and rich markup in it stays literal.

Verdicts of ``dedupe check`` use the same formats: ``json`` is always
``{"version": 1, "verdicts": [...]}`` so a reader never has to ask whether it got one verdict or a
list; ``jsonl`` is one verdict per line; ``csv`` one row per (story, match), with one row with empty
match columns for a story that is new.
"""

from __future__ import annotations

import csv
import errno
import json
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TextIO

from rich import box
from rich.console import Console
from rich.console import Group as Stack
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from .story import Evidence, Group, Pair, Report, Verdict

FORMATS = ("table", "json", "jsonl", "csv")

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
_EVIDENCE_COLUMNS = ("title sim.", "contain.", "jaccard")
# Piped or redirected tables keep a fixed, readable width instead of rich's 80-column fallback.
_PIPED_WIDTH = 120
# What a terminal acts on instead of showing: C0 controls, DEL and C1 (U+009B alone starts a
# control sequence). In a story's text they could clear the screen, retitle the window or hide
# lines; rich strips only a few of them (BEL, CR, ...), never ESC.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# OWASP's list of the first characters that make a spreadsheet run a cell as a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def write_report(report: Report, fmt: str, out: TextIO) -> None:
    """Write ``report`` to ``out`` in ``fmt``, one of ``FORMATS``."""
    _writer(_REPORT_WRITERS, fmt)(report, out)


def write_verdicts(verdicts: Sequence[Verdict], fmt: str, out: TextIO) -> None:
    """Write the verdicts of ``dedupe check`` to ``out`` in ``fmt``, one of ``FORMATS``."""
    _writer(_VERDICT_WRITERS, fmt)(verdicts, out)


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
    """``record`` as JSON, refusing NaN and infinity: Python would write them as ``NaN``, which
    is no JSON, and every strict reader (browsers, jq, Go) fails on the whole report."""
    return json.dumps(record, indent=indent, ensure_ascii=False, allow_nan=False)


def _report_json(report: Report, out: TextIO) -> None:
    _write_json(report.to_dict(), out)


def _report_jsonl(report: Report, out: TextIO) -> None:
    pairs_of = _pairs_by_group(report)
    _write_lines(
        (
            {**group.to_dict(), "pairs": [pair.to_dict() for pair in pairs_of[group.id]]}
            for group in report.groups
        ),
        out,
    )


def _pairs_by_group(report: Report) -> dict[str, list[Pair]]:
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


def _console(out: TextIO) -> Console:
    """A console on ``out`` that colours a terminal and writes plain text anywhere else."""
    terminal = out.isatty()
    return _Console(
        file=out,
        width=None if terminal else _PIPED_WIDTH,
        color_system="auto" if terminal else None,
        highlight=False,
        emoji=False,
    )


def _report_table(report: Report, out: TextIO) -> None:
    console = _console(out)
    pairs_of = _pairs_by_group(report)
    for group in report.groups:
        console.print(_group_panel(group, pairs_of[group.id], report.titles))
    if report.topics:
        console.print(_topics_table(report))
    grouped = sum(len(group.members) for group in report.groups)
    summary = (
        f"{_count(report.stories, 'story', 'stories')}, "
        f"{_count(len(report.groups), 'group', 'groups')} ({_count(grouped, 'story', 'stories')}), "
        f"{_count(len(report.topics), 'topic', 'topics')}"
    )
    console.print(Text(summary))


def _group_panel(group: Group, pairs: Sequence[Pair], titles: dict[str, str]) -> Panel:
    members = Table(box=box.SIMPLE_HEAD, expand=True)
    members.add_column("story", no_wrap=True)
    members.add_column("relation", no_wrap=True)
    members.add_column("score", justify="right", no_wrap=True)
    members.add_column("title", ratio=1)
    for member in group.members:
        members.add_row(
            _text(member.id, style="bold" if member.id == group.canonical else ""),
            member.relation,
            _score(member.score),
            _text(titles.get(member.id, "")),
        )
    heading = _text(
        f"{group.id}  {group.relation}, {_count(len(group.members), 'story', 'stories')}, "
        f"canonical {group.canonical}"
    )
    body = Stack(members, _evidence_table(pairs)) if pairs else members
    return Panel(body, title=heading, title_align="left")


def _topics_table(report: Report) -> Table:
    """Topics with their stories' titles; a canonical says which group it stands for."""
    group_of_canonical = {group.canonical: group for group in report.groups}
    table = Table(title="Topics", title_justify="left", expand=True)
    table.add_column("topic", no_wrap=True)
    table.add_column("label")
    table.add_column("stories", justify="right", no_wrap=True)
    table.add_column("titles", ratio=1)
    for topic in report.topics:
        lines = []
        for story_id in topic.members:
            line = f"{story_id}  {report.titles.get(story_id, '')}".rstrip()
            group = group_of_canonical.get(story_id)
            if group is not None:
                line += f"  ({group.id}, {_count(len(group.members), 'story', 'stories')})"
            lines.append(line)
        titles = _text("\n".join(lines))
        table.add_row(topic.id, _text(topic.label), str(len(topic.members)), titles)
    return table


def _evidence_table(pairs: Sequence[Pair]) -> Table:
    table = Table(title="evidence", title_justify="left", box=None, expand=True)
    table.add_column("pair", no_wrap=True)
    table.add_column("relation", no_wrap=True)
    table.add_column("score", justify="right", no_wrap=True)
    for name in _EVIDENCE_COLUMNS:
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("shared passage", ratio=1)
    for pair in pairs:
        table.add_row(
            _text(f"{pair.a} -> {pair.b}"),
            pair.relation,
            _score(pair.score),
            *_evidence(pair.evidence),
        )
    return table


def _evidence(evidence: Evidence) -> tuple[str, str, str, Text]:
    """The evidence's measures, and its first shared passage: one is enough to see why."""
    shared = _text(f'"{evidence.shared[0]}"') if evidence.shared else Text("")
    return (
        f"{evidence.title_similarity:.0f}",
        f"{evidence.containment:.2f}",
        f"{evidence.jaccard:.2f}",
        shared,
    )


def _verdicts_table(verdicts: Sequence[Verdict], out: TextIO) -> None:
    console = _console(out)
    for verdict in verdicts:
        line = _text(verdict.story_id + "  ")
        if verdict.is_duplicate:
            line.append("ALREADY PUBLISHED", style="bold red")
        else:
            line.append("NEW", style="bold green")
        console.print(line)
        if not verdict.matches:
            continue
        table = Table(box=box.SIMPLE_HEAD, expand=True)
        table.add_column("match", no_wrap=True)
        table.add_column("relation", no_wrap=True)
        table.add_column("score", justify="right", no_wrap=True)
        for name in _EVIDENCE_COLUMNS:
            table.add_column(name, justify="right", no_wrap=True)
        table.add_column("title / shared passage", ratio=1)
        for match in verdict.matches:
            *measures, shared = _evidence(match.evidence)
            detail = _text(match.title)
            if shared:
                detail.append("\n").append_text(shared)
            table.add_row(
                _text(match.story_id), match.relation, _score(match.score), *measures, detail
            )
        console.print(table)


def _text(story_text: str, style: str = "") -> Text:
    """A table cell of story text: rich's ``Text`` keeps ``[bold]`` literal (a markup string would
    be interpreted), and ``printable`` keeps a terminal from acting on it."""
    return Text(printable(story_text), style=style)


def _score(score: float | None) -> str:
    return "" if score is None else f"{score:.2f}"


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
