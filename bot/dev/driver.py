"""Send Slack-shaped, signed requests to the app, the way Slack does.

Used by the test-suite to drive the real app over HTTP. Requests are signed with Slack's
v0 scheme: ``v0=`` + HMAC-SHA256(signing secret, ``v0:{timestamp}:{raw body}``).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

_counter = itertools.count(1)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    text: str
    elapsed: float

    def json(self) -> Any:
        return json.loads(self.text) if self.text else None


class SlackDriver:
    """Builds and posts signed slash commands, interactions, options requests and events."""

    def __init__(
        self,
        url: str,
        signing_secret: str,
        *,
        team_id: str = "T0TEST",
        team_domain: str = "acme-sales",
        enterprise_id: str | None = None,
        response_url_factory=None,
        api_app_id: str = "A0CRM",
        timeout: float = 15.0,
        org_wide_install: bool = False,
    ) -> None:
        self.url = url
        self.signing_secret = signing_secret
        self.team_id = team_id
        self.team_domain = team_domain
        self.enterprise_id = enterprise_id
        self.response_url_factory = response_url_factory
        self.api_app_id = api_app_id
        self.timeout = timeout
        self.org_wide_install = org_wide_install  # the app is installed org-wide (Enterprise Grid)

    # -- transport ---------------------------------------------------------------------
    def post_raw(
        self,
        body: bytes,
        content_type: str,
        *,
        timestamp: int | None = None,
        secret: str | None = None,
        signature: str | None = None,
        extra_headers: dict[str, str] | None = None,
    ) -> Response:
        ts = str(int(time.time()) if timestamp is None else timestamp)
        headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": signature or sign(secret or self.signing_secret, ts, body),
        }
        headers.update(extra_headers or {})
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as resp:
                text = resp.read().decode()
                return Response(resp.status, dict(resp.headers), text, time.perf_counter() - started)
        except urllib.error.HTTPError as err:
            text = err.read().decode(errors="replace")
            return Response(err.code, dict(err.headers), text, time.perf_counter() - started)

    def post_form(self, fields: dict[str, Any], **kw) -> Response:
        return self.post_raw(urlencode(fields).encode(), "application/x-www-form-urlencoded", **kw)

    def post_payload(self, payload: dict[str, Any], **kw) -> Response:
        return self.post_form({"payload": json.dumps(payload)}, **kw)

    def post_json(self, payload: dict[str, Any], **kw) -> Response:
        return self.post_raw(json.dumps(payload).encode(), "application/json", **kw)

    # -- shared parts ------------------------------------------------------------------
    def _response_url(self) -> str:
        if self.response_url_factory is None:
            return "https://hooks.slack.invalid/commands/none"
        return self.response_url_factory()

    def _team(self) -> dict[str, Any]:
        return {"id": self.team_id, "domain": self.team_domain}

    def _user(self, user: str) -> dict[str, Any]:
        return {"id": user, "username": user.lower(), "name": user.lower(), "team_id": self.team_id}

    @staticmethod
    def trigger_id() -> str:
        return f"{next(_counter)}.{int(time.time())}.trigger"

    # -- request kinds -----------------------------------------------------------------
    def command(self, command: str, text: str = "", *, user: str = "U0REP", channel: str = "C0SALES", **kw) -> Response:
        fields = {
            "token": "legacy-verification-token",
            "team_id": self.team_id,
            "team_domain": self.team_domain,
            "channel_id": channel,
            "channel_name": "sales",
            "user_id": user,
            "user_name": user.lower(),
            "command": command,
            "text": text,
            "api_app_id": self.api_app_id,
            "response_url": self._response_url(),
            "trigger_id": self.trigger_id(),
        }
        if self.enterprise_id:
            fields["enterprise_id"] = self.enterprise_id
        if self.org_wide_install:
            fields["is_enterprise_install"] = "true"
        return self.post_form(fields, **kw)

    def block_actions(
        self,
        actions: list[dict[str, Any]],
        *,
        user: str = "U0REP",
        channel: str | None = "C0SALES",
        message: dict[str, Any] | None = None,
        view: dict[str, Any] | None = None,
        **kw,
    ) -> Response:
        payload: dict[str, Any] = {
            "type": "block_actions",
            "team": self._team(),
            "user": self._user(user),
            "api_app_id": self.api_app_id,
            "trigger_id": self.trigger_id(),
            "actions": [{"action_ts": f"{time.time():.6f}", "block_id": a.get("block_id", "b"), **a} for a in actions],
        }
        if view is not None:
            payload["view"] = view
            payload["container"] = {"type": "view", "view_id": view.get("id", "V0")}
        else:
            payload["channel"] = {"id": channel, "name": "sales"}
            payload["response_url"] = self._response_url()
            msg = message or {"ts": "1700000000.000100", "text": "", "blocks": []}
            payload["message"] = msg
            payload["container"] = {"type": "message", "message_ts": msg["ts"], "channel_id": channel}
        return self.post_payload(payload, **kw)

    def click(self, action_id: str, value: str = "", *, block_id: str = "b", **kw) -> Response:
        action = {"type": "button", "action_id": action_id, "block_id": block_id, "value": value}
        return self.block_actions([action], **kw)

    def view_submission(
        self,
        callback_id: str,
        values: dict[str, dict[str, Any]],
        *,
        user: str = "U0REP",
        private_metadata: str = "",
        view_id: str = "V0SUBMIT",
        blocks: list[dict[str, Any]] | None = None,
        **kw,
    ) -> Response:
        view = {
            "id": view_id,
            "type": "modal",
            "callback_id": callback_id,
            "private_metadata": private_metadata,
            "blocks": blocks or [],
            "state": {"values": values},
            "hash": "1700000000.hash",
            "team_id": self.team_id,
        }
        payload = {
            "type": "view_submission",
            "team": self._team(),
            "user": self._user(user),
            "api_app_id": self.api_app_id,
            "trigger_id": self.trigger_id(),
            "view": view,
        }
        return self.post_payload(payload, **kw)

    def block_suggestion(
        self,
        action_id: str,
        value: str,
        *,
        block_id: str = "b",
        user: str = "U0REP",
        view: dict[str, Any] | None = None,
        **kw,
    ) -> Response:
        payload = {
            "type": "block_suggestion",
            "team": self._team(),
            "user": self._user(user),
            "api_app_id": self.api_app_id,
            "action_id": action_id,
            "block_id": block_id,
            "value": value,
            "view": view or {"id": "V0OPTIONS", "type": "modal", "callback_id": "", "private_metadata": ""},
            "container": {"type": "view", "view_id": (view or {}).get("id", "V0OPTIONS")},
        }
        return self.post_payload(payload, **kw)

    def global_shortcut(self, callback_id: str, *, user: str = "U0REP", **kw) -> Response:
        payload = {
            "type": "shortcut",
            "callback_id": callback_id,
            "team": self._team(),
            "user": self._user(user),
            "trigger_id": self.trigger_id(),
            "action_ts": f"{time.time():.6f}",
        }
        return self.post_payload(payload, **kw)

    def message_shortcut(
        self,
        callback_id: str,
        message: dict[str, Any],
        *,
        user: str = "U0REP",
        channel: str = "C0SALES",
        **kw,
    ) -> Response:
        payload = {
            "type": "message_action",
            "callback_id": callback_id,
            "team": self._team(),
            "user": self._user(user),
            "channel": {"id": channel, "name": "sales"},
            "message": message,
            "message_ts": message.get("ts"),
            "response_url": self._response_url(),
            "trigger_id": self.trigger_id(),
            "action_ts": f"{time.time():.6f}",
        }
        return self.post_payload(payload, **kw)

    def event(
        self,
        event: dict[str, Any],
        *,
        event_id: str | None = None,
        retry_num: int | None = None,
        authorizations_user: str = "U0BOT",
        **kw,
    ) -> Response:
        envelope = {
            "token": "legacy-verification-token",
            "team_id": self.team_id,
            "api_app_id": self.api_app_id,
            "event": event,
            "type": "event_callback",
            "event_id": event_id or f"Ev{next(_counter):08d}",
            "event_time": int(time.time()),
            "authorizations": [{"team_id": self.team_id, "user_id": authorizations_user, "is_bot": True}],
        }
        headers = dict(kw.pop("extra_headers", None) or {})
        if retry_num is not None:
            headers["X-Slack-Retry-Num"] = str(retry_num)
            headers["X-Slack-Retry-Reason"] = "http_timeout"
        return self.post_json(envelope, extra_headers=headers, **kw)
