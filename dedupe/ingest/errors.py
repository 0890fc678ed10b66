"""The one error type of the ingest stage."""

from __future__ import annotations


class InputError(Exception):
    """Bad input: names the source (file path or "<stdin>") and the 1-based line when known.

    One type for every input problem, so that callers can report any of them the same way
    ("feed.jsonl:12: invalid JSON: ...") and carry on or stop.
    """

    def __init__(self, source: str, line: int | None, message: str) -> None:
        # Passing every field to Exception keeps the error picklable across processes.
        super().__init__(source, line, message)
        self.source = source
        self.line = line
        self.message = message

    def __str__(self) -> str:
        if self.line is None:
            return f"{self.source}: {self.message}"
        return f"{self.source}:{self.line}: {self.message}"
