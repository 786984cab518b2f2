"""What the customer card and its history pages show: read-only queries with totals, so the
card can say "and N more"."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from crm import custom_fields as cf
from crm.customers.history import RecordChange, record_changes
from crm.customers.store import live_customer
from crm.models import Activity, Contact, Customer, CustomerTag, Deal, FollowUp
from crm.states import OPEN_STATUSES, FieldEntity

CLOSED_STAGES = ("won", "lost")


@dataclass
class CustomerCard:
    customer: Customer
    contacts: list[Contact]
    contact_count: int
    open_deals: list[Deal]
    open_deal_count: int
    activities: list[Activity]
    activity_count: int
    next_follow_up: FollowUp | None
    contact_names: dict[int, str] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    # The live custom fields that have a value, in their order.
    custom: list[tuple[cf.FieldDef, cf.StoredValue]] = field(default_factory=list)
    contact_custom: dict[int, list[tuple[cf.FieldDef, cf.StoredValue]]] = field(default_factory=dict)
    deal_custom: dict[int, list[tuple[cf.FieldDef, cf.StoredValue]]] = field(default_factory=dict)


@dataclass
class HistoryPage:
    customer: Customer
    activities: list[Activity]
    total: int
    page: int
    per_page: int
    contact_names: dict[int, str]
    changes: list[RecordChange] = field(default_factory=list)  # the record's latest edits (page 1 only)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def _count(session: Session, query) -> int:
    return session.scalar(query) or 0


def customer_card(
    sf: sessionmaker[Session],
    workspace_id: int,
    customer_id: int,
    *,
    contacts: int = 10,
    deals: int = 5,
    activities: int = 5,
) -> CustomerCard:
    with sf() as session:
        customer = live_customer(session, workspace_id, customer_id)
        cid = customer.id
        live_contacts = (Contact.customer_id == cid, Contact.deleted_at.is_(None))
        contact_rows = session.scalars(
            select(Contact).where(*live_contacts).order_by(Contact.name, Contact.id).limit(contacts)
        ).all()
        contact_count = _count(session, select(func.count()).select_from(Contact).where(*live_contacts))
        open_deals = (Deal.customer_id == cid, Deal.deleted_at.is_(None), Deal.stage.not_in(CLOSED_STAGES))
        deal_rows = session.scalars(
            select(Deal).where(*open_deals).order_by(Deal.expected_close.asc().nulls_last(), Deal.id).limit(deals)
        ).all()
        deal_count = _count(session, select(func.count()).select_from(Deal).where(*open_deals))
        activity_rows, activity_count = activity_page(session, cid, offset=0, limit=activities)
        names = _contact_names(session, [a.contact_id for a in activity_rows if a.contact_id])
        tags = list(
            session.scalars(
                select(CustomerTag.tag).where(CustomerTag.customer_id == cid).order_by(CustomerTag.normalized)
            )
        )
        custom = custom_rows(session, workspace_id, FieldEntity.CUSTOMER, [cid])[cid]
        contact_custom = custom_rows(session, workspace_id, FieldEntity.CONTACT, [c.id for c in contact_rows])
        deal_custom = custom_rows(session, workspace_id, FieldEntity.DEAL, [d.id for d in deal_rows])
        return CustomerCard(
            customer,
            list(contact_rows),
            contact_count,
            list(deal_rows),
            deal_count,
            activity_rows,
            activity_count,
            _next_follow_up(session, cid),
            names,
            tags,
            custom,
            contact_custom,
            deal_custom,
        )


def custom_rows(
    session: Session, workspace_id: int, entity: str, record_ids: list[int]
) -> dict[int, list[tuple[cf.FieldDef, cf.StoredValue]]]:
    """Per record, its values of the live custom fields, in the fields' order."""
    defs = cf.definitions.fields_in(session, workspace_id, entity)
    if not defs:
        return {rid: [] for rid in record_ids}
    values = cf.load_values(session, workspace_id, entity, record_ids)
    return {rid: [(d, values[rid][d.id]) for d in defs if d.id in values.get(rid, {})] for rid in record_ids}


def _next_follow_up(session: Session, customer_id: int) -> FollowUp | None:
    return session.scalars(
        select(FollowUp)
        .where(
            FollowUp.customer_id == customer_id,
            FollowUp.deleted_at.is_(None),
            FollowUp.status.in_(OPEN_STATUSES),
        )
        .order_by(FollowUp.due_at)
        .limit(1)
    ).first()


def _contact_names(session: Session, ids: list[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = session.execute(select(Contact.id, Contact.name).where(Contact.id.in_(ids)))
    return {contact_id: name for contact_id, name in rows}


def _live_activities(customer_id: int) -> tuple:
    return (Activity.customer_id == customer_id, Activity.deleted_at.is_(None))


def _activities(session: Session, customer_id: int, *, offset: int, limit: int) -> list[Activity]:
    query = select(Activity).where(*_live_activities(customer_id))
    query = query.order_by(Activity.occurred_at.desc(), Activity.id.desc()).offset(offset).limit(limit)
    return list(session.scalars(query).all())


def activity_page(session: Session, customer_id: int, *, offset: int, limit: int) -> tuple[list[Activity], int]:
    """Activities newest first from ``offset``, and how many there are in all."""
    total = _count(session, select(func.count()).select_from(Activity).where(*_live_activities(customer_id)))
    return _activities(session, customer_id, offset=offset, limit=limit), total


def customer_history(
    sf: sessionmaker[Session], workspace_id: int, customer_id: int, *, page: int = 1, per_page: int = 10
) -> HistoryPage:
    """One page of the customer's activities, newest first; a page past the end shows the last."""
    with sf() as session:
        customer = live_customer(session, workspace_id, customer_id)
        total = _count(session, select(func.count()).select_from(Activity).where(*_live_activities(customer.id)))
        page = min(max(1, page), max(1, -(-total // per_page)))
        rows = _activities(session, customer.id, offset=(page - 1) * per_page, limit=per_page)
        names = _contact_names(session, [a.contact_id for a in rows if a.contact_id])
        changes = record_changes(session, workspace_id, customer.id) if page == 1 else []
        return HistoryPage(customer, rows, total, page, per_page, names, changes)


def last_touch(sf: sessionmaker[Session], customer_id: int) -> datetime | None:
    with sf() as session:
        return session.scalar(
            select(func.max(Activity.occurred_at)).where(
                Activity.customer_id == customer_id, Activity.deleted_at.is_(None)
            )
        )
