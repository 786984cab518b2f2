"""Merging customers: ``/crm merge <duplicate> into <keeper>``, then the Merge / Cancel buttons.

Who may merge is crm's rule (:func:`crm.customers.check_can_merge`): the command asks it before
searching, and the merge itself asks again, so a forwarded button is refused too. The answer
replaces the question, whatever it is: merged, refused, or "already merged" for a replayed
or double-clicked confirmation (which changes nothing).
"""

from __future__ import annotations

from commands.blockkit import fallback_text
from commands.common import as_id
from commands.customers import views
from commands.request import Request
from crm import customers as svc
from crm.errors import CRMError
from crm.models import Customer
from crm.search import MAX_QUERY_CHARS

USAGE = "Say which customer goes into which: `/crm merge Acme Inc into Acme Corporation`."
INTO = " into "
MALFORMED = "That merge request was malformed. Nothing was changed."


def _one_customer(req: Request, query: str) -> Customer | None:
    """The customer ``query`` names beyond doubt; otherwise say which ones it might be."""
    result = svc.find_customers(req.sf, req.services.search, req.workspace_id, query[:MAX_QUERY_CHARS])
    if result.winner is not None:
        return result.winner
    options = ", ".join(result.customers[m.customer_id].name for m in result.matches[:5])
    hint = f" Did you mean one of: {options}?" if options else ""
    req.reply(fallback_text(f"I can't tell exactly which customer “{query[:100]}” is.{hint} Use the full name."))
    return None


def merge_command(req: Request) -> None:
    text = " ".join(req.args.split())
    at = text.lower().rfind(INTO)
    if at <= 0:
        req.reply(USAGE)
        return
    svc.check_can_merge(req.actor)  # PermissionDenied is the reply
    duplicate = _one_customer(req, text[:at])
    keeper = _one_customer(req, text[at + len(INTO) :]) if duplicate else None
    if duplicate is None or keeper is None:
        return
    preview = svc.merge_preview(req.sf, req.workspace_id, duplicate.id, keeper.id)
    req.reply(views.merge_question_text(preview), blocks=views.merge_confirm_blocks(preview))


def on_confirm(req: Request) -> None:
    duplicate, _, keeper = req.value.partition(":")
    duplicate_id, keeper_id = as_id(duplicate), as_id(keeper)
    if duplicate_id is None or keeper_id is None:
        req.reply(MALFORMED, replace=True)
        return
    try:
        result = svc.merge_customers(
            req.sf, req.services.search, req.workspace_id, duplicate_id, keeper_id, actor=req.actor
        )
    except CRMError as err:  # refused, gone, or merged already: the answer replaces the question
        req.reply(fallback_text(err.message), replace=True)
        return
    req.reply(views.merged_text(result), replace=True)


def on_cancel(req: Request) -> None:
    req.reply("Merge cancelled. Nothing was changed.", replace=True)
