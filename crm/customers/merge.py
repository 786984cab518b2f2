"""Merging a duplicate customer into the one to keep (admins only).

Everything moves to the keeper (contacts, deals, activities, follow-ups, former names) and the
duplicate's name becomes an alias. The duplicate row stays, soft-deleted with
``merged_into_id`` set, so nothing is lost and links to it still lead to the keeper. A second
merge of the same pair (a replayed or double-clicked confirmation) changes nothing and says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from crm import audit
from crm.actors import Actor
from crm.customers.store import add_alias, live_customer
from crm.customers.values import recorded_id
from crm.db import rows_changed
from crm.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from crm.lookup import SearchRegistry, bump_search_version
from crm.models import Activity, Contact, Customer, CustomerAlias, Deal, FollowUp, utcnow
from crm.states import AliasSource, AuditAction

M = TypeVar("M", Customer, Contact)  # what merges: a customer, or a contact

ADMINS_ONLY = "Only workspace admins can merge customers. Ask an admin, or tell them which two are the same."
SAME_CUSTOMER = "Those are the same customer; pick two different ones."
MOVED = (Contact, Deal, Activity, FollowUp)


class AlreadyMerged(Conflict):
    """The duplicate was merged into this keeper before (the confirmation was pressed again)."""


@dataclass(frozen=True)
class MergePreview:
    duplicate: Customer
    keeper: Customer
    contacts: int
    deals: int
    activities: int
    follow_ups: int


def check_can_merge(actor: Actor) -> None:
    """The one rule for merging (and for reviewing duplicates to merge): workspace admins only."""
    if not actor.is_admin:
        raise PermissionDenied(ADMINS_ONLY)


def _counts(session: Session, customer_id: int) -> tuple[int, int, int, int]:
    def count(model: Any) -> int:
        query = select(func.count()).select_from(model)
        return session.scalar(query.where(model.customer_id == customer_id, model.deleted_at.is_(None))) or 0

    contacts, deals, activities, follow_ups = (count(model) for model in MOVED)
    return contacts, deals, activities, follow_ups


def merge_preview(sf: sessionmaker[Session], workspace_id: int, duplicate_id: int, keeper_id: int) -> MergePreview:
    if duplicate_id == keeper_id:
        raise InvalidInput(SAME_CUSTOMER)
    with sf() as session:
        duplicate = live_customer(session, workspace_id, duplicate_id)
        keeper = live_customer(session, workspace_id, keeper_id)
        if duplicate.id == keeper.id:
            raise InvalidInput("The first of those was already merged into the second; nothing to do.")
        return MergePreview(duplicate, keeper, *_counts(session, duplicate.id))


def _pair(session: Session, workspace_id: int, duplicate_id: int, keeper_id: int) -> tuple[Customer, Customer]:
    """Both customers as they are now (inside the locked transaction), or why not."""
    return merge_pair(session, Customer, workspace_id, duplicate_id, keeper_id, noun="customer", removed="deleted")


def merge_pair(
    session: Session, model: type[M], workspace_id: int, duplicate_id: int, keeper_id: int, *, noun: str, removed: str
) -> tuple[M, M]:
    """A duplicate and its keeper (customers or contacts) as they are now, or why they can't merge."""
    duplicate = session.get(model, duplicate_id)
    keeper = session.get(model, keeper_id)
    if duplicate is None or keeper is None or {duplicate.workspace_id, keeper.workspace_id} != {workspace_id}:
        raise NotFound(f"That {noun} no longer exists.")
    if duplicate.merged_into_id == keeper.id:
        raise AlreadyMerged(f"{duplicate.name} was already merged into {keeper.name}; nothing more to do.")
    if duplicate.merged_into_id is not None or duplicate.deleted_at is not None:
        raise Conflict(f"{duplicate.name} was already merged or {removed}; nothing to do.")
    if keeper.merged_into_id is not None or keeper.deleted_at is not None:
        raise Conflict(f"{keeper.name} was merged or {removed} meanwhile; pick the {noun} it became.")
    return duplicate, keeper


def _move_everything(session: Session, workspace_id: int, duplicate: Customer, keeper: Customer) -> dict[str, int]:
    moved: dict[str, int] = {}
    for model in MOVED:
        result = session.execute(
            update(model)
            .where(model.customer_id == duplicate.id, model.workspace_id == workspace_id)
            .values(customer_id=keeper.id)
            .execution_options(synchronize_session=False)
        )
        moved[model.__tablename__] = rows_changed(result)
    session.execute(
        update(CustomerAlias)
        .where(CustomerAlias.customer_id == duplicate.id)
        .values(customer_id=keeper.id)
        .execution_options(synchronize_session=False)
    )
    return moved


def merge_customers(
    sf: sessionmaker[Session],
    registry: SearchRegistry,
    workspace_id: int,
    duplicate_id: int,
    keeper_id: int,
    *,
    actor: Actor,
) -> MergePreview:
    """Move everything from the duplicate to the keeper; the duplicate's name becomes an alias.

    Raises ``PermissionDenied`` for non-admins and :class:`AlreadyMerged` when this pair was
    merged before (so a replayed confirmation merges once and audits once).
    """
    check_can_merge(actor)
    who = recorded_id(actor.user_id)
    if duplicate_id == keeper_id:
        raise InvalidInput(SAME_CUSTOMER)
    with sf.begin() as session:
        version = bump_search_version(session, workspace_id)  # serialises merges per workspace
        duplicate, keeper = _pair(session, workspace_id, duplicate_id, keeper_id)
        counts = _counts(session, duplicate.id)
        moved = _move_everything(session, workspace_id, duplicate, keeper)
        add_alias(session, keeper, duplicate.name, AliasSource.MERGE, who)
        if duplicate.website and not keeper.website:
            keeper.website, keeper.domain = duplicate.website, duplicate.domain
        before = audit.snapshot(duplicate)
        duplicate.merged_into_id = keeper.id
        duplicate.deleted_at, duplicate.deleted_by = utcnow(), who
        duplicate.index_version = keeper.index_version = version
        keeper.updated_by = who
        audit.change(
            session,
            duplicate,
            AuditAction.MERGE,
            actor=who,
            before=before,
            note=f"merged {duplicate.name} (#{duplicate.id}) into {keeper.name} (#{keeper.id})",
            extra={"moved": moved},
        )
        preview = MergePreview(duplicate, keeper, *counts)
    registry.refresh(workspace_id)
    return preview
