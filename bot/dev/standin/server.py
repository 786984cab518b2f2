"""A loopback stand-in for the Slack Web API, for tests and the local playground.

Point a ``slack_sdk.WebClient(base_url=standin.base_url)`` (or Bolt's ``App(client=...)``) at it.
It answers the methods the CRM uses with the shape of Slack's real answers, keeps the messages,
views and users it knows about, records every call in order, and can inject the faults Slack
produces (429 with ``Retry-After``, 5xx, ``ok: false`` errors, slow answers).

Every payload that carries ``blocks`` or a ``view`` goes through ``commands.blockkit``; what it
finds lands in :attr:`SlackStandIn.block_errors`, and the call is refused the way Slack refuses
it (``invalid_blocks`` for messages, ``invalid_arguments`` for views). Problems Slack only warns
about or silently works around (no fallback ``text``, text past 40,000 characters) are recorded
but the call succeeds, as it would on Slack.

    with SlackStandIn() as slack:
        slack.add_channel("C1", name="sales")
        client = WebClient(token="xoxb-test", base_url=slack.base_url)
        client.chat_postMessage(channel="C1", text="hi")
        assert slack.messages("C1")[0]["text"] == "hi"
        assert slack.block_errors == []
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from commands.blockkit import MESSAGE_TEXT_MAX, validate_message, validate_message_blocks, validate_view

__all__ = ["Call", "SlackStandIn"]

# Parameters that hold JSON; a form-encoded request sends them as JSON strings.
_JSON_PARAMS = {"blocks", "attachments", "view", "metadata", "files", "unfurls", "user_auth_blocks"}
_FIRST_TS = 1_700_000_000
_HTML_ERROR = (
    "<!DOCTYPE html><html><head><title>Slack</title></head><body>"
    "<h1>{status} {reason}</h1><p>Slack is having trouble right now.</p></body></html>"
)


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
class _Fault:
    status: int
    error: str | None
    retry_after: int | None
    remaining: int


class _SlackError(Exception):
    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


@dataclass
class _Channel:
    id: str
    name: str
    is_private: bool = False
    is_ext_shared: bool = False
    is_member: bool = True
    is_im: bool = False
    is_mpim: bool = False
    is_archived: bool = False
    user: str | None = None  # the other side of a DM
    members: list[str] = field(default_factory=list)


@dataclass
class _ResponseUrl:
    channel: str | None
    message_ts: str | None
    user: str | None
    uses: int = 0


class SlackStandIn:
    """A threaded HTTP server on 127.0.0.1 that answers like ``https://slack.com/api/``."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        team_id: str = "T0TEST",
        team_name: str = "Test Workspace",
        team_domain: str = "test-workspace",
        bot_user_id: str = "U0BOT",
        bot_id: str = "B0BOT",
        app_id: str = "A0APP",
        bot_name: str = "crm",
        strict_channels: bool = False,
        chat_write_public: bool = True,
    ) -> None:
        """``strict_channels=False`` creates unknown ``C``/``G``/``D`` channels on first post (and
        DMs with unknown users); ``True`` answers ``channel_not_found`` as Slack does.
        ``chat_write_public=True`` lets the bot post in public channels it hasn't joined (the
        ``chat:write.public`` scope); otherwise that is ``not_in_channel``."""
        self.host = host
        self.port = port
        self.team_id = team_id
        self.team_name = team_name
        self.team_domain = team_domain
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.app_id = app_id
        self.bot_name = bot_name
        self.strict_channels = strict_channels
        self.chat_write_public = chat_write_public

        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._ts_counter = 0
        self._id_counter = 0
        self._listeners: list[Callable[[Call], None]] = []
        self._clear()

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> SlackStandIn:
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

    def __enter__(self) -> SlackStandIn:
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
        self._calls: list[Call] = []
        self._block_errors: list[str] = []
        self._faults: dict[str, deque[_Fault]] = {}
        self._latency: dict[str, float] = {}
        self._users: dict[str, dict[str, Any]] = {}
        self._channels: dict[str, _Channel] = {}
        self._messages: dict[str, list[dict[str, Any]]] = {}
        self._ephemeral: dict[str, list[dict[str, Any]]] = {}
        self._scheduled: list[dict[str, Any]] = []
        self._views: dict[str, dict[str, Any]] = {}
        self._home: dict[str, str] = {}
        self._used_triggers: set[str] = set()
        self._files: dict[str, dict[str, Any]] = {}
        self._response_urls: dict[str, _ResponseUrl] = {}
        self.add_user(self.bot_user_id, name=self.bot_name, is_bot=True)

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

    def messages(self, channel: str) -> list[dict[str, Any]]:
        """Messages now in ``channel`` (after updates and deletes), thread replies included,
        oldest first. ``channel`` may be a user id for the bot's DM with that user."""
        with self._lock:
            channel_id = self._dm_for(channel) if _is_user_id(channel) else channel
            return copy.deepcopy(self._messages.get(channel_id or "", []))

    def ephemeral_messages(self, channel: str, user: str | None = None) -> list[dict[str, Any]]:
        """Ephemeral messages (chat.postEphemeral and response_url) shown in ``channel``, each
        with the ``recipient`` who saw it; ``user`` keeps only those shown to that user."""
        with self._lock:
            found = self._ephemeral.get(channel, [])
            return copy.deepcopy([m for m in found if user is None or m.get("recipient") == user])

    def scheduled_messages(self) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self._scheduled)

    def view(self, view_id: str) -> dict[str, Any] | None:
        """The latest version of a view opened, pushed, updated or published."""
        with self._lock:
            return copy.deepcopy(self._views.get(view_id))

    def home_view(self, user_id: str) -> dict[str, Any] | None:
        """The Home tab last published for ``user_id``."""
        with self._lock:
            view_id = self._home.get(user_id)
            return copy.deepcopy(self._views.get(view_id)) if view_id else None

    def users(self) -> list[dict[str, Any]]:
        """Every user the stand-in knows (a snapshot), the bot included."""
        with self._lock:
            return copy.deepcopy(list(self._users.values()))

    def channels(self) -> list[dict[str, Any]]:
        """Every channel and DM as ``conversations.info`` shows it, plus its ``members``."""
        with self._lock:
            return [
                {**self._public_channel(c), "name": c.name, "members": list(c.members)} for c in self._channels.values()
            ]

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

    def view_response(self, view_id: str, response_action: str, view: dict[str, Any]) -> dict[str, Any]:
        """Do what Slack does with a view_submission answered by ``response_action`` ``"update"``
        (the submitted view ``view_id`` becomes ``view``) or ``"push"`` (``view`` goes on top of it).
        The view is checked like a ``views.*`` call; a broken one raises ``ValueError``."""
        if response_action not in ("update", "push"):
            raise ValueError(f"response_action must be update or push, not {response_action!r}")
        with self._lock:
            stored = self._views.get(view_id)
            if stored is None:
                raise ValueError(f"no view {view_id!r}")
            try:
                checked = self._check_view(f"response_action:{response_action}", view)
            except _SlackError as e:
                raise ValueError(f"{e.error}: {e.extra.get('errors')}") from None
            if response_action == "update":
                return copy.deepcopy(self._apply_view(stored, checked))
            pushed = self._new_view(checked, previous_view_id=view_id, root_view_id=stored["root_view_id"])
            return copy.deepcopy(pushed)

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
            self._faults.setdefault(method, deque()).append(_Fault(status, error, retry_after, times))

    def set_latency(self, method: str, seconds: float) -> None:
        """Delay answers to ``method`` (``"*"`` for every method) by ``seconds``. The call still
        takes effect, as on Slack when the client gives up waiting; ``0`` removes the delay."""
        with self._lock:
            if seconds > 0:
                self._latency[method] = seconds
            else:
                self._latency.pop(method, None)

    # ---------------------------------------------------------------- seeding the workspace

    def add_user(
        self,
        user_id: str,
        *,
        name: str,
        real_name: str | None = None,
        tz: str = "America/Los_Angeles",
        tz_offset: int | None = None,
        is_admin: bool = False,
        is_owner: bool = False,
        is_bot: bool = False,
        deleted: bool = False,
        locale: str = "en-US",
        email: str | None = None,
        display_name: str | None = None,
    ) -> dict[str, Any]:
        """Add (or replace) a user; ``tz_offset`` defaults to the zone's current UTC offset."""
        real_name = real_name if real_name is not None else name
        zone_label, zone_offset = _zone_facts(tz)
        profile: dict[str, Any] = {
            "real_name": real_name,
            "real_name_normalized": real_name,
            "display_name": display_name if display_name is not None else name,
            "display_name_normalized": display_name if display_name is not None else name,
            "status_text": "",
            "status_emoji": "",
            "image_24": f"https://avatars.example/{user_id}_24.png",
            "image_48": f"https://avatars.example/{user_id}_48.png",
            "image_72": f"https://avatars.example/{user_id}_72.png",
            "image_192": f"https://avatars.example/{user_id}_192.png",
            "team": self.team_id,
        }
        if email is not None:
            profile["email"] = email
        if is_bot:
            profile["bot_id"] = self.bot_id if user_id == self.bot_user_id else f"B{user_id[1:]}"
        user = {
            "id": user_id,
            "team_id": self.team_id,
            "name": name,
            "deleted": deleted,
            "color": "9f69e7",
            "real_name": real_name,
            "tz": tz,
            "tz_label": zone_label,
            "tz_offset": tz_offset if tz_offset is not None else zone_offset,
            "profile": profile,
            "is_admin": is_admin,
            "is_owner": is_owner,
            "is_primary_owner": False,
            "is_restricted": False,
            "is_ultra_restricted": False,
            "is_bot": is_bot,
            "is_app_user": False,
            "updated": _FIRST_TS,
            "locale": locale,
        }
        with self._lock:
            self._users[user_id] = user
            return copy.deepcopy(user)

    def add_channel(
        self,
        channel_id: str,
        *,
        name: str,
        is_private: bool = False,
        is_ext_shared: bool = False,
        is_member: bool = True,
        is_im: bool = False,
        is_archived: bool = False,
        members: list[str] | None = None,
        user: str | None = None,
    ) -> None:
        """Add (or replace) a channel. The bot is a member when ``is_member``; ``members`` lists
        the others. For a DM (``is_im``) give the other side as ``user``."""
        member_list = list(members or [])
        if user and user not in member_list:
            member_list.append(user)
        if is_member and self.bot_user_id not in member_list:
            member_list.append(self.bot_user_id)
        with self._lock:
            self._channels[channel_id] = _Channel(
                id=channel_id,
                name=name,
                is_private=is_private or is_im,
                is_ext_shared=is_ext_shared,
                is_member=is_member,
                is_im=is_im,
                is_archived=is_archived,
                user=user,
                members=member_list,
            )
            self._messages.setdefault(channel_id, [])

    def post_message(
        self,
        channel: str,
        text: str,
        *,
        user: str,
        thread_ts: str | None = None,
        blocks: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """Seed a message as if ``user`` had posted it (no call is recorded). Unknown channels are
        created. Returns the stored message, whose ``ts`` is what Slack would have given it."""
        with self._lock:
            channel_id = self._dm_for(channel, create=True) if _is_user_id(channel) else channel
            if channel_id not in self._channels:
                self.add_channel(channel_id, name=channel_id.lower())
            message: dict[str, Any] = {"type": "message", "user": user, "text": text}
            if user == self.bot_user_id:
                message.update(bot_id=self.bot_id, app_id=self.app_id)
            if blocks is not None:
                message["blocks"] = copy.deepcopy(blocks)
            stored = self._store_message(channel_id, message, thread_ts)
            return copy.deepcopy(stored)

    def response_url(
        self, channel: str | None = None, *, message_ts: str | None = None, user: str | None = None
    ) -> str:
        """Mint a ``response_url`` whose posts are recorded as calls to ``"response_url"``.

        Bound to ``channel`` (and the ``message_ts`` that held the button, and the ``user`` who
        clicked), its posts also act like Slack's: ``replace_original`` / ``delete_original``
        change that message, ``response_type: in_channel`` posts to the channel, anything else
        shows an ephemeral message to ``user``."""
        with self._lock:
            rid = self._mint("R")
            self._response_urls[rid] = _ResponseUrl(channel, message_ts, user)
        return f"{self.root_url}response/{rid}"

    def trigger_id(self) -> str:
        """A fresh trigger_id for a simulated interaction. Any trigger works once."""
        with self._lock:
            return f"{self._next_n()}.{self.team_id}.{self._mint('')}"

    # ---------------------------------------------------------------- request handling

    def _handle_api(self, method: str, params: dict[str, Any], headers: dict[str, str], at: float) -> _Answer:
        body_token = params.pop("token", None)
        token = _bearer(headers) or body_token
        with self._lock:
            if not token:
                answer = _Answer.json({"ok": False, "error": "not_authed"})
            elif not token.startswith(("xoxb-", "xoxp-")):
                answer = _Answer.json({"ok": False, "error": "invalid_auth"})
            else:
                answer = self._take_fault(method) or self._run(method, params)
            self._record(method, params, headers, at, answer, token)
            call = self._calls[-1]
            delay = self._latency.get(method, self._latency.get("*", 0.0))
        answer.delay = delay
        self._notify(call)
        return answer

    def _handle_response_url(self, rid: str, body: dict[str, Any], headers: dict[str, str], at: float) -> _Answer:
        params = {"id": rid, **body}
        with self._lock:
            answer = self._take_fault("response_url") or self._run_response_url(rid, body)
            self._record("response_url", params, headers, at, answer, None)
            call = self._calls[-1]
            delay = self._latency.get("response_url", self._latency.get("*", 0.0))
        answer.delay = delay
        self._notify(call)
        return answer

    def _handle_upload(self, file_id: str, size: int, headers: dict[str, str], at: float) -> _Answer:
        with self._lock:
            file = self._files.get(file_id)
            if file is None:
                answer = _Answer(404, "text/plain", b"Not Found")
            else:
                file["size"] = size
                answer = _Answer(200, "text/plain", f"OK - {size}".encode())
            self._record("file_upload", {"file_id": file_id, "size": size}, headers, at, answer, None)
        return answer

    def _take_fault(self, method: str) -> _Answer | None:
        queue = self._faults.get(method)
        if not queue:
            return None
        fault = queue[0]
        fault.remaining -= 1
        if fault.remaining <= 0:
            queue.popleft()
        if fault.status == 429:
            answer = _Answer.json({"ok": False, "error": fault.error or "ratelimited"}, status=429)
            answer.headers["Retry-After"] = str(fault.retry_after if fault.retry_after is not None else 1)
            return answer
        if fault.status >= 500:
            reason = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}
            page = _HTML_ERROR.format(status=fault.status, reason=reason.get(fault.status, "Server Error"))
            return _Answer(fault.status, "text/html; charset=utf-8", page.encode())
        body: dict[str, Any] = {"ok": False, "error": fault.error or "fatal_error"}
        if fault.retry_after is not None:
            answer = _Answer.json(body, status=fault.status)
            answer.headers["Retry-After"] = str(fault.retry_after)
            return answer
        return _Answer.json(body, status=fault.status)

    def _run(self, method: str, params: dict[str, Any]) -> _Answer:
        handler = _API.get(method)
        if handler is None:
            return _Answer.json({"ok": False, "error": "unknown_method", "req_method": method})
        try:
            result = handler(self, params)
        except _SlackError as e:
            return _Answer.json({"ok": False, "error": e.error, **e.extra})
        return _Answer.json({"ok": True, **result})

    def _record(
        self,
        method: str,
        params: dict[str, Any],
        headers: dict[str, str],
        at: float,
        answer: _Answer,
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

    # ---------------------------------------------------------------- helpers for the methods

    def _next_n(self) -> int:
        self._ts_counter += 100
        return self._ts_counter

    def _new_ts(self) -> str:
        n = self._next_n()
        return f"{_FIRST_TS + n // 1_000_000}.{n % 1_000_000:06d}"

    def _mint(self, prefix: str) -> str:
        self._id_counter += 1
        return f"{prefix}{self._id_counter:08X}"

    def _dm_for(self, user_id: str, *, create: bool = False) -> str | None:
        for channel in self._channels.values():
            if channel.is_im and channel.user == user_id:
                return channel.id
        if not create:
            return None
        channel_id = self._mint("D")
        self.add_channel(channel_id, name=user_id, is_im=True, user=user_id)
        return channel_id

    def _channel(self, channel_id: Any, *, create: bool = False) -> _Channel:
        """The channel with this id (or name); creates unknown ones when not strict."""
        if not isinstance(channel_id, str) or not channel_id:
            raise _SlackError("channel_not_found")
        if _is_user_id(channel_id):
            if self.strict_channels and channel_id not in self._users:
                raise _SlackError("channel_not_found")
            dm = self._dm_for(channel_id, create=create)
            if dm is None:
                raise _SlackError("channel_not_found")
            return self._channels[dm]
        found = self._channels.get(channel_id)
        if found is None:
            wanted = channel_id.lstrip("#")
            found = next((c for c in self._channels.values() if c.name == wanted), None)
        if found is None:
            if not create or self.strict_channels or channel_id[0] not in "CGD":
                raise _SlackError("channel_not_found")
            is_im = channel_id.startswith("D")
            self.add_channel(channel_id, name=channel_id.lower(), is_im=is_im)
            found = self._channels[channel_id]
        return found

    def _postable(self, params: dict[str, Any]) -> _Channel:
        channel = self._channel(params.get("channel"), create=True)
        if channel.is_archived:
            raise _SlackError("is_archived")
        if not channel.is_member and (channel.is_private or not self.chat_write_public):
            raise _SlackError("not_in_channel")
        return channel

    def _readable(self, params: dict[str, Any]) -> _Channel:
        channel = self._channel(params.get("channel"))
        if not channel.is_member:
            raise _SlackError("not_in_channel")
        return channel

    def _check_message(self, method: str, payload: dict[str, Any], *, require_content: bool = True) -> None:
        problems = validate_message(payload)
        self._block_errors.extend(f"{method}: {p}" for p in problems)
        rejected = validate_message_blocks(payload)
        if rejected:
            raise _SlackError(
                "invalid_blocks",
                errors=rejected,
                response_metadata={"messages": [f"[ERROR] {p}" for p in rejected]},
            )
        if require_content and not (payload.get("text") or payload.get("blocks") or payload.get("attachments")):
            raise _SlackError("no_text")

    def _check_view(self, method: str, view: Any) -> dict[str, Any]:
        if not isinstance(view, dict):
            raise _SlackError("invalid_arguments", response_metadata={"messages": ["[ERROR] view is required"]})
        problems = validate_view(view)
        if problems:
            self._block_errors.extend(f"{method}: {p}" for p in problems)
            raise _SlackError(
                "invalid_arguments",
                errors=problems,
                response_metadata={"messages": [f"[ERROR] {p}" for p in problems]},
            )
        return view

    def _bot_message(self, params: dict[str, Any]) -> dict[str, Any]:
        message: dict[str, Any] = {
            "type": "message",
            "text": (params.get("text") or "")[:MESSAGE_TEXT_MAX],  # Slack truncates, too
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "app_id": self.app_id,
            "team": self.team_id,
        }
        for key in ("blocks", "attachments", "metadata", "username", "icon_emoji", "icon_url"):
            if params.get(key) is not None:
                message[key] = copy.deepcopy(params[key])
        return message

    def _store_message(self, channel_id: str, message: dict[str, Any], thread_ts: str | None) -> dict[str, Any]:
        message["ts"] = self._new_ts()
        stored = self._messages.setdefault(channel_id, [])
        if thread_ts:
            message["thread_ts"] = thread_ts
            parent = self._find(channel_id, thread_ts)
            if parent is not None:
                message["parent_user_id"] = parent.get("user")
                parent["thread_ts"] = parent["ts"]
                parent["reply_count"] = parent.get("reply_count", 0) + 1
                users = parent.setdefault("reply_users", [])
                if message.get("user") and message["user"] not in users:
                    users.append(message["user"])
                parent["reply_users_count"] = len(users)
                parent["latest_reply"] = message["ts"]
        stored.append(message)
        return message

    def _find(self, channel_id: str, ts: Any) -> dict[str, Any] | None:
        return next((m for m in self._messages.get(channel_id, []) if m["ts"] == ts), None)

    def _own_message(self, channel: _Channel, ts: Any, refusal: str) -> dict[str, Any]:
        message = self._find(channel.id, ts)
        if message is None:
            raise _SlackError("message_not_found")
        if message.get("user") != self.bot_user_id and message.get("bot_id") != self.bot_id:
            raise _SlackError(refusal)
        return message

    def _delete(self, channel_id: str, message: dict[str, Any]) -> None:
        if message.get("reply_count"):
            # Slack keeps a thread's parent as a tombstone so the replies stay reachable.
            for key in ("blocks", "attachments", "bot_id", "app_id", "metadata", "edited"):
                message.pop(key, None)
            message.update(subtype="tombstone", text="This message was deleted.", user="USLACKBOT")
            return
        self._messages[channel_id].remove(message)
        parent_ts = message.get("thread_ts")
        if parent_ts and parent_ts != message["ts"]:
            parent = self._find(channel_id, parent_ts)
            if parent is not None and parent.get("reply_count"):
                parent["reply_count"] -= 1

    def _public_channel(self, channel: _Channel) -> dict[str, Any]:
        if channel.is_im:
            return {
                "id": channel.id,
                "created": _FIRST_TS,
                "is_im": True,
                "is_org_shared": False,
                "user": channel.user,
                "is_user_deleted": bool(self._users.get(channel.user or "", {}).get("deleted")),
                "context_team_id": self.team_id,
            }
        return {
            "id": channel.id,
            "name": channel.name,
            "name_normalized": channel.name,
            "is_channel": not channel.is_private and not channel.is_mpim,
            "is_group": channel.is_private and not channel.is_mpim,
            "is_im": False,
            "is_mpim": channel.is_mpim,
            "is_private": channel.is_private,
            "is_archived": channel.is_archived,
            "is_general": False,
            "is_member": channel.is_member,
            "is_shared": channel.is_ext_shared,
            "is_ext_shared": channel.is_ext_shared,
            "is_org_shared": False,
            "is_pending_ext_shared": False,
            "created": _FIRST_TS,
            "creator": "",
            "context_team_id": self.team_id,
            "topic": {"value": "", "creator": "", "last_set": 0},
            "purpose": {"value": "", "creator": "", "last_set": 0},
            "num_members": len(channel.members),
        }

    def _user(self, user_id: Any) -> dict[str, Any]:
        user = self._users.get(user_id) if isinstance(user_id, str) else None
        if user is None:
            raise _SlackError("user_not_found")
        return user

    def _new_view(self, view: dict[str, Any], **extra: Any) -> dict[str, Any]:
        view_id = self._mint("V")
        stored = {
            "id": view_id,
            "team_id": self.team_id,
            "type": view.get("type"),
            "title": None,
            "submit": None,
            "close": None,
            "blocks": [],
            "private_metadata": "",
            "callback_id": "",
            "external_id": "",
            "state": {"values": {}},
            "hash": "",
            "clear_on_close": False,
            "notify_on_close": False,
            "previous_view_id": None,
            "root_view_id": view_id,
            "app_id": self.app_id,
            "app_installed_team_id": self.team_id,
            "bot_id": self.bot_id,
        }
        stored.update(extra)
        return self._apply_view(stored, view)

    def _apply_view(self, stored: dict[str, Any], view: dict[str, Any]) -> dict[str, Any]:
        for key, value in view.items():
            if key not in ("id", "team_id", "hash", "state", "root_view_id", "app_id", "bot_id"):
                stored[key] = copy.deepcopy(value)
        stored["hash"] = f"{_FIRST_TS + self._next_n()}.{self._mint('h').lower()}"
        self._views[stored["id"]] = stored
        return stored

    def _use_trigger(self, params: dict[str, Any]) -> None:
        trigger = params.get("trigger_id") or params.get("interactivity_pointer")
        if not trigger:
            raise _SlackError("invalid_arguments", response_metadata={"messages": ["[ERROR] missing trigger_id"]})
        if trigger in self._used_triggers:
            raise _SlackError("exchanged_trigger_id")
        self._used_triggers.add(trigger)

    def _external_id_taken(self, external_id: Any) -> bool:
        return bool(external_id) and any(v.get("external_id") == external_id for v in self._views.values())

    # ---------------------------------------------------------------- Web API methods

    def _api_auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": f"https://{self.team_domain}.slack.com/",
            "team": self.team_name,
            "user": self.bot_name,
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _api_team_info(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "team": {
                "id": self.team_id,
                "name": self.team_name,
                "domain": self.team_domain,
                "email_domain": "",
                "icon": {"image_default": True},
            }
        }

    def _api_chat_postMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._postable(params)
        self._check_message("chat.postMessage", params)
        thread_ts = params.get("thread_ts") or None
        message = self._store_message(channel.id, self._bot_message(params), thread_ts)
        return {"channel": channel.id, "ts": message["ts"], "message": copy.deepcopy(message)}

    def _api_chat_postEphemeral(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._postable(params)
        user = params.get("user")
        if not user:
            raise _SlackError("user_not_found")
        if self.strict_channels:
            self._user(user)
        self._check_message("chat.postEphemeral", params)
        message = self._bot_message(params)
        message.update(ts=self._new_ts(), recipient=user)
        if params.get("thread_ts"):
            message["thread_ts"] = params["thread_ts"]
        self._ephemeral.setdefault(channel.id, []).append(message)
        return {"message_ts": message["ts"]}

    def _api_chat_update(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params.get("channel"))
        message = self._own_message(channel, params.get("ts"), "cant_update_message")
        self._check_message("chat.update", params)
        for key in ("text", "blocks", "attachments", "metadata"):
            if key in params:
                message[key] = copy.deepcopy(params[key])
        message["edited"] = {"user": self.bot_user_id, "ts": self._new_ts()}
        return {
            "channel": channel.id,
            "ts": message["ts"],
            "text": message.get("text", ""),
            "message": copy.deepcopy(message),
        }

    def _api_chat_delete(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params.get("channel"))
        message = self._own_message(channel, params.get("ts"), "cant_delete_message")
        self._delete(channel.id, message)
        return {"channel": channel.id, "ts": params["ts"]}

    def _api_chat_getPermalink(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params.get("channel"))
        message = self._find(channel.id, params.get("message_ts"))
        if message is None:
            raise _SlackError("message_not_found")
        link = f"https://{self.team_domain}.slack.com/archives/{channel.id}/p{message['ts'].replace('.', '')}"
        thread_ts = message.get("thread_ts")
        if thread_ts and thread_ts != message["ts"]:
            link += f"?thread_ts={thread_ts}&cid={channel.id}"
        return {"channel": channel.id, "permalink": link}

    def _api_chat_scheduleMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._postable(params)
        try:
            post_at = int(params.get("post_at"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise _SlackError("invalid_time") from None
        now = time.time()
        if post_at <= now:
            raise _SlackError("time_in_past")
        if post_at > now + 120 * 86400:
            raise _SlackError("time_too_far")
        self._check_message("chat.scheduleMessage", params)
        message = self._bot_message(params)
        scheduled = {
            "id": self._mint("Q"),
            "channel_id": channel.id,
            "post_at": post_at,
            "date_created": int(now),
            "text": message["text"],
            "message": message,
        }
        if params.get("thread_ts"):
            scheduled["thread_ts"] = params["thread_ts"]
        self._scheduled.append(scheduled)
        return {
            "channel": channel.id,
            "scheduled_message_id": scheduled["id"],
            "post_at": post_at,
            "message": copy.deepcopy(message),
        }

    def _api_chat_deleteScheduledMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        wanted = params.get("scheduled_message_id")
        found = next((s for s in self._scheduled if s["id"] == wanted), None)
        if found is None:
            raise _SlackError("invalid_scheduled_message_id")
        self._scheduled.remove(found)
        return {}

    def _api_chat_scheduledMessages_list(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = params.get("channel")
        found = [
            {k: s[k] for k in ("id", "channel_id", "post_at", "date_created", "text")}
            for s in self._scheduled
            if not channel or s["channel_id"] == channel
        ]
        return {"scheduled_messages": found, "response_metadata": {"next_cursor": ""}}

    def _api_views_open(self, params: dict[str, Any]) -> dict[str, Any]:
        self._use_trigger(params)
        view = self._check_view("views.open", params.get("view"))
        if self._external_id_taken(view.get("external_id")):
            raise _SlackError("duplicate_external_id")
        return {"view": copy.deepcopy(self._new_view(view))}

    def _api_views_push(self, params: dict[str, Any]) -> dict[str, Any]:
        self._use_trigger(params)
        view = self._check_view("views.push", params.get("view"))
        if self._external_id_taken(view.get("external_id")):
            raise _SlackError("duplicate_external_id")
        return {"view": copy.deepcopy(self._new_view(view))}

    def _api_views_update(self, params: dict[str, Any]) -> dict[str, Any]:
        view_id, external_id = params.get("view_id"), params.get("external_id")
        if not view_id and not external_id:
            raise _SlackError(
                "invalid_arguments",
                response_metadata={"messages": ["[ERROR] view_id or external_id is required"]},
            )
        stored = self._views.get(view_id) if view_id else None
        if stored is None and external_id:
            stored = next((v for v in self._views.values() if v.get("external_id") == external_id), None)
        if stored is None:
            raise _SlackError("not_found")
        if params.get("hash") and params["hash"] != stored["hash"]:
            raise _SlackError("hash_conflict")
        view = self._check_view("views.update", params.get("view"))
        return {"view": copy.deepcopy(self._apply_view(stored, view))}

    def _api_views_publish(self, params: dict[str, Any]) -> dict[str, Any]:
        user_id = params.get("user_id")
        if not user_id:
            raise _SlackError("invalid_arguments", response_metadata={"messages": ["[ERROR] missing user_id"]})
        if self.strict_channels:
            self._user(user_id)
        view = self._check_view("views.publish", params.get("view"))
        if view.get("type") != "home":
            raise _SlackError("invalid_arguments", response_metadata={"messages": ['[ERROR] type must be "home"']})
        current = self._views.get(self._home.get(user_id, ""))
        if params.get("hash") and current is not None and params["hash"] != current["hash"]:
            raise _SlackError("hash_conflict")
        stored = self._apply_view(current, view) if current is not None else self._new_view(view)
        self._home[user_id] = stored["id"]
        return {"view": copy.deepcopy(stored)}

    def _api_users_info(self, params: dict[str, Any]) -> dict[str, Any]:
        user = copy.deepcopy(self._user(params.get("user")))
        if not _truthy(params.get("include_locale")):
            user.pop("locale", None)
        return {"user": user}

    def _api_users_list(self, params: dict[str, Any]) -> dict[str, Any]:
        include_locale = _truthy(params.get("include_locale"))
        members = [copy.deepcopy(u) for u in self._users.values()]
        if not include_locale:
            for member in members:
                member.pop("locale", None)
        page, next_cursor = _page(members, params, "users")
        return {"members": page, "cache_ts": _FIRST_TS, "response_metadata": {"next_cursor": next_cursor}}

    def _api_users_lookupByEmail(self, params: dict[str, Any]) -> dict[str, Any]:
        email = params.get("email")
        for user in self._users.values():
            if email and user["profile"].get("email") == email:
                found = copy.deepcopy(user)
                found.pop("locale", None)
                return {"user": found}
        raise _SlackError("users_not_found")

    def _api_conversations_info(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"channel": self._public_channel(self._channel(params.get("channel")))}

    def _api_conversations_list(self, params: dict[str, Any]) -> dict[str, Any]:
        types = set(str(params.get("types") or "public_channel").split(","))
        exclude_archived = _truthy(params.get("exclude_archived"))

        def kind(c: _Channel) -> str:
            if c.is_im:
                return "im"
            if c.is_mpim:
                return "mpim"
            return "private_channel" if c.is_private else "public_channel"

        found = [
            self._public_channel(c)
            for c in self._channels.values()
            if kind(c) in types and not (exclude_archived and c.is_archived)
        ]
        page, next_cursor = _page(found, params, "channels")
        return {"channels": page, "response_metadata": {"next_cursor": next_cursor}}

    def _api_conversations_join(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params.get("channel"), create=True)
        if channel.is_im or channel.is_mpim or channel.is_private:
            raise _SlackError("method_not_supported_for_channel_type")
        if channel.is_archived:
            raise _SlackError("is_archived")
        result: dict[str, Any] = {}
        if channel.is_member:
            result = {
                "warning": "already_in_channel",
                "response_metadata": {"warnings": ["already_in_channel"]},
            }
        channel.is_member = True
        if self.bot_user_id not in channel.members:
            channel.members.append(self.bot_user_id)
        return {"channel": self._public_channel(channel), **result}

    def _api_conversations_open(self, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("channel"):
            return {"channel": {"id": self._channel(params["channel"]).id}}
        users = [u.strip() for u in str(params.get("users") or "").split(",") if u.strip()]
        if not users:
            raise _SlackError("users_list_not_supplied")
        if self.strict_channels:
            for user in users:
                self._user(user)
        if len(users) == 1:
            existing = self._dm_for(users[0])
            channel_id = existing or self._dm_for(users[0], create=True)
            result: dict[str, Any] = {"channel": {"id": channel_id}}
            if existing:
                result.update(no_op=True, already_open=True)
            return result
        members = sorted(set(users))
        for channel in self._channels.values():
            if channel.is_mpim and sorted(set(channel.members) - {self.bot_user_id}) == members:
                return {"channel": {"id": channel.id}, "no_op": True, "already_open": True}
        channel_id = self._mint("G")
        self.add_channel(channel_id, name="mpdm-" + "--".join(members) + "-1", is_private=True, members=members)
        self._channels[channel_id].is_mpim = True
        return {"channel": {"id": channel_id}}

    def _api_conversations_members(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params.get("channel"))
        page, next_cursor = _page(list(channel.members), params, "members")
        return {"members": page, "response_metadata": {"next_cursor": next_cursor}}

    def _api_conversations_history(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._readable(params)
        top_level = [m for m in self._messages.get(channel.id, []) if m.get("thread_ts") in (None, m["ts"])]
        top_level = _between(top_level, params)
        newest_first = [copy.deepcopy(m) for m in reversed(top_level)]
        page, next_cursor = _page(newest_first, params, "history", default_limit=100)
        return {
            "messages": page,
            "has_more": bool(next_cursor),
            "pin_count": 0,
            "response_metadata": {"next_cursor": next_cursor},
        }

    def _api_conversations_replies(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._readable(params)
        message = self._find(channel.id, params.get("ts"))
        if message is None:
            raise _SlackError("thread_not_found")
        parent_ts = message.get("thread_ts") or message["ts"]
        thread = [
            m for m in self._messages.get(channel.id, []) if m["ts"] == parent_ts or m.get("thread_ts") == parent_ts
        ]
        thread = _between(thread, params, keep_first=True)
        page, next_cursor = _page([copy.deepcopy(m) for m in thread], params, "replies", default_limit=1000)
        return {
            "messages": page,
            "has_more": bool(next_cursor),
            "response_metadata": {"next_cursor": next_cursor},
        }

    def _api_reactions_add(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params.get("channel"))
        message = self._find(channel.id, params.get("timestamp"))
        if message is None:
            raise _SlackError("message_not_found")
        name = params.get("name")
        if not name:
            raise _SlackError("invalid_name")
        reactions = message.setdefault("reactions", [])
        reaction = next((r for r in reactions if r["name"] == name), None)
        if reaction is None:
            reaction = {"name": name, "users": [], "count": 0}
            reactions.append(reaction)
        if self.bot_user_id in reaction["users"]:
            raise _SlackError("already_reacted")
        reaction["users"].append(self.bot_user_id)
        reaction["count"] += 1
        return {}

    def _api_reactions_remove(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params.get("channel"))
        message = self._find(channel.id, params.get("timestamp"))
        if message is None:
            raise _SlackError("message_not_found")
        reactions = message.get("reactions", [])
        reaction = next((r for r in reactions if r["name"] == params.get("name")), None)
        if reaction is None or self.bot_user_id not in reaction["users"]:
            raise _SlackError("no_reaction")
        reaction["users"].remove(self.bot_user_id)
        reaction["count"] -= 1
        if not reaction["count"]:
            reactions.remove(reaction)
        return {}

    def _api_files_getUploadURLExternal(self, params: dict[str, Any]) -> dict[str, Any]:
        if not params.get("filename") or not params.get("length"):
            raise _SlackError("invalid_arguments")
        file_id = self._mint("F")
        self._files[file_id] = {"id": file_id, "name": params["filename"], "size": None, "completed": False}
        return {"upload_url": f"{self.root_url}upload/{file_id}", "file_id": file_id}

    def _api_files_completeUploadExternal(self, params: dict[str, Any]) -> dict[str, Any]:
        wanted = params.get("files")
        if not isinstance(wanted, list) or not wanted:
            raise _SlackError("invalid_arguments")
        files = []
        for item in wanted:
            file = self._files.get(item.get("id")) if isinstance(item, dict) else None
            if file is None:
                raise _SlackError("file_not_found")
            if file["size"] is None:
                raise _SlackError("file_upload_not_found")  # nothing was uploaded to the URL
            file.update(completed=True, title=item.get("title") or file["name"])
            files.append({"id": file["id"], "name": file["name"], "title": file["title"], "size": file["size"]})
        channel_id = params.get("channel_id") or (str(params.get("channels") or "").split(",")[0] or None)
        if channel_id:
            channel = self._postable({"channel": channel_id})
            message = self._bot_message({"text": params.get("initial_comment") or ""})
            message.update(subtype="file_share", files=copy.deepcopy(files), upload=True)
            self._store_message(channel.id, message, params.get("thread_ts") or None)
        return {"files": files}

    # ---------------------------------------------------------------- response_url

    def _run_response_url(self, rid: str, body: dict[str, Any]) -> _Answer:
        binding = self._response_urls.get(rid)
        if binding is None:
            return _Answer.json({"ok": False, "error": "expired_url"}, status=404)
        binding.uses += 1
        if _truthy(body.get("delete_original")):
            if binding.channel and binding.message_ts:
                message = self._find(binding.channel, binding.message_ts)
                if message is not None:
                    self._delete(binding.channel, message)
                else:
                    ephemeral = self._find_ephemeral(binding)
                    if ephemeral is not None:
                        self._ephemeral[binding.channel].remove(ephemeral)
            return _Answer.json({"ok": True})
        try:
            self._check_message("response_url", body)
        except _SlackError as e:
            return _Answer.json({"ok": False, "error": e.error, **e.extra}, status=400)
        if binding.channel:
            self._respond(binding, body)
        return _Answer.json({"ok": True})

    def _find_ephemeral(self, binding: _ResponseUrl) -> dict[str, Any] | None:
        found = self._ephemeral.get(binding.channel or "", [])
        return next(
            (m for m in found if m["ts"] == binding.message_ts and m.get("recipient") in (None, binding.user)), None
        )

    def _respond(self, binding: _ResponseUrl, body: dict[str, Any]) -> None:
        channel_id = binding.channel or ""
        if channel_id not in self._channels:
            self.add_channel(channel_id, name=channel_id.lower())
        if _truthy(body.get("replace_original")) and binding.message_ts:
            # An ephemeral message can be replaced too (only through its response_url).
            message = self._find(channel_id, binding.message_ts) or self._find_ephemeral(binding)
            if message is not None:
                # A replacement is the whole message: what the body leaves out is gone.
                message["text"] = body.get("text") or ""
                for key in ("blocks", "attachments"):
                    if body.get(key) is not None:
                        message[key] = copy.deepcopy(body[key])
                    else:
                        message.pop(key, None)
                message["edited"] = {"user": self.bot_user_id, "ts": self._new_ts()}
                return
        message = self._bot_message(body)
        if body.get("response_type") == "in_channel":
            self._store_message(channel_id, message, body.get("thread_ts") or None)
        else:
            message.update(ts=self._new_ts(), recipient=binding.user)
            self._ephemeral.setdefault(channel_id, []).append(message)


_API: dict[str, Callable[[SlackStandIn, dict[str, Any]], dict[str, Any]]] = {
    name[len("_api_") :].replace("_", "."): func
    for name, func in vars(SlackStandIn).items()
    if name.startswith("_api_")
}


# ------------------------------------------------------------------------ HTTP plumbing


@dataclass
class _Answer:
    status: int
    content_type: str
    body: bytes
    payload: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0

    @classmethod
    def json(cls, payload: dict[str, Any], *, status: int = 200) -> _Answer:
        return cls(status, "application/json; charset=utf-8", json.dumps(payload).encode(), payload)


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a handler sleeping in set_latency never holds up stop()
    request_queue_size = 128  # bursts of concurrent calls (fan-out jobs) connect at once


def _handler_class(standin: SlackStandIn) -> type[BaseHTTPRequestHandler]:
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
                    answer = _Answer.json({"ok": False, "error": "invalid_json"})
                else:
                    answer = standin._handle_api(url.path[len("/api/") :], params, headers, at)
            elif url.path.startswith("/response/"):
                try:
                    body = json.loads(raw or b"{}")
                    if not isinstance(body, dict):
                        raise ValueError("not an object")
                except ValueError:
                    answer = _Answer(400, "text/plain", b"invalid_payload")
                else:
                    answer = standin._handle_response_url(url.path[len("/response/") :], body, headers, at)
            elif url.path.startswith("/upload/"):
                answer = standin._handle_upload(url.path[len("/upload/") :], len(raw), headers, at)
            else:
                answer = _Answer(404, "text/plain", b"Not Found")
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
        data = part.get_payload(decode=True) or b""
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


def _is_user_id(value: Any) -> bool:
    return isinstance(value, str) and len(value) > 1 and value[0] in "UW" and value[1:].isalnum()


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.lower() in ("1", "true", "yes")
    return bool(value)


def _zone_facts(tz: str) -> tuple[str, int]:
    try:
        now = dt.datetime.now(ZoneInfo(tz))
    except (ZoneInfoNotFoundError, ValueError):
        return tz, 0
    offset = now.utcoffset()
    return now.tzname() or tz, int(offset.total_seconds()) if offset else 0


def _between(
    messages: list[dict[str, Any]], params: dict[str, Any], *, keep_first: bool = False
) -> list[dict[str, Any]]:
    """Apply ``oldest`` / ``latest`` / ``inclusive`` (ts strings compare as numbers)."""
    oldest = float(params.get("oldest") or 0)
    latest = float(params.get("latest") or "inf")
    inclusive = _truthy(params.get("inclusive"))

    def inside(m: dict[str, Any]) -> bool:
        ts = float(m["ts"])
        return oldest <= ts <= latest if inclusive else oldest < ts < latest

    return [m for i, m in enumerate(messages) if (keep_first and i == 0) or inside(m)]


def _page(items: list[Any], params: dict[str, Any], kind: str, default_limit: int = 0) -> tuple[list[Any], str]:
    """Cursor pagination: ``limit`` and an opaque ``cursor``; returns (page, next_cursor)."""
    try:
        start = int(base64.b64decode(params["cursor"]).decode().split(":")[1]) if params.get("cursor") else 0
    except (ValueError, IndexError):
        raise _SlackError("invalid_cursor") from None
    limit = int(params.get("limit") or default_limit or len(items) or 1)
    page = items[start : start + limit]
    end = start + limit
    next_cursor = base64.b64encode(f"{kind}:{end}".encode()).decode() if end < len(items) else ""
    return page, next_cursor
