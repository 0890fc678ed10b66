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

import numpy as np

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


def splits_bytes(opened: OpenedInput, encoding: str) -> bool:
    """Whether the input's lines are cut at its 0x0A bytes, each decoded on its own (see
    ``iter_lines``): then lines can be cut as bytes and decoded elsewhere (``copy_lines``)."""
    name = codecs.lookup(encoding).name
    return not (opened.cr_newlines or name.startswith(_WHOLE_STREAM_ENCODINGS))


# Encodings that only a decoder of the whole stream splits into lines.
_WHOLE_STREAM_ENCODINGS = ("utf-16", "utf-32", "utf-7", "iso2022", "hz")


def line_encoding(encoding: str) -> tuple[str, bytes]:
    """The encoding each line decodes with, and the BOM the first line loses: "utf-8-sig"
    would drop U+FEFF from every line, not only from the first."""
    if codecs.lookup(encoding).name == "utf-8-sig":
        return "utf-8", codecs.BOM_UTF8
    return encoding, b""


def iter_lines(opened: OpenedInput, encoding: str, source: str) -> Iterator[Line]:
    """The decoded lines of an input, lazily; a UTF-8 BOM is dropped."""
    # In most encodings a byte 0x0A is always a newline, so each line decodes on its own and a
    # bad byte costs one line. UTF-16/32 and the stateful encodings need the whole stream
    # decoded, and so do bare carriage returns, which only a text decoder splits on.
    if not splits_bytes(opened, encoding):
        return _decoded_stream_lines(opened.stream, encoding, source)
    return _byte_lines(opened.stream, encoding)


def _byte_lines(stream: BinaryIO, encoding: str) -> Iterator[Line]:
    encoding, bom = line_encoding(encoding)
    label = encoding_label(encoding)
    number = 0
    while raw := stream.readline(MAX_LINE_BYTES):
        number += 1
        if number == 1:
            raw = raw.removeprefix(bom)
        if len(raw) == MAX_LINE_BYTES and not raw.endswith(b"\n"):
            _skip_rest_of_line(stream)
            yield too_long(number)
            continue
        yield decode_line(number, raw, encoding, label)


def too_long(number: int) -> Line:
    """The line ``number``, refused for its length."""
    return Line(number, "\n", f"line is longer than {MAX_LINE_BYTES:,} bytes")


def decode_line(number: int, raw: bytes, encoding: str, label: str) -> Line:
    """One line's bytes decoded, or with its problem (undecodable bytes, a NUL)."""
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as err:
        column = len(raw[: err.start].decode(encoding, "replace")) + 1
        problem = f"invalid {label} (byte 0x{raw[err.start]:02x} at column {column})"
        return Line(number, raw.decode(encoding, "replace"), problem, column)
    return _checked_line(number, text)


def copy_lines(
    stream: BinaryIO, out: BinaryIO, lines: int, bom: bytes = b""
) -> Iterator[tuple[int, int, int] | Line]:
    """Copy ``stream`` (without a leading ``bom``) to ``out`` and cut the copy into blocks of
    ``lines`` whole lines, each as (start, stop, number of its first line), flushed before it is
    given; a line longer than ``MAX_LINE_BYTES`` is left out of the copy and given as a ``Line``
    with its problem. The lines are neither decoded nor split here (``ByteBlock.parse``): this
    runs in the one process that reads the input, and decoding is done by the many that parse."""
    start = out.tell()  # where the block being cut starts
    number = 1  # the number of its first line
    count = 0  # its whole lines so far
    line_start = start  # where the line being read starts
    data = stream.read(_BLOCK).removeprefix(bom)
    while data:
        here = out.tell()
        _written(out.write, data)
        ends = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10) + (here + 1)
        taken = 0
        while count + len(ends) - taken >= lines:
            taken += lines - count
            stop = int(ends[taken - 1])
            _written(out.flush)
            yield start, stop, number
            start, number, count = stop, number + lines, 0
        count += len(ends) - taken
        if len(ends):
            line_start = int(ends[-1])
        if out.tell() - line_start < MAX_LINE_BYTES:
            data = stream.read(_BLOCK)
            continue
        # The line being read is too long: the block's lines before it, then the line's
        # problem; its bytes leave the copy, and reading goes on after its end.
        if count:
            _written(out.flush)
            yield start, line_start, number
            number += count
        out.seek(line_start)
        _written(out.truncate)
        yield too_long(number)
        start, number, count = line_start, number + 1, 0
        data = _after_line(stream)
    if out.tell() > start:
        _written(out.flush)
        yield start, out.tell(), number


class CopyError(OSError):
    """Writing the copy of an input failed (a full disk, a size limit): a fault of the folder it
    is written to, never of the input, which goes on being read."""


def _written(write: Callable[..., object], *data: bytes) -> None:
    try:
        write(*data)
    except OSError as error:
        raise CopyError(error.errno, error.strerror, error.filename) from error


def _after_line(stream: BinaryIO) -> bytes:
    """What follows the end of the line being read, reading on as far as it goes."""
    while data := stream.read(_BLOCK):
        end = data.find(b"\n")
        if end >= 0:
            return data[end + 1 :] or stream.read(_BLOCK)
    return b""


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
