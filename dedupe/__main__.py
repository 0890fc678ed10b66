"""``python -m dedupe``: the same command line as ``dedupe``."""

from dedupe.cli import app

app(prog_name="dedupe")
