"""Deals: create and edit with exact amounts, stage history, and the pipeline summary.

Plain functions over a session factory, one transaction each; they raise ``crm.errors``.
Every stage change (the first one too, from nothing) is a :class:`DealStageChange` row and
an audit entry. Amounts are whole minor units (``crm.money``); totals are summed by the
database per currency, never converted and never through a float.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session, sessionmaker

from crm import audit, channel_events
from crm import custom_fields as cf
from crm.customers import clean_text, live_customer
from crm.customers.store import claim_once
from crm.errors import InvalidInput, NotFound
from crm.models import Customer, Deal, DealStageChange
from crm.money import exponent, format_money, format_money_short, in_currency_order, to_minor
from crm.pipeline_stages import CLOSED_KEYS, PipelineStages
from crm.slack_ids import is_user_id
from crm.states import AuditAction, FieldEntity

MAX_TITLE = 255  # deals.title
ALREADY_SAVED = "This deal was already saved."
MAX_AMOUNT_CHARS = 40  # longer than any amount a rep types ("999,999,999,999.99 USD")
DEFAULT_CURRENCY = "USD"

# ISO 4217 codes in circulation (2024), plus the precious metals traders use.
ISO_CURRENCIES = frozenset(
    """AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN
    BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP
    GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD
    KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK
    NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS
    SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VED VES VND VUV WST
    XAF XAG XAU XCD XCG XOF XPF YER ZAR ZMW ZWG""".split()
)

# "12500", "12,500", "12,500.50", "12.5k", "1.2m", optionally with a currency symbol.
_AMOUNT = re.compile(r"(?P<int>\d{1,3}(?:,\d{3})+|\d+)(?P<frac>\.\d+)?\s*(?P<mult>[km])?", re.IGNORECASE)
_SYMBOLS = "$€£¥₹"


def clean_currency(code: str | None) -> str:
    """An ISO 4217 code ("usd" → "USD"); blank gives the default; raise on anything else."""
    text = (code or "").strip().upper()
    if not text:
        return DEFAULT_CURRENCY
    if text not in ISO_CURRENCIES:
        shown = text[:12]
        raise InvalidInput(
            f"“{shown}” isn't a currency code I know. Use the three-letter ISO code, such as USD, EUR or GBP.",
            field="currency",
        )
    return text


def parse_amount(text: str | None, currency: str) -> int | None:
    """Minor units for what a rep typed ("12,500.50", "12.5k"); None when blank.

    Stricter than :func:`crm.money.to_minor` about what it lets through: commas only as
    thousands separators (so "12,5k" is refused rather than read as 125k), no exponents
    ("1e9"), no minus sign, and no more decimals than the currency has.
    """
    raw = (text or "").strip()
    if not raw:
        return None
    shown = raw[:30]
    if len(raw) > MAX_AMOUNT_CHARS:
        raise InvalidInput(f"“{shown}…” isn't an amount. Write it like 12500, 12,500.50 or 12.5k.", field="amount")
    body = raw.strip(_SYMBOLS + " ")
    if body.upper().endswith(" " + currency) or body.upper().startswith(currency + " "):
        body = body.upper().replace(currency, "").strip()
    if body.startswith("-") or raw.startswith("-"):
        raise InvalidInput("The amount can't be negative. Enter what the deal is worth, such as 12500.", field="amount")
    match = _AMOUNT.fullmatch(body)
    if match is None:
        raise InvalidInput(
            f"“{shown}” isn't an amount. Write it like 12500, 12,500.50 or 12.5k (commas only between thousands).",
            field="amount",
        )
    try:
        number = Decimal(match["int"].replace(",", "") + (match["frac"] or ""))
    except InvalidOperation:  # pragma: no cover - the pattern only lets digits through
        raise InvalidInput(f"“{shown}” isn't an amount.", field="amount") from None
    mult = (match["mult"] or "").lower()
    number *= {"k": 1000, "m": 1_000_000}.get(mult, 1)
    places = exponent(currency)
    if (number * (Decimal(10) ** places)) % 1 != 0:
        unit = f"{places} decimal places" if places else "no decimal places"
        raise InvalidInput(f"{currency} amounts have {unit}; “{shown}” has more.", field="amount")
    return to_minor(number, currency)


def clean_title(title: str | None) -> str:
    text = clean_text(title, limit=MAX_TITLE, field="title", label="deal title", required=True)
    assert text is not None
    return text


def clean_stage(stages: PipelineStages, key: str | None, *, current: str | None = None) -> str:
    """An active stage key (or the deal's current, retired one, left as it is)."""
    if key and key == current:
        return key
    stage = stages.resolve(key)
    if stage is None:
        raise InvalidInput(f"“{(key or '')[:40]}” isn't a pipeline stage. Pick one of {stages.names()}.", field="stage")
    return stage.key


_SYSTEM_ACTOR = re.compile(r"[a-z][a-z_-]{1,31}")  # "import", "system"


def check_actor(actor: str) -> str:
    """The user id recorded as having made the change: a Slack user id, or a system name."""
    if not (is_user_id(actor) or _SYSTEM_ACTOR.fullmatch(actor)):
        raise InvalidInput("I can't tell who is asking, so nothing was saved. Please try again from Slack.")
    return actor


def clean_owner(user_id: str | None) -> str | None:
    """The owner picked in Slack (a user id), or None to keep the default."""
    text = (user_id or "").strip()
    if not text:
        return None
    if not is_user_id(text):
        raise InvalidInput("Pick the deal's owner from the list of people.", field="owner")
    return text


@dataclass(frozen=True)
class DealInput:
    """What a rep filled in; amounts and currencies as typed."""

    title: str | None
    amount: str | None = None
    currency: str | None = None
    stage: str | None = None
    expected_close: date | None = None
    owner_user_id: str | None = None
    custom: dict[str, Any] = dataclass_field(default_factory=dict)  # custom field key -> typed value


@dataclass(frozen=True)
class _Clean:
    title: str
    amount_minor: int | None
    currency: str
    stage: str
    expected_close: date | None
    owner_user_id: str | None


def _clean(form: DealInput, stages: PipelineStages, *, current_stage: str | None = None) -> _Clean:
    """Check every field; the first problem found is raised with its field name."""
    currency = clean_currency(form.currency)
    title = clean_title(form.title)
    amount = parse_amount(form.amount, currency)
    stage = clean_stage(stages, form.stage or (None if current_stage else stages.stages[0].key), current=current_stage)
    if form.expected_close is not None and not date(2000, 1, 1) <= form.expected_close <= date(2100, 12, 31):
        raise InvalidInput("Pick an expected close date between 2000 and 2100.", field="expected_close")
    return _Clean(title, amount, currency, stage, form.expected_close, clean_owner(form.owner_user_id))


def _record_stage(session: Session, deal: Deal, from_stage: str | None, actor: str, now: datetime) -> None:
    """Keep the move in the stage history, and tell the channels that follow the deal."""
    change = DealStageChange(
        workspace_id=deal.workspace_id,
        deal_id=deal.id,
        from_stage=from_stage,
        to_stage=deal.stage,
        created_by=actor,
        created_at=now,
    )
    session.add(change)
    session.flush()
    event = channel_events.deal_event(session, deal, actor=actor, from_stage=from_stage, change_id=change.id)
    channel_events.publish(session, event, now=now)


def create_deal(
    sf: sessionmaker[Session],
    workspace_id: int,
    customer_id: int,
    form: DealInput,
    *,
    actor: str,
    stages: PipelineStages,
    now: datetime,
    idempotency_key: str | None = None,
) -> Deal:
    """Create a deal. With ``idempotency_key`` (e.g. the modal's view id), a replayed,
    double-clicked or concurrent submission raises :class:`Conflict` instead of creating a second deal."""
    check_actor(actor)
    values = _clean(form, stages)
    with sf.begin() as session:
        customer = live_customer(session, workspace_id, customer_id)
        defs = cf.definitions.fields_in(session, workspace_id, FieldEntity.DEAL, include_retired=True)
        custom = cf.clean_values(defs, form.custom)
        claim_once(session, workspace_id, "deal", idempotency_key, ALREADY_SAVED)
        deal = Deal(
            workspace_id=workspace_id,
            customer_id=customer.id,
            title=values.title,
            amount_minor=values.amount_minor,
            currency=values.currency,
            stage=values.stage,
            expected_close=values.expected_close,
            owner_user_id=values.owner_user_id or actor,
            closed_at=now if values.stage in CLOSED_KEYS else None,
            created_by=actor,
            created_at=now,
        )
        session.add(deal)
        session.flush()
        _record_stage(session, deal, None, actor, now)
        cf.save_values(session, workspace_id, FieldEntity.DEAL, deal.id, custom, actor=actor)
        extra = {"custom": _custom_of(session, deal, defs)} if custom else None
        audit.change(session, deal, AuditAction.CREATE, actor=actor, extra=extra)
        return deal


def _custom_of(session: Session, deal: Deal, defs: list[cf.FieldDef]) -> dict[str, Any]:
    values = cf.load_values(session, deal.workspace_id, FieldEntity.DEAL, [deal.id])[deal.id]
    return cf.values_by_key(defs, values)


def _live_deal(session: Session, workspace_id: int, deal_id: int, *, lock: bool = False) -> Deal:
    deal = session.get(Deal, deal_id, with_for_update=lock and session.get_bind().dialect.name == "postgresql")
    if deal is None or deal.workspace_id != workspace_id or deal.deleted_at is not None:
        raise NotFound("That deal no longer exists.")
    return deal


def _apply(deal: Deal, values: _Clean, actor: str, now: datetime) -> None:
    """Copy the checked values onto the deal; closing or reopening it sets ``closed_at``."""
    old_stage = deal.stage
    deal.title = values.title
    deal.amount_minor = values.amount_minor
    deal.currency = values.currency
    deal.expected_close = values.expected_close
    deal.owner_user_id = values.owner_user_id or deal.owner_user_id or actor
    deal.stage = values.stage
    if values.stage != old_stage:
        if values.stage in CLOSED_KEYS:
            deal.closed_at = now
        elif old_stage in CLOSED_KEYS:
            deal.closed_at = None


def update_deal(
    sf: sessionmaker[Session],
    workspace_id: int,
    deal_id: int,
    form: DealInput,
    *,
    actor: str,
    stages: PipelineStages,
    now: datetime,
    idempotency_key: str | None = None,
) -> Deal:
    """Save an edit; a new stage is kept in the stage history (from, to, who, when).

    With ``idempotency_key`` (the edit modal's view id), a replayed or concurrent submission of
    the same edit raises :class:`Conflict` and changes nothing, even if the deal changed since.
    """
    check_actor(actor)
    with sf.begin() as session:
        deal = _live_deal(session, workspace_id, deal_id, lock=True)
        values = _clean(form, stages, current_stage=deal.stage)
        defs = cf.definitions.fields_in(session, workspace_id, FieldEntity.DEAL, include_retired=True)
        custom = cf.clean_values(defs, form.custom)
        claim_once(session, workspace_id, "deal-edit", idempotency_key, ALREADY_SAVED)
        before = audit.snapshot(deal)
        custom_before = _custom_of(session, deal, defs)
        old_stage = deal.stage
        _apply(deal, values, actor, now)
        cf.save_values(session, workspace_id, FieldEntity.DEAL, deal.id, custom, actor=actor)
        custom_after = _custom_of(session, deal, defs)
        if audit.snapshot(deal) == before and custom_after == custom_before:
            return deal
        deal.updated_by = actor
        deal.updated_at = now
        if deal.stage != old_stage:
            _record_stage(session, deal, old_stage, actor, now)
        audit.change(
            session,
            deal,
            AuditAction.STAGE if deal.stage != old_stage else AuditAction.UPDATE,
            actor=actor,
            before={**before, "custom": custom_before},
            extra={"custom": custom_after},
        )
        return deal


@dataclass(frozen=True)
class DealView:
    deal: Deal
    customer_name: str


def get_deal(sf: sessionmaker[Session], workspace_id: int, deal_id: int) -> DealView:
    with sf() as session:
        deal = _live_deal(session, workspace_id, deal_id)
        customer = session.get(Customer, deal.customer_id)
        return DealView(deal, customer.name if customer else "a customer")


@dataclass(frozen=True)
class CustomerDeals:
    customer: Customer
    deals: list[Deal]  # open first (in pipeline order), then closed, newest first
    total: int


def customer_deals(
    sf: sessionmaker[Session], workspace_id: int, customer_id: int, *, stages: PipelineStages, limit: int = 20
) -> CustomerDeals:
    with sf() as session:
        customer = live_customer(session, workspace_id, customer_id)
        where = (Deal.customer_id == customer.id, Deal.deleted_at.is_(None))
        total = session.scalar(select(func.count()).select_from(Deal).where(*where)) or 0
        order = case({key: i for i, key in enumerate(stages.keys)}, value=Deal.stage, else_=len(stages))
        closed_last = case((Deal.stage.in_(CLOSED_KEYS), 1), else_=0)
        deals = session.scalars(
            select(Deal)
            .where(*where)
            .order_by(closed_last, func.coalesce(Deal.closed_at, Deal.created_at).desc(), order, Deal.id)
            .limit(limit)
        ).all()
        return CustomerDeals(customer, list(deals), total)


def stage_history(sf: sessionmaker[Session], workspace_id: int, deal_id: int) -> list[DealStageChange]:
    with sf() as session:
        _live_deal(session, workspace_id, deal_id)
        return list(
            session.scalars(
                select(DealStageChange)
                .where(DealStageChange.deal_id == deal_id)
                .order_by(DealStageChange.created_at, DealStageChange.id)
            ).all()
        )


# -- the pipeline by stage ------------------------------------------------------------------
@dataclass(frozen=True)
class StageTotal:
    stage: str
    count: int
    totals: dict[str, int]  # currency → minor units (deals without an amount count, add nothing)


@dataclass(frozen=True)
class PipelineSummary:
    open: list[StageTotal]  # configured open stages in order (empty ones too), retired ones after
    closed: list[StageTotal]  # won and lost, closed in the window
    closed_since: datetime
    open_count: int
    open_totals: dict[str, int]


def stage_totals(session: Session, where: tuple) -> dict[str, StageTotal]:
    """Count and per-currency totals by stage for the deals matching ``where`` (one GROUP BY)."""
    rows = session.execute(
        select(Deal.stage, Deal.currency, func.count(), func.coalesce(func.sum(Deal.amount_minor), 0))
        .where(*where)
        .group_by(Deal.stage, Deal.currency)
    ).all()
    counts: dict[str, int] = {}
    totals: dict[str, dict[str, int]] = {}
    for stage, currency, count, total in rows:
        counts[stage] = counts.get(stage, 0) + int(count)
        if total:
            totals.setdefault(stage, {})[currency] = totals.get(stage, {}).get(currency, 0) + int(total)
    return {s: StageTotal(s, counts[s], totals.get(s, {})) for s in counts}


def add_totals(parts: list[dict[str, int]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for part in parts:
        for currency, minor in part.items():
            out[currency] = out.get(currency, 0) + minor
    return out


def open_stage_list(stages: PipelineStages, found: dict[str, StageTotal]) -> list[StageTotal]:
    rows = [found.get(key) or StageTotal(key, 0, {}) for key in stages.open_keys]
    retired = sorted(k for k in found if k not in stages.keys and k not in CLOSED_KEYS)
    return rows + [found[k] for k in retired]


def pipeline_summary(
    sf: sessionmaker[Session],
    workspace_id: int,
    *,
    owner: str | None,
    stages: PipelineStages,
    now: datetime,
    closed_days: int = 30,
) -> PipelineSummary:
    """Open deals by stage, and deals won or lost in the last ``closed_days``; ``owner=None`` is the team."""
    base: tuple = (Deal.workspace_id == workspace_id, Deal.deleted_at.is_(None))
    if owner:
        base = (*base, Deal.owner_user_id == owner)
    since = now - timedelta(days=closed_days)
    with sf() as session:
        open_found = stage_totals(session, (*base, Deal.stage.not_in(CLOSED_KEYS)))
        closed_found = stage_totals(session, (*base, Deal.stage.in_(CLOSED_KEYS), Deal.closed_at >= since))
    open_rows = open_stage_list(stages, open_found)
    closed_rows = [closed_found.get(k) or StageTotal(k, 0, {}) for k in CLOSED_KEYS]
    return PipelineSummary(
        open=open_rows,
        closed=closed_rows,
        closed_since=since,
        open_count=sum(r.count for r in open_rows),
        open_totals=add_totals([r.totals for r in open_rows]),
    )


def format_totals(totals: dict[str, int], *, empty: str = "no amount", short: bool = False) -> str:
    """ "$12,000.00 + €5,000.00" (``short``: "$12k + €5k") in the one fixed currency order
    (``crm.money.CURRENCY_ORDER``); currencies are never added together."""
    if not totals:
        return empty
    fmt = format_money_short if short else format_money
    return " + ".join(fmt(minor, cur) for cur, minor in in_currency_order(totals))
