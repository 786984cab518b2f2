"""Block Kit limits and small text helpers for the builders. Pure functions, no Slack calls.

Slack rejects a whole ``chat.postMessage`` / ``views.open`` when one limit is broken. The
constants below are those limits; builders keep to them with :func:`truncate` and build text
objects and inputs with :func:`plain`, :func:`mrkdwn`, :func:`text_input` and
:func:`input_block`. Checking a finished payload against the limits is a development tool:
:mod:`bot.dev.blockkit_check` (used by the Slack stand-in and the tests).
"""

from __future__ import annotations

import re
from typing import Any

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
