"""Date and time phrases reps type in Slack: "next friday", "in 2 weeks", "tomorrow 3pm".

Pure functions: the caller passes ``now`` and the rep's IANA time zone (their Slack ``tz``).
A small grammar of its own reads the phrases reps actually type, including the ones dateparser
returns ``None`` for ("eod", "end of month", "a week from tuesday") or reads surprisingly
("tomorrow" at the current clock time, "32/13" as the year 2032). dateparser is the fallback for
the long tail ("3pm PST", "december"). All calendar arithmetic is done on the rep's local calendar
with :mod:`zoneinfo`, so days and DST follow the rep's zone; results are aware UTC datetimes.

Rules worth knowing:

* A date without a time means the start of the working day (``workday_start``, 9:00).
* "eod" is 17:00; "end of week" Friday 17:00; "end of month" the last day at 17:00.
* "friday" / "this friday" is the nearest Friday still ahead (today counts if the time has not
  passed); "next friday" is the first Friday after today. "next week" is Monday, "next month"
  and "next quarter" their first working day (Monday to Friday; holidays are not known).
* An hour without am/pm from 1 to 6 ("at 3") is read as afternoon; "03:00" is taken literally.
  "morning" is ``workday_start``, "afternoon" 14:00, "evening" 18:00, "tonight" 20:00 today, and
  "friday midnight" the end of Friday. "in 2 hours" is real elapsed time; "in 3 days" is a date.
* Numeric dates follow ``date_order``; without one, "3/12" is refused as ambiguous rather than
  guessed, while "13/12" is read. A leading four-digit year is always year-month-day.
* A local time that does not exist (spring forward) moves forward by the gap; an ambiguous one
  (fall back) is the first occurrence.
"""

from __future__ import annotations

import calendar
import logging
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateparser.date import DateDataParser
from dateparser.timezone_parser import pop_tz_offset_from_string

from crm.errors import DateParseError

__all__ = [
    "EXAMPLES",
    "DateOrder",
    "Prefer",
    "date_order_for_locale",
    "format_local",
    "parse_follow_up",
    "parse_when",
    "warm_up",
]

logger = logging.getLogger(__name__)

Prefer = Literal["future", "past"]
DateOrder = Literal["MDY", "DMY", "YMD"]

EXAMPLES = "tomorrow 3pm, next friday, in 2 weeks, eod, end of month, dec 3, first thing monday"

MAX_INPUT_CHARS = 200
"""Longer input is refused before any parsing (a date phrase is never this long)."""

END_OF_DAY = time(17, 0)
_QUOTE_CHARS = 40
_MAX_YEARS_AWAY = 100

_WEEKDAYS = {
    "monday": 0, "mon": 0,
    "tuesday": 1, "tues": 1, "tue": 1,
    "wednesday": 2, "weds": 2, "wed": 2,
    "thursday": 3, "thurs": 3, "thur": 3, "thu": 3,
    "friday": 4, "fri": 4,
    "saturday": 5, "sat": 5,
    "sunday": 6, "sun": 6,
}  # fmt: skip
_MONTHS = {
    "january": 1, "jan": 1, "february": 2, "feb": 2, "march": 3, "mar": 3,
    "april": 4, "apr": 4, "may": 5, "june": 6, "jun": 6, "july": 7, "jul": 7,
    "august": 8, "aug": 8, "september": 9, "sept": 9, "sep": 9,
    "october": 10, "oct": 10, "november": 11, "nov": 11, "december": 12, "dec": 12,
}  # fmt: skip
_DAY_ABBR = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTH_ABBR = ("", "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_NUMBER_WORDS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
    "a couple of": 2, "a couple": 2, "couple of": 2, "a few": 3, "few": 3,
}  # fmt: skip
_UNITS = {
    "m": "minutes", "min": "minutes", "mins": "minutes", "minute": "minutes", "minutes": "minutes",
    "h": "hours", "hr": "hours", "hrs": "hours", "hour": "hours", "hours": "hours",
    "d": "days", "day": "days", "days": "days",
    "business day": "workdays", "business days": "workdays", "working day": "workdays",
    "working days": "workdays", "workday": "workdays", "workdays": "workdays",
    "w": "weeks", "wk": "weeks", "wks": "weeks", "week": "weeks", "weeks": "weeks",
    "mo": "months", "mos": "months", "month": "months", "months": "months",
    "y": "years", "yr": "years", "yrs": "years", "year": "years", "years": "years",
}  # fmt: skip
_TYPOS = {
    "tmrw": "tomorrow", "tmr": "tomorrow", "tmw": "tomorrow", "tmrow": "tomorrow",
    "tomorow": "tomorrow", "tommorow": "tomorrow", "tommorrow": "tomorrow", "tomoz": "tomorrow",
    "2moro": "tomorrow", "2morrow": "tomorrow", "2mrw": "tomorrow", "tonite": "tonight",
    "nxt": "next", "eow": "end of week", "eom": "end of month", "eoq": "end of quarter",
    "eoy": "end of year", "cob": "eod", "eob": "eod",
}  # fmt: skip

# Parts of the day: phrase -> (name, only today?). Longest first so "end of the day" beats "day".
_PARTS = {
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
_PART_TIMES = {"eod": END_OF_DAY, "afternoon": time(14), "evening": time(18), "night": time(20)}
_PM_PARTS = {"afternoon", "evening", "night"}


def _alternation(words: Iterable[str]) -> str:
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


_WD = _alternation(_WEEKDAYS)
_MON = _alternation(_MONTHS)
_NUMWORD = _alternation(_NUMBER_WORDS)
_UNIT = _alternation(_UNITS)
_PART = _alternation(_PARTS)

_CLOCK = (
    r"(?P<h>\d{1,2})(?:[:.](?P<m>\d{2}))?\s*(?P<ampm>a\.?m\.?|p\.?m\.?|a|p)(?![a-z])"
    r"|(?P<h24>\d{1,2})[:h](?P<m24>\d{2})(?!\d)"
    r"|(?P<word>noon|midday|midnight|lunchtime|lunch)"
    r"|at\s+(?P<bare>\d{1,2})(?!\d)"
)
_CLOCK_SUFFIX = re.compile(rf"^(?P<rest>.*?)(?:^|[\s,]+)(?:at\s+)?(?:{_CLOCK})$")
_CLOCK_PREFIX = re.compile(rf"^(?:at\s+)?(?:{_CLOCK})(?:[\s,]+(?:on\s+)?(?P<rest>.*))?$")
_PART_SUFFIX = re.compile(rf"^(?P<rest>.*?)(?:^|[\s,]+)(?:by\s+|at\s+)?(?P<part>{_PART})$")
_PART_PREFIX = re.compile(rf"^(?:by\s+|at\s+)?(?P<part>{_PART})(?:[\s,]+(?:on\s+)?(?P<rest>.*))?$")
_BARE_HOUR = re.compile(r"^(?P<day>.+?)\s+(?P<bare>\d{1,2})$")
_RELATIVE_DAY = re.compile(
    rf"^(?:today|tomorrow|(?:(?:this|next|coming|on)\s+)?(?:{_WD})|next\s+week|the\s+day\s+after\s+tomorrow|day\s+after\s+tomorrow)$"
)

_DURATION = re.compile(
    rf"^(?:in\s+|within\s+)?(?:(?P<n>\d{{1,5}})\s*|(?P<nw>{_NUMWORD})\s+)(?P<unit>{_UNIT})"
    r"(?P<dir>\s+from\s+now|\s+from\s+today|\s+later|\s+time|\s+ago)?$"
)
_HALF_HOUR = re.compile(r"^(?:in\s+)?(?:half\s+an\s+hour|half\s+a\s+hour|half\s+hour|a\s+half\s+hour)$")
_WEEKDAY = re.compile(rf"^(?:(?P<mod>this\s+coming|this|next|coming|last|past|on\s+next|on)\s+)?(?P<wd>{_WD})$")
_WEEKDAY_NEXT_WEEK = re.compile(rf"^(?:(?P<wd1>{_WD})\s+(?:of\s+)?next\s+week|next\s+week(?:\s+on)?\s+(?P<wd2>{_WD}))$")
_NEXT_PERIOD = re.compile(
    r"^(?:(?:the\s+)?(?:start|beginning)\s+of\s+|early\s+)?(?P<which>next|last)\s+"
    r"(?P<unit>week|month|quarter|year)$"
    r"|^(?P<after>the\s+week\s+after\s+next|week\s+after\s+next)$"
)
_PERIOD_END = re.compile(
    r"^(?:the\s+)?end\s+of\s+(?:(?P<which>the|this|next|last)\s+)?(?P<unit>week|month|quarter|year)$"
)
_OFFSET_FROM = re.compile(
    rf"^(?:(?P<n>\d{{1,2}})|(?P<nw>{_NUMWORD}))\s+(?P<unit>days?|weeks?)\s+(?:from|after)\s+(?P<base>.+)$"
)
_WEEKDAY_WEEK = re.compile(rf"^(?P<wd>{_WD})\s+week$")
_DAY = r"(?P<d>\d{1,2})(?:st|nd|rd|th)?"
_YEAR = r"(?:,?\s+(?P<y>\d{4}))?"
_DAY_MONTH = re.compile(rf"^(?:(?:{_WD}),?\s+)?(?:the\s+)?{_DAY}(?:\s+of)?\s+(?P<mon>{_MON})\.?{_YEAR}$")
_MONTH_DAY = re.compile(rf"^(?:(?:{_WD}),?\s+)?(?P<mon>{_MON})\.?\s+(?:the\s+)?{_DAY}{_YEAR}$")
_ORDINAL_DAY = re.compile(rf"^(?:(?:{_WD}),?\s+)?(?:the\s+)?(?P<d>\d{{1,2}})(?:st|nd|rd|th)$")
_ISO_DATE = re.compile(r"^(?P<y>\d{4})[-/.](?P<m>\d{1,2})[-/.](?P<d>\d{1,2})$")
_NUMERIC_DATE = re.compile(r"^(?P<a>\d{1,2})(?P<sep>[/.-])(?P<b>\d{1,2})(?:(?P=sep)(?P<c>\d{2}|\d{4}))?$")
_FALLBACK_HINT = re.compile(  # dateparser reads bare numbers as dates ("5" is 1 May): not here
    r"\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec|mon|tue|wed|thu|fri|sat|sun"
    r"|today|tomorrow|yesterday|tonight|noon|midnight|ago|day|week|month|year|hour|minute"
    r"|morning|afternoon|evening|night|next|last|this)"
)

_WEEKDAY_WORD = re.compile(rf"\b(?:{_WD})\b")
_FIXED_DAYS = {
    "today": 0,
    "tomorrow": 1,
    "day after tomorrow": 2,
    "the day after tomorrow": 2,
    "yesterday": -1,
    "day before yesterday": -2,
    "the day before yesterday": -2,
}
_INVISIBLE = frozenset({"Cf", "Cs", "Co", "Cn"})
_LEADING_FILLER = re.compile(r"^(?:(?:due|by|on|for|until|till|from|remind\s+me)\s+)+")


@dataclass(frozen=True)
class _Clock:
    """A time of day; ``day_offset`` is 1 for "midnight", the end of the named day."""

    at: time
    day_offset: int = 0


@dataclass(frozen=True)
class _Ctx:
    now: datetime  # aware UTC
    zone: ZoneInfo
    today: date  # in the rep's zone
    prefer: Prefer
    workday_start: time
    date_order: DateOrder | None
    text: str  # the input as typed, for messages

    @property
    def future(self) -> bool:
        return self.prefer == "future"


# --------------------------------------------------------------------------- public API


def parse_when(
    text: str,
    *,
    now: datetime,
    tz: str,
    prefer: Prefer = "future",
    workday_start: time = time(9, 0),
    date_order: DateOrder | None = None,
) -> datetime:
    """Read a date/time phrase typed by a rep and return an aware UTC datetime.

    ``now`` is aware (any zone); ``tz`` is the rep's IANA zone name (their Slack ``tz``), in which
    "tomorrow", "friday" and bare clock times are read. ``prefer`` decides which way an
    incomplete phrase ("friday", "dec 3", "3pm") resolves. A date without a time means
    ``workday_start`` on that day. ``date_order`` reads numeric dates such as "3/12" (see
    :func:`date_order_for_locale`); with ``None`` an ambiguous one is refused.

    Raises :class:`~crm.errors.DateParseError` (whose message quotes the input and lists
    examples) for anything that cannot be read. ``ValueError`` means a programming error: a
    naive ``now`` or an unknown ``tz``.
    """
    zone = _zone(tz)
    now_utc = _aware_utc(now, "now")
    phrase = _normalise(text)
    ctx = _Ctx(
        now=now_utc,
        zone=zone,
        today=now_utc.astimezone(zone).date(),
        prefer=prefer,
        workday_start=workday_start,
        date_order=date_order,
        text=text,
    )
    try:
        result = _parse_phrase(phrase, ctx)
        if result is None:
            result = _parse_with_dateparser(phrase, ctx)
    except (ValueError, OverflowError):  # date arithmetic out of range: "in 99999 years"
        raise _too_far(text) from None
    if result is None:
        raise DateParseError(f"I couldn't read {_quote(text)} as a date or time. Try: {EXAMPLES}.")
    if abs(result.year - now_utc.year) > _MAX_YEARS_AWAY:
        raise _too_far(text)
    return result


def parse_follow_up(
    text: str,
    *,
    now: datetime,
    tz: str,
    workday_start: time = time(9, 0),
    date_order: DateOrder | None = None,
) -> datetime:
    """Read a follow-up date: like :func:`parse_when` preferring the future, and it must be after now.

    Raises :class:`~crm.errors.DateParseError` ("That's in the past — ...") when the phrase
    names a time that is not after ``now`` ("yesterday", "today 8am" in the afternoon).
    """
    when = parse_when(text, now=now, tz=tz, prefer="future", workday_start=workday_start, date_order=date_order)
    if when <= _aware_utc(now, "now"):
        raise DateParseError(
            f"That's in the past — {_quote(text)} is {format_local(when, tz, now=now)}. "
            f"Pick a time after now, e.g. {EXAMPLES}."
        )
    return when


def date_order_for_locale(slack_locale: str | None) -> DateOrder | None:
    """How people in a Slack locale ("en-US", "en-GB", "ja-JP") write numeric dates, if known.

    "en-US" gives ``"MDY"``; "en-GB", "de-DE", "fr-FR", "es-LA" give ``"DMY"``; "ja-JP",
    "zh-CN", "ko-KR" give ``"YMD"``. ``None`` (unknown, or mixed usage such as Canada, or a bare
    "en") lets :func:`parse_when` refuse ambiguous dates like "3/12" instead of guessing.
    """
    if not isinstance(slack_locale, str):
        return None
    parts = slack_locale.strip().replace("_", "-").split("-")
    language = parts[0].lower()
    if not re.fullmatch(r"[a-z]{2,3}", language):
        return None
    regions = [p.upper() for p in parts[1:] if re.fullmatch(r"[A-Za-z]{2}|\d{3}", p)]
    region = regions[0] if regions else None
    if region in _MDY_REGIONS:
        return "MDY"
    if region in _YMD_REGIONS or (region is None and language in _YMD_LANGUAGES):
        return "YMD"
    if region in _MIXED_REGIONS or (region is None and language == "en"):
        return None
    return "DMY"


_MDY_REGIONS = frozenset({"US", "PH", "FM", "MH", "PW", "AS", "GU", "MP", "PR", "VI", "UM"})
_YMD_REGIONS = frozenset({"JP", "CN", "TW", "KR", "KP", "HU", "MN", "LT", "IR"})
_YMD_LANGUAGES = frozenset({"ja", "zh", "ko", "hu", "mn", "lt"})
_MIXED_REGIONS = frozenset({"CA"})


def format_local(dt_utc: datetime, tz: str, *, now: datetime | None = None) -> str:
    """Show a UTC datetime in the rep's zone: "Fri 27 Nov, 09:00", "today 15:00", "tomorrow 09:00".

    With ``now``, dates within a day of it are "yesterday"/"today"/"tomorrow", and the year is
    shown only when it differs from now's. Without ``now`` the year is always shown
    ("Fri 27 Nov 2026, 09:00"). A naive ``dt_utc`` is taken to be UTC (SQLite returns naive
    datetimes).
    """
    zone = _zone(tz)
    if dt_utc.tzinfo is None:
        dt_utc = dt_utc.replace(tzinfo=UTC)
    local = dt_utc.astimezone(zone)
    clock = f"{local.hour:02d}:{local.minute:02d}"
    today = _aware_utc(now, "now").astimezone(zone).date() if now is not None else None
    if today is not None:
        relative = {-1: "yesterday", 0: "today", 1: "tomorrow"}.get((local.date() - today).days)
        if relative:
            return f"{relative} {clock}"
    day = f"{_DAY_ABBR[local.weekday()]} {local.day} {_MONTH_ABBR[local.month]}"
    if today is None or today.year != local.year:
        day += f" {local.year}"
    return f"{day}, {clock}"


def warm_up() -> None:
    """Load dateparser's English data now (~100 ms) rather than on a rep's first command."""
    now = datetime(2026, 1, 1, tzinfo=UTC)
    ctx = _Ctx(now, ZoneInfo("UTC"), now.date(), "future", time(9), None, "")
    _parse_with_dateparser("3 december 2026 3pm", ctx)


# --------------------------------------------------------------------------- input and errors


def _zone(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise ValueError(f"Unknown time zone {tz!r}: pass an IANA name such as 'Europe/London'") from exc


def _aware_utc(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {value!r}")
    return value.astimezone(UTC)


def _quote(text: object) -> str:
    """The input as typed, cleaned of control characters and cut short, in curly quotes."""
    raw = text[: MAX_INPUT_CHARS * 2] if isinstance(text, str) else ""
    clean = " ".join("".join(" " if unicodedata.category(c)[0] == "C" else c for c in raw).split())
    if len(clean) > _QUOTE_CHARS:
        cut = clean[: _QUOTE_CHARS - 1]
        if " " in cut[_QUOTE_CHARS // 2 :]:  # end on a whole word when there is one nearby
            cut = cut[: cut.rindex(" ")]
        clean = cut.rstrip() + "…"
    return f"“{clean}”"


def _too_far(text: str) -> DateParseError:
    return DateParseError(f"{_quote(text)} is too far away to be a date I can use. Try: {EXAMPLES}.")


def _invalid_date(text: str) -> DateParseError:
    return DateParseError(f"{_quote(text)} isn't a real date. Try: {EXAMPLES}.")


def _normalise(text: object) -> str:
    """Lower-case ASCII with single spaces, typos and filler words removed; or DateParseError."""
    if not isinstance(text, str) or not text.strip():
        raise DateParseError(f"Please type a date or time, e.g. {EXAMPLES}.")
    if len(text) > MAX_INPUT_CHARS:
        raise DateParseError(f"{_quote(text)} is too long to be a date. Try: {EXAMPLES}.")
    s = unicodedata.normalize("NFKC", text)
    if any(unicodedata.category(c) == "Cc" and c not in "\t\n\r" for c in s):
        # NUL, escape sequences: not typed by a person, so not guessed at ("\x1b[31m").
        raise DateParseError(f"I couldn't read {_quote(text)} as a date or time. Try: {EXAMPLES}.")
    s = "".join(c for c in s if unicodedata.category(c) not in _INVISIBLE)  # zero-width, bidi marks
    s = s.translate({0x2018: "'", 0x2019: "'", 0x201C: '"', 0x201D: '"', 0x2013: "-", 0x2014: "-"})
    if not s.isascii():
        # Only English is read; anything else would reach dateparser as noise.
        raise DateParseError(f"I couldn't read {_quote(text)} as a date or time. Try: {EXAMPLES}.")
    s = s.lower().replace("@", " at ")
    s = re.sub(r"(?<=\d)t(?=\d)", " ", s)  # 2026-12-03T14:00
    s = " ".join(s.split()).strip(" .,!?;:'\"()[]{}<>*_~`")  # punctuation and Slack markup
    s = re.sub(r"[a-z0-9]+", lambda m: _TYPOS.get(m.group(), m.group()), s)
    s = _LEADING_FILLER.sub("", s)
    return s


# --------------------------------------------------------------------------- the grammar


def _parse_phrase(phrase: str, ctx: _Ctx) -> datetime | None:
    if phrase == "now":
        return ctx.now
    rest, clock, today_only = _split_time(phrase, ctx)
    if clock is None:
        bare = _BARE_HOUR.match(rest)
        if bare and _RELATIVE_DAY.match(bare["day"]):  # "monday 9", "tomorrow 3"
            rest, clock = bare["day"], _clock_from_match(bare, None, ctx)
    return _parse_day(rest, ctx, clock, today_only)


def _split_time(phrase: str, ctx: _Ctx) -> tuple[str, _Clock | None, bool]:
    """Split "tomorrow at 3pm" into ("tomorrow", 15:00); also parts of day ("friday eod")."""
    rest = phrase
    clock_match = _CLOCK_SUFFIX.match(rest) or _CLOCK_PREFIX.match(rest)
    if clock_match:
        rest = clock_match["rest"] or ""
    part, today_only = None, False
    part_match = _PART_SUFFIX.match(rest) or _PART_PREFIX.match(rest)
    if part_match:
        part, today_only = _PARTS[part_match["part"]]
        rest = part_match["rest"] or ""
        if clock_match is None:  # "tomorrow morning at 10": the clock may sit inside
            clock_match = _CLOCK_SUFFIX.match(rest) or _CLOCK_PREFIX.match(rest)
            if clock_match:
                rest = clock_match["rest"] or ""
    if clock_match:
        return rest, _clock_from_match(clock_match, part, ctx), today_only
    if part is not None:
        return rest, _Clock(_PART_TIMES.get(part, ctx.workday_start)), today_only
    return rest, None, False


def _clock_from_match(m: re.Match[str], part: str | None, ctx: _Ctx) -> _Clock:
    groups = m.groupdict()
    word = groups.get("word")
    if word:
        return _Clock(time(0), 1) if word == "midnight" else _Clock(time(12))
    invalid = DateParseError(f"{_quote(ctx.text)} isn't a real time of day. Try: {EXAMPLES}.")
    if groups.get("ampm"):
        hour, minute = int(groups["h"]), int(groups["m"] or 0)
        if not 1 <= hour <= 12 and not (hour == 0 and groups["ampm"][0] == "a"):
            raise invalid
        hour = hour % 12 + (12 if groups["ampm"][0] == "p" else 0)
    else:
        digits = groups.get("h24") or groups["bare"]
        hour, minute = int(digits), int(groups.get("m24") or 0)
        if hour > 23:
            raise invalid
        # "03:00" is literal; "at 3" is business hours, "tonight at 9" is the evening.
        afternoon = (part in _PM_PARTS and hour < 12) or (part not in ("morning", "first") and 1 <= hour <= 6)
        if afternoon and not digits.startswith("0"):
            hour += 12
    if minute > 59:
        raise invalid
    return _Clock(time(hour, minute))


def _parse_day(rest: str, ctx: _Ctx, clock: _Clock | None, today_only: bool) -> datetime | None:
    if rest == "":
        if clock is None:
            return None
        if today_only:
            return _at(ctx, ctx.today, clock)
        step = 1 if ctx.future else -1  # "3pm": today if still ahead, else tomorrow
        return _nearest(ctx, clock, [ctx.today, ctx.today + timedelta(days=step)])
    if rest in _FIXED_DAYS:
        return _at(ctx, ctx.today + timedelta(days=_FIXED_DAYS[rest]), clock)
    for rule in (
        _duration,
        _weekday,
        _weekday_next_week,
        _next_period,
        _period_end,
        _offset_from,
        _month_name_date,
        _ordinal_day,
        _numeric_date,
    ):
        result = rule(rest, ctx, clock)
        if result is not None:
            return result
    return None


def _duration(rest: str, ctx: _Ctx, clock: _Clock | None) -> datetime | None:
    """ "in 2 weeks", "3 days", "in an hour", "2 days ago", "in 3 business days"."""
    if _HALF_HOUR.match(rest):
        return None if clock else ctx.now + timedelta(minutes=30)
    m = _DURATION.match(rest)
    if not m:
        return None
    n = int(m["n"]) if m["n"] else _NUMBER_WORDS[m["nw"]]
    if m["dir"] and m["dir"].strip() == "ago":
        n = -n
    unit = _UNITS[m["unit"]]
    if unit in ("minutes", "hours"):
        if clock is not None:  # "in 2 hours at 3pm" is not something we can honour
            return None
        return ctx.now + timedelta(**{unit: n})  # real elapsed time, across DST too
    if unit == "days":
        day = ctx.today + timedelta(days=n)
    elif unit == "weeks":
        day = ctx.today + timedelta(weeks=n)
    elif unit == "workdays":
        day = _add_workdays(ctx.today, n)
    elif unit == "months":
        day = _add_months(ctx.today, n)
    else:
        day = _add_months(ctx.today, 12 * n)
    return _at(ctx, day, clock)


def _weekday(rest: str, ctx: _Ctx, clock: _Clock | None) -> datetime | None:
    """ "friday", "this fri", "next mon", "last tuesday"."""
    m = _WEEKDAY.match(rest)
    if not m:
        return None
    wd = _WEEKDAYS[m["wd"]]
    mod = " ".join((m["mod"] or "").split())
    if mod in ("next", "coming", "on next"):
        return _at(ctx, _next_weekday(ctx.today, wd), clock)
    if mod in ("last", "past"):
        return _at(ctx, _previous_weekday(ctx.today, wd), clock)
    # Bare, "this", "on": the nearest one on the preferred side of now; today counts if the
    # time is still ahead (future) or already past (past).
    step = 1 if ctx.future else -1
    candidates = [
        ctx.today + timedelta(days=k * step)
        for k in range(15)
        if (ctx.today + timedelta(days=k * step)).weekday() == wd
    ]
    return _nearest(ctx, clock, candidates)


def _weekday_next_week(rest: str, ctx: _Ctx, clock: _Clock | None) -> datetime | None:
    """ "friday next week", "next week tuesday": that day in the following Monday-Sunday week."""
    m = _WEEKDAY_NEXT_WEEK.match(rest)
    if not m:
        return None
    wd = _WEEKDAYS[m["wd1"] or m["wd2"]]
    return _at(ctx, _week_start(ctx.today) + timedelta(days=7 + wd), clock)


def _next_period(rest: str, ctx: _Ctx, clock: _Clock | None) -> datetime | None:
    """ "next week" (Monday), "next month" / "next quarter" / "next year" (first working day)."""
    m = _NEXT_PERIOD.match(rest)
    if not m:
        return None
    if m["after"]:
        return _at(ctx, _week_start(ctx.today) + timedelta(weeks=2), clock)
    step = 1 if m["which"] == "next" else -1
    unit = m["unit"]
    if unit == "week":
        return _at(ctx, _week_start(ctx.today) + timedelta(weeks=step), clock)
    start = _period_start(ctx.today, unit)
    months = {"month": 1, "quarter": 3, "year": 12}[unit]
    return _at(ctx, _first_workday(_add_months(start, step * months)), clock)


def _period_end(rest: str, ctx: _Ctx, clock: _Clock | None) -> datetime | None:
    """ "end of week" (Friday 17:00), "end of month" (last day 17:00), quarter, year."""
    m = _PERIOD_END.match(rest)
    if not m:
        return None
    unit, which = m["unit"], m["which"]
    clock = clock or _Clock(END_OF_DAY)

    def end(k: int) -> date:
        """The last day (Friday for weeks) of the period ``k`` periods from the current one."""
        if unit == "week":
            return _week_start(ctx.today) + timedelta(weeks=k, days=4)
        months = {"month": 1, "quarter": 3, "year": 12}[unit]
        return _add_months(_period_start(ctx.today, unit), (k + 1) * months) - timedelta(days=1)

    if which == "next":
        return _at(ctx, end(1), clock)
    if which == "last":
        return _at(ctx, end(-1), clock)
    candidates = [end(0), end(1)] if ctx.future else [end(0), end(-1)]
    return _nearest(ctx, clock, candidates)


def _offset_from(rest: str, ctx: _Ctx, clock: _Clock | None) -> datetime | None:
    """ "a week from tuesday" (the next Tuesday + 7 days), "2 days after friday", "tuesday week"."""
    m = _OFFSET_FROM.match(rest)
    if m:
        n = int(m["n"]) if m["n"] else _NUMBER_WORDS[m["nw"]]
        days = n * (7 if m["unit"].startswith("week") else 1)
        base_text = m["base"]
    else:
        m = _WEEKDAY_WEEK.match(rest)
        if not m:
            return None
        days, base_text = 7, m["wd"]
    base = _base_date(base_text, ctx)
    if base is None:
        return None
    return _at(ctx, base + timedelta(days=days), clock)


def _base_date(text: str, ctx: _Ctx) -> date | None:
    if text in _FIXED_DAYS:
        return ctx.today + timedelta(days=_FIXED_DAYS[text])
    if text in ("next week", "monday next week"):
        return _week_start(ctx.today) + timedelta(weeks=1)
    m = _WEEKDAY.match(text)
    if not m:
        return None
    wd = _WEEKDAYS[m["wd"]]
    if m["mod"] in ("last", "past"):
        return _previous_weekday(ctx.today, wd)
    return _next_weekday(ctx.today, wd)


def _month_name_date(rest: str, ctx: _Ctx, clock: _Clock | None) -> datetime | None:
    """ "dec 3", "3 Dec", "december 3rd, 2026", "fri 3 dec"."""
    m = _DAY_MONTH.match(rest) or _MONTH_DAY.match(rest)
    if not m:
        return None
    return _at(ctx, _calendar_date(ctx, m["y"], _MONTHS[m["mon"]], int(m["d"])), clock)


def _ordinal_day(rest: str, ctx: _Ctx, clock: _Clock | None) -> datetime | None:
    """ "the 15th": this month's if still ahead, else the next month that has that day."""
    m = _ORDINAL_DAY.match(rest)
    if not m:
        return None
    day_of_month = int(m["d"])
    if not 1 <= day_of_month <= 31:
        raise _invalid_date(ctx.text)
    first = ctx.today.replace(day=1)
    step = 1 if ctx.future else -1
    for k in range(13):
        month = _add_months(first, k * step)
        if day_of_month <= calendar.monthrange(month.year, month.month)[1]:
            day = month.replace(day=day_of_month)
            if (day >= ctx.today) if ctx.future else (day <= ctx.today):
                return _at(ctx, day, clock)
    raise _invalid_date(ctx.text)  # pragma: no cover - every month has a day 1..28


def _numeric_date(rest: str, ctx: _Ctx, clock: _Clock | None) -> datetime | None:
    """ "2026-12-03", and "3/12" or "3.12.2026" read by the rep's date order."""
    iso = _ISO_DATE.match(rest)
    if iso:
        return _at(ctx, _calendar_date(ctx, iso["y"], int(iso["m"]), int(iso["d"])), clock)
    m = _NUMERIC_DATE.match(rest)
    if not m:
        return None
    a, b, year = int(m["a"]), int(m["b"]), m["c"]
    if year is not None and len(year) == 2:
        year = str(2000 + int(year))
    order = ctx.date_order
    if a == 0 or b == 0:
        raise _invalid_date(ctx.text)
    if order is None:
        if a > 12 >= b:
            order = "DMY"
        elif b > 12 >= a:
            order = "MDY"
        elif a == b:
            order = "DMY"
        elif a <= 12 and b <= 12:  # both readings are real dates
            raise DateParseError(
                f"{_quote(ctx.text)} could be {a} {_MONTH_ABBR[b]} or {_MONTH_ABBR[a]} {b}. "
                f"Write the month as a word, e.g. “{a} {_MONTH_ABBR[b]}”, or try: {EXAMPLES}."
            )
        else:
            raise _invalid_date(ctx.text)
    if order == "YMD" and year is not None:  # "26/12/03"
        year, month, day = str(2000 + a), b, int(year) % 100
    else:
        # A year-first locale writes month/day when the year is left out ("12/3" is 3 December).
        month, day = (b, a) if order == "DMY" else (a, b)
    return _at(ctx, _calendar_date(ctx, year, month, day), clock)


def _calendar_date(ctx: _Ctx, year: str | None, month: int, day: int) -> date:
    """A date from parts, rolling a year-less date to the preferred side of today."""
    if not (1 <= month <= 12 and 1 <= day <= calendar.monthrange(2024, month)[1]):
        raise _invalid_date(ctx.text)
    if year is not None:
        try:
            return date(int(year), month, day)
        except ValueError:
            raise _invalid_date(ctx.text) from None
    step = 1 if ctx.future else -1
    for k in range(9):  # 29 February may be up to eight years away
        try:
            candidate = date(ctx.today.year + k * step, month, day)
        except ValueError:
            continue
        if (candidate >= ctx.today) if ctx.future else (candidate <= ctx.today):
            return candidate
    raise _invalid_date(ctx.text)  # pragma: no cover


# --------------------------------------------------------------------------- dateparser fallback


def _parse_with_dateparser(phrase: str, ctx: _Ctx) -> datetime | None:
    """The long tail ("3pm pst", "december"); ``None`` when dateparser cannot read it either."""
    try:
        _, explicit_tz = pop_tz_offset_from_string(phrase)
    except Exception:  # third-party code fed untrusted text: log it, call it unreadable
        logger.warning("dateparser failed on %r", phrase, exc_info=True)
        return None
    if explicit_tz is None and not _FALLBACK_HINT.search(phrase):
        return None  # dateparser reads "a" as 1 January and "12" as 1 December
    settings: dict[str, object] = {
        "PREFER_DATES_FROM": ctx.prefer,
        # dateparser computes relative dates from a naive wall-clock base in the rep's zone ...
        "RELATIVE_BASE": ctx.now.astimezone(ctx.zone).replace(tzinfo=None),
        "TIMEZONE": ctx.zone.key,
        # ... and returns naive local wall time, which zoneinfo localises below (DST gaps and
        # folds handled our way). Only an explicit zone in the text ("3pm PST") comes back aware.
        "RETURN_AS_TIMEZONE_AWARE": explicit_tz is not None,
        "RETURN_TIME_AS_PERIOD": True,  # period "time" tells us a time of day was given
        "PREFER_DAY_OF_MONTH": "first",  # "december" is 1 December, not today's day number
        "PARSERS": ["relative-time", "absolute-time"],  # no Unix timestamps, no "20261203"
    }
    if ctx.date_order is not None:
        settings["DATE_ORDER"] = ctx.date_order
    try:
        data = DateDataParser(languages=["en"], settings=settings).get_date_data(phrase)
    except Exception:  # third-party parser fed untrusted text: log it, call it unreadable
        logger.warning("dateparser failed on %r", phrase, exc_info=True)
        return None
    found = data.date_obj
    if found is None:
        return None
    if found.tzinfo is not None:
        return found.astimezone(UTC)
    named_day = _WEEKDAY_WORD.search(phrase)
    if named_day and _WEEKDAYS[named_day.group()] != found.weekday():
        return None  # dateparser reads "friday the 4th" as 25 April: a wrong guess, refuse it
    if data.period not in ("time", "part_of_day"):
        found = datetime.combine(found.date(), ctx.workday_start)
    return _localise(found, ctx.zone)


# --------------------------------------------------------------------------- calendar helpers


def _localise(naive: datetime, zone: ZoneInfo) -> datetime:
    """Local wall time to UTC. ``fold=0`` picks the first of two ambiguous times, and a time in
    a spring-forward gap is read with the offset before the change, i.e. moved forward by the gap
    (02:30 on 2026-03-08 in New York becomes 03:30 EDT)."""
    return naive.replace(tzinfo=zone, fold=0).astimezone(UTC)


def _at(ctx: _Ctx, day: date, clock: _Clock | None) -> datetime:
    clock = clock or _Clock(ctx.workday_start)
    naive = datetime.combine(day + timedelta(days=clock.day_offset), clock.at)
    return _localise(naive, ctx.zone)


def _nearest(ctx: _Ctx, clock: _Clock | None, days: list[date]) -> datetime:
    """The first of ``days`` (ordered away from today) whose time is on the preferred side of now."""
    for day in days:
        candidate = _at(ctx, day, clock)
        if (candidate > ctx.now) if ctx.future else (candidate <= ctx.now):
            return candidate
    return _at(ctx, days[-1], clock)


def _week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _next_weekday(day: date, wd: int) -> date:
    """The first ``wd`` strictly after ``day``."""
    return day + timedelta(days=(wd - day.weekday() - 1) % 7 + 1)


def _previous_weekday(day: date, wd: int) -> date:
    """The last ``wd`` strictly before ``day``."""
    return day - timedelta(days=(day.weekday() - wd - 1) % 7 + 1)


def _add_months(day: date, months: int) -> date:
    """Calendar months later, clamped to the month's length (31 Jan + 1 month = 28/29 Feb)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def _add_workdays(day: date, n: int) -> date:
    if abs(n) > 260 * _MAX_YEARS_AWAY:
        raise OverflowError("too many working days")
    step = 1 if n >= 0 else -1
    for _ in range(abs(n)):
        day += timedelta(days=step)
        while day.weekday() >= 5:
            day += timedelta(days=step)
    return day


def _period_start(day: date, unit: str) -> date:
    if unit == "month":
        return day.replace(day=1)
    if unit == "quarter":
        return date(day.year, (day.month - 1) // 3 * 3 + 1, 1)
    return date(day.year, 1, 1)


def _first_workday(day: date) -> date:
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day
