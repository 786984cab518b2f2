"""What a customer or contact form may hold: every value cleaned and checked before it reaches SQL.

Each cleaner returns the stored form or raises :class:`~crm.errors.InvalidInput` naming the
field, with one sentence the user can act on. Lengths follow the columns in ``crm/models.py``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from crm.errors import InvalidInput
from crm.models import USER_ID
from crm.normalize import (
    extract_domain,
    is_valid_domain,
    is_valid_email,
    normalize_name,
    normalize_phone,
    strip_control,
)
from crm.slack_ids import is_user_id

MAX_NAME = 255
MAX_WEBSITE = 255
MAX_EMAIL = 320
MAX_PHONE = 64
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


def clean_email(email: str | None) -> str | None:
    text = clean_text(email, limit=MAX_EMAIL, field="email", label="email")
    if text is None:
        return None
    text = text.lower()
    if not is_valid_email(text):
        raise InvalidInput(f"“{text[:60]}” isn't an email address. Try bob@acme.com.", field="email")
    return text


def clean_phone(phone: str | None) -> str | None:
    text = clean_text(phone, limit=MAX_PHONE, field="phone", label="phone number")
    return normalize_phone(text)[:MAX_PHONE] if text else None


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


@dataclass(frozen=True)
class ContactInput:
    """A contact as typed into a form (nothing checked yet)."""

    name: str | None = None
    email: str | None = None
    phone: str | None = None
    title: str | None = None

    def is_empty(self) -> bool:
        return not any((self.name or "").strip() or (v or "").strip() for v in (self.email, self.phone, self.title))


@dataclass(frozen=True)
class ContactValues:
    """A contact's cleaned values, ready to store."""

    name: str
    normalized_name: str
    email: str | None
    phone: str | None
    title: str | None

    def columns(self) -> dict[str, str | None]:
        return {
            "name": self.name,
            "normalized_name": self.normalized_name,
            "email": self.email,
            "phone": self.phone,
            "title": self.title,
        }


def clean_contact(contact: ContactInput) -> ContactValues:
    """A contact's values, each error naming its field in the contact form."""
    name, normalized = clean_name(contact.name, field="contact_name", label="contact name")
    try:
        email = clean_email(contact.email)
    except InvalidInput as err:
        raise InvalidInput(err.message, field="contact_email") from None
    try:
        phone = clean_phone(contact.phone)
    except InvalidInput as err:
        raise InvalidInput(err.message, field="contact_phone") from None
    title = clean_text(contact.title, limit=MAX_TITLE, field="contact_title", label="title")
    return ContactValues(name, normalized, email, phone, title)
