"""The fuller customer record: phone, addresses, industry, size, revenue, description, tags,
lifecycle stage (with its history) and custom fields; edited in one transaction.

Services take an :class:`~crm.actors.Actor`. Every bad value of a form is reported at once
(:class:`~crm.errors.InvalidFields`, one sentence per field) and nothing is written; a saved
edit is audited with the whole record before and after (tags and custom values included).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from crm import audit
from crm import custom_fields as cf
from crm.actors import Actor
from crm.customers.records import ALREADY_SAVED, apply_identity, creation_note, insert_customer
from crm.customers.store import claim_once, insert_contact, live_customer
from crm.customers.values import (
    AddressInput,
    Collected,
    ContactInput,
    clean_address,
    clean_contact,
    clean_name,
    clean_owner,
    clean_phone,
    clean_text,
    clean_website,
    recorded_id,
)
from crm.errors import InvalidInput
from crm.fields import DEFAULT_REGION
from crm.lifecycle import LifecycleStages
from crm.lookup import SearchRegistry, bump_search_version, touch_customer
from crm.models import PLACE, TAG, Customer, CustomerLifecycleChange, CustomerTag, utcnow
from crm.states import AuditAction, FieldEntity

MAX_DESCRIPTION = 3000  # what a Slack modal's text input holds
MAX_TAGS = 30
MAX_EMPLOYEES = 10_000_000
_COUNT = re.compile(r"\d{1,3}(,\d{3})+|\d+")


@dataclass(frozen=True)
class DetailsInput:
    """The fuller record as typed (nothing checked yet). ``tags`` is a list or "a, b; c"."""

    phone: str | None = None
    billing: AddressInput = field(default_factory=AddressInput)
    shipping: AddressInput = field(default_factory=AddressInput)
    industry: str | None = None
    employees: str | int | None = None
    annual_revenue: str | None = None
    revenue_currency: str | None = None
    description: str | None = None
    tags: str | list[str] | None = None


@dataclass(frozen=True)
class CustomerForm:
    """Everything the customer edit form holds, as typed."""

    name: str
    website: str | None = None
    owner_user_id: str | None = None
    details: DetailsInput = field(default_factory=DetailsInput)
    lifecycle_stage: str | None = None
    custom: dict[str, Any] = field(default_factory=dict)  # custom field key -> typed value


# -- cleaning ----------------------------------------------------------------------------------
def clean_employees(value: str | int | None) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    typed = str(value).strip()
    if isinstance(value, int) and not isinstance(value, bool):
        count = value
    elif _COUNT.fullmatch(typed.replace(" ", "")):
        count = int(typed.replace(",", "").replace(" ", ""))
    else:
        raise InvalidInput(
            f"“{typed[:30]}” isn't a number of employees; write a whole number such as 250 or 1,200.",
            field="employees",
        )
    if count < 0 or count > MAX_EMPLOYEES:
        raise InvalidInput(f"The number of employees must be between 0 and {MAX_EMPLOYEES:,}.", field="employees")
    return count


def clean_revenue(amount: str | None, currency: str | None) -> tuple[int | None, str | None]:
    """(minor units, ISO currency) for the annual revenue, exact like a deal's amount."""
    from crm.deals import clean_currency, parse_amount

    if not (amount or "").strip():
        return None, None
    try:
        code = clean_currency(currency)
    except InvalidInput as err:
        raise InvalidInput(err.message, field="annual_revenue") from None
    try:
        minor = parse_amount(amount, code)
    except InvalidInput as err:
        raise InvalidInput(f"Annual revenue: {err.message}", field="annual_revenue") from None
    return minor, code


def clean_tags(tags: str | list[str] | None) -> list[str]:
    """Tags as first typed, whitespace tidied, one per case-insensitive spelling, in order."""
    items = tags if isinstance(tags, list) else re.split(r"[,;\n]", tags or "")
    kept: dict[str, str] = {}
    for item in items:
        tag = " ".join(str(item).split()).lstrip("#")
        if not tag:
            continue
        if len(tag) > TAG:
            raise InvalidInput(f"The tag “{tag[:30]}…” is too long: at most {TAG} characters.", field="tags")
        kept.setdefault(tag.casefold(), tag)
    if len(kept) > MAX_TAGS:
        raise InvalidInput(f"A customer has at most {MAX_TAGS} tags; this has {len(kept)}.", field="tags")
    return list(kept.values())


def clean_description(text: str | None) -> str | None:
    """Kept with its line breaks (trailing spaces and control characters dropped)."""
    from crm.normalize import strip_control

    lines = [strip_control(line).rstrip() for line in (text or "").replace("\r\n", "\n").split("\n")]
    body = "\n".join(lines).strip()
    if len(body) > MAX_DESCRIPTION:
        raise InvalidInput(
            f"The description is {len(body):,} characters; at most {MAX_DESCRIPTION:,} fit. Shorten it, or keep "
            "the long version in a document and link it.",
            field="description",
        )
    return body or None


@dataclass(frozen=True)
class Details:
    """The cleaned fuller record: columns to set, and the tags."""

    columns: dict[str, Any]
    tags: list[str]


def clean_details(form: DetailsInput, errors: Collected, *, region: str = DEFAULT_REGION) -> Details:
    """The record's columns, each bad value's sentence gathered into ``errors`` by field."""
    phone = errors.take(lambda: clean_phone(form.phone, region=region, field="phone", label="phone"))
    billing = clean_address(form.billing, errors, prefix="billing_", label="billing")
    shipping = clean_address(form.shipping, errors, prefix="shipping_", label="shipping")
    industry = errors.take(lambda: clean_text(form.industry, limit=PLACE, field="industry", label="industry"))
    employees = errors.take(lambda: clean_employees(form.employees))
    revenue = errors.take(lambda: clean_revenue(form.annual_revenue, form.revenue_currency)) or (None, None)
    description = errors.take(lambda: clean_description(form.description))
    tags = errors.take(lambda: clean_tags(form.tags)) or []
    columns = {
        "phone": phone,
        **billing,
        **shipping,
        "industry": industry,
        "employees": employees,
        "annual_revenue_minor": revenue[0],
        "annual_revenue_currency": revenue[1],
        "description": description,
    }
    return Details(columns, tags)


def clean_lifecycle(stages: LifecycleStages, key: str | None, *, current: str | None = None) -> str | None:
    """An active stage key (or the customer's current, retired one, left as it is). Blank keeps the
    current stage: a stage, once set, is changed but never unset (its history stays meaningful)."""
    if not key:
        return current
    if key == current:
        return key
    stage = stages.resolve(key)
    if stage is None:
        raise InvalidInput(
            f"“{key[:40]}” isn't a lifecycle stage. Pick one of {stages.names()}.", field="lifecycle_stage"
        )
    return stage.key


# -- the record as history and audit see it ----------------------------------------------------
def record_snapshot(session: Session, customer: Customer) -> dict[str, Any]:
    """The audited columns plus tags and custom values (by field key)."""
    defs = cf.definitions.fields_in(session, customer.workspace_id, FieldEntity.CUSTOMER, include_retired=True)
    values = cf.load_values(session, customer.workspace_id, FieldEntity.CUSTOMER, [customer.id])[customer.id]
    return {**audit.snapshot(customer), "tags": tags_of(session, customer.id), "custom": cf.values_by_key(defs, values)}


def tags_of(session: Session, customer_id: int) -> list[str]:
    return list(
        session.scalars(
            select(CustomerTag.tag).where(CustomerTag.customer_id == customer_id).order_by(CustomerTag.normalized)
        )
    )


def _set_tags(session: Session, customer: Customer, tags: list[str], actor: str) -> None:
    wanted = {t.casefold(): t for t in tags}
    for row in list(customer.tags):
        if row.normalized not in wanted:
            customer.tags.remove(row)
        elif row.tag != wanted[row.normalized]:
            row.tag = wanted[row.normalized]
    have = {row.normalized for row in customer.tags}
    for norm, tag in wanted.items():
        if norm not in have:
            customer.tags.append(
                CustomerTag(workspace_id=customer.workspace_id, tag=tag, normalized=norm, created_by=actor)
            )


def _move_stage(session: Session, customer: Customer, stage: str | None, actor: str, now: datetime) -> bool:
    """Move the customer to ``stage``, kept in the history; False when it is already there."""
    if stage is None or stage == customer.lifecycle_stage:
        return False
    session.add(
        CustomerLifecycleChange(
            workspace_id=customer.workspace_id,
            customer_id=customer.id,
            from_stage=customer.lifecycle_stage,
            to_stage=stage,
            created_by=actor,
            created_at=now,
        )
    )
    customer.lifecycle_stage = stage
    return True


# -- services ------------------------------------------------------------------------------------
@dataclass
class RecordForm:
    """What an edit form starts from: the record, its tags, the live custom fields and values."""

    customer: Customer
    tags: list[str]
    fields: list[cf.FieldDef]
    values: dict[int, cf.StoredValue]


def record_form(sf: sessionmaker[Session], workspace_id: int, customer_id: int) -> RecordForm:
    with sf() as session:
        customer = live_customer(session, workspace_id, customer_id)
        defs = cf.definitions.fields_in(session, workspace_id, FieldEntity.CUSTOMER)
        values = cf.load_values(session, workspace_id, FieldEntity.CUSTOMER, [customer.id])[customer.id]
        return RecordForm(customer, tags_of(session, customer.id), defs, values)


def create_record(
    sf: sessionmaker[Session],
    registry: SearchRegistry,
    workspace_id: int,
    form: CustomerForm,
    *,
    actor: Actor,
    stages: LifecycleStages,
    contact: ContactInput | None = None,
    phone_region: str = DEFAULT_REGION,
    force: bool = False,
    idempotency_key: str | None = None,
    now: datetime | None = None,
) -> Customer:
    """Create a customer with its whole record (and optionally a first contact), all or nothing.

    Every bad field, the contact's included, is reported at once (:class:`~crm.errors.InvalidFields`)
    and nothing is written; ``DuplicateSuspected`` when it resembles a customer you have (unless
    ``force``, recorded with who chose it); ``Conflict`` when this very form was saved already.
    A lifecycle stage starts its history (from none, by the creator)."""
    by = recorded_id(actor.user_id)
    now = now or utcnow()
    errors = Collected()
    names = errors.take(lambda: clean_name(form.name))
    site = errors.take(lambda: clean_website(form.website)) or (None, None)
    owner = errors.take(lambda: clean_owner(form.owner_user_id))
    person = None
    if contact is not None and not contact.is_empty():
        person = errors.take(lambda: clean_contact(contact, region=phone_region))
    details = clean_details(form.details, errors, region=phone_region)
    stage = errors.take(lambda: clean_lifecycle(stages, form.lifecycle_stage))
    index = registry.index(workspace_id)
    with sf.begin() as session:
        defs = cf.definitions.fields_in(session, workspace_id, FieldEntity.CUSTOMER)
        custom = cf.clean_values(defs, form.custom, errors)
        errors.raise_any()
        assert names is not None
        customer, candidates = insert_customer(
            session,
            index,
            workspace_id,
            names=names,
            site=site,
            owner=owner or by,
            actor=by,
            emails=[person.email] if person is not None and person.email else [],
            force=force,
            idempotency_key=idempotency_key,
            columns=details.columns,
        )
        _set_tags(session, customer, details.tags, by)
        _move_stage(session, customer, stage, by, now)
        cf.save_values(session, workspace_id, FieldEntity.CUSTOMER, customer.id, custom, actor=by)
        session.flush()
        after = record_snapshot(session, customer)
        audit.change(
            session,
            customer,
            AuditAction.CREATE,
            actor=by,
            note=creation_note(candidates, "slack"),
            extra={k: after[k] for k in ("tags", "custom")},
        )
        if person is not None:
            insert_contact(session, customer, person, by)
    registry.refresh(workspace_id)
    return customer


def save_customer(
    sf: sessionmaker[Session],
    registry: SearchRegistry,
    workspace_id: int,
    customer_id: int,
    form: CustomerForm,
    *,
    actor: Actor,
    stages: LifecycleStages,
    phone_region: str = DEFAULT_REGION,
    force: bool = False,
    idempotency_key: str | None = None,
    now: datetime | None = None,
) -> Customer:
    """Save the whole edit form: name, website, owner, the fuller record, lifecycle stage and
    custom values, all or nothing. Raises :class:`~crm.errors.InvalidFields` with every bad
    field, ``DuplicateSuspected`` for a name or website another customer has (unless
    ``force``), ``Conflict`` when this very form was saved already."""
    by = recorded_id(actor.user_id)
    now = now or utcnow()
    errors = Collected()
    names = errors.take(lambda: clean_name(form.name))
    site = errors.take(lambda: clean_website(form.website)) or (None, None)
    owner = errors.take(lambda: clean_owner(form.owner_user_id))
    details = clean_details(form.details, errors, region=phone_region)
    index = registry.index(workspace_id, hint=(names[0],) if names else ())
    with sf.begin() as session:
        bump_search_version(session, workspace_id)
        customer = live_customer(session, workspace_id, customer_id)
        stage = errors.take(lambda: clean_lifecycle(stages, form.lifecycle_stage, current=customer.lifecycle_stage))
        defs = cf.definitions.fields_in(session, workspace_id, FieldEntity.CUSTOMER, include_retired=True)
        custom = cf.clean_values(defs, form.custom, errors)
        errors.raise_any()
        assert names is not None
        claim_once(session, workspace_id, "customer_edit", idempotency_key, ALREADY_SAVED)
        before = record_snapshot(session, customer)
        apply_identity(session, index, customer, names, site, owner, actor=by, force=force)
        for column, value in details.columns.items():
            setattr(customer, column, value)
        _set_tags(session, customer, details.tags, by)
        moved = _move_stage(session, customer, stage, by, now)
        cf.save_values(session, workspace_id, FieldEntity.CUSTOMER, customer.id, custom, actor=by)
        customer.updated_by = by
        touch_customer(session, customer)
        session.flush()
        after = record_snapshot(session, customer)
        action = AuditAction.LIFECYCLE if moved else AuditAction.UPDATE
        audit.change(
            session, customer, action, actor=by, before=before, extra={k: after[k] for k in ("tags", "custom")}
        )
    registry.refresh(workspace_id)
    return customer


def change_lifecycle(
    sf: sessionmaker[Session],
    workspace_id: int,
    customer_id: int,
    stage: str,
    *,
    actor: Actor,
    stages: LifecycleStages,
    now: datetime | None = None,
) -> tuple[Customer, bool]:
    """Move a customer to another lifecycle stage (any rep may), kept with who and when.

    Returns the customer and whether it moved (False when it was in that stage already)."""
    by = recorded_id(actor.user_id)
    now = now or utcnow()
    with sf.begin() as session:
        customer = live_customer(session, workspace_id, customer_id)
        session.refresh(customer, with_for_update=True)  # two reps moving it at once: one after the other
        key = clean_lifecycle(stages, stage, current=customer.lifecycle_stage)
        before = audit.snapshot(customer)
        moved = _move_stage(session, customer, key, by, now)
        if moved:
            customer.updated_by = by
            session.flush()
            audit.change(session, customer, AuditAction.LIFECYCLE, actor=by, before=before)
    return customer, moved


def lifecycle_history(sf: sessionmaker[Session], workspace_id: int, customer_id: int) -> list[CustomerLifecycleChange]:
    """Every lifecycle change of a customer, oldest first."""
    with sf() as session:
        customer = live_customer(session, workspace_id, customer_id)
        return list(
            session.scalars(
                select(CustomerLifecycleChange)
                .where(CustomerLifecycleChange.customer_id == customer.id)
                .order_by(CustomerLifecycleChange.created_at, CustomerLifecycleChange.id)
            )
        )


def conversions(
    sf: sessionmaker[Session], workspace_id: int, *, since: datetime, until: datetime, to_stage: str | None = None
) -> dict[str, int]:
    """How many customers entered each stage (or just ``to_stage``) in [since, until): one
    count per customer and stage, however often it went back and forth."""
    with sf() as session:
        query = (
            select(CustomerLifecycleChange.to_stage, func.count(func.distinct(CustomerLifecycleChange.customer_id)))
            .join(Customer, Customer.id == CustomerLifecycleChange.customer_id)
            .where(
                CustomerLifecycleChange.workspace_id == workspace_id,
                CustomerLifecycleChange.created_at >= since,
                CustomerLifecycleChange.created_at < until,
                Customer.deleted_at.is_(None),
            )
            .group_by(CustomerLifecycleChange.to_stage)
        )
        if to_stage is not None:
            query = query.where(CustomerLifecycleChange.to_stage == to_stage)
        return {stage: int(n) for stage, n in session.execute(query)}
