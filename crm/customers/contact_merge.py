"""Merging a duplicate contact into the one to keep (admins only), and undoing it.

The duplicate's activities move to the keeper; the keeper's empty details (email, phones,
title, address) and custom fields take the duplicate's; the duplicate stays, soft-deleted with
``merged_into_id`` set. The audit entry lists exactly what moved and what was filled in, so
:func:`undo_contact_merge` puts back exactly that (what was changed by hand since stays as it
is, and the answer says so). A replayed confirmation or undo changes nothing and says so.

Contacts are referred to by activities only (follow-ups and deals point at the customer, and
at an activity or deal): the customer of each activity stays as it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from crm import audit
from crm.actors import Actor
from crm.customers.merge import check_can_merge, merge_pair
from crm.customers.store import live_contact
from crm.customers.values import recorded_id
from crm.errors import Conflict, InvalidInput, NotFound
from crm.lookup import SearchRegistry, bump_search_version
from crm.models import Activity, AuditEntry, Contact, Customer, CustomFieldValue, utcnow
from crm.states import AuditAction, FieldEntity

SAME_CONTACT = "Those are the same contact; pick two different ones."
# The keeper's empty details take the duplicate's, in this order.
FILLABLE = ("email", "phone", "mobile_phone", "title", "street", "city", "region", "postal_code", "country")


class NotMerged(Conflict):
    """The undo was pressed again, or the contact was never merged into that keeper."""


@dataclass(frozen=True)
class ContactMergePreview:
    duplicate: Contact
    keeper: Contact
    duplicate_customer: str
    keeper_customer: str
    activities: int
    filled: tuple[str, ...]  # the keeper's details the duplicate fills in
    kept_as_is: tuple[str, ...] = ()  # (undo) details changed since the merge, left as they are


def _customer_name(session: Session, customer_id: int) -> str:
    return session.scalar(select(Customer.name).where(Customer.id == customer_id)) or "?"


def _activity_count(session: Session, contact_id: int) -> int:
    query = select(func.count()).select_from(Activity)
    return session.scalar(query.where(Activity.contact_id == contact_id, Activity.deleted_at.is_(None))) or 0


def _fillable(duplicate: Contact, keeper: Contact) -> dict[str, Any]:
    return {f: getattr(duplicate, f) for f in FILLABLE if getattr(duplicate, f) and not getattr(keeper, f)}


def _preview(
    session: Session,
    duplicate: Contact,
    keeper: Contact,
    activities: int,
    filled: tuple[str, ...],
    kept_as_is: tuple[str, ...] = (),
) -> ContactMergePreview:
    names = (_customer_name(session, duplicate.customer_id), _customer_name(session, keeper.customer_id))
    return ContactMergePreview(duplicate, keeper, *names, activities, filled, kept_as_is)


def contact_merge_preview(
    sf: sessionmaker[Session], workspace_id: int, duplicate_id: int, keeper_id: int
) -> ContactMergePreview:
    """What merging would move and fill in (for the confirmation)."""
    if duplicate_id == keeper_id:
        raise InvalidInput(SAME_CONTACT)
    with sf() as session:
        duplicate = live_contact(session, workspace_id, duplicate_id)
        keeper = live_contact(session, workspace_id, keeper_id)
        return _preview(
            session, duplicate, keeper, _activity_count(session, duplicate.id), tuple(_fillable(duplicate, keeper))
        )


def _pair(session: Session, workspace_id: int, duplicate_id: int, keeper_id: int) -> tuple[Contact, Contact]:
    return merge_pair(session, Contact, workspace_id, duplicate_id, keeper_id, noun="contact", removed="removed")


def _move_custom_fields(session: Session, workspace_id: int, duplicate: Contact, keeper: Contact) -> list[int]:
    """The duplicate's custom field values for fields the keeper has no value of: moved."""
    keeper_fields = select(CustomFieldValue.field_id).where(
        CustomFieldValue.entity == FieldEntity.CONTACT, CustomFieldValue.record_id == keeper.id
    )
    rows = session.scalars(
        select(CustomFieldValue).where(
            CustomFieldValue.workspace_id == workspace_id,
            CustomFieldValue.entity == FieldEntity.CONTACT,
            CustomFieldValue.record_id == duplicate.id,
            CustomFieldValue.field_id.not_in(keeper_fields),
        )
    ).all()
    for row in rows:
        row.record_id = keeper.id
    return sorted(row.id for row in rows)


def _stamp(session: Session, workspace_id: int, *contacts: Contact) -> None:
    """Both customers re-indexed (the index holds contact names and emails)."""
    version = bump_search_version(session, workspace_id)
    for contact in contacts:
        customer = session.get(Customer, contact.customer_id)
        if customer is not None:
            customer.index_version = version


def merge_contacts(
    sf: sessionmaker[Session],
    registry: SearchRegistry,
    workspace_id: int,
    duplicate_id: int,
    keeper_id: int,
    *,
    actor: Actor,
) -> ContactMergePreview:
    """Move the duplicate's activities to the keeper, fill in the keeper's empty details, and
    soft-delete the duplicate. :class:`AlreadyMerged` for a replayed confirmation."""
    check_can_merge(actor)
    who = recorded_id(actor.user_id)
    if duplicate_id == keeper_id:
        raise InvalidInput(SAME_CONTACT)
    with sf.begin() as session:
        bump_search_version(session, workspace_id)  # serialises merges per workspace (row lock on PostgreSQL)
        duplicate, keeper = _pair(session, workspace_id, duplicate_id, keeper_id)
        activities = sorted(
            session.scalars(
                select(Activity.id).where(Activity.workspace_id == workspace_id, Activity.contact_id == duplicate.id)
            ).all()
        )
        for activity in session.scalars(select(Activity).where(Activity.id.in_(activities))):
            activity.contact_id = keeper.id
        filled = _fillable(duplicate, keeper)
        fields = _move_custom_fields(session, workspace_id, duplicate, keeper)
        before = audit.snapshot(duplicate)
        keeper_before = audit.snapshot(keeper)
        for name, value in filled.items():  # the soft-deleted duplicate keeps its own copy
            setattr(keeper, name, value)
        duplicate.merged_into_id = keeper.id
        duplicate.deleted_at, duplicate.deleted_by = utcnow(), who
        keeper.updated_by = duplicate.updated_by = who
        _stamp(session, workspace_id, duplicate, keeper)
        session.flush()
        audit.change(
            session,
            duplicate,
            AuditAction.MERGE,
            actor=who,
            before=before,
            note=f"merged contact {duplicate.name} (#{duplicate.id}) into {keeper.name} (#{keeper.id})",
            extra={
                "merged_into_id": keeper.id,
                "moved": {"activities": activities, "custom_field_values": fields},
                "filled": {name: audit.jsonable(value) for name, value in filled.items()},
                "keeper_before": keeper_before,
            },
        )
        preview = _preview(session, duplicate, keeper, len(activities), tuple(filled))
    registry.refresh(workspace_id)
    return preview


def _merge_entry(session: Session, workspace_id: int, duplicate: Contact) -> AuditEntry | None:
    return session.scalars(
        select(AuditEntry)
        .where(
            AuditEntry.workspace_id == workspace_id,
            AuditEntry.entity_type == "contact",
            AuditEntry.entity_id == duplicate.id,
            AuditEntry.action == AuditAction.MERGE,
        )
        .order_by(AuditEntry.id.desc())
        .limit(1)
    ).first()


def undo_contact_merge(
    sf: sessionmaker[Session],
    registry: SearchRegistry,
    workspace_id: int,
    duplicate_id: int,
    keeper_id: int,
    *,
    actor: Actor,
) -> ContactMergePreview:
    """Put back what :func:`merge_contacts` moved and filled in; :class:`NotMerged` when the pair
    is not (or no longer) merged. Details changed on the keeper since are left as they are."""
    check_can_merge(actor)
    who = recorded_id(actor.user_id)
    with sf.begin() as session:
        bump_search_version(session, workspace_id)
        duplicate = session.get(Contact, duplicate_id)
        keeper = session.get(Contact, keeper_id)
        if duplicate is None or keeper is None or {duplicate.workspace_id, keeper.workspace_id} != {workspace_id}:
            raise NotFound("That contact no longer exists.")
        entry = _merge_entry(session, workspace_id, duplicate)
        if duplicate.merged_into_id != keeper.id or entry is None:
            raise NotMerged(f"{duplicate.name} is not merged into {keeper.name} (any more); nothing to undo.")
        after = entry.after or {}
        moved = after.get("moved") or {}
        activity_ids = [int(i) for i in moved.get("activities") or []]
        back = 0
        for activity in session.scalars(select(Activity).where(Activity.id.in_(activity_ids))):
            if activity.contact_id == keeper.id:  # moved elsewhere by hand since: left there
                activity.contact_id, back = duplicate.id, back + 1
        value_ids = [int(i) for i in moved.get("custom_field_values") or []]
        for value in session.scalars(select(CustomFieldValue).where(CustomFieldValue.id.in_(value_ids))):
            if value.record_id == keeper.id:
                value.record_id = duplicate.id
        before = audit.snapshot(duplicate)
        filled: dict[str, Any] = after.get("filled") or {}
        cleared, kept = [], []
        for name, value in filled.items():
            if audit.jsonable(getattr(keeper, name)) == value:
                setattr(keeper, name, None)
                cleared.append(name)
            else:
                kept.append(name)
        duplicate.merged_into_id = None
        duplicate.deleted_at = duplicate.deleted_by = None
        keeper.updated_by = duplicate.updated_by = who
        _stamp(session, workspace_id, duplicate, keeper)
        session.flush()
        audit.change(
            session,
            duplicate,
            AuditAction.UNMERGE,
            actor=who,
            before=before,
            note=f"undid the merge of contact {duplicate.name} (#{duplicate.id}) into {keeper.name} (#{keeper.id})",
            extra={"moved_back": {"activities": back}, "cleared": cleared, "kept": kept, "merge_entry": entry.id},
        )
        preview = _preview(session, duplicate, keeper, back, tuple(cleared), tuple(kept))
    registry.refresh(workspace_id)
    return preview
