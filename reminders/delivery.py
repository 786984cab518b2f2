"""What the scheduled senders (nudges, digests) share: pacing, and what a Slack refusal means."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Container
from dataclasses import dataclass

from slack_sdk.errors import SlackApiError


@dataclass
class Delivery:
    """How one send ended. ``error`` starting with "ambiguous" means Slack may have posted."""

    ok: bool
    channel: str | None = None
    ts: str | None = None
    note: str | None = None  # how it was handled when not simply posted (e.g. "already-sent")
    error: str | None = None
    permanent: bool = False
    retry_after: float | None = None


def refused(exc: SlackApiError, *, permanent_errors: Container[str] | None = None) -> Delivery:
    """A call Slack refused: 429 waits ``Retry-After``, a 5xx may have posted (ambiguous), and the
    rest are final when in ``permanent_errors`` (every error, when that is None)."""
    status = exc.response.status_code
    error = exc.response.get("error") or f"http_{status}"
    if status == 429:
        headers = exc.response.headers
        retry = headers.get("Retry-After", headers.get("retry-after", 30))
        return Delivery(False, error="ratelimited", retry_after=float(retry))
    if status >= 500:
        return Delivery(False, error=f"ambiguous: http {status}")
    return Delivery(False, error=error, permanent=permanent_errors is None or error in permanent_errors)


def ambiguous(exc: Exception) -> Delivery:
    """A timeout or a dropped connection: Slack may have posted."""
    return Delivery(False, error=f"ambiguous: {type(exc).__name__}")


class Pacer:
    """At most ``rate`` sends per second (a simple spacing, shared by the sender's threads)."""

    def __init__(self, rate: float, sleep: Callable[[float], None] = time.sleep) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.sleep = sleep
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        if not self.interval:
            return
        with self._lock:
            now = time.monotonic()
            delay = self._next - now
            self._next = max(now, self._next) + self.interval
        if delay > 0:
            self.sleep(delay)
