"""`/crm accounts`: customers with their value tier, lifetime value, open pipeline and last touch,
filtered and paged.

:class:`AccountFilter` holds what was asked (already split into words by the command's parser);
:func:`list_accounts` checks it against the workspace (lifecycle stages, custom fields) and
raises :class:`crm.errors.InvalidInput` with a sentence for anything it cannot use. Text is
matched with escaped ``LIKE`` patterns, so ``%``, ``_`` or quotes are only characters.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import String, and_, cast, func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from crm import custom_fields as cf
from crm.errors import InvalidInput
from crm.lifecycle import LifecycleStages
from crm.models import Customer, CustomerValueTier, CustomFieldValue
from crm.slack_ids import SLACK_USER_MENTION, is_user_id
from crm.states import FieldEntity, FieldType
from crm.value import TIERS, CustomerValue, customer_values, last_touch_column, live_customers

PER_PAGE = 10
MAX_VALUE_CHARS = 100
MAX_DAYS = 3650
NO_TIER = "none"  # tier:none — customers the daily recompute has not seen yet


@dataclass(frozen=True)
class AccountFilter:
    tiers: tuple[str, ...] = ()  # "A", "B", "C", or NO_TIER
    owner: str | None = None  # a Slack user id
    lifecycle: str | None = None  # as typed; resolved against the workspace's stages
    industry: str | None = None
    quiet_days: int | None = None  # last touch older than this many days (or never)
    custom: tuple[tuple[str, str], ...] = ()  # (field key or label, value as typed)
    name: str | None = None  # words that were not filters: part of the name

    @property
    def empty(self) -> bool:
        return self == AccountFilter()


@dataclass(frozen=True)
class AccountRow:
    customer_id: int
    name: str
    owner_user_id: str | None
    lifecycle_stage: str | None
    industry: str | None
    last_touch: datetime | None
    value: CustomerValue


@dataclass(frozen=True)
class AccountPage:
    rows: list[AccountRow]
    total: int
    page: int
    per_page: int
    described: list[str] = field(default_factory=list)  # the filters in words (plain text), but the owner

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def like(text: str) -> str:
    """``%text%`` with LIKE's own characters escaped (``\\`` is the escape)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _contains(column, text: str):
    return func.lower(column).like(like(text.lower()), escape="\\")


def _custom_condition(session: Session, workspace_id: int, name: str, value: str) -> tuple[object, str]:
    defs = cf.definitions.fields_in(session, workspace_id, FieldEntity.CUSTOMER)
    wanted = name.strip().lower()
    found = next((d for d in defs if d.key == wanted or d.label.lower() == wanted), None)
    if found is None:
        known = ", ".join(f"`{d.key}`" for d in defs[:15]) or "none yet"
        raise InvalidInput(
            f"“{name[:40]}” isn't a filter or a customer field. Filters: `tier:`, `owner:`, `stage:`, "
            f"`industry:`, `quiet:`; customer fields: {known}."
        )
    text = value.strip()
    match = CustomFieldValue.value_text
    if found.type in (FieldType.ONE_OF, FieldType.SEVERAL_OF):
        option = next((o for o in found.options if text.lower() in (o.key, o.label.lower())), None)
        if option is None:
            choices = ", ".join(o.label for o in found.options[:15])
            raise InvalidInput(f"{found.label} has no option “{text[:40]}”. Its options: {choices}.")
        if found.type == FieldType.ONE_OF:
            condition = match == option.key
        else:
            condition = cast(CustomFieldValue.value_list, String).like(like(f'"{option.key}"'), escape="\\")
        shown = option.label
    elif found.type == FieldType.YES_NO:
        if text.lower() not in ("yes", "no", "true", "false", "y", "n"):
            raise InvalidInput(f"{found.label} is yes or no; “{text[:20]}” is neither.")
        condition = CustomFieldValue.value_int == (1 if text.lower() in ("yes", "true", "y") else 0)
        shown = "yes" if text.lower() in ("yes", "true", "y") else "no"
    elif found.type in (FieldType.MONEY, FieldType.DATE, FieldType.NUMBER):
        raise InvalidInput(
            f"{found.label} is a {found.type.value.replace('_', ' ')} field, and those can't be filtered yet; "
            "filter on a text, list, yes/no or person field."
        )
    elif found.type == FieldType.PERSON:
        mention = SLACK_USER_MENTION.fullmatch(text)
        user = mention.group(1) if mention else text
        if not is_user_id(user):
            raise InvalidInput(f"Name the person for {found.label} with an @-mention, such as `{found.key}:@rita`.")
        condition = match == user
        shown = f"@{user}"  # plain text: the view escapes every description
    else:
        condition = _contains(match, text)
        shown = text
    exists = (
        select(CustomFieldValue.id)
        .where(
            CustomFieldValue.field_id == found.id,
            CustomFieldValue.record_id == Customer.id,
            CustomFieldValue.entity == FieldEntity.CUSTOMER,
            condition,
        )
        .exists()
    )
    return exists, f"{found.label}: {shown}"


def _conditions(
    session: Session, workspace_id: int, f: AccountFilter, lifecycle: LifecycleStages, now: datetime
) -> tuple[list, list[str]]:
    where: list = list(live_customers(workspace_id))
    said: list[str] = []
    if f.tiers:
        letters = [t for t in f.tiers if t in TIERS]
        options = [CustomerValueTier.tier.in_(letters)] if letters else []
        if NO_TIER in f.tiers:
            options.append(CustomerValueTier.id.is_(None))
        where.append(or_(*options))
        said.append("tier " + " or ".join(f.tiers))
    if f.owner:
        where.append(Customer.owner_user_id == f.owner)  # the view names the owner itself
    if f.lifecycle:
        stage = lifecycle.resolve(f.lifecycle)
        if stage is None:
            raise InvalidInput(f"“{f.lifecycle[:40]}” isn't a lifecycle stage. Pick one of {lifecycle.names()}.")
        where.append(Customer.lifecycle_stage == stage.key)
        said.append(f"stage {stage.label}")
    if f.industry:
        where.append(_contains(Customer.industry, f.industry[:MAX_VALUE_CHARS]))
        said.append(f"industry “{f.industry[:MAX_VALUE_CHARS]}”")
    if f.quiet_days is not None:
        touch = last_touch_column()
        since = now - timedelta(days=f.quiet_days)
        where.append(or_(touch.is_(None), touch < since))
        said.append(f"no activity in {f.quiet_days} days")
    for name, value in f.custom:
        condition, words = _custom_condition(session, workspace_id, name, value[:MAX_VALUE_CHARS])
        where.append(condition)
        said.append(words)
    if f.name:
        where.append(_contains(Customer.name, f.name[:MAX_VALUE_CHARS]))
        said.append(f"name contains “{f.name[:MAX_VALUE_CHARS]}”")
    return where, said


def list_accounts(
    sf: sessionmaker[Session],
    workspace_id: int,
    f: AccountFilter,
    *,
    lifecycle: LifecycleStages,
    now: datetime,
    page: int = 1,
    per_page: int = PER_PAGE,
) -> AccountPage:
    """One page of matching customers: tier A first, then B, C and not yet tiered, by name.
    A page past the end shows the last one."""
    if f.quiet_days is not None and not 0 <= f.quiet_days <= MAX_DAYS:
        raise InvalidInput(f"Give the quiet days as a number from 0 to {MAX_DAYS:,}, such as `quiet:30`.")
    with sf() as session:
        where, said = _conditions(session, workspace_id, f, lifecycle, now)
        joined = and_(CustomerValueTier.customer_id == Customer.id)
        base = select(Customer.id).outerjoin(CustomerValueTier, joined).where(*where)
        total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
        pages = max(1, -(-total // per_page))
        page = min(max(1, page), pages)
        tier_order = func.coalesce(CustomerValueTier.tier, "Z")
        rows = session.execute(
            select(Customer.id, Customer.name, Customer.owner_user_id, Customer.lifecycle_stage, Customer.industry,
                   last_touch_column().label("last_touch"))
            .outerjoin(CustomerValueTier, joined)
            .where(*where)
            .order_by(tier_order, Customer.normalized_name, Customer.id)
            .offset((page - 1) * per_page)
            .limit(per_page)
        ).all()  # fmt: skip
        values = customer_values(session, workspace_id, [r.id for r in rows])
    accounts = [
        AccountRow(r.id, r.name, r.owner_user_id, r.lifecycle_stage, r.industry, r.last_touch, values[r.id])
        for r in rows
    ]
    return AccountPage(accounts, total, page, per_page, said)
