"""Columns no built-in field holds: what type of custom field their values call for.

:class:`ColumnStats` looks at every value of one column as the rows go by (a few checks per
value, and at most :data:`MAX_OPTIONS` + 1 distinct values kept), and :meth:`ColumnStats.infer`
names the narrowest type that every value fits, with the reason the dry run shows:

yes/no
    every value is one of yes/no, true/false, y/n (Salesforce writes ``true``/``false``);
number
    every value is a number (``1,200``, ``-3.5``, ``12%``);
money
    numbers, and the column's name says money (revenue, amount, price, value, cost, budget);
date
    every value is a date or date-time in one of the usual export formats;
email / URL
    every value is an email address / a web address with ``http(s)://`` or ``www.``;
several-of-a-list
    values are lists separated by ``;`` (HubSpot's multi-select) of at most 50 options;
one-of-a-list
    at most 50 distinct short values, each used at least twice on average;
text
    anything else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from crm.errors import InvalidInput
from crm.importer.values import parse_datetime

MAX_OPTIONS = 50
MAX_OPTION_LENGTH = 60
_YES_NO = frozenset({"yes", "no", "true", "false", "y", "n"})
_NUMBER = re.compile(r"[-+]?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}")
_URL = re.compile(r"(https?://|www\.)\S+", re.IGNORECASE)
_MONEY_WORDS = re.compile(r"revenue|amount|price|value|cost|budget|arr\b|mrr\b", re.IGNORECASE)
_UTC = ZoneInfo("UTC")
_WHAT = (
    ("yes/no", "yes or no", "yes or no"),
    ("date", "dates", "a date"),
    ("email", "email addresses", "an email address"),
    ("URL", "web addresses", "a web address"),
)


def _is_date(text: str) -> bool:
    if not any(ch.isdigit() for ch in text) or len(text) > 40:
        return False
    try:
        parse_datetime(text, tz=_UTC)
    except InvalidInput:
        return False
    return True


@dataclass
class ColumnStats:
    header: str
    values: int = 0
    distinct: set[str] = field(default_factory=set)
    too_many: bool = False  # more than MAX_OPTIONS distinct values (or parts), or a long one
    options: set[str] = field(default_factory=set)  # the parts of ;-separated lists
    lists: int = 0  # values with a ";"
    fails: set[str] = field(default_factory=set)  # the types some value did not fit
    person: bool = False  # values are Slack user ids of the old CRM's owners (see crm.importer.owners)

    def add(self, text: str) -> None:
        self.values += 1
        fails = self.fails
        lower = text.lower()
        if "yes/no" not in fails and lower not in _YES_NO:
            fails.add("yes/no")
        if "number" not in fails and not _NUMBER.fullmatch(text):
            fails.add("number")
        if "email" not in fails and not _EMAIL.fullmatch(text):
            fails.add("email")
        if "URL" not in fails and not _URL.match(text):
            fails.add("URL")
        if "date" not in fails and not _is_date(text):
            fails.add("date")
        if self.too_many:
            return
        if len(text) > MAX_OPTION_LENGTH and ";" not in text:
            self.too_many = True
            return
        if ";" in text:
            self.lists += 1
            self.options.update(p.strip() for p in text.split(";") if p.strip())
        else:
            self.options.add(text)
        self.distinct.add(text)
        if len(self.options) > MAX_OPTIONS or any(len(o) > MAX_OPTION_LENGTH for o in self.options):
            self.too_many = True

    def infer(self) -> tuple[str, str]:
        """(type, why) from every value seen."""
        n = self.values
        if self.person:
            return "person", f"the old CRM's owners, {n:,} mapped to Slack users"
        if not n:
            return "text", "the column is empty"
        for kind, plural, one in _WHAT:
            if kind not in self.fails:
                return kind, f"all {n:,} values are {plural}" if n > 1 else f"its one value is {one}"
        if "number" not in self.fails:
            every = f"all {n:,} values are numbers" if n > 1 else "its one value is a number"
            if _MONEY_WORDS.search(self.header):
                return "money", f"{every}, and “{self.header}” names money"
            return "number", every
        if not self.too_many and self.lists and len(self.options) > 1:
            return "several-of-a-list", f"values are ;-separated lists of {len(self.options)} options"
        if not self.too_many and len(self.options) > 1 and n >= 2 * len(self.options):
            return "one-of-a-list", f"{len(self.options)} different values over {n:,} rows"
        return "text", f"{n:,} values of free text"

    @property
    def choices(self) -> list[str]:
        """The options of a list type, in order."""
        return sorted(self.options, key=str.lower)
