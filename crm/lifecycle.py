"""The workspace's fixed customer lifecycle stages (Lead, Prospect, Customer, Former customer).

One list for the deployment, set by admins in ``CRM_LIFECYCLE_STAGES``; reps cannot invent
stages. The format is that of ``CRM_DEAL_STAGES`` and ``CRM_ACTIVITY_TYPES``: comma-separated
entries ``key:Label:emoji`` with an optional fourth part of ``|``-separated aliases, in order::

    lead:Lead:🌱:new,prospect:Prospect:🔭:mql|sql,customer:Customer:🤝:client,former_customer:Former customer:👋

Removing a stage "retires" it: customers still in it keep their key and show it with
:data:`GENERIC_EMOJI` until someone moves them.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from crm.fixed_lists import GENERIC_EMOJI, FixedList, Item, parse_items

__all__ = ["DEFAULT", "GENERIC_EMOJI", "LifecycleStage", "LifecycleStages", "parse_lifecycle_stages"]


class LifecycleStage(Item):
    """One lifecycle stage of a customer."""


DEFAULT_STAGES: tuple[LifecycleStage, ...] = (
    LifecycleStage("lead", "Lead", "🌱"),
    LifecycleStage("prospect", "Prospect", "🔭"),
    LifecycleStage("customer", "Customer", "🤝"),
    LifecycleStage("former_customer", "Former customer", "👋"),
)

# Built-in words for the built-in keys (HubSpot's lifecycle names among them), used only while
# that key is in the list; an import maps "Marketing qualified lead" to prospect this way.
DEFAULT_ALIASES: dict[str, tuple[str, ...]] = {
    "lead": ("new", "subscriber", "leads"),
    "prospect": (
        "marketing qualified lead",
        "sales qualified lead",
        "mql",
        "sql",
        "opportunity",
        "evangelist",
        "prospects",
    ),
    "customer": ("client", "active", "customers", "won"),
    "former_customer": ("former", "churned", "lost customer", "ex-customer", "former customers"),
}


class LifecycleStages(FixedList[LifecycleStage]):
    """The stages in order, with look-up by key, label or alias."""

    @property
    def stages(self) -> tuple[LifecycleStage, ...]:
        return self.items

    def retired(self, key: str) -> LifecycleStage:
        return LifecycleStage(key, key, GENERIC_EMOJI, retired=True)

    def extra_words(self, item: Item) -> tuple[str, ...]:
        return DEFAULT_ALIASES.get(item.key, ())

    def names(self) -> str:
        """ "Lead, Prospect, ..." for help and error messages."""
        return ", ".join(s.label for s in self.stages)


DEFAULT = LifecycleStages(DEFAULT_STAGES)


def parse_lifecycle_stages(raw: str | None) -> LifecycleStages:
    """Read ``CRM_LIFECYCLE_STAGES``; None or blank gives :data:`DEFAULT`.

    Raises ``ValueError`` with a sentence saying what is wrong (``bot.config`` adds the
    variable's name).
    """
    if raw is None or not raw.strip():
        return DEFAULT
    return LifecycleStages(
        tuple(LifecycleStage(*entry) for entry in parse_items(raw, emoji_example="🤝 or :handshake:"))
    )


@lru_cache(maxsize=8)
def lifecycle_for(raw: str | None) -> LifecycleStages:
    """:func:`parse_lifecycle_stages`, parsed once per configuration string."""
    return parse_lifecycle_stages(raw)


def lifecycle_of(settings: Any) -> LifecycleStages:
    """The stages under these settings (``settings.lifecycle_stages``)."""
    return lifecycle_for(getattr(settings, "lifecycle_stages", None))
