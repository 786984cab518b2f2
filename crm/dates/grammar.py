"""The grammar: a phrase ("friday 3pm", "in 2 weeks", "end of month") read rule by rule, with
dateparser as the fallback for the long tail ("3pm PST", "december")."""

from __future__ import annotations

import calendar
import logging
import re
from datetime import UTC, date, datetime, time, timedelta

from dateparser.date import DateDataParser
from dateparser.timezone_parser import pop_tz_offset_from_string

from crm.dates.days import (
    Clock,
    Ctx,
    add_months,
    add_workdays,
    day_at,
    first_workday,
    invalid_date,
    localise,
    nearest,
    next_weekday,
    period_start,
    previous_weekday,
    quote,
    week_start,
)
from crm.dates.words import (
    BARE_HOUR,
    CLOCK_PREFIX,
    CLOCK_SUFFIX,
    DAY_MONTH,
    DURATION,
    END_OF_DAY,
    EXAMPLES,
    FALLBACK_HINT,
    FIXED_DAYS,
    HALF_HOUR,
    ISO_DATE,
    MONTH_ABBR,
    MONTH_DAY,
    MONTHS,
    NEXT_PERIOD,
    NUMBER_WORDS,
    NUMERIC_DATE,
    OFFSET_FROM,
    ORDINAL_DAY,
    PART_PREFIX,
    PART_SUFFIX,
    PART_TIMES,
    PARTS,
    PERIOD_END,
    PM_PARTS,
    RELATIVE_DAY,
    UNITS,
    WEEKDAY,
    WEEKDAY_NEXT_WEEK,
    WEEKDAY_WEEK,
    WEEKDAY_WORD,
    WEEKDAYS,
)
from crm.errors import DateParseError

logger = logging.getLogger("crm.dates")


# --------------------------------------------------------------------------- the grammar


def parse_phrase(phrase: str, ctx: Ctx) -> datetime | None:
    if phrase == "now":
        return ctx.now
    rest, clock, today_only = _split_time(phrase, ctx)
    if clock is None:
        bare = BARE_HOUR.match(rest)
        if bare and RELATIVE_DAY.match(bare["day"]):  # "monday 9", "tomorrow 3"
            rest, clock = bare["day"], _clock_from_match(bare, None, ctx)
    return _parse_day(rest, ctx, clock, today_only)


def _split_time(phrase: str, ctx: Ctx) -> tuple[str, Clock | None, bool]:
    """Split "tomorrow at 3pm" into ("tomorrow", 15:00); also parts of day ("friday eod")."""
    rest = phrase
    clock_match = CLOCK_SUFFIX.match(rest) or CLOCK_PREFIX.match(rest)
    if clock_match:
        rest = clock_match["rest"] or ""
    part, today_only = None, False
    part_match = PART_SUFFIX.match(rest) or PART_PREFIX.match(rest)
    if part_match:
        part, today_only = PARTS[part_match["part"]]
        rest = part_match["rest"] or ""
        if clock_match is None:  # "tomorrow morning at 10": the clock may sit inside
            clock_match = CLOCK_SUFFIX.match(rest) or CLOCK_PREFIX.match(rest)
            if clock_match:
                rest = clock_match["rest"] or ""
    if clock_match:
        return rest, _clock_from_match(clock_match, part, ctx), today_only
    if part is not None:
        return rest, Clock(PART_TIMES.get(part, ctx.workday_start)), today_only
    return rest, None, False


def _clock_from_match(m: re.Match[str], part: str | None, ctx: Ctx) -> Clock:
    groups = m.groupdict()
    word = groups.get("word")
    if word:
        return Clock(time(0), 1) if word == "midnight" else Clock(time(12))
    invalid = DateParseError(f"{quote(ctx.text)} isn't a real time of day. Try: {EXAMPLES}.")
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
        afternoon = (part in PM_PARTS and hour < 12) or (part not in ("morning", "first") and 1 <= hour <= 6)
        if afternoon and not digits.startswith("0"):
            hour += 12
    if minute > 59:
        raise invalid
    return Clock(time(hour, minute))


def _parse_day(rest: str, ctx: Ctx, clock: Clock | None, today_only: bool) -> datetime | None:
    if rest == "":
        if clock is None:
            return None
        if today_only:
            return day_at(ctx, ctx.today, clock)
        step = 1 if ctx.future else -1  # "3pm": today if still ahead, else tomorrow
        return nearest(ctx, clock, [ctx.today, ctx.today + timedelta(days=step)])
    if rest in FIXED_DAYS:
        return day_at(ctx, ctx.today + timedelta(days=FIXED_DAYS[rest]), clock)
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


def _duration(rest: str, ctx: Ctx, clock: Clock | None) -> datetime | None:
    """ "in 2 weeks", "3 days", "in an hour", "2 days ago", "in 3 business days"."""
    if HALF_HOUR.match(rest):
        return None if clock else ctx.now + timedelta(minutes=30)
    m = DURATION.match(rest)
    if not m:
        return None
    n = int(m["n"]) if m["n"] else NUMBER_WORDS[m["nw"]]
    if m["dir"] and m["dir"].strip() == "ago":
        n = -n
    unit = UNITS[m["unit"]]
    if unit in ("minutes", "hours"):
        if clock is not None:  # "in 2 hours at 3pm" is not something we can honour
            return None
        return ctx.now + timedelta(**{unit: n})  # real elapsed time, across DST too
    if unit == "days":
        day = ctx.today + timedelta(days=n)
    elif unit == "weeks":
        day = ctx.today + timedelta(weeks=n)
    elif unit == "workdays":
        day = add_workdays(ctx.today, n)
    elif unit == "months":
        day = add_months(ctx.today, n)
    else:
        day = add_months(ctx.today, 12 * n)
    return day_at(ctx, day, clock)


def _weekday(rest: str, ctx: Ctx, clock: Clock | None) -> datetime | None:
    """ "friday", "this fri", "next mon", "last tuesday"."""
    m = WEEKDAY.match(rest)
    if not m:
        return None
    wd = WEEKDAYS[m["wd"]]
    mod = " ".join((m["mod"] or "").split())
    if mod in ("next", "coming", "on next"):
        return day_at(ctx, next_weekday(ctx.today, wd), clock)
    if mod in ("last", "past"):
        return day_at(ctx, previous_weekday(ctx.today, wd), clock)
    # Bare, "this", "on": the nearest one on the preferred side of now; today counts if the
    # time is still ahead (future) or already past (past).
    step = 1 if ctx.future else -1
    candidates = [
        ctx.today + timedelta(days=k * step)
        for k in range(15)
        if (ctx.today + timedelta(days=k * step)).weekday() == wd
    ]
    return nearest(ctx, clock, candidates)


def _weekday_next_week(rest: str, ctx: Ctx, clock: Clock | None) -> datetime | None:
    """ "friday next week", "next week tuesday": that day in the following Monday-Sunday week."""
    m = WEEKDAY_NEXT_WEEK.match(rest)
    if not m:
        return None
    wd = WEEKDAYS[m["wd1"] or m["wd2"]]
    return day_at(ctx, week_start(ctx.today) + timedelta(days=7 + wd), clock)


def _next_period(rest: str, ctx: Ctx, clock: Clock | None) -> datetime | None:
    """ "next week" (Monday), "next month" / "next quarter" / "next year" (first working day)."""
    m = NEXT_PERIOD.match(rest)
    if not m:
        return None
    if m["after"]:
        return day_at(ctx, week_start(ctx.today) + timedelta(weeks=2), clock)
    step = 1 if m["which"] == "next" else -1
    unit = m["unit"]
    if unit == "week":
        return day_at(ctx, week_start(ctx.today) + timedelta(weeks=step), clock)
    start = period_start(ctx.today, unit)
    months = {"month": 1, "quarter": 3, "year": 12}[unit]
    return day_at(ctx, first_workday(add_months(start, step * months)), clock)


def _period_end(rest: str, ctx: Ctx, clock: Clock | None) -> datetime | None:
    """ "end of week" (Friday 17:00), "end of month" (last day 17:00), quarter, year."""
    m = PERIOD_END.match(rest)
    if not m:
        return None
    unit, which = m["unit"], m["which"]
    clock = clock or Clock(END_OF_DAY)

    def end(k: int) -> date:
        """The last day (Friday for weeks) of the period ``k`` periods from the current one."""
        if unit == "week":
            return week_start(ctx.today) + timedelta(weeks=k, days=4)
        months = {"month": 1, "quarter": 3, "year": 12}[unit]
        return add_months(period_start(ctx.today, unit), (k + 1) * months) - timedelta(days=1)

    if which == "next":
        return day_at(ctx, end(1), clock)
    if which == "last":
        return day_at(ctx, end(-1), clock)
    candidates = [end(0), end(1)] if ctx.future else [end(0), end(-1)]
    return nearest(ctx, clock, candidates)


def _offset_from(rest: str, ctx: Ctx, clock: Clock | None) -> datetime | None:
    """ "a week from tuesday" (the next Tuesday + 7 days), "2 days after friday", "tuesday week"."""
    m = OFFSET_FROM.match(rest)
    if m:
        n = int(m["n"]) if m["n"] else NUMBER_WORDS[m["nw"]]
        days = n * (7 if m["unit"].startswith("week") else 1)
        base_text = m["base"]
    else:
        m = WEEKDAY_WEEK.match(rest)
        if not m:
            return None
        days, base_text = 7, m["wd"]
    base = _base_date(base_text, ctx)
    if base is None:
        return None
    return day_at(ctx, base + timedelta(days=days), clock)


def _base_date(text: str, ctx: Ctx) -> date | None:
    if text in FIXED_DAYS:
        return ctx.today + timedelta(days=FIXED_DAYS[text])
    if text in ("next week", "monday next week"):
        return week_start(ctx.today) + timedelta(weeks=1)
    m = WEEKDAY.match(text)
    if not m:
        return None
    wd = WEEKDAYS[m["wd"]]
    if m["mod"] in ("last", "past"):
        return previous_weekday(ctx.today, wd)
    return next_weekday(ctx.today, wd)


def _month_name_date(rest: str, ctx: Ctx, clock: Clock | None) -> datetime | None:
    """ "dec 3", "3 Dec", "december 3rd, 2026", "fri 3 dec"."""
    m = DAY_MONTH.match(rest) or MONTH_DAY.match(rest)
    if not m:
        return None
    return day_at(ctx, _calendar_date(ctx, m["y"], MONTHS[m["mon"]], int(m["d"])), clock)


def _ordinal_day(rest: str, ctx: Ctx, clock: Clock | None) -> datetime | None:
    """ "the 15th": this month's if still ahead, else the next month that has that day."""
    m = ORDINAL_DAY.match(rest)
    if not m:
        return None
    day_of_month = int(m["d"])
    if not 1 <= day_of_month <= 31:
        raise invalid_date(ctx.text)
    first = ctx.today.replace(day=1)
    step = 1 if ctx.future else -1
    for k in range(13):
        month = add_months(first, k * step)
        if day_of_month <= calendar.monthrange(month.year, month.month)[1]:
            day = month.replace(day=day_of_month)
            if (day >= ctx.today) if ctx.future else (day <= ctx.today):
                return day_at(ctx, day, clock)
    raise invalid_date(ctx.text)  # pragma: no cover - every month has a day 1..28


def _numeric_date(rest: str, ctx: Ctx, clock: Clock | None) -> datetime | None:
    """ "2026-12-03", and "3/12" or "3.12.2026" read by the rep's date order."""
    iso = ISO_DATE.match(rest)
    if iso:
        return day_at(ctx, _calendar_date(ctx, iso["y"], int(iso["m"]), int(iso["d"])), clock)
    m = NUMERIC_DATE.match(rest)
    if not m:
        return None
    a, b, year = int(m["a"]), int(m["b"]), m["c"]
    if year is not None and len(year) == 2:
        year = str(2000 + int(year))
    order = ctx.date_order
    if a == 0 or b == 0:
        raise invalid_date(ctx.text)
    if order is None:
        if a > 12 >= b:
            order = "DMY"
        elif b > 12 >= a:
            order = "MDY"
        elif a == b:
            order = "DMY"
        elif a <= 12 and b <= 12:  # both readings are real dates
            raise DateParseError(
                f"{quote(ctx.text)} could be {a} {MONTH_ABBR[b]} or {MONTH_ABBR[a]} {b}. "
                f"Write the month as a word, e.g. “{a} {MONTH_ABBR[b]}”, or try: {EXAMPLES}."
            )
        else:
            raise invalid_date(ctx.text)
    if order == "YMD" and year is not None:  # "26/12/03"
        year, month, day = str(2000 + a), b, int(year) % 100
    else:
        # A year-first locale writes month/day when the year is left out ("12/3" is 3 December).
        month, day = (b, a) if order == "DMY" else (a, b)
    return day_at(ctx, _calendar_date(ctx, year, month, day), clock)


def _calendar_date(ctx: Ctx, year: str | None, month: int, day: int) -> date:
    """A date from parts, rolling a year-less date to the preferred side of today."""
    if not (1 <= month <= 12 and 1 <= day <= calendar.monthrange(2024, month)[1]):
        raise invalid_date(ctx.text)
    if year is not None:
        try:
            return date(int(year), month, day)
        except ValueError:
            raise invalid_date(ctx.text) from None
    step = 1 if ctx.future else -1
    for k in range(9):  # 29 February may be up to eight years away
        try:
            candidate = date(ctx.today.year + k * step, month, day)
        except ValueError:
            continue
        if (candidate >= ctx.today) if ctx.future else (candidate <= ctx.today):
            return candidate
    raise invalid_date(ctx.text)  # pragma: no cover


# --------------------------------------------------------------------------- dateparser fallback


def parse_with_dateparser(phrase: str, ctx: Ctx) -> datetime | None:
    """The long tail ("3pm pst", "december"); ``None`` when dateparser cannot read it either."""
    try:
        _, explicit_tz = pop_tz_offset_from_string(phrase)
    except Exception:  # third-party code fed untrusted text: log it, call it unreadable
        logger.warning("dateparser failed on %r", phrase, exc_info=True)
        return None
    if explicit_tz is None and not FALLBACK_HINT.search(phrase):
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
    named_day = WEEKDAY_WORD.search(phrase)
    if named_day and WEEKDAYS[named_day.group()] != found.weekday():
        return None  # dateparser reads "friday the 4th" as 25 April: a wrong guess, refuse it
    if data.period not in ("time", "part_of_day"):
        found = datetime.combine(found.date(), ctx.workday_start)
    return localise(found, ctx.zone)
