"""Helpers for hostile-traffic tests (issue 12): firing one request from many threads at once,
and checking that nothing the app sent carries markup a user planted."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bot.dev.standin import SlackStandIn

PLANTS = ("<!channel>", "<!here>", "<@U0REP>", "<https://evil.example|x>")
PLANTED = " ".join(PLANTS)
MESSAGES = ("chat.postMessage", "chat.postEphemeral", "chat.update", "chat.scheduleMessage", "response_url")
VIEWS = ("views.open", "views.update", "views.push", "views.publish")


def together(n: int, send: Callable[[], Any]) -> list[Any]:
    """Call ``send()`` from ``n`` threads released at the same moment; their results, in order."""
    barrier = threading.Barrier(n)

    def go() -> Any:
        barrier.wait()
        return send()

    with ThreadPoolExecutor(n) as pool:
        return [f.result() for f in [pool.submit(go) for _ in range(n)]]


def mrkdwn_in(node: Any) -> list[str]:
    """Every mrkdwn text object's text inside ``node``."""
    if isinstance(node, dict):
        own = [node.get("text", "")] if node.get("type") == "mrkdwn" else []
        return own + [t for v in node.values() for t in mrkdwn_in(v)]
    if isinstance(node, list):
        return [t for v in node for t in mrkdwn_in(v)]
    return []


def texts_sent(standin: SlackStandIn) -> list[str]:
    """Every text Slack would parse for mentions and links: messages' ``text`` and every mrkdwn
    object of messages and views (plain_text, such as a modal's initial values, is never parsed)."""
    found: list[str] = []
    for call in standin.calls:
        if call.method in MESSAGES:
            found += [call.params.get("text") or "", *mrkdwn_in(call.params.get("blocks"))]
        elif call.method in VIEWS:
            found += mrkdwn_in(call.params.get("view"))
    return found


def assert_nothing_raw(standin: SlackStandIn) -> None:
    """The planted markup was shown (escaped), and never raw."""
    sent = texts_sent(standin)
    assert any("&lt;!channel&gt;" in text for text in sent), "no text showed the planted markup"
    for text in sent:
        for plant in PLANTS:
            assert plant not in text, (plant, text[:300])


def wait_logged(records: Callable[[], list[logging.LogRecord]], text: str, count: int = 1, timeout: float = 5.0):
    """Wait until ``count`` log records contain ``text`` (proof that a request was handled,
    where handling it means sending nothing); the matching records."""
    deadline = time.monotonic() + timeout
    while True:
        found = [r for r in records() if text in r.getMessage()]
        if len(found) >= count:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"expected {count} log line(s) with {text!r}, got {len(found)}")
        time.sleep(0.02)
