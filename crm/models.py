"""The domain model: SQLAlchemy 2 typed mappings, shared by SQLite and PostgreSQL.

Conventions:
- Every business row belongs to a :class:`Workspace` (a Slack team, with room for an
  Enterprise Grid org) and records who created it and when (``created_by`` is a Slack
  user id, or ``"system"`` / ``"import"``).
- Deleting is soft: ``deleted_at`` / ``deleted_by`` are set and the row stays, so history
  survives. Queries for live rows filter on ``deleted_at IS NULL``.
- Timestamps are timezone-aware UTC (see :class:`UTCDateTime`).
- Money is stored as whole minor units (cents) in a BIGINT next to an ISO currency code,
  so sums are exact on both databases.

Schema changes go through Alembic migrations in ``crm/migrations``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, synonym

from crm.states import ActivitySource, AliasSource, DigestDays, DigestScope, FollowUpStatus, LinkStatus

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

USER_ID = 32  # Slack ids are ~11 chars; "system", "import" fit too.
EVENT_KEY = 128  # processed_events.event_key: longer keys are cut to fit
PHONE = 32  # E.164 is at most 16 characters; room for an extension
STREET = 512  # street lines (several joined with ", ")
PLACE = 128  # city, region, industry
POSTAL = 32
TAG = 64
FIELD_KEY = 64  # custom_fields.key
FIELD_LABEL = 80


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite keeps no zone, so we add it back)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; pass an aware datetime")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# Indexes a migration creates only where it can (the GIN trigram indexes need PostgreSQL's
# pg_trgm, see migration 0008), so the models do not declare them.
OPTIONAL_INDEXES = frozenset(["ix_trgm_customers_normalized_name", "ix_trgm_customer_aliases_normalized"])


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON()}


class Created:
    """Who created the row and when."""

    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(USER_ID), default="system")


class Tracked(Created):
    """Created, updated and soft-deleted."""

    updated_at: Mapped[datetime | None] = mapped_column(default=None, onupdate=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(USER_ID), default=None)
    deleted_at: Mapped[datetime | None] = mapped_column(default=None)
    deleted_by: Mapped[str | None] = mapped_column(String(USER_ID), default=None)


class Workspace(Created, Base):
    """A Slack workspace (team), optionally inside an Enterprise Grid org."""

    __tablename__ = "workspaces"
    __table_args__ = (UniqueConstraint("team_id", "enterprise_id_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    enterprise_id: Mapped[str | None] = mapped_column(String(32))
    # NULLs never collide in a UNIQUE constraint, so the key stores "" for no org.
    enterprise_id_key: Mapped[str] = mapped_column(String(32), default="")
    name: Mapped[str | None] = mapped_column(String(255))
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Bumped whenever customers, aliases or contacts change, so every replica can tell
    # that its in-memory search index is stale with one cheap query.
    search_version: Mapped[int] = mapped_column(BigInteger, default=0)
    # Set when Slack says the app was uninstalled or its bot token revoked: nothing is sent to
    # the workspace until it installs the app again (which clears it); its data stays.
    uninstalled_at: Mapped[datetime | None] = mapped_column(default=None)
    uninstall_reason: Mapped[str | None] = mapped_column(String(64), default=None)
    # Bumped whenever an admin changes the workspace's settings (crm/workspace_settings.py), so
    # every replica can tell that its cached settings are stale with one cheap query.
    settings_version: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class Customer(Tracked, Base):
    """A customer account (company)."""

    __tablename__ = "customers"
    __table_args__ = (
        Index("ix_customers_ws_norm", "workspace_id", "normalized_name"),
        Index("ix_customers_ws_domain", "workspace_id", "domain"),
        Index("ix_customers_ws_index_version", "workspace_id", "index_version"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    normalized_name: Mapped[str] = mapped_column(String(255))
    website: Mapped[str | None] = mapped_column(String(255))
    domain: Mapped[str | None] = mapped_column(String(255))
    owner_user_id: Mapped[str | None] = mapped_column(String(USER_ID))
    notes: Mapped[str | None] = mapped_column(Text)
    # Set when this record was merged into another; the keeper's id.
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    # Who chose "Create anyway" past the duplicate guard, if anyone.
    duplicate_override_by: Mapped[str | None] = mapped_column(String(USER_ID))
    external_ref: Mapped[str | None] = mapped_column(String(255))
    # Workspace.search_version at this row's last change (or its contacts' / aliases'):
    # replicas reload just the customers changed since their index was built.
    index_version: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # The fuller record (issue 14): values cleaned by crm.fields before they get here.
    phone: Mapped[str | None] = mapped_column(String(PHONE))  # E.164, "+14155550123"
    billing_street: Mapped[str | None] = mapped_column(String(STREET))
    billing_city: Mapped[str | None] = mapped_column(String(PLACE))
    billing_region: Mapped[str | None] = mapped_column(String(PLACE))  # ISO 3166-2 ("US-CA") or as typed
    billing_postal_code: Mapped[str | None] = mapped_column(String(POSTAL))
    billing_country: Mapped[str | None] = mapped_column(String(2))  # ISO 3166-1 alpha-2
    shipping_street: Mapped[str | None] = mapped_column(String(STREET))
    shipping_city: Mapped[str | None] = mapped_column(String(PLACE))
    shipping_region: Mapped[str | None] = mapped_column(String(PLACE))
    shipping_postal_code: Mapped[str | None] = mapped_column(String(POSTAL))
    shipping_country: Mapped[str | None] = mapped_column(String(2))
    industry: Mapped[str | None] = mapped_column(String(PLACE))
    employees: Mapped[int | None] = mapped_column(Integer)
    annual_revenue_minor: Mapped[int | None] = mapped_column(BigInteger)  # minor units, like deals
    annual_revenue_currency: Mapped[str | None] = mapped_column(String(3))
    description: Mapped[str | None] = mapped_column(Text)
    # A key from the workspace's lifecycle stages (crm.lifecycle); NULL until someone sets one.
    lifecycle_stage: Mapped[str | None] = mapped_column(String(64))

    contacts: Mapped[list[Contact]] = relationship(back_populates="customer", foreign_keys="Contact.customer_id")
    aliases: Mapped[list[CustomerAlias]] = relationship(back_populates="customer")
    tags: Mapped[list[CustomerTag]] = relationship(
        back_populates="customer", order_by="CustomerTag.normalized", cascade="all, delete-orphan"
    )


class CustomerTag(Created, Base):
    """A tag on a customer, as first typed; ``normalized`` (case-folded) is unique per customer."""

    __tablename__ = "customer_tags"
    __table_args__ = (
        UniqueConstraint("customer_id", "normalized"),
        Index("ix_customer_tags_ws_norm", "workspace_id", "normalized"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    tag: Mapped[str] = mapped_column(String(TAG))
    normalized: Mapped[str] = mapped_column(String(TAG))

    customer: Mapped[Customer] = relationship(back_populates="tags")


class CustomerLifecycleChange(Created, Base):
    """History of a customer's lifecycle stage: one row per change (the first has ``from_stage`` NULL)."""

    __tablename__ = "customer_lifecycle_changes"
    __table_args__ = (
        Index("ix_customer_lifecycle_changes_customer", "customer_id", "created_at"),
        # Conversions: "how many became customers in November".
        Index("ix_customer_lifecycle_changes_ws_to_at", "workspace_id", "to_stage", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    from_stage: Mapped[str | None] = mapped_column(String(64))
    to_stage: Mapped[str] = mapped_column(String(64))


class CustomerValueTier(Base):
    """A customer's value tier (A, B or C by Pareto over won deals), recomputed daily by
    ``crm.value.recompute_tiers``; one row per customer, rewritten only when the tier changes."""

    __tablename__ = "customer_value_tiers"
    __table_args__ = (Index("ix_customer_value_tiers_ws_tier", "workspace_id", "tier"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), unique=True)
    tier: Mapped[str] = mapped_column(String(1))
    # The currency whose ranking gave the tier (the customer's best); NULL for C without won deals.
    basis_currency: Mapped[str | None] = mapped_column(String(3))
    computed_at: Mapped[datetime] = mapped_column()


class CustomerAlias(Created, Base):
    """Another name a customer is found by (e.g. the name of a record merged into it)."""

    __tablename__ = "customer_aliases"
    __table_args__ = (Index("ix_customer_aliases_ws_norm", "workspace_id", "normalized"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    alias: Mapped[str] = mapped_column(String(255))
    normalized: Mapped[str] = mapped_column(String(255))
    source: Mapped[str] = mapped_column(String(32), default=AliasSource.MANUAL)

    customer: Mapped[Customer] = relationship(back_populates="aliases")


class Contact(Tracked, Base):
    """A person at a customer."""

    __tablename__ = "contacts"
    __table_args__ = (
        Index("ix_contacts_ws_email", "workspace_id", "email"),
        Index("ix_contacts_customer", "customer_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    name: Mapped[str] = mapped_column(String(255))
    normalized_name: Mapped[str] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(320))
    # The work phone (the column predates mobile_phone; ``work_phone`` names it too). Rows saved
    # before issue 14 hold the phone as typed then; new ones hold E.164.
    phone: Mapped[str | None] = mapped_column(String(64))
    title: Mapped[str | None] = mapped_column(String(255))
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    external_ref: Mapped[str | None] = mapped_column(String(255))
    mobile_phone: Mapped[str | None] = mapped_column(String(PHONE))  # E.164
    street: Mapped[str | None] = mapped_column(String(STREET))
    city: Mapped[str | None] = mapped_column(String(PLACE))
    region: Mapped[str | None] = mapped_column(String(PLACE))
    postal_code: Mapped[str | None] = mapped_column(String(POSTAL))
    country: Mapped[str | None] = mapped_column(String(2))

    work_phone = synonym("phone")

    customer: Mapped[Customer] = relationship(back_populates="contacts", foreign_keys=[customer_id])


class Deal(Tracked, Base):
    """An opportunity with a customer, moving through the workspace's pipeline stages."""

    __tablename__ = "deals"
    __table_args__ = (
        Index("ix_deals_ws_stage", "workspace_id", "stage"),
        Index("ix_deals_customer", "customer_id"),
        # The digest's "created since the last digest".
        Index("ix_deals_ws_created", "workspace_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    title: Mapped[str] = mapped_column(String(255))
    amount_minor: Mapped[int | None] = mapped_column(BigInteger)  # cents (currency minor units)
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    stage: Mapped[str] = mapped_column(String(64))  # a stage key from the workspace pipeline
    expected_close: Mapped[date | None] = mapped_column(Date)
    owner_user_id: Mapped[str | None] = mapped_column(String(USER_ID))
    closed_at: Mapped[datetime | None] = mapped_column(default=None)
    last_activity_at: Mapped[datetime | None] = mapped_column(default=None)
    external_ref: Mapped[str | None] = mapped_column(String(255))


class DealStageChange(Created, Base):
    """History of a deal's stage: one row per move (the first has ``from_stage`` NULL)."""

    __tablename__ = "deal_stage_changes"
    __table_args__ = (Index("ix_deal_stage_changes_ws_at", "workspace_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id"))
    deal_id: Mapped[int] = mapped_column(ForeignKey("deals.id"), index=True)
    from_stage: Mapped[str | None] = mapped_column(String(64))
    to_stage: Mapped[str] = mapped_column(String(64))


class Activity(Tracked, Base):
    """Something a rep did with a customer: a call, meeting, email, demo, ..."""

    __tablename__ = "activities"
    __table_args__ = (
        Index("ix_activities_customer_at", "customer_id", "occurred_at"),
        Index("ix_activities_ws_at", "workspace_id", "occurred_at"),
        Index("ix_activities_ws_by", "workspace_id", "created_by", "occurred_at"),
        UniqueConstraint("workspace_id", "idempotency_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    deal_id: Mapped[int | None] = mapped_column(ForeignKey("deals.id"))
    type_key: Mapped[str] = mapped_column(String(32))
    summary: Mapped[str] = mapped_column(Text)
    occurred_at: Mapped[datetime] = mapped_column()
    source: Mapped[str] = mapped_column(String(16), default=ActivitySource.MODAL)
    permalink: Mapped[str | None] = mapped_column(String(1024))
    # Unique per workspace: a double-clicked submit or a replayed payload saves once.
    idempotency_key: Mapped[str | None] = mapped_column(String(128))
    external_ref: Mapped[str | None] = mapped_column(String(255))


class FollowUp(Tracked, Base):
    """A promise to get back to a customer by a due time; nudged once when due."""

    __tablename__ = "follow_ups"
    __table_args__ = (
        Index("ix_follow_ups_owner_status", "workspace_id", "owner_user_id", "status", "due_at"),
        Index("ix_follow_ups_customer", "customer_id"),
        # A double-submitted or replayed follow-up modal saves once (NULL keys don't collide).
        Index("uq_follow_ups_ws_idempotency_key", "workspace_id", "idempotency_key", unique=True),
        # The scheduler's only query on an idle tick: an index range scan over the few
        # rows that still wait for a nudge.
        Index(
            "ix_follow_ups_nudge_at",
            "nudge_at",
            postgresql_where=text("nudge_at IS NOT NULL"),
            sqlite_where=text("nudge_at IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    activity_id: Mapped[int | None] = mapped_column(ForeignKey("activities.id"))
    deal_id: Mapped[int | None] = mapped_column(ForeignKey("deals.id"))
    owner_user_id: Mapped[str] = mapped_column(String(USER_ID))
    due_at: Mapped[datetime] = mapped_column()
    note: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=FollowUpStatus.OPEN)
    # When the next nudge should go out; NULL once sent or when closed.
    nudge_at: Mapped[datetime | None] = mapped_column(default=None)
    nudge_claimed_by: Mapped[str | None] = mapped_column(String(64))
    nudge_claimed_until: Mapped[datetime | None] = mapped_column(default=None)
    nudge_attempts: Mapped[int] = mapped_column(Integer, default=0)
    nudged_at: Mapped[datetime | None] = mapped_column(default=None)
    nudge_channel: Mapped[str | None] = mapped_column(String(32))
    nudge_ts: Mapped[str | None] = mapped_column(String(32))
    nudge_error: Mapped[str | None] = mapped_column(String(255))
    completed_at: Mapped[datetime | None] = mapped_column(default=None)
    completed_by: Mapped[str | None] = mapped_column(String(USER_ID))
    idempotency_key: Mapped[str | None] = mapped_column(String(128))


class DigestSubscription(Tracked, Base):
    """A channel that gets the daily pipeline digest at a local time."""

    __tablename__ = "digest_subscriptions"
    __table_args__ = (
        Index("ix_digest_subscriptions_ws_channel", "workspace_id", "channel_id"),
        # One live subscription per channel: two "subscribe" at once update one row.
        Index(
            "uq_digest_subscriptions_live_channel",
            "workspace_id",
            "channel_id",
            unique=True,
            postgresql_where=text("deleted_at IS NULL"),
            sqlite_where=text("deleted_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id"))
    channel_id: Mapped[str] = mapped_column(String(32))
    local_time: Mapped[str] = mapped_column(String(5), default="09:00")  # HH:MM
    days: Mapped[str] = mapped_column(String(16), default=DigestDays.WEEKDAYS)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    subscriber_user_id: Mapped[str] = mapped_column(String(USER_ID))
    scope: Mapped[str] = mapped_column(String(16), default=DigestScope.TEAM)
    last_snapshot: Mapped[dict[str, Any] | None] = mapped_column(default=None)


class DigestRun(Created, Base):
    """One digest post for one subscription on one local day: the exactly-once claim."""

    __tablename__ = "digest_runs"
    __table_args__ = (UniqueConstraint("subscription_id", "run_date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id"))
    subscription_id: Mapped[int] = mapped_column(ForeignKey("digest_subscriptions.id"))
    run_date: Mapped[date] = mapped_column(Date)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_until: Mapped[datetime | None] = mapped_column(default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    message_ts: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(String(255))
    # Where the summary went (channel or DM) and its thread reply, kept as soon as each is posted.
    post_channel: Mapped[str | None] = mapped_column(String(32))
    detail_ts: Mapped[str | None] = mapped_column(String(32))


class ProcessedEvent(Created, Base):
    """Slack deliveries already handled (Events API retries, replayed payloads)."""

    __tablename__ = "processed_events"
    __table_args__ = (UniqueConstraint("workspace_id", "event_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id"))
    event_key: Mapped[str] = mapped_column(String(EVENT_KEY))


class AuditEntry(Created, Base):
    """Who changed what, with the values before and after. Never updated or deleted."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_entity", "workspace_id", "entity_type", "entity_id"),
        Index("ix_audit_log_ws_at", "workspace_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id"))
    entity_type: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[int] = mapped_column(BigInteger)
    action: Mapped[str] = mapped_column(String(32))
    before: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    after: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    note: Mapped[str | None] = mapped_column(Text)


class SlackUser(Created, Base):
    """Cached ``users.info`` (time zone, locale, names, admin flags) for one workspace user."""

    __tablename__ = "slack_users"
    __table_args__ = (UniqueConstraint("workspace_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id"))
    user_id: Mapped[str] = mapped_column(String(USER_ID))
    display_name: Mapped[str | None] = mapped_column(String(255))
    real_name: Mapped[str | None] = mapped_column(String(255))
    tz: Mapped[str | None] = mapped_column(String(64))
    locale: Mapped[str | None] = mapped_column(String(32))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    is_owner: Mapped[bool] = mapped_column(Boolean, default=False)
    is_bot: Mapped[bool] = mapped_column(Boolean, default=False)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    role: Mapped[str | None] = mapped_column(String(16))  # CRM role: rep | manager | admin
    fetched_at: Mapped[datetime] = mapped_column(default=utcnow)


class CustomField(Tracked, Base):
    """A workspace's own field on customers, contacts or deals (``crm.custom_fields``).

    ``key`` is stable and never changes, so renaming the ``label`` loses nothing; a retired
    field keeps its values and can be brought back. ``options`` (for the list types) is a list
    of ``{"key": ..., "label": ...}``: values store option keys, so renaming an option loses
    nothing either.
    """

    __tablename__ = "custom_fields"
    __table_args__ = (
        UniqueConstraint("workspace_id", "entity", "key"),
        Index("ix_custom_fields_ws_entity_pos", "workspace_id", "entity", "position"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id"))
    entity: Mapped[str] = mapped_column(String(16))  # a crm.states.FieldEntity
    key: Mapped[str] = mapped_column(String(FIELD_KEY))
    label: Mapped[str] = mapped_column(String(FIELD_LABEL))
    type: Mapped[str] = mapped_column(String(16))  # a crm.states.FieldType
    options: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    position: Mapped[int] = mapped_column(Integer, default=0)
    retired_at: Mapped[datetime | None] = mapped_column(default=None)
    retired_by: Mapped[str | None] = mapped_column(String(USER_ID), default=None)


class CustomFieldValue(Base):
    """One record's value of one custom field, in the column its type uses.

    text, URL, email, person and one-of-a-list (the option key) use ``value_text``; a number
    is kept exactly as its canonical decimal text in ``value_text`` too (SQLite has no exact
    decimal); money uses ``value_int`` (minor units) and ``value_currency``; yes/no uses
    ``value_int`` (0/1); date uses ``value_date``; several-of-a-list uses ``value_list``
    (option keys). Rows stay when the field is renamed or retired.
    """

    __tablename__ = "custom_field_values"
    __table_args__ = (
        UniqueConstraint("field_id", "record_id"),
        Index("ix_custom_field_values_record", "workspace_id", "entity", "record_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id"))
    entity: Mapped[str] = mapped_column(String(16))
    record_id: Mapped[int] = mapped_column(BigInteger)
    field_id: Mapped[int] = mapped_column(ForeignKey("custom_fields.id"))
    value_text: Mapped[str | None] = mapped_column(Text)
    value_int: Mapped[int | None] = mapped_column(BigInteger)
    value_currency: Mapped[str | None] = mapped_column(String(3))
    value_date: Mapped[date | None] = mapped_column(Date)
    value_list: Mapped[list[str] | None] = mapped_column(JSON, default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    updated_by: Mapped[str] = mapped_column(String(USER_ID), default="system")


# -- capture without typing (issue 17): linked channels, routed alerts and their outbox ----------
CHANNEL_NAME = 80  # Slack's limit for a channel name


class LinkedChannel(Tracked, Base):
    """A channel linked to a customer, or to a deal (a deal room); one live link per channel.

    ``is_shared`` records a Slack Connect channel: it stays linked, but no internal data is posted
    there. ``status`` says whether the channel still takes posts (a ``crm.states.LinkStatus``)."""

    __tablename__ = "linked_channels"
    __table_args__ = (
        Index(
            "uq_linked_channels_live_channel",
            "workspace_id",
            "channel_id",
            unique=True,
            postgresql_where=text("deleted_at IS NULL"),
            sqlite_where=text("deleted_at IS NULL"),
        ),
        Index("ix_linked_channels_ws_customer", "workspace_id", "customer_id"),
        Index("ix_linked_channels_ws_deal", "workspace_id", "deal_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id"))
    channel_id: Mapped[str] = mapped_column(String(32))
    channel_name: Mapped[str | None] = mapped_column(String(CHANNEL_NAME))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    deal_id: Mapped[int | None] = mapped_column(ForeignKey("deals.id"))
    is_room: Mapped[bool] = mapped_column(Boolean, default=False)  # created by /crm room
    is_shared: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default=LinkStatus.ACTIVE)
    status_note: Mapped[str | None] = mapped_column(String(255))
    status_at: Mapped[datetime | None] = mapped_column(default=None)


class AlertSubscription(Tracked, Base):
    """A channel subscribed to deal events, with its filters; one live subscription per channel."""

    __tablename__ = "alert_subscriptions"
    __table_args__ = (
        Index(
            "uq_alert_subscriptions_live_channel",
            "workspace_id",
            "channel_id",
            unique=True,
            postgresql_where=text("deleted_at IS NULL"),
            sqlite_where=text("deleted_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id"))
    channel_id: Mapped[str] = mapped_column(String(32))
    subscriber_user_id: Mapped[str] = mapped_column(String(USER_ID))
    events: Mapped[list[str]] = mapped_column(JSON, default=list)  # ChannelEventKind values
    stage: Mapped[str | None] = mapped_column(String(64))  # only deals in (or reaching) this stage
    min_amount_minor: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str | None] = mapped_column(String(3))
    reps: Mapped[list[str] | None] = mapped_column(JSON, default=None)  # only deals these users own
    tier: Mapped[str | None] = mapped_column(String(64))  # value tiers, "A" or "AB" (crm.alerts)
    status: Mapped[str] = mapped_column(String(16), default=LinkStatus.ACTIVE)
    status_note: Mapped[str | None] = mapped_column(String(255))


class ChannelPost(Created, Base):
    """The outbox: one message for one event in one channel, sent exactly once (claimed like nudges).

    ``(workspace_id, event_key, channel_id)`` is unique, so an event published twice (a retry, two
    replicas scanning for overdue follow-ups) queues one message."""

    __tablename__ = "channel_posts"
    __table_args__ = (
        UniqueConstraint("workspace_id", "event_key", "channel_id"),
        Index(
            "ix_channel_posts_send_at",
            "send_at",
            postgresql_where=text("send_at IS NOT NULL"),
            sqlite_where=text("send_at IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id"))
    channel_id: Mapped[str] = mapped_column(String(32))
    event_key: Mapped[str] = mapped_column(String(EVENT_KEY))
    route: Mapped[str] = mapped_column(String(16))  # "link" or "alert"
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    send_at: Mapped[datetime | None] = mapped_column(default=None)  # NULL once sent or parked
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_until: Mapped[datetime | None] = mapped_column(default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    message_ts: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(String(255))


class ActivityParticipant(Base):
    """Someone who took part in what an activity records (the people in a logged thread)."""

    __tablename__ = "activity_participants"
    __table_args__ = (
        UniqueConstraint("activity_id", "user_id"),
        Index("ix_activity_participants_ws_user", "workspace_id", "user_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id"))
    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id"))
    user_id: Mapped[str] = mapped_column(String(USER_ID))


class MailInbox(Created, Base):
    """A workspace's address for email capture (issue 17): ``crm+<token>@<CRM_MAIL_DOMAIN>``.

    The token is the secret that keeps one workspace's mail out of another's; an admin can
    rotate it (the old address stops working) and turn capture off."""

    __tablename__ = "mail_inboxes"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id"), unique=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    updated_at: Mapped[datetime | None] = mapped_column(default=None)
    updated_by: Mapped[str | None] = mapped_column(String(USER_ID), default=None)


class InboundEmail(Created, Base):
    """One captured mail, once per workspace (``message_key``: a digest of its Message-ID).

    ``status`` is ``filed`` (logged as ``activity_id``), ``unfiled`` (waiting in the rep's Home
    tab for a customer to be picked; ``candidates`` are the customer ids it matched, if several)
    or ``dismissed`` (the rep said it belongs to no customer). Attachments are named, not stored."""

    __tablename__ = "inbound_emails"
    __table_args__ = (
        UniqueConstraint("workspace_id", "message_key"),
        Index("ix_inbound_emails_ws_rep_status", "workspace_id", "rep_user_id", "status"),
        Index("ix_inbound_emails_ws_sent", "workspace_id", "sent_at"),  # an inline forward's original
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id"))
    message_key: Mapped[str] = mapped_column(String(80))
    message_id: Mapped[str | None] = mapped_column(String(998))
    via: Mapped[str] = mapped_column(String(16))  # smtp, sendgrid, mailgun
    rep_user_id: Mapped[str] = mapped_column(String(USER_ID))
    from_address: Mapped[str] = mapped_column(String(320))
    counterparts: Mapped[list[str]] = mapped_column(JSON, default=list)  # the other party's addresses
    subject: Mapped[str] = mapped_column(String(998), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    attachments: Mapped[list[str]] = mapped_column(JSON, default=list)
    sent_at: Mapped[datetime] = mapped_column()
    status: Mapped[str] = mapped_column(String(16))
    candidates: Mapped[list[int]] = mapped_column(JSON, default=list)
    activity_id: Mapped[int | None] = mapped_column(ForeignKey("activities.id"))
    filed_at: Mapped[datetime | None] = mapped_column(default=None)
    filed_by: Mapped[str | None] = mapped_column(String(USER_ID), default=None)


class Handover(Created, Base):
    """One `/crm handover`: who handed what to whom (``moved``: the ids of the customers,
    deals and follow-ups that changed owner, so Undo restores exactly those), and the claim
    that sends the new owner's brief exactly once."""

    __tablename__ = "handovers"
    __table_args__ = (UniqueConstraint("workspace_id", "idempotency_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id"))
    from_user_id: Mapped[str] = mapped_column(String(USER_ID))
    to_user_id: Mapped[str] = mapped_column(String(USER_ID))
    scope: Mapped[str] = mapped_column(String(64))  # "all", "tier:A" or "customer:<id>"
    moved: Mapped[dict[str, Any]] = mapped_column(default=dict)
    idempotency_key: Mapped[str] = mapped_column(String(64))  # the Confirm button's: pressed twice, moves once
    undone_at: Mapped[datetime | None] = mapped_column(default=None)
    undone_by: Mapped[str | None] = mapped_column(String(USER_ID), default=None)
    brief_claimed_by: Mapped[str | None] = mapped_column(String(64), default=None)
    brief_claimed_until: Mapped[datetime | None] = mapped_column(default=None)
    brief_sent_at: Mapped[datetime | None] = mapped_column(default=None)
    brief_ts: Mapped[str | None] = mapped_column(String(32), default=None)
    brief_error: Mapped[str | None] = mapped_column(String(255), default=None)


# -- Slack's OAuth tables -----------------------------------------------------------------------
# The tables slack_sdk's SQLAlchemy installation and state stores read and write
# (slack_sdk.oauth.installation_store.sqlalchemy, state_store.sqlalchemy), declared here so that
# Alembic creates them like every other table. The token columns are wider than slack_sdk's 200
# characters: they hold Fernet ciphertext (bot/installations.py), and rotating tokens are long.
TOKEN = 1000


def _installation_columns(*, user: bool) -> list[Column[Any]]:
    columns: list[Column[Any]] = [
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("client_id", String(32), nullable=False),
        Column("app_id", String(32), nullable=False),
        Column("enterprise_id", String(32)),
        Column("enterprise_name", String(200)),
    ]
    if user:
        columns.append(Column("enterprise_url", String(200)))
    columns += [
        Column("team_id", String(32)),
        Column("team_name", String(200)),
        Column("bot_token", String(TOKEN)),
        Column("bot_id", String(32)),
        Column("bot_user_id", String(32)),
        Column("bot_scopes", String(1000)),
        Column("bot_refresh_token", String(TOKEN)),
        Column("bot_token_expires_at", DateTime),
    ]
    if user:
        columns += [
            Column("user_id", String(32), nullable=False),
            Column("user_token", String(TOKEN)),
            Column("user_scopes", String(1000)),
            Column("user_refresh_token", String(TOKEN)),
            Column("user_token_expires_at", DateTime),
            Column("incoming_webhook_url", String(TOKEN)),
            Column("incoming_webhook_channel", String(200)),
            Column("incoming_webhook_channel_id", String(200)),
            Column("incoming_webhook_configuration_url", String(200)),
        ]
    columns += [
        Column("is_enterprise_install", Boolean, nullable=False, default=False),
    ]
    if user:
        columns.append(Column("token_type", String(32)))
    columns.append(Column("installed_at", DateTime, nullable=False))
    return columns


slack_installations = Table(
    "slack_installations",
    Base.metadata,
    *_installation_columns(user=True),
    Index("slack_installations_idx", "client_id", "enterprise_id", "team_id", "user_id", "installed_at"),
)
slack_bots = Table(
    "slack_bots",
    Base.metadata,
    *_installation_columns(user=False),
    Index("slack_bots_idx", "client_id", "enterprise_id", "team_id", "installed_at"),
)
slack_oauth_states = Table(
    "slack_oauth_states",
    Base.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("state", String(200), nullable=False),
    Column("expire_at", DateTime, nullable=False),
)
