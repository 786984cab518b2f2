"""How much CPU the app uses when nobody is doing anything, against a bare waitress server.

    python bench/bench_idle.py [--seconds 30]

Starts ``crm-bot playground`` (no demo data, a throwaway SQLite file) and, as the baseline, a
bare waitress server with its default settings, each in a process of its own; waits until both
answer, then reads each process's CPU time (user + system, from /proc) over ``--seconds`` of
idleness. The playground runs its scheduler every 5 s and holds the Slack stand-in, so it can't
be at zero; what matters is that it is close to the bare server, not a busy loop.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BARE = (
    "import sys, waitress\n"
    "waitress.serve(lambda e, s: (s('200 OK', []), [b'ok'])[1], host='127.0.0.1', port=int(sys.argv[1]))"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_up(url: str, process: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{url}: the process exited with {process.returncode}")
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"{url} did not answer within {timeout:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    crm_bot = Path(sys.executable).with_name("crm-bot")
    runs = {}
    app_port, bare_port = free_port(), free_port()
    runs["crm-bot playground"] = (
        subprocess.Popen(
            [str(crm_bot), "playground", "--port", str(app_port)],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        ),
        f"http://127.0.0.1:{app_port}/",
    )
    runs["bare waitress"] = (
        subprocess.Popen(
            [sys.executable, "-c", BARE, str(bare_port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        ),
        f"http://127.0.0.1:{bare_port}/",
    )
    try:
        for process, url in runs.values():
            wait_up(url, process)
        time.sleep(3)  # let start-up work settle
        start = {name: cpu_seconds(p.pid) for name, (p, _) in runs.items()}
        time.sleep(args.seconds)
        print(f"idle for {args.seconds:.0f} s; {os.cpu_count()} CPUs\n")
        print("| process | CPU seconds | share of one core |")
        print("|---|---:|---:|")
        for name, (process, _) in runs.items():
            used = cpu_seconds(process.pid) - start[name]
            print(f"| {name} | {used:.2f} | {used / args.seconds:.1%} |")
    finally:
        for process, _ in runs.values():
            process.terminate()
            process.wait(timeout=10)


if __name__ == "__main__":
    main()
