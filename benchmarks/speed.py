"""Speed and scale: dedupe against the datasketch baseline on seeded corpora of growing size.

``python -m benchmarks.speed [--sizes 10000,100000,1000000] [--jobs 2]`` builds (or reuses) a
corpus per size (``corpus.py``), then runs each method as a fresh process, so that the time is
end to end (reading, scanning, writing) and the peak memory is that run's own:

- ``dedupe scan CORPUS --format json --no-topics -o OUT --jobs N``: copies only, the baseline's job;
- ``dedupe scan CORPUS --format json -o OUT --jobs N``: with topics, the full batch job;
- ``python -m benchmarks.speed baseline CORPUS -o OUT``: the plain recipe of ``baseline.py``.

Each answer is scored pairwise on the corpus labels (two stories are predicted together when they
share a group). The output is a markdown table with the ratios to the baseline and the growth of
time per story from the smallest size up.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import platform
import shlex
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from benchmarks import baseline, corpus, data, variants
from benchmarks.metrics import Scores, cluster_pair_scores
from dedupe.story import Story

CACHE = data.REPO_ROOT / "benchmarks" / "out" / "speed"
DEFAULT_SIZES = (10_000, 100_000, 1_000_000)
# RSS is sampled this often; the kernel's own peak (ru_maxrss) covers the largest process.
SAMPLE_SECONDS = 0.5
PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True, slots=True)
class Run:
    """One method on one corpus: what it cost and how well it grouped."""

    size: int
    method: str
    seconds: float
    peak_mb: float
    scores: Scores | None
    error: str | None = None

    @property
    def rate(self) -> float:
        return self.size / self.seconds


def read_records(path: Path) -> Iterator[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        for line in lines:
            yield json.loads(line)


def run_baseline(argv: Sequence[str]) -> None:
    """The baseline as a command of its own, reading the corpus as any JSONL reader would."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.speed baseline")
    parser.add_argument("corpus", type=Path)
    parser.add_argument("-o", "--out", type=Path, required=True)
    args = parser.parse_args(argv)
    stories = [
        Story(id=r["id"], title=r["title"], body=r["body"]) for r in read_records(args.corpus)
    ]
    result = baseline.scan(stories)
    args.out.write_text(json.dumps({"groups": [list(group) for group in result.groups]}))


def tree_rss(root: int) -> int:
    """Resident bytes of a process and all its descendants (worker pools included)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as stat:
                    # The command name may hold spaces: the fields after its ")" are fixed.
                    parents[int(entry)] = int(stat.read().rsplit(b")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    tree, frontier = {root}, [root]
    while frontier:
        children = [pid for pid, parent in parents.items() if parent in frontier]
        tree.update(children)
        frontier = children
    total = 0
    for pid in tree:
        try:
            with open(f"/proc/{pid}/statm", "rb") as statm:
                total += int(statm.read().split()[1]) * PAGE
        except (OSError, IndexError, ValueError):
            continue
    return total


# Runs the command and writes its peak RSS (KB) to a file. The kernel's peak of a process starts
# at its parent's size at fork, and this benchmark's process holds the labels of every story: a
# small interpreter in between keeps the figure the command's own.
PEAK_WRAPPER = (
    "import resource, subprocess, sys; code = subprocess.call(sys.argv[2:]); "
    "open(sys.argv[1], 'w').write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)); "
    "sys.exit(code if code >= 0 else 128 - code)"
)


def measure(command: Sequence[str], log: Path) -> tuple[float, float, str | None]:
    """Wall seconds, peak MB and an error (the end of stderr) of one command, run fresh.

    The peak is the larger of the sampled RSS of the whole process tree (parallel workers add
    up) and the kernel's peak of its largest process (a short spike between samples counts).
    """
    peak_file = log.with_suffix(".maxrss")
    started = time.perf_counter()
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-c", PEAK_WRAPPER, str(peak_file), *command],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    sampled = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal sampled
        while not done.wait(SAMPLE_SECONDS):
            sampled = max(sampled, tree_rss(process.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    returncode = process.wait()
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    peak_mb = max(sampled / 2**20, int(peak_file.read_text() or 0) / 2**10)
    error = None
    if returncode:
        tail = log.read_text(errors="replace").strip().splitlines()[-1:] or ["no message"]
        error = f"exit {returncode}: {tail[0][:200]}"
    return seconds, peak_mb, error


def dedupe_groups(path: Path) -> dict[str, int]:
    report = json.loads(path.read_text())
    return {m["id"]: n for n, g in enumerate(report["groups"]) for m in g["members"]}


def baseline_groups(path: Path) -> dict[str, int]:
    groups = json.loads(path.read_text())["groups"]
    return {story_id: n for n, group in enumerate(groups) for story_id in group}


def generator_digest() -> str:
    """A digest of the generator's code, so that a cached corpus is rebuilt when it changes."""
    digest = hashlib.blake2b(digest_size=4)
    for module in (corpus, variants, baseline):
        digest.update(Path(module.__file__ or "").read_bytes())
    return digest.hexdigest()


def corpus_files(sizes: Sequence[int], seed: int, cache: Path, root: Path) -> list[Path]:
    """The corpus of each size, made once per seed and generator version, all before any run so
    that the data pool is gone by then."""
    paths = [cache / f"corpus-{size}-s{seed}-{generator_digest()}.jsonl.gz" for size in sizes]
    missing = [(size, path) for size, path in zip(sizes, paths, strict=True) if not path.exists()]
    if missing:
        print("reading the shared data ...", file=sys.stderr)
        pool = corpus.build_pool(root)
        for size, path in missing:
            print(f"writing {path} ...", file=sys.stderr)
            started = time.perf_counter()
            corpus.write_corpus(path, size, seed, pool)
            print(f"  {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return paths


def accepts_jobs() -> bool:
    """Whether the installed ``dedupe scan`` takes ``--jobs`` (added while this was written)."""
    result = subprocess.run(["dedupe", "scan", "--help"], capture_output=True, text=True)
    return "--jobs" in result.stdout


def figure(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def table(runs: Sequence[Run]) -> list[str]:
    lines = [
        "| stories | method | seconds | stories/s | peak MB | precision | recall | F1 |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for run in runs:
        if run.error:
            lines.append(
                f"| {run.size:,} | {run.method} | {run.seconds:,.1f} | | {run.peak_mb:,.0f} | "
                f"| | {run.error} |"
            )
            continue
        scores = run.scores
        assert scores is not None
        lines.append(
            f"| {run.size:,} | {run.method} | {run.seconds:,.1f} | {run.rate:,.0f} | "
            f"{run.peak_mb:,.0f} | {figure(scores.precision)} | {figure(scores.recall)} | "
            f"{figure(scores.f1)} |"
        )
    return lines


def ratios(runs: Sequence[Run], sizes: Sequence[int]) -> list[str]:
    """dedupe over the baseline per size, and time per story relative to the smallest size."""
    ok = {(run.size, run.method): run for run in runs if not run.error}
    lines: list[str] = []
    for size in sizes:
        base = ok.get((size, "baseline"))
        for method in ("dedupe --no-topics", "dedupe"):
            run = ok.get((size, method))
            if base and run and run.scores and base.scores:
                f1 = run.scores.f1 or 0.0
                lines.append(
                    f"- {size:,} stories, {method} / baseline: {run.rate / base.rate:.2f}x the "
                    f"stories per second, F1 {f1:.3f} vs {base.scores.f1 or 0.0:.3f} "
                    f"({f1 - (base.scores.f1 or 0.0):+.3f})"
                )
    for method in ("dedupe --no-topics", "dedupe", "baseline"):
        measured = [ok[size, method] for size in sizes if (size, method) in ok]
        if len(measured) > 1:
            first = measured[0].seconds / measured[0].size
            steps = ", ".join(
                f"{run.size:,}: {run.seconds / run.size / first:.2f}" for run in measured
            )
            lines.append(
                f"- growth of {method}, time per story relative to {measured[0].size:,}: {steps}"
            )
    return lines


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory = PAGE * os.sysconf("SC_PHYS_PAGES") / 2**30
    load = ", ".join(f"{n:.1f}" for n in os.getloadavg())
    return (
        f"{cpu}, {os.cpu_count()} cores, {memory:.0f} GB RAM; {platform.system()} "
        f"{platform.release()}; Python {platform.python_version()}; load average {load} at start"
    )


def commit() -> str:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=data.REPO_ROOT, capture_output=True, text=True
        ).stdout.strip()

    return git("rev-parse", "--short", "HEAD") + (
        " + uncommitted changes" if git("status", "--porcelain", "dedupe") else ""
    )


def benchmark(args: argparse.Namespace) -> list[str]:
    root = data.resolve_data_dir(args.data)
    args.cache.mkdir(parents=True, exist_ok=True)
    jobs = ["--jobs", str(args.jobs)] if accepts_jobs() else []
    header = [
        f"Command: `python -m benchmarks.speed {shlex.join(sys.argv[1:])}`",
        f"Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; dedupe at {commit()}",
        f"Machine: {machine()}",
        "",
    ]
    if not jobs:
        header.insert(3, "The installed `dedupe scan` has no `--jobs`: run without it.")
    runs: list[Run] = []
    notes: list[str] = []
    for size, path in zip(
        args.sizes, corpus_files(args.sizes, args.seed, args.cache, root), strict=True
    ):
        truth = {record["id"]: record["label"] for record in read_records(path)}
        answer = args.cache / f"answer-{size}"
        scan = ["dedupe", "scan", str(path), "--format", "json", *jobs]
        methods = {
            "dedupe --no-topics": ([*scan, "--no-topics"], dedupe_groups),
            "dedupe": (scan, dedupe_groups),
            "baseline": (
                [sys.executable, "-m", "benchmarks.speed", "baseline", str(path)],
                baseline_groups,
            ),
        }
        for method, (command, read_groups) in methods.items():
            if method == "baseline" and size > args.skip_baseline_above:
                notes.append(
                    f"- baseline not run on {size:,} stories (--skip-baseline-above "
                    f"{args.skip_baseline_above:,})"
                )
                continue
            out = answer.with_name(f"{answer.name}-{method.replace(' --', '-')}.json")
            command = [*command, "-o", str(out)]
            print(f"{size:,} stories: {shlex.join(command)}", file=sys.stderr)
            seconds, peak_mb, error = measure(command, out.with_suffix(".log"))
            scores = None if error else cluster_pair_scores(read_groups(out), truth)
            runs.append(Run(size, method, seconds, peak_mb, scores, error))
            print(table(runs)[-1], file=sys.stderr)
    return header + table(runs) + [""] + ratios(runs, args.sizes) + notes


def main(argv: Sequence[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["baseline"]:
        run_baseline(argv[1:])
        return
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.speed", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--sizes",
        default=",".join(map(str, DEFAULT_SIZES)),
        type=lambda text: [int(n) for n in text.split(",")],
        help="corpus sizes, comma-separated (default 10000,100000,1000000)",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=os.cpu_count() or 1,
        help="processes for dedupe scan (default: one per core)",
    )
    parser.add_argument(
        "--skip-baseline-above",
        type=int,
        default=sys.maxsize,
        metavar="N",
        help="leave the baseline out on corpora larger than N stories",
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the corpora (default 1)")
    parser.add_argument(
        "--cache",
        type=Path,
        default=CACHE,
        help=f"where corpora and answers are kept (default {CACHE})",
    )
    parser.add_argument("--data", type=Path, help="the shared data folder")
    parser.add_argument("--out", type=Path, help="also write the result to FILE")
    args = parser.parse_args(argv)
    lines = benchmark(args)
    print("\n".join(lines))
    if args.out:
        args.out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
