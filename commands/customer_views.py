"""Block Kit builders for customers: the card, pick lists, history, and the modals.

Pure functions of domain objects. Block and action ids are module constants shared
with the handlers in ``commands/customers.py``. All user-supplied text is escaped before
it goes into mrkdwn, so a name like ``<!channel>`` can never ping anyone.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from commands.blockkit import (
    BUTTON_VALUE_MAX,
    HEADER_TEXT_MAX,
    PRIVATE_METADATA_MAX,
    SECTION_TEXT_MAX,
    escape_mrkdwn,
    input_block,
    mrkdwn,
    plain,
    text_input,
    truncate,
)
from crm.customers import CustomerCard, DuplicateCandidate, HistoryPage, LookupResult, MergePreview
from crm.dates import format_local
from crm.models import Activity, Contact, Customer
from crm.money import format_money

# Actions on the card and lists.
SHOW = "customer_show"
SHARE = "customer_share"
EDIT_OPEN = "customer_edit_open"
CONTACT_ADD_OPEN = "contact_add_open"
CONTACT_MENU = "contact_menu"
HISTORY = "customer_history"  # also "customer_history_newer" / "_older" on the paging buttons
CREATE_OPEN = "customer_create_open"
LOG_OPEN = "activity_log_open"  # handled by commands/activities.py
FOLLOW_UP_OPEN = "followup_add_open"  # handled by commands/activities.py
DEAL_NEW_OPEN = "deal_new_open"  # handled by commands/deals.py
MERGE_CONFIRM = "customer_merge_confirm"
MERGE_CANCEL = "customer_merge_cancel"
USE_EXISTING = "customer_use_existing"

# Modals.
CREATE_VIEW = "customer_create"
EDIT_VIEW = "customer_edit"
CONTACT_VIEW = "contact_save"

# Input blocks (block_id == the field name the service reports in InvalidInput.field).
B_NAME, A_NAME = "name", "value"
B_WEBSITE, A_WEBSITE = "website", "value"
B_OWNER, A_OWNER = "owner", "value"
B_CONTACT_NAME, B_CONTACT_EMAIL, B_CONTACT_PHONE, B_CONTACT_TITLE = (
    "contact_name",
    "contact_email",
    "contact_phone",
    "contact_title",
)
B_FORCE, A_FORCE = "force", "value"
FORCE_VALUE = "force"

CARD_CONTACTS = 10
CARD_ACTIVITIES = 5
CARD_DEALS = 5
PICK_LIST_MAX = 8
SUMMARY_CHARS = 220

TypeLabel = Callable[[str], str]


def default_type_label(key: str) -> str:
    return key.replace("_", " ").capitalize()


def _esc(text: str | None, limit: int = 300) -> str:
    return escape_mrkdwn(truncate(" ".join((text or "").split()), limit))


def _section(text: str, accessory: dict[str, Any] | None = None, block_id: str | None = None) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "section", "text": mrkdwn(truncate(text, SECTION_TEXT_MAX))}
    if accessory:
        block["accessory"] = accessory
    if block_id:
        block["block_id"] = block_id
    return block


def _button(text: str, action_id: str, value: str, style: str | None = None, **extra: Any) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "text": plain(truncate(text, 75)),
        "action_id": action_id,
        "value": truncate(value, BUTTON_VALUE_MAX, suffix=""),
    }
    if style:
        button["style"] = style
    button.update(extra)
    return button


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [mrkdwn(truncate(text, SECTION_TEXT_MAX))]}


def _user(user_id: str | None, name_of: TypeLabel | None = None) -> str:
    """A user as a mention (private messages), or by name when ``name_of`` is given: a mention in
    a message posted to a channel notifies that person."""
    if not user_id:
        return "nobody"
    if name_of is not None:
        return escape_mrkdwn(name_of(user_id))
    return f"<@{user_id}>" if user_id.startswith(("U", "W")) else escape_mrkdwn(user_id)


def _more(shown: int, total: int, what: str) -> str:
    return f"\n_…and {total - shown} more {what}_" if total > shown else ""


def activity_line(
    activity: Activity,
    *,
    type_label: TypeLabel,
    tz: str,
    now: datetime,
    contact: str | None,
    name_of: TypeLabel | None = None,
) -> str:
    when = format_local(activity.occurred_at, tz, now=now)
    who = _user(activity.created_by, name_of)
    with_whom = f" with {_esc(contact, 80)}" if contact else ""
    head = f"*{_esc(type_label(activity.type_key), 40)}* · {who} · {when}{with_whom}"
    return f"{head}\n{_esc(activity.summary, SUMMARY_CHARS)}"


def card_blocks(
    card: CustomerCard,
    *,
    tz: str,
    now: datetime,
    type_label: TypeLabel = default_type_label,
    stage_label: TypeLabel = default_type_label,
    shared: bool = False,
    name_of: TypeLabel | None = None,
) -> list[dict[str, Any]]:
    """The customer card: ephemeral with controls, or ``shared`` (read-only) for a channel.

    ``name_of`` (user id → display name) shows people by name instead of as mentions; pass it
    for a shared card, which would otherwise notify everyone it names.
    """
    c = card.customer
    cid = str(c.id)
    blocks: list[dict[str, Any]] = [{"type": "header", "text": plain(truncate(c.name, HEADER_TEXT_MAX))}]
    facts = [f"*Owner:* {_user(c.owner_user_id, name_of)}"]
    if c.website:
        facts.append(f"*Website:* {_esc(c.domain or c.website, 120)}")
    if card.next_follow_up is not None:
        f = card.next_follow_up
        facts.append(
            f"*Next follow-up:* {format_local(f.due_at, tz, now=now)} · {_user(f.owner_user_id, name_of)}"
            + (f" · {_esc(f.note, 120)}" if f.note else "")
        )
    else:
        facts.append("*Next follow-up:* none planned")
    blocks.append(_section("\n".join(facts)))

    blocks.append({"type": "divider"})
    if not card.contacts:
        blocks.append(_section("*Contacts:* none yet"))
    else:
        header = f"*Contacts* ({card.contact_count})"
        if shared:
            lines = [_contact_line(x) for x in card.contacts]
            blocks.append(
                _section(header + "\n" + "\n".join(lines) + _more(len(lines), card.contact_count, "contacts"))
            )
        else:
            blocks.append(_section(header))
            for contact in card.contacts:
                blocks.append(_section(_contact_line(contact), accessory=_contact_menu(contact)))
            if card.contact_count > len(card.contacts):
                blocks.append(_context(f"…and {card.contact_count - len(card.contacts)} more contacts"))

    if card.open_deals:
        lines = [
            f"• {_esc(d.title, 120)} · {_esc(stage_label(d.stage), 40)} · {format_money(d.amount_minor, d.currency)}"
            + (f" · closes {d.expected_close:%d %b %Y}" if d.expected_close else "")
            for d in card.open_deals
        ]
        text = f"*Open deals* ({card.open_deal_count})\n" + "\n".join(lines)
        blocks.append(_section(text + _more(len(lines), card.open_deal_count, "open deals")))
    else:
        blocks.append(_section("*Open deals:* none"))

    if card.activities:
        blocks.append(_section(f"*Latest activity* ({card.activity_count} in all)"))
        for a in card.activities:
            contact = card.contact_names.get(a.contact_id) if a.contact_id else None
            line = activity_line(a, type_label=type_label, tz=tz, now=now, contact=contact, name_of=name_of)
            blocks.append(_section(line))
        if card.activity_count > len(card.activities):
            blocks.append(_context(f"…and {card.activity_count - len(card.activities)} earlier activities"))
    else:
        blocks.append(_section("*Latest activity:* nobody has logged anything yet."))

    if shared:
        blocks.append(_context("Shared from the CRM"))
        return blocks
    blocks.append(
        {
            "type": "actions",
            "block_id": f"card:{cid}",
            "elements": [
                _button("Log activity", LOG_OPEN, cid, "primary"),
                _button("Add follow-up", FOLLOW_UP_OPEN, cid),
                _button("New deal", DEAL_NEW_OPEN, cid),
                _button("Add contact", CONTACT_ADD_OPEN, cid),
                _button("Edit", EDIT_OPEN, cid),
                _button("View history", HISTORY, f"{cid}:1"),
                _button("Share in channel", SHARE, cid),
            ],
        }
    )
    return blocks


def _contact_line(contact: Contact) -> str:
    parts = [f"*{_esc(contact.name, 100)}*"]
    if contact.title:
        parts.append(_esc(contact.title, 80))
    if contact.email:
        parts.append(_esc(contact.email, 120))
    if contact.phone:
        parts.append(_esc(contact.phone, 40))
    return " · ".join(parts)


def _contact_menu(contact: Contact) -> dict[str, Any]:
    return {
        "type": "overflow",
        "action_id": CONTACT_MENU,
        "options": [
            {"text": plain("Edit contact"), "value": f"edit:{contact.id}"},
            {"text": plain("Remove contact"), "value": f"remove:{contact.id}"},
        ],
    }


def card_text(card: CustomerCard) -> str:
    return f"Customer card: {card.customer.name}"[:3000]


def pick_list_blocks(query: str, result: LookupResult) -> list[dict[str, Any]]:
    blocks = [_section(f"Several customers match “{_esc(query, 100)}”. Which one did you mean?")]
    for m in result.matches[:PICK_LIST_MAX]:
        c = result.customers[m.customer_id]
        detail = f" · {_esc(c.domain, 80)}" if c.domain else ""
        why = "" if m.kind == "name" else f"\n_matched {m.kind}: {_esc(m.matched, 80)}_"
        blocks.append(_section(f"*{_esc(c.name, 200)}*{detail}{why}", accessory=_button("Show", SHOW, str(c.id))))
    blocks.append(
        {
            "type": "actions",
            "elements": [
                _button(f"None of these: create “{truncate(query, 40)}”", CREATE_OPEN, truncate(query, 255, ""))
            ],
        }
    )
    return blocks


def no_match_blocks(query: str) -> list[dict[str, Any]]:
    return [
        _section(f"No customer matches “{_esc(query, 200)}”."),
        {
            "type": "actions",
            "elements": [_button(f"Create “{truncate(query, 50)}”", CREATE_OPEN, truncate(query, 255, ""), "primary")],
        },
    ]


def usage_blocks(command: str) -> list[dict[str, Any]]:
    return [
        _section(
            f"Tell me who to look for: `{command} acme corp`, `{command} acme.com` or "
            f"`{command} jane@acme.com`. Typos and legal suffixes (Inc, GmbH, Ltd…) are fine."
        )
    ]


def history_blocks(
    page: HistoryPage, *, tz: str, now: datetime, type_label: TypeLabel = default_type_label
) -> list[dict[str, Any]]:
    c = page.customer
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": plain(truncate(f"History: {c.name}", HEADER_TEXT_MAX))},
    ]
    if not page.activities:
        blocks.append(_section("Nobody has logged anything with this customer yet."))
    for a in page.activities:
        contact = page.contact_names.get(a.contact_id) if a.contact_id else None
        blocks.append(_section(activity_line(a, type_label=type_label, tz=tz, now=now, contact=contact)))
    blocks.append(_context(f"Page {page.page} of {page.pages} · {page.total} activities"))
    nav = []
    if page.page > 1:
        nav.append(_button("← Newer", HISTORY + "_newer", f"{c.id}:{page.page - 1}"))
    if page.page < page.pages:
        nav.append(_button("Older →", HISTORY + "_older", f"{c.id}:{page.page + 1}"))
    nav.append(_button("Back to card", SHOW, str(c.id)))
    blocks.append({"type": "actions", "elements": nav})
    return blocks


def merge_confirm_blocks(preview: MergePreview) -> list[dict[str, Any]]:
    d, k = preview.duplicate, preview.keeper
    text = (
        f"Merge *{_esc(d.name, 200)}* into *{_esc(k.name, 200)}*?\n"
        f"This moves {preview.contacts} contacts, {preview.deals} deals, {preview.activities} activities and "
        f"{preview.follow_ups} follow-ups to {_esc(k.name, 200)}. “{_esc(d.name, 200)}” stays searchable as "
        "a former name, and the merge is recorded in the audit trail."
    )
    value = f"{d.id}:{k.id}"
    return [
        _section(text),
        {
            "type": "actions",
            "elements": [
                _button(
                    "Merge",
                    MERGE_CONFIRM,
                    value,
                    "danger",
                    confirm={
                        "title": plain("Merge customers?"),
                        "text": plain(truncate(f"Merge {d.name} into {k.name}?", 300)),
                        "confirm": plain("Merge"),
                        "deny": plain("Cancel"),
                        "style": "danger",
                    },
                ),
                _button("Cancel", MERGE_CANCEL, value),
            ],
        },
    ]


# -- modals ----------------------------------------------------------------------------
def _metadata(data: dict[str, Any]) -> str:
    text = json.dumps(data, separators=(",", ":"))
    if len(text) > PRIVATE_METADATA_MAX:
        raise ValueError("private_metadata too long")
    return text


def _text_input(
    block_id: str,
    label: str,
    *,
    initial: str | None = None,
    optional: bool = True,
    max_length: int = 255,
    placeholder: str | None = None,
    hint: str | None = None,
) -> dict[str, Any]:
    element = text_input(initial=initial, max_length=max_length, placeholder=placeholder)
    return input_block(block_id, label, element, optional=optional, hint=hint)


def _owner_input(owner: str | None) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "users_select", "action_id": A_OWNER}
    if owner:
        element["initial_user"] = owner
    return input_block(B_OWNER, "Owner", element, optional=True)


def create_customer_view(
    *,
    name: str = "",
    website: str = "",
    owner: str | None = None,
    contact: dict[str, str] | None = None,
    duplicates: list[DuplicateCandidate] | None = None,
    meta: dict[str, Any] | None = None,
) -> dict[str, Any]:
    contact = contact or {}
    blocks: list[dict[str, Any]] = []
    if duplicates:
        blocks.append(
            _section(
                ":warning: *This looks like a customer you already have.* Use the existing one, or tick "
                "“Create anyway” below if it really is a different company."
            )
        )
        for d in duplicates:
            blocks.append(
                _section(
                    f"*{_esc(d.name, 200)}*\n_{_esc('; '.join(d.reasons), 200)}_",
                    accessory=_button("Use this one", USE_EXISTING, str(d.customer_id), "primary"),
                )
            )
        blocks.append({"type": "divider"})
    blocks += [
        _text_input(B_NAME, "Company name", initial=name, optional=False, placeholder="Acme Corporation"),
        _text_input(B_WEBSITE, "Website", initial=website, placeholder="acme.com"),
        _owner_input(owner),
        _section("*First contact* (optional)"),
        _text_input(B_CONTACT_NAME, "Contact name", initial=contact.get("name")),
        _text_input(B_CONTACT_EMAIL, "Email", initial=contact.get("email"), max_length=320),
        _text_input(
            B_CONTACT_PHONE, "Phone", initial=contact.get("phone"), max_length=64, placeholder="+1 415 555 0100"
        ),
        _text_input(B_CONTACT_TITLE, "Title", initial=contact.get("title")),
    ]
    if duplicates:
        blocks.append(
            {
                "type": "input",
                "block_id": B_FORCE,
                "optional": True,
                "label": plain("Not a duplicate?"),
                "element": {
                    "type": "checkboxes",
                    "action_id": A_FORCE,
                    "options": [{"text": plain("Create anyway: it is a different company"), "value": FORCE_VALUE}],
                },
            }
        )
    return {
        "type": "modal",
        "callback_id": CREATE_VIEW,
        "title": plain("New customer"),
        "submit": plain("Create"),
        "close": plain("Cancel"),
        "private_metadata": _metadata(meta or {}),
        "blocks": blocks,
    }


def edit_customer_view(customer: Customer, *, meta: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": EDIT_VIEW,
        "title": plain("Edit customer"),
        "submit": plain("Save"),
        "close": plain("Cancel"),
        "private_metadata": _metadata({**meta, "customer": customer.id}),
        "blocks": [
            _text_input(B_NAME, "Company name", initial=customer.name, optional=False),
            _text_input(B_WEBSITE, "Website", initial=customer.website or ""),
            _owner_input(customer.owner_user_id),
            _context("A new name keeps the old one searchable."),
        ],
    }


def contact_view(customer: Customer, contact: Contact | None, *, meta: dict[str, Any]) -> dict[str, Any]:
    title = "Edit contact" if contact else "Add contact"
    return {
        "type": "modal",
        "callback_id": CONTACT_VIEW,
        "title": plain(title),
        "submit": plain("Save"),
        "close": plain("Cancel"),
        "private_metadata": _metadata({**meta, "customer": customer.id, "contact": contact.id if contact else None}),
        "blocks": [
            _context(f"Contact at *{_esc(customer.name, 200)}*"),
            _text_input(B_CONTACT_NAME, "Name", initial=contact.name if contact else "", optional=False),
            _text_input(B_CONTACT_EMAIL, "Email", initial=(contact.email or "") if contact else "", max_length=320),
            _text_input(B_CONTACT_PHONE, "Phone", initial=(contact.phone or "") if contact else "", max_length=64),
            _text_input(B_CONTACT_TITLE, "Title", initial=(contact.title or "") if contact else ""),
            {
                "type": "input",
                "block_id": B_FORCE,
                "optional": True,
                "label": plain("Same name as another contact?"),
                "element": {
                    "type": "checkboxes",
                    "action_id": A_FORCE,
                    "options": [{"text": plain("Save anyway: it is a different person"), "value": FORCE_VALUE}],
                },
            },
        ],
    }


def notice_view(title: str, text: str) -> dict[str, Any]:
    return {
        "type": "modal",
        "title": plain(truncate(title, 24)),
        "close": plain("Close"),
        "blocks": [_section(text)],
    }
