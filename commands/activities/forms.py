"""Reading the log modal back: its private_metadata (:class:`LogMeta`) and its state
(:class:`LogSubmission`), neither of them trusted. Ids go through ``as_id``, so a forged
``99999999999999999999`` reads as "none" rather than reaching the database."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from commands.activities.views import (
    CONTACT_ACTION,
    CONTACT_BLOCK,
    CUSTOMER_ACTION,
    CUSTOMER_BLOCK,
    DEAL_ACTION,
    DEAL_BLOCK,
    FOLLOW_UP_DATE_ACTION,
    FOLLOW_UP_DATE_BLOCK,
    FOLLOW_UP_TEXT_ACTION,
    FOLLOW_UP_TEXT_BLOCK,
    SUMMARY_ACTION,
    SUMMARY_BLOCK,
    TYPE_ACTION,
    TYPE_BLOCK,
    WHEN_ACTION,
    WHEN_BLOCK,
)
from commands.blockkit import PRIVATE_METADATA_MAX
from commands.common import as_id, input_value
from commands.pickers import picked
from crm.states import ActivitySource

# How the form can be opened; SLASH: a one-liner that needed the form.
SOURCES = (ActivitySource.MODAL, ActivitySource.SHORTCUT, ActivitySource.SLASH)


@dataclass
class LogMeta:
    """The modal's private_metadata: how it was opened and what it edits."""

    mode: str = "log"  # "log" | "edit"
    source: ActivitySource = ActivitySource.MODAL
    channel: str | None = None
    activity_id: int | None = None
    customer_id: int | None = None
    permalink: str | None = None
    summary_locked: bool = False  # editing a summary too long for Slack's input: keep it as is

    @property
    def editing(self) -> bool:
        return self.mode == "edit" and self.activity_id is not None

    def dump(self) -> str:
        data = {k: v for k, v in self.__dict__.items() if v not in (None, False)}
        raw = json.dumps(data, separators=(",", ":"))
        if len(raw) > PRIVATE_METADATA_MAX:  # only a monstrous permalink could do this
            data.pop("permalink", None)
            raw = json.dumps(data, separators=(",", ":"))
        return raw

    @classmethod
    def load(cls, data: dict[str, Any]) -> LogMeta:
        """Read it back without trusting it: wrong kinds of values are dropped."""

        def text(key: str) -> str | None:
            value = data.get(key)
            return value if isinstance(value, str) and value else None

        source = data.get("source")
        return cls(
            mode="edit" if data.get("mode") == "edit" else "log",
            source=ActivitySource(source) if source in SOURCES else ActivitySource.MODAL,
            channel=text("channel"),
            activity_id=as_id(data.get("activity_id")),
            customer_id=as_id(data.get("customer_id")),
            permalink=text("permalink"),
            summary_locked=data.get("summary_locked") is True,
        )


@dataclass
class LogSubmission:
    """What the modal's state says, each value checked for its kind."""

    customer_id: int | None
    new_customer: str | None  # "➕ New customer: …" picked but not created yet
    type_key: str | None
    contact_id: int | None
    deal_id: int | None
    contact_block: str | None
    deal_block: str | None
    summary: str | None
    occurred_ts: int | None
    follow_up_text: str | None
    follow_up_date: str | None

    def block_of(self, field: str | None) -> str:
        """The block that shows an error about ``field``."""
        dynamic = {"contact": self.contact_block, "deal": self.deal_block}
        return dynamic.get(field or "") or FIELDS.get(field) or CUSTOMER_BLOCK

    def occurred_at(self, now: datetime) -> datetime:
        """When it happened (now if not given); an impossible time reads as 1970, which the
        service refuses as too long ago."""
        if self.occurred_ts is None:
            return now
        try:
            return datetime.fromtimestamp(self.occurred_ts, UTC)
        except (OverflowError, OSError, ValueError):
            return datetime(1970, 1, 1, tzinfo=UTC)


# A CRMError's field -> the block that shows it (contact and deal blocks are per customer).
FIELDS: dict[str | None, str] = {
    None: CUSTOMER_BLOCK,
    "customer": CUSTOMER_BLOCK,
    "type": TYPE_BLOCK,
    "summary": SUMMARY_BLOCK,
    "occurred_at": WHEN_BLOCK,
    "follow_up": FOLLOW_UP_TEXT_BLOCK,
    "follow_up_date": FOLLOW_UP_DATE_BLOCK,
}


def _state_block(values: dict[str, Any], prefix: str) -> str | None:
    return next((b for b in values if b == prefix or b.startswith(prefix + ":")), None)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def read_log_state(values: dict[str, Any]) -> LogSubmission:
    """The log modal's state values, read without trusting any of them."""
    choice = picked((values.get(CUSTOMER_BLOCK) or {}).get(CUSTOMER_ACTION) or {})
    contact_block = _state_block(values, CONTACT_BLOCK)
    deal_block = _state_block(values, DEAL_BLOCK)
    when = (values.get(WHEN_BLOCK) or {}).get(WHEN_ACTION) or {}
    ts = when.get("selected_date_time")
    return LogSubmission(
        customer_id=as_id(choice[1]) if choice and choice[0] == "customer" else None,
        new_customer=str(choice[1]) if choice and choice[0] == "new" else None,
        type_key=_text(input_value(values, TYPE_BLOCK, TYPE_ACTION)),
        contact_id=as_id(input_value(values, contact_block, CONTACT_ACTION)) if contact_block else None,
        deal_id=as_id(input_value(values, deal_block, DEAL_ACTION)) if deal_block else None,
        contact_block=contact_block,
        deal_block=deal_block,
        summary=_text(input_value(values, SUMMARY_BLOCK, SUMMARY_ACTION)) if SUMMARY_BLOCK in values else None,
        occurred_ts=ts if isinstance(ts, int) and not isinstance(ts, bool) else None,
        follow_up_text=_text(input_value(values, FOLLOW_UP_TEXT_BLOCK, FOLLOW_UP_TEXT_ACTION)),
        follow_up_date=_text(input_value(values, FOLLOW_UP_DATE_BLOCK, FOLLOW_UP_DATE_ACTION)),
    )
