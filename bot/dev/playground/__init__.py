"""A local playground: the real app in a Slack-like page in the browser, with no Slack workspace.

``crm-bot playground [--port 3000] [--demo]`` (and ``crm-bot run`` without Slack credentials)
calls :func:`serve`. See :mod:`bot.playground.core` for how it fits together.
"""

from __future__ import annotations

import signal
import threading

from bot.config import Settings
from bot.playground.core import Playground

__all__ = ["Playground", "serve"]


def serve(
    settings: Settings, *, host: str = "127.0.0.1", port: int = 3000, demo: bool = False, database_url=None
) -> int:
    """Run the playground until SIGINT/SIGTERM."""
    import logging

    log = logging.getLogger("crm-bot")
    stop = threading.Event()

    def shutdown(signum, _frame) -> None:
        log.info("signal %s: stopping the playground", signum)
        stop.set()

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    playground = Playground(settings, host=host, port=port, demo=demo, database_url=database_url)
    if demo:
        log.info("seeding the demo workspace (a few seconds)")
    playground.start()
    try:
        if playground.demo_summary:
            log.info(
                "demo data: %s", ", ".join(f"{n} {k.replace('_', '-')}" for k, n in playground.demo_summary.items())
            )
        log.info("playground ready: open %s/ in your browser (Ctrl-C stops it)", playground.url)
        stop.wait()
    finally:
        playground.stop()
    return 0
