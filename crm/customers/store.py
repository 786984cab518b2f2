"""Row helpers the customer services share: live rows, aliases, contacts, and once-only claims."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crm import audit
from crm.customers.values import MAX_NAME, ContactValues
from crm.errors import Conflict, NotFound
from crm.models import EVENT_KEY, Contact, Customer, CustomerAlias, ProcessedEvent
from crm.normalize import normalize_name
from crm.states import AliasSource, AuditAction


def live_customer(session: Session, workspace_id: int, customer_id: int) -> Customer:
    """The customer, following merges to the record that was kept; NotFound if gone."""
    for _ in range(20):  # merge chains are short; the bound guards against a cycle
        customer = session.get(Customer, customer_id)
        if customer is None or customer.workspace_id != workspace_id:
            break
        if customer.merged_into_id is not None:
            customer_id = customer.merged_into_id
            continue
        if customer.deleted_at is not None:
            break
        return customer
    raise NotFound("That customer no longer exists. It may have been deleted.")


def live_contact(session: Session, workspace_id: int, contact_id: int) -> Contact:
    contact = session.get(Contact, contact_id)
    if contact is None or contact.workspace_id != workspace_id or contact.deleted_at is not None:
        raise NotFound("That contact no longer exists.")
    return contact


def claim_once(session: Session, workspace_id: int, kind: str, key: str | None, message: str) -> None:
    """Claim ``kind:key`` (e.g. a modal's view id) inside the caller's transaction, or raise
    :class:`Conflict` with ``message`` when it was claimed before: a replayed or concurrent
    second submission of one form then writes nothing. The unique key decides the race on
    both databases; the claim is released with everything else if the transaction fails."""
    if not key:
        return
    try:
        with session.begin_nested():
            session.add(ProcessedEvent(workspace_id=workspace_id, event_key=f"{kind}:{key}"[:EVENT_KEY]))
    except IntegrityError:
        raise Conflict(message) from None


def add_alias(session: Session, customer: Customer, alias: str, source: AliasSource, actor: str) -> None:
    """Keep ``alias`` (a former name) findable for ``customer``, once."""
    normalized = normalize_name(alias)[:MAX_NAME]
    if not normalized or normalized == customer.normalized_name:
        return
    exists = session.scalar(
        select(func.count())
        .select_from(CustomerAlias)
        .where(CustomerAlias.customer_id == customer.id, CustomerAlias.normalized == normalized)
    )
    if not exists:
        session.add(
            CustomerAlias(
                workspace_id=customer.workspace_id,
                customer_id=customer.id,
                alias=alias[:MAX_NAME],
                normalized=normalized,
                source=source,
                created_by=actor,
            )
        )


def insert_contact(
    session: Session, customer: Customer, values: ContactValues, actor: str, *, audited: bool = True
) -> Contact:
    """Insert a contact; ``audited=False`` leaves the creation's audit entry to the caller."""
    contact = Contact(workspace_id=customer.workspace_id, customer_id=customer.id, created_by=actor, **values.columns())
    session.add(contact)
    session.flush()
    if audited:
        audit.change(session, contact, AuditAction.CREATE, actor=actor)
    return contact
