"""Small helpers shared by the Slack-facing handlers: who, where, and answering privately."""

from __future__ import annotations

import json
import logging
import re
from typing import Any
from urllib.parse import urlparse

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

log = logging.getLogger(__name__)


def team_of(body: dict[str, Any]) -> tuple[str, str | None]:
    """(team_id, enterprise_id) of any Slack payload kind: the workspace the request acts in.

    A workspace keeps its ``T…`` id inside an Enterprise Grid org. In an org-wide install,
    ``team`` can be null or name the org itself, so the first ``T…`` id is taken from, in turn:
    the workspace that installed the app a modal belongs to, ``team``, ``team_id``, the acting
    user's ``team_id``, the view's ``team_id``. ``""`` when there is none (an org-level event)."""
    user, view = _dict(body.get("user")), _dict(body.get("view"))
    candidates = (
        view.get("app_installed_team_id"),
        _id_of(body.get("team")),
        body.get("team_id"),
        user.get("team_id"),
        view.get("team_id"),
    )
    team_id = next((c for c in candidates if isinstance(c, str) and c.startswith("T")), "")
    enterprises = (
        _id_of(body.get("enterprise")),
        body.get("enterprise_id"),
        _dict(body.get("team")).get("enterprise_id"),
        user.get("enterprise_id"),
    )
    enterprise_id = next((e for e in enterprises if isinstance(e, str) and e), None)
    return team_id, enterprise_id


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _id_of(value: Any) -> Any:
    """``x`` or ``{"id": x}`` → x."""
    return value.get("id") if isinstance(value, dict) else value


def _event(body: dict[str, Any]) -> dict[str, Any]:
    event = body.get("event")
    return event if isinstance(event, dict) else {}


def user_of(body: dict[str, Any]) -> str:
    """Who acts: the clicking/typing user, or the user an event is about."""
    user = body.get("user")
    if isinstance(user, dict):
        user = user.get("id")
    found = body.get("user_id") or user or _event(body).get("user")
    return found if isinstance(found, str) else ""


def channel_of(body: dict[str, Any]) -> str | None:
    """Where it happened: the channel of a command, an action's message, or an event."""
    channel = body.get("channel")
    if isinstance(channel, dict):
        channel = channel.get("id")
    container = body.get("container")
    found = channel or body.get("channel_id") or (container.get("channel_id") if isinstance(container, dict) else None)
    found = found or _event(body).get("channel")
    return found if isinstance(found, str) else None


def metadata(body: dict[str, Any]) -> dict[str, Any]:
    """The JSON private_metadata of the view in an interaction payload ({} if none or broken)."""
    view = body.get("view")
    raw = view.get("private_metadata") if isinstance(view, dict) else None
    if not isinstance(raw, str):
        return {}
    try:
        value = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def is_slack_response_url(url: str, base: str) -> bool:
    """True when ``url`` lies under ``base`` (same scheme and host, path below it)."""
    try:
        got, allowed = urlparse(url), urlparse(base)
    except ValueError:  # "http://[::1": not a URL at all
        return False
    return (
        got.scheme == allowed.scheme
        and got.netloc.lower() == allowed.netloc.lower()
        and got.path.startswith(allowed.path or "/")
    )


MAX_ID = 2**31 - 1  # row ids are SQL integers; anything larger is forged


def as_id(value: Any) -> int | None:
    """A row id from a button value, metadata or form field; None when it can't be one
    (not a whole number, zero, negative, or beyond a SQL integer)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 < value <= MAX_ID else None
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 10:
        number = int(value)
        return number if 0 < number <= MAX_ID else None
    return None


def meta_id(meta: dict[str, Any], key: str) -> int:
    """A row id from private_metadata; 0 (which matches nothing) when missing or forged."""
    return as_id(meta.get(key)) or 0


# C0 controls but tab, newline and carriage return; DEL; and lone surrogates, which no database
# can store (PostgreSQL refuses NUL in text outright).
_UNSTORABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def clean_text(text: str) -> str:
    """``text`` without characters that can't be stored or shown (NUL, other controls, lone surrogates)."""
    return _UNSTORABLE.sub("", text)


def clean_payload(value: Any) -> Any:
    """Strip unstorable characters from every string of a verified payload, in place."""
    if isinstance(value, dict):
        for key, item in value.items():
            value[key] = clean_text(item) if isinstance(item, str) else clean_payload(item)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            value[i] = clean_text(item) if isinstance(item, str) else clean_payload(item)
    return value


def input_value(values: dict[str, Any], block_id: str, action_id: str) -> Any:
    """The submitted value of one input element, whatever its type (None when missing or misshapen)."""
    block = values.get(block_id) if isinstance(values, dict) else None
    element = block.get(action_id) if isinstance(block, dict) else None
    if not isinstance(element, dict):
        return None
    kind = element.get("type")
    if kind in ("static_select", "external_select", "radio_buttons"):
        option = element.get("selected_option")
        return option.get("value") if isinstance(option, dict) else None
    if kind == "users_select":
        return element.get("selected_user")
    if kind == "datepicker":
        return element.get("selected_date")
    if kind == "timepicker":
        return element.get("selected_time")
    if kind == "checkboxes":
        options = element.get("selected_options")
        return [o.get("value") for o in options if isinstance(o, dict)] if isinstance(options, list) else []
    return element.get("value")


def tell(client: WebClient, channel: str | None, user: str, text: str, blocks: list | None = None) -> bool:
    """An ephemeral message to ``user`` in ``channel``, else a DM; False if neither worked."""
    try:
        if channel:
            client.chat_postEphemeral(channel=channel, user=user, text=text, blocks=blocks)
            return True
    except SlackApiError as exc:
        log.info("ephemeral to %s in %s failed (%s); falling back to a DM", user, channel, exc.response.get("error"))
    try:
        client.chat_postMessage(channel=user, text=text, blocks=blocks)
        return True
    except SlackApiError as exc:
        log.warning("could not reach %s: %s", user, exc.response.get("error"))
        return False
