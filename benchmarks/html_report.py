"""The HTML report at scale: how large the file is and how soon a browser shows it.

``python -m benchmarks.html_report [--sizes 10000,100000] [--loads 3]`` takes the corpora of
``benchmarks.speed`` (built there if missing), writes each one's report with
``dedupe scan CORPUS --format html -o OUT`` (a fresh process: its time and peak memory too), then
opens it ``--loads`` times in Debian's headless chromium, each time in a new tab, and measures:

- **first groups**: from the start of navigation to the first group panel in the page (a
  MutationObserver notes the moment), which is when a reader sees something to read;
- **load event**: when the whole file is parsed and its script has run;
- **JS heap**: what the page holds once drawn;
- **search**: from typing a word to the list of groups redrawn, the first search of the page
  (it reads every text once), the page's 200 ms pause after typing included.

The output is a markdown table, with the command, commit, machine and load average to record it
in RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks import data, speed

CHROMIUM = "/usr/bin/chromium"
# As the tests launch it (tests/test_report_browser.py): headless, and nothing of the browser's
# own on the network.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
FIRST_GROUPS = """
new MutationObserver((changes, observer) => {
  if (document.querySelector("#group-list .group")) {
    window.__firstGroups = performance.now();
    observer.disconnect();
  }
}).observe(document, {childList: true, subtree: true});
"""
# Types a word the corpora hold in some texts, and resolves once the list says what it shows.
SEARCH = """
(word) => new Promise((resolve) => {
  const shown = document.getElementById("shown");
  const before = shown.textContent;
  const started = performance.now();
  new MutationObserver((changes, observer) => {
    if (shown.textContent !== before) {
      observer.disconnect();
      resolve(performance.now() - started);
    }
  }).observe(shown, {childList: true, characterData: true, subtree: true});
  const search = document.getElementById("search");
  search.value = word;
  search.dispatchEvent(new Event("input"));
})
"""
SEARCH_WORD = "minister"


@dataclass(frozen=True, slots=True)
class Load:
    first_groups_ms: float
    load_event_ms: float
    heap_mb: float
    search_ms: float


def open_page(context: Any, path: Path) -> Load:
    page = context.new_page()
    try:
        page.add_init_script(FIRST_GROUPS)
        page.goto(path.as_uri(), wait_until="load", timeout=600_000)
        page.wait_for_function("window.__firstGroups !== undefined", timeout=600_000)
        first = page.evaluate("window.__firstGroups")
        loaded = page.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd")
        heap = page.evaluate("performance.memory.usedJSHeapSize") / 2**20
        search = page.evaluate(SEARCH, SEARCH_WORD)
        return Load(first, loaded, heap, search)
    finally:
        page.close()


def load_times(path: Path, loads: int) -> list[Load]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright, tempfile.TemporaryDirectory() as profile:
        context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1200, "height": 900},
        )
        try:
            return [open_page(context, path) for _ in range(loads)]
        finally:
            context.close()


def benchmark(args: argparse.Namespace) -> list[str]:
    args.cache.mkdir(parents=True, exist_ok=True)
    paths = speed.corpus_files(args.sizes, args.seed, args.cache, data.resolve_data_dir(args.data))
    header = [
        f"Command: `python -m benchmarks.html_report {shlex.join(sys.argv[1:])}`",
        f"Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; dedupe at {speed.commit()}",
        f"Machine: {speed.machine()}",
        "",
        "| stories | scan s | scan peak GB | file MB | first groups s | load event s "
        "| JS heap MB | first search s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    rows = []
    for size, corpus in zip(args.sizes, paths, strict=True):
        out = args.cache / f"report-{size}.html"
        command = ["dedupe", "scan", str(corpus), "--format", "html", "-o", str(out)]
        print(f"{size:,} stories: {shlex.join(command)}", file=sys.stderr)
        seconds, peak_mb, error = speed.measure(command, out.with_suffix(".log"))
        if error:
            rows.append(f"| {size:,} | failed: {error} | | | | | | |")
            continue
        loads = load_times(out, args.loads)
        rows.append(
            f"| {size:,} | {seconds:.1f} | {peak_mb / 1024:.2f} | {out.stat().st_size / 2**20:.1f} "
            f"| {statistics.median([x.first_groups_ms for x in loads]) / 1000:.2f} "
            f"| {statistics.median([x.load_event_ms for x in loads]) / 1000:.2f} "
            f"| {statistics.median([x.heap_mb for x in loads]):.0f} "
            f"| {statistics.median([x.search_ms for x in loads]) / 1000:.2f} |"
        )
        print(rows[-1], file=sys.stderr)
    load = ", ".join(f"{n:.1f}" for n in os.getloadavg())
    notes = [
        "",
        f"Each page opened {args.loads} times, a new tab each time; medians. Load average "
        f"{load} at the end.",
    ]
    return header + rows + notes


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.html_report", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--sizes",
        default="10000,100000",
        type=lambda text: [int(n) for n in text.split(",")],
        help="corpus sizes, comma-separated (default 10000,100000)",
    )
    parser.add_argument("--loads", type=int, default=3, help="times each page is opened")
    parser.add_argument("--seed", type=int, default=1, help="seed of the corpora (default 1)")
    parser.add_argument(
        "--cache",
        type=Path,
        default=speed.CACHE,
        help=f"where corpora and reports are kept (default {speed.CACHE})",
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
