"""Customers and contacts: look-up, create with a duplicate guard, edit, merge, and the card.

Plain functions over a session factory, one transaction each; they raise ``crm.errors``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from crm import audit
from crm.errors import Conflict, DuplicateSuspected, InvalidInput, NotFound, PermissionDenied
from crm.lookup import SearchRegistry, bump_search_version, touch_customer
from crm.models import Activity, Contact, Customer, CustomerAlias, Deal, FollowUp, utcnow
from crm.normalize import (
    extract_domain,
    is_free_email_domain,
    is_valid_domain,
    is_valid_email,
    normalize_name,
    normalize_phone,
    strip_control,
)
from crm.search import CustomerIndex, Match, classify

MAX_NAME = 255
DUPLICATE_MIN_SCORE = 80.0
CLOSED_STAGES = ("won", "lost")


# -- values -----------------------------------------------------------------------------
def clean_text(value: str | None, *, limit: int, field: str, label: str, required: bool = False) -> str | None:
    """Strip control characters and whitespace; enforce presence and length."""
    text = " ".join(strip_control(value or "").split())
    if not text:
        if required:
            raise InvalidInput(f"Please enter a {label}.", field=field)
        return None
    if len(text) > limit:
        raise InvalidInput(f"The {label} is too long: at most {limit} characters.", field=field)
    return text


def clean_name(name: str | None, *, field: str = "name", label: str = "name") -> tuple[str, str]:
    """A display name and its normalised form; the name must have a letter or digit."""
    text = clean_text(name, limit=MAX_NAME, field=field, label=label, required=True)
    assert text is not None
    normalized = normalize_name(text)
    if not normalized:
        raise InvalidInput(f"The {label} needs at least one letter or digit.", field=field)
    return text, normalized


def clean_website(website: str | None) -> tuple[str | None, str | None]:
    """(website as typed, its domain) or (None, None); raise on something that is no domain."""
    text = clean_text(website, limit=255, field="website", label="website")
    if text is None:
        return None, None
    domain = extract_domain(text)
    if not domain or not is_valid_domain(domain) or "@" in text:
        raise InvalidInput(f"“{text[:60]}” isn't a website. Try acme.com or https://www.acme.com.", field="website")
    return text, domain


def clean_email(email: str | None) -> str | None:
    text = clean_text(email, limit=320, field="email", label="email")
    if text is None:
        return None
    text = text.lower()
    if not is_valid_email(text):
        raise InvalidInput(f"“{text[:60]}” isn't an email address. Try bob@acme.com.", field="email")
    return text


def clean_phone(phone: str | None) -> str | None:
    text = clean_text(phone, limit=64, field="phone", label="phone number")
    return normalize_phone(text) if text else None


@dataclass(frozen=True)
class ContactInput:
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    title: str | None = None

    def is_empty(self) -> bool:
        return not any((self.name or "").strip() or (v or "").strip() for v in (self.email, self.phone, self.title))


@dataclass(frozen=True)
class DuplicateCandidate:
    customer_id: int
    name: str
    reasons: tuple[str, ...]
    score: float


@dataclass
class LookupResult:
    kind: Literal["winner", "ambiguous", "none"]
    matches: list[Match]
    customers: dict[int, Customer] = field(default_factory=dict)

    @property
    def winner(self) -> Customer | None:
        if self.kind != "winner" or not self.matches:
            return None
        return self.customers.get(self.matches[0].customer_id)


# -- queries ----------------------------------------------------------------------------
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


def get_customer(sf: sessionmaker[Session], workspace_id: int, customer_id: int) -> Customer:
    with sf() as session:
        return live_customer(session, workspace_id, customer_id)


def find_customers(
    sf: sessionmaker[Session], registry: SearchRegistry, workspace_id: int, query: str, *, limit: int = 8
) -> LookupResult:
    """Fuzzy look-up; the result says whether one customer clearly won."""
    matches = registry.search(workspace_id, query, limit=limit)
    if not matches:
        return LookupResult("none", [])
    with sf() as session:
        rows = session.scalars(
            select(Customer).where(
                Customer.workspace_id == workspace_id,
                Customer.id.in_([m.customer_id for m in matches]),
                Customer.deleted_at.is_(None),
                Customer.merged_into_id.is_(None),
            )
        ).all()
    customers = {c.id: c for c in rows}
    matches = [m for m in matches if m.customer_id in customers]
    return LookupResult(classify(matches), matches, customers)


def duplicate_candidates(
    session: Session,
    index: CustomerIndex,
    workspace_id: int,
    *,
    name: str,
    domain: str | None,
    emails: list[str],
    exclude_id: int | None = None,
) -> list[DuplicateCandidate]:
    """Customers the new values resemble: same name, close name, same domain, same contact email.

    ``index`` is the workspace's search index, fetched *before* the caller's transaction
    began (refreshing it opens its own session, which SQLite would make wait on ours).
    """
    found: dict[int, dict] = {}

    def note(cid: int, cname: str, reason: str, score: float) -> None:
        if cid == exclude_id:
            return
        entry = found.setdefault(cid, {"name": cname, "reasons": [], "score": 0.0})
        if reason not in entry["reasons"]:
            entry["reasons"].append(reason)
        entry["score"] = max(entry["score"], score)

    live = (Customer.workspace_id == workspace_id, Customer.deleted_at.is_(None), Customer.merged_into_id.is_(None))
    normalized = normalize_name(name)
    # Exact checks read the database inside the caller's (locked) transaction: race-safe.
    for c in session.scalars(select(Customer).where(*live, Customer.normalized_name == normalized)):
        note(c.id, c.name, "same name", 100.0)
    for cid, cname in session.execute(
        select(Customer.id, Customer.name)
        .join(CustomerAlias, CustomerAlias.customer_id == Customer.id)
        .where(*live, CustomerAlias.normalized == normalized)
    ):
        note(cid, cname, "same as a former name", 100.0)
    if domain:
        for c in session.scalars(select(Customer).where(*live, Customer.domain == domain)):
            note(c.id, c.name, f"same website ({domain})", 100.0)
    for email in emails:
        rows = session.execute(
            select(Customer.id, Customer.name)
            .join(Contact, Contact.customer_id == Customer.id)
            .where(*live, Contact.email == email, Contact.deleted_at.is_(None))
        )
        for cid, cname in rows:
            note(cid, cname, f"has contact {email}", 100.0)
        email_domain = email.rsplit("@", 1)[-1]
        if not is_free_email_domain(email_domain):
            for c in session.scalars(select(Customer).where(*live, Customer.domain == email_domain)):
                note(c.id, c.name, f"website matches {email_domain}", 95.0)
    # Fuzzy: close names ("Acme Corp" vs "ACME Corporation Intl").
    for m in index.search(name, limit=5):
        if m.score >= DUPLICATE_MIN_SCORE and m.kind in ("name", "alias"):
            c = session.get(Customer, m.customer_id)
            if c is not None and c.deleted_at is None and c.merged_into_id is None:
                note(c.id, c.name, f"similar name ({m.score:.0f}%)", m.score)
    ranked = sorted(found.items(), key=lambda kv: -kv[1]["score"])
    return [DuplicateCandidate(cid, v["name"], tuple(v["reasons"]), v["score"]) for cid, v in ranked[:5]]


# -- create and edit --------------------------------------------------------------------
def create_customer(
    sf: sessionmaker[Session],
    registry: SearchRegistry,
    workspace_id: int,
    *,
    actor: str,
    name: str,
    website: str | None = None,
    owner_user_id: str | None = None,
    contact: ContactInput | None = None,
    force: bool = False,
    source: str = "slack",
) -> Customer:
    """Create a customer (and optionally its first contact).

    Raises ``DuplicateSuspected`` when it resembles an existing customer, unless
    ``force`` ("Create anyway"), which is recorded with who chose it.
    """
    display, normalized = clean_name(name)
    site, domain = clean_website(website)
    contact_values = None
    if contact is not None and not contact.is_empty():
        contact_values = _clean_contact(contact)
    emails = [contact_values["email"]] if contact_values and contact_values["email"] else []
    index = registry.index(workspace_id)
    with sf.begin() as session:
        version = bump_search_version(session, workspace_id)  # serialises creators per workspace
        candidates = duplicate_candidates(session, index, workspace_id, name=display, domain=domain, emails=emails)
        if candidates and not force:
            raise DuplicateSuspected("This looks like a customer you already have.", candidates)
        customer = Customer(
            workspace_id=workspace_id,
            name=display,
            normalized_name=normalized,
            website=site,
            domain=domain,
            owner_user_id=owner_user_id or actor,
            created_by=actor,
            index_version=version,
            duplicate_override_by=actor if candidates else None,
        )
        session.add(customer)
        session.flush()
        audit.change(
            session,
            customer,
            "create",
            actor=actor,
            note=(
                "created anyway despite likely duplicates: "
                + ", ".join(f"{c.name} (#{c.customer_id}: {'; '.join(c.reasons)})" for c in candidates)
            )
            if candidates
            else f"source: {source}",
        )
        if contact_values:
            _insert_contact(session, customer, contact_values, actor)
    registry.refresh(workspace_id)
    return customer


def update_customer(
    sf: sessionmaker[Session],
    registry: SearchRegistry,
    workspace_id: int,
    customer_id: int,
    *,
    actor: str,
    name: str,
    website: str | None,
    owner_user_id: str | None,
    force: bool = False,
) -> Customer:
    """Edit a customer. A new name keeps the old one as an alias, so it stays findable."""
    display, normalized = clean_name(name)
    site, domain = clean_website(website)
    index = registry.index(workspace_id)
    with sf.begin() as session:
        bump_search_version(session, workspace_id)
        customer = live_customer(session, workspace_id, customer_id)
        before = audit.snapshot(customer)
        if normalized != customer.normalized_name or (domain and domain != customer.domain):
            candidates = duplicate_candidates(
                session, index, workspace_id, name=display, domain=domain, emails=[], exclude_id=customer.id
            )
            if candidates and not force:
                raise DuplicateSuspected("Another customer already looks like this.", candidates)
        old_name = customer.name
        customer.name, customer.normalized_name = display, normalized
        if normalize_name(old_name) != normalized:
            _add_alias(session, customer, old_name, "rename", actor)
        customer.website, customer.domain = site, domain
        customer.owner_user_id = owner_user_id or customer.owner_user_id
        customer.updated_by = actor
        touch_customer(session, customer)
        audit.change(
            session,
            customer,
            "update",
            actor=actor,
            before=before,
        )
    registry.refresh(workspace_id)
    return customer


def _add_alias(session: Session, customer: Customer, alias: str, source: str, actor: str) -> None:
    normalized = normalize_name(alias)
    exists = session.scalar(
        select(func.count())
        .select_from(CustomerAlias)
        .where(CustomerAlias.customer_id == customer.id, CustomerAlias.normalized == normalized)
    )
    if not exists and normalized and normalized != customer.normalized_name:
        session.add(
            CustomerAlias(
                workspace_id=customer.workspace_id,
                customer_id=customer.id,
                alias=alias[:MAX_NAME],
                normalized=normalized[:MAX_NAME],
                source=source,
                created_by=actor,
            )
        )


# -- contacts ---------------------------------------------------------------------------
def _clean_contact(contact: ContactInput) -> dict:
    name, normalized = clean_name(contact.name, field="contact_name", label="contact name")
    try:
        email = clean_email(contact.email)
    except InvalidInput as err:
        raise InvalidInput(err.message, field="contact_email") from None
    try:
        phone = clean_phone(contact.phone)
    except InvalidInput as err:
        raise InvalidInput(err.message, field="contact_phone") from None
    title = clean_text(contact.title, limit=255, field="contact_title", label="title")
    return {"name": name, "normalized_name": normalized, "email": email, "phone": phone, "title": title}


def _insert_contact(session: Session, customer: Customer, values: dict, actor: str) -> Contact:
    contact = Contact(workspace_id=customer.workspace_id, customer_id=customer.id, created_by=actor, **values)
    session.add(contact)
    session.flush()
    audit.change(
        session,
        contact,
        "create",
        actor=actor,
    )
    return contact


def _contact_conflicts(
    session: Session, customer: Customer, values: dict, exclude_id: int | None
) -> tuple[Contact | None, Contact | None]:
    """(a contact anywhere in the workspace with this email, one at this customer with this name)."""
    same_email = None
    if values["email"]:
        same_email = session.scalars(
            select(Contact).where(
                Contact.workspace_id == customer.workspace_id,
                Contact.email == values["email"],
                Contact.deleted_at.is_(None),
                Contact.id != (exclude_id or 0),
            )
        ).first()
    same_name = session.scalars(
        select(Contact).where(
            Contact.customer_id == customer.id,
            Contact.normalized_name == values["normalized_name"],
            Contact.deleted_at.is_(None),
            Contact.id != (exclude_id or 0),
        )
    ).first()
    return same_email, same_name


def add_contact(
    sf: sessionmaker[Session],
    registry: SearchRegistry,
    workspace_id: int,
    customer_id: int,
    contact: ContactInput,
    *,
    actor: str,
    force_name: bool = False,
) -> Contact:
    """Add a contact. A used email is always refused; a repeated name needs ``force_name``."""
    values = _clean_contact(contact)
    with sf.begin() as session:
        bump_search_version(session, workspace_id)
        customer = live_customer(session, workspace_id, customer_id)
        same_email, same_name = _contact_conflicts(session, customer, values, None)
        if same_email is not None:
            owner = session.get(Customer, same_email.customer_id)
            raise InvalidInput(
                f"{values['email']} is already {same_email.name}'s email at {owner.name if owner else 'a customer'}.",
                field="contact_email",
            )
        if same_name is not None and not force_name:
            raise DuplicateSuspected(
                f"{customer.name} already has a contact called {same_name.name}.",
                [same_name],
                field="contact_name",
            )
        created = _insert_contact(session, customer, values, actor)
        touch_customer(session, customer)
    registry.refresh(workspace_id)
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
) -> Contact:
    values = _clean_contact(contact)
    with sf.begin() as session:
        bump_search_version(session, workspace_id)
        existing = session.get(Contact, contact_id)
        if existing is None or existing.workspace_id != workspace_id or existing.deleted_at is not None:
            raise NotFound("That contact no longer exists.")
        customer = live_customer(session, workspace_id, existing.customer_id)
        same_email, same_name = _contact_conflicts(session, customer, values, existing.id)
        if same_email is not None:
            raise InvalidInput(f"{values['email']} is already {same_email.name}'s email.", field="contact_email")
        if same_name is not None and not force_name:
            raise DuplicateSuspected(
                f"{customer.name} already has a contact called {same_name.name}.", [same_name], field="contact_name"
            )
        before = audit.snapshot(existing)
        for key, value in values.items():
            setattr(existing, key, value)
        existing.updated_by = actor
        touch_customer(session, customer)
        audit.change(
            session,
            existing,
            "update",
            actor=actor,
            before=before,
        )
    registry.refresh(workspace_id)
    return existing


def get_contact(sf: sessionmaker[Session], workspace_id: int, contact_id: int) -> Contact:
    with sf() as session:
        contact = session.get(Contact, contact_id)
        if contact is None or contact.workspace_id != workspace_id or contact.deleted_at is not None:
            raise NotFound("That contact no longer exists.")
        return contact


def delete_contact(
    sf: sessionmaker[Session], registry: SearchRegistry, workspace_id: int, contact_id: int, *, actor: str
) -> Contact:
    """Soft-delete a contact (activities keep pointing at it)."""
    with sf.begin() as session:
        bump_search_version(session, workspace_id)
        contact = session.get(Contact, contact_id)
        if contact is None or contact.workspace_id != workspace_id or contact.deleted_at is not None:
            raise NotFound("That contact no longer exists.")
        before = audit.snapshot(contact)
        contact.deleted_at, contact.deleted_by = utcnow(), actor
        customer = session.get(Customer, contact.customer_id)
        if customer is not None:
            touch_customer(session, customer)
        audit.change(
            session,
            contact,
            "delete",
            actor=actor,
            before=before,
        )
    registry.refresh(workspace_id)
    return contact


# -- merge ------------------------------------------------------------------------------
@dataclass(frozen=True)
class MergePreview:
    duplicate: Customer
    keeper: Customer
    contacts: int
    deals: int
    activities: int
    follow_ups: int


def _counts(session: Session, customer_id: int) -> tuple[int, int, int, int]:
    def count(model) -> int:
        return session.scalar(
            select(func.count()).select_from(model).where(model.customer_id == customer_id, model.deleted_at.is_(None))
        )

    return count(Contact), count(Deal), count(Activity), count(FollowUp)


def merge_preview(sf: sessionmaker[Session], workspace_id: int, duplicate_id: int, keeper_id: int) -> MergePreview:
    if duplicate_id == keeper_id:
        raise InvalidInput("Those are the same customer; pick two different ones.")
    with sf() as session:
        duplicate = live_customer(session, workspace_id, duplicate_id)
        keeper = live_customer(session, workspace_id, keeper_id)
        if duplicate.id == keeper.id:
            raise InvalidInput(f"{duplicate.name} was already merged into {keeper.name}.")
        return MergePreview(duplicate, keeper, *_counts(session, duplicate.id))


def merge_customers(
    sf: sessionmaker[Session],
    registry: SearchRegistry,
    workspace_id: int,
    duplicate_id: int,
    keeper_id: int,
    *,
    actor: str,
    actor_is_admin: bool,
) -> MergePreview:
    """Move everything from the duplicate to the keeper; the duplicate's name becomes an alias.

    The duplicate row stays (soft-deleted, ``merged_into_id`` set) so nothing is lost and
    links to it still resolve to the keeper.
    """
    if not actor_is_admin:
        raise PermissionDenied("Only workspace admins can merge customers.")
    if duplicate_id == keeper_id:
        raise InvalidInput("Those are the same customer; pick two different ones.")
    with sf.begin() as session:
        version = bump_search_version(session, workspace_id)
        duplicate = session.get(Customer, duplicate_id)
        keeper = session.get(Customer, keeper_id)
        for c in (duplicate, keeper):
            if c is None or c.workspace_id != workspace_id:
                raise NotFound("That customer no longer exists.")
        if duplicate.merged_into_id is not None or duplicate.deleted_at is not None:
            raise Conflict(f"{duplicate.name} was already merged or deleted; nothing to do.")
        if keeper.merged_into_id is not None or keeper.deleted_at is not None:
            raise Conflict(f"{keeper.name} was merged or deleted meanwhile; pick the customer it became.")
        counts = _counts(session, duplicate.id)
        moved = {}
        for model in (Contact, Deal, Activity, FollowUp):
            result = session.execute(
                update(model)
                .where(model.customer_id == duplicate.id, model.workspace_id == workspace_id)
                .values(customer_id=keeper.id)
                .execution_options(synchronize_session=False)
            )
            moved[model.__tablename__] = result.rowcount
        session.execute(
            update(CustomerAlias)
            .where(CustomerAlias.customer_id == duplicate.id)
            .values(customer_id=keeper.id)
            .execution_options(synchronize_session=False)
        )
        _add_alias(session, keeper, duplicate.name, "merge", actor)
        if duplicate.website and not keeper.website:
            keeper.website, keeper.domain = duplicate.website, duplicate.domain
        before = audit.snapshot(duplicate)
        duplicate.merged_into_id = keeper.id
        duplicate.deleted_at, duplicate.deleted_by = utcnow(), actor
        duplicate.index_version = keeper.index_version = version
        keeper.updated_by = actor
        audit.change(
            session,
            duplicate,
            "merge",
            actor=actor,
            before=before,
            note=f"merged {duplicate.name} (#{duplicate.id}) into {keeper.name} (#{keeper.id})",
            extra={"moved": moved},
        )
        preview = MergePreview(duplicate, keeper, *counts)
    registry.refresh(workspace_id)
    return preview


# -- the card ---------------------------------------------------------------------------
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


def customer_card(
    sf: sessionmaker[Session],
    workspace_id: int,
    customer_id: int,
    *,
    contacts: int = 10,
    deals: int = 5,
    activities: int = 5,
) -> CustomerCard:
    """What the customer card shows, with totals so the card can say "and N more"."""
    with sf() as session:
        customer = live_customer(session, workspace_id, customer_id)
        cid = customer.id
        contact_rows = session.scalars(
            select(Contact)
            .where(Contact.customer_id == cid, Contact.deleted_at.is_(None))
            .order_by(Contact.name, Contact.id)
            .limit(contacts)
        ).all()
        contact_count = session.scalar(
            select(func.count()).select_from(Contact).where(Contact.customer_id == cid, Contact.deleted_at.is_(None))
        )
        open_filter = (Deal.customer_id == cid, Deal.deleted_at.is_(None), Deal.stage.not_in(CLOSED_STAGES))
        deal_rows = session.scalars(
            select(Deal).where(*open_filter).order_by(Deal.expected_close.asc().nulls_last(), Deal.id).limit(deals)
        ).all()
        deal_count = session.scalar(select(func.count()).select_from(Deal).where(*open_filter))
        activity_rows, activity_count = activity_page(session, cid, offset=0, limit=activities)
        follow_up = session.scalars(
            select(FollowUp)
            .where(
                FollowUp.customer_id == cid,
                FollowUp.deleted_at.is_(None),
                FollowUp.status.in_(("open", "snoozed")),
            )
            .order_by(FollowUp.due_at)
            .limit(1)
        ).first()
        names = _contact_names(session, [a.contact_id for a in activity_rows if a.contact_id])
        return CustomerCard(
            customer,
            list(contact_rows),
            contact_count,
            list(deal_rows),
            deal_count,
            activity_rows,
            activity_count,
            follow_up,
            names,
        )


def _contact_names(session: Session, ids: list[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(session.execute(select(Contact.id, Contact.name).where(Contact.id.in_(ids))).all())


def activity_page(session: Session, customer_id: int, *, offset: int, limit: int) -> tuple[list[Activity], int]:
    where = (Activity.customer_id == customer_id, Activity.deleted_at.is_(None))
    rows = session.scalars(
        select(Activity)
        .where(*where)
        .order_by(Activity.occurred_at.desc(), Activity.id.desc())
        .offset(offset)
        .limit(limit)
    ).all()
    total = session.scalar(select(func.count()).select_from(Activity).where(*where))
    return list(rows), total


@dataclass
class HistoryPage:
    customer: Customer
    activities: list[Activity]
    total: int
    page: int
    per_page: int
    contact_names: dict[int, str]

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def customer_history(
    sf: sessionmaker[Session], workspace_id: int, customer_id: int, *, page: int = 1, per_page: int = 10
) -> HistoryPage:
    page = max(1, page)
    with sf() as session:
        customer = live_customer(session, workspace_id, customer_id)
        rows, total = activity_page(session, customer.id, offset=(page - 1) * per_page, limit=per_page)
        names = _contact_names(session, [a.contact_id for a in rows if a.contact_id])
        return HistoryPage(customer, rows, total, page, per_page, names)


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


def last_touch(sf: sessionmaker[Session], customer_id: int) -> datetime | None:
    with sf() as session:
        return session.scalar(
            select(func.max(Activity.occurred_at)).where(
                Activity.customer_id == customer_id, Activity.deleted_at.is_(None)
            )
        )
