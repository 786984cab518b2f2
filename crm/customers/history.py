"""What changed on a customer's record, field by field, from the audit trail: for the history pages.

Each audit entry of the customer (an edit, a lifecycle move, a merge ...) becomes one
:class:`RecordChange` listing the fields whose values differ between its before and after
pictures; custom values are named by their field's current label, so a renamed field's history
reads under its new name.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from crm import custom_fields as cf
from crm.models import AuditEntry, Contact
from crm.states import AuditAction, FieldEntity

# Columns not worth a line of history (bookkeeping, or said better by another column).
HIDDEN = frozenset(("domain", "deleted_at", "merged_into_id", "annual_revenue_currency"))
LABELS = {
    "owner_user_id": "Owner",
    "annual_revenue_minor": "Annual revenue",
    "lifecycle_stage": "Lifecycle stage",
    "postal_code": "Postal code",
}

CONTACT_LABELS = {"phone": "Work phone", "street": "Street", "region": "Region"}


@dataclass(frozen=True)
class FieldChange:
    field: str  # the column, "tags", or "custom:<key>"
    label: str
    before: Any
    after: Any
    before_currency: str | None = None  # for the annual revenue
    after_currency: str | None = None


@dataclass(frozen=True)
class RecordChange:
    at: datetime
    by: str
    action: str
    changes: tuple[FieldChange, ...]


def label_of(column: str) -> str:
    """ "billing_postal_code" → "Billing postal code"."""
    if column in LABELS:
        return LABELS[column]
    for prefix in ("billing_", "shipping_"):
        if column.startswith(prefix):
            rest = column.removeprefix(prefix)
            return f"{prefix[:-1].capitalize()} {LABELS.get(rest, rest.replace('_', ' ')).lower()}"
    return column.replace("_", " ").capitalize()


def _diff(before: dict[str, Any], after: dict[str, Any], labels: dict[str, str]) -> list[FieldChange]:
    found: list[FieldChange] = []
    for key in [*after, *(k for k in before if k not in after)]:
        if key in HIDDEN or key == "custom":
            continue
        old, new = before.get(key), after.get(key)
        if old == new or (old in (None, [], "") and new in (None, [], "")):
            continue
        currencies = (before.get("annual_revenue_currency"), after.get("annual_revenue_currency"))
        extra = currencies if key == "annual_revenue_minor" else (None, None)
        found.append(FieldChange(key, label_of(key), old, new, *extra))
    old_custom, new_custom = before.get("custom") or {}, after.get("custom") or {}
    for key in [*new_custom, *(k for k in old_custom if k not in new_custom)]:
        old, new = old_custom.get(key), new_custom.get(key)
        if old != new:
            found.append(FieldChange(f"custom:{key}", labels.get(key, key), old, new))
    return found


def _contact_changes(changes: list[FieldChange], entry: AuditEntry) -> list[FieldChange]:
    """A contact's edit as lines of the customer's history: "Jane Doe: mobile phone", with the
    field named ``contact_<column>`` (so phones and places are shown like the customer's)."""
    name = str((entry.after or {}).get("name") or (entry.before or {}).get("name") or "Contact")
    return [
        FieldChange(
            c.field if c.field.startswith("custom:") else f"contact_{c.field}",
            f"{name}: {CONTACT_LABELS.get(c.field, c.label).lower()}",
            c.before,
            c.after,
        )
        for c in changes
        if c.field != "customer_id" and c.field != "normalized_name"
    ]


def record_changes(session: Session, workspace_id: int, customer_id: int, *, limit: int = 5) -> list[RecordChange]:
    """The customer's latest changes that touched a field, its contacts' edits among them, newest
    first (creations excluded)."""
    defs = cf.definitions.fields_in(session, workspace_id, FieldEntity.CUSTOMER, include_retired=True)
    labels = {d.key: d.label for d in defs}
    contact_labels = {
        d.key: d.label
        for d in cf.definitions.fields_in(session, workspace_id, FieldEntity.CONTACT, include_retired=True)
    }
    contacts = select(Contact.id).where(Contact.workspace_id == workspace_id, Contact.customer_id == customer_id)
    entries = session.scalars(
        select(AuditEntry)
        .where(
            AuditEntry.workspace_id == workspace_id,
            or_(
                and_(AuditEntry.entity_type == "customer", AuditEntry.entity_id == customer_id),
                and_(AuditEntry.entity_type == "contact", AuditEntry.entity_id.in_(contacts)),
            ),
            AuditEntry.action != AuditAction.CREATE,
        )
        .order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc())
        .limit(limit * 4)  # some entries change nothing shown (a merge's bookkeeping)
    )
    found: list[RecordChange] = []
    for entry in entries:
        if not entry.before:  # a JSON null is not SQL NULL: creations and free-form entries
            continue
        if entry.entity_type == "contact":
            changes = _contact_changes(_diff(entry.before or {}, entry.after or {}, contact_labels), entry)
        else:
            changes = _diff(entry.before or {}, entry.after or {}, labels)
        if changes:
            found.append(RecordChange(entry.created_at, entry.created_by, entry.action, tuple(changes)))
        if len(found) >= limit:
            break
    return found
