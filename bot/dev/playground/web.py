"""The playground's page and its JSON API (a plain WSGI app, served by waitress beside the bot).

GET  /                     the page (static/index.html, app.js, blockkit.js, style.css)
GET  /api/state            ?user=U&channel=C&since=N&wait=S  what the user sees; waits for news
POST /api/command          {user, channel, text}             a slash command
POST /api/message          {user, channel, text, thread_ts}  a message (``@crm`` → app_mention)
POST /api/mention          the same as /api/message
POST /api/action           {user, action, channel, message_ts | view_id, values}
POST /api/view_submission  {user, view_id, values}
POST /api/view_closed      {user, view_id, all}
POST /api/suggest          {user, view_id, block_id, action_id, value, values}
POST /api/home             {user}                            the App Home tab was opened
POST /api/shortcut         {user, callback_id, channel?, message_ts?}
POST /api/time             {seconds}                         move the clock forward
POST /api/tick             run the scheduled jobs now
"""

from __future__ import annotations

import json
import mimetypes
from collections.abc import Callable, Iterable
from importlib import resources
from typing import Any, Protocol
from urllib.parse import parse_qs

STATIC_FILES = ("index.html", "app.js", "blockkit.js", "style.css")
MAX_BODY = 1024 * 1024
MAX_WAIT = 25.0


class PlaygroundError(Exception):
    """A request from the page that can't be done; ``str(err)`` says why."""


class BadRequest(Exception):
    """The page's request is malformed (not JSON, a field missing or of the wrong type)."""


class Backend(Protocol):
    """What the page asks of the playground; :class:`bot.dev.playground.core.Playground` does it."""

    def state(self, user: str, channel: str | None = None, *, since: int = -1, wait: float = 0.0) -> dict[str, Any]: ...

    def command(self, user: str, channel: str, text: str) -> dict[str, Any]: ...

    def message(self, user: str, channel: str, text: str, thread_ts: str | None = None) -> dict[str, Any]: ...

    def action(
        self,
        user: str,
        action: dict[str, Any],
        *,
        channel: str | None = None,
        message_ts: str | None = None,
        view_id: str | None = None,
        values: dict[str, Any] | None = None,
    ) -> dict[str, Any]: ...

    def submit(self, user: str, view_id: str, values: dict[str, Any]) -> dict[str, Any]: ...

    def close(self, user: str, view_id: str, *, everything: bool = False) -> dict[str, Any]: ...

    def suggest(
        self, user: str, view_id: str, block_id: str, action_id: str, value: str, values: dict | None = None
    ) -> dict[str, Any]: ...

    def open_home(self, user: str) -> dict[str, Any]: ...

    def shortcut(
        self, user: str, callback_id: str, *, channel: str | None = None, message_ts: str | None = None
    ) -> dict[str, Any]: ...

    def advance(self, seconds: float) -> dict[str, Any]: ...

    def tick(self) -> dict[str, Any]: ...

    def file(self, file_id: str) -> tuple[str, bytes] | None: ...


def _static(name: str) -> bytes:
    return resources.files("bot.dev.playground").joinpath("static", name).read_bytes()


def make_page_app(playground: Backend) -> Callable[..., Iterable[bytes]]:
    def send(start_response, status: str, body: bytes, content_type: str) -> list[bytes]:
        start_response(
            status,
            [
                ("Content-Type", content_type),
                ("Content-Length", str(len(body))),
                ("Cache-Control", "no-store"),
            ],
        )
        return [body]

    def send_json(start_response, payload: Any, status: str = "200 OK") -> list[bytes]:
        return send(start_response, status, json.dumps(payload).encode(), "application/json; charset=utf-8")

    def read_json(environ) -> dict[str, Any]:
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > MAX_BODY:
            raise BadRequest("request too large")
        raw = environ["wsgi.input"].read(length) if length else b"{}"
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            raise BadRequest("the body is not JSON") from None
        if not isinstance(body, dict):
            raise BadRequest("the body must be a JSON object")
        return body

    def optional(body: dict[str, Any], key: str) -> str | None:
        value = body.get(key)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise BadRequest(f"{key} must be a string")
        return value

    def text(body: dict[str, Any], key: str) -> str:
        value = optional(body, key)
        if value is None:
            raise BadRequest(f"{key} is required")
        return value

    def action_of(body: dict[str, Any]) -> dict[str, Any]:
        action = body.get("action")
        return action if isinstance(action, dict) else {}

    def values_of(body: dict[str, Any]) -> dict[str, Any]:
        values = body.get("values") or {}
        if not isinstance(values, dict):
            raise BadRequest("values must be an object")
        return values

    posts: dict[str, Callable[[dict[str, Any]], Any]] = {
        "/api/command": lambda b: playground.command(text(b, "user"), text(b, "channel"), text(b, "text")),
        "/api/message": lambda b: playground.message(
            text(b, "user"), text(b, "channel"), text(b, "text"), optional(b, "thread_ts")
        ),
        "/api/action": lambda b: playground.action(
            text(b, "user"),
            action_of(b),
            channel=optional(b, "channel"),
            message_ts=optional(b, "message_ts"),
            view_id=optional(b, "view_id"),
            values=values_of(b),
        ),
        "/api/view_submission": lambda b: playground.submit(text(b, "user"), text(b, "view_id"), values_of(b)),
        "/api/view_closed": lambda b: playground.close(
            text(b, "user"), text(b, "view_id"), everything=bool(b.get("all"))
        ),
        "/api/suggest": lambda b: playground.suggest(
            text(b, "user"),
            text(b, "view_id"),
            text(b, "block_id"),
            text(b, "action_id"),
            str(b.get("value") or ""),
            values_of(b),
        ),
        "/api/home": lambda b: playground.open_home(text(b, "user")),
        "/api/shortcut": lambda b: playground.shortcut(
            text(b, "user"),
            text(b, "callback_id"),
            channel=optional(b, "channel"),
            message_ts=optional(b, "message_ts"),
        ),
        "/api/time": lambda b: playground.advance(_number(b.get("seconds"))),
        "/api/tick": lambda b: playground.tick(),
    }
    posts["/api/mention"] = posts["/api/message"]

    def app(environ, start_response) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "") or "/"
        method = environ.get("REQUEST_METHOD", "GET")
        try:
            if method in ("GET", "HEAD"):
                if path == "/":
                    path = "/static/index.html"
                if path.startswith("/static/") and path[len("/static/") :] in STATIC_FILES:
                    name = path[len("/static/") :]
                    content_type = (mimetypes.guess_type(name)[0] or "application/octet-stream") + "; charset=utf-8"
                    return send(start_response, "200 OK", _static(name), content_type)
                if path == "/api/state":
                    query = {k: v[-1] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
                    user = query.get("user") or ""
                    since = int(query["since"]) if query.get("since", "").lstrip("-").isdigit() else -1
                    wait = min(MAX_WAIT, _number(query.get("wait") or 0, allow_zero=True))
                    state = playground.state(user, query.get("channel") or None, since=since, wait=wait)
                    return send_json(start_response, state)
                if path.startswith("/api/file/"):
                    found = playground.file(path[len("/api/file/") :])
                    if found is not None:
                        return send(start_response, "200 OK", found[1], found[0])
            elif method == "POST" and path in posts:
                return send_json(start_response, posts[path](read_json(environ)))
            return send(start_response, "404 Not Found", b"Not Found", "text/plain")
        except (BadRequest, PlaygroundError) as err:
            return send_json(start_response, {"error": str(err)}, "400 Bad Request")

    return app


def _number(value: Any, *, allow_zero: bool = False) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise BadRequest("expected a number") from None
    if number != number or number < 0 or (number == 0 and not allow_zero):
        raise BadRequest("expected a positive number")
    return number
