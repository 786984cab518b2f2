"""What the scheduled senders (nudges, digests) share: pacing, and what a Slack refusal means."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Container
from dataclasses import dataclass
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from crm.states import DEAD_TOKEN, DeliveryError


@dataclass
class Delivery:
    """How one send ended. An ``error`` that :func:`crm.states.is_ambiguous` means Slack may have posted."""

    ok: bool
    channel: str | None = None
    ts: str | None = None
    note: str | None = None  # how it was handled when not simply posted (a crm.states.DeliveryNote)
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
        return Delivery(False, error=DeliveryError.RATELIMITED, retry_after=float(retry))
    if status >= 500:
        return Delivery(False, error=DeliveryError.AMBIGUOUS.of(f"http {status}"))
    return Delivery(False, error=error, permanent=permanent_errors is None or error in permanent_errors)


def ambiguous(exc: Exception) -> Delivery:
    """A timeout or a dropped connection: Slack may have posted."""
    return Delivery(False, error=DeliveryError.AMBIGUOUS.of(type(exc).__name__))


def open_dm(client: WebClient, known: dict[str, str], user: str) -> str:
    """The bot's DM channel with ``user``, opened once and then kept in ``known``."""
    channel = known.get(user)
    if channel is None:
        channel = client.conversations_open(users=user)["channel"]["id"]
        known[user] = channel
    return channel


def find_posted(client: WebClient, channel: str, event_type: str, payload: dict[str, Any]) -> str | None:
    """The ``ts`` of a message in ``channel`` that carries this metadata: what an earlier attempt in
    doubt posted. That attempt is at most a lease or a backoff old, so the latest 200 messages cover it."""
    history = client.conversations_history(channel=channel, limit=200, include_all_metadata=True)
    messages: list[dict[str, Any]] = history.get("messages") or []
    for message in messages:
        meta = message.get("metadata") or {}
        if meta.get("event_type") == event_type and meta.get("event_payload") == payload:
            return message.get("ts")
    return None


@dataclass
class Tokens:
    """Which token a scheduled send to a workspace uses, and what a dead one means.

    ``token_for(workspace_id)`` is None when nothing may be sent there (``Services.bot_token``);
    ``died(workspace_id, error)`` stops every further send to it (``Services.token_died``). A
    sender holding one of these is used by one thread at a time (each job runs once at a time),
    so it points its client at the workspace's token before each send."""

    token_for: Callable[[int], str | None]
    died: Callable[[int, str], None]

    def aim(self, client: WebClient, workspace_id: int) -> Delivery | None:
        """Point ``client`` at the workspace's token; a parked Delivery when there is none."""
        token = self.token_for(workspace_id)
        if token is None:
            return Delivery(False, error=DeliveryError.NOT_INSTALLED, permanent=True)
        client.token = token
        return None

    def check(self, workspace_id: int, outcome: Delivery) -> Delivery:
        """A refusal for a dead token parks the send and stops the workspace's other sends."""
        error = (outcome.error or "").rsplit(": ", 1)[-1]
        if not outcome.ok and error in DEAD_TOKEN:
            self.died(workspace_id, error)
            outcome.permanent = True
        return outcome


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
