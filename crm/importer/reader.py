"""CSV rows with a bound on memory: no line, value or row longer than :data:`ROW_LIMIT` is held.

``csv.reader`` reads whole lines, so a 100 MB line (or a quoted value running over many
lines) would be held whole, several times over. Here lines come from ``readline(limit)``
and a row that grows past the limit is *skipped*: :class:`_Scanner` follows the csv
module's quoting rules over the rest of it, chunk by chunk, to find where it ends, and
the reader goes on with the next row. Only a quote that is never closed stops the file.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

from crm.errors import CRMError

ROW_LIMIT = 1 << 20  # characters in one row, and so in any one value (1 MB of text)


class ImportFileError(CRMError):
    """A file that cannot be imported at all (unreadable, binary, no name column...)."""


class Row:
    """One data row: its first line number and its values by field (first non-empty column wins)."""

    __slots__ = ("fields", "line", "values")

    def __init__(self, line: int, values: list[str], columns: dict[str, list[int]]) -> None:
        self.line = line
        self.values = values
        fields: dict[str, str] = {}
        for name, idx in columns.items():
            for i in idx:
                value = values[i].strip()
                if value:
                    fields[name] = _unneutralise(value) if value[0] == "'" else value
                    break
        self.fields = fields

    def get(self, name: str) -> str:
        return self.fields.get(name, "")


class Broken(NamedTuple):
    """A row that can't be read as a row: rejected with a reason, and the file goes on."""

    line: int
    category: str
    message: str


def _unneutralise(value: str) -> str:
    """Undo the export's formula guard: "'=SUM(A1)" -> "=SUM(A1)"."""
    if len(value) > 1 and value[0] == "'" and value[1] in "=+-@\t\r":
        return value[1:]
    return value


def limit_text(limit: int) -> str:
    return f"{limit / (1 << 20):g} MB" if limit >= 1 << 20 else f"{limit:,} characters"


class _TooLong(Exception):
    """Raised by :class:`_Lines` inside ``csv.reader``, which then starts afresh on the next row."""


class _Lines:
    """The lines of a text stream for ``csv.reader``, each at most ``limit`` characters.

    Keeps the lines of the row being read (reset by :meth:`start_row`), and raises
    :class:`_TooLong` as soon as they pass the limit.
    """

    __slots__ = ("limit", "number", "partial", "row", "size", "text")

    def __init__(self, text: io.TextIOBase, limit: int) -> None:
        self.text = text
        self.limit = limit
        self.number = 0  # the line being read (1-based)
        self.partial = False  # the last chunk stopped before the end of its line
        self.row: list[str] = []
        self.size = 0

    def __iter__(self) -> _Lines:
        return self

    def chunk(self) -> str:
        """The next line, or the next ``limit`` characters of a longer one ('' at the end)."""
        text = self.text.readline(self.limit)
        if not text:
            return text
        if not self.partial:
            self.number += 1
        self.partial = text[-1] not in "\r\n"
        if "\x00" in text:  # PostgreSQL refuses NUL in text, and no CRM means one
            text = text.replace("\x00", "")
        return text

    def __next__(self) -> str:  # chunk() written out: this runs for every line of every file
        text = self.text.readline(self.limit)
        if not text:
            raise StopIteration
        if not self.partial:
            self.number += 1
        self.partial = text[-1] not in "\r\n"
        if "\x00" in text:
            text = text.replace("\x00", "")
        self.row.append(text)
        self.size += len(text)
        if self.size > self.limit or (self.partial and len(text) >= self.limit):
            raise _TooLong
        return text

    def start_row(self) -> None:
        self.row = []
        self.size = 0


# The scanner's states, as in CPython's Modules/_csv.c (default dialect, no escape character).
_START, _FIELD, _QUOTED, _QUOTE = range(4)
_QUOTED_RUN = re.compile(r'(?:[^"]+|"")*+')  # the inside of a quoted value, up to its closing quote


class _Scanner:
    """Follows a row through chunks of text to where it ends, counting its values on the way."""

    def __init__(self, delimiter: str) -> None:
        self.delimiter = delimiter
        self.state = _START
        self.field = 0  # index of the value being read
        self.seen = 0  # characters fed
        self._event = re.compile(f'[\r\n]|{re.escape(delimiter)}"')  # a line end, or a quote opening a value

    @property
    def quoted(self) -> bool:
        return self.state == _QUOTED

    def feed(self, text: str) -> bool:
        """Read ``text``; True when the row ends in it (at a line end outside quotes)."""
        self.seen += len(text)
        i, n = 0, len(text)
        while i < n:
            if self.state == _QUOTE:  # the quote before was a closing one unless another follows
                if text[i] == '"':
                    self.state, i = _QUOTED, i + 1
                    continue
                self.state = _FIELD
            if self.state == _QUOTED:
                inside = _QUOTED_RUN.match(text, i)
                i = inside.end() if inside else i
                if i < n:
                    self.state, i = _QUOTE, i + 1
                continue
            if self.state == _START and text[i] == '"':
                self.state, i = _QUOTED, i + 1
                continue
            found = self._event.search(text, i)
            stop = found.start() if found else n
            self.field += text.count(self.delimiter, i, stop)
            if found is None:
                self.state = _START if text[n - 1] == self.delimiter else _FIELD
                return False
            if text[stop] in "\r\n":
                return True
            self.field += 1
            self.state, i = _QUOTED, found.end()
        return False


class _Skipped(NamedTuple):
    column: int  # index of the value that was being read when the row passed the limit
    unclosed: bool  # the file ended inside a quoted value


def _skip_row(lines: _Lines, delimiter: str) -> _Skipped:
    """Read to the end of an over-long row (its start is in ``lines.row``), holding one chunk at a time."""
    scanner = _Scanner(delimiter)
    column = None
    for text in lines.row:
        room = lines.limit - scanner.seen
        if column is None and len(text) >= room:
            ended = scanner.feed(text[:room])
            column = scanner.field
            ended = scanner.feed(text[room:]) if text[room:] else ended
        else:
            ended = scanner.feed(text)
        if ended:
            break
    else:
        while True:
            text = lines.chunk()
            if not text:
                break
            if scanner.feed(text):
                break
    lines.start_row()
    return _Skipped(scanner.field if column is None else column, not text and scanner.quoted)


def open_text(fh: BinaryIO, encoding: str) -> io.TextIOWrapper:
    return io.TextIOWrapper(fh, encoding=encoding, newline="")


def read_header(path: Path, encoding: str, delimiter: str) -> list[str]:
    """The first row of a file (bounded like every row); ImportFileError if it can't be read."""
    limit = ROW_LIMIT
    with open_text(path.open("rb"), encoding) as text:
        lines = _Lines(text, limit)
        try:
            return next(csv.reader(lines, delimiter=delimiter), [])
        except _TooLong:
            raise ImportFileError(
                f"{path.name}: the header row is longer than {limit_text(limit)}; the first line must name the columns."
            ) from None
        except csv.Error as err:
            raise ImportFileError(f"{path.name}: the header row can't be read as CSV ({err}).") from None
        except UnicodeDecodeError:
            raise ImportFileError(
                f"{path.name}: the header row is not valid {encoding}; name the encoding with --encoding."
            ) from None


def iter_rows(
    fh: BinaryIO, *, name: str, encoding: str, delimiter: str, header: list[str], columns: dict[str, list[int]]
) -> Iterator[Row | Broken]:
    """Data rows of an open binary file, or :class:`Broken` ones; ImportFileError if the file is unreadable."""
    limit = ROW_LIMIT
    previous_limit = csv.field_size_limit(limit + 1)  # never reached: the lines stop first
    width = len(header)
    text = open_text(fh, encoding)
    lines = _Lines(text, limit)
    reader = csv.reader(lines, delimiter=delimiter)
    start = 1
    try:
        next(reader, None)  # the header
        while True:
            lines.row, lines.size = [], 0  # start_row(), for every row
            start = lines.number + 1
            try:
                values = next(reader)
            except StopIteration:
                break
            except _TooLong:
                yield _too_long(lines, delimiter, name, start, header)
                continue
            if not values or (len(values) == 1 and not values[0].strip()):
                continue
            if len(values) != width:
                if len(values) > width and not any(v.strip() for v in values[width:]):
                    values = values[:width]
                else:
                    yield Broken(start, "malformed row", f"has {len(values)} values but the header has {width} columns")
                    continue
            yield Row(start, values, columns)
    except UnicodeDecodeError:
        raise ImportFileError(
            f"{name}: around line {lines.number} the bytes are not valid {encoding}. "
            "Save the file as UTF-8, or name its encoding with --encoding (e.g. --encoding latin-1)."
        ) from None
    except csv.Error as err:
        raise ImportFileError(
            f"{name}: line {start} can't be read as CSV ({err}); check for an unclosed quote."
        ) from None
    finally:
        text.close()
        csv.field_size_limit(previous_limit)


def _too_long(lines: _Lines, delimiter: str, name: str, start: int, header: list[Any]) -> Broken:
    skipped = _skip_row(lines, delimiter)
    if skipped.unclosed:
        raise ImportFileError(
            f"{name}: the quote opened on line {start} is never closed (an unclosed quote), "
            "so the rest of the file would be one value."
        )
    column = header[skipped.column].strip() if skipped.column < len(header) else ""
    where = f"column “{column[:60]}”" if column else f"column {skipped.column + 1}"
    return Broken(start, "row too long", f"longer than {limit_text(lines.limit)} ({where}); skipped")
