"""The process helper (tests/support/processes.py) says what happened when a wait fails."""

from __future__ import annotations

import signal
import sys

import pytest

from tests.support.processes import Processes, describe, run


@pytest.mark.parametrize(
    ("returncode", "said"),
    [(None, "running"), (0, "exited with code 0"), (2, "exited with code 2"), (-9, "killed by signal SIGKILL")],
)
def test_describe(returncode, said):
    assert describe(returncode) == said


def test_a_process_that_dies_fails_the_wait_at_once_with_its_exit_code_and_log(tmp_path):
    procs = Processes(tmp_path)
    procs.start("quitter", [sys.executable, "-c", "import sys; print('starting', flush=True); sys.exit(3)"])
    with pytest.raises(AssertionError) as failed:
        procs.wait_until(lambda: False, "something that never happens", timeout=60)
    message = str(failed.value)
    assert "waiting for something that never happens: quitter stopped" in message
    assert "quitter (pid " in message and "exited with code 3" in message
    assert "--- quitter.log" in message and "starting" in message


def test_a_killed_process_is_named_with_its_signal_and_each_wait_has_its_own_deadline(tmp_path):
    procs = Processes(tmp_path)
    sleeper = procs.start("sleeper", [sys.executable, "-c", "import time; time.sleep(60)"], split_stderr=True)
    with pytest.raises(AssertionError, match=r"waiting for a first thing: not within 0.2 s"):
        procs.wait_until(lambda: False, "a first thing", timeout=0.2)
    # A second wait gets its own deadline: it does not inherit the first one's expired one.
    assert procs.wait_until(lambda: "done", "a second thing", timeout=5) == "done"
    sleeper.signal(signal.SIGKILL)
    assert sleeper.wait(timeout=10) == -signal.SIGKILL
    assert "sleeper (pid" in procs.story() and "killed by signal SIGKILL" in procs.story()
    procs.stop_all()


def test_stop_all_ends_what_still_runs(tmp_path):
    procs = Processes(tmp_path)
    started = [procs.start(f"p{i}", [sys.executable, "-c", "import time; time.sleep(60)"]) for i in range(2)]
    procs.stop_all(timeout=10)
    assert all(not p.alive() for p in started)
    assert {describe(p.returncode) for p in started} == {"killed by signal SIGTERM"}


def test_run_that_overstays_fails_with_what_the_process_printed():
    with pytest.raises(AssertionError) as failed:
        run([sys.executable, "-c", "import time; print('half way', flush=True); time.sleep(60)"], timeout=3)
    message = str(failed.value)
    assert "was still running after 3 s (killed)" in message and "half way" in message


def test_run_returns_the_exit_code_and_the_output():
    done = run(
        [sys.executable, "-c", "import sys; print('out'); print('err', file=sys.stderr); sys.exit(4)"], timeout=60
    )
    assert (done.returncode, done.stdout, done.stderr) == (4, "out\n", "err\n")
