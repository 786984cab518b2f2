"""Block Kit limit checks (bot.dev.blockkit_check) and text helpers (commands.blockkit)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.dev.blockkit_check import (
    NO_FALLBACK_TEXT,
    validate_blocks,
    validate_message,
    validate_options,
    validate_view,
)
from commands.blockkit import escape_mrkdwn, mrkdwn, plain, truncate


def pt(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text}


def md(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text}


def section(text: str = "hi", **extra: Any) -> dict[str, Any]:
    return {"type": "section", "text": md(text), **extra}


def button(text: str = "Go", action_id: str = "go", **extra: Any) -> dict[str, Any]:
    return {"type": "button", "text": pt(text), "action_id": action_id, **extra}


def option(text: str = "One", value: str = "1") -> dict[str, Any]:
    return {"text": pt(text), "value": value}


def static_select(options: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "type": "static_select",
        "action_id": "pick",
        "placeholder": pt("Pick"),
        "options": options,
        **extra,
    }


def text_input(**extra: Any) -> dict[str, Any]:
    return {
        "type": "input",
        "block_id": "notes",
        "label": pt("Notes"),
        "element": {"type": "plain_text_input", "action_id": "notes", **extra},
    }


def modal(blocks: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"type": "modal", "title": pt("Log activity"), "submit": pt("Save"), "blocks": blocks, **extra}


# ------------------------------------------------------------------------------ validate_blocks

GOOD_BLOCKS: list[tuple[str, list[dict[str, Any]], str]] = [
    ("section at its limit", [section("x" * 3000)], "message"),
    ("ten fields of 2000", [{"type": "section", "fields": [md("f" * 2000)] * 10}], "message"),
    ("header at 150", [{"type": "header", "text": pt("h" * 150)}], "message"),
    (
        "button text 75, value 2000",
        [{"type": "actions", "elements": [button("b" * 75, value="v" * 2000)]}],
        "message",
    ),
    (
        "select with 100 options",
        [section(accessory=static_select([option(value=str(i)) for i in range(100)]))],
        "message",
    ),
    (
        "option text 75, value 150",
        [section(accessory=static_select([option("o" * 75, "v" * 150)]))],
        "message",
    ),
    (
        "25 buttons",
        [{"type": "actions", "elements": [button(action_id=f"b{i}") for i in range(25)]}],
        "message",
    ),
    ("10 context elements", [{"type": "context", "elements": [md("c")] * 10}], "message"),
    (
        "ids of 255",
        [{"type": "actions", "block_id": "b" * 255, "elements": [button(action_id="a" * 255)]}],
        "message",
    ),
    ("50 blocks in a message", [{"type": "divider"}] * 50, "message"),
    ("100 blocks in a modal", [{"type": "divider"}] * 100, "modal"),
    ("100 blocks on home", [{"type": "divider"}] * 100, "home"),
    ("input max_length 1", [text_input(max_length=1)], "modal"),
    ("input max_length 3000", [text_input(min_length=0, max_length=3000)], "modal"),
    ("same action_id in two blocks", [{"type": "actions", "elements": [button()]}] * 2, "message"),
    (
        "external select with initial option",
        [
            section(
                accessory={
                    "type": "external_select",
                    "action_id": "c",
                    "placeholder": pt("Company"),
                    "min_query_length": 1,
                    "initial_option": option("Acme", "42"),
                }
            )
        ],
        "message",
    ),
    (
        "rich text",
        [
            {
                "type": "rich_text",
                "elements": [{"type": "rich_text_section", "elements": [{"type": "text", "text": "hi"}]}],
            }
        ],
        "message",
    ),
]


@pytest.mark.parametrize(("blocks", "surface"), [g[1:] for g in GOOD_BLOCKS], ids=[g[0] for g in GOOD_BLOCKS])
def test_blocks_within_limits_pass(blocks: list[dict[str, Any]], surface: Any) -> None:
    assert validate_blocks(blocks, surface=surface) == []


BAD_BLOCKS: list[tuple[str, list[dict[str, Any]], str, str]] = [
    (
        "51 blocks in a message",
        [{"type": "divider"}] * 51,
        "message",
        "51 blocks; a message allows at most 50",
    ),
    ("101 blocks in a modal", [{"type": "divider"}] * 101, "modal", "at most 100"),
    ("101 blocks on home", [{"type": "divider"}] * 101, "home", "at most 100"),
    ("section text 3001", [section("x" * 3001)], "message", "text: 3001 characters; the limit is 3000"),
    ("11 fields", [{"type": "section", "fields": [md("f")] * 11}], "message", "11 fields; the limit is 10"),
    (
        "field of 2001",
        [{"type": "section", "fields": [md("f" * 2001)]}],
        "message",
        "fields[0]: 2001 characters",
    ),
    (
        "header 151",
        [{"type": "header", "text": pt("h" * 151)}],
        "message",
        "151 characters; the limit is 150",
    ),
    (
        "header in mrkdwn",
        [{"type": "header", "text": md("h")}],
        "message",
        "must be a plain_text text object",
    ),
    (
        "button text in mrkdwn",
        [{"type": "actions", "elements": [{"type": "button", "text": md("b"), "action_id": "b"}]}],
        "message",
        "text: must be a plain_text text object",
    ),
    (
        "button text 76",
        [{"type": "actions", "elements": [button("b" * 76)]}],
        "message",
        "76 characters; the limit is 75",
    ),
    (
        "button value 2001",
        [{"type": "actions", "elements": [button(value="v" * 2001)]}],
        "message",
        "value: 2001 characters",
    ),
    (
        "101 options",
        [section(accessory=static_select([option(value=str(i)) for i in range(101)]))],
        "message",
        "101 options; the limit is 100",
    ),
    (
        "option text 76",
        [section(accessory=static_select([option("o" * 76)]))],
        "message",
        "options[0] text: 76 characters",
    ),
    (
        "option value 151",
        [section(accessory=static_select([option(value="v" * 151)]))],
        "message",
        "options[0] value: 151 characters",
    ),
    (
        "grouped option text 76",
        [
            section(
                accessory=static_select([], option_groups=[{"label": pt("G"), "options": [option("o" * 76)]}])
                | {"options": None}
            )
        ],
        "message",
        "option_groups[0] options[0] text",
    ),
    (
        "external initial option value 151",
        [
            section(
                accessory={
                    "type": "external_select",
                    "action_id": "c",
                    "placeholder": pt("C"),
                    "initial_option": option(value="v" * 151),
                }
            )
        ],
        "message",
        "initial_option value: 151",
    ),
    (
        "26 buttons",
        [{"type": "actions", "elements": [button(action_id=f"b{i}") for i in range(26)]}],
        "message",
        "26 elements; the limit is 25",
    ),
    (
        "11 context elements",
        [{"type": "context", "elements": [md("c")] * 11}],
        "message",
        "11 elements; the limit is 10",
    ),
    (
        "block_id 256",
        [{"type": "divider", "block_id": "b" * 256}],
        "message",
        "block_id: 256 characters; the limit is 255",
    ),
    (
        "action_id 256",
        [{"type": "actions", "elements": [button(action_id="a" * 256)]}],
        "message",
        "action_id: 256 characters",
    ),
    (
        "duplicate action_id in a block",
        [{"type": "actions", "elements": [button(), button()]}],
        "message",
        "action_id 'go' is already used by elements[0]",
    ),
    (
        "duplicate block_id",
        [section(block_id="x"), section(block_id="x")],
        "modal",
        "block_id 'x' is already used by blocks[0]",
    ),
    ("input max_length 0", [text_input(max_length=0)], "modal", "max_length 0 must be 1..3000"),
    ("input max_length 3001", [text_input(max_length=3001)], "modal", "max_length 3001 must be 1..3000"),
    ("input min_length 3001", [text_input(min_length=3001)], "modal", "min_length 3001 must be 0..3000"),
    (
        "input min above max",
        [text_input(min_length=10, max_length=5)],
        "modal",
        "min_length 10 is more than max_length 5",
    ),
    ("empty section text", [section("")], "message", "text object has empty text"),
    (
        "blank plain_text in a button",
        [{"type": "actions", "elements": [button("  ")]}],
        "message",
        "elements[0].text: text object has empty text",
    ),
    (
        "empty option text",
        [section(accessory=static_select([option("")]))],
        "message",
        "options[0].text: text object has empty text",
    ),
    (
        "empty context text",
        [{"type": "context", "elements": [md("")]}],
        "message",
        "elements[0]: text object has empty text",
    ),
    (
        "section text as a bare string",
        [{"type": "section", "text": "hi"}],
        "message",
        "must be a text object",
    ),
    (
        "unknown block type",
        [{"type": "sectoin", "text": md("hi")}],
        "message",
        "unknown block type 'sectoin'",
    ),
    (
        "unknown element type",
        [{"type": "actions", "elements": [{"type": "buton", "action_id": "x"}]}],
        "message",
        "unknown element type 'buton'",
    ),
    ("block without type", [{"text": md("hi")}], "message", "has no type"),
    (
        "section with neither text nor fields",
        [{"type": "section"}],
        "message",
        "text or fields attribute must be specified",
    ),
    (
        "image without alt_text",
        [{"type": "image", "image_url": "https://x/y.png"}],
        "message",
        "blocks[0] (image)",
    ),
]


@pytest.mark.parametrize(("blocks", "surface", "expected"), [b[1:] for b in BAD_BLOCKS], ids=[b[0] for b in BAD_BLOCKS])
def test_blocks_breaking_a_limit_are_reported(blocks: list[dict[str, Any]], surface: Any, expected: str) -> None:
    problems = validate_blocks(blocks, surface=surface)
    assert any(expected in p for p in problems), problems


def test_one_broken_limit_gives_one_problem() -> None:
    assert validate_blocks([section("x" * 3001)], surface="message") == [
        "blocks[0] (section) text: 3001 characters; the limit is 3000"
    ]


def test_problems_name_the_block() -> None:
    problems = validate_blocks([section(), {"type": "divider"}, section("")], surface="message")
    assert problems == ["blocks[2] (section) text: text object has empty text"]


def test_blocks_must_be_a_list() -> None:
    assert validate_blocks({"type": "divider"}, surface="message") == ["blocks must be a list, not dict"]  # type: ignore[arg-type]


def test_unknown_surface_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        validate_blocks([], surface="dialog")  # type: ignore[arg-type]


# ------------------------------------------------------------------------------ validate_options


def test_options_response_within_limits() -> None:
    assert validate_options([option(value=str(i)) for i in range(100)]) == []


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ([option(value=str(i)) for i in range(101)], "101 options; the limit is 100"),
        ([option("o" * 76)], "76 characters; the limit is 75"),
        ([option(value="v" * 151)], "151 characters; the limit is 150"),
        ([option("")], "text object has empty text"),
    ],
)
def test_options_response_breaking_a_limit(options: list[dict[str, Any]], expected: str) -> None:
    assert any(expected in p for p in validate_options(options))


# ------------------------------------------------------------------------------ validate_view

GOOD_VIEWS: list[tuple[str, dict[str, Any]]] = [
    ("modal with input", modal([text_input(max_length=500)])),
    ("titles at 24", modal([section()], title=pt("t" * 24), submit=pt("s" * 24), close=pt("c" * 24))),
    (
        "metadata at 3000, callback_id at 255",
        modal([section()], private_metadata="m" * 3000, callback_id="c" * 255),
    ),
    ("home tab", {"type": "home", "blocks": [section()] * 100}),
    ("modal without submit and no inputs", {"type": "modal", "title": pt("Card"), "blocks": [section()]}),
]


@pytest.mark.parametrize("view", [v[1] for v in GOOD_VIEWS], ids=[v[0] for v in GOOD_VIEWS])
def test_views_within_limits_pass(view: dict[str, Any]) -> None:
    assert validate_view(view) == []


BAD_VIEWS: list[tuple[str, dict[str, Any], str]] = [
    ("title 25", modal([section()], title=pt("t" * 25)), "view.title: 25 characters; the limit is 24"),
    ("submit 25", modal([section()], submit=pt("s" * 25)), "view.submit: 25 characters"),
    ("close 25", modal([section()], close=pt("c" * 25)), "view.close: 25 characters"),
    ("empty title", modal([section()], title=pt("")), "view.title: text object has empty text"),
    ("title as a string", modal([section()], title="Log"), "view.title: must be a plain_text object"),
    ("no title", {"type": "modal", "blocks": [section()]}, "a modal needs a title"),
    (
        "private_metadata 3001",
        modal([section()], private_metadata="m" * 3001),
        "private_metadata is 3001 characters",
    ),
    ("callback_id 256", modal([section()], callback_id="c" * 256), "callback_id: 256 characters"),
    ("101 blocks", modal([{"type": "divider"}] * 101), "101 blocks; a modal allows at most 100"),
    (
        "over 250 kB",
        modal([section("x" * 3000, block_id=str(i)) for i in range(90)]),
        "bytes of JSON; the limit is 250000",
    ),
    (
        "inputs without submit",
        {"type": "modal", "title": pt("Log"), "blocks": [text_input()]},
        "needs a submit button",
    ),
    (
        "home with submit",
        {"type": "home", "submit": pt("Save"), "blocks": [section()]},
        "a home tab can't have submit",
    ),
    ("wrong type", {"type": "dialog", "blocks": [section()]}, 'view type must be "modal" or "home"'),
    ("bad block inside", modal([section("")]), "blocks[0] (section) text: text object has empty text"),
    ("no blocks", {"type": "modal", "title": pt("Log")}, "blocks are required"),
]


@pytest.mark.parametrize(("view", "expected"), [v[1:] for v in BAD_VIEWS], ids=[v[0] for v in BAD_VIEWS])
def test_views_breaking_a_limit_are_reported(view: dict[str, Any], expected: str) -> None:
    problems = validate_view(view)
    assert any(expected in p for p in problems), problems


def test_view_size_counts_utf8_bytes() -> None:
    # 90 sections of 2000 three-byte characters is ~540 kB on the wire although only 180k characters.
    view = modal([section("€" * 2000, block_id=str(i)) for i in range(90)])
    assert len(json.dumps(view)) > 250_000  # ensure_ascii inflates it too; the check uses raw UTF-8
    assert any("bytes of JSON" in p for p in validate_view(view))


# ------------------------------------------------------------------------------ validate_message


@pytest.mark.parametrize(
    "payload",
    [
        {"text": "hello"},
        {"text": "Deal won", "blocks": [section("*Deal won*")]},
        {"text": "t" * 40_000},
        {"text": "x", "attachments": [{"color": "#36a64f", "blocks": [section()]}]},
    ],
)
def test_good_messages_pass(payload: dict[str, Any]) -> None:
    assert validate_message(payload) == []


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"blocks": [section()]}, NO_FALLBACK_TEXT),
        ({"text": " ", "blocks": [section()]}, NO_FALLBACK_TEXT),
        ({"text": "t" * 40_001}, "text is 40001 characters; Slack truncates past 40000"),
        ({"text": "x", "blocks": [{"type": "divider"}] * 51}, "51 blocks; a message allows at most 50"),
        ({"text": "x", "attachments": [{"blocks": [section("")]}]}, "attachments[0].blocks[0] (section)"),
        ({"text": 5}, "text must be a string"),
    ],
)
def test_bad_messages_are_reported(payload: dict[str, Any], expected: str) -> None:
    problems = validate_message(payload)
    assert any(expected in p for p in problems), problems


# ------------------------------------------------------------------------------ text helpers


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("<!channel>", "&lt;!channel&gt;"),
        ("<!here>", "&lt;!here&gt;"),
        ("<!everyone>", "&lt;!everyone&gt;"),
        ("<@U123>", "&lt;@U123&gt;"),
        ("<#C1>", "&lt;#C1&gt;"),
        ("<#C1|general>", "&lt;#C1|general&gt;"),
        ("<!subteam^S1>", "&lt;!subteam^S1&gt;"),
        ("<http://x|y>", "&lt;http://x|y&gt;"),
        ("Fish & Chips", "Fish &amp; Chips"),
        ("a < b > c", "a &lt; b &gt; c"),
        ("&lt;", "&amp;lt;"),  # already-escaped text is shown literally, as typed
        ("Ann *bold* _it_", "Ann *bold* _it_"),
        ("", ""),
    ],
)
def test_escape_mrkdwn(raw: str, escaped: str) -> None:
    assert escape_mrkdwn(raw) == escaped


def test_escaped_text_has_no_angle_brackets_left() -> None:
    hostile = "<!channel> <@U1> <#C1> <http://evil|click> & <"
    assert not set("<>") & set(escape_mrkdwn(hostile))


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("short", 10, "short"),
        ("exactly10!", 10, "exactly10!"),
        ("hello world", 8, "hello w…"),
        ("hello world", 7, "hello…"),  # no dangling space before the ellipsis
        ("hello", 1, "…"),
        ("hello", 0, ""),
        ("a &amp; b", 7, "a…"),  # never half an entity
        ("x &lt;", 5, "x…"),
        ("tom &amp; jerry", 12, "tom &amp; j…"),
    ],
)
def test_truncate(text: str, limit: int, expected: str) -> None:
    result = truncate(text, limit)
    assert result == expected
    assert len(result) <= limit


def test_truncate_with_custom_suffix() -> None:
    assert truncate("abcdefghij", 6, suffix="...") == "abc..."


def test_truncate_rejects_negative_limit() -> None:
    with pytest.raises(ValueError):
        truncate("x", -1)


def test_text_object_helpers() -> None:
    assert plain("Save") == {"type": "plain_text", "text": "Save", "emoji": True}
    assert plain("x" * 30, 24)["text"] == "x" * 23 + "…"
    assert mrkdwn("*hi*") == {"type": "mrkdwn", "text": "*hi*"}
    assert validate_blocks([{"type": "section", "text": mrkdwn("y" * 5000, 3000)}], surface="message") == []


def test_slack_time_lets_slack_write_the_day_when_the_message_is_read():
    from datetime import UTC, datetime

    from commands.blockkit import slack_time

    moment = datetime(2026, 11, 27, 14, 0, tzinfo=UTC)
    assert slack_time(moment, "Fri 27 Nov, 09:00") == (
        f"<!date^{int(moment.timestamp())}^{{date_short_pretty}} at {{time}}|Fri 27 Nov, 09:00>"
    )
    naive = datetime(2026, 11, 27, 14, 0)  # SQLite's naive UTC
    assert slack_time(naive, "x") == slack_time(moment, "x")
    # The fallback can't break out of the token.
    assert slack_time(moment, "a|b>c<d&e").endswith("|a/bc&lt;d&amp;e>")
