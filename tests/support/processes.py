"""Processes a test starts: each one logs to its own file, every wait has its own deadline, and a
failure tells what every process did (running, exited with a code, or killed by a signal) with
the tail of its log.

    procs = Processes(tmp_path)                      # or the ``processes`` fixture
    bot = procs.start("replica-0", [CRM_BOT, "run"], env=env, cwd=tmp_path)
    procs.wait_until(lambda: healthy(port), "crm-bot answers /healthz", timeout=30)
    bot.terminate_and_wait()

The ``processes`` fixture (root conftest) stops whatever is still running at the end of the test
and adds the same story to the report of a test that failed for any other reason.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

CRM_BOT = str(Path(sys.executable).parent / "crm-bot")
TAIL = 4000  # characters of each log shown on failure


def clean_env(**settings: str) -> dict[str, str]:
    """This process's environment without the app's own settings (``SLACK_*``, ``DATABASE_URL``,
    ``CRM_*``, ``PORT``), plus ``settings``: a child sees only what the test gives it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_URL", "CRM_", "PORT"))}
    env.update(settings)
    return env


def describe(returncode: int | None) -> str:
    """``running``, ``exited with code 2``, or ``killed by signal SIGKILL``."""
    if returncode is None:
        return "running"
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = str(-returncode)
        return f"killed by signal {name}"
    return f"exited with code {returncode}"


@dataclass
class Started:
    """One process with its output in ``log`` (stdout and stderr together, unless ``stderr_log``)."""

    name: str
    popen: subprocess.Popen
    log: Path
    stderr_log: Path | None = None

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def returncode(self) -> int | None:
        return self.popen.poll()

    def alive(self) -> bool:
        return self.popen.poll() is None

    def output(self) -> str:
        """Everything it wrote so far (stdout; stderr too when they share the log)."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def errors(self) -> str:
        """What it wrote to stderr (the shared log when stderr was not split off)."""
        path = self.stderr_log or self.log
        return path.read_text(errors="replace") if path.exists() else ""

    def signal(self, sig: int) -> None:
        if self.alive():
            self.popen.send_signal(sig)

    def wait(self, timeout: float) -> int:
        """Wait for it to end; a process still running after ``timeout`` fails the test with its story."""
        try:
            return self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{self.name} was still running after {timeout} s\n{self.story()}") from None

    def terminate_and_wait(self, timeout: float = 20.0) -> int:
        self.signal(signal.SIGTERM)
        return self.wait(timeout)

    def story(self) -> str:
        text = ""
        for path in dict.fromkeys(p for p in (self.log, self.stderr_log) if p is not None):
            content = path.read_text(errors="replace") if path.exists() else ""
            cut = "…" if len(content) > TAIL else ""
            text += f"\n--- {path.name} (last {TAIL} characters) ---\n{cut}{content[-TAIL:]}" if content else ""
        return f"{self.name} (pid {self.pid}): {describe(self.returncode)}{text or ' (no output)'}"


@dataclass
class Processes:
    """The processes of one test, logging into ``folder``."""

    folder: Path
    started: list[Started] = field(default_factory=list)

    def start(
        self,
        name: str,
        args: Sequence[str],
        *,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        split_stderr: bool = False,
    ) -> Started:
        """Start ``args`` with stdout and stderr going to ``<folder>/<name>.log`` (stderr to
        ``<name>.stderr.log`` with ``split_stderr``); stdin is closed."""
        self.folder.mkdir(parents=True, exist_ok=True)
        log = self.folder / f"{name}.log"
        err = self.folder / f"{name}.stderr.log" if split_stderr else None
        with log.open("wb") as out, err.open("wb") if err else open(os.devnull, "wb") as err_file:
            popen = subprocess.Popen(
                list(args),
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err_file if err else subprocess.STDOUT,
            )
        started = Started(name, popen, log, err)
        self.started.append(started)
        return started

    def story(self) -> str:
        """What every process did: its state (a process killed from outside shows here) and its log."""
        if not self.started:
            return "no process was started"
        return "\n".join(p.story() for p in self.started)

    def wait_until(
        self,
        condition: Callable[[], T],
        what: str,
        *,
        timeout: float,
        alive: Sequence[Started] | None = None,
        every: float = 0.05,
    ) -> T:
        """Poll ``condition`` until it returns something truthy, and return that. Each call has its
        own deadline, ``timeout`` seconds from now. Fails at once, with the story, if one of
        ``alive`` (default: every process still running when the wait began) ends meanwhile."""
        watched = [p for p in self.started if p.alive()] if alive is None else list(alive)
        deadline = time.monotonic() + timeout
        while True:
            result = condition()
            if result:
                return result
            dead = [p.name for p in watched if not p.alive()]
            if dead:
                raise AssertionError(f"waiting for {what}: {', '.join(dead)} stopped\n{self.story()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"waiting for {what}: not within {timeout} s\n{self.story()}")
            time.sleep(every)

    def stop_all(self, timeout: float = 20.0) -> None:
        """SIGTERM whatever still runs, wait, and SIGKILL what does not stop in ``timeout`` s."""
        for p in self.started:
            p.signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for p in self.started:
            try:
                p.popen.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                p.popen.kill()
                p.popen.wait(timeout=10)


def run(args: Sequence[str], *, timeout: float, **options) -> subprocess.CompletedProcess[str]:
    """``subprocess.run`` with text output captured. A process still running after ``timeout``
    is killed, and the test fails saying so, with the tail of what it printed (instead of a bare
    TimeoutExpired); its exit code, or the signal that ended it, is in ``returncode``."""
    try:
        return subprocess.run(list(args), capture_output=True, text=True, timeout=timeout, **options)
    except subprocess.TimeoutExpired as expired:
        said = []
        for label, data in (("stdout", expired.stdout), ("stderr", expired.stderr)):
            text = data.decode(errors="replace") if isinstance(data, bytes) else data or ""
            said.append(f"--- {label} (last {TAIL} characters) ---\n{text[-TAIL:]}")
        raise AssertionError(
            f"{' '.join(args)[:200]} was still running after {timeout} s (killed)\n" + "\n".join(said)
        ) from None
