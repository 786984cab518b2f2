"""The words and patterns of the date grammar: weekdays, months, units, typos, parts of the day.

Data only (and the regular expressions built from it); :mod:`crm.dates.grammar` reads phrases with it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import time

EXAMPLES = "tomorrow 3pm, next friday, in 2 weeks, eod, end of month, dec 3, first thing monday"

MAX_INPUT_CHARS = 200
"""Longer input is refused before any parsing (a date phrase is never this long)."""

END_OF_DAY = time(17, 0)
QUOTE_CHARS = 40
MAX_YEARS_AWAY = 100

WEEKDAYS = {
    "monday": 0, "mon": 0,
    "tuesday": 1, "tues": 1, "tue": 1,
    "wednesday": 2, "weds": 2, "wed": 2,
    "thursday": 3, "thurs": 3, "thur": 3, "thu": 3,
    "friday": 4, "fri": 4,
    "saturday": 5, "sat": 5,
    "sunday": 6, "sun": 6,
}  # fmt: skip
MONTHS = {
    "january": 1, "jan": 1, "february": 2, "feb": 2, "march": 3, "mar": 3,
    "april": 4, "apr": 4, "may": 5, "june": 6, "jun": 6, "july": 7, "jul": 7,
    "august": 8, "aug": 8, "september": 9, "sept": 9, "sep": 9,
    "october": 10, "oct": 10, "november": 11, "nov": 11, "december": 12, "dec": 12,
}  # fmt: skip
DAY_ABBR = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTH_ABBR = ("", "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
NUMBER_WORDS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
    "a couple of": 2, "a couple": 2, "couple of": 2, "a few": 3, "few": 3,
}  # fmt: skip
UNITS = {
    "m": "minutes", "min": "minutes", "mins": "minutes", "minute": "minutes", "minutes": "minutes",
    "h": "hours", "hr": "hours", "hrs": "hours", "hour": "hours", "hours": "hours",
    "d": "days", "day": "days", "days": "days",
    "business day": "workdays", "business days": "workdays", "working day": "workdays",
    "working days": "workdays", "workday": "workdays", "workdays": "workdays",
    "w": "weeks", "wk": "weeks", "wks": "weeks", "week": "weeks", "weeks": "weeks",
    "mo": "months", "mos": "months", "month": "months", "months": "months",
    "y": "years", "yr": "years", "yrs": "years", "year": "years", "years": "years",
}  # fmt: skip
TYPOS = {
    "tmrw": "tomorrow", "tmr": "tomorrow", "tmw": "tomorrow", "tmrow": "tomorrow",
    "tomorow": "tomorrow", "tommorow": "tomorrow", "tommorrow": "tomorrow", "tomoz": "tomorrow",
    "2moro": "tomorrow", "2morrow": "tomorrow", "2mrw": "tomorrow", "tonite": "tonight",
    "nxt": "next", "eow": "end of week", "eom": "end of month", "eoq": "end of quarter",
    "eoy": "end of year", "cob": "eod", "eob": "eod",
}  # fmt: skip

# Parts of the day: phrase -> (name, only today?). Longest first so "end of the day" beats "day".
PARTS = {
    "first thing in the morning": ("first", False), "first thing": ("first", False),
    "end of business": ("eod", False), "close of business": ("eod", False),
    "end of the day": ("eod", False), "end of day": ("eod", False), "eod": ("eod", False),
    "this morning": ("morning", True), "in the morning": ("morning", False),
    "morning": ("morning", False),
    "this afternoon": ("afternoon", True), "in the afternoon": ("afternoon", False),
    "afternoon": ("afternoon", False),
    "this evening": ("evening", True), "in the evening": ("evening", False),
    "evening": ("evening", False),
    "tonight": ("night", True), "at night": ("night", False), "night": ("night", False),
}  # fmt: skip
PART_TIMES = {"eod": END_OF_DAY, "afternoon": time(14), "evening": time(18), "night": time(20)}
PM_PARTS = {"afternoon", "evening", "night"}


def alternation(words: Iterable[str]) -> str:
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


WD = alternation(WEEKDAYS)
MON = alternation(MONTHS)
NUMWORD = alternation(NUMBER_WORDS)
UNIT = alternation(UNITS)
PART = alternation(PARTS)

CLOCK = (
    r"(?P<h>\d{1,2})(?:[:.](?P<m>\d{2}))?\s*(?P<ampm>a\.?m\.?|p\.?m\.?|a|p)(?![a-z])"
    r"|(?P<h24>\d{1,2})[:h](?P<m24>\d{2})(?!\d)"
    r"|(?P<word>noon|midday|midnight|lunchtime|lunch)"
    r"|at\s+(?P<bare>\d{1,2})(?!\d)"
)
CLOCK_SUFFIX = re.compile(rf"^(?P<rest>.*?)(?:^|[\s,]+)(?:at\s+)?(?:{CLOCK})$")
CLOCK_PREFIX = re.compile(rf"^(?:at\s+)?(?:{CLOCK})(?:[\s,]+(?:on\s+)?(?P<rest>.*))?$")
PART_SUFFIX = re.compile(rf"^(?P<rest>.*?)(?:^|[\s,]+)(?:by\s+|at\s+)?(?P<part>{PART})$")
PART_PREFIX = re.compile(rf"^(?:by\s+|at\s+)?(?P<part>{PART})(?:[\s,]+(?:on\s+)?(?P<rest>.*))?$")
BARE_HOUR = re.compile(r"^(?P<day>.+?)\s+(?P<bare>\d{1,2})$")
RELATIVE_DAY = re.compile(
    rf"^(?:today|tomorrow|(?:(?:this|next|coming|on)\s+)?(?:{WD})|next\s+week|the\s+day\s+after\s+tomorrow|day\s+after\s+tomorrow)$"
)

DURATION = re.compile(
    rf"^(?:in\s+|within\s+)?(?:(?P<n>\d{{1,5}})\s*|(?P<nw>{NUMWORD})\s+)(?P<unit>{UNIT})"
    r"(?P<dir>\s+from\s+now|\s+from\s+today|\s+later|\s+time|\s+ago)?$"
)
HALF_HOUR = re.compile(r"^(?:in\s+)?(?:half\s+an\s+hour|half\s+a\s+hour|half\s+hour|a\s+half\s+hour)$")
WEEKDAY = re.compile(rf"^(?:(?P<mod>this\s+coming|this|next|coming|last|past|on\s+next|on)\s+)?(?P<wd>{WD})$")
WEEKDAY_NEXT_WEEK = re.compile(rf"^(?:(?P<wd1>{WD})\s+(?:of\s+)?next\s+week|next\s+week(?:\s+on)?\s+(?P<wd2>{WD}))$")
NEXT_PERIOD = re.compile(
    r"^(?:(?:the\s+)?(?:start|beginning)\s+of\s+|early\s+)?(?P<which>next|last)\s+"
    r"(?P<unit>week|month|quarter|year)$"
    r"|^(?P<after>the\s+week\s+after\s+next|week\s+after\s+next)$"
)
PERIOD_END = re.compile(
    r"^(?:the\s+)?end\s+of\s+(?:(?P<which>the|this|next|last)\s+)?(?P<unit>week|month|quarter|year)$"
)
OFFSET_FROM = re.compile(
    rf"^(?:(?P<n>\d{{1,2}})|(?P<nw>{NUMWORD}))\s+(?P<unit>days?|weeks?)\s+(?:from|after)\s+(?P<base>.+)$"
)
WEEKDAY_WEEK = re.compile(rf"^(?P<wd>{WD})\s+week$")
DAY = r"(?P<d>\d{1,2})(?:st|nd|rd|th)?"
YEAR = r"(?:,?\s+(?P<y>\d{4}))?"
DAY_MONTH = re.compile(rf"^(?:(?:{WD}),?\s+)?(?:the\s+)?{DAY}(?:\s+of)?\s+(?P<mon>{MON})\.?{YEAR}$")
MONTH_DAY = re.compile(rf"^(?:(?:{WD}),?\s+)?(?P<mon>{MON})\.?\s+(?:the\s+)?{DAY}{YEAR}$")
ORDINAL_DAY = re.compile(rf"^(?:(?:{WD}),?\s+)?(?:the\s+)?(?P<d>\d{{1,2}})(?:st|nd|rd|th)$")
ISO_DATE = re.compile(r"^(?P<y>\d{4})[-/.](?P<m>\d{1,2})[-/.](?P<d>\d{1,2})$")
NUMERIC_DATE = re.compile(r"^(?P<a>\d{1,2})(?P<sep>[/.-])(?P<b>\d{1,2})(?:(?P=sep)(?P<c>\d{2}|\d{4}))?$")
FALLBACK_HINT = re.compile(  # dateparser reads bare numbers as dates ("5" is 1 May): not here
    r"\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec|mon|tue|wed|thu|fri|sat|sun"
    r"|today|tomorrow|yesterday|tonight|noon|midnight|ago|day|week|month|year|hour|minute"
    r"|morning|afternoon|evening|night|next|last|this)"
)

WEEKDAY_WORD = re.compile(rf"\b(?:{WD})\b")
FIXED_DAYS = {
    "today": 0,
    "tomorrow": 1,
    "day after tomorrow": 2,
    "the day after tomorrow": 2,
    "yesterday": -1,
    "day before yesterday": -2,
    "the day before yesterday": -2,
}
INVISIBLE = frozenset({"Cf", "Cs", "Co", "Cn"})
LEADING_FILLER = re.compile(r"^(?:(?:due|by|on|for|until|till|from|remind\s+me)\s+)+")
