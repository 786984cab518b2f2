"""Cleaning one value of an imported row: dates, stages, owners, names, emails, phones, money.

Each cleaner takes the cell's text (already stripped; "" when empty) and returns the value
to store, or raises :class:`~crm.errors.InvalidInput` with a sentence saying what is wrong.
The per-kind specs in :mod:`crm.importer.kinds` name which cleaner reads which column.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from crm import fields
from crm.customers import clean_name, clean_text, clean_website
from crm.customers.details import clean_description, clean_employees, clean_revenue, clean_tags
from crm.errors import InvalidInput
from crm.lifecycle import LifecycleStages
from crm.money import to_minor
from crm.slack_ids import is_user_id

MAX_SUMMARY = 20_000
MAX_NOTES = 20_000
MAX_STREET = 512
_CURRENCY = re.compile(r"[A-Z]{3}")
_MINOR = re.compile(r"\d{1,18}")

_DATE_FORMATS_MDY = ("%m/%d/%Y", "%m/%d/%y", "%m/%d/%Y %H:%M", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y %I:%M %p")
_DATE_FORMATS_DMY = ("%d/%m/%Y", "%d/%m/%y", "%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S", "%d/%m/%Y %I:%M %p")
_DATE_FORMATS = (
    "%Y/%m/%d",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%d.%m.%Y",
    "%d.%m.%Y %H:%M",
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%y",
    "%d-%m-%Y",
    "%d %b %Y",
    "%d %B %Y",
    "%b %d, %Y",
    "%B %d, %Y",
    "%b %d %Y",
    "%d-%b-%Y",
    "%d-%b-%y",
    "%Y%m%d",
)
_LEADING_NUMBER = re.compile(r"^\s*(\d+)")
_SECOND_NUMBER = re.compile(r"^\s*\d+/(\d+)")
_TIMESTAMP = re.compile(r"\d{9,10}(\.\d+)?")


def parse_datetime(text: str, *, tz: ZoneInfo, dayfirst: bool = False) -> datetime:
    """A date or date-time in any of the usual export formats, as aware UTC; InvalidInput if not."""
    value = " ".join(text.split())
    if not value:
        raise InvalidInput("no date")
    try:
        parsed: datetime | None = datetime.fromisoformat(value.replace(" UTC", "+00:00"))
    except ValueError:
        parsed = _parse_other(value, dayfirst)
    if parsed is None or not 1900 <= parsed.year <= 2200:
        raise InvalidInput(f"“{text[:40]}” isn't a date (try 2024-03-31 or 03/31/2024)")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    return parsed.astimezone(UTC)


def _parse_other(value: str, dayfirst: bool) -> datetime | None:
    if _TIMESTAMP.fullmatch(value):
        return datetime.fromtimestamp(float(value), UTC)
    formats: tuple[str, ...] = _DATE_FORMATS
    if value.count("/") == 2 and not re.match(r"^\d{4}/", value):
        first = _LEADING_NUMBER.match(value)
        second = _SECOND_NUMBER.match(value)
        order_dmy = dayfirst or (first is not None and int(first.group(1)) > 12)
        if second and int(second.group(1)) > 12:
            order_dmy = False
        formats = _DATE_FORMATS_DMY if order_dmy else _DATE_FORMATS_MDY
    for fmt in formats:
        try:
            return datetime.strptime(value, fmt)
        except ValueError:
            continue
    return None


def stage_key(text: str) -> str:
    """ "Closed Won" -> "won", "Qualified To Buy" -> "qualified_to_buy" (at most 64 characters)."""
    slug = "_".join(re.sub(r"[^0-9a-z]+", " ", text.lower()).split())
    if slug in ("closed_won", "closedwon", "won", "closed_won_deal"):
        return "won"
    if slug in ("closed_lost", "closedlost", "lost"):
        return "lost"
    return slug[:64] or "open"


def owner(text: str) -> str | None:
    """A Slack user id, or None for anything else (a name, an e-mail address...)."""
    text = text.strip()
    return text if is_user_id(text) else None


def ref(text: str) -> str | None:
    """The row's id in the system it came from (``external_ref``)."""
    return text[:255] or None


_SUMMARY_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202d\u202e\ufeff]")


def summary(text: str) -> str:
    cleaned = _SUMMARY_CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n")).strip()
    if len(cleaned) > MAX_SUMMARY:
        raise InvalidInput(f"the summary is {len(cleaned):,} characters; at most {MAX_SUMMARY:,}")
    return cleaned


def notes(text: str) -> str | None:
    if len(text) > MAX_NOTES:
        raise InvalidInput("the notes are too long")
    return text or None


def company_name(text: str) -> tuple[str, str]:
    """(name, normalised name)."""
    return clean_name(text, label="company name")


def website(text: str) -> tuple[str | None, str | None]:
    """(website, domain)."""
    return clean_website(text)


def email(text: str) -> str | None:
    return fields.clean_email(text) if text else None


_NOT_GIVEN = frozenset({"n/a", "na", "-", "--", "none", "null", "nil", "unknown", "tbd", "?", "0"})


def phone(text: str, *, region: str) -> str | None:
    """E.164 (``phonenumbers``); "N/A", "-", "none" and the like are no phone, not an error."""
    if not text or text.casefold() in _NOT_GIVEN:
        return None
    return fields.clean_phone(text, region=region)


def country(text: str) -> str | None:
    """ISO 3166-1 alpha-2 by what ``pycountry`` resolves ("US", "USA", "United States")."""
    if not text or text.casefold() in _NOT_GIVEN:
        return None
    return fields.clean_country(text)


def region(text: str, country_code: str | None) -> str | None:
    return fields.clean_region(text, country_code) if text else None


def place(text: str, *, limit: int) -> str | None:
    """A street, city, postal code or industry: one tidy line, within the column's length."""
    return clean_text(" ".join(text.split()), limit=limit, field="address", label="value") if text else None


def split_address(text: str) -> tuple[str | None, str | None]:
    """ "Wittenbergplatz 1, 10789 Berlin, Germany" -> ("Wittenbergplatz 1, 10789 Berlin", "DE").

    A one-line address (Pipedrive's) keeps every word: its last part becomes the country when
    ``pycountry`` knows it, and the rest is the street line.
    """
    line = " ".join(text.replace("\n", ", ").split()).strip(", ")
    if not line:
        return None, None
    head, _, last = line.rpartition(",")
    if head:
        try:
            code = fields.clean_country(last.strip())
        except InvalidInput:
            code = None
        if code:
            return head.strip(", ") or None, code
    return line, None


def employees(text: str) -> int | None:
    if text.endswith(".0"):  # Salesforce's Data Loader writes whole numbers so
        text = text[:-2]
    return clean_employees(text)


def revenue(text: str, *, currency: str) -> tuple[int | None, str | None]:
    if text.endswith(".0"):
        text = text[:-2]
    return clean_revenue(text, currency) if text else (None, None)


def description(text: str) -> str | None:
    return clean_description(text)


def tags(text: str) -> list[str]:
    return clean_tags(text)


def lifecycle(text: str, *, stages: LifecycleStages) -> str | None:
    """A lifecycle stage's key, by the workspace's keys, labels and aliases (HubSpot's names among them)."""
    if not text:
        return None
    found = stages.resolve(text)
    if found is None:
        raise InvalidInput(f"“{text[:40]}” isn't a lifecycle stage here ({stages.names()}).")
    return found.key


def title(text: str) -> str | None:
    return clean_text(text, limit=255, field="title", label="title")


def deal_title(text: str) -> str:
    value = clean_text(text, limit=255, field="title", label="deal name", required=True)
    assert value is not None  # required=True
    return value


def currency(text: str, *, default: str) -> str:
    code = (text or default).upper()
    if not _CURRENCY.fullmatch(code):
        raise InvalidInput(f"“{code[:20]}” isn't a currency code")
    return code


def amount(minor: str, major: str, code: str) -> int | None:
    """Minor units from an "amount minor" column, else from an amount in ``code``."""
    if minor:
        if not _MINOR.fullmatch(minor):
            raise InvalidInput(f"“{minor[:30]}” isn't a whole number of minor units")
        return int(minor)
    return to_minor(major, code) if major else None


def close_date(text: str, *, tz: ZoneInfo, dayfirst: bool) -> datetime | None:
    if not text:
        return None
    try:
        return parse_datetime(text, tz=tz, dayfirst=dayfirst)
    except InvalidInput as err:
        raise InvalidInput(f"close date {err.message}") from None


def optional_datetime(text: str, *, tz: ZoneInfo, dayfirst: bool) -> datetime | None:
    return parse_datetime(text, tz=tz, dayfirst=dayfirst) if text else None


def day(moment: datetime | None) -> date | None:
    return moment.date() if moment else None
