"""Block Kit for customers: the card, pick lists, history, the merge question, and the modals.

Pure functions of domain objects. Block and action ids are module constants shared with the
handlers. Everything users typed is escaped (``esc`` in blocks, ``fallback_text`` in a
message's top-level text), so a name like ``<!channel>`` can never ping anyone; people are
shown with ``person`` (a mention privately, a name where the card is posted in a channel).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from commands.blockkit import (
    PRIVATE_METADATA_MAX,
    SECTION_TEXT_MAX,
    actions,
    button,
    context,
    divider,
    esc,
    fallback_text,
    header,
    input_block,
    option,
    person,
    plain,
    plural,
    section,
    text_input,
    truncate,
)
from crm.customers import CustomerCard, DuplicateCandidate, HistoryPage, LookupResult, MergePreview
from crm.dates import format_date, format_local
from crm.models import Activity, Contact, Customer, Deal
from crm.money import format_money
from crm.slack_ids import is_user_id
from crm.states import ActivitySource

# Actions on the card and lists.
SHOW = "customer_show"
SHARE = "customer_share"
EDIT_OPEN = "customer_edit_open"
CONTACT_ADD_OPEN = "contact_add_open"
CONTACT_MENU = "contact_menu"
HISTORY = "customer_history"  # also "customer_history_newer" / "_older" on the paging buttons
CREATE_OPEN = "customer_create_open"
LOG_OPEN = "activity_log_open"  # handled by the activities feature
FOLLOW_UP_OPEN = "followup_add_open"  # handled by the activities feature
DEAL_NEW_OPEN = "deal_new_open"  # handled by the deals feature
MERGE_CONFIRM = "customer_merge_confirm"
MERGE_CANCEL = "customer_merge_cancel"
USE_EXISTING = "customer_use_existing"

# Modals.
CREATE_VIEW = "customer_create"
EDIT_VIEW = "customer_edit"
CONTACT_VIEW = "contact_save"

# Input blocks (block_id == the field name the service reports in InvalidInput.field).
B_NAME = "name"
B_WEBSITE = "website"
B_OWNER, A_OWNER = "owner", "value"
B_CONTACT_NAME, B_CONTACT_EMAIL, B_CONTACT_PHONE, B_CONTACT_TITLE = (
    "contact_name",
    "contact_email",
    "contact_phone",
    "contact_title",
)
B_CONTACT_MOBILE = "contact_mobile_phone"
B_FORCE, A_FORCE = "force", "value"
FORCE_VALUE = "force"

CARD_CONTACTS = 10
CARD_ACTIVITIES = 5
CARD_DEALS = 5
PICK_LIST_MAX = 8
SUMMARY_CHARS = 220

Label = Callable[[str], str]


def default_type_label(key: str) -> str:
    return key.replace("_", " ").capitalize()


def _more(shown: int, total: int, what: str) -> str:
    return f"\n_…and {total - shown} more {what}_" if total > shown else ""


# -- fallback texts (a message's top-level text: notifications and screen readers) ------------
def card_text(card: CustomerCard) -> str:
    return fallback_text(f"Customer card: {card.customer.name}")


def no_match_text(query: str) -> str:
    return fallback_text(f"No customer matches “{truncate(query, 100)}”.")


def several_text(query: str) -> str:
    return fallback_text(f"Several customers match “{truncate(query, 100)}”.")


def done_text(what: str, name: str) -> str:
    """ "Created Acme", "Saved Acme", "Saved contact Jane Doe", "Removed Jane Doe"."""
    return fallback_text(f"{what} {name}", 300)


def removed_text(contact_name: str) -> str:
    return fallback_text(f"Removed {contact_name}. Their past activities keep their name.", 300)


def shared_text(sharer: str, name: str) -> str:
    return f"{person(sharer)} shared {fallback_text(name, 250)}"


def merge_question_text(preview: MergePreview) -> str:
    return fallback_text(f"Merge {preview.duplicate.name} into {preview.keeper.name}?", 300)


def merged_text(result: MergePreview) -> str:
    return fallback_text(
        f"Merged {result.duplicate.name} into {result.keeper.name}: moved {result.contacts} contacts, "
        f"{result.deals} deals, {result.activities} activities and {result.follow_ups} follow-ups."
    )


# -- the card -----------------------------------------------------------------------------------


def activity_line(
    activity: Activity,
    *,
    type_label: Label,
    tz: str,
    now: datetime,
    contact: str | None,
    name_of: Label | None = None,
) -> str:
    when = format_local(activity.occurred_at, tz, now=now)
    who = person(activity.created_by, name_of)
    with_whom = f" with {esc(contact, 80)}" if contact else ""
    head = f"*{esc(type_label(activity.type_key), 40)}* · {who} · {when}{with_whom}{captured_mark(activity)}"
    return f"{head}\n{esc(activity.summary, SUMMARY_CHARS)}"


CAPTURED_WORDS: dict[str, str] = {
    ActivitySource.CHANNEL: "a channel",
    ActivitySource.ALERT: "an alert",
    ActivitySource.EMAIL: "email",
}


def captured_mark(activity: Activity) -> str:
    """ " · _captured from a channel_" for what the CRM captured by itself (issue 17); "" when typed."""
    words = CAPTURED_WORDS.get(activity.source)
    if words is None:
        return ""
    link = activity.permalink
    source = f"<{link}|{words}>" if link and link.startswith("https://") and "|" not in link else words
    return f" · _captured from {source}_"


def _facts(card: CustomerCard, tz: str, now: datetime, name_of: Label | None) -> dict[str, Any]:
    c = card.customer
    facts = [f"*Owner:* {person(c.owner_user_id, name_of)}"]
    if c.website:
        facts.append(f"*Website:* {esc(c.domain or c.website, 120)}")
    follow_up = card.next_follow_up
    if follow_up is not None:
        note = f" · {esc(follow_up.note, 120)}" if follow_up.note else ""
        due = format_local(follow_up.due_at, tz, now=now)
        facts.append(f"*Next follow-up:* {due} · {person(follow_up.owner_user_id, name_of)}{note}")
    else:
        facts.append("*Next follow-up:* none planned")
    return section("\n".join(facts))


ContactExtras = Callable[[Contact], list[str]]
DealExtras = Callable[[Deal], list[str]]


def _contacts(card: CustomerCard, shared: bool, extras: ContactExtras | None) -> list[dict[str, Any]]:
    if not card.contacts:
        return [section("*Contacts:* none yet")]
    title = f"*Contacts* ({card.contact_count})"
    if shared:
        lines = [_contact_line(x, extras) for x in card.contacts]
        return [section(title + "\n" + "\n".join(lines) + _more(len(lines), card.contact_count, "contacts"))]
    blocks = [section(title)]
    blocks += [section(_contact_line(contact, extras), accessory=_contact_menu(contact)) for contact in card.contacts]
    if card.contact_count > len(card.contacts):
        blocks.append(context(f"…and {card.contact_count - len(card.contacts)} more contacts"))
    return blocks


def _deals(card: CustomerCard, stage_label: Label, extras: DealExtras | None = None) -> dict[str, Any]:
    if not card.open_deals:
        return section("*Open deals:* none")
    per_deal = (SECTION_TEXT_MAX - 200) // max(1, len(card.open_deals))
    lines = [
        truncate(
            " · ".join(
                [
                    f"• {esc(d.title, 120)}",
                    esc(stage_label(d.stage), 40),
                    format_money(d.amount_minor, d.currency),
                    *([f"closes {format_date(d.expected_close)}"] if d.expected_close else []),
                    *(extras(d) if extras is not None else []),
                ]
            ),
            per_deal,
        )
        for d in card.open_deals
    ]
    text = f"*Open deals* ({card.open_deal_count})\n" + "\n".join(lines)
    return section(text + _more(len(lines), card.open_deal_count, "open deals"))


def _activities(card: CustomerCard, **line: Any) -> list[dict[str, Any]]:
    if not card.activities:
        return [section("*Latest activity:* nobody has logged anything yet.")]
    blocks = [section(f"*Latest activity* ({card.activity_count} in all)")]
    for a in card.activities:
        contact = card.contact_names.get(a.contact_id) if a.contact_id else None
        blocks.append(section(activity_line(a, contact=contact, **line)))
    if card.activity_count > len(card.activities):
        blocks.append(context(f"…and {card.activity_count - len(card.activities)} earlier activities"))
    return blocks


def card_controls(customer_id: int) -> dict[str, Any]:
    cid = str(customer_id)
    return actions(
        button("Log activity", LOG_OPEN, cid, "primary"),
        button("Add follow-up", FOLLOW_UP_OPEN, cid),
        button("New deal", DEAL_NEW_OPEN, cid),
        button("Add contact", CONTACT_ADD_OPEN, cid),
        button("Edit", EDIT_OPEN, cid),
        button("View history", HISTORY, f"{cid}:1"),
        button("Share in channel", SHARE, cid),
        block_id=f"card:{cid}",
    )


def card_blocks(
    card: CustomerCard,
    *,
    tz: str,
    now: datetime,
    type_label: Label = default_type_label,
    stage_label: Label = default_type_label,
    shared: bool = False,
    name_of: Label | None = None,
    record: list[dict[str, Any]] | None = None,
    contact_extras: ContactExtras | None = None,
    deal_extras: DealExtras | None = None,
) -> list[dict[str, Any]]:
    """The customer card: ephemeral with controls, or ``shared`` (read-only) for a channel.

    ``name_of`` (user id → display name) shows people by name instead of as mentions; pass it
    for a shared card, which would otherwise notify everyone it names. ``record`` is the fuller
    record's blocks (``commands.customers.record``), shown under the facts; ``contact_extras``
    adds phones, address and custom values to each contact's line, ``deal_extras`` each open
    deal's custom values to its line.
    """
    blocks = [header(card.customer.name), _facts(card, tz, now, name_of), *(record or []), divider()]
    blocks += _contacts(card, shared, contact_extras)
    blocks.append(_deals(card, stage_label, deal_extras))
    blocks += _activities(card, type_label=type_label, tz=tz, now=now, name_of=name_of)
    blocks.append(context("Shared from the CRM") if shared else card_controls(card.customer.id))
    return blocks


def _contact_line(contact: Contact, extras: ContactExtras | None = None) -> str:
    parts = [f"*{esc(contact.name, 100)}*"]
    if contact.title:
        parts.append(esc(contact.title, 80))
    if contact.email:
        parts.append(esc(contact.email, 120))
    if extras is not None:
        parts += extras(contact)
    elif contact.phone:
        parts.append(esc(contact.phone, 40))
    return truncate(" · ".join(parts), 2900)


def _contact_menu(contact: Contact) -> dict[str, Any]:
    return {
        "type": "overflow",
        "action_id": CONTACT_MENU,
        "options": [option("Edit contact", f"edit:{contact.id}"), option("Remove contact", f"remove:{contact.id}")],
    }


# -- look-up answers ----------------------------------------------------------------------------
def pick_list_blocks(query: str, result: LookupResult) -> list[dict[str, Any]]:
    blocks = [section(f"Several customers match “{esc(query, 100)}”. Which one did you mean?")]
    for m in result.matches[:PICK_LIST_MAX]:
        c = result.customers[m.customer_id]
        detail = f" · {esc(c.domain, 80)}" if c.domain else ""
        why = "" if m.kind == "name" else f"\n_matched {m.kind}: {esc(m.matched, 80)}_"
        blocks.append(section(f"*{esc(c.name, 200)}*{detail}{why}", accessory=button("Show", SHOW, str(c.id))))
    typed = truncate(query, 255, "")
    blocks.append(actions(button(f"None of these: create “{truncate(query, 40)}”", CREATE_OPEN, typed)))
    return blocks


def no_match_blocks(query: str) -> list[dict[str, Any]]:
    typed = truncate(query, 255, "")
    return [
        section(f"No customer matches “{esc(query, 200)}”."),
        actions(button(f"Create “{truncate(query, 50)}”", CREATE_OPEN, typed, "primary")),
    ]


def usage_blocks(command: str) -> list[dict[str, Any]]:
    return [
        section(
            f"Tell me who to look for: `{command} acme corp`, `{command} acme.com` or "
            f"`{command} jane@acme.com`. Typos and legal suffixes (Inc, GmbH, Ltd…) are fine."
        )
    ]


def history_blocks(
    page: HistoryPage,
    *,
    tz: str,
    now: datetime,
    type_label: Label = default_type_label,
    changes: list[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """One history page; ``changes`` is the record's latest edits (``commands.customers.record``)."""
    c = page.customer
    blocks: list[dict[str, Any]] = [header(f"History: {c.name}"), *(changes or [])]
    if not page.activities:
        blocks.append(section("Nobody has logged anything with this customer yet."))
    for a in page.activities:
        contact = page.contact_names.get(a.contact_id) if a.contact_id else None
        blocks.append(section(activity_line(a, type_label=type_label, tz=tz, now=now, contact=contact)))
    blocks.append(context(f"Page {page.page} of {page.pages} · {page.total} activities"))
    nav = []
    if page.page > 1:
        nav.append(button("← Newer", HISTORY + "_newer", f"{c.id}:{page.page - 1}"))
    if page.page < page.pages:
        nav.append(button("Older →", HISTORY + "_older", f"{c.id}:{page.page + 1}"))
    nav.append(button("Back to card", SHOW, str(c.id)))
    blocks.append(actions(*nav))
    return blocks


def history_text(page: HistoryPage) -> str:
    return fallback_text(f"History of {page.customer.name}", 300)


# -- merge ----------------------------------------------------------------------------------------
def merge_confirm_blocks(preview: MergePreview) -> list[dict[str, Any]]:
    d, k = preview.duplicate, preview.keeper
    text = (
        f"Merge *{esc(d.name, 200)}* into *{esc(k.name, 200)}*?\n"
        f"This moves {plural(preview.contacts, 'contact')}, {plural(preview.deals, 'deal')}, "
        f"{plural(preview.activities, 'activity', 'activities')} and {plural(preview.follow_ups, 'follow-up')} "
        f"to {esc(k.name, 200)}. “{esc(d.name, 200)}” stays searchable as "
        "a former name, and the merge is recorded in the audit trail."
    )
    value = f"{d.id}:{k.id}"
    return [section(text), actions(merge_button(value, d.name, k.name), button("Cancel", MERGE_CANCEL, value))]


def merge_button(value: str, duplicate: str, keeper: str, *, detail: str = "") -> dict[str, Any]:
    """The Merge button, behind a confirmation dialog (plain text: it can't ping anyone)."""
    confirm = {
        "title": plain("Merge customers?"),
        "text": plain(truncate(f"Merge {duplicate} into {keeper}?{detail}", 300)),
        "confirm": plain("Merge"),
        "deny": plain("Cancel"),
        "style": "danger",
    }
    return button("Merge", MERGE_CONFIRM, value, "danger", confirm=confirm)


# -- modals ---------------------------------------------------------------------------------------
def _metadata(data: dict[str, Any]) -> str:
    text = json.dumps(data, separators=(",", ":"))
    if len(text) > PRIVATE_METADATA_MAX:
        raise ValueError("private_metadata too long")
    return text


def _text(
    block_id: str,
    label: str,
    *,
    initial: str | None = None,
    optional: bool = True,
    max_length: int = 255,
    placeholder: str | None = None,
) -> dict[str, Any]:
    element = text_input(initial=initial, max_length=max_length, placeholder=placeholder)
    return input_block(block_id, label, element, optional=optional)


def _owner_input(owner: str | None) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "users_select", "action_id": A_OWNER}
    if is_user_id(owner):  # a forged owner is not offered back to Slack
        element["initial_user"] = owner
    return input_block(B_OWNER, "Owner", element, optional=True)


def _force(label: str, text: str) -> dict[str, Any]:
    element = {"type": "checkboxes", "action_id": A_FORCE, "options": [option(text, FORCE_VALUE)]}
    return input_block(B_FORCE, label, element, optional=True)


def _modal(callback_id: str, title: str, submit: str, meta: dict[str, Any], blocks: list[dict]) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": callback_id,
        "title": plain(title),
        "submit": plain(submit),
        "close": plain("Cancel"),
        "private_metadata": _metadata(meta),
        "blocks": blocks,
    }


def _duplicate_warning(duplicates: list[DuplicateCandidate]) -> list[dict[str, Any]]:
    blocks = [
        section(
            ":warning: *This looks like a customer you already have.* Use the existing one, or tick "
            "“Create anyway” below if it really is a different company."
        )
    ]
    for d in duplicates:
        use = button("Use this one", USE_EXISTING, str(d.customer_id), "primary")
        blocks.append(section(f"*{esc(d.name, 200)}*\n_{esc('; '.join(d.reasons), 200)}_", accessory=use))
    blocks.append(divider())
    return blocks


def create_customer_view(
    *,
    name: str = "",
    website: str = "",
    owner: str | None = None,
    contact: dict[str, str] | None = None,
    duplicates: list[DuplicateCandidate] | None = None,
    meta: dict[str, Any] | None = None,
    record: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The create form; ``record`` is the fuller record's inputs (``commands.customers.record``)."""
    contact = contact or {}
    blocks = _duplicate_warning(duplicates) if duplicates else []
    blocks += [
        _text(B_NAME, "Company name", initial=name, optional=False, placeholder="Acme Corporation"),
        _text(B_WEBSITE, "Website", initial=website, placeholder="acme.com"),
        _owner_input(owner),
        section("*First contact* (optional)"),
        _text(B_CONTACT_NAME, "Contact name", initial=contact.get("name")),
        _text(B_CONTACT_EMAIL, "Email", initial=contact.get("email"), max_length=320),
        _text(
            B_CONTACT_PHONE, "Work phone", initial=contact.get("phone"), max_length=64, placeholder="+1 415 555 0100"
        ),
        _text(B_CONTACT_MOBILE, "Mobile phone", initial=contact.get("mobile_phone"), max_length=64),
        _text(B_CONTACT_TITLE, "Title", initial=contact.get("title")),
    ]
    if record:
        blocks += [section("*Company details* (optional)"), *record]
    if duplicates:
        blocks.append(_force("Not a duplicate?", "Create anyway: it is a different company"))
    return _modal(CREATE_VIEW, "New customer", "Create", meta or {}, blocks)


def edit_customer_view(
    customer: Customer, *, meta: dict[str, Any], record: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The edit form; ``record`` is the fuller record's inputs (``commands.customers.record``)."""
    blocks = [
        _text(B_NAME, "Company name", initial=customer.name, optional=False),
        _text(B_WEBSITE, "Website", initial=customer.website or ""),
        _owner_input(customer.owner_user_id),
        context("A new name keeps the old one searchable."),
        *(record or []),
    ]
    return _modal(EDIT_VIEW, "Edit customer", "Save", {**meta, "customer": customer.id}, blocks)


def contact_view(
    customer: Customer,
    contact: Contact | None,
    *,
    meta: dict[str, Any],
    extra: list[dict[str, Any]] | None = None,
    work_phone: str | None = None,
) -> dict[str, Any]:
    """The contact form; ``extra`` is the mobile phone, address and custom field inputs, and
    ``work_phone`` the work phone as it is shown (national format)."""

    def initial(column: str) -> str:
        return (getattr(contact, column) or "") if contact else ""

    phone = work_phone if work_phone is not None else initial("phone")

    blocks = [
        context(f"Contact at *{esc(customer.name, 200)}*"),
        _text(B_CONTACT_NAME, "Name", initial=initial("name"), optional=False),
        _text(B_CONTACT_EMAIL, "Email", initial=initial("email"), max_length=320),
        _text(B_CONTACT_PHONE, "Work phone", initial=phone, max_length=64),
        _text(B_CONTACT_TITLE, "Title", initial=initial("title")),
        *(extra or []),
        _force("Same name as another contact?", "Save anyway: it is a different person"),
    ]
    title = "Edit contact" if contact else "Add contact"
    data = {**meta, "customer": customer.id, "contact": contact.id if contact else None}
    return _modal(CONTACT_VIEW, title, "Save", data, blocks)


def notice_view(title: str, text: str) -> dict[str, Any]:
    return {"type": "modal", "title": plain(title, 24), "close": plain("Close"), "blocks": [section(text)]}
