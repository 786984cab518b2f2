"""The workspace's fixed pipeline stages (Lead, Qualified, ... Won, Lost) and the words for them.

One list for the deployment, set by admins in ``CRM_DEAL_STAGES``; reps cannot invent stages.
The format mirrors ``CRM_ACTIVITY_TYPES``: comma-separated entries ``key:Label:emoji`` with an
optional fourth part of ``|``-separated aliases, in pipeline order::

    lead:Lead:🌱,qualified:Qualified:🔎:sql,proposal:Proposal:📄:quote,won:Won:🏆,lost:Lost:🪦

``key`` is lower-case letters, digits, ``_`` or ``-`` (at most 32). The keys ``won`` and ``lost``
are the closed stages (:data:`CLOSED_KEYS`, the same as ``crm.customers.CLOSED_STAGES``) and
must both be in the list; every other stage is open. Removing an open stage "retires" it: deals
still in it keep their key and show it with :data:`GENERIC_EMOJI` until someone moves them.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from crm.fixed_lists import GENERIC_EMOJI, FixedList, Item, parse_items

__all__ = ["CLOSED_KEYS", "DEFAULT", "GENERIC_EMOJI", "LOST", "WON", "PipelineStages", "Stage"]

CLOSED_KEYS = ("won", "lost")
WON, LOST = CLOSED_KEYS


class Stage(Item):
    """One pipeline stage; ``won`` and ``lost`` are the closed ones."""

    @property
    def closed(self) -> bool:
        return self.key in CLOSED_KEYS


DEFAULT_STAGES: tuple[Stage, ...] = (
    Stage("lead", "Lead", "🌱"),
    Stage("qualified", "Qualified", "🔎"),
    Stage("proposal", "Proposal", "📄"),
    Stage("negotiation", "Negotiation", "🤝"),
    Stage("won", "Won", "🏆"),
    Stage("lost", "Lost", "🪦"),
)


class PipelineStages(FixedList[Stage]):
    """The stages in pipeline order, with look-up by key, label or alias."""

    @property
    def stages(self) -> tuple[Stage, ...]:
        return self.items

    def retired(self, key: str) -> Stage:
        return Stage(key, key, GENERIC_EMOJI, retired=True)

    @property
    def open_keys(self) -> tuple[str, ...]:
        return tuple(s.key for s in self.stages if not s.closed)

    def order(self, key: str) -> int:
        """Position for sorting: configured stages in order, retired ones after the open ones."""
        for i, s in enumerate(self.stages):
            if s.key == key:
                return i
        return len(self.stages)

    def names(self) -> str:
        """ "Lead, Qualified, ..." for help and error messages."""
        return ", ".join(s.label for s in self.stages)


DEFAULT = PipelineStages(DEFAULT_STAGES)


def parse_pipeline_stages(raw: str | None) -> PipelineStages:
    """Read ``CRM_DEAL_STAGES``; None or blank gives :data:`DEFAULT`.

    Raises ``ValueError`` with a sentence saying what is wrong (``bot.config`` adds the
    variable's name).
    """
    if raw is None or not raw.strip():
        return DEFAULT
    stages = [Stage(*entry) for entry in parse_items(raw, emoji_example="🏆 or :trophy:")]
    keys = [s.key for s in stages]
    missing = [k for k in CLOSED_KEYS if k not in keys]
    if missing:
        raise ValueError(
            f"it has no {' or '.join(repr(k) for k in missing)} stage; "
            "the closed stages won and lost must be in the list"
        )
    if len(stages) - len(CLOSED_KEYS) < 1:
        raise ValueError("it needs at least one open stage besides won and lost")
    return PipelineStages(tuple(stages))


@lru_cache(maxsize=8)
def stages_for(raw: str | None) -> PipelineStages:
    """:func:`parse_pipeline_stages`, parsed once per configuration string."""
    return parse_pipeline_stages(raw)


def stages_of(settings: Any) -> PipelineStages:
    """The stages under these settings (``settings.deal_stages``)."""
    return stages_for(getattr(settings, "deal_stages", None))
