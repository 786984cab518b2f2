"""The stand-in's HTTP plumbing: a threaded server on 127.0.0.1, every call recorded, faults on demand.

:class:`StandInServer` knows nothing about channels or messages. It decodes a request (query
string, form, JSON or multipart), answers ``/api/<method>`` with the ``_api_<family>_<name>``
method of the class it is mixed into (``chat.postMessage`` → ``_api_chat_postMessage``), hands
``/response/<id>`` and ``/upload/<id>`` to the hooks the response_url and files families define,
records each call as a :class:`Call`, and injects what Slack does when it is unhappy: 429 with
``Retry-After``, ``ok: false`` errors, 5xx HTML pages and slow answers.
"""

from __future__ import annotations

import copy
import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, Self
from urllib.parse import parse_qs, urlsplit

# Parameters that hold JSON; a form-encoded request sends them as JSON strings.
_JSON_PARAMS = {"blocks", "attachments", "view", "metadata", "files", "unfurls", "user_auth_blocks"}
_HTML_ERROR = (
    "<!DOCTYPE html><html><head><title>Slack</title></head><body>"
    "<h1>{status} {reason}</h1><p>Slack is having trouble right now.</p></body></html>"
)


# Methods called with the app's client id and secret instead of a token.
NO_TOKEN_METHODS = ("oauth.v2.access",)


@dataclass(frozen=True)
class Call:
    """One request the stand-in received, recorded once it was answered.

    ``params`` holds the decoded arguments (JSON strings inside forms already parsed, the token
    removed); ``headers`` has lower-case names; ``at`` is ``time.time()`` on arrival.
    """

    method: str
    params: dict[str, Any]
    headers: dict[str, str]
    at: float
    ok: bool
    status: int = 200
    error: str | None = None
    response: dict[str, Any] | None = None
    token: str | None = None


@dataclass
class Fault:
    status: int
    error: str | None
    retry_after: int | None
    remaining: int


class SlackError(Exception):
    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


class StandInServer:
    """Serving, recording and fault injection; the Web API methods come from the families."""

    # Slack method name → the method answering it (``chat.postMessage`` → ``_api_chat_postMessage``),
    # from every ``_api_*`` a subclass has, its families' included.
    _api: ClassVar[dict[str, Callable[[Any, dict[str, Any]], dict[str, Any]]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._api = {
            name[len("_api_") :].replace("_", "."): getattr(cls, name) for name in dir(cls) if name.startswith("_api_")
        }

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._listeners: list[Callable[[Call], None]] = []

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> Self:
        if self._server is not None:
            return self
        server = _Server((self.host, self.port), _handler_class(self))
        self._server = server
        self.port = server.server_address[1]
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="slack-standin", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def root_url(self) -> str:
        if self._server is None:
            raise RuntimeError("SlackStandIn is not running: call start() or use it as a context manager")
        return f"http://{self.host}:{self.port}/"

    @property
    def base_url(self) -> str:
        """Pass this to ``WebClient(base_url=...)``."""
        return self.root_url + "api/"

    def reset(self) -> None:
        """Forget calls, faults, latencies, messages, views, users and channels (the bot user
        stays). Timestamps and ids keep counting up, so none is ever reused."""
        with self._lock:
            self._clear()

    def _clear(self) -> None:
        """Forget what was recorded and shaped; the workspace extends this (cooperatively)."""
        self._calls: list[Call] = []
        self._block_errors: list[str] = []
        self._faults: dict[str, deque[Fault]] = {}
        self._latency: dict[str, float] = {}

    # ---------------------------------------------------------------- what the app did

    @property
    def calls(self) -> list[Call]:
        """Every call so far, in the order they were answered (a snapshot)."""
        with self._lock:
            return list(self._calls)

    def calls_to(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self._calls if c.method == method]

    def wait_for(self, method: str, count: int = 1, timeout: float = 5.0) -> list[Call]:
        """Block until ``count`` calls to ``method`` have been answered; return them all."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = [c for c in self._calls if c.method == method]
                if len(found) >= count:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    arrived = [f"{c.method}({'ok' if c.ok else c.error})" for c in self._calls]
                    raise AssertionError(
                        f"expected {count} call(s) to {method} within {timeout}s, got {len(found)}; "
                        f"calls that did arrive: {arrived or 'none'}"
                    )
                self._changed.wait(remaining)

    @property
    def block_errors(self) -> list[str]:
        """Block Kit problems in payloads the app sent, each prefixed with the method."""
        with self._lock:
            return list(self._block_errors)

    def add_listener(self, callback: Callable[[Call], None]) -> None:
        """Call ``callback(call)`` after every answered call (on the server's thread, outside the
        stand-in's lock). The playground uses it to follow modals and refresh the page."""
        with self._lock:
            self._listeners.append(callback)

    def _notify(self, call: Call) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for callback in listeners:
            callback(call)

    # ---------------------------------------------------------------- shaping the next answers

    def fail_next(
        self,
        method: str,
        *,
        status: int = 200,
        error: str | None = None,
        retry_after: int | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` calls to ``method`` with a fault instead of doing them.

        ``status=429`` → ``Retry-After`` header (``retry_after``, default 1) and
        ``{"ok": false, "error": "ratelimited"}``; ``status>=500`` → an HTML error page;
        otherwise ``{"ok": false, "error": error}`` with that status. ``method`` may be
        ``"response_url"``.
        """
        if status == 200 and error is None:
            raise ValueError("fail_next needs an error (e.g. 'not_in_channel') or a non-200 status")
        with self._lock:
            self._faults.setdefault(method, deque()).append(Fault(status, error, retry_after, times))

    def set_latency(self, method: str, seconds: float) -> None:
        """Delay answers to ``method`` (``"*"`` for every method) by ``seconds``. The call still
        takes effect, as on Slack when the client gives up waiting; ``0`` removes the delay."""
        with self._lock:
            if seconds > 0:
                self._latency[method] = seconds
            else:
                self._latency.pop(method, None)

    # ---------------------------------------------------------------- request handling

    def _handle_api(self, method: str, params: dict[str, Any], headers: dict[str, str], at: float) -> Answer:
        body_token = params.pop("token", None)
        token = _bearer(headers) or body_token
        with self._lock:
            self._token_now, self._headers_now = token, headers  # for the method, under the lock
            refusal = self._token_refusal(token) if token else None
            if method in NO_TOKEN_METHODS:
                answer = self._take_fault(method) or self._run(method, params)
            elif not token:
                answer = Answer.json({"ok": False, "error": "not_authed"})
            elif not token.startswith(("xoxb-", "xoxp-", "xoxe.xoxb-")):
                answer = Answer.json({"ok": False, "error": "invalid_auth"})
            elif refusal:
                answer = Answer.json({"ok": False, "error": refusal})
            else:
                answer = self._take_fault(method) or self._run(method, params)
            self._record(method, params, headers, at, answer, token)
            call = self._calls[-1]
            delay = self._latency.get(method, self._latency.get("*", 0.0))
        answer.delay = delay
        self._notify(call)
        return answer

    def _handle_response_url(self, rid: str, body: dict[str, Any], headers: dict[str, str], at: float) -> Answer:
        params = {"id": rid, **body}
        with self._lock:
            answer = self._take_fault("response_url") or self._run_response_url(rid, body)
            self._record("response_url", params, headers, at, answer, None)
            call = self._calls[-1]
            delay = self._latency.get("response_url", self._latency.get("*", 0.0))
        answer.delay = delay
        self._notify(call)
        return answer

    def _handle_upload(self, file_id: str, data: bytes, headers: dict[str, str], at: float) -> Answer:
        with self._lock:
            answer = self._receive_upload(file_id, data)
            self._record("file_upload", {"file_id": file_id, "size": len(data)}, headers, at, answer, None)
        return answer

    def _take_fault(self, method: str) -> Answer | None:
        queue = self._faults.get(method)
        if not queue:
            return None
        fault = queue[0]
        fault.remaining -= 1
        if fault.remaining <= 0:
            queue.popleft()
        if fault.status == 429:
            answer = Answer.json({"ok": False, "error": fault.error or "ratelimited"}, status=429)
            answer.headers["Retry-After"] = str(fault.retry_after if fault.retry_after is not None else 1)
            return answer
        if fault.status >= 500:
            reason = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}
            page = _HTML_ERROR.format(status=fault.status, reason=reason.get(fault.status, "Server Error"))
            return Answer(fault.status, "text/html; charset=utf-8", page.encode())
        body: dict[str, Any] = {"ok": False, "error": fault.error or "fatal_error"}
        if fault.retry_after is not None:
            answer = Answer.json(body, status=fault.status)
            answer.headers["Retry-After"] = str(fault.retry_after)
            return answer
        return Answer.json(body, status=fault.status)

    def _run(self, method: str, params: dict[str, Any]) -> Answer:
        handler = self._api.get(method)
        if handler is None:
            return Answer.json({"ok": False, "error": "unknown_method", "req_method": method})
        try:
            result = handler(self, params)
        except SlackError as e:
            return Answer.json({"ok": False, "error": e.error, **e.extra})
        return Answer.json({"ok": True, **result})

    def _record(
        self,
        method: str,
        params: dict[str, Any],
        headers: dict[str, str],
        at: float,
        answer: Answer,
        token: str | None,
    ) -> None:
        response = answer.payload
        ok = answer.status == 200 and (response is None or bool(response.get("ok")))
        error = None
        if response is not None and not response.get("ok"):
            error = response.get("error")
        elif answer.status != 200:
            error = f"http_{answer.status}"
        self._calls.append(
            Call(
                method=method,
                params=copy.deepcopy(params),
                headers=headers,
                at=at,
                ok=ok,
                status=answer.status,
                error=error,
                response=copy.deepcopy(response),
                token=token,
            )
        )
        self._changed.notify_all()

    # ---------------------------------------------------------------- hooks the families fill in

    _token_now: str | None = None
    _headers_now: dict[str, str] = {}

    def _token_refusal(self, token: str) -> str | None:
        """Why Slack refuses this token (``token_revoked``...), or None; oauth.OAuthMethods fills it in."""
        return None

    def _run_response_url(self, rid: str, body: dict[str, Any]) -> Answer:
        raise NotImplementedError  # responses.ResponseUrls

    def _receive_upload(self, file_id: str, data: bytes) -> Answer:
        raise NotImplementedError  # files.FileMethods


# ------------------------------------------------------------------------ HTTP plumbing


@dataclass
class Answer:
    status: int
    content_type: str
    body: bytes
    payload: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0

    @classmethod
    def json(cls, payload: dict[str, Any], *, status: int = 200) -> Answer:
        return cls(status, "application/json; charset=utf-8", json.dumps(payload).encode(), payload)


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a handler sleeping in set_latency never holds up stop()
    request_queue_size = 128  # bursts of concurrent calls (fan-out jobs) connect at once


def _handler_class(standin: StandInServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "SlackStandIn/1.0"

        def do_POST(self) -> None:
            self._dispatch()

        def do_GET(self) -> None:
            self._dispatch()

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep test output quiet; every request is in standin.calls

        def _dispatch(self) -> None:
            at = time.time()
            url = urlsplit(self.path)
            headers = {k.lower(): v for k, v in self.headers.items()}
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            if url.path.startswith("/api/"):
                try:
                    params = _decode_params(url.query, raw, headers.get("content-type", ""))
                except ValueError:
                    answer = Answer.json({"ok": False, "error": "invalid_json"})
                else:
                    answer = standin._handle_api(url.path[len("/api/") :], params, headers, at)
            elif url.path.startswith("/response/"):
                try:
                    body = json.loads(raw or b"{}")
                    if not isinstance(body, dict):
                        raise ValueError("not an object")
                except ValueError:
                    answer = Answer(400, "text/plain", b"invalid_payload")
                else:
                    answer = standin._handle_response_url(url.path[len("/response/") :], body, headers, at)
            elif url.path.startswith("/upload/"):
                answer = standin._handle_upload(url.path[len("/upload/") :], raw, headers, at)
            else:
                answer = Answer(404, "text/plain", b"Not Found")
            if answer.delay:
                time.sleep(answer.delay)
            try:
                self.send_response(answer.status)
                self.send_header("Content-Type", answer.content_type)
                self.send_header("Content-Length", str(len(answer.body)))
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(answer.body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up waiting (set_latency); the call is recorded anyway

    return Handler


def _decode_params(query: str, raw: bytes, content_type: str) -> dict[str, Any]:
    params: dict[str, Any] = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
    if raw:
        if content_type.startswith("application/json"):
            body = json.loads(raw)
            if not isinstance(body, dict):
                raise ValueError("JSON body must be an object")
            params.update(body)
        elif content_type.startswith("multipart/form-data"):
            params.update(_decode_multipart(raw, content_type))
        else:
            form = parse_qs(raw.decode("utf-8"), keep_blank_values=True)
            params.update({k: v[-1] for k, v in form.items()})
    for key in _JSON_PARAMS & params.keys():
        value = params[key]
        if isinstance(value, str) and value.strip()[:1] in ("[", "{"):
            params[key] = json.loads(value)
    return params


def _decode_multipart(raw: bytes, content_type: str) -> dict[str, Any]:
    message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + raw)
    fields: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        if part.get_filename():
            fields[name] = {"filename": part.get_filename(), "size": len(data)}
        else:
            fields[name] = data.decode("utf-8")
    return fields


def _bearer(headers: dict[str, str]) -> str | None:
    value = headers.get("authorization", "")
    if not value.startswith("Bearer "):
        return None
    return value[len("Bearer ") :].strip() or None
