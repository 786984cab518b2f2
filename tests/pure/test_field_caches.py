"""The field validators remember what they saw: the same answer (and the same sentence, naming
the asking field) for a repeated value, from a bounded cache."""

from __future__ import annotations

import pytest

from crm import fields
from crm.errors import InvalidInput
from crm.fields import emails, phones


@pytest.mark.parametrize(
    ("typed", "region", "stored"),
    [
        ("(415) 555-0123", "US", "+14155550123"),
        ("+49 30 1234567", "US", "+49301234567"),
        ("030 1234567", "DE", "+49301234567"),
        ("+1 415 555 0123 ext. 12", "US", "+14155550123;ext=12"),
    ],
)
def test_a_repeated_phone_is_answered_from_the_cache(typed, region, stored):
    phones._parse.cache_clear()
    assert fields.clean_phone(typed, region=region) == stored
    assert fields.clean_phone(typed, region=region) == stored
    info = phones._parse.cache_info()
    assert (info.hits, info.misses) == (1, 1)


def test_a_cached_refusal_still_names_the_field_that_asked():
    phones._parse.cache_clear()
    for field, label in (("phone", "phone"), ("contact_mobile_phone", "mobile phone")):
        with pytest.raises(InvalidInput) as err:
            fields.clean_phone("12", field=field, label=label)
        assert err.value.field == field and "isn't a valid phone number" in err.value.message
        assert f"digits of the {label}" in err.value.message
    with pytest.raises(InvalidInput, match="isn't a phone number"):
        fields.clean_phone("call me")
    assert phones._parse.cache_info().hits == 1


def test_a_repeated_email_is_answered_from_the_cache_and_refusals_keep_their_reason():
    emails._validate.cache_clear()
    assert [fields.clean_email("Bob@ACME.com") for _ in range(3)] == ["bob@acme.com"] * 3
    for field in ("email", "contact_email"):
        with pytest.raises(InvalidInput) as err:
            fields.clean_email("bob@", field=field)
        assert err.value.field == field and "isn't an email address (" in err.value.message
    info = emails._validate.cache_info()
    assert (info.hits, info.misses) == (3, 2)


def test_the_caches_are_bounded():
    assert phones._parse.cache_info().maxsize == phones.CACHE_SIZE <= 100_000
    assert emails._validate.cache_info().maxsize == emails.CACHE_SIZE <= 100_000
