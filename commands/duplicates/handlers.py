"""`/crm duplicates`: admins review probable duplicate customers and contacts.

Who may review them is crm's merge rule (:func:`crm.customers.check_can_merge`): the report
exists to be merged from, and each Merge (and Undo) button is checked again when pressed. The
full list is ``crm-bot dedupe --team T…``. Customer pairs merge through the customers feature;
contact pairs here (:func:`on_contact_merge`, :func:`on_contact_undo`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from slack_bolt import App

from commands import request
from commands.blockkit import fallback_text
from commands.common import as_id
from commands.duplicates import views
from commands.request import Request
from commands.router import CUSTOMERS, UMBRELLA, CommandRouter
from crm import customers as svc
from crm.customers import check_can_merge
from crm.dedupe import find_duplicates
from crm.errors import CRMError

if TYPE_CHECKING:
    from bot.services import Services


MALFORMED = "That merge request was malformed. Nothing was changed."


def duplicates(req: Request) -> None:
    check_can_merge(req.actor)  # PermissionDenied is the reply
    report = find_duplicates(req.sf, req.workspace_id)
    req.reply(views.duplicates_text(report), blocks=views.duplicates_blocks(report, team_id=req.team_id or "T…"))


def _pair(req: Request) -> tuple[int, int] | None:
    duplicate, _, keeper = req.value.partition(":")
    duplicate_id, keeper_id = as_id(duplicate), as_id(keeper)
    if duplicate_id is None or keeper_id is None:
        req.reply(MALFORMED, replace=True)
        return None
    return duplicate_id, keeper_id


def on_contact_merge(req: Request) -> None:
    """The contact pair's Merge (confirmed in Slack's dialog): the answer replaces the report,
    with an Undo button; a replayed click answers "already merged" and changes nothing."""
    pair = _pair(req)
    if pair is None:
        return
    try:
        result = svc.merge_contacts(req.sf, req.services.search, req.workspace_id, *pair, actor=req.actor)
    except CRMError as err:
        req.reply(fallback_text(err.message), replace=True)
        return
    req.reply(views.contact_merged_text(result), blocks=views.contact_merged_blocks(result), replace=True)


def on_contact_undo(req: Request) -> None:
    pair = _pair(req)
    if pair is None:
        return
    try:
        result = svc.undo_contact_merge(req.sf, req.services.search, req.workspace_id, *pair, actor=req.actor)
    except CRMError as err:
        req.reply(fallback_text(err.message), replace=True)
        return
    req.reply(views.contact_unmerged_text(result), replace=True)


def register(app: App, services: Services, router: CommandRouter) -> None:
    router.add(
        "duplicates",
        duplicates,
        summary="Admins: probable duplicate customers and contacts, with a Merge button for each pair.",
        example=f"{UMBRELLA} duplicates",
        aliases=("dupes", "dedupe"),
        topic=CUSTOMERS,
    )
    request.action(app, views.CONTACT_MERGE, on_contact_merge)
    request.action(app, views.CONTACT_UNDO, on_contact_undo)
