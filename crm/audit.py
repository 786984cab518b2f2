"""The audit trail: who changed what, with the values before and after.

Which fields of each kind of row are kept is decided here, once (:data:`AUDITED`), so every
service records the same picture of a customer, contact, deal, activity, follow-up or
digest subscription. Services call :func:`snapshot` before a change and :func:`change`
after it.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from crm.models import (
    Activity,
    AuditEntry,
    Contact,
    Customer,
    CustomField,
    Deal,
    DigestSubscription,
    FollowUp,
    MailInbox,
)
from crm.states import AuditAction

ADDRESS_COLUMNS = ("street", "city", "region", "postal_code", "country")
# The fuller record's columns (issue 14), in the order the card, history and export use.
CUSTOMER_DETAILS = (
    "phone",
    *(f"billing_{c}" for c in ADDRESS_COLUMNS),
    *(f"shipping_{c}" for c in ADDRESS_COLUMNS),
    "industry",
    "employees",
    "annual_revenue_minor",
    "annual_revenue_currency",
    "description",
    "lifecycle_stage",
)
# Model -> (entity type in the audit log, the fields kept before and after a change).
AUDITED: dict[type, tuple[str, tuple[str, ...]]] = {
    Customer: (
        "customer",
        (
            "name",
            "website",
            "domain",
            "owner_user_id",
            "deleted_at",
            "merged_into_id",
            *CUSTOMER_DETAILS,
        ),
    ),
    Contact: (
        "contact",
        ("name", "email", "phone", "title", "customer_id", "deleted_at", "mobile_phone", *ADDRESS_COLUMNS),
    ),
    CustomField: ("custom_field", ("entity", "key", "label", "type", "options", "position", "retired_at")),
    Deal: (
        "deal",
        ("title", "amount_minor", "currency", "stage", "expected_close", "owner_user_id", "closed_at", "customer_id"),
    ),
    Activity: (
        "activity",
        (
            "customer_id",
            "contact_id",
            "deal_id",
            "type_key",
            "summary",
            "occurred_at",
            "source",
            "permalink",
            "deleted_at",
        ),
    ),
    FollowUp: (
        "follow_up",
        (
            "customer_id",
            "activity_id",
            "deal_id",
            "owner_user_id",
            "due_at",
            "note",
            "status",
            "nudge_at",
            "completed_at",
            "deleted_at",
        ),
    ),
    DigestSubscription: (
        "digest_subscription",
        ("channel_id", "local_time", "days", "timezone", "subscriber_user_id", "deleted_at"),
    ),
    # Email capture's address: the token itself is a secret and is never copied into the log;
    # its on/off switch is the workspace's capture setting (crm.capture), audited there.
    MailInbox: ("mail_inbox", ()),  # what changed is said in the note (a new address)
}


def jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def snapshot(row: Any) -> dict[str, Any]:
    """The audited fields of a row as a JSON-safe dict."""
    _, fields = AUDITED[type(row)]
    return {name: jsonable(getattr(row, name)) for name in fields}


def record(
    session: Session,
    *,
    workspace_id: int,
    entity_type: str,
    entity_id: int,
    action: AuditAction,
    actor: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    note: str | None = None,
) -> AuditEntry:
    """A free-form entry (imports and restores summarise whole files this way)."""
    entry = AuditEntry(
        workspace_id=workspace_id,
        entity_type=entity_type,
        entity_id=entity_id,
        action=action,
        created_by=actor,
        before=before,
        after=after,
        note=note,
    )
    session.add(entry)
    return entry


def change(
    session: Session,
    row: Any,
    action: AuditAction,
    *,
    actor: str,
    before: dict[str, Any] | None = None,
    note: str | None = None,
    extra: dict[str, Any] | None = None,
) -> AuditEntry:
    """Record what ``row`` became (``before`` from :func:`snapshot`, None for a creation).

    The row must be flushed (it needs its id). ``extra`` adds facts to the "after" picture,
    such as what a merge moved.
    """
    entity_type, _ = AUDITED[type(row)]
    return record(
        session,
        workspace_id=row.workspace_id,
        entity_type=entity_type,
        entity_id=row.id,
        action=action,
        actor=actor,
        before=before,
        after={**snapshot(row), **(extra or {})},
        note=note,
    )
