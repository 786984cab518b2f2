"""What each kind of file holds, and how its rows become records: one :class:`Kind` per kind.

A kind is mostly data: its :class:`Field` s (the header spellings of the usual exports, and
the cleaner that reads each value), the keys no two rows of a file may share
(:class:`Unique`), the columns ``--update`` may change. Three small functions say what
data can't: how the cleaned values become a :class:`Record` (``build``), how a record finds
the row it already is (``match``), and, for customers, a look over the whole file for
probable duplicates (``screen``). :mod:`crm.importer.run` drives all four kinds with
one loop; the machinery is in :mod:`crm.importer.spec`.

Adding a column is adding a :class:`Field` (and, when it is stored, a line in ``build``);
adding a vendor's spelling of a header is adding it to :mod:`crm.importer.vendors`.
"""

from __future__ import annotations

import hashlib
from typing import Any

from crm.customers import clean_name
from crm.customers.values import RECORDED_ID
from crm.errors import InvalidInput
from crm.fields import DEFAULT_REGION
from crm.importer import values as v
from crm.importer.duplicates import screen_customers
from crm.importer.existing import CONTACT_ADDRESS, CUSTOMER_DETAILS, Index
from crm.importer.reader import Row
from crm.importer.spec import (
    Cleaner,
    Context,
    Field,
    History,
    Kind,
    Record,
    Reject,
    Unique,
    clean_values,
    missing_company,
)
from crm.models import Activity, Contact, Customer, CustomerLifecycleChange, CustomerTag, Deal, DealStageChange
from crm.normalize import normalize_name
from crm.pipeline_stages import CLOSED_KEYS
from crm.states import ActivitySource

__all__ = ["KINDS", "Cleaner", "Context", "Field", "Kind", "Record", "Reject", "clean_values"]


def aliases(text: str) -> tuple[str, ...]:
    return tuple(x.strip() for x in text.split(",") if x.strip())


_COMPANY = "company, company name, account, account name, organization, organization name, organisation, \
organisation name, org name, customer, customer name, associated company, business name"
_COMPANY_ID = "company id, account id, organization id, organisation id, associated company id, customer id, org id"
_INVALID_NAME = "missing or invalid name"
_TOO_LONG = "field too long"


def _id_twice(rec: Record, line: int) -> str:
    return f"id {rec.keys['ref']} appears twice (first on line {line})"


_REF = Unique("ref", "duplicate id", _id_twice)


def _id(*more: str) -> Field:
    return Field("id", aliases("id, record id, external id, external ref, " + ", ".join(more)), v.ref)


def _owner(more: str) -> Field:
    return Field("owner", aliases("owner, " + more), _resolve_owner, bind=lambda c: {"ctx": c})


def _resolve_owner(text: str, *, ctx: Context) -> str | None:
    return ctx.owners.resolve(text, ctx.owner_counts)


def _date(name: str, spellings: str) -> Field:
    return Field(
        name,
        aliases(spellings),
        v.close_date,
        "invalid date",
        bind=lambda c: {"tz": c.tz, "dayfirst": c.options.dayfirst},
    )


def _created() -> Field:
    """The date the record was created in the old CRM (kept as its created_at)."""
    return _date("created", "created, created at, created date, create date, date created, add time, added")


def _own_export() -> tuple[Field, ...]:
    """The columns only this CRM's own export has (:data:`crm.importer.vendors.CRM_EXPORT`)."""
    return (
        Field("export_id", ()),
        Field("deleted_at", ()),
        Field("merged_into_id", ()),
        Field("created_by", (), _creator),
    )


def _creator(text: str) -> str | None:
    """Who created the row where it was exported from (a Slack user id, or "import"), kept as it is."""
    return text if text and RECORDED_ID.fullmatch(text) else None


def _with_creator(stored: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    if values.get("created_by"):
        stored["created_by"] = values["created_by"]
    return stored


def _live_in_export(values: dict[str, Any]) -> str | None:
    """The row's id in this CRM's export; a row deleted or merged away there is not brought back."""
    if values.get("deleted_at") or values.get("merged_into_id"):
        raise Reject("deleted in the export", "deleted or merged away in the CRM it was exported from: not imported")
    return values.get("export_id") or None


def _exported(index: Index, text: str | None, what: str) -> int | None:
    """The row an export's reference (``customer_id``, ``contact_id`` …) points at, imported in this run."""
    if not text:
        return None
    found = index.by["export"].get(text)
    if found is None and what == "company":
        raise missing_company(f"#{text} of the export")
    return found


def _company(names: str, ids: str) -> tuple[Field, Field]:
    return Field("company", aliases(f"{_COMPANY}, {names}")), Field("company_id", aliases(f"{_COMPANY_ID}, {ids}"))


# -- customers -------------------------------------------------------------------------------------
def _build_customer(values: dict[str, Any], row: Row, ctx: Context) -> Record:
    name, normalized = values["name"]
    website, domain = values["website"]
    ref, notes = values["id"], values["notes"]
    export = _live_in_export(values)
    revenue, currency = values["annual_revenue"]
    if values.get("revenue_minor"):  # this CRM's export: minor units and their currency
        try:
            currency = v.currency(values.get("revenue_currency", ""), default=ctx.options.currency)
            revenue = v.amount(values["revenue_minor"], "", currency)
        except InvalidInput as err:
            ctx.drop("revenue_minor", "invalid amount", err.message)
            revenue, currency = None, None
    description = values.get("description", "")
    try:
        description = v.description(description)
    except InvalidInput as err:  # longer than the card's description holds: kept whole in the notes
        if notes is None and len(description) <= v.MAX_NOTES:
            notes, description = description, None
            ctx.notes["descriptions too long for the card kept in the notes instead"] += 1
        else:
            ctx.drop("description", _TOO_LONG, err.message)
            description = None
    stored = {
        "name": name,
        "normalized_name": normalized,
        "website": website,
        "domain": domain,
        "owner_user_id": values["owner"],
        "notes": notes,
        "external_ref": ref,
        "index_version": 0,
        "created_at": values["created"],
        "phone": values["phone"],
        **_address(values, ctx, "billing_"),
        **_address(values, ctx, "shipping_"),
        "industry": values["industry"],
        "employees": values["employees"],
        "annual_revenue_minor": revenue,
        "annual_revenue_currency": currency,
        "description": description,
        "lifecycle_stage": values["lifecycle_stage"],
    }
    keys = {"ref": ref, "name": normalized, "domain": domain, "export": export}
    rec = Record(row, _with_creator(stored, values), keys)
    rec.tags = values["tags"] or None
    return rec


def _address(values: dict[str, Any], ctx: Context, prefix: str = "") -> dict[str, Any]:
    """street, city, region (ISO 3166-2 where pycountry knows the country's), postal code, country."""
    street, country = values[f"{prefix}street"], values[f"{prefix}country"]
    one_line = values.get(f"{prefix}address", "")
    if one_line:
        line, found = v.split_address(one_line)
        street, country = street or line, country or found
    region = values.get(f"{prefix}region", "")
    try:
        region = v.region(region, country)
    except InvalidInput as err:
        ctx.drop(f"{prefix}region", "invalid region", err.message)
        region = None
    return {
        f"{prefix}street": street[: v.MAX_STREET] if street else None,
        f"{prefix}city": values[f"{prefix}city"],
        f"{prefix}region": region,
        f"{prefix}postal_code": values[f"{prefix}postal_code"],
        f"{prefix}country": country,
    }


def _address_fields(prefix: str, names: tuple[str, ...]) -> tuple[Field, ...]:
    """The address fields, spelled ``{name} street`` etc. for each of ``names`` ("" spells plain ``street``)."""

    def spell(*parts: str) -> tuple[str, ...]:
        return tuple(f"{n} {p}".strip() for n in names for p in parts)

    return (
        _place(f"{prefix}street", spell("street", "street address", "address line 1"), v.MAX_STREET),
        Field(f"{prefix}address", spell("address", "postal address", "full address")),
        _place(f"{prefix}city", spell("city", "town"), 128),
        Field(f"{prefix}region", spell("state", "region", "state region", "province", "state province", "county")),
        _place(f"{prefix}postal_code", spell("postal code", "zip", "zip code", "postcode", "zip postal code"), 32),
        Field(f"{prefix}country", spell("country", "country region"), v.country, "invalid country"),
    )


def _place(name: str, spellings: tuple[str, ...], limit: int) -> Field:
    return Field(name, spellings, v.place, _TOO_LONG, bind=lambda ctx: {"limit": limit})


def _phone(name: str, spellings: str) -> Field:
    return Field(name, aliases(spellings), v.phone, "invalid phone", bind=_region)


def _region(ctx: Context) -> dict[str, Any]:
    return {"region": ctx.options.phone_region or DEFAULT_REGION}


def _tag_rows(rec: Record, customer_id: int) -> list[tuple[type, dict[str, Any]]]:
    return [(CustomerTag, {"customer_id": customer_id, "tag": t, "normalized": t.casefold()}) for t in rec.tags or ()]


def _added_tags(
    rec: Record, customer_id: int, current: dict[str, Any]
) -> tuple[dict[str, Any], list[tuple[type, dict[str, Any]]]]:
    """With --update: the file's tags the customer lacks are added (tags given in Slack stay)."""
    have: dict[str, str] = current.setdefault("tags", {})
    new = [t for t in rec.tags or () if t.casefold() not in have]
    if not new:
        return {}, []
    before = sorted(have.values(), key=str.casefold)
    have.update((t.casefold(), t) for t in new)
    rows: list[tuple[type, dict[str, Any]]] = [
        (CustomerTag, {"customer_id": customer_id, "tag": t, "normalized": t.casefold()}) for t in new
    ]
    return {"tags": (before, sorted(have.values(), key=str.casefold))}, rows


def _lifecycle_change(customer_id: int, before: Any, after: Any) -> dict[str, Any]:
    return {"customer_id": customer_id, "from_stage": before, "to_stage": after}


def _match_customer(rec: Record, index: Index) -> int | None:
    found = index.find("ref", rec.keys["ref"])
    return found if found is not None else index.find("name", rec.keys["name"])


CUSTOMERS = Kind(
    name="customers",
    entity="customer",
    model=Customer,
    fields=(
        _id("company id, account id, organization id, customer id"),
        Field("name", aliases(_COMPANY + ", name, company legal name"), v.company_name, _INVALID_NAME, essential=True),
        Field(
            "website",
            aliases(
                "website, website url, web site, url, domain, company domain name, company domain, "
                "organization website, homepage, web"
            ),
            v.website,
            "invalid website",
        ),
        _owner("company owner, account owner, organization owner, owner user id"),
        Field("notes", aliases("notes, note, comments"), v.notes, _TOO_LONG),
        _created(),
        _phone("phone", "phone, phone number, company phone, telephone, main phone, organization phone"),
        *_address_fields("billing_", ("", "billing")),
        *_address_fields("shipping_", ("shipping",)),
        _place("industry", aliases("industry, sector"), 128),
        Field(
            "employees",
            aliases("employees, number of employees, employee count, headcount"),
            v.employees,
            "invalid number",
        ),
        Field(
            "annual_revenue",
            aliases("annual revenue, revenue, turnover"),
            v.revenue,
            "invalid amount",
            bind=lambda c: {"currency": c.options.currency},
        ),
        Field("description", aliases("description, about, company description")),
        Field(
            "lifecycle_stage",
            aliases("lifecycle stage, lifecycle, customer stage"),
            v.lifecycle,
            "invalid lifecycle stage",
            bind=lambda c: {"stages": c.options.lifecycle_stages},
        ),
        Field("tags", aliases("tags, tag, labels, label"), v.tags, "invalid tags"),
        Field("revenue_minor", ()),
        Field("revenue_currency", ()),
        *_own_export(),
    ),
    required=("name",),
    file_hints=("compan", "account", "organi", "customer", "client"),
    build=_build_customer,
    match=_match_customer,
    unique=(_REF, Unique("name", "duplicate in file", lambda r, line: f"same company as line {line}", ("ref",))),
    updatable=(
        "name",
        "normalized_name",
        "website",
        "domain",
        "owner_user_id",
        "notes",
        *CUSTOMER_DETAILS,
    ),
    derived=frozenset({"normalized_name"}),
    touches="id",
    history=History("lifecycle_stage", CustomerLifecycleChange, _lifecycle_change),
    children=_tag_rows,
    added_children=_added_tags,
    backfill_ref=True,
    screen=screen_customers,
)


# -- contacts --------------------------------------------------------------------------------------
def _build_contact(values: dict[str, Any], row: Row, ctx: Context) -> Record:
    email = values["email"]
    name_text = values.get("name") or " ".join(x for x in (values.get("first_name"), values.get("last_name")) if x)
    try:
        name, normalized = clean_name(name_text or email, label="contact name")
    except InvalidInput as err:
        raise Reject(_INVALID_NAME, err.message) from None
    export = _live_in_export(values)
    customer_id = _exported(ctx.existing.customers, values.get("company_export"), "company") or ctx.company(
        values.get("company_id", ""), values.get("company", ""), email
    )
    ref = values["id"]
    stored = {
        "customer_id": customer_id,
        "name": name,
        "normalized_name": normalized,
        "email": email,
        "phone": values["phone"],
        "title": values["title"],
        "external_ref": ref,
        "created_at": values["created"],
        "mobile_phone": values["mobile_phone"],
        **_address(values, ctx),
    }
    keys = {"ref": ref, "email": email, "name": (customer_id, normalized), "export": export}
    return Record(row, _with_creator(stored, values), keys)


def _match_contact(rec: Record, index: Index) -> int | None:
    keys = rec.keys
    found = index.find("ref", keys["ref"])
    if found is None:
        found = index.find("email", keys["email"]) if keys["email"] else index.find("name", keys["name"])
    return found


CONTACTS = Kind(
    name="contacts",
    entity="contact",
    model=Contact,
    fields=(
        _id("contact id, person id"),
        Field("name", aliases("name, full name, contact name, person name, contact")),
        Field("first_name", aliases("first name, firstname, given name, person first name")),
        Field("last_name", aliases("last name, lastname, surname, family name, person last name")),
        Field(
            "email",
            aliases("email, e mail, email address, person email, work email, contact email, primary email"),
            v.email,
            "invalid email",
        ),
        _phone("phone", "phone, phone number, person phone, work phone, telephone, business phone, office phone"),
        _phone("mobile_phone", "mobile, mobile phone, mobile phone number, cell, cell phone, person mobile"),
        *_address_fields("", ("", "mailing", "person")),
        Field("title", aliases("title, job title, position, role, person job title"), v.title, _TOO_LONG),
        *_company("person organization, person organization name", "person organization id"),
        _created(),
        Field("company_export", ()),
        *_own_export(),
    ),
    required=("name", "first_name", "last_name", "email"),
    file_hints=("contact", "people", "person", "lead"),
    build=_build_contact,
    match=_match_contact,
    unique=(
        _REF,
        Unique("email", "duplicate in file", lambda r, line: f"{r.keys['email']} is also on line {line}"),
        Unique("name", "duplicate in file", lambda r, line: f"same contact as line {line}", ("email", "ref")),
    ),
    updatable=("name", "normalized_name", "email", "phone", "title", "mobile_phone", *CONTACT_ADDRESS),
    derived=frozenset({"normalized_name"}),
    remember=("customer_id",),
    touches="customer_id",
)


# -- deals -----------------------------------------------------------------------------------------
def _build_deal(values: dict[str, Any], row: Row, ctx: Context) -> Record:
    code = values["currency"]
    amount_field = "amount_minor" if values.get("amount_minor") else "amount"
    try:
        amount = v.amount(values.get("amount_minor", ""), values.get("amount", ""), code)
    except InvalidInput as err:
        ctx.drop(amount_field, "invalid amount", err.message)
        amount = None
    if amount is not None and any(d[0] == "currency" for d in ctx.dropped):
        ctx.drop(amount_field, "invalid amount", "an amount without a currency it can be read in.")
        amount = None
    export = _live_in_export(values)
    customer_id = _exported(ctx.existing.customers, values.get("company_export"), "company") or ctx.company(
        values.get("company_id", ""), values.get("company", ""), None
    )
    title, close, ref = values["title"], values["close_date"], values["id"]
    stage = ctx.stage(
        values.get("stage", ""), values.get("status", ""), values.get("is_won", ""), values.get("is_closed", "")
    )
    closed_at = None
    if stage in CLOSED_KEYS:
        closed_at = (values["won_time"] if stage == "won" else values["lost_time"]) or values["closed_at"] or close
    stored = {
        "customer_id": customer_id,
        "title": title,
        "amount_minor": amount,
        "currency": code,
        "stage": stage,
        "expected_close": v.day(close),
        "owner_user_id": values["owner"],
        "closed_at": closed_at,
        "external_ref": ref,
        "created_at": values["created"],
    }
    keys = {"ref": ref, "title": (customer_id, normalize_name(title)), "export": export}
    return Record(row, _with_creator(stored, values), keys)


def _match_deal(rec: Record, index: Index) -> int | None:
    found = index.find("ref", rec.keys["ref"])
    return found if found is not None else index.find("title", rec.keys["title"])


def _stage_change(deal_id: int, before: Any, after: Any) -> dict[str, Any]:
    return {"deal_id": deal_id, "from_stage": before, "to_stage": after}


DEALS = Kind(
    name="deals",
    entity="deal",
    model=Deal,
    fields=(
        _id("deal id, opportunity id"),
        Field(
            "title",
            aliases("title, deal name, deal title, opportunity name, name, deal, opportunity"),
            v.deal_title,
            _INVALID_NAME,
            essential=True,
        ),
        *_company("deal organization, deal organization name", "deal organization id"),
        Field(
            "currency",
            aliases("currency, deal currency, amount currency, currency code, currency iso code"),
            v.currency,
            "invalid amount",
            bind=lambda c: {"default": c.options.currency},
        ),
        Field("amount", aliases("amount, value, deal value, deal amount, opportunity amount")),
        Field("amount_minor", aliases("amount minor")),
        Field("stage", aliases("stage, deal stage, stage name, pipeline stage, deal stage name")),
        Field("status", aliases("status, deal status, state")),
        Field("is_won", aliases("is won, won")),
        Field("is_closed", aliases("is closed, closed")),
        _date("won_time", "won time, won date, date won"),
        _date("lost_time", "lost time, lost date, date lost"),
        _created(),
        Field(
            "close_date",
            aliases(
                "close date, expected close date, closedate, expected close, deal expected close date, deal close date"
            ),
            v.close_date,
            "invalid date",
            bind=lambda c: {"tz": c.tz, "dayfirst": c.options.dayfirst},
        ),
        _owner("deal owner, opportunity owner, owner user id, deal owner id"),
        _date("closed_at", "closed at"),
        Field("company_export", ()),
        *_own_export(),
    ),
    required=("title",),
    file_hints=("deal", "opportunit", "pipeline"),
    build=_build_deal,
    match=_match_deal,
    unique=(_REF, Unique("title", "duplicate in file", lambda r, line: f"same deal as line {line}", ("ref",))),
    updatable=("title", "amount_minor", "currency", "stage", "expected_close", "closed_at", "owner_user_id"),
    remember=("customer_id",),
    history=History("stage", DealStageChange, _stage_change),
)


# -- activities ------------------------------------------------------------------------------------
def _activity_type(text: str, *, ctx: Context) -> str:
    """The activity type's key; an unknown type is saved as a note (and counted in the report)."""
    cache = ctx.type_cache
    if text not in cache:
        found = ctx.options.activity_types.resolve(text)
        cache[text] = found.key if found else None
    key = cache[text]
    if key is None:
        types = ctx.options.activity_types
        key = "note" if types.is_active("note") else types.keys[0]
        ctx.notes[f"unknown activity type saved as {key}"] += 1
    return key


def _build_activity(values: dict[str, Any], row: Row, ctx: Context) -> Record:
    type_key, occurred, ref = values["type"], values["date"], values["id"]
    summary = values["summary"] or ctx.options.activity_types.describe(type_key).label
    contact_email = values["contact_email"]
    contacts, deals = ctx.existing.contacts, ctx.existing.deals
    contact_ref, deal_ref = values.get("contact_id"), values.get("deal_id")
    export = _live_in_export(values)
    contact_id = _exported(contacts, values.get("contact_export"), "contact")
    if contact_id is None and contact_ref:
        contact_id = contacts.by["ref"].get(contact_ref)
    if contact_id is None and contact_email:
        contact_id = contacts.by["email"].get(contact_email)
    deal_id = _exported(deals, values.get("deal_export"), "deal")
    if deal_id is None and deal_ref:
        deal_id = deals.by["ref"].get(deal_ref)
    company_ref, company = values.get("company_id", ""), values.get("company", "")
    customer_id = _exported(ctx.existing.customers, values.get("company_export"), "company")
    if customer_id is None:
        customer_id = ctx.find_company(company_ref, company, contact_email or None)
    if customer_id is None and contact_id is not None:
        customer_id = contacts.values.get(contact_id, {}).get("customer_id")
    if customer_id is None and deal_id is not None:
        customer_id = deals.values.get(deal_id, {}).get("customer_id")
    if customer_id is None:
        raise missing_company(company or company_ref or contact_email)
    if ref is not None:
        key = f"import:{ref}"[:128]
    elif export is not None:  # logged in Slack, then exported: its id in the export is its identity
        key = f"import:x:{export}"[:128]
    else:
        who = (company_ref or normalize_name(company)) if (company_ref or company) else contact_email
        parts = (who, contact_email, occurred.isoformat(), type_key, summary)
        key = _HASHED + hashlib.sha1(_SEPARATOR.join(parts).encode()).hexdigest()
    if key in ctx.existing.activities.by["key"]:
        return Record(row, {}, {"key": key})  # imported before, and never rewritten: nothing to store
    stored = {
        "customer_id": customer_id,
        "contact_id": contact_id,
        "deal_id": deal_id,
        "type_key": type_key,
        "summary": summary,
        "occurred_at": occurred,
        "source": _SOURCES.get(values.get("source") or "", ActivitySource.IMPORT),
        "idempotency_key": key,
        "external_ref": ref,
        "created_by": values["owner"] or ctx.options.actor,
        "permalink": values.get("permalink") or None,
        "created_at": _created_at(values.get("created"), ctx),
    }
    return Record(row, stored, {"key": key})


_SOURCES = {s.value: s for s in ActivitySource}  # this CRM's export keeps where it was logged from


def _created_at(text: str | None, ctx: Context) -> Any:
    """When an activity was logged (this CRM's export has it besides when it happened)."""
    if not text:
        return None
    try:
        return v.parse_datetime(text, tz=ctx.tz, dayfirst=ctx.options.dayfirst)
    except InvalidInput:
        return None


_SEPARATOR = "\x1f"
_HASHED = "import:h:"


def _earlier_activity(rec: Record, line: int) -> str:
    key = rec.keys["key"]
    what = "the same company, time, type and summary" if key.startswith(_HASHED) else f"id {key[len('import:') :]}"
    return f"an earlier row has {what}"


ACTIVITIES = Kind(
    name="activities",
    entity="activity",
    model=Activity,
    fields=(
        _id("activity id, task id, engagement id"),
        Field(
            "date",
            aliases(
                "date, occurred at, activity date, due date, activity due date, timestamp, date time, "
                "activity date time, start date, created date"
            ),
            v.parse_datetime,
            "invalid date",
            bind=lambda c: {"tz": c.tz, "dayfirst": c.options.dayfirst},
            essential=True,
        ),
        Field(
            "type",
            aliases("type, activity type, type key, task type, engagement type, activity type name"),
            _activity_type,
            bind=lambda c: {"ctx": c},
        ),
        Field(
            "summary",
            aliases(
                "summary, subject, note, notes, description, body, activity note, activity subject, details, "
                "comments, content"
            ),
            v.summary,
            _TOO_LONG,
        ),
        *_company("activity organization", "activity organization id"),
        Field(
            "contact_email",
            aliases("contact email, email, person email, activity person email"),
            str.lower,
        ),
        Field("contact_id", aliases("contact id, person id, associated contact id, who id, activity person id")),
        Field("deal_id", aliases("deal id, opportunity id, associated deal id, activity deal id, what id")),
        _owner("created by, assigned to, activity owner, user"),
        Field("permalink", ()),
        Field("created", ()),  # only this CRM's export has it apart from the date (created_at)
        Field("source", ()),
        Field("company_export", ()),
        Field("contact_export", ()),
        Field("deal_export", ()),
        *_own_export(),
    ),
    required=("date",),
    file_hints=("activit", "task", "call", "meeting", "note", "event", "engagement", "history"),
    build=_build_activity,
    match=lambda rec, index: index.find("key", rec.keys["key"]),
    unique=(Unique("key", "duplicate in file", _earlier_activity),),
    returning=False,
    custom_fields=False,
)

KINDS: dict[str, Kind] = {k.name: k for k in (CUSTOMERS, CONTACTS, DEALS, ACTIVITIES)}  # the order of import
