"""When an open deal is "stale": longer in its stage than that stage's limit, and quiet as long.

A lead may sit for a month, a deal in negotiation should not sit for two weeks. Each stage has
its own limit in days (:data:`DEFAULT_BY_STAGE` for the default stages, ``CRM_STALE_DAYS_BY_STAGE``
to change them, ``CRM_STALE_DAYS`` for any other stage). A deal is stale when it has been in its
current stage (since its last stage change, or since it was created) for more than the limit
*and* nobody has logged an activity with its customer for as long. So the word marks the
exception, not most of the pipeline.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from types import MappingProxyType

from crm.pipeline_stages import parse_pipeline_stages

DEFAULT_BY_STAGE: Mapping[str, int] = MappingProxyType({"lead": 30, "qualified": 21, "proposal": 14, "negotiation": 10})
MAX_DAYS = 365


@dataclass(frozen=True)
class StaleRule:
    default_days: int = 14  # stages without their own limit
    by_stage: Mapping[str, int] = field(default_factory=lambda: DEFAULT_BY_STAGE)

    def days(self, stage: str) -> int:
        return self.by_stage.get(stage, self.default_days)

    def describe(self, keys: tuple[str, ...], label=lambda key: key) -> str:
        """ "Lead 30d · Qualified 21d · ..." for the given stages."""
        return " · ".join(f"{label(k)} {self.days(k)}d" for k in keys)


def parse_by_stage(raw: str | None, known: tuple[str, ...]) -> dict[str, int]:
    """``CRM_STALE_DAYS_BY_STAGE``: ``lead:30,proposal:10`` over :data:`DEFAULT_BY_STAGE`.

    None keeps the defaults; ``none`` (or ``-``) drops them, so ``CRM_STALE_DAYS`` applies to every
    stage. Raises ``ValueError`` with a sentence saying what is wrong."""
    out = dict(DEFAULT_BY_STAGE)
    if raw is None or not raw.strip():
        return out
    if raw.strip().lower() in ("none", "-"):
        return {}
    for part in raw.split(","):
        key, sep, days = part.strip().partition(":")
        key = key.strip().lower()
        if not sep or not days.strip().isdigit():
            raise ValueError(f"{part.strip()!r} should be a stage key and a number of days, such as proposal:14")
        if key not in known:
            raise ValueError(f"{key!r} is not an open stage (the open stages are {', '.join(known)})")
        value = int(days)
        if not 1 <= value <= MAX_DAYS:
            raise ValueError(f"{part.strip()!r}: the days must be between 1 and {MAX_DAYS}")
        out[key] = value
    return out


@lru_cache(maxsize=32)
def stale_rule_for(default_days: int, by_stage: str | None, deal_stages: str | None) -> StaleRule:
    """The rule the settings give (``CRM_STALE_DAYS``, ``CRM_STALE_DAYS_BY_STAGE``), parsed once."""
    known = parse_pipeline_stages(deal_stages).open_keys
    return StaleRule(default_days, MappingProxyType(parse_by_stage(by_stage, known)))
