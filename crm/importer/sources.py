"""Opening a file to import: its encoding, delimiter, header, kind and column mapping.

Only the start of a file is read here (a 64 KB sample and the header row); the rows are
streamed later by :func:`read_rows`.

Encoding
    A UTF-8, UTF-16 or UTF-32 byte-order mark, else UTF-16 without one (NUL bytes in every
    other place), else UTF-8 when the sample is valid UTF-8, else what ``charset-normalizer``
    finds in the sample (Shift-JIS, Windows-1251, GB18030, ...), with Windows-1252 (or
    Latin-1, when the bytes are not Windows-1252) whenever it can't tell a Western
    encoding apart. ``--encoding`` overrides it.

Header
    Column names are matched (case, spaces and punctuation ignored) against the kinds'
    field aliases (:mod:`crm.importer.kinds`); ``mapping`` (``--map "Col=field"``) overrides
    them. Two columns with the same name are refused: which one would be meant?
"""

from __future__ import annotations

import codecs
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import charset_normalizer

from crm.errors import InvalidInput
from crm.importer.columns import IGNORE, CustomColumn, choose_kind, detect_vendor, header_key, map_columns
from crm.importer.kinds import KINDS
from crm.importer.reader import Broken, ImportFileError, Row, iter_rows, read_header
from crm.importer.vendors import CUSTOM

SAMPLE_BYTES = 64 * 1024

# What charset-normalizer may answer: the encodings CSV exports are really written in.
_CANDIDATES = (
    "cp1252",
    "latin_1",
    "iso8859_15",
    "cp1250",
    "iso8859_2",
    "cp1251",
    "koi8_r",
    "cp1253",
    "cp1254",
    "cp1255",
    "cp1256",
    "cp1257",
    "cp932",
    "shift_jis",
    "euc_jp",
    "gb18030",
    "big5",
    "cp949",
    "euc_kr",
)
_MULTI_BYTE = frozenset({"cp932", "shift_jis", "euc_jp", "gb18030", "big5", "cp949", "euc_kr"})


def field_names() -> set[str]:
    return {name for kind in KINDS.values() for name in kind.field_names}


def parse_mapping(text: str) -> dict[str, str]:
    """``"Firma=name,Web=website,Fax=ignore,Region=custom:Sales region"`` -> {header key: field or
    "custom:<label or key>"}; raises InvalidInput."""
    known = field_names() | {IGNORE}
    mapping: dict[str, str] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        column, sep, target = part.rpartition("=")
        if not sep or not column.strip():
            raise InvalidInput(f"--map needs Column=field pairs; “{part.strip()}” has no “=”.")
        if target.strip().lower().startswith(CUSTOM):  # a custom field, by its label or key
            label = " ".join(target.strip()[len(CUSTOM) :].split())
            if not label:
                raise InvalidInput(f"--map: “{part.strip()}” needs the custom field's name after “custom:”.")
            mapping[header_key(column)] = CUSTOM + label[:80]
            continue
        target = target.strip().lower().replace(" ", "_")
        if target not in known:
            raise InvalidInput(
                f"--map: “{target}” is not a field. Fields are: {', '.join(sorted(known))}; or custom:<a custom "
                "field's name>."
            )
        mapping[header_key(column)] = target
    return mapping


@dataclass
class SourceFile:
    path: Path
    kind: str
    encoding: str
    delimiter: str
    header: list[str]
    columns: dict[str, list[int]]  # field -> column indexes (first non-empty value wins)
    ignored: list[str]  # the skipped columns' headers
    size: int
    encoding_given: bool = False
    kind_reason: str = ""
    vendor: str = ""
    vendor_reason: str = ""
    custom: list[CustomColumn] = field(default_factory=list)  # offered as custom fields
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (header, why)

    @property
    def label(self) -> str:
        return self.path.name


# -- encoding --------------------------------------------------------------------------------
def detect_encoding(sample: bytes, name: str) -> str:
    """The encoding of a file from its first bytes; raises ImportFileError for binary files."""
    if not sample.strip():
        raise ImportFileError(f"{name} is empty: there is nothing to import.")
    if sample.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "utf-32"
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if sample.startswith(b"PK\x03\x04"):
        raise ImportFileError(f"{name} is a zip file or an Excel workbook, not CSV: save it as CSV (UTF-8) first.")
    even, odd = sample[0::2], sample[1::2]
    if len(sample) >= 4 and odd.count(0) > len(odd) // 3 and even.count(0) == 0:
        return "utf-16-le"
    if len(sample) >= 4 and even.count(0) > len(even) // 3 and odd.count(0) == 0:
        return "utf-16-be"
    if b"\x00" in sample:
        raise ImportFileError(f"{name} looks like a binary file, not CSV text (it contains NUL bytes).")
    head = _whole_lines(sample)
    try:
        head.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        return _legacy_encoding(head)


def _whole_lines(sample: bytes) -> bytes:
    """A full sample without its last, perhaps cut, line (or character)."""
    if len(sample) < SAMPLE_BYTES:
        return sample
    end = sample.rfind(b"\n")
    return sample[: end + 1] if end > 0 else sample[:-4]


def _western(sample: bytes) -> str:
    try:
        sample.decode("cp1252")
        return "cp1252"
    except UnicodeDecodeError:
        return "latin-1"


def _legacy_encoding(sample: bytes) -> str:
    """An 8-bit or East Asian encoding, by charset-normalizer; Western where it can't tell."""
    results = charset_normalizer.from_bytes(sample, cp_isolation=list(_CANDIDATES))
    best = results.best()
    if best is None:
        return _western(sample)
    if best.encoding in _MULTI_BYTE:
        return best.encoding
    same = {best.encoding, *best.could_be_from_charset}  # encodings that read the sample alike
    as_good = any(  # a tie, which charset-normalizer breaks by name (cp1250 before cp1252)
        m.encoding == "cp1252" and m.chaos <= best.chaos + 0.005 and m.coherence >= best.coherence - 0.005
        for m in results
    )
    if as_good or "cp1252" in same or "latin_1" in same or not best.coherence:
        return _western(sample)  # the commonest reading, unless the sample clearly says otherwise
    return best.encoding


def _check_encoding(encoding: str) -> str:
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise ImportFileError(f"--encoding {encoding} is not an encoding Python knows.") from None
    return encoding


# -- opening ---------------------------------------------------------------------------------
def _sniff_delimiter(text: str) -> str:
    line = text.split("\n", 1)[0]
    counts = {d: line.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _check_text(text: str, name: str) -> None:
    controls = sum(1 for ch in text[:20_000] if ord(ch) < 32 and ch not in "\t\r\n")
    if controls > max(10, len(text[:20_000]) // 100):
        raise ImportFileError(f"{name} looks like a binary file, not CSV text.")


def open_source(path: Path, *, kind: str | None, mapping: dict[str, str], encoding: str | None = None) -> SourceFile:
    """Sniff a file's encoding, delimiter, kind and column mapping (reads only its start)."""
    name = path.name
    if not path.exists():
        raise ImportFileError(f"{path} does not exist.")
    if path.is_dir():
        raise ImportFileError(f"{path} is a directory; give a CSV file (or an export directory on its own).")
    size = path.stat().st_size
    with path.open("rb") as fh:
        sample = fh.read(SAMPLE_BYTES)
    given = encoding is not None
    encoding = _check_encoding(encoding) if encoding is not None else detect_encoding(sample, name)
    text = sample.decode(encoding, errors="ignore")
    _check_text(text, name)
    delimiter = _sniff_delimiter(text.lstrip("\ufeff"))
    header = read_header(path, encoding, delimiter)
    if not header or not any(h.strip() for h in header):
        raise ImportFileError(f"{name} has no header row: the first line must name the columns.")
    keys = [header_key(h) for h in header]
    _refuse_repeated_columns(name, header, keys, mapping)
    vendor, vendor_reason = detect_vendor(header)
    kind_reason = "named on the command line"
    if kind is None:
        kind, kind_reason = choose_kind(path, header, mapping, vendor)
    columns, custom, skipped = map_columns(kind, header, mapping, vendor)
    required = KINDS[kind].required
    if not set(required) & set(columns):
        target = required[0]
        where = (
            f"its headers are {vendor.label}'s, but"
            if vendor
            else "its headers are not HubSpot's, Salesforce's or Pipedrive's, and"
        )
        raise ImportFileError(
            f"{name} was read as {kind} ({kind_reason}); {where} no column holds the "
            f"{KINDS[kind].entity}'s {target.replace('_', ' ')}. Its columns are: {', '.join(header[:30])}. "
            f'Say which one it is with --map "Column={target}".'
        )
    return SourceFile(
        path,
        kind,
        encoding,
        delimiter,
        header,
        columns,
        [h for h, _ in skipped],
        size,
        given,
        kind_reason=kind_reason,
        vendor=vendor.label if vendor else "",
        vendor_reason=vendor_reason,
        custom=custom,
        skipped=skipped,
    )


def _refuse_repeated_columns(name: str, header: list[str], keys: list[str], mapping: dict[str, str]) -> None:
    """Two columns of one name: refuse, rather than silently read one of them."""
    first: dict[str, int] = {}
    for i, key in enumerate(keys):
        if not key or mapping.get(key) == IGNORE:
            continue
        if key not in first:
            first[key] = i
            continue
        j = first[key]
        same = "" if header[i].strip() == header[j].strip() else f" (“{header[i].strip()[:60]}” reads the same)"
        raise ImportFileError(
            f"{name} has two columns called “{header[j].strip()[:60]}”{same}, columns {j + 1} and {i + 1}: "
            "rename or remove one of them."
        )


def guess_kind(path: Path, keys: list[str], mapping: dict[str, str]) -> str:
    """customers / contacts / deals / activities, from the file name, else from the headers."""
    return choose_kind(path, keys, mapping, detect_vendor(keys)[0])[0]


class ByteCount(io.RawIOBase):
    """A binary file wrapper that counts the bytes read (for progress and ETA)."""

    def __init__(self, fh: io.BufferedIOBase) -> None:
        self.fh = fh
        self.done = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = self.fh.readinto(buffer)
        self.done += n or 0
        return n

    def close(self) -> None:
        self.fh.close()
        super().close()


def read_rows(source: SourceFile, counter: list[ByteCount] | None = None) -> Iterator[Row | Broken]:
    """Data rows, or :class:`Broken` ones; ImportFileError if the file turns out unreadable."""
    raw = ByteCount(source.path.open("rb"))
    if counter is not None:
        counter.append(raw)
    return iter_rows(
        io.BufferedReader(raw, 1 << 16),
        name=source.label,
        encoding=source.encoding,
        delimiter=source.delimiter,
        header=source.header,
        columns=source.columns,
    )
