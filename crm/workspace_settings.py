"""Settings a workspace's admins change in Slack, stored per workspace.

Each workspace's ``settings`` (JSON) holds what its admins set: activity types, deal stages,
lifecycle stages (each a ``key:Label:emoji[:aliases]`` list, the same words the environment
variables take), stage probabilities, stale days, key-account days, the default currency of new
deals, managers. What a workspace has
not set comes from the environment (``CRM_ACTIVITY_TYPES`` and friends), which is therefore the
default for new workspaces.

Every change is audited (entity ``workspace_settings``, before and after) and bumps the
workspace's ``settings_version``: each replica compares that number with the one its cached
settings were built from (``bot.services.Services.config``, at most every few seconds), so a
change reaches every replica within seconds. Removing a type or stage from a list retires it:
records that use it keep it and show it as retired, as with the environment variables.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from crm import audit
from crm.activity_types import parse_activity_types
from crm.actors import Actor
from crm.deals import StageTotal
from crm.errors import InvalidInput, PermissionDenied
from crm.fixed_lists import Item
from crm.forecast import parse_stage_probabilities
from crm.lifecycle import parse_lifecycle_stages
from crm.models import Workspace
from crm.pipeline_stages import PipelineStages, parse_pipeline_stages
from crm.slack_ids import is_user_id
from crm.states import AuditAction

ENTITY = "workspace_settings"
LISTS = {
    "activity_types": (parse_activity_types, "Activity types"),
    "deal_stages": (parse_pipeline_stages, "Deal stages"),
    "lifecycle_stages": (parse_lifecycle_stages, "Lifecycle stages"),
}
KEYS = (*LISTS, "stage_probabilities", "stale_days", "key_account_days", "default_currency", "managers")
DAYS = {
    "stale_days": "Stale days",
    "key_account_days": "Key-account days",
}


@dataclass(frozen=True)
class Stored:
    version: int
    values: dict[str, Any]  # only what the workspace's admins set


def read(session_factory: sessionmaker[Session], workspace_id: int) -> Stored:
    with session_factory() as session:
        row = session.execute(
            select(Workspace.settings_version, Workspace.settings).where(Workspace.id == workspace_id)
        ).first()
    if row is None:
        return Stored(0, {})
    values = row.settings if isinstance(row.settings, dict) else {}
    return Stored(int(row.settings_version or 0), {k: v for k, v in values.items() if k in KEYS})


def render(items: Iterable[Item]) -> str:
    """A list as the ``key:Label:emoji[:alias|alias]`` text it is written in."""
    parts = []
    for item in items:
        if item.retired:
            continue
        text = f"{item.key}:{item.label}:{item.emoji}"
        if item.aliases:
            text += ":" + "|".join(item.aliases)
        parts.append(text)
    return ",".join(parts)


def parse_probabilities(text: str, stages: PipelineStages) -> dict[str, int]:
    """ "lead=10, demo=40" (or ``lead:10``, one a line) → every open stage's chance of being won, in
    percent, the ones not given at their defaults: the same rule as ``CRM_STAGE_PROBABILITIES``
    (:func:`crm.forecast.parse_stage_probabilities`). Raises InvalidInput naming the problem."""
    entries = (part.strip().replace("=", ":", 1) for part in text.replace("\n", ",").split(","))
    try:
        return parse_stage_probabilities(",".join(e for e in entries if e), stages)
    except ValueError as err:
        raise InvalidInput(f"Stage probabilities: {err}.", field="stage_probabilities") from None


def render_probabilities(probabilities: Mapping[str, int]) -> str:
    return ", ".join(f"{k}={v}" for k, v in probabilities.items())


def weighted_totals(open_stages: Iterable[StageTotal], probabilities: Mapping[str, int]) -> dict[str, int]:
    """The open pipeline weighted by each stage's probability, per currency (minor units)."""
    totals: dict[str, int] = {}
    for row in open_stages:
        pct = probabilities.get(row.stage)
        if pct is None:
            continue
        for currency, minor in row.totals.items():
            totals[currency] = totals.get(currency, 0) + minor * pct // 100
    return totals


def clean(values: Mapping[str, Any], defaults: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Check what an admin submitted; raise InvalidInput naming the field. Returns the values to store.

    ``defaults`` are the environment's (what a blank list falls back to)."""
    defaults = defaults or {}
    out: dict[str, Any] = {}
    for key, (parse, label) in LISTS.items():
        if key in values:
            text = str(values[key] or "").strip()
            try:
                parse(text or None)
            except ValueError as err:
                raise InvalidInput(f"{label}: {err}.", field=key) from None
            out[key] = " ".join(text.split())
    if "stage_probabilities" in values:
        stages = parse_pipeline_stages(out.get("deal_stages") or defaults.get("deal_stages") or None)
        out["stage_probabilities"] = parse_probabilities(str(values["stage_probabilities"] or ""), stages)
    for key, label in DAYS.items():
        if key not in values:
            continue
        try:
            days = int(str(values[key]).strip())
        except ValueError:
            days = 0
        if not 1 <= days <= 365:
            raise InvalidInput(f"{label} must be a whole number from 1 to 365.", field=key)
        out[key] = days
    if "default_currency" in values:
        from crm.deals import clean_currency

        try:
            out["default_currency"] = clean_currency(str(values["default_currency"] or ""))
        except InvalidInput as err:
            raise InvalidInput(err.message, field="default_currency") from None
    if "managers" in values:
        managers = sorted({m for m in values["managers"] or [] if isinstance(m, str)})
        if any(not is_user_id(m) for m in managers):
            raise InvalidInput("Managers must be Slack users.", field="managers")
        out["managers"] = managers
    return out


def update(
    session_factory: sessionmaker[Session],
    workspace_id: int,
    actor: Actor,
    values: Mapping[str, Any],
    defaults: Mapping[str, Any] | None = None,
) -> int:
    """Store an admin's settings (workspace admins only), audited; the new settings version."""
    if not actor.is_admin:
        raise PermissionDenied("Only workspace admins can change the CRM's settings.")
    cleaned = clean(values, defaults)
    with session_factory.begin() as session:
        row = session.get(Workspace, workspace_id, with_for_update=True)
        if row is None:
            raise InvalidInput("This workspace is not known.")
        before = {k: v for k, v in (row.settings or {}).items() if k in KEYS}
        after = {**(row.settings or {}), **cleaned}
        row.settings = after
        row.settings_version = (row.settings_version or 0) + 1
        audit.record(
            session,
            workspace_id=workspace_id,
            entity_type=ENTITY,
            entity_id=workspace_id,
            action=AuditAction.UPDATE,
            actor=actor.user_id,
            before=before,
            after={k: v for k, v in after.items() if k in KEYS},
        )
        return row.settings_version
