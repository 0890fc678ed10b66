"""Speed and size of the shared index: build, check and add latency, adds per second, bytes.

    python -m benchmarks.index_speed --backend sqlite|redis|memory --stories N --processes P

Builds an index of N synthetic stories with ``Detector.add_many`` (in batches, by P processes),
then measures on it, from one process and from P processes at once, each with its own Detector:

- ``Detector.check`` latency: half the drafts are light edits of indexed stories, half are new;
- ``Detector.add`` latency and adds per second (fingerprinting included, as a crawler sees it);
- storage adds per second with band keys computed beforehand: the index alone;
- bytes per story from ``stats()``.

The stories are made from the sentences of the BBC and Reuters-21578 articles in the shared data
folder (``--data``, ``$DEDUPE_DATA`` or ``../shared/data``), spliced and reshuffled (see
``make_story``), so that they are as long as news (about 400 words) and compress like it. Every
tenth story is a light edit of an earlier one, as syndication makes. Everything is seeded; nothing
is written to the repository. Without ``--index`` the index lives in a temporary folder, and for
Redis a temporary redis-server (append-only, as in production) is started on a free port. With
``--index``, ``--build-only`` builds (or finishes building) a large index once, and later runs on
the same ``--index`` and ``--stories`` measure it without building again.

``--counts`` measures nothing that depends on the machine or its load: bytes per story, stories
fetched per check, and the share of copies found and new drafts called new.
"""

from __future__ import annotations

import argparse
import gzip
import json
import multiprocessing
import os
import platform
import random
import re
import shutil
import socket
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

from dedupe import Detector, Story
from dedupe.fingerprint import fingerprint
from dedupe.index import band_keys

REPO_ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("bbc-news-greene2006/bbc.jsonl.gz", "reuters-21578/reuters21578.jsonl.gz")
SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'])")
START = datetime(2024, 1, 1, tzinfo=UTC)
# Every COPY_EVERY-th story is a light edit of an earlier one.
COPY_EVERY = 10
# Story numbers far beyond any index size, for drafts and adds that the index must not hold.
PROBES = 10**9


# --- the synthetic stories -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Sentences:
    """The distinct sentences of the source articles, and the distinct words of four letters
    or more in them."""

    sentences: list[str]
    words: list[str]


def load_sentences(data: Path) -> Sentences:
    sentences: dict[str, None] = {}
    for name in SOURCES:
        with gzip.open(data / name, "rt", encoding="utf-8") as lines:
            for line in lines:
                body = " ".join((json.loads(line).get("body") or "").split())
                body = body.removesuffix("Reuter &#3;").removesuffix("REUTER &#3;")
                sentences.update((s, None) for s in SENTENCE.split(body) if len(s.split()) >= 6)
    words = {w.lower() for s in sentences for w in s.split() if w.isalpha() and len(w) >= 4}
    return Sentences(list(sentences), sorted(words))


def make_story(corpus: Sentences, seed: int, number: int, story_id: str | None = None) -> Story:
    """Story ``number`` of the synthetic stream: the same for the same seed, in any process.

    Each sentence is spliced from two source sentences cut at random words, and the headline is
    drawn from the vocabulary: reused whole, the ~130k sentences would make every story of a
    million share a sentence with hundreds of others, and the detector's candidates would grow
    with the corpus's artefacts rather than with real copies.
    """
    rng = random.Random(f"{seed}:{number}")
    story_id = story_id or f"bench-{number}"
    if number % COPY_EVERY == COPY_EVERY - 1:
        # An original from the last hundred blocks of ten, and never itself a copy.
        block = rng.randrange(max(0, number // COPY_EVERY - 100), number // COPY_EVERY + 1)
        original = block * COPY_EVERY + rng.randrange(COPY_EVERY - 1)
        return light_edit(make_story(corpus, seed, original), story_id, rng)
    target = max(150, min(800, int(rng.gauss(400, 100))))
    body: list[str] = []
    while len(body) < target:
        head, tail = rng.choice(corpus.sentences).split(), rng.choice(corpus.sentences).split()
        body += head[: rng.randrange(2, len(head))] + tail[rng.randrange(1, len(tail) - 1) :]
    title = rng.sample(corpus.words, rng.randint(5, 9))
    return Story(
        id=story_id,
        title=" ".join(title).capitalize(),
        body=" ".join(body),
        source=f"source-{rng.randrange(200)}",
        published=(START + timedelta(seconds=30 * number)).isoformat(),
    )


def light_edit(story: Story, story_id: str, rng: random.Random) -> Story:
    """A syndicated copy: three words changed and, half the time, the last tenth cut."""
    words = story.body.split()
    for _ in range(3):
        position = rng.randrange(len(words))
        words[position] = words[position].upper()
    if rng.random() < 0.5:
        words = words[: int(len(words) * 0.9)]
    return Story(
        id=story_id,
        title=story.title,
        body=" ".join(words),
        source="syndicated",
        published=story.published,
    )


# --- where the index lives -------------------------------------------------------------------


@contextmanager
def temporary_index(backend: str, folder: Path) -> Iterator[str | None]:
    if backend == "memory":
        yield None
    elif backend == "sqlite":
        yield str(folder / "index.sqlite")
    else:
        with temporary_redis(folder) as port:
            yield f"redis://127.0.0.1:{port}/0?prefix=bench"


@contextmanager
def temporary_redis(folder: Path) -> Iterator[int]:
    executable = shutil.which("redis-server")
    if executable is None:
        raise SystemExit("redis-server is not installed; or pass --index redis://...")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    options = ["--bind", "127.0.0.1", "--port", str(port), "--dir", str(folder)]
    options += ["--appendonly", "yes", "--save", "", "--logfile", str(folder / "redis.log")]
    server = subprocess.Popen([executable, *options])
    try:
        for _ in range(500):
            with socket.socket() as client:
                if client.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.01)
        yield port
    finally:
        server.terminate()
        server.wait()


# --- the measurements ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Phase:
    """One process's run of timed calls: its monotonic start and end (comparable across
    processes) and the latency of each call, in seconds."""

    start: float
    end: float
    latencies: list[float]


def timed(calls: Sequence[Callable[[], object]], wait: Callable[[], object]) -> Phase:
    wait()
    latencies, start = [], time.monotonic()
    for call in calls:
        tick = time.perf_counter()
        call()
        latencies.append(time.perf_counter() - tick)
    return Phase(start, time.monotonic(), latencies)


def fill(detector: Detector, sentences: Sentences, seed: int, numbers: range, batch: int) -> int:
    """Add stories ``numbers`` in batches; a batch whose last story is held was added by an
    earlier run (batches are stored in order) and is skipped. How many were added."""
    storage, added = detector.index_.storage, 0
    for start in range(numbers.start, numbers.stop, batch):
        stop = min(start + batch, numbers.stop)
        if f"bench-{stop - 1}" not in storage:
            added += detector.add_many(make_story(sentences, seed, n) for n in range(start, stop))
    return added


def _fill_worker(spec: str, sentences: Sentences, seed: int, numbers: range, batch: int) -> int:
    return fill(Detector(index=spec), sentences, seed, numbers, batch)


@dataclass(frozen=True, slots=True)
class Checks:
    checks: Phase | None  # None when not timed
    lookups: Phase | None  # the storage's part alone: the candidates fetched, keys made beforehand
    candidates: list[int]  # stories fetched per check
    found: float  # share of the edited copies called duplicates
    clean: float  # share of the new drafts called new


def measure_checks(
    detector: Detector, sentences: Sentences, seed: int, indexed: int, samples: int, timing: bool
) -> Checks:
    """Drafts checked one at a time, every other one a light edit of an indexed story."""
    rng = random.Random(seed)
    drafts = []
    for k in range(samples):
        if k % 2 == 0:
            original = make_story(sentences, seed, rng.randrange(indexed))
            drafts.append(light_edit(original, f"draft-{k}", rng))
        else:
            drafts.append(make_story(sentences, seed, PROBES - 1 - k, f"draft-{k}"))
    index, settings = detector.index_, detector.settings
    keys = band_keys(fingerprint(drafts, settings), settings)
    detector.check(drafts[0])  # connections open, caches warm
    verdicts: list[bool] = []
    candidates: list[int] = []
    checks = [partial(lambda d: verdicts.append(detector.check(d).is_duplicate), d) for d in drafts]
    lookups = [
        partial(lambda d, k: candidates.append(len(index.candidates(d.id, k))), d, k)
        for d, k in zip(drafts, keys, strict=True)
    ]
    if timing:
        timed_checks, timed_lookups = timed(checks, lambda: None), timed(lookups, list)
    else:
        for call in checks + lookups:
            call()
        timed_checks = timed_lookups = None
    copies, new = verdicts[0::2], verdicts[1::2]
    found, clean = sum(copies) / max(1, len(copies)), (len(new) - sum(new)) / max(1, len(new))
    return Checks(timed_checks, timed_lookups, candidates, found, clean)


def measure_adds(
    detector: Detector,
    sentences: Sentences,
    seed: int,
    first: int,
    samples: int,
    wait: Callable[[], object],
) -> tuple[Phase, Phase]:
    """New stories added one at a time through the Detector, as a crawler adds them
    (fingerprinting and the check against earlier stories included); then others straight to
    the storage, their band keys made beforehand: the index alone."""
    settings = detector.settings
    made = [make_story(sentences, seed, n, f"add-{n}") for n in range(first, first + 2 * samples)]
    through, direct = made[:samples], made[samples:]
    keys = band_keys(fingerprint(direct, settings), settings)
    storage = detector.index_.storage
    detector.check(through[0])
    adds = timed([partial(detector.add, story) for story in through], wait)
    stores = [
        partial(storage.add, story, [int(key) for key in row if key])
        for story, row in zip(direct, keys, strict=True)
    ]
    return adds, timed(stores, wait)


def _add_worker(
    spec: str, sentences: Sentences, seed: int, first: int, samples: int, start, results
) -> None:
    detector = Detector(index=spec)
    results.put(measure_adds(detector, sentences, seed, first, samples, start.wait))


# --- the table -------------------------------------------------------------------------------


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def summary(phases: Sequence[Phase]) -> str:
    """p50 / p99 latency in ms, and calls per second of all processes together."""
    latencies = [latency for phase in phases for latency in phase.latencies]
    wall = max(p.end for p in phases) - min(p.start for p in phases)
    p50, p99 = percentile(latencies, 0.5) * 1000, percentile(latencies, 0.99) * 1000
    return f"{p50:.2f} / {p99:.2f} ms, {len(latencies) / wall:,.0f}/s"


def run(args: argparse.Namespace, spec: str | None) -> list[tuple[str, str]]:
    sentences = load_sentences(args.data)  # before any fork, so the processes share it
    context = multiprocessing.get_context("fork")
    detector = Detector(index=spec)  # for memory, this detector is the index
    wanted = range(args.stories)

    begun = time.monotonic()
    if spec is None:
        added = fill(detector, sentences, args.seed, wanted, args.batch)
    else:
        share = -(-args.stories // args.processes // args.batch) * args.batch
        parts = [
            (spec, sentences, args.seed, wanted[w * share : (w + 1) * share], args.batch)
            for w in range(args.processes)
        ]
        with context.Pool(args.processes) as pool:
            added = sum(pool.starmap(_fill_worker, parts))
    built = time.monotonic() - begun
    stats = detector.index_.storage.stats()
    rows = [
        ("stories in the index", f"{stats.stories:,}"),
        ("bytes per story (stats().bytes / stories)", f"{stats.bytes / stats.stories:,.0f}"),
        ("index size", f"{stats.bytes / 2**20:,.1f} MiB"),
    ]
    if added and not args.counts:
        builders = 1 if spec is None else args.processes
        rows.append((
            f"build: add_many of {args.batch}, {builders} process(es), fingerprinting included",
            f"{added / built:,.0f} stories/s, {built / 60:.1f} min",
        ))  # fmt: skip
    if args.build_only:
        detector.index_.storage.close()
        return rows

    checked = measure_checks(
        detector, sentences, args.seed, args.stories, args.samples, not args.counts
    )
    if checked.checks and checked.lookups:
        rows.append(("Detector.check p50 / p99, 1 process", summary([checked.checks])))
        rows.append(("  of which the storage's, candidates(keys), p50 / p99",
                     summary([checked.lookups])))  # fmt: skip
    many = checked.candidates
    rows.append((
        "  stories fetched per check p50 / p99 / max",
        f"{percentile(many, 0.5)} / {percentile(many, 0.99)} / {max(many)}",
    ))  # fmt: skip
    rows.append((
        "  edited copies found / new drafts called new",
        f"{checked.found:.1%} / {checked.clean:.1%}",
    ))  # fmt: skip
    if args.counts:
        detector.index_.storage.close()
        return rows

    # Past every earlier run's probes: each run grows the index by more than it numbers.
    first = PROBES + 10 * stats.stories
    adds, stores = measure_adds(detector, sentences, args.seed, first, args.samples, list)
    rows.append(("Detector.add p50 / p99, adds/s, 1 process", summary([adds])))
    rows.append(("storage add p50 / p99, adds/s, 1 process", summary([stores])))
    if spec is not None and args.processes > 1:
        start, results = context.Barrier(args.processes), context.Queue()
        workers = [
            context.Process(
                target=_add_worker,
                args=(
                    spec,
                    sentences,
                    args.seed,
                    first + 2 * args.samples * (w + 1),
                    args.samples,
                    start,
                    results,
                ),
            )  # fmt: skip
            for w in range(args.processes)
        ]
        for worker in workers:
            worker.start()
        phases = [results.get() for _ in workers]
        for worker in workers:
            worker.join()
        rows.append((f"Detector.add p50 / p99, adds/s, {args.processes} processes",
                     summary([p[0] for p in phases])))  # fmt: skip
        rows.append((f"storage add p50 / p99, adds/s, {args.processes} processes",
                     summary([p[1] for p in phases])))  # fmt: skip
    detector.index_.storage.close()
    return rows


def environment(backend: str) -> str:
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    parts = [f"{os.cpu_count()} CPUs (load {load})", f"Python {platform.python_version()}"]
    if backend == "sqlite":
        parts.append(f"SQLite {sqlite3.sqlite_version}")
    if backend == "redis" and shutil.which("redis-server"):
        version = subprocess.run(["redis-server", "--version"], capture_output=True, text=True)
        parts.append(version.stdout.split(" sha=")[0])
    return ", ".join(parts)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.index_speed",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--backend", choices=("sqlite", "redis", "memory"), required=True)
    parser.add_argument("--stories", type=int, default=100_000)
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--samples", type=int, default=1000, help="checks, and adds per process")
    parser.add_argument("--batch", type=int, default=1000, help="stories per add_many call")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--index", help="build on (or reuse) this index instead of a new one")
    parser.add_argument(
        "--build-only",
        action="store_true",
        help="build (or finish building) the index and report its size, measure nothing: "
        "with --index, a large index can be built once and measured by later runs",
    )
    parser.add_argument(
        "--counts",
        action="store_true",
        help="measure only what does not depend on the machine: bytes per story, stories "
        "fetched per check, copies found; no latencies and no adds",
    )
    parser.add_argument("--data", type=Path, help="the shared data folder")
    args = parser.parse_args(argv)
    args.data = args.data or Path(
        os.environ.get("DEDUPE_DATA") or REPO_ROOT.parent / "shared" / "data"
    )
    with tempfile.TemporaryDirectory(prefix="dedupe-bench-") as folder:
        if args.index:
            rows = run(args, args.index)
        else:
            with temporary_index(args.backend, Path(folder)) as spec:
                rows = run(args, spec)
    print(f"\n{args.backend}, {environment(args.backend)}\n")
    print("| measure | value |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")


if __name__ == "__main__":
    main()
