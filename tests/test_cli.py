"""The command line end to end, through the installed ``dedupe`` command in a subprocess; in
this process (typer's CliRunner) where a test replaces a part to see what the command makes of it,
or only looks at what was written."""

import csv
import errno
import fcntl
import io
import json
import os
import pty
import re
import resource
import select
import shutil
import signal
import stat
import struct
import subprocess
import sys
import termios
import threading
import time
import typing
from pathlib import Path

import pytest
from rich.filesize import decimal
from typer.testing import CliRunner

from dedupe import cli, progress
from dedupe.pipeline import Stage
from dedupe.report import write_verdicts
from dedupe.story import Evidence, Match, Story, Verdict
from tests.conftest import HARBOUR, HARBOUR_TEASER, RAIL, ROOT

EXPECTED = json.loads((ROOT / "seeds" / "expected.json").read_text(encoding="utf-8"))
DEDUPE = shutil.which("dedupe") or ""


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    command = [DEDUPE] if DEDUPE else [sys.executable, "-m", "dedupe"]
    return subprocess.run(
        [*command, *args], input=stdin, capture_output=True, text=True, cwd=ROOT, timeout=120
    )


def jsonl(path, stories) -> str:
    path.write_text("".join(json.dumps(s.to_dict()) + "\n" for s in stories), encoding="utf-8")
    return str(path)


def test_seed_page_gives_exactly_the_expected_groups_and_topics():
    result = run("scan", "seeds/feed-page.txt", "--format", "json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["version"] == 1 and report["stories"] == EXPECTED["stories"]
    found = [
        (g["relation"], g["canonical"], [(m["id"], m["relation"]) for m in g["members"]])
        for g in report["groups"]
    ]
    expected = [
        (g["relation"], g["canonical"], [(m["id"], m["relation"]) for m in g["members"]])
        for g in EXPECTED["groups"]
    ]
    assert sorted(found) == sorted(expected)
    pairs = {(p["a"], p["b"], p["relation"]) for p in report["pairs"]}
    assert pairs == {(g[1], g[2][1][0], "teaser") for g in expected}
    for together in EXPECTED["same_topic"]:
        assert any(set(together) <= set(t["members"]) for t in report["topics"])
    listed = [i for t in report["topics"] for i in t["members"]]
    assert len(listed) == len(set(listed))


def test_default_table_names_the_stories():
    result = run("scan", "seeds/feed-page.txt")
    assert result.returncode == 0
    assert "Employers facing a choice" in result.stdout and "teaser" in result.stdout
    assert result.stdout.startswith("read       10 stories\ngroups     2 (2 syndicated)\n")


def test_limit_cuts_the_table_and_says_how_to_see_all():
    result = invoke("scan", "seeds/feed-page.txt", "--limit", "1")
    assert result.exit_code == 0
    assert result.stdout.count(", canonical ") == 1
    assert result.stdout.rstrip().endswith("… 1 more group and 2 more topics: --limit 0 shows all")
    everything = invoke("scan", "seeds/feed-page.txt", "--limit", "0")
    assert everything.stdout.count(", canonical ") == 2 and "--limit 0" not in everything.stdout
    assert invoke("scan", "seeds/feed-page.txt", "--limit", "-1").exit_code == 2


def test_check_names_the_draft_by_its_title_and_file(tmp_path):
    draft = jsonl(tmp_path / "draft.jsonl", [HARBOUR_TEASER])
    result = invoke("check", draft, "--against", "seeds/feed-page.txt")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[:2] == [
        f"{HARBOUR_TEASER.title}  NEW",
        f"  {draft}:1, {HARBOUR_TEASER.id}",
    ]


def test_csv_jsonl_and_output_file(tmp_path):
    out = tmp_path / "report.csv"
    result = run("scan", "seeds/feed-page.txt", "--format", "csv", "-o", str(out), "--no-topics")
    assert result.returncode == 0 and result.stdout == ""
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert len(rows) == 10 and sum(1 for r in rows if r["relation"] == "teaser") == 2
    lines = run("scan", "seeds/feed-page.txt", "--format", "jsonl").stdout.splitlines()
    assert len(lines) == 2 and all(json.loads(line)["relation"] == "syndicated" for line in lines)


def test_scan_reads_stdin(tmp_path):
    text = (ROOT / "seeds" / "feed-page.txt").read_text(encoding="utf-8")
    result = run("scan", "-", "--format", "json", "--no-topics", stdin=text)
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)["groups"]) == 2


def test_check_exit_codes_and_evidence(tmp_path):
    corpus = jsonl(tmp_path / "published.jsonl", [HARBOUR, RAIL])
    teaser = jsonl(tmp_path / "teaser.jsonl", [HARBOUR_TEASER])
    published = run("check", teaser, "--against", corpus, "--format", "json")
    assert published.returncode == 1, published.stderr
    verdict = json.loads(published.stdout)["verdicts"][0]
    assert verdict["verdict"] == "duplicate"
    assert verdict["matches"][0]["id"] == "harbour"
    assert verdict["matches"][0]["relation"] == "teaser"
    assert verdict["matches"][0]["evidence"]["shared"]

    new = tmp_path / "draft.json"
    new.write_text(
        json.dumps(
            {
                "title": "Council opens new library",
                "body": "The town council opened a library with 40,000 books on Saturday.",
            }
        )
    )
    assert run("check", str(new), "--against", corpus).returncode == 0
    table = run("check", "-", "--against", corpus, stdin=json.dumps(HARBOUR_TEASER.to_dict()))
    assert table.returncode == 1 and "ALREADY PUBLISHED" in table.stdout


def test_bad_records_are_skipped_and_counted_or_fail(tmp_path):
    feed = tmp_path / "feed.jsonl"
    feed.write_text(
        json.dumps(HARBOUR.to_dict()) + "\n{not json\n" + json.dumps(RAIL.to_dict()) + "\n",
        encoding="utf-8",
    )
    skipped = run("scan", str(feed), "--format", "json", "--no-topics")
    assert skipped.returncode == 0
    assert json.loads(skipped.stdout)["stories"] == 2
    assert f"{feed}:2" in skipped.stderr and "skipped 1" in skipped.stderr
    failed = run("scan", str(feed), "--on-error", "fail")
    assert failed.returncode == 2 and f"{feed}:2" in failed.stderr
    assert "Traceback" not in failed.stderr and failed.stdout == ""


@pytest.mark.parametrize(
    "args",
    [
        ["scan", "no/such/file.jsonl"],
        ["scan"],
        ["scan", "seeds/feed-page.txt", "--format", "xml"],
        ["check", "seeds/feed-page.txt"],
    ],
)
def test_usage_errors_exit_2_without_a_traceback(args):
    result = run(*args)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and result.stderr.strip()


def test_undecodable_input_is_refused_clearly(tmp_path):
    junk = tmp_path / "junk.bin"
    junk.write_bytes(bytes(range(256)) * 40)
    result = run("scan", str(junk), "--on-error", "fail")
    assert result.returncode == 2 and "junk.bin" in result.stderr
    assert "Traceback" not in result.stderr


def test_index_commands_and_check_with_add(tmp_path):
    index = str(tmp_path / "published.sqlite")
    corpus = jsonl(tmp_path / "published.jsonl", [HARBOUR, RAIL])
    added = run("index", "add", corpus, "--index", index)
    assert added.returncode == 0 and "added 2" in added.stderr
    stats = json.loads(run("index", "stats", "--index", index, "--format", "json").stdout)
    assert stats["stories"] == 2 and stats["bytes"] > 0

    teaser = jsonl(tmp_path / "teaser.jsonl", [HARBOUR_TEASER])
    assert run("check", teaser, "--index", index, "--add").returncode == 1
    draft = tmp_path / "draft.json"
    draft.write_text(
        json.dumps(
            {
                "id": "lib",
                "title": "Council opens new library",
                "body": "The town council opened a library with 40,000 books on Saturday.",
            }
        )
    )
    assert run("check", str(draft), "--index", index, "--add").returncode == 0
    # Added in the same step: offered again, it is already published.
    assert run("check", str(draft), "--index", index).returncode == 1
    assert json.loads(run("index", "stats", "--index", index, "-f", "json").stdout)["stories"] == 3

    removed = run("index", "remove", "lib", "rail", "--index", index)
    assert removed.returncode == 0 and "removed 2 of 2" in removed.stderr
    assert run("index", "prune", "--older-than", "0s", "--index", index).returncode == 0
    assert json.loads(run("index", "stats", "--index", index, "-f", "json").stdout)["stories"] == 0


@pytest.mark.parametrize(
    "args",
    [
        ["index", "prune", "--older-than", "soon", "--index", "x.sqlite"],
        ["check", "seeds/feed-page.txt", "--add", "--against", "seeds/feed-page.txt"],
        ["check", "seeds/feed-page.txt", "--index", "no/such/folder/x.sqlite"],
    ],
)
def test_index_usage_errors_exit_2(args):
    result = run(*args)
    assert result.returncode == 2 and "Traceback" not in result.stderr


def test_a_foreign_file_is_not_taken_for_an_index(tmp_path):
    foreign = tmp_path / "notes.sqlite"
    foreign.write_bytes(b"not a database at all" * 100)
    result = run("index", "stats", "--index", str(foreign))
    assert result.returncode == 2 and "notes.sqlite" in result.stderr
    assert foreign.read_bytes() == b"not a database at all" * 100


def test_version():
    result = run("--version")
    assert result.returncode == 0
    assert result.stdout.startswith("dedupe ") and result.stdout.split()[1][0].isdigit()


def test_identical_feed_items_in_several_files_are_exact_copies(tmp_path):
    item = '<item><title>Port strike ends</title><description>Dock workers in Valdora returned to work on Friday after a 12-day strike over pay.</description></item>'  # fmt: skip
    for name in ("a.xml", "b.xml", "c.xml"):
        (tmp_path / name).write_text(f'<?xml version="1.0"?><rss version="2.0"><channel><title>{name}</title>{item}</channel></rss>')  # fmt: skip
    result = run("scan", str(tmp_path), "--format", "json", "--no-topics")
    report = json.loads(result.stdout)
    assert report["stories"] == 3
    (group,) = report["groups"]
    assert sorted(m["relation"] for m in group["members"]) == ["exact", "exact", "original"]


def test_window_option_refuses_copies_further_apart(tmp_path):
    base = {"id": "a", "title": HARBOUR.title, "body": HARBOUR.body, "published": "2025-03-04"}
    stories = [base, {**base, "id": "b", "published": "2025-04-20"}]
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("\n".join(json.dumps(s) for s in stories))
    found = json.loads(run("scan", str(corpus), "-f", "json", "--no-topics").stdout)
    assert found["pairs"][0]["evidence"]["days_apart"] == 47.0
    windowed = run("scan", str(corpus), "-f", "json", "--no-topics", "--window", "7")
    assert json.loads(windowed.stdout)["groups"] == []


def invoke(*args: str):
    """The command in this process: for what monkeypatching shows, or a file's content."""
    return CliRunner().invoke(cli.app, list(args))


@pytest.mark.parametrize(
    "args",
    [["scan"], ["check", "--against", "seeds/feed-page.txt"]],
)
def test_a_window_the_settings_refuse_is_a_usage_error(args):
    result = invoke(*args, "seeds/feed-page.txt", "--window", "nan")
    assert result.exit_code == 2 and result.stdout == ""
    assert "dedupe: error: --window: Settings.window_days must be None (no window)" in result.stderr
    assert "internal error" not in result.stderr


def test_min_score_option_refuses_pairs_scored_below_it(tmp_path):
    corpus = jsonl(tmp_path / "corpus.jsonl", [HARBOUR, HARBOUR_TEASER])
    found = json.loads(invoke("scan", corpus, "-f", "json", "--no-topics").stdout)
    assert found["pairs"][0]["relation"] == "teaser" and found["pairs"][0]["score"] < 0.99
    floored = invoke("scan", corpus, "-f", "json", "--no-topics", "--min-score", "0.99")
    assert floored.exit_code == 0 and json.loads(floored.stdout)["pairs"] == []
    published = jsonl(tmp_path / "published.jsonl", [HARBOUR])
    draft = jsonl(tmp_path / "draft.jsonl", [HARBOUR_TEASER])
    assert invoke("check", draft, "--against", published).exit_code == 1
    assert invoke("check", draft, "--against", published, "--min-score", "0.99").exit_code == 0


@pytest.mark.parametrize("command", [["scan"], ["check", "--against", "seeds/feed-page.txt"]])
@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("1.5", "Invalid value for '--min-score': 1.5 is not in the range 0<=x<=1."),
        (
            "nan",
            "dedupe: error: --min-score: Settings.min_score must be a number from 0 to 1, "
            "not nan\n",
        ),
    ],
)
def test_a_score_floor_outside_0_to_1_is_a_usage_error(command, value, message):
    result = invoke(*command, "seeds/feed-page.txt", "--min-score", value)
    assert result.exit_code == 2 and result.stdout == ""
    assert message in result.stderr
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr


def test_messages_show_control_characters_instead_of_sending_them(tmp_path):
    name = str(tmp_path / "feed\x1b]0;pwned\x07\x9b2J.jsonl")
    result = invoke("scan", name)
    assert result.exit_code == 2
    assert "feed\\x1b]0;pwned\\x07\\x9b2J.jsonl: no such file" in result.stderr
    assert not set(result.stderr) & {"\x1b", "\x07", "\x9b"}


def test_a_closed_pipe_ends_quietly_with_the_exit_code_the_command_decided(tmp_path):
    corpus = jsonl(tmp_path / "published.jsonl", [HARBOUR, RAIL])
    teaser = jsonl(tmp_path / "teaser.jsonl", [HARBOUR_TEASER])
    draft = jsonl(
        tmp_path / "draft.jsonl", [Story(title="Library opens", body="A library opened.")]
    )
    index = str(tmp_path / "published.sqlite")
    assert run("index", "add", corpus, "--index", index).returncode == 0
    command = [DEDUPE] if DEDUPE else [sys.executable, "-m", "dedupe"]
    for args, code in (
        (["check", teaser, "--against", corpus], 1),
        (["check", draft, "--against", corpus, "-f", "json"], 0),
        (["scan", "seeds/feed-page.txt", "-f", "jsonl"], 0),
        (["scan", "seeds/feed-page.txt"], 0),
        (["index", "stats", "--index", index], 0),
    ):
        # A pipe whose reader has gone before the first write, as ``| head -1`` leaves it.
        reader, writer = os.pipe()
        os.close(reader)
        try:
            result = subprocess.run(
                [*command, *args], stdout=writer, stderr=subprocess.PIPE, cwd=ROOT, timeout=120
            )
        finally:
            os.close(writer)
        assert (args[0], result.returncode, result.stderr) == (args[0], code, b"")


def test_an_unexpected_error_exits_2_in_one_line_and_shows_its_traceback_with_v(monkeypatch):
    def broken_scan(*args, **kwargs):
        raise RuntimeError("the index fell over")

    monkeypatch.setattr(cli.Detector, "scan", broken_scan)
    result = invoke("scan", "seeds/feed-page.txt")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr == "dedupe: error: internal error: RuntimeError: the index fell over\n"
    verbose = invoke("-v", "scan", "seeds/feed-page.txt")
    assert verbose.exit_code == 2 and "Traceback" in verbose.stderr
    assert verbose.stderr.endswith("internal error: RuntimeError: the index fell over\n")


def test_the_output_file_is_replaced_whole_or_left_as_it_was(tmp_path, monkeypatch):
    old = tmp_path / "report.csv"
    old.write_text("the old report\n", encoding="utf-8")
    old.chmod(0o640)

    def full_disk(report, fmt, out, **options):
        out.write("id,title\n" * 1000)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(cli, "write_report", full_disk)
    failed = invoke("scan", "seeds/feed-page.txt", "-f", "csv", "-o", str(old))
    assert failed.exit_code == 2
    assert failed.stderr == f"dedupe: error: cannot write {old}: No space left on device\n"
    assert old.read_text(encoding="utf-8") == "the old report\n"
    assert [p.name for p in tmp_path.iterdir()] == ["report.csv"]

    monkeypatch.undo()
    assert invoke("scan", "seeds/feed-page.txt", "-f", "csv", "-o", str(old)).exit_code == 0
    assert old.read_text(encoding="utf-8").startswith("id,title,group")
    assert stat.S_IMODE(old.stat().st_mode) == 0o640
    new = tmp_path / "new.csv"
    assert invoke("scan", "seeds/feed-page.txt", "-f", "csv", "-o", str(new)).exit_code == 0
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(new.stat().st_mode) == 0o666 & ~umask
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.csv", "report.csv"]


def test_an_output_that_cannot_be_written_is_refused_before_the_scan(tmp_path, monkeypatch):
    scanned = []
    monkeypatch.setattr(cli.Detector, "scan", lambda *args, **kwargs: scanned.append(args))
    for out, reason in (
        (tmp_path / "no" / "such" / "report.json", "No such file or directory"),
        (tmp_path, "Is a directory"),
    ):
        result = invoke("scan", "seeds/feed-page.txt", "-o", str(out))
        assert result.exit_code == 2 and scanned == []
        assert result.stderr == f"dedupe: error: cannot write {out}: {reason}\n"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs a named pipe")
def test_an_output_that_is_no_file_is_written_in_place(tmp_path):
    """A pipe or a device (``-o /dev/null``) cannot be replaced, and holds no report to lose."""
    fifo = tmp_path / "report.fifo"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()), daemon=True)
    reader.start()
    result = invoke("scan", "seeds/feed-page.txt", "-f", "json", "-o", str(fifo))
    reader.join(timeout=60)
    assert result.exit_code == 0, result.stderr
    assert json.loads(received[0])["stories"] == 10
    assert stat.S_ISFIFO(fifo.stat().st_mode)


def test_text_the_encoding_cannot_take_is_written_as_escapes(tmp_path, monkeypatch):
    """Lone surrogates (a JSON escape read as is, or a story a program built) must not end the
    output halfway; JSON even reads back the very same text."""
    feed = tmp_path / "feed.jsonl"
    feed.write_text('{"id": "a", "title": "bad \\ud800 title", "body": "A body."}\n')
    old = tmp_path / "report.csv"
    old.write_text("the old report\n", encoding="utf-8")
    result = invoke("scan", str(feed), "-f", "csv", "-o", str(old))
    assert result.exit_code == 0, result.stderr
    assert [row["id"] for row in csv.DictReader(old.open(encoding="utf-8"))] == ["a"]

    evidence = Evidence(90.0, 0.8, 0.5, ("\udcff passage",))
    verdicts = [Verdict("d", (Match("a", "teaser", 0.9, evidence, title="bad \ud800 title"),))]
    with cli.output(tmp_path / "verdicts.json") as out:
        write_verdicts(verdicts, "json", out)
    written = json.loads((tmp_path / "verdicts.json").read_text(encoding="utf-8"))
    assert written == {"version": 1, "verdicts": [verdicts[0].to_dict()]}
    strict = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")  # as a pipe's or a terminal's
    monkeypatch.setattr(sys, "stdout", strict)
    with cli.output(None) as out:
        write_verdicts(verdicts, "csv", out)
    assert "bad \\ud800 title" in strict.buffer.getvalue().decode("utf-8")


def synthetic(path: Path, count: int) -> str:
    """``count`` distinct short stories, in JSONL."""
    lines = (
        json.dumps(
            {
                "id": f"s{n}",
                "title": f"Council {n} votes on harbour budget item {n * 7}",
                "body": f"Councillors of ward {n} voted {n % 13} to {n % 11} on item {n * 3}.",
            }
        )
        for n in range(count)
    )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def test_a_full_temporary_folder_is_named_not_a_traceback(tmp_path):
    feed = synthetic(tmp_path / "feed.jsonl", 600)
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    command = [DEDUPE] if DEDUPE else [sys.executable, "-m", "dedupe"]

    def small_files() -> None:
        # Files may grow to 64 KiB: the spilled stories do not fit, the input is only read.
        resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 16, 1 << 16))

    result = subprocess.run(
        [*command, "scan", feed, "-f", "json"],
        env={**os.environ, "TMPDIR": str(temporary)},
        preexec_fn=small_files,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == (
        f"dedupe: error: cannot write temporary data in {temporary}: File too large "
        "(set TMPDIR to a folder with room)\n"
    )


def _children(pid: int) -> list[int]:
    found = []
    for status in Path("/proc").glob("[0-9]*/stat"):
        try:
            after_name = status.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(after_name[1]) == pid:
            found.append(int(status.parent.name))
    return found


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds the workers in /proc")
def test_ctrl_c_during_a_parallel_scan_ends_it_in_one_line(tmp_path):
    stories = Path(synthetic(tmp_path / "feed.jsonl", 2500)).read_bytes()
    # ``python -m``, not the installed script: its only children are then the pool's workers.
    scan = subprocess.Popen(
        [sys.executable, "-m", "dedupe", "scan", "-", "--jobs", "2", "-f", "json"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
        start_new_session=True,
    )
    try:
        # Stdin stays open: the scan is under way, its workers started, waiting for more stories.
        scan.stdin.write(stories)
        scan.stdin.flush()
        deadline = time.monotonic() + 60
        while len(_children(scan.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        # A terminal's Ctrl-C: SIGINT to every process of the job, workers included.
        os.killpg(scan.pid, signal.SIGINT)
        stdout, stderr = scan.communicate(timeout=60)
    finally:
        if scan.poll() is None:
            os.killpg(scan.pid, signal.SIGKILL)
    assert (scan.returncode, stderr.decode()) == (130, "dedupe: interrupted\n")
    assert stdout == b""


def test_no_story_to_check_against_is_an_error_and_an_empty_scan_a_warning(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{not json\n")
    draft = jsonl(tmp_path / "draft.jsonl", [HARBOUR_TEASER])
    for corpus in (empty, bad):
        result = run("check", draft, "--against", str(corpus))
        assert result.returncode == 2 and result.stdout == ""
        assert result.stderr.endswith(
            f"dedupe: error: nothing to check against: {corpus} hold no story\n"
        )
    scanned = run("scan", str(empty), "-f", "json")
    assert scanned.returncode == 0
    assert scanned.stderr == f"dedupe: warning: no story in {empty}\n"
    assert json.loads(scanned.stdout)["stories"] == 0


def on_a_terminal(*args: str) -> tuple[int, str]:
    """Run the command with stderr on a pseudo-terminal, as a person at a terminal runs it; its
    exit code and what it drew there, without the escape sequences."""
    command = [DEDUPE] if DEDUPE else [sys.executable, "-m", "dedupe"]
    terminal, side = pty.openpty()
    fcntl.ioctl(side, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 200, 0, 0))
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "200"}
    for name in ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        env.pop(name, None)
    with subprocess.Popen(
        [*command, *args], stdout=subprocess.DEVNULL, stderr=side, cwd=ROOT, env=env
    ) as process:
        os.close(side)
        drawn = bytearray()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if not select.select([terminal], [], [], 1)[0]:
                continue
            try:
                chunk = os.read(terminal, 1 << 16)
            except OSError:  # the command closed the terminal: it has ended
                break
            if not chunk:
                break
            drawn += chunk
        os.close(terminal)
        code = process.wait(timeout=10)
    return code, re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", drawn.decode("utf-8", "replace"))


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
def test_on_a_terminal_the_display_shows_the_input_size_then_each_stage(tmp_path):
    corpus = tmp_path / "feed.jsonl"
    synthetic(corpus, 600)
    with corpus.open("a", encoding="utf-8") as more:
        more.write(json.dumps(HARBOUR.to_dict()) + "\n" + json.dumps(HARBOUR_TEASER.to_dict()))
    code, drawn = on_a_terminal("scan", str(corpus), "-f", "json", "-o", str(tmp_path / "r.json"))
    assert code == 0
    size = decimal(corpus.stat().st_size)
    assert re.search(rf"reading .* of {re.escape(size)} .* records/s .* ETA ", drawn), drawn
    stages = [
        r"finding candidate pairs among 602 stories",
        r"verifying [\d,]+ candidate pairs",
        r"grouping [\d,]+ accepted pairs",
        r"explaining [\d,]+ pairs",
        r"clustering [\d,]+ stories into topics",
        r"writing the report",
    ]
    found = [re.search(stage, drawn) for stage in stages]
    assert all(found), drawn
    assert [f.start() for f in found] == sorted(f.start() for f in found)
    assert json.loads((tmp_path / "r.json").read_text())["pairs"]


def test_every_stage_of_a_scan_has_words_on_the_display():
    assert set(progress.STAGE_NAMES) == set(typing.get_args(Stage))


def test_help_names_the_spark_extra_whole():
    result = invoke("scan", "--help")
    assert "dedupe[spark]" in " ".join(result.stdout.split())


@pytest.mark.parametrize(
    ("command", "shown"),
    [
        (
            ["scan"],
            [r"--output\s+-o\s+FILE ", r"--jobs\s+-j\s+N ", r"--master\s+URL ", r"--limit\s+N "],
        ),
        (["check"], [r"--against\s+-a\s+PATH ", r"--index\s+-i\s+PATH\|URL "]),
        (["index", "add"], [r"--index\s+-i\s+PATH\|URL "]),
        (["index", "stats"], [r"--index\s+-i\s+PATH\|URL "]),
        (["index", "remove"], [r"\{ID\.\.\.\}"]),
        (["index", "prune"], [r"--older-than\s+AGE "]),
    ],
)
def test_help_says_what_each_option_takes(command, shown):
    result = CliRunner().invoke(cli.app, [*command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "<bool>" not in result.stdout and "<int range>" not in result.stdout
    for pattern in shown:
        assert re.search(pattern, result.stdout), pattern
