"""Block Kit limit checks and small text helpers. Pure functions, no Slack calls.

Slack rejects a whole ``chat.postMessage`` / ``views.open`` when one limit is broken, and says
little about which. These checks name the offending block and limit, so a builder's unit test (and
the loopback stand-in in ``bot.slack_standin``) catches the problem before Slack does.

Every block goes through ``slack_sdk.models`` as well; the checks here cover what slack_sdk does
not (block counts, field lengths, plain_text_input ranges, unique ids, empty text objects, text
given as a bare string) and report in the form ``blocks[3] (section): text is 3001 characters;
the limit is 3000``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Literal

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block, BlockElement
from slack_sdk.models.views import View

Surface = Literal["message", "modal", "home"]

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

NO_FALLBACK_TEXT = "message has blocks but no top-level text: Slack uses it for notifications and screen readers"

_SELECTS_WITH_OPTIONS = {"static_select", "multi_static_select"}
_EXTERNAL_SELECTS = {"external_select", "multi_external_select"}
_ELEMENTS_WITH_OPTIONS = _SELECTS_WITH_OPTIONS | {"overflow", "radio_buttons", "checkboxes"}
_TEXT_OBJECT_TYPES = {"plain_text", "mrkdwn"}


# --------------------------------------------------------------------------------------------
# Text helpers
# --------------------------------------------------------------------------------------------

_PARTIAL_ENTITY = re.compile(r"&(a|am|amp|l|lt|g|gt)?$")
SLACK_USER_ID = re.compile(r"[UW][A-Z0-9]{2,31}")


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


def esc(text: str | None, limit: int = 300) -> str:
    """User text for mrkdwn: whitespace folded, cut to ``limit``, then escaped (no pings, no links)."""
    return escape_mrkdwn(truncate(" ".join((text or "").split()), limit))


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
    if SLACK_USER_ID.fullmatch(user_id):
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


# --------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------


def validate_blocks(blocks: list[dict[str, Any]], *, surface: Surface) -> list[str]:
    """Problems Slack would reject these blocks for on ``surface``; empty when they are fine."""
    if surface not in MAX_BLOCKS:
        raise ValueError(f"surface must be one of {sorted(MAX_BLOCKS)}, not {surface!r}")
    if not isinstance(blocks, list):
        return [f"blocks must be a list, not {type(blocks).__name__}"]
    problems: list[str] = []
    limit = MAX_BLOCKS[surface]
    if len(blocks) > limit:
        problems.append(f"{len(blocks)} blocks; a {surface} allows at most {limit}")
    first_use: dict[str, int] = {}
    for i, block in enumerate(blocks):
        if not isinstance(block, dict):
            problems.append(f"blocks[{i}]: must be an object, not {type(block).__name__}")
            continue
        where = f"blocks[{i}] ({block.get('type', 'no type')})"
        own = _check_block(block, where)
        problems.extend(own)
        if not own:
            # slack_sdk's checks overlap ours; only report its error when ours found nothing,
            # so one broken limit gives one line.
            sdk_problem = _sdk_block_problem(block)
            if sdk_problem:
                problems.append(f"{where}: {sdk_problem}")
        block_id = block.get("block_id")
        if isinstance(block_id, str):
            if block_id in first_use:
                problems.append(
                    f"{where}: block_id {block_id!r} is already used by blocks[{first_use[block_id]}];"
                    " block_ids must be unique"
                )
            else:
                first_use[block_id] = i
    return problems


def validate_options(
    options: list[dict[str, Any]] | None = None,
    option_groups: list[dict[str, Any]] | None = None,
) -> list[str]:
    """Problems in an ``options`` request answer (``ack(options=...)`` for an external_select)."""
    where = "options response"
    problems: list[str] = []
    if options is not None:
        problems += _check_options(options, f"{where}.options", SELECT_OPTIONS_MAX)
    if option_groups is not None:
        problems += _check_option_groups(option_groups, f"{where}.option_groups")
    problems += _check_text_objects({"options": options or [], "option_groups": option_groups or []}, where)
    return problems


def validate_view(view: dict[str, Any]) -> list[str]:
    """Problems Slack would reject this modal or Home tab view for; empty when it is fine."""
    if not isinstance(view, dict):
        return [f"view must be an object, not {type(view).__name__}"]
    problems: list[str] = []
    view_type = view.get("type")
    if view_type not in ("modal", "home"):
        problems.append(f'view type must be "modal" or "home", not {view_type!r}')
    for key in ("title", "submit", "close"):
        if key in view and view[key] is not None:
            problems += _check_view_label(view[key], key)
    if view_type == "modal" and not view.get("title"):
        problems.append("view: a modal needs a title")
    if view_type == "home":
        problems += [f"view: a home tab can't have {k}" for k in ("submit", "close") if view.get(k)]
    blocks = view.get("blocks")
    has_input = isinstance(blocks, list) and any(isinstance(b, dict) and b.get("type") == "input" for b in blocks)
    if view_type == "modal" and has_input and not view.get("submit"):
        problems.append("view: a modal with input blocks needs a submit button")
    metadata = view.get("private_metadata")
    if metadata is not None:
        if not isinstance(metadata, str):
            problems.append("view: private_metadata must be a string")
        elif len(metadata) > PRIVATE_METADATA_MAX:
            problems.append(
                f"view: private_metadata is {len(metadata)} characters; the limit is {PRIVATE_METADATA_MAX}"
            )
    for key in ("callback_id", "external_id"):
        problems += _check_id(view.get(key), f"view.{key}")
    size = len(json.dumps(view, ensure_ascii=False, default=str).encode())
    if size > VIEW_BYTES_MAX:
        problems.append(f"view: {size} bytes of JSON; the limit is {VIEW_BYTES_MAX}")
    if blocks is None:
        problems.append("view: blocks are required")
    elif view_type in ("modal", "home"):
        problems += validate_blocks(blocks, surface=view_type)
    if not problems:
        sdk_problem = _sdk_view_problem(view)
        if sdk_problem:
            problems.append(f"view: {sdk_problem}")
    return problems


def validate_message_blocks(payload: Mapping[str, Any]) -> list[str]:
    """Problems in a message's ``blocks`` and its attachments' blocks (what Slack rejects)."""
    problems: list[str] = []
    blocks = payload.get("blocks")
    if blocks is not None:
        problems += validate_blocks(blocks, surface="message")
    attachments = payload.get("attachments")
    if attachments is not None:
        if not isinstance(attachments, list):
            problems.append("attachments must be a list")
        else:
            for i, attachment in enumerate(attachments):
                if isinstance(attachment, dict) and attachment.get("blocks") is not None:
                    found = validate_blocks(attachment["blocks"], surface="message")
                    problems += [f"attachments[{i}].{p}" for p in found]
    return problems


def validate_message(payload: Mapping[str, Any]) -> list[str]:
    """Problems in a message payload (chat.postMessage/update/postEphemeral or a response_url
    post): its blocks, text length, and a fallback ``text`` whenever there are blocks."""
    problems = validate_message_blocks(payload)
    text = payload.get("text")
    if text is not None and not isinstance(text, str):
        problems.append(f"text must be a string, not {type(text).__name__}")
    elif isinstance(text, str) and len(text) > MESSAGE_TEXT_MAX:
        problems.append(f"text is {len(text)} characters; Slack truncates past {MESSAGE_TEXT_MAX}")
    if payload.get("blocks") and not (isinstance(text, str) and text.strip()):
        problems.append(NO_FALLBACK_TEXT)
    return problems


# --------------------------------------------------------------------------------------------
# Internals
# --------------------------------------------------------------------------------------------


def _check_block(block: dict[str, Any], where: str) -> list[str]:
    problems: list[str] = []
    block_type = block.get("type")
    if not isinstance(block_type, str) or not block_type:
        return [f"{where}: has no type"]
    problems += _check_id(block.get("block_id"), f"{where} block_id")
    problems += _check_text_objects(block, where)

    if block_type == "section":
        if "text" in block:
            problems += _check_text(block["text"], f"{where} text", SECTION_TEXT_MAX)
        fields = block.get("fields")
        if fields is not None:
            if not isinstance(fields, list):
                problems.append(f"{where}: fields must be a list")
            else:
                if len(fields) > SECTION_FIELDS_MAX:
                    problems.append(f"{where}: {len(fields)} fields; the limit is {SECTION_FIELDS_MAX}")
                for j, field in enumerate(fields):
                    problems += _check_text(field, f"{where} fields[{j}]", SECTION_FIELD_TEXT_MAX)
        if block.get("accessory") is not None:
            problems += _check_element(block["accessory"], f"{where} accessory")
    elif block_type == "header":
        problems += _check_text(block.get("text"), f"{where} text", HEADER_TEXT_MAX, plain_only=True)
    elif block_type == "actions":
        problems += _check_elements(block, where, ACTIONS_ELEMENTS_MAX, interactive=True)
    elif block_type == "context":
        problems += _check_elements(block, where, CONTEXT_ELEMENTS_MAX, interactive=False)
    elif block_type == "input" and block.get("element") is not None:
        problems += _check_element(block["element"], f"{where} element")
    return problems


def _check_elements(block: dict[str, Any], where: str, limit: int, *, interactive: bool) -> list[str]:
    elements = block.get("elements")
    if not isinstance(elements, list):
        return [f"{where}: elements must be a list"]
    problems: list[str] = []
    if len(elements) > limit:
        problems.append(f"{where}: {len(elements)} elements; the limit is {limit}")
    if not interactive:
        return problems
    seen: dict[str, int] = {}
    for j, element in enumerate(elements):
        problems += _check_element(element, f"{where} elements[{j}]")
        action_id = element.get("action_id") if isinstance(element, dict) else None
        if isinstance(action_id, str):
            if action_id in seen:
                problems.append(
                    f"{where} elements[{j}]: action_id {action_id!r} is already used by"
                    f" elements[{seen[action_id]}]; action_ids must be unique within a block"
                )
            else:
                seen[action_id] = j
    return problems


def _check_element(element: Any, where: str) -> list[str]:
    if not isinstance(element, dict):
        return [f"{where}: must be an object, not {type(element).__name__}"]
    element_type = element.get("type")
    if not _known_element(element):
        return [f"{where}: unknown element type {element_type!r}"]
    where = f"{where} ({element_type})"
    problems = _check_id(element.get("action_id"), f"{where} action_id")

    if element_type == "button":
        problems += _check_text(element.get("text"), f"{where} text", BUTTON_TEXT_MAX, plain_only=True)
        problems += _check_length(element.get("value"), f"{where} value", BUTTON_VALUE_MAX)
    if element_type in _ELEMENTS_WITH_OPTIONS:
        if element.get("options") is not None:
            problems += _check_options(element["options"], f"{where} options", SELECT_OPTIONS_MAX)
        if element.get("option_groups") is not None:
            problems += _check_option_groups(element["option_groups"], f"{where} option_groups")
    if element_type in _ELEMENTS_WITH_OPTIONS | _EXTERNAL_SELECTS:
        if element.get("initial_option") is not None:
            problems += _check_option(element["initial_option"], f"{where} initial_option")
        if element.get("initial_options") is not None:
            problems += _check_options(element["initial_options"], f"{where} initial_options", SELECT_OPTIONS_MAX)
    if element_type == "plain_text_input":
        problems += _check_input_lengths(element, where)
    return problems


def _check_input_lengths(element: dict[str, Any], where: str) -> list[str]:
    problems: list[str] = []
    max_length = element.get("max_length")
    min_length = element.get("min_length")
    if max_length is not None and (not isinstance(max_length, int) or not 1 <= max_length <= PLAIN_TEXT_INPUT_MAX):
        problems.append(f"{where}: max_length {max_length!r} must be 1..{PLAIN_TEXT_INPUT_MAX}")
    if min_length is not None and (not isinstance(min_length, int) or not 0 <= min_length <= PLAIN_TEXT_INPUT_MAX):
        problems.append(f"{where}: min_length {min_length!r} must be 0..{PLAIN_TEXT_INPUT_MAX}")
    if not problems and isinstance(max_length, int) and isinstance(min_length, int) and min_length > max_length:
        problems.append(f"{where}: min_length {min_length} is more than max_length {max_length}")
    return problems


def _check_option_groups(groups: Any, where: str) -> list[str]:
    if not isinstance(groups, list):
        return [f"{where}: must be a list"]
    problems: list[str] = []
    if len(groups) > SELECT_OPTIONS_MAX:
        problems.append(f"{where}: {len(groups)} groups; the limit is {SELECT_OPTIONS_MAX}")
    for k, group in enumerate(groups):
        if not isinstance(group, dict):
            problems.append(f"{where}[{k}]: must be an object")
            continue
        problems += _check_text(group.get("label"), f"{where}[{k}] label", OPTION_TEXT_MAX)
        problems += _check_options(group.get("options"), f"{where}[{k}] options", SELECT_OPTIONS_MAX)
    return problems


def _check_options(options: Any, where: str, limit: int) -> list[str]:
    if not isinstance(options, list):
        return [f"{where}: must be a list"]
    problems: list[str] = []
    if len(options) > limit:
        problems.append(f"{where}: {len(options)} options; the limit is {limit}")
    for k, option in enumerate(options):
        problems += _check_option(option, f"{where}[{k}]")
    return problems


def _check_option(option: Any, where: str) -> list[str]:
    if not isinstance(option, dict):
        return [f"{where}: must be an object"]
    problems = _check_text(option.get("text"), f"{where} text", OPTION_TEXT_MAX)
    if option.get("description") is not None:
        problems += _check_text(option["description"], f"{where} description", OPTION_TEXT_MAX)
    value = option.get("value")
    if value is None:
        problems.append(f"{where}: value is required")
    else:
        problems += _check_length(value, f"{where} value", OPTION_VALUE_MAX)
    return problems


def _check_text(text_object: Any, where: str, limit: int, *, plain_only: bool = False) -> list[str]:
    """A required text object whose text must not exceed ``limit`` characters."""
    if text_object is None:
        return [f"{where}: is required"]
    if isinstance(text_object, str):
        return [f"{where}: must be a text object like {{'type': 'plain_text', 'text': ...}}, not a string"]
    if plain_only and (not isinstance(text_object, dict) or text_object.get("type") != "plain_text"):
        return [f"{where}: must be a plain_text text object"]
    if not isinstance(text_object, dict) or text_object.get("type") not in _TEXT_OBJECT_TYPES:
        return [f"{where}: must be a plain_text or mrkdwn text object"]
    text = text_object.get("text")
    if isinstance(text, str) and len(text) > limit:
        return [f"{where}: {len(text)} characters; the limit is {limit}"]
    return []  # empty or non-string text is reported by _check_text_objects


def _check_length(value: Any, where: str, limit: int) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, str):
        return [f"{where}: must be a string, not {type(value).__name__}"]
    if len(value) > limit:
        return [f"{where}: {len(value)} characters; the limit is {limit}"]
    return []


def _check_id(value: Any, where: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, str) or not value:
        return [f"{where}: must be a non-empty string"]
    if len(value) > ID_MAX:
        return [f"{where}: {len(value)} characters; the limit is {ID_MAX}"]
    return []


def _check_text_objects(node: Any, where: str) -> list[str]:
    return [
        f"{where} {path}: text object has empty text"
        for path, text_object in _text_objects(node, "")
        if not isinstance(text_object.get("text"), str) or not text_object["text"].strip()
    ]


def _text_objects(node: Any, path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        if node.get("type") in _TEXT_OBJECT_TYPES:
            yield path.lstrip("."), node
            return
        for key, value in node.items():
            yield from _text_objects(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _text_objects(value, f"{path}[{i}]")


def _known_element(element: dict[str, Any]) -> bool:
    try:
        return BlockElement.parse(element) is not None
    except (SlackObjectFormationError, TypeError, ValueError, AttributeError, KeyError):
        return True  # the type is known; the sdk check reports what is wrong with it


def _check_view_label(label: Any, key: str) -> list[str]:
    if isinstance(label, str):
        return [f"view.{key}: must be a plain_text object, not a string"]
    if not isinstance(label, dict) or label.get("type") != "plain_text":
        return [f"view.{key}: must be a plain_text object"]
    text = label.get("text")
    if not isinstance(text, str) or not text.strip():
        return [f"view.{key}: text object has empty text"]
    if len(text) > VIEW_TITLE_MAX:
        return [f"view.{key}: {len(text)} characters; the limit is {VIEW_TITLE_MAX}"]
    return []


def _sdk_block_problem(block: dict[str, Any]) -> str | None:
    try:
        parsed = Block.parse(block)
        if parsed is None:
            return f"unknown block type {block.get('type')!r}"
        parsed.to_dict()
    except SlackObjectFormationError as e:
        return f"slack_sdk: {e}"
    except (TypeError, ValueError, AttributeError, KeyError) as e:
        return f"malformed block: {e}"
    return None


def _sdk_view_problem(view: dict[str, Any]) -> str | None:
    try:
        View(**view).to_dict()
    except SlackObjectFormationError as e:
        return f"slack_sdk: {e}"
    except (TypeError, ValueError, AttributeError, KeyError) as e:
        return f"malformed view: {e}"
    return None
