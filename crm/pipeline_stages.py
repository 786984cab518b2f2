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

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

GENERIC_EMOJI = "🗂️"
CLOSED_KEYS = ("won", "lost")
WON, LOST = CLOSED_KEYS
MAX_STAGES = 100  # a static_select holds at most 100 options
MAX_LABEL = 40
KEY_PATTERN = re.compile(r"[a-z][a-z0-9_-]{0,31}")
_ENTRY = re.compile(r"(?P<key>[^:]*)(?::(?P<label>[^:]*)(?::\s*(?P<emoji>:[\w+-]+:|[^:]*)(?::(?P<aliases>[^:]*))?)?)?")


@dataclass(frozen=True)
class Stage:
    key: str
    label: str
    emoji: str = GENERIC_EMOJI
    aliases: tuple[str, ...] = ()
    retired: bool = False

    @property
    def closed(self) -> bool:
        return self.key in CLOSED_KEYS

    @property
    def display(self) -> str:
        """ "🔎 Qualified" (plain text; safe in mrkdwn too, the label is admin-set)."""
        return f"{self.emoji} {self.label}"


DEFAULT_STAGES: tuple[Stage, ...] = (
    Stage("lead", "Lead", "🌱"),
    Stage("qualified", "Qualified", "🔎"),
    Stage("proposal", "Proposal", "📄"),
    Stage("negotiation", "Negotiation", "🤝"),
    Stage("won", "Won", "🏆"),
    Stage("lost", "Lost", "🪦"),
)


def _word(text: str) -> str:
    return " ".join(text.strip().casefold().split()).rstrip(":.,;")


@dataclass(frozen=True)
class PipelineStages:
    """The stages in pipeline order, with look-up by key, label or alias."""

    stages: tuple[Stage, ...]
    _words: dict[str, str] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        for words_of in (lambda s: (s.key,), lambda s: (s.label,), lambda s: s.aliases):
            for s in self.stages:
                for word in words_of(s):
                    self._words.setdefault(_word(word), s.key)

    def __iter__(self):
        return iter(self.stages)

    def __len__(self) -> int:
        return len(self.stages)

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(s.key for s in self.stages)

    @property
    def open_keys(self) -> tuple[str, ...]:
        return tuple(s.key for s in self.stages if not s.closed)

    def get(self, key: str | None) -> Stage | None:
        """The active stage with this exact key, or None (unknown or retired)."""
        return next((s for s in self.stages if s.key == key), None)

    def is_active(self, key: str | None) -> bool:
        return self.get(key) is not None

    def resolve(self, word: str | None) -> Stage | None:
        """The stage a rep means by ``word`` ("Qualified", "won", an alias), or None."""
        if not word:
            return None
        return self.get(self._words.get(_word(word)))

    def describe(self, key: str) -> Stage:
        """How to show a deal's stage; a retired key shows as itself with a generic emoji."""
        return self.get(key) or Stage(key, key, GENERIC_EMOJI, retired=True)

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
    stages: list[Stage] = []
    seen: dict[str, str] = {}
    for n, entry in enumerate(raw.split(","), start=1):
        entry = entry.strip()
        if not entry:
            raise ValueError(f"entry {n} is empty (check for a doubled or trailing comma)")
        match = _ENTRY.fullmatch(entry)
        if match is None:
            raise ValueError(f"entry {n} ({entry!r}) is not key:Label:emoji:aliases")
        key = match["key"].strip().lower()
        if not KEY_PATTERN.fullmatch(key):
            raise ValueError(
                f"entry {n} has key {match['key']!r}; a key is a letter then letters, digits, '_' or '-', "
                "at most 32 characters"
            )
        label = (match["label"] or "").strip() or key.replace("_", " ").capitalize()
        if len(label) > MAX_LABEL:
            raise ValueError(f"the label of {key!r} is {len(label)} characters; at most {MAX_LABEL}")
        emoji = (match["emoji"] or "").strip() or GENERIC_EMOJI
        if len(emoji) > 32 or re.search(r"\s", emoji):
            raise ValueError(f"the emoji of {key!r} ({emoji!r}) should be one emoji such as 🏆 or :trophy:")
        aliases = tuple(a.strip() for a in (match["aliases"] or "").split("|") if a.strip())
        for word in (key, label, *aliases):
            owner = seen.get(_word(word))
            if owner is not None and owner != key:
                raise ValueError(f"{word!r} is used by both {owner!r} and {key!r}")
            if owner == key and word == key:
                raise ValueError(f"key {key!r} appears twice")
            seen[_word(word)] = key
        stages.append(Stage(key, label, emoji, aliases))
    keys = [s.key for s in stages]
    missing = [k for k in CLOSED_KEYS if k not in keys]
    if missing:
        raise ValueError(
            f"it has no {' or '.join(repr(k) for k in missing)} stage; "
            "the closed stages won and lost must be in the list"
        )
    if len(stages) - len(CLOSED_KEYS) < 1:
        raise ValueError("it needs at least one open stage besides won and lost")
    if len(stages) > MAX_STAGES:
        raise ValueError(f"has {len(stages)} stages; at most {MAX_STAGES} fit in Slack's picker")
    return PipelineStages(tuple(stages))


@lru_cache(maxsize=8)
def stages_for(raw: str | None) -> PipelineStages:
    """:func:`parse_pipeline_stages`, parsed once per configuration string."""
    return parse_pipeline_stages(raw)


def stages_of(settings: Any) -> PipelineStages:
    """The stages under these settings (``settings.deal_stages``)."""
    return stages_for(getattr(settings, "deal_stages", None))
