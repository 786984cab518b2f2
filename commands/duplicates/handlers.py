"""`/crm duplicates`: admins review probable duplicate customers and contacts.

Who may review them is crm's merge rule (:func:`crm.customers.check_can_merge`): the report
exists to be merged from, and each Merge button is checked again when pressed. The full
list is ``crm-bot dedupe --team T…``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from slack_bolt import App

from commands.duplicates import views
from commands.request import Request
from commands.router import UMBRELLA, CommandRouter
from crm.customers import check_can_merge
from crm.dedupe import find_duplicates

if TYPE_CHECKING:
    from bot.services import Services


def duplicates(req: Request) -> None:
    check_can_merge(req.actor)  # PermissionDenied is the reply
    report = find_duplicates(req.sf, req.workspace_id)
    req.reply(views.duplicates_text(report), blocks=views.duplicates_blocks(report, team_id=req.team_id or "T…"))


def register(app: App, services: Services, router: CommandRouter) -> None:
    router.add(
        "duplicates",
        duplicates,
        summary="Admins: probable duplicate customers and contacts, with a Merge button for each customer pair.",
        example=f"{UMBRELLA} duplicates",
        aliases=("dupes", "dedupe"),
    )
