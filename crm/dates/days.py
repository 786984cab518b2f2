"""What every rule of the date grammar shares: the reading context, input cleaning, error
messages, and calendar arithmetic on the rep's local calendar (results are aware UTC)."""

from __future__ import annotations

import calendar
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from crm.dates.words import (
    EXAMPLES,
    INVISIBLE,
    LEADING_FILLER,
    MAX_INPUT_CHARS,
    MAX_YEARS_AWAY,
    QUOTE_CHARS,
    TYPOS,
)
from crm.errors import DateParseError

Prefer = Literal["future", "past"]
DateOrder = Literal["MDY", "DMY", "YMD"]


@dataclass(frozen=True)
class Clock:
    """A time of day; ``day_offset`` is 1 for "midnight", the end of the named day."""

    at: time
    day_offset: int = 0


@dataclass(frozen=True)
class Ctx:
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


# --------------------------------------------------------------------------- input and errors


def zone_of(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise ValueError(f"Unknown time zone {tz!r}: pass an IANA name such as 'Europe/London'") from exc


def aware_utc(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {value!r}")
    return value.astimezone(UTC)


def quote(text: object) -> str:
    """The input as typed, cleaned of control characters and cut short, in curly quotes."""
    raw = text[: MAX_INPUT_CHARS * 2] if isinstance(text, str) else ""
    clean = " ".join("".join(" " if unicodedata.category(c)[0] == "C" else c for c in raw).split())
    if len(clean) > QUOTE_CHARS:
        cut = clean[: QUOTE_CHARS - 1]
        if " " in cut[QUOTE_CHARS // 2 :]:  # end on a whole word when there is one nearby
            cut = cut[: cut.rindex(" ")]
        clean = cut.rstrip() + "…"
    return f"“{clean}”"


def too_far(text: str) -> DateParseError:
    return DateParseError(f"{quote(text)} is too far away to be a date I can use. Try: {EXAMPLES}.")


def invalid_date(text: str) -> DateParseError:
    return DateParseError(f"{quote(text)} isn't a real date. Try: {EXAMPLES}.")


def normalise(text: object) -> str:
    """Lower-case ASCII with single spaces, typos and filler words removed; or DateParseError."""
    if not isinstance(text, str) or not text.strip():
        raise DateParseError(f"Please type a date or time, e.g. {EXAMPLES}.")
    if len(text) > MAX_INPUT_CHARS:
        raise DateParseError(f"{quote(text)} is too long to be a date. Try: {EXAMPLES}.")
    s = unicodedata.normalize("NFKC", text)
    if any(unicodedata.category(c) == "Cc" and c not in "\t\n\r" for c in s):
        # NUL, escape sequences: not typed by a person, so not guessed at ("\x1b[31m").
        raise DateParseError(f"I couldn't read {quote(text)} as a date or time. Try: {EXAMPLES}.")
    s = "".join(c for c in s if unicodedata.category(c) not in INVISIBLE)  # zero-width, bidi marks
    s = s.translate({0x2018: "'", 0x2019: "'", 0x201C: '"', 0x201D: '"', 0x2013: "-", 0x2014: "-"})
    if not s.isascii():
        # Only English is read; anything else would reach dateparser as noise.
        raise DateParseError(f"I couldn't read {quote(text)} as a date or time. Try: {EXAMPLES}.")
    s = s.lower().replace("@", " at ")
    s = re.sub(r"(?<=\d)t(?=\d)", " ", s)  # 2026-12-03T14:00
    s = " ".join(s.split()).strip(" .,!?;:'\"()[]{}<>*_~`")  # punctuation and Slack markup
    s = re.sub(r"[a-z0-9]+", lambda m: TYPOS.get(m.group(), m.group()), s)
    s = LEADING_FILLER.sub("", s)
    return s


# --------------------------------------------------------------------------- calendar helpers


def localise(naive: datetime, zone: ZoneInfo) -> datetime:
    """Local wall time to UTC. ``fold=0`` picks the first of two ambiguous times, and a time in
    a spring-forward gap is read with the offset before the change, i.e. moved forward by the gap
    (02:30 on 2026-03-08 in New York becomes 03:30 EDT)."""
    return naive.replace(tzinfo=zone, fold=0).astimezone(UTC)


def day_at(ctx: Ctx, day: date, clock: Clock | None) -> datetime:
    clock = clock or Clock(ctx.workday_start)
    naive = datetime.combine(day + timedelta(days=clock.day_offset), clock.at)
    return localise(naive, ctx.zone)


def nearest(ctx: Ctx, clock: Clock | None, days: list[date]) -> datetime:
    """The first of ``days`` (ordered away from today) whose time is on the preferred side of now."""
    for day in days:
        candidate = day_at(ctx, day, clock)
        if (candidate > ctx.now) if ctx.future else (candidate <= ctx.now):
            return candidate
    return day_at(ctx, days[-1], clock)


def week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


def next_weekday(day: date, wd: int) -> date:
    """The first ``wd`` strictly after ``day``."""
    return day + timedelta(days=(wd - day.weekday() - 1) % 7 + 1)


def previous_weekday(day: date, wd: int) -> date:
    """The last ``wd`` strictly before ``day``."""
    return day - timedelta(days=(day.weekday() - wd - 1) % 7 + 1)


def add_months(day: date, months: int) -> date:
    """Calendar months later, clamped to the month's length (31 Jan + 1 month = 28/29 Feb)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def add_workdays(day: date, n: int) -> date:
    if abs(n) > 260 * MAX_YEARS_AWAY:
        raise OverflowError("too many working days")
    step = 1 if n >= 0 else -1
    for _ in range(abs(n)):
        day += timedelta(days=step)
        while day.weekday() >= 5:
            day += timedelta(days=step)
    return day


def period_start(day: date, unit: str) -> date:
    if unit == "month":
        return day.replace(day=1)
    if unit == "quarter":
        return date(day.year, (day.month - 1) // 3 * 3 + 1, 1)
    return date(day.year, 1, 1)


def first_workday(day: date) -> date:
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day
