"""What a customer or contact form may hold: every value cleaned and checked before it reaches SQL.

Each cleaner returns the stored form or raises :class:`~crm.errors.InvalidInput` naming the
field, with one sentence the user can act on. Lengths follow the columns in ``crm/models.py``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from crm import fields
from crm.errors import InvalidFields, InvalidInput
from crm.models import PLACE, POSTAL, STREET, USER_ID
from crm.normalize import extract_domain, is_valid_domain, normalize_name, strip_control
from crm.slack_ids import is_user_id

MAX_NAME = 255
MAX_WEBSITE = 255
MAX_EMAIL = 320
MAX_PHONE = 64
T = TypeVar("T")
MAX_TITLE = 255
# Who is recorded as having done something: a Slack user id, or "import" / "system".
RECORDED_ID = re.compile(rf"[A-Za-z0-9_.:-]{{1,{USER_ID}}}")


def clean_text(value: str | None, *, limit: int, field: str, label: str, required: bool = False) -> str | None:
    """Strip control characters and whitespace; enforce presence and length."""
    text = " ".join(strip_control(value or "").split())
    if not text:
        if required:
            raise InvalidInput(f"Please enter a {label}.", field=field)
        return None
    if len(text) > limit:
        raise InvalidInput(f"The {label} is too long: at most {limit} characters.", field=field)
    return text


def clean_name(name: str | None, *, field: str = "name", label: str = "name") -> tuple[str, str]:
    """A display name and its normalised form; the name must have a letter or digit."""
    text = clean_text(name, limit=MAX_NAME, field=field, label=label, required=True)
    assert text is not None
    normalized = normalize_name(text)
    if not normalized:
        raise InvalidInput(f"The {label} needs at least one letter or digit.", field=field)
    return text, normalized[:MAX_NAME]


def clean_website(website: str | None) -> tuple[str | None, str | None]:
    """(website as typed, its domain) or (None, None); raise on something that is no domain."""
    text = clean_text(website, limit=MAX_WEBSITE, field="website", label="website")
    if text is None:
        return None, None
    domain = extract_domain(text)
    if not domain or not is_valid_domain(domain) or "@" in text:
        raise InvalidInput(f"“{text[:60]}” isn't a website. Try acme.com or https://www.acme.com.", field="website")
    return text, domain


def clean_email(email: str | None, *, field: str = "email", label: str = "email") -> str | None:
    """An email address checked by ``email-validator`` (syntax only), lower-case; None for blank."""
    return fields.clean_email(strip_control(email or ""), field=field, label=label)


def clean_phone(
    phone: str | None, *, region: str = fields.DEFAULT_REGION, field: str = "phone", label: str = "phone number"
) -> str | None:
    """A phone number checked by ``phonenumbers`` and stored as E.164; None for blank."""
    return fields.clean_phone(strip_control(phone or ""), region=region, field=field, label=label)


def clean_owner(owner: str | None) -> str | None:
    """An owner picked in a form: a Slack user id, or None for "keep the default"."""
    if owner is None or owner == "":
        return None
    if not is_user_id(owner):
        raise InvalidInput("Pick the owner from the list of people in this workspace.", field="owner")
    return owner


def recorded_id(actor: str) -> str:
    """Who is recorded as having made a change; refused when it can't be a user id."""
    if not isinstance(actor, str) or not RECORDED_ID.fullmatch(actor):
        raise InvalidInput("I couldn't tell who sent this, so nothing was saved.")
    return actor


class Collected:
    """Field errors gathered while cleaning a whole form, so a modal can show them all at once."""

    def __init__(self) -> None:
        self.errors: dict[str, str] = {}

    def take(self, clean: Callable[[], T]) -> T | None:
        """``clean()``'s value, or None with its error kept (the first error per field wins)."""
        try:
            return clean()
        except InvalidFields as many:
            for name, message in many.errors.items():
                self.errors.setdefault(name, message)
            return None
        except InvalidInput as err:
            self.errors.setdefault(err.field or "", err.message)
            return None

    def raise_any(self) -> None:
        if self.errors:
            raise InvalidFields(self.errors)


@dataclass(frozen=True)
class AddressInput:
    """An address as typed (nothing checked yet)."""

    street: str | None = None
    city: str | None = None
    region: str | None = None
    postal_code: str | None = None
    country: str | None = None

    def is_empty(self) -> bool:
        return not any((v or "").strip() for v in (self.street, self.city, self.region, self.postal_code, self.country))


ADDRESS_PARTS = ("street", "city", "region", "postal_code", "country")


def clean_address(address: AddressInput, errors: Collected, *, prefix: str, label: str) -> dict[str, str | None]:
    """The columns ``{prefix}street`` ... ``{prefix}country`` for an address; errors name e.g.
    "billing_country". The country is ISO 3166-1 alpha-2, the region ISO 3166-2 where known."""
    name = f"{label} " if label else ""
    street = errors.take(
        lambda: clean_text(address.street, limit=STREET, field=f"{prefix}street", label=f"{name}street")
    )
    city = errors.take(lambda: clean_text(address.city, limit=PLACE, field=f"{prefix}city", label=f"{name}city"))
    postal = errors.take(
        lambda: clean_text(address.postal_code, limit=POSTAL, field=f"{prefix}postal_code", label=f"{name}postal code")
    )
    country = errors.take(
        lambda: fields.clean_country(address.country, field=f"{prefix}country", label=f"{name}country")
    )
    region = errors.take(
        lambda: fields.clean_region(
            strip_control(address.region or ""), country, field=f"{prefix}region", label=f"{name}region"
        )
    )
    values = {"street": street, "city": city, "region": region, "postal_code": postal, "country": country}
    return {f"{prefix}{part}": values[part] for part in ADDRESS_PARTS}


@dataclass(frozen=True)
class ContactInput:
    """A contact as typed into a form (nothing checked yet). ``phone`` is the work phone."""

    name: str | None = None
    email: str | None = None
    phone: str | None = None
    title: str | None = None
    mobile_phone: str | None = None
    address: AddressInput = field(default_factory=AddressInput)

    def is_empty(self) -> bool:
        typed = (self.name, self.email, self.phone, self.title, self.mobile_phone)
        return not any((v or "").strip() for v in typed) and self.address.is_empty()


@dataclass(frozen=True)
class ContactValues:
    """A contact's cleaned values, ready to store."""

    name: str
    normalized_name: str
    email: str | None
    phone: str | None
    title: str | None
    mobile_phone: str | None = None
    address: dict[str, str | None] = field(default_factory=dict)  # street ... country

    def columns(self) -> dict[str, str | None]:
        return {
            "name": self.name,
            "normalized_name": self.normalized_name,
            "email": self.email,
            "phone": self.phone,
            "title": self.title,
            "mobile_phone": self.mobile_phone,
            **{part: self.address.get(part) for part in ADDRESS_PARTS},
        }


def clean_contact(contact: ContactInput, *, region: str = fields.DEFAULT_REGION) -> ContactValues:
    """A contact's values; every bad field is reported at once (:class:`InvalidFields`), each
    error naming its field in the contact form ("contact_email", "contact_country", ...)."""
    errors = Collected()
    names = errors.take(lambda: clean_name(contact.name, field="contact_name", label="contact name"))
    email = errors.take(lambda: clean_email(contact.email, field="contact_email", label="email"))
    phone = errors.take(lambda: clean_phone(contact.phone, region=region, field="contact_phone", label="work phone"))
    mobile = errors.take(
        lambda: clean_phone(contact.mobile_phone, region=region, field="contact_mobile_phone", label="mobile phone")
    )
    title = errors.take(lambda: clean_text(contact.title, limit=MAX_TITLE, field="contact_title", label="title"))
    address = clean_address(contact.address, errors, prefix="contact_", label="")
    errors.raise_any()
    assert names is not None
    parts = {part: address[f"contact_{part}"] for part in ADDRESS_PARTS}
    return ContactValues(names[0], names[1], email, phone, title, mobile, parts)
