"""``python -m dedupe``: the same command line as ``dedupe``."""

from dedupe.cli import run

run()
