"""The Spark engine against the local engine on one corpus: time, and whether the reports agree.

``python -m benchmarks.spark_speed CORPUS [--masters local[1],local[2]] [--topics]`` scans a
corpus of ``benchmarks.corpus`` (or any JSONL of stories) with ``Detector().scan`` and then with
``dedupe.engines.spark.scan_stories`` on each master, each in a fresh process so that one run's
warm caches and memory do not help the next, and prints a markdown table: seconds, stories per
second, the ratio to the local engine, and whether the JSON report is identical to the local one.
Spark's own start-up (its JVM, about ten seconds here) is part of its time, as a user meets it.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

_RUN = r"""
import json, sys, time
from dedupe import Detector
from dedupe.ingest import read
corpus, engine, topics, out = sys.argv[1], sys.argv[2], sys.argv[3] == "1", sys.argv[4]
started = time.perf_counter()
stories = read([corpus])
if engine == "local":
    report = Detector().scan(stories, topics=topics)
else:
    from dedupe.engines.spark import scan_stories
    report = scan_stories(stories, engine, topics=topics)
seconds = time.perf_counter() - started
with open(out, "w", encoding="utf-8") as file:
    json.dump({"seconds": seconds, "report": report.to_dict()}, file, sort_keys=True)
"""


def run(corpus: Path, engine: str, topics: bool, folder: Path) -> tuple[float, dict]:
    out = folder / f"{engine.replace('[', '-').replace(']', '')}.json"
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable}
    subprocess.run(
        [sys.executable, "-c", _RUN, str(corpus), engine, "1" if topics else "0", str(out)],
        check=True,
        env=env,
    )
    result = json.loads(out.read_text(encoding="utf-8"))
    return result["seconds"], result["report"]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.spark_speed")
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--masters", default="local[1],local[2]", help="Spark masters to time")
    parser.add_argument("--topics", action="store_true", help="cluster topics too")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="dedupe-spark-speed-") as folder:
        stories = sum(1 for line in _lines(args.corpus) if line.strip())
        local_seconds, local = run(args.corpus, "local", args.topics, Path(folder))
        lines = [
            f"Corpus: {args.corpus} ({stories:,} stories); topics: {args.topics}; "
            f"load average {os.getloadavg()[0]:.1f} at the end; {time.strftime('%Y-%m-%d %H:%M')}",
            "",
            "| engine | seconds | stories/s | time / local | report identical |",
            "|---|---:|---:|---:|---|",
            f"| local | {local_seconds:.1f} | {stories / local_seconds:,.0f} | 1.00 | |",
        ]
        for master in args.masters.split(","):
            seconds, report = run(args.corpus, master, args.topics, Path(folder))
            same = "yes" if report == local else "NO"
            lines.append(
                f"| spark {master} | {seconds:.1f} | {stories / seconds:,.0f} | "
                f"{seconds / local_seconds:.2f} | {same} |"
            )
    print("\n".join(lines))


def _lines(path: Path) -> Iterator[str]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as file:
        yield from file


if __name__ == "__main__":
    main()
