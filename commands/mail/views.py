"""Pure Block Kit builders for email capture: the `/crm email` answer, the Home tab's unfiled mail,
and the modal that files one on a customer."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from commands.blockkit import actions, button, context, esc, input_block, option, plain, section
from commands.pickers import customer_select
from crm.dates import format_local
from crm.mail.capture import Unfiled
from crm.mail.inbox import Inbox

ROTATE = "mail_rotate"
TOGGLE = "mail_toggle"
PICK = "mail_unfiled_pick"
DISMISS = "mail_unfiled_dismiss"
FILE_VIEW = "mail_file"
CANDIDATE_BLOCK, CANDIDATE_ACTION = "candidate", "mail_candidate"
CUSTOMER_BLOCK, CUSTOMER_ACTION = "customer", "customer_picker:mail"
UNFILED_TITLE = "Unfiled email: pick the customer"


def not_set_up_text() -> str:
    return (
        "Email capture isn't set up on this server yet, so there is no address to BCC. Ask whoever runs the "
        "CRM server to set `CRM_MAIL_DOMAIN` (with the SMTP port or a SendGrid / Mailgun inbound webhook), as the "
        "README's “Email capture” explains."
    )


def inbox_blocks(inbox: Inbox, address: str, *, is_admin: bool) -> tuple[str, list[dict[str, Any]]]:
    state = "on" if inbox.enabled else "*off* (mail to the address is refused)"
    text = f"Email capture address: {address}"
    blocks: list[dict[str, Any]] = [
        section(
            f"*Email capture* is {state}.\n`{esc(address, 200)}`\nBCC it when you write to a customer, or forward "
            "a customer's mail to it: it is logged as an Email on the customer whose contact or domain matches, "
            "credited to you. Mail that matches no customer (or several) waits in your Home tab."
        ),
        context("Keep the address inside the team: mail to it is accepted only from this workspace's members."),
    ]
    if is_admin:
        rotate = button(
            "New address",
            ROTATE,
            "rotate",
            "danger",
            confirm={
                "title": plain("Make a new address?"),
                "text": plain("Mail sent to the current address will be refused from now on."),
                "confirm": plain("New address"),
                "deny": plain("Cancel"),
            },
        )
        toggle = button("Turn capture off", TOGGLE, "off") if inbox.enabled else button("Turn capture on", TOGGLE, "on")
        blocks.append(actions(rotate, toggle, block_id="mail_admin"))
    return text, blocks


def _line(mail: Unfiled, *, tz: str, now: datetime) -> str:
    who = ", ".join(mail.counterparts[:3]) or "nobody outside your company"
    why = (
        "matches " + ", ".join(esc(name, 60) for _, name in mail.candidates[:4])
        if mail.candidates
        else "matches no customer"
    )
    return (
        f"✉️ *{esc(mail.subject or '(no subject)', 150)}*\nWith {esc(who, 200)} · "
        f"{format_local(mail.sent_at, tz, now=now)} · {why}"
    )


def unfiled_blocks(mails: Sequence[Unfiled], total: int, *, tz: str, now: datetime) -> list[dict[str, Any]]:
    """The Home tab's waiting mail (at most 2 blocks a mail, and 2 more); nothing when there is none."""
    if not mails:
        return []
    blocks: list[dict[str, Any]] = [section(f"*{UNFILED_TITLE}* ({total})")]
    for mail in mails:
        blocks.append(
            section(
                _line(mail, tz=tz, now=now),
                button("Pick the customer", PICK, str(mail.id), "primary"),
                block_id=f"mail:{mail.id}",
            )
        )
        blocks.append(actions(button("Not a customer's", DISMISS, str(mail.id)), block_id=f"mail_dismiss:{mail.id}"))
    if total > len(mails):
        blocks.append(context(f"…and {total - len(mails)} more: file these first."))
    return blocks


def file_view(mail: Unfiled, *, tz: str, now: datetime) -> dict[str, Any]:
    blocks: list[dict[str, Any]] = [section(_line(mail, tz=tz, now=now))]
    if mail.body:
        blocks.append(context(esc(mail.body, 1500)))
    if mail.attachments:
        blocks.append(context("Attachments (not stored): " + esc(", ".join(mail.attachments[:10]), 500)))
    if mail.candidates:
        select = {
            "type": "static_select",
            "action_id": CANDIDATE_ACTION,
            "placeholder": plain("One of the customers it matches"),
            "options": [option(name, str(cid)) for cid, name in mail.candidates[:100]],
        }
        blocks.append(input_block(CANDIDATE_BLOCK, "It matches several customers", select, optional=True))
    label = "Or another customer" if mail.candidates else "Customer"
    blocks.append(input_block(CUSTOMER_BLOCK, label, customer_select(action_id=CUSTOMER_ACTION), optional=True))
    return {
        "type": "modal",
        "callback_id": FILE_VIEW,
        "private_metadata": json.dumps({"mail": mail.id}),
        "title": plain("File email"),
        "submit": plain("Log it"),
        "close": plain("Cancel"),
        "blocks": blocks,
    }
