"""The bounded pool that runs slow work after Slack has been answered.

Bolt's listener threads only acknowledge requests (and validate modal submissions); whatever a
handler does after ``ack()`` (Web API calls, searches, cards) runs here. A flood of slow work
fills this pool, never the listener threads, so acknowledgements keep their 3-second promise.
When the queue is full, :meth:`WorkPool.submit` refuses instead of queueing without bound.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

log = logging.getLogger(__name__)
P = ParamSpec("P")
T = TypeVar("T")


class TrackedExecutor(ThreadPoolExecutor):
    """A thread pool that knows when it is idle (Bolt's listener pool: see :meth:`idle`)."""

    def __init__(self, max_workers: int, thread_name_prefix: str = "") -> None:
        super().__init__(max_workers=max_workers, thread_name_prefix=thread_name_prefix)
        self._pending = 0
        self._cond = threading.Condition()

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        with self._cond:
            self._pending += 1
        try:
            future = super().submit(fn, *args, **kwargs)
        except RuntimeError:
            self._done(None)
            raise
        future.add_done_callback(self._done)
        return future

    def _done(self, _future: Future[Any] | None) -> None:
        with self._cond:
            self._pending -= 1
            self._cond.notify_all()

    def idle(self, timeout: float) -> bool:
        """Wait until nothing is queued or running; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: self._pending == 0, timeout=timeout)


class WorkPool:
    def __init__(self, workers: int = 32, queue: int = 512, name: str = "work") -> None:
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)
        self._slots = threading.BoundedSemaphore(workers + queue)
        self._idle = threading.Condition()
        self._running = 0

    def submit(self, fn: Callable[[], None]) -> bool:
        """Run ``fn`` soon; False (and nothing runs) when the pool is full."""
        if not self._slots.acquire(blocking=False):
            return False
        with self._idle:
            self._running += 1
        try:
            future = self._executor.submit(fn)
        except RuntimeError:  # shut down
            self._release(None)
            return False
        future.add_done_callback(self._release)
        return True

    def _release(self, _future: Future | None) -> None:
        self._slots.release()
        with self._idle:
            self._running -= 1
            self._idle.notify_all()

    def drain(self, timeout: float = 10.0) -> bool:
        """Wait until nothing is queued or running (tests); False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._running == 0, timeout=timeout)

    def shutdown(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=False)
