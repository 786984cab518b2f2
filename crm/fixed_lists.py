"""Admin-set fixed lists (activity types, pipeline stages) and the words reps use for them.

Both are configured the same way: comma-separated entries ``key:Label:emoji`` with an optional
fourth part of ``|``-separated aliases::

    call:Call:📞:phone|rang,meeting:Meeting:🤝:mtg,site_visit:Site visit:🏢:visit

``key`` is lower-case letters, digits, ``_`` or ``-`` (at most 32); the label defaults to the key
and the emoji to :data:`GENERIC_EMOJI`. An entry removed from the list is "retired": rows that
use its key keep it and are shown with the key and the generic emoji.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Generic, TypeVar

GENERIC_EMOJI = "🗂️"
MAX_ITEMS = 100  # a static_select holds at most 100 options
MAX_LABEL = 40
KEY_PATTERN = re.compile(r"[a-z][a-z0-9_-]{0,31}")
# key[:label[:emoji[:alias|alias]]]; the emoji may be a :shortcode: with its own colons.
_ENTRY = re.compile(r"(?P<key>[^:]*)(?::(?P<label>[^:]*)(?::\s*(?P<emoji>:[\w+-]+:|[^:]*)(?::(?P<aliases>[^:]*))?)?)?")


def word_key(text: str) -> str:
    """How a typed word is compared with keys, labels and aliases."""
    return " ".join(text.strip().casefold().split()).rstrip(":.,;")


@dataclass(frozen=True)
class Item:
    key: str
    label: str
    emoji: str = GENERIC_EMOJI
    aliases: tuple[str, ...] = ()  # set by the admin
    retired: bool = False

    @property
    def display(self) -> str:
        """ "📞 Call" (plain text; safe in mrkdwn too, the label is admin-set)."""
        return f"{self.emoji} {self.label}"


def parse_items(raw: str, *, emoji_example: str) -> list[tuple[str, str, str, tuple[str, ...]]]:
    """(key, label, emoji, aliases) per entry of a configuration string.

    Raises ``ValueError`` with a sentence saying what is wrong (``bot.config`` adds the
    variable's name).
    """
    items: list[tuple[str, str, str, tuple[str, ...]]] = []
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
            raise ValueError(f"the emoji of {key!r} ({emoji!r}) should be one emoji such as {emoji_example}")
        aliases = tuple(a.strip() for a in (match["aliases"] or "").split("|") if a.strip())
        for word in (key, label, *aliases):
            owner = seen.get(word_key(word))
            if owner is not None and owner != key:
                raise ValueError(f"{word!r} is used by both {owner!r} and {key!r}")
            if owner == key and word == key:
                raise ValueError(f"key {key!r} appears twice")
            seen[word_key(word)] = key
        items.append((key, label, emoji, aliases))
    if len(items) > MAX_ITEMS:
        raise ValueError(f"has {len(items)} entries; at most {MAX_ITEMS} fit in Slack's picker")
    return items


ItemT = TypeVar("ItemT", bound=Item)


@dataclass(frozen=True)
class FixedList(Generic[ItemT]):
    """Items in display order, with look-up by key, label or alias (strongest first)."""

    items: tuple[ItemT, ...]
    _words: dict[str, str] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        passes = (lambda i: (i.key,), lambda i: (i.label,), lambda i: i.aliases, self.extra_words)
        for words_of in passes:
            for item in self.items:
                for word in words_of(item):
                    self._words.setdefault(word_key(word), item.key)

    def extra_words(self, item: Item) -> Iterable[str]:
        """Built-in words, weaker than the admin's (none by default)."""
        return ()

    def retired(self, key: str) -> ItemT:
        """How a key that is no longer in the list is shown (each kind of list says)."""
        raise NotImplementedError

    def __iter__(self) -> Iterator[ItemT]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(i.key for i in self.items)

    def get(self, key: str | None) -> ItemT | None:
        """The active item with this exact key, or None (unknown or retired)."""
        return next((i for i in self.items if i.key == key), None)

    def is_active(self, key: str | None) -> bool:
        return self.get(key) is not None

    def resolve(self, word: str | None) -> ItemT | None:
        """The item a rep means by ``word`` (a key, label or alias), or None."""
        if not word:
            return None
        return self.get(self._words.get(word_key(word)))

    def describe(self, key: str) -> ItemT:
        """How to show a stored key; a retired one shows as itself with a generic emoji."""
        return self.get(key) or self.retired(key)
