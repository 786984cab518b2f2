"""The fixed words the CRM stores and compares: statuses, sources, audit actions, send outcomes.

Each is a :class:`enum.StrEnum`, so a member *is* its string: what the database holds, what the
audit log shows and what tests compare stay exactly the words they were (no migration), while the
code names each word once, here.
"""

from __future__ import annotations

from enum import StrEnum


class FollowUpStatus(StrEnum):
    """``follow_ups.status``. A deleted follow-up keeps its status and gets ``deleted_at``."""

    OPEN = "open"
    SNOOZED = "snoozed"  # open, with a new due time the owner picked from the nudge
    DONE = "done"


# Still to be done: listed, counted and nudged.
OPEN_STATUSES = (FollowUpStatus.OPEN, FollowUpStatus.SNOOZED)


class ActivitySource(StrEnum):
    """``activities.source``: where an activity was logged from."""

    SLASH = "slash"  # a one-line /log
    MODAL = "modal"
    SHORTCUT = "shortcut"  # the message shortcut (the modal it opens is recorded as this too)
    IMPORT = "import"
    # Captured without typing (issue 17); each kind can be turned off per workspace (CaptureKind).
    CHANNEL = "channel"  # a thread logged with @crm log in a linked channel
    ALERT = "alert"  # kept for captured alert records; alerts themselves log no activity
    EMAIL = "email"  # captured from mail sent or forwarded to the workspace's address


class AliasSource(StrEnum):
    """``customer_aliases.source``: how a customer came to be known by a former name."""

    MANUAL = "manual"
    RENAME = "rename"
    MERGE = "merge"
    IMPORT = "import"


# The sources that are captured rather than typed: shown as such on the record.
CAPTURED_SOURCES = (ActivitySource.CHANNEL, ActivitySource.ALERT, ActivitySource.EMAIL)


class CaptureKind(StrEnum):
    """What an admin can turn off per workspace (``workspaces.settings["capture"]``)."""

    CHANNEL = "channel"  # linked channels: logging threads and the record's events posted there
    ALERT = "alert"  # routed deal alerts (/crm alerts)
    EMAIL = "email"  # mail captured by BCC or forward


class LinkStatus(StrEnum):
    """``linked_channels.status`` and ``alert_subscriptions.status``: whether the channel still takes posts."""

    ACTIVE = "active"
    ARCHIVED = "archived"  # channel_archive: nothing is posted until it is unarchived
    REMOVED = "removed"  # the bot was removed (member_left_channel, not_in_channel)
    GONE = "gone"  # channel_deleted or channel_not_found


class ChannelEventKind(StrEnum):
    """What a linked channel or an alert subscription is told about."""

    NEW_DEAL = "new"
    STAGE = "stage"
    WON = "won"
    LOST = "lost"
    ACTIVITY = "activity"
    OVERDUE = "overdue"  # a follow-up on the record went overdue


class AuditAction(StrEnum):
    """``audit_log.action``."""

    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    RESTORE = "restore"
    MERGE = "merge"  # a customer merged into another
    UNMERGE = "unmerge"  # a contact merge undone
    STAGE = "stage"  # a deal moved to another stage
    DONE = "done"  # a follow-up marked done (from its nudge or the Home tab)
    SNOOZE = "snooze"
    RESCHEDULE = "reschedule"
    REASSIGN = "reassign"
    SUBSCRIBE = "subscribe"  # a channel subscribed to the digest
    UNSUBSCRIBE = "unsubscribe"
    IMPORT = "import"
    LIFECYCLE = "lifecycle"  # a customer moved to another lifecycle stage
    RETIRE = "retire"  # a custom field retired (its values kept)
    UNRETIRE = "unretire"  # a retired custom field brought back
    LINK = "link"  # a channel linked to a customer or a deal
    UNLINK = "unlink"
    SETTING = "setting"  # a workspace setting changed (capture on/off)
    HANDOVER = "handover"  # an owner changed by `/crm handover`
    HANDOVER_UNDO = "handover-undo"  # ... and put back by its Undo


class DigestDays(StrEnum):
    """``digest_subscriptions.days``."""

    WEEKDAYS = "weekdays"
    DAILY = "daily"


class DigestScope(StrEnum):
    """``digest_subscriptions.scope``: whose deals the digest covers."""

    TEAM = "team"


class DeliveryNote(StrEnum):
    """How a scheduled send (nudge or digest) ended when it did not simply post, as recorded.

    ``BY_DM`` and ``FAILED`` begin a note: ``"dm: archived"``, ``"failed: is_archived"``."""

    ALREADY_SENT = "already-sent"  # an earlier attempt in doubt had posted after all
    BY_DM = "dm"  # the digest went to the subscriber; the note says why (a :class:`DmReason`)
    FAILED = "failed"  # Slack refused for good; not retried

    def of(self, detail: str) -> str:
        """``"dm: archived"``: this note with what it is about."""
        return f"{self}: {detail}"


class DmReason(StrEnum):
    """Why a channel's digest went to the subscriber by DM instead."""

    CHANNEL_NOT_FOUND = "channel_not_found"
    SLACK_CONNECT = "slack_connect"
    ARCHIVED = "archived"
    NOT_IN_CHANNEL = "not_in_channel"


class DeliveryError(StrEnum):
    """The errors a scheduled send records that are ours rather than Slack's own error names."""

    AMBIGUOUS = "ambiguous"  # begins the error: Slack may have posted (a timeout, a 5xx)
    RATELIMITED = "ratelimited"  # Slack said slow down (HTTP 429)
    BUILD_FAILED = "build failed"  # the digest could not be built from the workspace's data
    NOT_INSTALLED = "not installed"  # the app was uninstalled or its token revoked: parked, not sent
    UNKNOWN = "unknown"

    def of(self, detail: str) -> str:
        """``"ambiguous: http 502"``: this error with what happened."""
        return f"{self}: {detail}"


# Slack errors that mean the workspace's token is dead (uninstalled, revoked, expired): nothing more
# is sent to that workspace until the app is installed again.
DEAD_TOKEN = frozenset({"token_revoked", "token_expired", "invalid_auth", "account_inactive", "not_authed"})


def is_ambiguous(error: str | None) -> bool:
    """True when a recorded send error means Slack may have posted the message anyway."""
    return (error or "").startswith(DeliveryError.AMBIGUOUS)


class FieldEntity(StrEnum):
    """What kind of record a custom field belongs to."""

    CUSTOMER = "customer"
    CONTACT = "contact"
    DEAL = "deal"


class FieldType(StrEnum):
    """A custom field's type: which values it takes and how they are stored."""

    TEXT = "text"
    NUMBER = "number"
    MONEY = "money"
    DATE = "date"
    YES_NO = "yes_no"
    ONE_OF = "one_of"  # one option from the field's list
    SEVERAL_OF = "several_of"  # any options from the field's list
    URL = "url"
    EMAIL = "email"
    PERSON = "person"  # a Slack user in the workspace


class MailStatus(StrEnum):
    """``inbound_emails.status``."""

    FILED = "filed"  # logged as an activity
    UNFILED = "unfiled"  # waits in the rep's Home tab for a customer to be picked
    DISMISSED = "dismissed"  # the rep said it belongs to no customer
