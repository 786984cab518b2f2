"""Customers: look-up, create with a duplicate guard, and edit.

Plain functions over a session factory, one transaction each; they raise ``crm.errors``.
A form's ``idempotency_key`` (the modal's view id) makes a replayed or concurrent second
submission raise :class:`~crm.errors.Conflict` and write nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from crm import audit
from crm.customers.store import add_alias, claim_once, insert_contact, live_customer
from crm.customers.values import (
    ContactInput,
    clean_contact,
    clean_name,
    clean_owner,
    clean_website,
    recorded_id,
)
from crm.errors import DuplicateSuspected
from crm.fields import DEFAULT_REGION
from crm.lookup import SearchRegistry, bump_search_version, touch_customer
from crm.models import Contact, Customer, CustomerAlias
from crm.normalize import is_free_email_domain, normalize_name
from crm.search import CustomerIndex, Match, classify
from crm.states import AliasSource, AuditAction

DUPLICATE_MIN_SCORE = 80.0
ALREADY_CREATED = "This customer was already created from this form."
ALREADY_SAVED = "These changes were already saved."


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


class _Found:
    """Duplicate candidates gathered from several checks, best reason score kept per customer."""

    def __init__(self, exclude_id: int | None) -> None:
        self.exclude_id = exclude_id
        self.names: dict[int, str] = {}
        self.reasons: dict[int, list[str]] = {}
        self.scores: dict[int, float] = {}

    def note(self, cid: int, name: str, reason: str, score: float) -> None:
        if cid == self.exclude_id:
            return
        self.names.setdefault(cid, name)
        reasons = self.reasons.setdefault(cid, [])
        if reason not in reasons:
            reasons.append(reason)
        self.scores[cid] = max(self.scores.get(cid, 0.0), score)

    def ranked(self, limit: int = 5) -> list[DuplicateCandidate]:
        order = sorted(self.scores, key=lambda cid: -self.scores[cid])[:limit]
        return [DuplicateCandidate(c, self.names[c], tuple(self.reasons[c]), self.scores[c]) for c in order]


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
    found = _Found(exclude_id)
    live = (Customer.workspace_id == workspace_id, Customer.deleted_at.is_(None), Customer.merged_into_id.is_(None))
    normalized = normalize_name(name)
    # Exact checks read the database inside the caller's (locked) transaction: race-safe.
    for c in session.scalars(select(Customer).where(*live, Customer.normalized_name == normalized)):
        found.note(c.id, c.name, "same name", 100.0)
    former = (
        select(Customer.id, Customer.name)
        .join(CustomerAlias, CustomerAlias.customer_id == Customer.id)
        .where(*live, CustomerAlias.normalized == normalized)
    )
    for cid, cname in session.execute(former):
        found.note(cid, cname, "same as a former name", 100.0)
    if domain:
        for c in session.scalars(select(Customer).where(*live, Customer.domain == domain)):
            found.note(c.id, c.name, f"same website ({domain})", 100.0)
    for email in emails:
        with_email = (
            select(Customer.id, Customer.name)
            .join(Contact, Contact.customer_id == Customer.id)
            .where(*live, Contact.email == email, Contact.deleted_at.is_(None))
        )
        for cid, cname in session.execute(with_email):
            found.note(cid, cname, f"has contact {email}", 100.0)
        email_domain = email.rsplit("@", 1)[-1]
        if not is_free_email_domain(email_domain):
            for c in session.scalars(select(Customer).where(*live, Customer.domain == email_domain)):
                found.note(c.id, c.name, f"website matches {email_domain}", 95.0)
    # Fuzzy: close names ("Acme Corp" vs "ACME Corporation Intl").
    for m in index.search(name, limit=5):
        if m.score >= DUPLICATE_MIN_SCORE and m.kind in ("name", "alias"):
            row = session.get(Customer, m.customer_id)
            if row is not None and row.deleted_at is None and row.merged_into_id is None:
                found.note(row.id, row.name, f"similar name ({m.score:.0f}%)", m.score)
    return found.ranked()


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
    idempotency_key: str | None = None,
    region: str = DEFAULT_REGION,
) -> Customer:
    """Create a customer (and optionally its first contact).

    Raises ``DuplicateSuspected`` when it resembles an existing customer, unless
    ``force`` ("Create anyway"), which is recorded with who chose it. With
    ``idempotency_key``, a second submission of the same form raises ``Conflict``.
    """
    actor = recorded_id(actor)
    display, normalized = clean_name(name)
    site, domain = clean_website(website)
    owner = clean_owner(owner_user_id)
    values = clean_contact(contact, region=region) if contact is not None and not contact.is_empty() else None
    emails = [values.email] if values and values.email else []
    index = registry.index(workspace_id, hint=(display,))
    with sf.begin() as session:
        customer, candidates = insert_customer(
            session,
            index,
            workspace_id,
            names=(display, normalized),
            site=(site, domain),
            owner=owner or actor,
            actor=actor,
            emails=emails,
            force=force,
            idempotency_key=idempotency_key,
        )
        audit.change(session, customer, AuditAction.CREATE, actor=actor, note=creation_note(candidates, source))
        if values:
            insert_contact(session, customer, values, actor)
    registry.refresh(workspace_id)
    return customer


def insert_customer(
    session: Session,
    index: CustomerIndex,
    workspace_id: int,
    *,
    names: tuple[str, str],
    site: tuple[str | None, str | None],
    owner: str,
    actor: str,
    emails: list[str],
    force: bool,
    idempotency_key: str | None,
    columns: dict[str, object] | None = None,
) -> tuple[Customer, list[DuplicateCandidate]]:
    """Insert a cleaned customer inside the caller's transaction, after the once-only claim and
    the duplicate guard (``DuplicateSuspected`` unless ``force``); flushed, not yet audited.
    Also returns the likely duplicates it was created despite (for the audit note)."""
    (display, normalized), (website, domain) = names, site
    version = bump_search_version(session, workspace_id)  # serialises creators per workspace
    claim_once(session, workspace_id, "customer_create", idempotency_key, ALREADY_CREATED)
    candidates = duplicate_candidates(session, index, workspace_id, name=display, domain=domain, emails=emails)
    if candidates and not force:
        raise DuplicateSuspected("This looks like a customer you already have.", candidates)
    customer = Customer(
        workspace_id=workspace_id,
        name=display,
        normalized_name=normalized,
        website=website,
        domain=domain,
        owner_user_id=owner,
        created_by=actor,
        index_version=version,
        duplicate_override_by=actor if candidates else None,
        **(columns or {}),
    )
    session.add(customer)
    session.flush()
    return customer, candidates


def creation_note(candidates: list[DuplicateCandidate], source: str) -> str:
    if not candidates:
        return f"source: {source}"
    return "created anyway despite likely duplicates: " + ", ".join(
        f"{c.name} (#{c.customer_id}: {'; '.join(c.reasons)})" for c in candidates
    )


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
    idempotency_key: str | None = None,
) -> Customer:
    """Edit a customer. A new name keeps the old one as an alias, so it stays findable."""
    actor = recorded_id(actor)
    display, normalized = clean_name(name)
    site, domain = clean_website(website)
    owner = clean_owner(owner_user_id)
    index = registry.index(workspace_id, hint=(display,))
    with sf.begin() as session:
        bump_search_version(session, workspace_id)
        customer = live_customer(session, workspace_id, customer_id)
        claim_once(session, workspace_id, "customer_edit", idempotency_key, ALREADY_SAVED)
        before = audit.snapshot(customer)
        apply_identity(session, index, customer, (display, normalized), (site, domain), owner, actor=actor, force=force)
        customer.updated_by = actor
        touch_customer(session, customer)
        audit.change(session, customer, AuditAction.UPDATE, actor=actor, before=before)
    registry.refresh(workspace_id)
    return customer


def apply_identity(
    session: Session,
    index: CustomerIndex,
    customer: Customer,
    names: tuple[str, str],
    site: tuple[str | None, str | None],
    owner: str | None,
    *,
    actor: str,
    force: bool,
) -> None:
    """Set a customer's name, website and owner inside the caller's transaction (whose search
    version is bumped). A new name keeps the old one as an alias; a name or website another
    customer has raises ``DuplicateSuspected`` unless ``force``."""
    (display, normalized), (website, domain) = names, site
    if normalized != customer.normalized_name or (domain and domain != customer.domain):
        candidates = duplicate_candidates(
            session, index, customer.workspace_id, name=display, domain=domain, emails=[], exclude_id=customer.id
        )
        if candidates and not force:
            raise DuplicateSuspected("Another customer already looks like this.", candidates)
    old_name = customer.name
    customer.name, customer.normalized_name = display, normalized
    if normalize_name(old_name) != normalized:
        add_alias(session, customer, old_name, AliasSource.RENAME, actor)
    customer.website, customer.domain = website, domain
    customer.owner_user_id = owner or customer.owner_user_id
