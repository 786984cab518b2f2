"""The fixed list of activity types (Call, Meeting, Email, ...) and the words reps use for them.

One list for the deployment, set by admins in ``CRM_ACTIVITY_TYPES``; reps cannot invent types.
The format is comma-separated entries ``key:Label:emoji`` with an optional fourth part of
``|``-separated aliases::

    call:Call:📞:phone|rang,meeting:Meeting:🤝:mtg,email:Email:✉️,site_visit:Site visit:🏢:visit

``key`` is lower-case letters, digits, ``_`` or ``-`` (at most 32); the label defaults to the key
and the emoji to a generic one. The built-in aliases ("mtg" → meeting, "phone" → call, ...) apply
to whichever built-in keys the list keeps. Removing a type from the list "retires" it: old
activities keep their ``type_key`` and are shown with the key and :data:`GENERIC_EMOJI`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

GENERIC_EMOJI = "🗂️"
MAX_TYPES = 100  # a static_select holds at most 100 options
MAX_LABEL = 40
KEY_PATTERN = re.compile(r"[a-z][a-z0-9_-]{0,31}")
# key[:label[:emoji[:alias|alias]]]; the emoji may be a :shortcode: with its own colons.
_ENTRY = re.compile(r"(?P<key>[^:]*)(?::(?P<label>[^:]*)(?::\s*(?P<emoji>:[\w+-]+:|[^:]*)(?::(?P<aliases>[^:]*))?)?)?")


@dataclass(frozen=True)
class ActivityType:
    key: str
    label: str
    emoji: str = GENERIC_EMOJI
    aliases: tuple[str, ...] = ()  # set by the admin; the built-in ones are in DEFAULT_ALIASES
    retired: bool = False

    @property
    def display(self) -> str:
        """ "📞 Call" (plain text; safe in mrkdwn too, the label is admin-set)."""
        return f"{self.emoji} {self.label}"


DEFAULT_TYPES: tuple[ActivityType, ...] = (
    ActivityType("call", "Call", "📞"),
    ActivityType("meeting", "Meeting", "🤝"),
    ActivityType("email", "Email", "✉️"),
    ActivityType("demo", "Demo", "🖥️"),
    ActivityType("proposal", "Proposal", "📄"),
    ActivityType("note", "Note", "📝"),
)

# Built-in words for the built-in keys; used only while that key is in the list.
DEFAULT_ALIASES: dict[str, tuple[str, ...]] = {
    "call": ("phone", "phoned", "called", "rang", "ring", "dial", "dialed", "dialled", "tel", "calls"),
    "meeting": ("mtg", "meet", "met", "meetings", "visit", "visited", "lunch", "coffee", "onsite"),
    "email": ("e-mail", "mail", "emailed", "e-mailed", "mailed", "emails"),
    "demo": ("demoed", "demo'd", "presentation", "walkthrough", "demos"),
    "proposal": ("quote", "quoted", "offer", "proposals", "pricing"),
    "note": ("notes", "memo", "fyi", "info"),
}


def _word(text: str) -> str:
    return " ".join(text.strip().casefold().split()).rstrip(":.,;")


@dataclass(frozen=True)
class ActivityTypes:
    """The workspace's types in display order, with look-up by key, label or alias."""

    types: tuple[ActivityType, ...]
    _words: dict[str, str] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Strongest first: keys, then labels, then the admin's aliases, then the built-in ones.
        passes = (
            lambda t: (t.key,),
            lambda t: (t.label,),
            lambda t: t.aliases,
            lambda t: DEFAULT_ALIASES.get(t.key, ()),
        )
        for words_of in passes:
            for t in self.types:
                for word in words_of(t):
                    self._words.setdefault(_word(word), t.key)

    def __iter__(self):
        return iter(self.types)

    def __len__(self) -> int:
        return len(self.types)

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(t.key for t in self.types)

    def get(self, key: str | None) -> ActivityType | None:
        """The active type with this exact key, or None (unknown or retired)."""
        return next((t for t in self.types if t.key == key), None)

    def is_active(self, key: str | None) -> bool:
        return self.get(key) is not None

    def resolve(self, word: str | None) -> ActivityType | None:
        """The type a rep means by ``word`` ("Call", "mtg", "e-mail"), or None."""
        if not word:
            return None
        key = self._words.get(_word(word))
        return self.get(key)

    def describe(self, key: str) -> ActivityType:
        """How to show an activity's type; a retired key shows as itself with a generic emoji."""
        return self.get(key) or ActivityType(key, key, GENERIC_EMOJI, retired=True)

    def names(self) -> str:
        """ "call, meeting, email, ..." for help and error messages."""
        return ", ".join(t.key for t in self.types)


DEFAULT = ActivityTypes(DEFAULT_TYPES)


def parse_activity_types(raw: str | None) -> ActivityTypes:
    """Read ``CRM_ACTIVITY_TYPES``; None or blank gives :data:`DEFAULT`.

    Raises ``ValueError`` with a sentence saying what is wrong (``bot.config`` adds the
    variable's name).
    """
    if raw is None or not raw.strip():
        return DEFAULT
    types: list[ActivityType] = []
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
            raise ValueError(f"the emoji of {key!r} ({emoji!r}) should be one emoji such as 📞 or :phone:")
        aliases = tuple(a.strip() for a in (match["aliases"] or "").split("|") if a.strip())
        for word in (key, label, *aliases):
            owner = seen.get(_word(word))
            if owner is not None and owner != key:
                raise ValueError(f"{word!r} is used by both {owner!r} and {key!r}")
            if owner == key and word == key:
                raise ValueError(f"key {key!r} appears twice")
            seen[_word(word)] = key
        types.append(ActivityType(key, label, emoji, aliases))
    if len(types) > MAX_TYPES:
        raise ValueError(f"has {len(types)} types; at most {MAX_TYPES} fit in Slack's picker")
    return ActivityTypes(tuple(types))


@lru_cache(maxsize=8)
def types_for(raw: str | None) -> ActivityTypes:
    """:func:`parse_activity_types`, parsed once per configuration string."""
    return parse_activity_types(raw)


def label_for(settings: Any, key: str) -> str:
    """ "📞 Call" for a type key under these settings (``settings.activity_types``); retired keys too."""
    return types_for(getattr(settings, "activity_types", None)).describe(key).display
