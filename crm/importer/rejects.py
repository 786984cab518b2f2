"""The rejects file: every refused row with its line and reason, ready to fix and import again.

``companies.csv`` gets ``companies.rejects.csv`` (next to it, or in ``--rejects-dir``). It is
written to a temporary file named ``.companies.rejects.csv.<host>.<pid>.<random>.tmp`` and
renamed only when the import has committed. A process killed meanwhile leaves its temporary
file behind; the next import that writes into that directory removes the files whose process
is gone (:func:`sweep`).
"""

from __future__ import annotations

import contextlib
import csv
import os
import re
import secrets
import socket
import time
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

from crm.importer.reader import ImportFileError

SUFFIX = ".rejects.csv"
_HOST = re.sub(r"[^A-Za-z0-9-]+", "-", socket.gethostname())[:40] or "host"
_TEMP = re.compile(r"^\..+\.rejects\.csv\.(?P<host>[A-Za-z0-9-]+)\.(?P<pid>\d+)\.[0-9a-f]+\.tmp$")
_LEGACY = ".rejects-*.csv"  # mkstemp names of earlier versions, which carry no pid
_LEGACY_AGE = 24 * 3600


def target_paths(sources: list[tuple[Path, str]], directory: Path | None) -> list[Path]:
    """``<name>.rejects.csv`` per (file, kind); never one of the input files, never one path twice."""
    inputs = {path.resolve() for path, _ in sources}
    taken: set[Path] = set()
    targets = []
    for path, kind in sources:
        folder = (directory or path.parent).resolve()
        candidates = [f"{path.stem}{SUFFIX}", f"{path.stem}.{kind}{SUFFIX}", f"{path.name}{SUFFIX}"]
        target = next(
            (folder / c for c in candidates if folder / c not in inputs and folder / c not in taken),
            folder / f"{path.name}.{kind}.{len(taken)}{SUFFIX}",
        )
        taken.add(target)
        targets.append(target)
    return targets


def _alive(pid: int) -> bool:
    if os.name != "posix":  # os.kill(pid, 0) would end the process on Windows
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. another user's process
        return True
    return True


def sweep(directories: Iterable[Path]) -> list[Path]:
    """Remove temporary rejects files left by killed imports on this host; return what was removed."""
    removed = []
    for folder in set(directories):
        if not folder.is_dir():
            continue
        for path in folder.glob(".*.rejects.csv.*.tmp"):
            found = _TEMP.match(path.name)
            if found and found["host"] == _HOST and not _alive(int(found["pid"])):
                with contextlib.suppress(OSError):
                    path.unlink()
                    removed.append(path)
        for path in folder.glob(_LEGACY):
            with contextlib.suppress(OSError):
                if time.time() - path.stat().st_mtime > _LEGACY_AGE:
                    path.unlink()
                    removed.append(path)
    return removed


class Rejects:
    """One file's rejects, written to a temporary file and moved into place only on success."""

    def __init__(self, target: Path, header: list[str], enabled: bool) -> None:
        self.target = target
        self.header = header
        self.enabled = enabled
        self._tmp: Path | None = None
        self._fh: IO[str] | None = None
        self._writer: Any = None

    @property
    def temp_name(self) -> str:
        return f".{self.target.name}.{_HOST}.{os.getpid()}.{secrets.token_hex(4)}.tmp"

    def add(self, line: int, reason: str, values: list[str] | None) -> None:
        if not self.enabled:
            return
        if self._writer is None:
            self._open()
        self._writer.writerow([line, reason, *(values or [])])

    def _open(self) -> None:
        folder = self.target.parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
            # Named before it is created: a SIGTERM that lands between the creation and the
            # assignment of the handle still finds the file to remove (discard).
            self._tmp = folder / self.temp_name
            self._fh = self._tmp.open("x", encoding="utf-8-sig", newline="")
        except OSError as err:
            self._tmp = None  # not ours: never remove it
            raise ImportFileError(
                f"the rejected rows can't be written to {folder} ({err.strerror}); choose another with --rejects-dir."
            ) from None
        self._writer = csv.writer(self._fh)
        self._writer.writerow(["line", "reason", *self.header])

    def commit(self) -> Path | None:
        if self._fh is None or self._tmp is None:
            return None
        self._fh.close()
        os.replace(self._tmp, self.target)
        return self.target

    def discard(self) -> None:
        if self._fh is not None:
            self._fh.close()
        if self._tmp is not None:
            self._tmp.unlink(missing_ok=True)
