"""``python -m benchmarks.quality``: dedupe and the datasketch baseline on every labelled set.

Prints one markdown table (set, metric, dedupe, baseline, n) and, with ``--out``, writes it to a
file as well. Progress goes to stderr, so the table can be piped on its own.
"""

from __future__ import annotations

from pathlib import Path
from time import perf_counter
from typing import Annotated

import typer

from benchmarks.data import resolve_data_dir
from benchmarks.methods import METHODS
from benchmarks.sets import SETS, Row, Run, Value

QUICK_LIMIT = 1_500

app = typer.Typer(add_completion=False, help=__doc__)


def format_value(value: Value) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def markdown_table(rows: list[Row], methods: list[str]) -> str:
    header = ["set", "metric", *methods, "n"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = [row.set, row.metric, *(format_value(row.values.get(m)) for m in methods)]
        lines.append("| " + " | ".join([*cells, str(row.n)]) + " |")
    return "\n".join(lines) + "\n"


@app.command()
def main(
    data: Annotated[
        Path | None,
        typer.Option(help="The shared data folder; default $DEDUPE_DATA, else ../shared/data."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of every sample and generated variant.")] = 1,
    limit: Annotated[
        int | None,
        typer.Option(help="At most this many stories per corpus (labelled ones kept first)."),
    ] = None,
    quick: Annotated[
        bool, typer.Option("--quick", help=f"A fast subset: --limit {QUICK_LIMIT}.")
    ] = False,
    only: Annotated[
        list[str] | None,
        typer.Option(help=f"Run only this set; repeatable. Sets: {', '.join(SETS)}."),
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Also write the table to this file.")] = None,
    baseline_only: Annotated[
        bool, typer.Option("--baseline-only", help="Leave the detector out.")
    ] = False,
) -> None:
    """Score dedupe and the datasketch baseline side by side on the labelled sets."""
    unknown = sorted(set(only or ()) - SETS.keys())
    if unknown:
        raise typer.BadParameter(f"unknown set {', '.join(unknown)}; sets: {', '.join(SETS)}")
    try:
        data_dir = resolve_data_dir(data)
    except FileNotFoundError as error:
        raise typer.BadParameter(str(error)) from error
    methods = {k: v for k, v in METHODS.items() if not (baseline_only and k == "dedupe")}
    run = Run(data=data_dir, seed=seed, limit=QUICK_LIMIT if quick else limit, methods=methods)
    typer.echo(f"data {data_dir}, seed {seed}, limit {run.limit or 'none'}", err=True)
    rows: list[Row] = []
    for name, evaluate in SETS.items():
        if only and name not in only:
            continue
        start = perf_counter()
        rows += evaluate(run)
        typer.echo(f"{name}: {perf_counter() - start:.1f} s", err=True)
    table = markdown_table(rows, list(METHODS))
    typer.echo(table, nl=False)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(table, encoding="utf-8")


if __name__ == "__main__":
    app()
