"""Opening an input as bytes and reading it back as numbered lines of text.

Files and stdin look the same from here on: gzip is undone, the first bytes are kept for sniffing
and then given back, and lines are decoded one at a time so that a file of any size streams.
"""

from __future__ import annotations

import codecs
import io
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO, NamedTuple, cast

from .errors import InputError

try:
    # ISA-L inflates gzip three times as fast as zlib: a third of reading a large .jsonl.gz.
    from isal.igzip import GzipFile
    from isal.isal_zlib import error as _IsalError

    # What reading a truncated or corrupt gzip stream raises.
    DECOMPRESSION_ERRORS: tuple[type[Exception], ...] = (EOFError, zlib.error, _IsalError)
except ImportError:  # a platform isal has no wheel for
    from gzip import GzipFile

    DECOMPRESSION_ERRORS = (EOFError, zlib.error)

# Enough to sniff the format and tell the encoding, small enough to hold for every input.
HEAD_BYTES = 64 * 1024
# Longest line held in memory; a longer one is reported, not read. Far above any real record
# (bodies are cut to 2,000,000 characters anyway), so only broken input reaches it.
MAX_LINE_BYTES = 64 * 1024 * 1024
_GZIP_MAGIC = b"\x1f\x8b"
_BLOCK = 1024 * 1024


class Line(NamedTuple):
    """One physical line: its 1-based number, its text with the line ending, and what is wrong
    with it (undecodable bytes, too long), so that only the record holding it is lost."""

    number: int
    text: str
    problem: str | None = None
    column: int | None = None
    """The 1-based column of ``text`` where the problem is, when it is at one place: a document
    holding several records on a line loses only the record with the bad bytes."""


@dataclass(frozen=True, slots=True)
class OpenedInput:
    stream: BinaryIO
    """The whole content, head included, gzip undone."""
    head: bytes
    """The first bytes, for sniffing."""
    complete: bool
    """The head is the whole input (so its last line is not cut)."""

    @property
    def cr_newlines(self) -> bool:
        """Lines end in a bare carriage return, as in old Mac exports (Excel for Mac's CSV)."""
        return b"\r" in self.head and b"\n" not in self.head


class _Replay(io.RawIOBase):
    """Gives back bytes already read for sniffing, then the rest of the stream.

    Works for pipes, where seeking back is impossible. Closing it leaves ``rest`` open: stdin
    belongs to the caller. ``consumed`` is told how many bytes each read of ``rest`` gave: a
    buffer's worth at a time, not a call per record.
    """

    def __init__(
        self, head: bytes, rest: BinaryIO, consumed: Callable[[int], None] | None = None
    ) -> None:
        self._head = memoryview(head)
        self._rest = rest
        self._consumed = consumed

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._head:
            size = min(len(buffer), len(self._head))
            buffer[:size] = self._head[:size]
            self._head = self._head[size:]
            return size
        data = self._rest.read(len(buffer))
        buffer[: len(data)] = data
        if self._consumed is not None:
            self._consumed(len(data))
        return len(data)


def _replay(
    head: bytes, rest: BinaryIO, consumed: Callable[[int], None] | None = None
) -> io.BufferedReader:
    return io.BufferedReader(_Replay(head, rest, consumed), buffer_size=_BLOCK)


def _read_up_to(stream: BinaryIO, size: int) -> bytes:
    """Read ``size`` bytes unless the stream ends first: pipes return short reads."""
    parts: list[bytes] = []
    wanted = size
    while wanted > 0 and (data := stream.read(wanted)):
        parts.append(data)
        wanted -= len(data)
    return b"".join(parts)


def open_input(raw: BinaryIO, consumed: Callable[[int], None] | None = None) -> OpenedInput:
    """Undo gzip (told by its magic bytes, not the name) and keep the head for sniffing.
    ``consumed`` is told of the bytes read from ``raw`` as they are read (for gzip, the
    compressed bytes): a measure of progress through a file of known size."""
    magic = _read_up_to(raw, len(_GZIP_MAGIC))
    if consumed is not None:
        consumed(len(magic))
    stream: BinaryIO = _replay(magic, raw, consumed)
    if magic == _GZIP_MAGIC:
        stream = cast(BinaryIO, GzipFile(fileobj=stream, mode="rb"))
    head = _read_up_to(stream, HEAD_BYTES)
    return OpenedInput(_replay(head, stream), head, complete=len(head) < HEAD_BYTES)


def encoding_label(encoding: str) -> str:
    """The encoding as people write it, for messages."""
    name = codecs.lookup(encoding).name
    return "UTF-8" if name in ("utf-8", "utf-8-sig") else name


def iter_lines(opened: OpenedInput, encoding: str, source: str) -> Iterator[Line]:
    """The decoded lines of an input, lazily; a UTF-8 BOM is dropped."""
    name = codecs.lookup(encoding).name
    # In most encodings a byte 0x0A is always a newline, so each line decodes on its own and a
    # bad byte costs one line. UTF-16/32 and the stateful encodings need the whole stream
    # decoded, and so do bare carriage returns, which only a text decoder splits on.
    if opened.cr_newlines or name.startswith(("utf-16", "utf-32", "utf-7", "iso2022", "hz")):
        return _decoded_stream_lines(opened.stream, encoding, source)
    return _byte_lines(opened.stream, encoding)


def _byte_lines(stream: BinaryIO, encoding: str) -> Iterator[Line]:
    label = encoding_label(encoding)
    # The BOM is dropped from the first line only: "utf-8-sig" would drop U+FEFF from every line.
    bom = codecs.BOM_UTF8 if codecs.lookup(encoding).name == "utf-8-sig" else b""
    line_encoding = "utf-8" if bom else encoding
    number = 0
    while raw := stream.readline(MAX_LINE_BYTES):
        number += 1
        if number == 1:
            raw = raw.removeprefix(bom)
        if len(raw) == MAX_LINE_BYTES and not raw.endswith(b"\n"):
            _skip_rest_of_line(stream)
            yield Line(number, "\n", f"line is longer than {MAX_LINE_BYTES:,} bytes")
            continue
        try:
            text = raw.decode(line_encoding)
        except UnicodeDecodeError as err:
            column = len(raw[: err.start].decode(line_encoding, "replace")) + 1
            problem = f"invalid {label} (byte 0x{raw[err.start]:02x} at column {column})"
            yield Line(number, raw.decode(line_encoding, "replace"), problem, column)
            continue
        yield _checked_line(number, text)


def _checked_line(number: int, text: str) -> Line:
    """A decoded line, damaged if it holds a NUL: no text does, but a file broken mid-write
    does, and the csv module would pass it on into a story."""
    if (nul := text.find("\0")) < 0:
        return Line(number, text)
    return Line(number, text, f"NUL character at column {nul + 1}", nul + 1)


def _skip_rest_of_line(stream: BinaryIO) -> None:
    while (part := stream.readline(_BLOCK)) and not part.endswith(b"\n"):
        pass


def _decoded_stream_lines(stream: BinaryIO, encoding: str, source: str) -> Iterator[Line]:
    label = encoding_label(encoding)
    # Lines are cut by characters here; a UTF-32 character takes four bytes.
    max_chars = MAX_LINE_BYTES // 4
    text_stream = io.TextIOWrapper(stream, encoding=encoding, errors="strict", newline="")
    number = 0
    try:
        while text := text_stream.readline(max_chars):
            number += 1
            if len(text) == max_chars and not text.endswith(("\n", "\r")):
                while (part := text_stream.readline(_BLOCK)) and not part.endswith(("\n", "\r")):
                    pass
                yield Line(number, "\n", f"line is longer than {max_chars:,} characters")
                continue
            yield _checked_line(number, text)
    except UnicodeDecodeError as err:
        # The decoder reads ahead in blocks: the bad bytes are somewhere after this line.
        message = f"invalid {label} after line {number}: {err.reason}"
        raise InputError(source, None, message) from None
