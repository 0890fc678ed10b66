"""Telling an input's format from its first bytes, with the file name as a hint only.

Content decides wherever it is clear, because names lie: JSON Lines saved as ".json", feeds saved
as ".txt", gzip without ".gz". The extension settles only what the content leaves open.
"""

from __future__ import annotations

import json
import re
from pathlib import PurePath

from .csv_table import looks_like_csv
from .encoding import bom_encoding
from .page import is_source_link, read_more_title

_SUFFIX_FORMATS = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".csv": "csv",
    ".tsv": "csv",
    ".xml": "feed",
    ".rss": "feed",
    ".atom": "feed",
    ".html": "html",
    ".htm": "html",
}
_FEED_ROOT = re.compile(r"<(?:rss|feed|rdf:RDF)\b")
# An array of objects or an object with a quoted key, so that a text beginning "[Update]" or
# "{Draft}" is not taken for JSON.
_JSON_START = re.compile(r'\s*(?:(\[)\s*(?:[{\]]|$)|(\{)\s*(?:["}]|$))')


def suffix_of(name: str) -> str:
    """The extension that names the format, under any ".gz"."""
    path = PurePath(name.lower())
    return PurePath(path.stem).suffix if path.suffix == ".gz" else path.suffix


def looks_like_feed(head: bytes) -> bool:
    """True for XML, and for documents whose root is an RSS, Atom or RDF feed.

    Decided on bytes: a feed's encoding is its XML declaration's business, not ours.
    """
    text = head[:4096].decode(bom_encoding(head) or "latin-1", "ignore").lstrip("\ufeff \t\r\n")
    return text.startswith("<?xml") or (text.startswith("<") and bool(_FEED_ROOT.search(text)))


def sniff_format(head: str, complete: bool, suffix: str) -> str:
    """The format of a text input whose decoded beginning is ``head``.

    ``complete`` says ``head`` is the whole input; otherwise its last line is cut and not judged.
    """
    lines = head.split("\n")
    if not complete:
        lines.pop()
    if start := _JSON_START.match(head):
        return "json" if start[1] == "[" else _json_kind(lines)
    if looks_like_csv(lines):
        return "csv"
    if any(is_source_link(line) or read_more_title(line) is not None for line in lines):
        return "page"
    return _SUFFIX_FORMATS.get(suffix, "text")


def _json_kind(lines: list[str]) -> str:
    """JSON Lines if the first line, or a later line starting a new object, is a whole object;
    else a multi-line document. Looking past the first line lets a damaged first record cost
    one line instead of the file."""
    records = [line for line in lines if line.strip()]
    if not records:
        return "jsonl"  # the first line is longer than the head: one record per line
    return (
        "jsonl"
        if _is_object(records[0]) or any(r.startswith("{") and _is_object(r) for r in records[1:])
        else "json"
    )


def _is_object(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except (ValueError, RecursionError):  # the reader reports what is wrong
        return False
