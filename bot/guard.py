"""The door in front of Bolt: nothing acts on a request until Slack is known to have sent it.

:class:`SlackGuard` is WSGI middleware for ``POST /slack/events``. In this order, and before
anything parses the body, it refuses:

1. a body over :data:`MAX_BODY` bytes (413), read at most one byte past the limit;
2. a timestamp that is not a plain whole number within 5 minutes of now, a signature that is
   not ``v0=`` and 64 hex digits, or an HMAC that does not match (401);
3. a content type other than form-encoded or JSON, even when validly signed (415);
4. a body that does not parse into one JSON object, a payload naming no workspace, or user,
   team and enterprise ids not shaped like Slack's (400).

Only then does Bolt get the original bytes, and it checks the signature again itself. Every
refusal logs one short line that repeats nothing the sender wrote, at most
:data:`LOG_BURST` lines per :data:`LOG_WINDOW` seconds (then one line counting the rest).

:func:`came_from_slack` lets code running inside Bolt (the global error handler) check a request
again, so it never answers a body that was not verified, however it got there.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl

from slack_bolt import Ack, App, BoltContext
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_bolt.adapter.wsgi.http_request import WsgiHttpRequest
from slack_bolt.request import BoltRequest
from slack_bolt.request.internals import build_context
from slack_bolt.response import BoltResponse

from commands.common import team_of

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024  # Slack's own payloads are a few kB; 1 MB is far above any of them
WINDOW_SECONDS = 300  # Slack's replay window
LOG_BURST = 20
LOG_WINDOW = 60.0

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"

_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")
# Slack ids: a kind letter, then upper-case letters and digits (USLACKBOT included). Our columns
# hold 32 characters, and Slack documents no id near that long.
_TEAM = re.compile(r"[TE][A-Z0-9]{2,31}")
_ENTERPRISE = re.compile(r"E[A-Z0-9]{2,31}")
_USER = re.compile(r"[UWB][A-Z0-9]{2,31}")

# Requests that legitimately name no workspace (they are answered by Bolt's built-in middleware).
_HANDSHAKES = ("url_verification",)
# Interactions always come from a person.
_INTERACTIONS = ("block_actions", "block_suggestion", "view_submission", "view_closed", "shortcut", "message_action")


class Refusal(Exception):
    """Why a request is refused: an HTTP status and a short, fixed reason (never input)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


_STATUS_LINES = {
    400: "400 Bad Request",
    401: "401 Unauthorized",
    413: "413 Content Too Large",
    415: "415 Unsupported Media Type",
}


# -- the checks, each a plain function ------------------------------------------------------
def signature_matches(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    """Slack's v0 scheme, compared in constant time."""
    base = b"v0:" + timestamp.encode("ascii") + b":" + body
    expected = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode("ascii"), signature.encode("ascii"))


def check_signature(secret: str, timestamp: str | None, signature: str | None, body: bytes, now: float) -> None:
    """Raise :class:`Refusal` (401) unless the headers are well formed, fresh and match the body."""
    if not timestamp or not _TIMESTAMP.fullmatch(timestamp):
        raise Refusal(401, "timestamp missing or not a whole number")
    if abs(now - int(timestamp)) > WINDOW_SECONDS:
        raise Refusal(401, "timestamp outside the 5-minute window")
    if not signature or not _SIGNATURE.fullmatch(signature):
        raise Refusal(401, "signature missing or malformed")
    if not signature_matches(secret, timestamp, body, signature):
        raise Refusal(401, "signature does not match")


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def parse_body(content_type: str | None, body: bytes) -> dict[str, Any]:
    """The payload as Slack meant it: a form (its ``payload`` field is JSON) or a JSON object."""
    kind = media_type(content_type)
    if kind not in (FORM, JSON):
        raise Refusal(415, "content type is neither form-encoded nor JSON")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Refusal(400, "body is not UTF-8") from None
    if kind == JSON:
        return _json_object(text, "JSON body")
    if text.startswith("{"):  # Bolt would read this as JSON whatever the content type says
        raise Refusal(400, "form body that looks like JSON")
    fields = dict(parse_qsl(text, keep_blank_values=True))
    if "payload" in fields:
        return _json_object(fields["payload"], "payload field")
    return fields


def _json_object(text: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        raise Refusal(400, f"{what} is not JSON") from None
    if not isinstance(value, dict):
        raise Refusal(400, f"{what} is not a JSON object")
    return value


def check_ids(payload: dict[str, Any]) -> None:
    """Refuse ids not shaped like Slack's, and payloads that name no workspace (400)."""
    user = payload.get("user")
    event: dict[str, Any] = payload["event"] if isinstance(payload.get("event"), dict) else {}
    checks: list[tuple[Any, re.Pattern[str], str]] = [
        (payload.get("team_id"), _TEAM, "team id"),
        (_id(payload.get("team")), _TEAM, "team id"),
        (user.get("team_id") if isinstance(user, dict) else None, _TEAM, "team id"),
        (payload.get("enterprise_id"), _ENTERPRISE, "enterprise id"),
        (_id(payload.get("enterprise")), _ENTERPRISE, "enterprise id"),
        (payload.get("user_id"), _USER, "user id"),
        (_id(user), _USER, "user id"),
        # user_change and team_join events carry a whole user object here, checked as one
        (_id(event.get("user")), _USER, "user id"),
    ]
    for value, shape, what in checks:
        if value is not None and value != "" and not (isinstance(value, str) and shape.fullmatch(value)):
            raise Refusal(400, f"{what} is not shaped like Slack's")
    if payload.get("type") in _HANDSHAKES or "ssl_check" in payload:
        return
    team_id, enterprise_id = team_of(payload)
    if not team_id and not (enterprise_id and payload.get("type") == "event_callback"):
        raise Refusal(400, "no team id")
    if ("command" in payload or payload.get("type") in _INTERACTIONS) and not (payload.get("user_id") or _id(user)):
        raise Refusal(400, "no user id")


# What Slack sends where: the containers that Bolt (building the context, matching listeners,
# handing listeners their arguments) and our handlers walk into. Slack's payloads always have
# these shapes; any other shape would raise inside Bolt's dispatch, after the ack was promised.
# A key maps to the type its value must have when present (None is allowed for Slack's nulls).
_CONTAINERS: dict[str, tuple[type, ...]] = {
    "team": (str, dict),
    "user": (str, dict),
    "enterprise": (str, dict),
    "channel": (str, dict),
    "container": (dict,),
    "message": (dict,),
    "view": (dict,),
    "event": (dict,),
    "authorizations": (list,),
    "actions": (list,),
    "response_url": (str,),
    "trigger_id": (str,),
    "callback_id": (str,),
    "action_id": (str,),
    "command": (str,),
}
_EVENT_CONTAINERS: dict[str, tuple[type, ...]] = {
    "type": (str,),
    "user": (str, dict),
    "channel": (str, dict),
    "item": (dict,),
    "message": (dict,),
    "previous_message": (dict,),
    "assistant_thread": (dict,),
}
_VIEW_CONTAINERS: dict[str, tuple[type, ...]] = {
    "type": (str,),
    "callback_id": (str,),
    "private_metadata": (str,),
    "state": (dict,),
    "blocks": (list,),
}
_VIEW_KINDS = ("view_submission", "view_closed", "workflow_step_save")


def _shaped(node: dict[str, Any], shapes: dict[str, tuple[type, ...]], where: str) -> None:
    for key, types in shapes.items():
        value = node.get(key)
        if value is not None and not isinstance(value, types):
            raise Refusal(400, f"{where}{key} is not shaped like Slack's")


def check_shape(payload: dict[str, Any]) -> None:
    """Refuse (400) a payload whose containers are not shaped the way Slack sends them."""
    _shaped(payload, _CONTAINERS, "")
    kind = payload.get("type")
    for auth in payload.get("authorizations") or []:
        if not isinstance(auth, dict):
            raise Refusal(400, "authorizations is not shaped like Slack's")
    event = payload.get("event")
    if isinstance(event, dict):
        _shaped(event, _EVENT_CONTAINERS, "event ")
        if kind == "event_callback" and not isinstance(event.get("type"), str):
            raise Refusal(400, "event has no type")
        item = event.get("item")
        if isinstance(item, dict):
            _shaped(item, {"channel": (str, dict)}, "event item ")
    view = payload.get("view")
    if isinstance(view, dict):
        _shaped(view, _VIEW_CONTAINERS, "view ")
        values = (view.get("state") or {}).get("values")
        if values is not None and not (
            isinstance(values, dict)
            and all(
                isinstance(block, dict) and all(isinstance(e, dict) for e in block.values())
                for block in values.values()
            )
        ):
            raise Refusal(400, "view state is not shaped like Slack's")
    if kind in _VIEW_KINDS and not (
        isinstance(view, dict) and isinstance(view.get("callback_id"), str) and isinstance(view.get("type"), str)
    ):
        raise Refusal(400, "view has no callback id")
    actions = payload.get("actions")
    if kind == "block_actions" and "actions" in payload and not actions:
        raise Refusal(400, "actions is not a list of actions")
    for action in actions or []:
        if not (isinstance(action, dict) and isinstance(action.get("action_id"), str)):
            raise Refusal(400, "an action has no action id")
        _shaped(action, {"selected_option": (dict,), "selected_options": (list,)}, "action ")
    if kind == "block_suggestion" and not isinstance(payload.get("action_id"), str):
        raise Refusal(400, "options request has no action id")


def _id(value: Any) -> Any:
    """``x`` or ``{"id": x}`` → x (None when absent)."""
    return value.get("id") if isinstance(value, dict) else value


def came_from_slack(request: BoltRequest, signing_secret: str | None) -> bool:
    """True when Bolt's request is signed by Slack (or arrived over Socket Mode).

    The 5-minute window is not checked again: an error can be handled a while after the guard
    let the request in, and the signature alone proves who sent the body."""
    if request.mode == "socket_mode":
        return True
    if not signing_secret:
        return False
    timestamp = _first(request.headers.get("x-slack-request-timestamp"))
    signature = _first(request.headers.get("x-slack-signature"))
    if not _TIMESTAMP.fullmatch(timestamp) or not _SIGNATURE.fullmatch(signature):
        return False
    return signature_matches(signing_secret, timestamp, request.raw_body.encode("utf-8"), signature)


def _first(values: Any) -> str:
    if isinstance(values, (list, tuple)):
        values = values[0] if values else ""
    return values if isinstance(values, str) else ""


# -- the WSGI middleware --------------------------------------------------------------------
class _QuietLog:
    """At most ``burst`` refusal lines per ``window`` seconds; then one line counting the rest."""

    def __init__(self, burst: int = LOG_BURST, window: float = LOG_WINDOW) -> None:
        self.burst, self.window = burst, window
        self._start, self._lines, self._dropped = 0.0, 0, 0
        self._lock = threading.Lock()

    def refused(self, status: int, reason: str, now: float) -> None:
        with self._lock:
            if now - self._start >= self.window:
                if self._dropped:
                    log.warning("refused %d more requests in the last %.0f s", self._dropped, self.window)
                self._start, self._lines, self._dropped = now, 0, 0
            if self._lines >= self.burst:
                self._dropped += 1
                return
            self._lines += 1
        log.warning("refused a request to /slack/events: %d %s", status, reason)


PAYLOAD_KEY = "crm.slack_payload"  # where the guard leaves the payload it parsed, in the WSGI environ


class SlackGuard:
    """Wraps the WSGI app that serves Slack (Bolt's adapter) with the checks above."""

    def __init__(
        self,
        app: Callable[..., Iterable[bytes]],
        signing_secret: str,
        *,
        max_body: int = MAX_BODY,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.app = app
        self.signing_secret = signing_secret
        self.max_body = max_body
        self.clock = clock
        self._log = _QuietLog()

    def __call__(self, environ: dict[str, Any], start_response) -> Iterable[bytes]:
        try:
            body = self._read(environ)
            check_signature(
                self.signing_secret,
                environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP"),
                environ.get("HTTP_X_SLACK_SIGNATURE"),
                body,
                self.clock(),
            )
            payload = parse_body(environ.get("CONTENT_TYPE"), body)
            check_ids(payload)
            check_shape(payload)
        except Refusal as refusal:
            self._log.refused(refusal.status, refusal.reason, time.monotonic())
            return _refuse(start_response, refusal)
        environ[PAYLOAD_KEY] = payload
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        return self.app(environ, start_response)

    def _read(self, environ: Mapping[str, Any]) -> bytes:
        """The body, or a 413 once it passes the limit (one byte past it is all that is read)."""
        raw_length = (environ.get("CONTENT_LENGTH") or "").strip()
        if raw_length and not raw_length.isdigit():
            raise Refusal(400, "Content-Length is not a number")
        if raw_length and int(raw_length) > self.max_body:
            raise Refusal(413, "body over the size limit")
        stream = environ.get("wsgi.input")
        if stream is None:
            return b""
        # No length (a chunked body the server did not count): read to the end, up to the limit.
        wanted = int(raw_length) if raw_length else self.max_body + 1
        if not raw_length and not environ.get("wsgi.input_terminated"):
            wanted = 0
        chunks, got = [], 0
        while got < wanted:
            chunk = stream.read(min(wanted - got, 64 * 1024))
            if not chunk:
                break
            chunks.append(chunk)
            got += len(chunk)
        if got > self.max_body:
            raise Refusal(413, "body over the size limit")
        return b"".join(chunks)


def _refuse(start_response, refusal: Refusal) -> Iterable[bytes]:
    body = json.dumps({"error": refusal.reason}).encode()
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    start_response(_STATUS_LINES[refusal.status], headers)
    return [body]


class BoltHandler(SlackRequestHandler):
    """Bolt's WSGI adapter, reading the payload the guard parsed instead of parsing it again.

    Bolt's own parser (``slack_bolt.request.internals.parse_body`` in 1.30) takes a form body in
    which the word "payload" appears anywhere, such as ``/log call Acme about the payload``, for
    an interaction, and reads it as an empty request that no listener matches. The guard's
    parse is Bolt's without that slip. Bolt still gets the original bytes and verifies them."""

    def dispatch(self, request: WsgiHttpRequest) -> BoltResponse:
        bolt_request = BoltRequest(body=request.get_body(), query=request.query_string, headers=request.get_headers())
        payload = request.environ.get(PAYLOAD_KEY)
        if isinstance(payload, dict) and bolt_request.body != payload:
            bolt_request.body = payload
            bolt_request.context = build_context(BoltContext({}), payload)
        return self.app.dispatch(bolt_request)


class _NoBodies(logging.Filter):
    """Bolt logs the whole body of a badly signed request at INFO; keep only the first words."""

    def filter(self, record: logging.LogRecord) -> bool:
        if str(record.msg).startswith("Invalid request signature"):
            record.msg, record.args = "Invalid request signature (body not logged)", ()
        return True


def quiet_bolt_logs() -> None:
    """Install :class:`_NoBodies` on Bolt's verification logger (once; safe to call again)."""
    logger = logging.getLogger("slack_bolt.RequestVerification")
    if not any(isinstance(f, _NoBodies) for f in logger.filters):
        logger.addFilter(_NoBodies())


def guarded(app: App, path: str, signing_secret: str | None = None) -> SlackGuard:
    """Bolt behind the guard, both checking signatures with the same secret."""
    # Bolt keeps the secret it verifies with as App._signing_secret (pinned by a test).
    secret = signing_secret or getattr(app, "_signing_secret", None)
    if not secret:
        raise ValueError("the guard needs the signing secret Bolt verifies requests with")
    quiet_bolt_logs()
    return SlackGuard(BoltHandler(app, path=path), secret)


class KeptAck(Ack):
    """An ``ack`` whose answer, once given, stays given.

    When a listener raises after calling ``ack()``, Bolt's thread runner (1.30,
    ``ThreadListenerRunner.run``) sets ``ack.response = None`` after calling the error handler.
    If that happens before the request thread has seen the ack (it polls every 10 ms), the request
    waits out the 3-second ack timeout and Slack gets a 404. Here the reset is ignored, so
    Slack gets the 200 it was promised; the error handler still tells the user."""

    _kept: BoltResponse | None = None

    @property
    def response(self) -> BoltResponse | None:
        return self._kept

    @response.setter
    def response(self, value: BoltResponse | None) -> None:
        if value is not None or self._kept is None:
            self._kept = value


def keep_acks(context: BoltContext, next: Callable[[], None]) -> None:
    """Global middleware: every listener gets a :class:`KeptAck`."""
    context["ack"] = KeptAck()
    next()
