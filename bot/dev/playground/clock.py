"""The playground's clock: real time, moved forward on request so nudges and digests come due."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from crm.models import utcnow


class Clock:
    """Aware UTC now, plus however far the playground has been moved forward."""

    def __init__(self, now: Callable[[], datetime] = utcnow) -> None:
        self._now = now
        self._offset = timedelta(0)
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            offset = self._offset
        return self._now() + offset

    @property
    def offset(self) -> timedelta:
        with self._lock:
            return self._offset

    def advance(self, delta: timedelta) -> datetime:
        if delta < timedelta(0):
            raise ValueError("time only moves forward")
        with self._lock:
            self._offset += delta
        return self()
