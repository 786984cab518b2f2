"""A local playground: the real app in a Slack-like page in the browser, with no Slack workspace.

``crm-bot playground [--port 3000] [--demo]`` (and ``crm-bot run`` without Slack credentials)
calls :func:`serve`. See :mod:`bot.dev.playground.core` for how it fits together.

Dependencies go one way: ``core`` (the running playground) uses ``web`` (the page and its JSON
API, which only knows the :class:`~bot.dev.playground.web.Backend` it is given), ``payloads``
(what the page's clicks become: the requests Slack would send), ``clock`` and ``demo`` (the
demo data); ``core`` and ``demo`` share the pretend people and channels in ``workspace``. None
of those imports ``core``.
"""

from __future__ import annotations

import logging
import signal
import threading

from bot.config import Settings
from bot.dev.playground.core import Playground
from bot.dev.playground.workspace import ADMIN, MANAGER, REP, SHORTCUTS, USERS, dm_id

__all__ = ["ADMIN", "MANAGER", "REP", "SHORTCUTS", "USERS", "Playground", "dm_id", "serve"]


def serve(
    settings: Settings, *, host: str = "127.0.0.1", port: int = 3000, demo: bool = False, database_url=None
) -> int:
    """Run the playground until SIGINT/SIGTERM."""
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
        if playground.demo_kept:
            log.info("demo data: kept from the database (%d customers)", playground.demo_kept)
        log.info("playground ready: open %s/ in your browser (Ctrl-C stops it)", playground.url)
        stop.wait()
    finally:
        playground.stop()
    return 0
