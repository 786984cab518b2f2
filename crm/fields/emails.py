"""Email addresses with ``email-validator``: syntax only (no DNS look-up), stored lower-case."""

from __future__ import annotations

from functools import lru_cache

from email_validator import EmailNotValidError, validate_email

from crm.errors import InvalidInput

MAX_EMAIL = 320


def clean_email(text: str | None, *, field: str = "email", label: str = "email") -> str | None:
    """ "Bob@ACME.com " → "bob@acme.com"; blank gives None; a bad address raises InvalidInput.

    Stored lower-case, as the CRM has always compared emails (duplicates, contact look-up).
    """
    typed = (text or "").strip()
    if not typed:
        return None
    if len(typed) > MAX_EMAIL:
        raise InvalidInput(f"The {label} is too long: at most {MAX_EMAIL} characters.", field=field)
    normalized, reason = _validate(typed)
    if normalized is None:
        raise InvalidInput(
            f"“{typed[:60]}” isn't an email address ({(reason or '')[:120]}); check the {label}, e.g. bob@acme.com.",
            field=field,
        )
    return normalized


CACHE_SIZE = 32_768  # distinct addresses remembered


@lru_cache(maxsize=CACHE_SIZE)
def _validate(typed: str) -> tuple[str | None, str | None]:
    """(the address lower-case, None) or (None, why not), remembered: ``email-validator`` takes
    ~170 µs an address, and exports repeat them (a contact's email on each of their activities)."""
    try:
        checked = validate_email(typed, check_deliverability=False, allow_smtputf8=True)
    except EmailNotValidError as err:
        return None, str(err).rstrip(".")
    return checked.normalized.lower(), None
