"""The collector pause around the duplicate screen: restored exactly, nested and across threads."""

from __future__ import annotations

import gc
import threading
import weakref

import pytest

from crm.collector import collector_paused


class _Node:
    def __init__(self) -> None:
        self.other: _Node | None = None


def test_paused_inside_and_running_after():
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
        with collector_paused():  # nested: the outer one restarts it
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_collector_stopped_before_stays_stopped():
    gc.disable()
    try:
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_restarted_when_the_body_raises_and_as_a_decorator():
    @collector_paused()
    def fails() -> None:
        assert not gc.isenabled()
        raise ValueError("boom")

    with pytest.raises(ValueError):
        fails()
    assert gc.isenabled()


def test_the_last_thread_out_restarts_it():
    inside, release = threading.Event(), threading.Event()

    def hold() -> None:
        with collector_paused():
            inside.set()
            release.wait(10)

    worker = threading.Thread(target=hold)
    worker.start()
    assert inside.wait(10)
    with collector_paused():
        pass
    assert not gc.isenabled()  # the worker is still inside
    release.set()
    worker.join(10)
    assert gc.isenabled()


def test_a_cycle_made_while_paused_is_still_collected():
    with collector_paused():
        a, b = _Node(), _Node()
        a.other, b.other = b, a
        gone = weakref.ref(a)
        del a, b
    assert gone() is not None  # a cycle: reference counts alone don't free it
    gc.collect()
    assert gone() is None


def test_a_big_run_skips_the_young_collection_and_a_small_one_does_not():
    gc.collect()
    with collector_paused():
        small = [[k] for k in range(100)]
    assert gc.get_count()[0] >= len(small)  # left to the young collection, as usual
    with collector_paused():
        big = [[k] for k in range(200_000)]
    assert gc.get_count()[0] < len(big) // 10  # promoted unexamined
