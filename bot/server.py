"""HTTP serving: Bolt's endpoint and a health check behind a production WSGI server.

Waitress is a pure-Python, multi-threaded WSGI server that runs anywhere Python runs.
Bolt's own ``app.start()`` is a development server and is not used.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import socket
import threading
from collections.abc import Callable, Iterable
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from sqlalchemy import Engine
from waitress.server import create_server

from bot.guard import MAX_BODY, guarded
from crm.db import ping

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
MAIL_PREFIX = "/mail/"
INSTALL_PATH = "/slack/install"  # Bolt's OAuthSettings defaults; OAuth mode only
REDIRECT_PATH = "/slack/oauth_redirect"
# Waitress reads a whole body before the app sees it, and answers one over its own limit by
# closing the connection, which a client still sending sees as a reset rather than a 413. So
# waitress takes far more than the guard allows, and the guard answers 413 itself.
SERVER_MAX_BODY = 64 * MAX_BODY


def make_wsgi_app(
    app: App | None, engine: Engine, *, mail: Callable[..., Iterable[bytes]] | None = None
) -> Callable[..., Iterable[bytes]]:
    """Route ``POST /slack/events`` to Bolt behind the guard, ``GET /healthz`` to a database check,
    in OAuth mode ``GET /slack/install`` and ``/slack/oauth_redirect`` to Bolt's OAuth flow (which
    checks the state cookie and the one-time state itself), and with ``mail`` (bot/mail/webhooks.py)
    ``/mail/...`` to the inbound-mail webhooks."""
    bolt = guarded(app, EVENTS_PATH) if app is not None else None
    oauth = SlackRequestHandler(app) if app is not None and app.oauth_flow is not None else None
    oauth_paths = (INSTALL_PATH, REDIRECT_PATH) if oauth is not None else ()

    def health(start_response) -> Iterable[bytes]:
        ok = ping(engine)
        body = json.dumps({"status": "ok" if ok else "database unavailable"}).encode()
        status = "200 OK" if ok else "503 Service Unavailable"
        start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]

    def wsgi(environ: dict[str, Any], start_response) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        if path == HEALTH_PATH and method in ("GET", "HEAD"):
            return health(start_response)
        if path == EVENTS_PATH and bolt is not None:
            if method != "POST":
                start_response("405 Method Not Allowed", [("Allow", "POST")])
                return [b""]
            return bolt(environ, start_response)
        if mail is not None and path.startswith(MAIL_PREFIX):
            return mail(environ, start_response)
        if path in oauth_paths and oauth is not None:
            if method not in ("GET", "HEAD"):
                start_response("405 Method Not Allowed", [("Allow", "GET")])
                return [b""]
            return oauth(environ, start_response)
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"Not Found"]

    return wsgi


def port_problem(host: str, port: int) -> str | None:
    """Why ``host:port`` can't be served (one sentence), or None: checked before any slow start-up
    work, so that a taken port is said at once instead of after seeding, as a traceback."""
    if port == 0:
        return None
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except (OSError, UnicodeError) as exc:
        return f"Can't listen on {host}: not an address this machine has ({exc})."
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as waitress binds
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return (
                    f"Port {port} on {host} is already in use (another crm-bot or playground may be "
                    f"running): stop that program, or pick another port with --port {port + 1}."
                )
            if exc.errno == errno.EACCES:
                return f"Not allowed to listen on port {port}; pick a port above 1023 with --port."
            return f"Can't listen on {host}:{port} ({exc.strerror or exc})."
    return None


def make_server(wsgi_app, *, host: str, port: int, threads: int, **tuning: Any):
    """A waitress server bound to ``host:port`` (port 0 picks a free one); call ``.run()``."""
    return create_server(
        wsgi_app,
        host=host,
        port=port,
        threads=threads,
        connection_limit=max(100, threads * 4),
        channel_timeout=30,
        ident="crm-bot",
        clear_untrusted_proxy_headers=True,
        max_request_body_size=SERVER_MAX_BODY,
        **tuning,
    )


class ServerThread:
    """A waitress server running on a background thread (tests, the playground)."""

    def __init__(self, wsgi_app, *, host: str = "127.0.0.1", port: int = 0, threads: int = 8) -> None:
        # waitress's own default loop timeout: its worker threads wake the loop when an answer is
        # ready, and stop() wakes it too, so a shorter one buys nothing and costs a third of a
        # core in a busy loop while idle (bench/bench_idle.py).
        self.server = make_server(wsgi_app, host=host, port=port, threads=threads, asyncore_loop_timeout=1.0)
        self.host = host
        self.port: int = self.server.effective_port
        self._thread = threading.Thread(target=self._run, name=f"waitress:{self.port}", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _run(self) -> None:
        with contextlib.suppress(OSError):  # the socket was closed by stop()
            self.server.run()

    def start(self) -> ServerThread:
        self._thread.start()
        return self

    def stop(self) -> None:
        # Finish the requests in flight first: a task that ends after close() would find the
        # server's wake-up pipe gone.
        self.server.task_dispatcher.shutdown(cancel_pending=False, timeout=5)
        self.server.close()
        self._thread.join(timeout=5)
