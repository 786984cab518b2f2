"""Field validators built on each field's own library, shared by forms, imports and custom fields.

- ``phones``: phone numbers with ``phonenumbers`` (parsed with the workspace's default region,
  stored as E.164, shown in national format for that region and international otherwise);
- ``emails``: addresses with ``email-validator`` (syntax only, never a DNS look-up);
- ``places``: countries (ISO 3166-1) and regions (ISO 3166-2) with ``pycountry``, no fuzzy search.

Each ``clean_*`` returns the stored form (None for blank) or raises
:class:`~crm.errors.InvalidInput` whose one sentence names the field (``label``) and whose
``field`` is the form's field id, so a modal shows it under that field and an import report
next to that column.
"""

from crm.fields.emails import clean_email
from crm.fields.phones import DEFAULT_REGION, clean_phone, clean_region_code, show_phone
from crm.fields.places import clean_country, clean_region, country_name, region_name

__all__ = [
    "DEFAULT_REGION",
    "clean_country",
    "clean_email",
    "clean_phone",
    "clean_region",
    "clean_region_code",
    "country_name",
    "region_name",
    "show_phone",
]
