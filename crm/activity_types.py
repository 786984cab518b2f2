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

from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from crm.fixed_lists import GENERIC_EMOJI, FixedList, Item, parse_items

__all__ = ["DEFAULT", "DEFAULT_ALIASES", "GENERIC_EMOJI", "ActivityType", "ActivityTypes"]


class ActivityType(Item):
    """One activity type: key, label, emoji and the admin's aliases."""


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


class ActivityTypes(FixedList[ActivityType]):
    """The workspace's types in display order, with look-up by key, label or alias."""

    @property
    def types(self) -> tuple[ActivityType, ...]:
        return self.items

    def retired(self, key: str) -> ActivityType:
        return ActivityType(key, key, GENERIC_EMOJI, retired=True)

    def extra_words(self, item: Item) -> Iterable[str]:
        return DEFAULT_ALIASES.get(item.key, ())

    def names(self) -> str:
        """ "call, meeting, email, ..." for help and error messages."""
        return ", ".join(t.key for t in self.items)


DEFAULT = ActivityTypes(DEFAULT_TYPES)


def parse_activity_types(raw: str | None) -> ActivityTypes:
    """Read ``CRM_ACTIVITY_TYPES``; None or blank gives :data:`DEFAULT`.

    Raises ``ValueError`` with a sentence saying what is wrong (``bot.config`` adds the
    variable's name).
    """
    if raw is None or not raw.strip():
        return DEFAULT
    return ActivityTypes(tuple(ActivityType(*entry) for entry in parse_items(raw, emoji_example="📞 or :phone:")))


@lru_cache(maxsize=8)
def types_for(raw: str | None) -> ActivityTypes:
    """:func:`parse_activity_types`, parsed once per configuration string."""
    return parse_activity_types(raw)


def label_for(settings: Any, key: str) -> str:
    """ "📞 Call" for a type key under these settings (``settings.activity_types``); retired keys too."""
    return types_for(getattr(settings, "activity_types", None)).describe(key).display
