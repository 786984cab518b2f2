"""Phone numbers with ``phonenumbers``: E.164 in the database, national format on the card."""

from __future__ import annotations

from functools import lru_cache

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat

from crm.errors import InvalidInput

DEFAULT_REGION = "US"
MAX_TYPED = 64  # longer than any phone number with an extension
EXT = ";ext="  # how an extension follows the E.164 number in storage (RFC 3966)


def clean_region_code(code: str | None) -> str:
    """A default region for parsing ("US", "DE"); raises ``ValueError`` with a sentence."""
    region = (code or "").strip().upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"{code!r} is not a two-letter region phonenumbers knows, such as US, GB or DE")
    return region


def clean_phone(
    text: str | None, *, region: str = DEFAULT_REGION, field: str = "phone", label: str = "phone"
) -> str | None:
    """ "(415) 555-0123" → "+14155550123" (with ``region`` for numbers written without +country).

    An extension is kept after the number ("+14155550123;ext=12"). Blank gives None; anything
    that is not a valid number for its country raises InvalidInput naming the field.
    """
    typed = " ".join((text or "").split())
    if not typed:
        return None
    example = "+1 415 555 0123" if region == "US" else "+44 20 7946 0958"
    if len(typed) > MAX_TYPED:
        raise InvalidInput(
            f"The {label} is too long to be a phone number: at most {MAX_TYPED} characters.", field=field
        )
    stored, problem = _parse(typed, region)
    if problem == _UNREADABLE:
        raise InvalidInput(f"“{typed[:40]}” isn't a phone number; check the {label}, e.g. {example}.", field=field)
    if problem == _INVALID:
        raise InvalidInput(
            f"“{typed[:40]}” isn't a valid phone number for its country; check the digits of the {label}, "
            "or start it with + and the country code.",
            field=field,
        )
    return stored


_UNREADABLE, _INVALID = "unreadable", "invalid"
CACHE_SIZE = 32_768  # distinct numbers remembered (about 10 MB at most)


@lru_cache(maxsize=CACHE_SIZE)
def _parse(typed: str, region: str) -> tuple[str | None, str | None]:
    """(E.164, None) or (None, what is wrong): ``phonenumbers`` takes ~150 µs a number, and an
    import sees the same ones again and again (a company's switchboard on every contact)."""
    try:
        number = phonenumbers.parse(typed, region)
    except NumberParseException:
        return None, _UNREADABLE
    if not phonenumbers.is_valid_number(number):
        return None, _INVALID
    stored = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    if number.extension:
        stored += EXT + number.extension
    return stored, None


@lru_cache(maxsize=CACHE_SIZE)
def show_phone(stored: str | None, *, region: str = DEFAULT_REGION) -> str:
    """How a stored number reads: "(415) 555-0123" in its own region, "+44 20 7946 0958" elsewhere.

    Numbers saved before validation (as typed) are shown as they are.
    """
    if not stored:
        return ""
    try:
        number = phonenumbers.parse(stored, None)
    except NumberParseException:
        return stored
    same_region = phonenumbers.region_code_for_number(number) == region
    style = PhoneNumberFormat.NATIONAL if same_region else PhoneNumberFormat.INTERNATIONAL
    return phonenumbers.format_number(number, style)
