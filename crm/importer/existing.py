"""What the workspace already holds, keyed the ways imported rows are matched to it.

One :class:`Index` per kind: ids by key (``ref`` = the source system's id, and the kind's
natural keys such as a customer's normalised name or a contact's email) and the current
values of rows that ``--update`` may change. Loaded once per import with a few plain
``SELECT``s, then kept up to date as rows are inserted.
"""

from __future__ import annotations

from collections.abc import Hashable
from datetime import UTC
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.audit import ADDRESS_COLUMNS, CUSTOMER_DETAILS
from crm.models import Activity, Contact, Customer, CustomerAlias, CustomerTag, Deal
from crm.normalize import is_free_email_domain, normalize_name

# Columns of the fuller record that an import may set and ``--update`` compare: the audited ones.
_ADDRESS = ADDRESS_COLUMNS
CONTACT_ADDRESS = _ADDRESS


class Index:
    """Ids of one kind of row by each of its keys, and their current values."""

    def __init__(self, *keys: str) -> None:
        self.by: dict[str, dict[Hashable, int]] = {key: {} for key in keys}
        self.values: dict[int, dict[str, Any]] = {}

    def find(self, key: str, value: Hashable | None) -> int | None:
        return self.by[key].get(value) if value else None

    def add(self, row_id: int, keys: dict[str, Any]) -> None:
        for key, value in keys.items():
            if value:
                self.by[key].setdefault(value, row_id)


class Existing:
    """The four indexes, and how a row's company is found among the customers."""

    def __init__(self) -> None:
        # "export": the row's id in this CRM's own export being imported (see vendors.CRM_EXPORT)
        self.customers = Index("ref", "name", "domain", "export")
        self.contacts = Index("ref", "email", "name", "export")
        self.deals = Index("ref", "title", "export")
        self.activities = Index("key")
        self._company_cache: dict[str, int | None] = {}

    def __getitem__(self, kind: str) -> Index:
        index: Index = getattr(self, kind)
        return index

    def company(self, ref: str, name: str, email: str | None) -> int | None:
        """A customer id from a company id, a company name, or a work email's domain."""
        by = self.customers.by  # runs for every row: plain dict look-ups
        found = by["ref"].get(ref) if ref else None
        if found is not None:
            return found
        if name:
            if name not in self._company_cache:
                self._company_cache[name] = by["name"].get(normalize_name(name))
            found = self._company_cache[name]
            if found is not None:
                return found
        if email and "@" in email:
            domain = email.rsplit("@", 1)[1].lower()
            if not is_free_email_domain(domain):
                return by["domain"].get(domain)
        return None


def load(session: Session, ws: int) -> Existing:
    ex = Existing()
    _load_customers(session, ws, ex.customers)
    _load_contacts(session, ws, ex.contacts)
    _load_deals(session, ws, ex.deals)
    keys = session.scalars(
        select(Activity.idempotency_key).where(Activity.workspace_id == ws, Activity.idempotency_key.like("import:%"))
    )
    ex.activities.by["key"] = dict.fromkeys(keys, 0)
    return ex


def _load_customers(session: Session, ws: int, index: Index) -> None:
    merged: dict[int, int] = {}
    refs: dict[Hashable, int] = {}
    names, domains = index.by["name"], index.by["domain"]
    details = [getattr(Customer, c) for c in CUSTOMER_DETAILS]
    for cid, name, normalized, website, domain, owner, notes, ref, merged_into, deleted, *more in session.execute(
        select(
            Customer.id,
            Customer.name,
            Customer.normalized_name,
            Customer.website,
            Customer.domain,
            Customer.owner_user_id,
            Customer.notes,
            Customer.external_ref,
            Customer.merged_into_id,
            Customer.deleted_at,
            *details,
        )
        .where(Customer.workspace_id == ws)
        .order_by(Customer.id)
    ):
        if merged_into is not None:
            merged[cid] = merged_into
        elif deleted is None:
            names.setdefault(normalized, cid)
            if domain:
                domains.setdefault(domain, cid)
            index.values[cid] = {
                "name": name,
                "normalized_name": normalized,
                "website": website,
                "domain": domain,
                "owner_user_id": owner,
                "notes": notes,
                "external_ref": ref,
                **dict(zip(CUSTOMER_DETAILS, more, strict=True)),
            }
        else:
            continue
        if ref:
            refs.setdefault(ref, cid)

    def follow(cid: int) -> int:
        for _ in range(20):
            if cid not in merged:
                break
            cid = merged[cid]
        return cid

    # A record merged away resolves to the one it was merged into, so a re-import after
    # a clean-up does not bring the duplicate back.
    index.by["ref"] = {ref: follow(cid) for ref, cid in refs.items()}
    for cid, normalized in session.execute(
        select(CustomerAlias.customer_id, CustomerAlias.normalized).where(CustomerAlias.workspace_id == ws)
    ):
        names.setdefault(normalized, follow(cid))
    # Tags, which ``--update`` adds to (normalised spelling -> as written).
    for cid, tag, normalized in session.execute(
        select(CustomerTag.customer_id, CustomerTag.tag, CustomerTag.normalized).where(CustomerTag.workspace_id == ws)
    ):
        if cid in index.values:
            index.values[cid].setdefault("tags", {})[normalized] = tag


def _load_contacts(session: Session, ws: int, index: Index) -> None:
    refs, emails, names = index.by["ref"], index.by["email"], index.by["name"]
    extra = [getattr(Contact, c) for c in ("mobile_phone", *CONTACT_ADDRESS)]
    for cid, customer_id, name, normalized, email, phone, title, ref, deleted, merged_into, *more in session.execute(
        select(
            Contact.id,
            Contact.customer_id,
            Contact.name,
            Contact.normalized_name,
            Contact.email,
            Contact.phone,
            Contact.title,
            Contact.external_ref,
            Contact.deleted_at,
            Contact.merged_into_id,
            *extra,
        ).where(Contact.workspace_id == ws)
    ):
        if ref:
            refs.setdefault(ref, merged_into or cid)
        if deleted is not None:
            continue
        if email:
            emails.setdefault(email, cid)
        names.setdefault((customer_id, normalized), cid)
        index.values[cid] = {
            "name": name,
            "normalized_name": normalized,
            "email": email,
            "phone": phone,
            "title": title,
            "customer_id": customer_id,
            **dict(zip(("mobile_phone", *CONTACT_ADDRESS), more, strict=True)),
        }


def _load_deals(session: Session, ws: int, index: Index) -> None:
    refs, titles = index.by["ref"], index.by["title"]
    for did, customer_id, title, amount, currency, stage, close, ref, deleted, closed, owner in session.execute(
        select(
            Deal.id,
            Deal.customer_id,
            Deal.title,
            Deal.amount_minor,
            Deal.currency,
            Deal.stage,
            Deal.expected_close,
            Deal.external_ref,
            Deal.deleted_at,
            Deal.closed_at,
            Deal.owner_user_id,
        ).where(Deal.workspace_id == ws)
    ):
        if ref:
            refs.setdefault(ref, did)
        if deleted is not None:
            continue
        titles.setdefault((customer_id, normalize_name(title)), did)
        index.values[did] = {
            "title": title,
            "amount_minor": amount,
            "currency": currency,
            "stage": stage,
            "expected_close": close,
            "closed_at": closed.replace(tzinfo=UTC) if closed is not None and closed.tzinfo is None else closed,
            "owner_user_id": owner,
            "customer_id": customer_id,
        }
