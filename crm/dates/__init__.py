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

The package: this module is the public API; ``grammar`` holds the rules (and the dateparser
fallback), ``words`` the vocabulary and patterns, ``days`` the reading context, input cleaning,
messages and calendar arithmetic.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from crm.dates.days import Ctx, DateOrder, Prefer, aware_utc, normalise, quote, too_far, zone_of
from crm.dates.grammar import parse_phrase, parse_with_dateparser
from crm.dates.words import DAY_ABBR, END_OF_DAY, EXAMPLES, MAX_INPUT_CHARS, MAX_YEARS_AWAY, MONTH_ABBR
from crm.errors import DateParseError

__all__ = [
    "END_OF_DAY",
    "EXAMPLES",
    "MAX_INPUT_CHARS",
    "DateOrder",
    "Prefer",
    "date_order_for_locale",
    "format_date",
    "format_day",
    "format_local",
    "parse_follow_up",
    "parse_when",
    "warm_up",
]


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
    zone = zone_of(tz)
    now_utc = aware_utc(now, "now")
    phrase = normalise(text)
    ctx = Ctx(
        now=now_utc,
        zone=zone,
        today=now_utc.astimezone(zone).date(),
        prefer=prefer,
        workday_start=workday_start,
        date_order=date_order,
        text=text,
    )
    try:
        result = parse_phrase(phrase, ctx)
        if result is None:
            result = parse_with_dateparser(phrase, ctx)
    except (ValueError, OverflowError):  # date arithmetic out of range: "in 99999 years"
        raise too_far(text) from None
    if result is None:
        raise DateParseError(f"I couldn't read {quote(text)} as a date or time. Try: {EXAMPLES}.")
    if abs(result.year - now_utc.year) > MAX_YEARS_AWAY:
        raise too_far(text)
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
    if when <= aware_utc(now, "now"):
        raise DateParseError(
            f"That's in the past — {quote(text)} is {format_local(when, tz, now=now)}. "
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
    if region in MDY_REGIONS:
        return "MDY"
    if region in YMD_REGIONS or (region is None and language in YMD_LANGUAGES):
        return "YMD"
    if region in MIXED_REGIONS or (region is None and language == "en"):
        return None
    return "DMY"


MDY_REGIONS = frozenset({"US", "PH", "FM", "MH", "PW", "AS", "GU", "MP", "PR", "VI", "UM"})
YMD_REGIONS = frozenset({"JP", "CN", "TW", "KR", "KP", "HU", "MN", "LT", "IR"})
YMD_LANGUAGES = frozenset({"ja", "zh", "ko", "hu", "mn", "lt"})
MIXED_REGIONS = frozenset({"CA"})


def format_local(dt_utc: datetime, tz: str, *, now: datetime | None = None) -> str:
    """Show a UTC datetime in the rep's zone: "Fri 27 Nov, 09:00", "today 15:00", "tomorrow 09:00".

    With ``now``, dates within a day of it are "yesterday"/"today"/"tomorrow", and the year is
    shown only when it differs from now's. Without ``now`` the year is always shown
    ("Fri 27 Nov 2026, 09:00"). A naive ``dt_utc`` is taken to be UTC (SQLite returns naive
    datetimes).
    """
    zone = zone_of(tz)
    if dt_utc.tzinfo is None:
        dt_utc = dt_utc.replace(tzinfo=UTC)
    local = dt_utc.astimezone(zone)
    clock = f"{local.hour:02d}:{local.minute:02d}"
    today = aware_utc(now, "now").astimezone(zone).date() if now is not None else None
    if today is not None:
        relative = {-1: "yesterday", 0: "today", 1: "tomorrow"}.get((local.date() - today).days)
        if relative:
            return f"{relative} {clock}"
    day = f"{DAY_ABBR[local.weekday()]} {local.day} {MONTH_ABBR[local.month]}"
    if today is None or today.year != local.year:
        day += f" {local.year}"
    return f"{day}, {clock}"


def format_day(day: date | datetime, *, with_year: bool = False) -> str:
    """A day as every message writes it: "Thu 5 Mar" (no zero before the day), "Thu 5 Mar 2026"."""
    shown = f"{DAY_ABBR[day.weekday()]} {day.day} {MONTH_ABBR[day.month]}"
    return f"{shown} {day.year}" if with_year else shown


def format_date(day: date | datetime) -> str:
    """A date without its weekday, as messages write it: "22 Feb 2027"."""
    return f"{day.day} {MONTH_ABBR[day.month]} {day.year}"


def warm_up() -> None:
    """Load dateparser's English data now (~100 ms) rather than on a rep's first command."""
    now = datetime(2026, 1, 1, tzinfo=UTC)
    ctx = Ctx(now, ZoneInfo("UTC"), now.date(), "future", time(9), None, "")
    parse_with_dateparser("3 december 2026 3pm", ctx)
