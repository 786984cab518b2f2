"""crm.slack_ids: the one place that says what a Slack user or channel id looks like."""

from __future__ import annotations

import pytest

from crm.slack_ids import SLACK_USER_MENTION, is_channel_id, is_user_id


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("U012ABCDEF", True),
        ("W012ABCDEF", True),  # Enterprise Grid
        ("U" + "A" * 31, True),  # 32 characters: the user id columns' width
        ("U" + "A" * 32, False),
        ("U0", False),
        ("u012abcdef", False),
        ("B012ABCDEF", False),  # a bot id, not a person
        ("C012ABCDEF", False),
        ("U012 ABCDEF", False),
        ("import", False),
        ("", False),
        (None, False),
        (12, False),
    ],
)
def test_what_a_user_id_is(value, expected):
    assert is_user_id(value) is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("C012ABCDEF", True),
        ("G012ABCDEF", True),
        ("D012ABCDEF", True),
        ("U012ABCDEF", False),
        ("#sales", False),
        (None, False),
    ],
)
def test_what_a_channel_id_is(value, expected):
    assert is_channel_id(value) is expected


@pytest.mark.parametrize(
    ("text", "user"),
    [
        ("<@U012ABC>", "U012ABC"),
        ("<@W012ABC|jane>", "W012ABC"),
        ("<@u012abc>", None),
        ("@jane", None),
        ("<@U012ABC> x", None),
    ],
)
def test_a_mention_names_one_user(text, user):
    match = SLACK_USER_MENTION.fullmatch(text)
    assert (match.group(1) if match else None) == user
