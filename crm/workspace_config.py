"""A workspace's settings as the rules use them: activity types, pipeline stages, roles, habits.

Parsed once and shared; handlers and jobs get it from ``Services.config(workspace_id)`` and never
parse the raw settings again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time

from crm import forecast, lifecycle
from crm.activity_types import ActivityTypes
from crm.fields.phones import DEFAULT_REGION
from crm.lifecycle import LifecycleStages
from crm.pipeline_stages import PipelineStages
from crm.stale import StaleRule


@dataclass(frozen=True)
class WorkspaceConfig:
    types: ActivityTypes
    stages: PipelineStages
    stale_days: int = 14
    stale: StaleRule = field(default_factory=StaleRule)  # per stage; ``stale_days`` is its default
    managers: frozenset[str] = frozenset()
    default_timezone: str = "UTC"
    workday_start: time = time(9, 0)
    lifecycle: LifecycleStages = lifecycle.DEFAULT
    phone_region: str = DEFAULT_REGION  # phones typed without +country are read as this region's
    key_account_days: int = 30  # CRM_KEY_ACCOUNT_DAYS: an A-tier customer this quiet is "untouched"
    default_currency: str = "USD"  # what a new deal's currency starts as (admins set it in Slack)
    stage_probabilities: tuple[tuple[str, int], ...] = ()  # CRM_STAGE_PROBABILITIES, every open stage

    @property
    def probabilities(self) -> dict[str, int]:
        """Open stage key → win probability in percent (admin-set or the defaults)."""
        return dict(self.stage_probabilities) or forecast.parse_stage_probabilities(None, self.stages)

    def lifecycle_label(self, key: str | None) -> str:
        """ "🤝 Customer" for a lifecycle key; retired keys too; "" for none."""
        return self.lifecycle.describe(key).display if key else ""

    def type_label(self, key: str) -> str:
        """ "📞 Call" for a type key; retired keys too."""
        return self.types.describe(key).display

    def stage_label(self, key: str) -> str:
        """ "🔎 Qualified" for a stage key; retired keys too."""
        return self.stages.describe(key).display
