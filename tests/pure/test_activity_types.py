"""The fixed activity types: the configuration string, aliases, retired keys."""

from __future__ import annotations

import pytest

from bot.config import ConfigError, load_settings
from crm.activity_types import DEFAULT, GENERIC_EMOJI, label_for, parse_activity_types, types_for


def test_default_list():
    assert DEFAULT.keys == ("call", "meeting", "email", "demo", "proposal", "note")
    assert [t.label for t in DEFAULT] == ["Call", "Meeting", "Email", "Demo", "Proposal", "Note"]
    assert all(t.emoji and t.emoji != GENERIC_EMOJI for t in DEFAULT)
    assert parse_activity_types(None) is DEFAULT
    assert parse_activity_types("   ") is DEFAULT


@pytest.mark.parametrize(
    ("word", "key"),
    [
        ("call", "call"),
        ("Call", "call"),
        ("CALL:", "call"),
        ("phone", "call"),
        ("rang", "call"),
        ("mtg", "meeting"),
        ("Meeting", "meeting"),
        ("met", "meeting"),
        ("e-mail", "email"),
        ("Email", "email"),
        ("emailed", "email"),
        ("demo", "demo"),
        ("walkthrough", "demo"),
        ("quote", "proposal"),
        ("notes", "note"),
        ("memo", "note"),
        ("banana", None),
        ("", None),
        (None, None),
        ("acme", None),
    ],
)
def test_words_reps_use_map_to_a_type(word, key):
    found = DEFAULT.resolve(word)
    assert (found.key if found else None) == key


def test_custom_list_with_labels_emoji_shortcodes_and_aliases():
    types = parse_activity_types(
        "call:Call:📞:ring|buzz, site_visit:Site visit::office::visit|onsite ,meeting:Meeting, x"
    )
    assert types.keys == ("call", "site_visit", "meeting", "x")
    call, visit, meeting, x = types.types
    assert (call.label, call.emoji, call.aliases) == ("Call", "📞", ("ring", "buzz"))
    assert (visit.label, visit.emoji, visit.aliases) == ("Site visit", ":office:", ("visit", "onsite"))
    assert (meeting.emoji, x.label, x.emoji) == (GENERIC_EMOJI, "X", GENERIC_EMOJI)
    # The admin's alias beats the built-in "visit" → meeting; built-ins still work for kept keys.
    assert types.resolve("visit").key == "site_visit"
    assert types.resolve("Site Visit").key == "site_visit"
    assert types.resolve("mtg").key == "meeting"
    assert types.resolve("phone").key == "call"
    # Types left out of the list are not types any more.
    assert types.resolve("email") is None and types.resolve("demo") is None


def test_a_retired_type_still_shows():
    types = parse_activity_types("call:Call:📞")
    assert types.get("demo") is None and not types.is_active("demo")
    shown = types.describe("demo")
    assert (shown.key, shown.label, shown.emoji, shown.retired) == ("demo", "demo", GENERIC_EMOJI, True)
    assert types.describe("call").display == "📞 Call"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("call,call", "appears twice"),
        ("call,,note", "entry 2 is empty"),
        ("call,", "entry 2 is empty"),
        ("Call Me:Call", "key"),
        ("9lives", "key"),
        ("x" * 40, "at most 32"),
        ("a:b:c:d:e", "not key:Label:emoji:aliases"),
        ("call:Call:📞,phone:Call", "'Call' is used by both"),
        ("call:Call:📞:chat,meeting:Meeting:🤝:chat", "'chat' is used by both"),
        ("call:" + "L" * 41, "at most 40"),
        ("call:Call:two words", "emoji"),
        (",".join(f"t{i}" for i in range(101)), "at most 100"),
    ],
)
def test_malformed_lists_are_refused_with_a_reason(raw, message):
    with pytest.raises(ValueError) as err:
        parse_activity_types(raw)
    assert message in str(err.value)


def test_config_refuses_a_malformed_list_naming_the_variable():
    env = {"SLACK_BOT_TOKEN": "xoxb-1", "CRM_ACTIVITY_TYPES": "call,,note"}
    with pytest.raises(ConfigError) as err:
        load_settings(env)
    assert "CRM_ACTIVITY_TYPES" in str(err.value) and "entry 2 is empty" in str(err.value)
    ok = load_settings({"SLACK_BOT_TOKEN": "xoxb-1", "CRM_ACTIVITY_TYPES": " call:Call:📞,demo "})
    assert types_for(ok.activity_types).keys == ("call", "demo")


def test_label_for_settings():
    class Settings:
        activity_types = "call:Call:📞"

    assert label_for(Settings, "call") == "📞 Call"
    assert label_for(Settings, "meeting") == f"{GENERIC_EMOJI} meeting"
    assert types_for("call:Call:📞") is types_for("call:Call:📞")  # parsed once
