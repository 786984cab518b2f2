"""Money as whole minor units (cents) with an ISO 4217 currency code: exact, never float."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from crm.errors import InvalidInput

# Currencies whose minor unit is not 1/100.
_EXPONENTS = {
    "JPY": 0,
    "KRW": 0,
    "VND": 0,
    "CLP": 0,
    "ISK": 0,
    "HUF": 2,
    "BHD": 3,
    "KWD": 3,
    "OMR": 3,
    "JOD": 3,
    "TND": 3,
}
_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "INR": "₹"}


def exponent(currency: str) -> int:
    return _EXPONENTS.get(currency.upper(), 2)


def to_minor(amount: str | Decimal | int, currency: str) -> int:
    """Parse "12,500.50" / "12500" / Decimal into minor units; raise InvalidInput if not a sum."""
    if isinstance(amount, int):
        amount = Decimal(amount)
    if isinstance(amount, str):
        given = amount
        text = re.sub(r"[\s,_'$€£¥₹]", "", amount.strip())
        multiplier = Decimal(1)
        if text[-1:].lower() in ("k", "m"):
            multiplier = Decimal(1000) if text[-1].lower() == "k" else Decimal(1_000_000)
            text = text[:-1]
        try:
            amount = Decimal(text) * multiplier
        except InvalidOperation:
            raise InvalidInput(f"“{given[:30]}” isn't an amount. Try 12500 or 12,500.00.", field="amount") from None
    if not amount.is_finite() or amount < 0:
        raise InvalidInput("The amount must be zero or more.", field="amount")
    scaled = (amount * (Decimal(10) ** exponent(currency))).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    if scaled > 10**15:
        raise InvalidInput("That amount is too large.", field="amount")
    return int(scaled)


def format_money(minor: int | None, currency: str) -> str:
    """12000050, "USD" → "$120,000.50"; unknown symbols print the code ("CHF 1,200.00")."""
    if minor is None:
        return "no amount"
    exp = exponent(currency)
    value = Decimal(minor) / (Decimal(10) ** exp)
    number = f"{value:,.{exp}f}"
    symbol = _SYMBOLS.get(currency.upper())
    return f"{symbol}{number}" if symbol else f"{currency.upper()} {number}"


# The one order currencies are listed in, everywhere (digests, /crm pipeline, charts): these
# first, in this order, then any other code alphabetically. Never by amount, which changes.
CURRENCY_ORDER = ("USD", "EUR", "GBP", "JPY", "CHF", "CAD", "AUD", "INR")


def currency_key(currency: str) -> tuple[int, str]:
    code = currency.upper()
    try:
        return (CURRENCY_ORDER.index(code), code)
    except ValueError:
        return (len(CURRENCY_ORDER), code)


def in_currency_order(totals: dict[str, int]) -> list[tuple[str, int]]:
    """``totals`` (currency → minor units) as pairs in :data:`CURRENCY_ORDER`."""
    return sorted(totals.items(), key=lambda kv: currency_key(kv[0]))


def format_money_short(minor: int | None, currency: str) -> str:
    """Rounded for reading: "$6.7M", "€120k", "£950", "CHF 1.2M", "¥3.4B"; exact in :func:`format_money`."""
    if minor is None:
        return "no amount"
    value = Decimal(minor) / (Decimal(10) ** exponent(currency))
    sign = "−" if value < 0 else ""
    value = abs(value)
    number = ""
    for size, suffix in ((Decimal(10) ** 9, "B"), (Decimal(10) ** 6, "M"), (Decimal(10) ** 3, "k")):
        if value >= size * Decimal("0.9995"):
            scaled = value / size
            digits = 1 if scaled < 100 else 0
            text = f"{scaled.quantize(Decimal(10) ** -digits, rounding=ROUND_HALF_UP)}"
            if "." in text:
                text = text.rstrip("0").rstrip(".")
            if Decimal(text) >= 1000 and suffix != "B":  # 999.96k rounds to 1000k: say 1M
                continue
            number = text + suffix
            break
    if not number:
        number = f"{value.quantize(Decimal(1), rounding=ROUND_HALF_UP):,}"
    symbol = _SYMBOLS.get(currency.upper())
    return f"{sign}{symbol}{number}" if symbol else f"{sign}{currency.upper()} {number}"
