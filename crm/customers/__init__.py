"""Customers and contacts: look-up, create with a duplicate guard, edit, merge, and the card.

Plain functions over a session factory, one transaction each; they raise ``crm.errors``.

- ``values``: what a form may hold (cleaning and checks, before anything reaches SQL);
- ``records``: look-up, the duplicate guard, create and edit;
- ``details``: the fuller record (phone, addresses, tags, lifecycle stage, custom fields ...);
- ``contacts``: the people at a customer;
- ``merge``: merging a duplicate into the one to keep (admins only); ``contact_merge`` the same for
  contacts, with undo;
- ``card``: what the card and its history pages show;
- ``store``: row helpers they share (live rows, aliases, once-only claims).
"""

from crm.customers.card import (
    CLOSED_STAGES,
    CustomerCard,
    HistoryPage,
    activity_page,
    customer_card,
    customer_history,
    last_touch,
)
from crm.customers.contact_merge import (
    ContactMergePreview,
    NotMerged,
    contact_merge_preview,
    merge_contacts,
    undo_contact_merge,
)
from crm.customers.contacts import (
    add_contact,
    contact_form,
    delete_contact,
    get_contact,
    list_contacts,
    update_contact,
)
from crm.customers.details import (
    MAX_DESCRIPTION,
    CustomerForm,
    Details,
    DetailsInput,
    RecordForm,
    change_lifecycle,
    clean_details,
    conversions,
    create_record,
    lifecycle_history,
    record_form,
    record_snapshot,
    save_customer,
    tags_of,
)
from crm.customers.merge import (
    AlreadyMerged,
    MergePreview,
    check_can_merge,
    merge_customers,
    merge_preview,
)
from crm.customers.records import (
    DUPLICATE_MIN_SCORE,
    DuplicateCandidate,
    LookupResult,
    create_customer,
    duplicate_candidates,
    find_customers,
    get_customer,
    update_customer,
)
from crm.customers.store import live_contact, live_customer
from crm.customers.values import (
    MAX_NAME,
    AddressInput,
    Collected,
    ContactInput,
    ContactValues,
    clean_contact,
    clean_email,
    clean_name,
    clean_owner,
    clean_phone,
    clean_text,
    clean_website,
)

__all__ = [
    "CLOSED_STAGES",
    "DUPLICATE_MIN_SCORE",
    "MAX_DESCRIPTION",
    "MAX_NAME",
    "AddressInput",
    "AlreadyMerged",
    "Collected",
    "ContactInput",
    "ContactMergePreview",
    "ContactValues",
    "CustomerCard",
    "CustomerForm",
    "Details",
    "DetailsInput",
    "DuplicateCandidate",
    "HistoryPage",
    "LookupResult",
    "MergePreview",
    "NotMerged",
    "RecordForm",
    "activity_page",
    "add_contact",
    "change_lifecycle",
    "check_can_merge",
    "clean_contact",
    "clean_details",
    "clean_email",
    "clean_name",
    "clean_owner",
    "clean_phone",
    "clean_text",
    "clean_website",
    "contact_form",
    "contact_merge_preview",
    "conversions",
    "create_customer",
    "create_record",
    "customer_card",
    "customer_history",
    "delete_contact",
    "duplicate_candidates",
    "find_customers",
    "get_contact",
    "get_customer",
    "last_touch",
    "lifecycle_history",
    "list_contacts",
    "live_contact",
    "live_customer",
    "merge_contacts",
    "merge_customers",
    "merge_preview",
    "record_form",
    "record_snapshot",
    "save_customer",
    "tags_of",
    "undo_contact_merge",
    "update_contact",
    "update_customer",
]
