"""Date phrases reps type, read against a fixed ``now`` in the rep's zone (crm.dates).

Every expected value is the exact UTC instant, worked out by hand from the local reading noted in
the comment beside it. NOW is Wednesday 2026-11-25 17:30 UTC, which is:

    America/Los_Angeles  Wed 25 09:30 (UTC-8)     Asia/Tokyo        Thu 26 02:30 (UTC+9)
    America/New_York     Wed 25 12:30 (UTC-5)     Asia/Kolkata      Wed 25 23:00 (UTC+5:30)
    Europe/London        Wed 25 17:30 (UTC+0)     Australia/Sydney  Thu 26 04:30 (UTC+11)
    Europe/Berlin        Wed 25 18:30 (UTC+1)
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from crm.dates import (
    EXAMPLES,
    date_order_for_locale,
    format_local,
    parse_follow_up,
    parse_when,
    warm_up,
)
from crm.errors import DateParseError, InvalidInput

NOW = datetime(2026, 11, 25, 17, 30, tzinfo=UTC)

LA = "America/Los_Angeles"
NY = "America/New_York"
LON = "Europe/London"
BER = "Europe/Berlin"
TYO = "Asia/Tokyo"
KOL = "Asia/Kolkata"
SYD = "Australia/Sydney"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture(scope="module", autouse=True)
def _warm() -> None:
    warm_up()


PHRASES = [
    # Los Angeles, Wed 25 09:30 PST
    (LA, "tomorrow", utc(2026, 11, 26, 17, 0)),  # Thu 26 09:00
    (LA, "tmrw", utc(2026, 11, 26, 17, 0)),
    (LA, "tomorrow 3pm", utc(2026, 11, 26, 23, 0)),  # Thu 26 15:00
    (LA, "3pm tomorrow", utc(2026, 11, 26, 23, 0)),
    (LA, "next week", utc(2026, 11, 30, 17, 0)),  # Mon 30 09:00
    (LA, "in 2 weeks", utc(2026, 12, 9, 17, 0)),  # Wed 9 Dec 09:00
    (LA, "in 3 days", utc(2026, 11, 28, 17, 0)),  # Sat 28 09:00
    (LA, "in 2 hours", utc(2026, 11, 25, 19, 30)),  # exactly two hours on
    (LA, "monday", utc(2026, 11, 30, 17, 0)),
    (LA, "friday 2pm", utc(2026, 11, 27, 22, 0)),  # Fri 27 14:00
    (LA, "eod", utc(2026, 11, 26, 1, 0)),  # Wed 25 17:00
    (LA, "end of week", utc(2026, 11, 28, 1, 0)),  # Fri 27 17:00
    (LA, "end of month", utc(2026, 12, 1, 1, 0)),  # Mon 30 Nov 17:00
    (LA, "next quarter", utc(2027, 1, 1, 17, 0)),  # Fri 1 Jan 2027 09:00
    (LA, "wednesday", utc(2026, 12, 2, 17, 0)),  # today's 09:00 has passed: Wed 2 Dec
    (LA, "wed 10am", utc(2026, 11, 25, 18, 0)),  # today's 10:00 is still ahead
    (LA, "noon", utc(2026, 11, 25, 20, 0)),  # today 12:00
    (LA, "friday @ 2pm", utc(2026, 11, 27, 22, 0)),
    (LA, "*next friday*", utc(2026, 11, 27, 17, 0)),  # Slack bold
    # New York, Wed 25 12:30 EST
    (NY, "tomorrow", utc(2026, 11, 26, 14, 0)),  # Thu 26 09:00
    (NY, "noon", utc(2026, 11, 26, 17, 0)),  # today's noon has passed: Thu 26 12:00
    (NY, "3pm", utc(2026, 11, 25, 20, 0)),  # today 15:00
    (NY, "at 3", utc(2026, 11, 25, 20, 0)),  # a bare 1-6 is afternoon
    (NY, "tonight", utc(2026, 11, 26, 1, 0)),  # today 20:00
    (NY, "tonight at 9", utc(2026, 11, 26, 2, 0)),  # today 21:00
    (NY, "eod", utc(2026, 11, 25, 22, 0)),  # today 17:00
    (NY, "first thing monday", utc(2026, 11, 30, 14, 0)),  # Mon 30 09:00
    (NY, "a week from tuesday", utc(2026, 12, 8, 14, 0)),  # Tue 1 Dec + 7 days
    (NY, "tuesday week", utc(2026, 12, 8, 14, 0)),
    (NY, "this friday", utc(2026, 11, 27, 14, 0)),
    (NY, "next friday", utc(2026, 11, 27, 14, 0)),  # the first Friday after today
    (NY, "dec 3", utc(2026, 12, 3, 14, 0)),
    (NY, "December 3rd", utc(2026, 12, 3, 14, 0)),
    (NY, "nov 20", utc(2027, 11, 20, 14, 0)),  # already past this year: next year
    (NY, "2026-12-03", utc(2026, 12, 3, 14, 0)),
    (NY, "2026-12-03 14:30", utc(2026, 12, 3, 19, 30)),
    (NY, "in a month", utc(2026, 12, 25, 14, 0)),  # Fri 25 Dec 09:00
    (NY, "next month", utc(2026, 12, 1, 14, 0)),  # first working day: Tue 1 Dec
    (NY, "the 15th", utc(2026, 12, 15, 14, 0)),  # 15 Nov has passed
    (NY, "friday the 4th", utc(2026, 12, 4, 14, 0)),
    (NY, "in 3 business days", utc(2026, 11, 30, 14, 0)),  # Thu, Fri, Mon
    (NY, "friday eod", utc(2026, 11, 27, 22, 0)),
    (NY, "end of day friday", utc(2026, 11, 27, 22, 0)),
    (NY, "end of next week", utc(2026, 12, 4, 22, 0)),  # Fri 4 Dec 17:00
    (NY, "friday next week", utc(2026, 12, 4, 14, 0)),
    (NY, "3pm PST", utc(2026, 11, 25, 23, 0)),  # an explicit zone wins (dateparser)
    (NY, "midnight", utc(2026, 11, 26, 5, 0)),  # the coming 00:00
    (NY, "friday midnight", utc(2026, 11, 28, 5, 0)),  # the end of Friday
    (NY, "by Tomorrow, 3 P.M.", utc(2026, 11, 26, 20, 0)),
    (NY, "december", utc(2026, 12, 1, 14, 0)),  # dateparser fallback, 1st at 09:00
    # London, Wed 25 17:30 GMT
    (LON, "eod", utc(2026, 11, 26, 17, 0)),  # today's 17:00 has passed: tomorrow
    (LON, "end of day", utc(2026, 11, 26, 17, 0)),
    (LON, "tomorrow 3pm", utc(2026, 11, 26, 15, 0)),
    (LON, "3 Dec", utc(2026, 12, 3, 9, 0)),
    (LON, "end of month", utc(2026, 11, 30, 17, 0)),
    (LON, "monday 9", utc(2026, 11, 30, 9, 0)),
    (LON, "tomorrow morning", utc(2026, 11, 26, 9, 0)),
    (LON, "in 2 hours", utc(2026, 11, 25, 19, 30)),
    (LON, "next week", utc(2026, 11, 30, 9, 0)),
    # Berlin, Wed 25 18:30 CET
    (BER, "tomorrow", utc(2026, 11, 26, 8, 0)),
    (BER, "next mon", utc(2026, 11, 30, 8, 0)),
    (BER, "mon", utc(2026, 11, 30, 8, 0)),
    (BER, "end of week", utc(2026, 11, 27, 16, 0)),  # Fri 27 17:00 CET
    (BER, "next quarter", utc(2027, 1, 1, 8, 0)),
    (BER, "first thing tomorrow", utc(2026, 11, 26, 8, 0)),
    (BER, "tonight", utc(2026, 11, 25, 19, 0)),  # today 20:00, still ahead
    (BER, "15:00 tomorrow", utc(2026, 11, 26, 14, 0)),
    # Tokyo, Thu 26 02:30 JST
    (TYO, "tomorrow", utc(2026, 11, 27, 0, 0)),  # Fri 27 09:00
    (TYO, "today", utc(2026, 11, 26, 0, 0)),  # Thu 26 09:00, still ahead
    (TYO, "thursday", utc(2026, 11, 26, 0, 0)),  # today counts while its 09:00 is ahead
    (TYO, "eod", utc(2026, 11, 26, 8, 0)),
    (TYO, "friday 2pm", utc(2026, 11, 27, 5, 0)),
    (TYO, "end of week", utc(2026, 11, 27, 8, 0)),
    (TYO, "next week", utc(2026, 11, 30, 0, 0)),
    # Kolkata, Wed 25 23:00 IST
    (KOL, "tomorrow", utc(2026, 11, 26, 3, 30)),
    (KOL, "tomorrow 3pm", utc(2026, 11, 26, 9, 30)),
    (KOL, "eod", utc(2026, 11, 26, 11, 30)),  # today's 17:00 has passed
    (KOL, "noon", utc(2026, 11, 26, 6, 30)),
    (KOL, "in 2 hours", utc(2026, 11, 25, 19, 30)),
    (KOL, "end of month", utc(2026, 11, 30, 11, 30)),
    # Sydney, Thu 26 04:30 AEDT
    (SYD, "tomorrow", utc(2026, 11, 26, 22, 0)),  # Fri 27 09:00
    (SYD, "tomorrow 3pm", utc(2026, 11, 27, 4, 0)),
    (SYD, "eod", utc(2026, 11, 26, 6, 0)),  # Thu 26 17:00
    (SYD, "next quarter", utc(2026, 12, 31, 22, 0)),  # Fri 1 Jan 2027 09:00
    (SYD, "end of month", utc(2026, 11, 30, 6, 0)),
    (SYD, "friday", utc(2026, 11, 26, 22, 0)),
]


@pytest.mark.parametrize(("tz", "phrase", "expected"), PHRASES)
def test_phrase(tz: str, phrase: str, expected: datetime) -> None:
    assert parse_when(phrase, now=NOW, tz=tz) == expected
    assert parse_follow_up(phrase, now=NOW, tz=tz) == expected


def test_result_is_aware_utc_and_now_may_be_in_any_zone() -> None:
    now_in_tokyo = NOW.astimezone(ZoneInfo(TYO))
    result = parse_when("tomorrow", now=now_in_tokyo, tz=NY)
    assert result.tzinfo is UTC
    assert result == utc(2026, 11, 26, 14, 0)


def test_tomorrow_depends_on_the_reps_zone() -> None:
    assert parse_when("tomorrow", now=NOW, tz=LA) == utc(2026, 11, 26, 17, 0)  # Thu 26 in LA
    assert parse_when("tomorrow", now=NOW, tz=TYO) == utc(2026, 11, 27, 0, 0)  # Fri 27 in Tokyo


DST = [
    # US spring forward, Sun 8 Mar 2026. Sat 7 Mar 15:00 UTC is 10:00 EST / 07:00 PST.
    (utc(2026, 3, 7, 15), NY, "tomorrow 9am", utc(2026, 3, 8, 13, 0)),  # 09:00 EDT
    (utc(2026, 3, 7, 15), LA, "tomorrow 9am", utc(2026, 3, 8, 16, 0)),  # 09:00 PDT
    (utc(2026, 3, 7, 15), NY, "monday", utc(2026, 3, 9, 13, 0)),
    (utc(2026, 3, 7, 15), NY, "tomorrow 2:30am", utc(2026, 3, 8, 7, 30)),  # gap: 03:30 EDT
    (utc(2026, 3, 8, 6, 30), NY, "in 2 hours", utc(2026, 3, 8, 8, 30)),  # real elapsed time
    # EU spring forward, Sun 29 Mar 2026. Sat 28 Mar 12:00 UTC is 12:00 GMT / 13:00 CET.
    (utc(2026, 3, 28, 12), LON, "tomorrow 9am", utc(2026, 3, 29, 8, 0)),  # 09:00 BST
    (utc(2026, 3, 28, 12), BER, "tomorrow 9am", utc(2026, 3, 29, 7, 0)),  # 09:00 CEST
    (utc(2026, 3, 28, 12), BER, "tomorrow 2:30am", utc(2026, 3, 29, 1, 30)),  # gap: 03:30 CEST
    (utc(2026, 3, 28, 12), LON, "tomorrow 1:30am", utc(2026, 3, 29, 1, 30)),  # gap: 02:30 BST
    (utc(2026, 3, 28, 12), NY, "tomorrow 9am", utc(2026, 3, 29, 13, 0)),  # already EDT
    # EU fall back, Sun 25 Oct 2026. Sat 24 Oct 12:00 UTC is 13:00 BST / 14:00 CEST.
    (utc(2026, 10, 24, 12), LON, "tomorrow 9am", utc(2026, 10, 25, 9, 0)),  # 09:00 GMT
    (utc(2026, 10, 24, 12), BER, "tomorrow 9am", utc(2026, 10, 25, 8, 0)),  # 09:00 CET
    (utc(2026, 10, 24, 12), LON, "tomorrow 1:30am", utc(2026, 10, 25, 0, 30)),  # first: BST
    (utc(2026, 10, 24, 12), BER, "tomorrow 2:30am", utc(2026, 10, 25, 0, 30)),  # first: CEST
    (utc(2026, 10, 24, 12), LON, "end of week", utc(2026, 10, 30, 17, 0)),  # Fri 30 17:00 GMT
    # US fall back, Sun 1 Nov 2026. Sat 31 Oct 15:00 UTC is 11:00 EDT / 08:00 PDT.
    (utc(2026, 10, 31, 15), NY, "tomorrow 9am", utc(2026, 11, 1, 14, 0)),  # 09:00 EST
    (utc(2026, 10, 31, 15), LA, "tomorrow 9am", utc(2026, 11, 1, 17, 0)),  # 09:00 PST
    (utc(2026, 10, 31, 15), NY, "tomorrow 1:30am", utc(2026, 11, 1, 5, 30)),  # first: EDT
    (utc(2026, 10, 31, 15), NY, "in 1 week", utc(2026, 11, 7, 14, 0)),  # Sat 7 Nov 09:00 EST
    (utc(2026, 10, 31, 15), NY, "in 24 hours", utc(2026, 11, 1, 15, 0)),  # 10:00 EST
    (utc(2026, 10, 28, 15), NY, "a week from tuesday", utc(2026, 11, 10, 14, 0)),  # Tue 3 + 7
    # Sydney: DST ends Sun 5 Apr 2026 and starts Sun 4 Oct 2026.
    (utc(2026, 4, 4, 0), SYD, "tomorrow 9am", utc(2026, 4, 4, 23, 0)),  # 09:00 AEST
    (utc(2026, 10, 3, 0), SYD, "tomorrow 9am", utc(2026, 10, 3, 22, 0)),  # 09:00 AEDT
    (utc(2026, 10, 3, 0), SYD, "tomorrow 2:30am", utc(2026, 10, 3, 16, 30)),  # gap: 03:30 AEDT
]


@pytest.mark.parametrize(("now", "tz", "phrase", "expected"), DST)
def test_dst(now: datetime, tz: str, phrase: str, expected: datetime) -> None:
    assert parse_when(phrase, now=now, tz=tz) == expected


PAST = [  # London, Wed 25 Nov 17:30, logging something that happened
    ("friday", utc(2026, 11, 20, 9, 0)),
    ("monday", utc(2026, 11, 23, 9, 0)),
    ("wednesday", utc(2026, 11, 25, 9, 0)),  # today's 09:00 has passed, so today
    ("3pm", utc(2026, 11, 25, 15, 0)),
    ("6pm", utc(2026, 11, 24, 18, 0)),  # not yet today: yesterday
    ("dec 3", utc(2025, 12, 3, 9, 0)),
    ("3/12", utc(2025, 12, 3, 9, 0)),
    ("nov 20", utc(2026, 11, 20, 9, 0)),
    ("yesterday", utc(2026, 11, 24, 9, 0)),
    ("2 days ago", utc(2026, 11, 23, 9, 0)),
    ("last friday", utc(2026, 11, 20, 9, 0)),
    ("end of week", utc(2026, 11, 20, 17, 0)),
    ("the 15th", utc(2026, 11, 15, 9, 0)),
]


@pytest.mark.parametrize(("phrase", "expected"), PAST)
def test_prefer_past(phrase: str, expected: datetime) -> None:
    assert parse_when(phrase, now=NOW, tz=LON, prefer="past", date_order="DMY") == expected


@pytest.mark.parametrize(
    ("phrase", "expected"),
    [
        ("tomorrow", utc(2026, 11, 26, 13, 30)),
        ("next week", utc(2026, 11, 30, 13, 30)),
        ("first thing friday", utc(2026, 11, 27, 13, 30)),
        ("friday 2pm", utc(2026, 11, 27, 19, 0)),  # an explicit time is kept
    ],
)
def test_workday_start(phrase: str, expected: datetime) -> None:
    assert parse_follow_up(phrase, now=NOW, tz=NY, workday_start=time(8, 30)) == expected


@pytest.mark.parametrize(
    ("phrase", "order", "expected"),
    [
        ("3/12", "MDY", utc(2027, 3, 12, 9, 0)),  # 12 Mar: rolls to next year
        ("3/12", "DMY", utc(2026, 12, 3, 9, 0)),
        ("12/3", "YMD", utc(2026, 12, 3, 9, 0)),  # year-first locales write month/day
        ("3/12/2027", "MDY", utc(2027, 3, 12, 9, 0)),
        ("3.12.2026", "DMY", utc(2026, 12, 3, 9, 0)),
        ("2027/03/12", "DMY", utc(2027, 3, 12, 9, 0)),  # a leading year is always Y-M-D
        ("13/12", None, utc(2026, 12, 13, 9, 0)),  # unambiguous without an order
        ("12/13", None, utc(2026, 12, 13, 9, 0)),
    ],
)
def test_numeric_dates_follow_date_order(phrase: str, order: str | None, expected: datetime) -> None:
    assert parse_follow_up(phrase, now=NOW, tz=LON, date_order=order) == expected  # type: ignore[arg-type]


def test_ambiguous_numeric_date_without_order_asks_for_the_month() -> None:
    with pytest.raises(DateParseError) as err:
        parse_when("3/12", now=NOW, tz=LON)
    assert "“3/12” could be 3 Dec or Mar 12" in str(err.value)


HOSTILE = [
    "",
    "   ",
    "x" * 2000,
    "tomorrow " * 250,
    "🙂",
    "🙂 tomorrow",
    "غدا الساعة ٣",  # Arabic, right to left
    "\u202etomorrow 3pm\u202c🙂",
    "\x00",
    "tomorrow\x00",
    "\x00\x01\x1b[31m",
    "32/13",
    "99/99/9999",
    "0/12",
    "9999-12-31 midnight",
    "9999-99-99",
    "feb 30",
    "31 apr",
    "25:00",
    "13pm",
    "tomorrow at 3:99pm",
    "in 99999 years",
    "in 99999 days",
    "in 99999 business days",
    "2200-01-01",
    "asap",
    "a",
    "next next friday",
    "<!channel> tomorrow",
    "'; DROP TABLE customers; --",
    "%s %n {0} {}",
    "5",  # dateparser alone would read these as 1 May 2027, 5 March, 1 December
    "3 5",
    "12",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_input_raises_only_date_parse_error(text: str) -> None:
    with pytest.raises(DateParseError) as err:
        parse_follow_up(text, now=NOW, tz=NY)
    message = str(err.value)
    assert EXAMPLES in message
    assert isinstance(err.value, InvalidInput)
    assert len(message) < 400
    assert "\x00" not in message and "\u202e" not in message


@pytest.mark.parametrize("text", ["\u200btomorrow\u200e 3pm", "tomorrow\n3pm", "  TOMORROW\t3PM. "])
def test_invisible_characters_and_whitespace_are_ignored(text: str) -> None:
    assert parse_follow_up(text, now=NOW, tz=NY) == utc(2026, 11, 26, 20, 0)


def test_non_string_input_is_a_date_parse_error() -> None:
    with pytest.raises(DateParseError):
        parse_when(None, now=NOW, tz=NY)  # type: ignore[arg-type]


def test_random_garbage_raises_only_date_parse_error() -> None:
    rng = random.Random(20261125)
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789 /:.-,@+'\"\x00\t🙂é\u202e"
    for _ in range(300):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
        try:
            result = parse_when(text, now=NOW, tz=SYD)
        except DateParseError:
            continue
        assert result.tzinfo is UTC


def test_error_quotes_the_input_truncated() -> None:
    with pytest.raises(DateParseError) as err:
        parse_when("call bob about the pricing deck sometime soonish please", now=NOW, tz=NY)
    message = str(err.value)
    assert message.startswith("I couldn't read “call bob about the pricing deck…”")
    assert EXAMPLES in message
    assert err.value.field is None


@pytest.mark.parametrize("phrase", ["yesterday", "last friday", "2 days ago", "today 8am", "now", "nov 25"])
def test_follow_up_in_the_past_is_refused(phrase: str) -> None:
    with pytest.raises(DateParseError) as err:
        parse_follow_up(phrase, now=NOW, tz=NY)
    assert str(err.value).startswith(f"That's in the past — “{phrase}” is ")


def test_past_follow_up_message_shows_when_it_was() -> None:
    with pytest.raises(DateParseError) as err:
        parse_follow_up("yesterday 3pm", now=NOW, tz=NY)
    assert str(err.value).startswith("That's in the past — “yesterday 3pm” is yesterday 15:00.")


def test_programming_errors_are_not_date_parse_errors() -> None:
    with pytest.raises(ValueError, match="aware"):
        parse_when("tomorrow", now=datetime(2026, 11, 25, 17, 30), tz=NY)
    with pytest.raises(ValueError, match="Unknown time zone"):
        parse_when("tomorrow", now=NOW, tz="Mars/Olympus_Mons")


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("en-US", "MDY"),
        ("en_US", "MDY"),
        ("EN-us", "MDY"),
        ("en-GB", "DMY"),
        ("de-DE", "DMY"),
        ("fr-FR", "DMY"),
        ("es-ES", "DMY"),
        ("es-LA", "DMY"),
        ("pt-BR", "DMY"),
        ("it-IT", "DMY"),
        ("ja-JP", "YMD"),
        ("zh-CN", "YMD"),
        ("zh-TW", "YMD"),
        ("ko-KR", "YMD"),
        ("ja", "YMD"),
        ("de", "DMY"),
        ("en", None),  # could be either
        ("en-CA", None),  # Canada writes both ways
        (None, None),
        ("", None),
        ("🙂", None),
    ],
)
def test_date_order_for_locale(locale: str | None, expected: str | None) -> None:
    assert date_order_for_locale(locale) == expected


@pytest.mark.parametrize(
    ("dt_utc", "tz", "now", "expected"),
    [
        (utc(2026, 11, 27, 14, 0), NY, NOW, "Fri 27 Nov, 09:00"),
        (utc(2026, 11, 25, 20, 0), NY, NOW, "today 15:00"),
        (utc(2026, 11, 26, 14, 0), NY, NOW, "tomorrow 09:00"),
        (utc(2026, 11, 24, 14, 0), NY, NOW, "yesterday 09:00"),
        (utc(2027, 1, 4, 14, 0), NY, NOW, "Mon 4 Jan 2027, 09:00"),
        (utc(2026, 11, 26, 0, 0), TYO, NOW, "today 09:00"),  # it is already Thursday in Tokyo
        (utc(2026, 11, 26, 3, 30), KOL, NOW, "tomorrow 09:00"),
        (utc(2026, 11, 27, 14, 0), NY, None, "Fri 27 Nov 2026, 09:00"),
        (datetime(2026, 11, 27, 14, 0), NY, None, "Fri 27 Nov 2026, 09:00"),  # naive = UTC
    ],
)
def test_format_local(dt_utc: datetime, tz: str, now: datetime | None, expected: str) -> None:
    assert format_local(dt_utc, tz, now=now) == expected


def test_days_and_dates_are_written_one_way_everywhere():
    from datetime import date

    from crm.dates import format_date, format_day

    assert format_day(date(2026, 12, 2)) == "Wed 2 Dec"  # never "Wed 02 Dec" beside "Fri 4 Dec"
    assert format_day(datetime(2026, 3, 5, 9, 0), with_year=True) == "Thu 5 Mar 2026"
    assert format_date(date(2027, 2, 22)) == "22 Feb 2027"
    assert format_date(date(2027, 2, 2)) == "2 Feb 2027"
