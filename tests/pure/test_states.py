"""The words in crm.states are what the database and the audit log hold: changing one needs a migration."""

from __future__ import annotations

import json

import pytest

from crm.states import (
    OPEN_STATUSES,
    ActivitySource,
    AliasSource,
    AuditAction,
    CaptureKind,
    ChannelEventKind,
    DeliveryError,
    DeliveryNote,
    DigestDays,
    DigestScope,
    DmReason,
    FieldEntity,
    FieldType,
    FollowUpStatus,
    LinkStatus,
    MailStatus,
    is_ambiguous,
)

STORED = [
    (FollowUpStatus, ["open", "snoozed", "done"]),
    (ActivitySource, ["slash", "modal", "shortcut", "import", "channel", "alert", "email"]),
    (MailStatus, ["filed", "unfiled", "dismissed"]),
    (CaptureKind, ["channel", "alert", "email"]),
    (LinkStatus, ["active", "archived", "removed", "gone"]),
    (ChannelEventKind, ["new", "stage", "won", "lost", "activity", "overdue"]),
    (AliasSource, ["manual", "rename", "merge", "import"]),
    (DigestDays, ["weekdays", "daily"]),
    (DigestScope, ["team"]),
    (DeliveryNote, ["already-sent", "dm", "failed"]),
    (DmReason, ["channel_not_found", "slack_connect", "archived", "not_in_channel"]),
    (DeliveryError, ["ambiguous", "ratelimited", "build failed", "not installed", "unknown"]),
    (
        AuditAction,
        [
            "create", "update", "delete", "restore", "merge", "unmerge", "stage", "done", "snooze", "reschedule",
            "reassign", "subscribe", "unsubscribe", "import", "lifecycle", "retire", "unretire", "link", "unlink",
            "setting", "handover", "handover-undo",
        ],
    ),
    (FieldEntity, ["customer", "contact", "deal"]),
    (
        FieldType,
        ["text", "number", "money", "date", "yes_no", "one_of", "several_of", "url", "email", "person"],
    ),
]  # fmt: skip


@pytest.mark.parametrize(("enum", "words"), STORED, ids=[e.__name__ for e, _ in STORED])
def test_each_member_is_the_word_that_is_stored(enum, words):
    assert [m.value for m in enum] == words
    for member, word in zip(enum, words, strict=True):
        assert member == word and str(member) == word and f"{member}" == word and json.dumps(member) == f'"{word}"'


def test_open_follow_ups_are_open_or_snoozed():
    assert set(OPEN_STATUSES) == {"open", "snoozed"}


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (DeliveryError.AMBIGUOUS.of("http 502"), True),
        ("ambiguous: ReadTimeout", True),
        (DeliveryError.RATELIMITED, False),
        ("channel_not_found", False),
        (None, False),
        ("", False),
    ],
)
def test_an_error_is_ambiguous_when_slack_may_have_posted(error, expected):
    assert is_ambiguous(error) is expected


def test_notes_and_errors_read_as_before():
    assert DeliveryNote.BY_DM.of(DmReason.ARCHIVED) == "dm: archived"
    assert DeliveryNote.FAILED.of("is_archived") == "failed: is_archived"
    assert DeliveryError.AMBIGUOUS.of("http 500") == "ambiguous: http 500"
