"""Countries (ISO 3166-1 alpha-2) and regions (ISO 3166-2) with ``pycountry``; no fuzzy matching.

A country is accepted by what pycountry itself resolves: its alpha-2 ("US") or alpha-3 ("USA")
code, its numeric code, or its name, official name or common name ("United States", "United
States of America", "Bolivia"), in any case. A region is checked against the country's
subdivisions when pycountry lists any (by code, "US-CA" or "CA", or by name, "California") and
stored as the ISO 3166-2 code; where it lists none, or no country is given, it is kept as typed.
"""

from __future__ import annotations

from functools import lru_cache

import pycountry

from crm.errors import InvalidInput

MAX_REGION = 128


@lru_cache(maxsize=4096)
def _country(text: str) -> str | None:
    try:
        found = pycountry.countries.lookup(text)
    except LookupError:
        return None
    return str(found.alpha_2)


def clean_country(text: str | None, *, field: str = "country", label: str = "country") -> str | None:
    """ "USA" / "United States" / "us" → "US"; blank gives None; anything else raises InvalidInput."""
    typed = " ".join((text or "").split())
    if not typed:
        return None
    code = _country(typed[:100])
    if code is None:
        raise InvalidInput(
            f"“{typed[:40]}” isn't a country I know; write the {label} as its English name or ISO code, "
            "such as US, DEU or United Kingdom.",
            field=field,
        )
    return code


@lru_cache(maxsize=512)
def _subdivisions(country: str) -> dict[str, str]:
    """Every way a region of ``country`` is written (code, code without "US-", name), case-folded → code."""
    words: dict[str, str] = {}
    for sub in pycountry.subdivisions.get(country_code=country) or ():
        code = str(sub.code)
        words.setdefault(code.casefold(), code)
        words.setdefault(code.split("-", 1)[-1].casefold(), code)
        words.setdefault(str(sub.name).casefold(), code)
    return words


def clean_region(text: str | None, country: str | None, *, field: str = "region", label: str = "region") -> str | None:
    """The region's ISO 3166-2 code when pycountry knows ``country``'s regions, else as typed."""
    typed = " ".join((text or "").split())
    if not typed:
        return None
    if len(typed) > MAX_REGION:
        raise InvalidInput(f"The {label} is too long: at most {MAX_REGION} characters.", field=field)
    known = _subdivisions(country) if country else {}
    if not known:
        return typed
    code = known.get(typed.casefold())
    if code is None:
        name = country_name(country)
        raise InvalidInput(
            f"“{typed[:40]}” isn't a region of {name}; write the {label} as its name or code, such as "
            f"{_example(country or '')}.",
            field=field,
        )
    return code


def _example(country: str) -> str:
    subs = list(pycountry.subdivisions.get(country_code=country) or ())
    if not subs:
        return "CA or California"
    first = subs[0]
    return f"{str(first.code).split('-', 1)[-1]} or {first.name}"


def country_name(code: str | None) -> str:
    """ "DE" → "Germany" (the common name where pycountry has one); unknown codes as they are."""
    if not code:
        return ""
    found = pycountry.countries.get(alpha_2=code)
    if found is None:
        return code
    return str(getattr(found, "common_name", None) or found.name)


def region_name(code: str | None) -> str:
    """ "US-CA" → "California"; a region kept as typed is shown as typed."""
    if not code:
        return ""
    found = pycountry.subdivisions.get(code=code)
    return str(found.name) if found is not None else code
