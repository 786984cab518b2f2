"""Contacts: the people at a customer. Add, edit, remove (softly), list.

An email belongs to one live contact in the workspace; a second contact with the same name
at one customer needs ``force_name`` ("Save anyway"). A form's ``idempotency_key`` makes a
replayed or concurrent second submission raise :class:`~crm.errors.Conflict`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from crm import audit
from crm import custom_fields as cf
from crm.customers.store import claim_once, insert_contact, live_contact, live_customer
from crm.customers.values import Collected, ContactInput, ContactValues, clean_contact, recorded_id
from crm.errors import DuplicateSuspected, InvalidInput
from crm.fields import DEFAULT_REGION
from crm.lookup import SearchRegistry, bump_search_version, touch_customer
from crm.models import Contact, Customer, utcnow
from crm.states import AuditAction, FieldEntity

ALREADY_ADDED = "This contact was already saved from this form."


@contextmanager
def _changing_contacts(sf: sessionmaker[Session], registry: SearchRegistry, workspace_id: int) -> Iterator[Session]:
    """The transaction of a change to the workspace's contacts, which the search index holds too:
    its version is bumped inside (serialising such changes), and the index refreshed after."""
    with sf.begin() as session:
        bump_search_version(session, workspace_id)
        yield session
    registry.refresh(workspace_id)


def _conflicts(
    session: Session, customer: Customer, values: ContactValues, exclude_id: int | None
) -> tuple[Contact | None, Contact | None]:
    """(a contact anywhere in the workspace with this email, one at this customer with this name)."""
    same_email = None
    if values.email:
        same_email = session.scalars(
            select(Contact).where(
                Contact.workspace_id == customer.workspace_id,
                Contact.email == values.email,
                Contact.deleted_at.is_(None),
                Contact.id != (exclude_id or 0),
            )
        ).first()
    same_name = session.scalars(
        select(Contact).where(
            Contact.customer_id == customer.id,
            Contact.normalized_name == values.normalized_name,
            Contact.deleted_at.is_(None),
            Contact.id != (exclude_id or 0),
        )
    ).first()
    return same_email, same_name


def _refuse_conflicts(
    session: Session, customer: Customer, values: ContactValues, exclude_id: int | None, force_name: bool
) -> None:
    same_email, same_name = _conflicts(session, customer, values, exclude_id)
    if same_email is not None:
        holder = session.get(Customer, same_email.customer_id)
        where = f" at {holder.name}" if holder is not None else ""
        raise InvalidInput(f"{values.email} is already {same_email.name}'s email{where}.", field="contact_email")
    if same_name is not None and not force_name:
        raise DuplicateSuspected(
            f"{customer.name} already has a contact called {same_name.name}.", [same_name], field="contact_name"
        )


def _custom(
    session: Session, workspace_id: int, raw: dict[str, Any] | None, errors: Collected
) -> tuple[list[cf.FieldDef], dict[int, cf.StoredValue | None]]:
    defs = cf.definitions.fields_in(session, workspace_id, FieldEntity.CONTACT, include_retired=True)
    return defs, cf.clean_values(defs, raw or {}, errors)


def _custom_after(session: Session, contact: Contact, defs: list[cf.FieldDef]) -> dict[str, Any]:
    values = cf.load_values(session, contact.workspace_id, FieldEntity.CONTACT, [contact.id])[contact.id]
    return cf.values_by_key(defs, values)


def contact_form(
    sf: sessionmaker[Session], workspace_id: int, contact_id: int | None
) -> tuple[Contact | None, list[cf.FieldDef], dict[int, cf.StoredValue]]:
    """What the contact form starts from: the contact (None for a new one), the live custom
    fields of contacts, and its values."""
    with sf() as session:
        contact = live_contact(session, workspace_id, contact_id) if contact_id else None
        defs = cf.definitions.fields_in(session, workspace_id, FieldEntity.CONTACT)
        values = cf.load_values(session, workspace_id, FieldEntity.CONTACT, [contact.id])[contact.id] if contact else {}
        return contact, defs, values


def add_contact(
    sf: sessionmaker[Session],
    registry: SearchRegistry,
    workspace_id: int,
    customer_id: int,
    contact: ContactInput,
    *,
    actor: str,
    force_name: bool = False,
    idempotency_key: str | None = None,
    region: str = DEFAULT_REGION,
    custom: dict[str, Any] | None = None,
) -> Contact:
    """Add a contact. A used email is always refused; a repeated name needs ``force_name``.
    ``custom`` holds custom field values by key; every bad field is reported at once."""
    actor = recorded_id(actor)
    errors = Collected()
    values = errors.take(lambda: clean_contact(contact, region=region))
    with _changing_contacts(sf, registry, workspace_id) as session:
        customer = live_customer(session, workspace_id, customer_id)
        defs, cleaned = _custom(session, workspace_id, custom, errors)
        errors.raise_any()
        assert values is not None
        claim_once(session, workspace_id, "contact_add", idempotency_key, ALREADY_ADDED)
        _refuse_conflicts(session, customer, values, None, force_name)
        created = insert_contact(session, customer, values, actor, audited=not cleaned)
        if cleaned:
            cf.save_values(session, workspace_id, FieldEntity.CONTACT, created.id, cleaned, actor=actor)
            extra = {"custom": _custom_after(session, created, defs)}
            audit.change(session, created, AuditAction.CREATE, actor=actor, extra=extra)
        touch_customer(session, customer)
    return created


def update_contact(
    sf: sessionmaker[Session],
    registry: SearchRegistry,
    workspace_id: int,
    contact_id: int,
    contact: ContactInput,
    *,
    actor: str,
    force_name: bool = False,
    idempotency_key: str | None = None,
    region: str = DEFAULT_REGION,
    custom: dict[str, Any] | None = None,
) -> Contact:
    actor = recorded_id(actor)
    errors = Collected()
    values = errors.take(lambda: clean_contact(contact, region=region))
    with _changing_contacts(sf, registry, workspace_id) as session:
        existing = live_contact(session, workspace_id, contact_id)
        customer = live_customer(session, workspace_id, existing.customer_id)
        defs, cleaned = _custom(session, workspace_id, custom, errors)
        errors.raise_any()
        assert values is not None
        claim_once(session, workspace_id, "contact_edit", idempotency_key, ALREADY_ADDED)
        _refuse_conflicts(session, customer, values, existing.id, force_name)
        before = {**audit.snapshot(existing), "custom": _custom_after(session, existing, defs)}
        for key, value in values.columns().items():
            setattr(existing, key, value)
        existing.updated_by = actor
        cf.save_values(session, workspace_id, FieldEntity.CONTACT, existing.id, cleaned, actor=actor)
        touch_customer(session, customer)
        extra = {"custom": _custom_after(session, existing, defs)}
        audit.change(session, existing, AuditAction.UPDATE, actor=actor, before=before, extra=extra)
    return existing


def get_contact(sf: sessionmaker[Session], workspace_id: int, contact_id: int) -> Contact:
    with sf() as session:
        return live_contact(session, workspace_id, contact_id)


def delete_contact(
    sf: sessionmaker[Session], registry: SearchRegistry, workspace_id: int, contact_id: int, *, actor: str
) -> Contact:
    """Soft-delete a contact (activities keep pointing at it). Removing it twice finds it gone."""
    actor = recorded_id(actor)
    with _changing_contacts(sf, registry, workspace_id) as session:
        contact = live_contact(session, workspace_id, contact_id)
        before = audit.snapshot(contact)
        contact.deleted_at, contact.deleted_by = utcnow(), actor
        customer = session.get(Customer, contact.customer_id)
        if customer is not None:
            touch_customer(session, customer)
        audit.change(session, contact, AuditAction.DELETE, actor=actor, before=before)
    return contact


def list_contacts(sf: sessionmaker[Session], workspace_id: int, customer_id: int, *, limit: int = 100) -> list[Contact]:
    with sf() as session:
        customer = live_customer(session, workspace_id, customer_id)
        return list(
            session.scalars(
                select(Contact)
                .where(Contact.customer_id == customer.id, Contact.deleted_at.is_(None))
                .order_by(Contact.name)
                .limit(limit)
            )
        )
