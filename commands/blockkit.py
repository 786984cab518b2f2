"""Block Kit limits and small text helpers for the builders. Pure functions, no Slack calls.

Slack rejects a whole ``chat.postMessage`` / ``views.open`` when one limit is broken. The
constants below are those limits, and the helpers below (:func:`esc`, :func:`section`,
:func:`context`, :func:`button`, :func:`text_input`, :func:`input_block`, ...) keep to them.
Checking a finished payload against the limits is a development tool:
:mod:`bot.dev.blockkit_check` (used by the Slack stand-in and the tests).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from crm.errors import CRMError
from crm.slack_ids import is_user_id

MAX_BLOCKS: dict[str, int] = {"message": 50, "modal": 100, "home": 100}
SECTION_TEXT_MAX = 3000
SECTION_FIELDS_MAX = 10
SECTION_FIELD_TEXT_MAX = 2000
HEADER_TEXT_MAX = 150
BUTTON_TEXT_MAX = 75
BUTTON_VALUE_MAX = 2000
SELECT_OPTIONS_MAX = 100
OPTION_TEXT_MAX = 75
OPTION_VALUE_MAX = 150
ACTIONS_ELEMENTS_MAX = 25
CONTEXT_ELEMENTS_MAX = 10
ID_MAX = 255  # block_id, action_id, callback_id, external_id
PLAIN_TEXT_INPUT_MAX = 3000
VIEW_TITLE_MAX = 24  # also submit and close
PRIVATE_METADATA_MAX = 3000
VIEW_BYTES_MAX = 250_000  # Slack says "250 kB"; the decimal reading is the stricter one
MESSAGE_TEXT_MAX = 40_000


# --------------------------------------------------------------------------------------------
# Text helpers
# --------------------------------------------------------------------------------------------

_PARTIAL_ENTITY = re.compile(r"&(a|am|amp|l|lt|g|gt)?$")


def truncate(text: str, limit: int, suffix: str = "…") -> str:
    """Shorten ``text`` to at most ``limit`` characters, ending with ``suffix`` when cut.

    Safe on text that went through :func:`escape_mrkdwn` first: it never leaves half an
    ``&amp;`` / ``&lt;`` / ``&gt;`` at the cut.
    """
    if limit < 0:
        raise ValueError("limit must not be negative")
    if len(text) <= limit:
        return text
    if limit <= len(suffix):
        return suffix[:limit]
    cut = text[: limit - len(suffix)]
    cut = _PARTIAL_ENTITY.sub("", cut).rstrip()
    return cut + suffix


def slack_time(moment: datetime, fallback: str) -> str:
    """A moment that Slack writes in each reader's own zone and words when the message is read
    ("today at 09:00", "tomorrow at 09:00", "Dec 5 at 09:00"), so a message read or edited days
    later still says the right day. ``fallback`` (our own wording) is for clients that can't."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # SQLite returns naive UTC datetimes
    clean = fallback.replace("|", "/").replace(">", "")
    return f"<!date^{int(moment.timestamp())}^{{date_short_pretty}} at {{time}}|{escape_mrkdwn(clean)}>"


def escape_mrkdwn(text: str) -> str:
    """Escape user-supplied text for mrkdwn so it can't ping anyone or inject a link.

    Slack's own escaping: ``&`` → ``&amp;``, ``<`` → ``&lt;``, ``>`` → ``&gt;``. With the angle
    brackets gone, ``<!channel>``, ``<!here>``, ``<@U123>``, ``<#C1>`` and ``<http://x|y>`` show
    as the literal text the user typed. (Bare ``@here`` only pings when a message is sent with
    ``link_names=true``; never set that for text containing user input.)
    """
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def plain(text: str, limit: int | None = None, *, emoji: bool = True) -> dict[str, Any]:
    """A ``plain_text`` text object, truncated to ``limit`` when given."""
    if limit is not None:
        text = truncate(text, limit)
    return {"type": "plain_text", "text": text, "emoji": emoji}


def mrkdwn(text: str, limit: int | None = None) -> dict[str, Any]:
    """A ``mrkdwn`` text object. Escape user input with :func:`escape_mrkdwn` before formatting."""
    if limit is not None:
        text = truncate(text, limit)
    return {"type": "mrkdwn", "text": text}


def esc(text: str | None, limit: int = 300) -> str:
    """User text for mrkdwn: whitespace folded, cut to ``limit``, then escaped (no pings, no links)."""
    return escape_mrkdwn(truncate(" ".join((text or "").split()), limit))


def error_text(err: CRMError) -> str:
    """A :class:`~crm.errors.CRMError` as Slack should show it: escaped, unless the Slack layer
    raised it already formatted for Slack."""
    return err.message if err.formatted else escape_mrkdwn(err.message)


def fallback_text(text: str, limit: int = 3000) -> str:
    """A message's top-level ``text`` (notifications, screen readers, and what Slack shows when
    blocks can't be drawn). Slack parses it for mentions and links like mrkdwn, so whatever
    users typed in it is escaped; write it as plain words and pass the whole string here."""
    return truncate(escape_mrkdwn(" ".join(text.split())), limit)


def section(text: str, accessory: dict[str, Any] | None = None, *, block_id: str | None = None) -> dict[str, Any]:
    """A ``section`` with mrkdwn ``text`` cut to Slack's 3,000 characters."""
    block: dict[str, Any] = {"type": "section", "text": mrkdwn(text, SECTION_TEXT_MAX)}
    if accessory:
        block["accessory"] = accessory
    if block_id:
        block["block_id"] = block_id
    return block


def context(*texts: str) -> dict[str, Any]:
    """A ``context`` block of mrkdwn texts (at most 10 elements)."""
    return {"type": "context", "elements": [mrkdwn(t, SECTION_TEXT_MAX) for t in texts[:CONTEXT_ELEMENTS_MAX]]}


def header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": plain(text, HEADER_TEXT_MAX)}


def divider() -> dict[str, Any]:
    return {"type": "divider"}


def button(
    text: str,
    action_id: str,
    value: str = "",
    style: str | None = None,
    *,
    confirm: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A ``button``; text and value are cut to Slack's limits."""
    element: dict[str, Any] = {"type": "button", "text": plain(text, BUTTON_TEXT_MAX), "action_id": action_id}
    if value:
        element["value"] = truncate(value, BUTTON_VALUE_MAX, suffix="")
    if style:
        element["style"] = style
    if confirm:
        element["confirm"] = confirm
    element.update(extra)
    return element


def actions(*elements: dict[str, Any], block_id: str | None = None) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "actions", "elements": list(elements[:ACTIONS_ELEMENTS_MAX])}
    if block_id:
        block["block_id"] = block_id
    return block


def option(text: str, value: str) -> dict[str, Any]:
    """A select or radio option, cut to Slack's 75 / 150 characters."""
    return {"text": plain(text, OPTION_TEXT_MAX), "value": value[:OPTION_VALUE_MAX]}


def person(user_id: str | None, name_of: Callable[[str], str] | None = None) -> str:
    """A Slack user in mrkdwn: a mention in private answers, or by name (``name_of``) where a
    mention would notify them (anything posted in a channel). Not a Slack id: shown as text."""
    if not user_id:
        return "nobody"
    if name_of is not None:
        return esc(name_of(user_id), 80)
    if is_user_id(user_id):
        return f"<@{user_id}>"
    return esc(user_id, 80)


def plural(n: int, word: str, many: str | None = None) -> str:
    """ "1 pair", "3 pairs", "1,204 contacts"."""
    return f"{n:,} {word if n == 1 else (many or word + 's')}"


def text_input(
    action_id: str = "value",
    *,
    initial: str | None = None,
    max_length: int = 255,
    placeholder: str | None = None,
) -> dict[str, Any]:
    """A ``plain_text_input`` element; ``initial`` is cut to ``max_length`` so Slack accepts it."""
    element: dict[str, Any] = {"type": "plain_text_input", "action_id": action_id, "max_length": max_length}
    if initial:
        element["initial_value"] = truncate(initial, max_length, suffix="")
    if placeholder:
        element["placeholder"] = plain(placeholder)
    return element


def input_block(
    block_id: str, label: str, element: dict[str, Any], *, optional: bool = False, hint: str | None = None
) -> dict[str, Any]:
    """An ``input`` block around ``element``; its ``block_id`` is where field errors are shown."""
    block: dict[str, Any] = {"type": "input", "block_id": block_id, "label": plain(label), "element": element}
    if optional:
        block["optional"] = True
    if hint:
        block["hint"] = plain(truncate(hint, 2000))
    return block


def _chosen(element: dict[str, Any], picked: Any) -> list[dict[str, Any]]:
    """The element's own options whose values were picked (never an option the payload made up)."""
    wanted = {o.get("value") for o in picked if isinstance(o, dict)} if isinstance(picked, list) else set()
    return [o for o in element.get("options") or [] if o.get("value") in wanted]


def refill(blocks: list[dict[str, Any]], state: dict[str, Any]) -> list[dict[str, Any]]:
    """The input blocks prefilled with what was submitted (``view.state.values``), for a form
    answered with a new view (e.g. a duplicate warning), which Slack opens blank otherwise."""
    for block in blocks:
        element, typed = block.get("element"), state.get(block.get("block_id") or "")
        if block.get("type") != "input" or not isinstance(element, dict) or not isinstance(typed, dict):
            continue
        sent = typed.get(element.get("action_id") or "")
        if not isinstance(sent, dict):
            continue
        kind = element.get("type")
        if kind == "plain_text_input" and isinstance(sent.get("value"), str) and sent["value"]:
            element["initial_value"] = truncate(sent["value"], int(element.get("max_length") or 3000), suffix="")
        elif kind == "static_select":
            found = _chosen(element, [sent.get("selected_option")])
            if found:
                element["initial_option"] = found[0]
        elif kind in ("multi_static_select", "checkboxes"):
            found = _chosen(element, sent.get("selected_options"))
            if found:
                element["initial_options"] = found
        elif kind == "users_select" and is_user_id(sent.get("selected_user")):
            element["initial_user"] = sent["selected_user"]
        elif kind == "datepicker" and re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(sent.get("selected_date"))):
            element["initial_date"] = sent["selected_date"]
    return blocks
