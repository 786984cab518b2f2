"""`/crm handover @leaving to @taking-over [customer Acme | tier A]`, its Confirm and its Undo.

The command shows the counts first; Confirm moves them (``crm.handover`` decides who may, and
moves everything in one audited transaction); Undo puts back exactly what moved. The new owner's
brief is sent once, whoever presses what how often: ``crm.handover.claim_brief`` decides.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from datetime import timedelta
from typing import TYPE_CHECKING

from slack_bolt import App
from slack_sdk.errors import SlackApiError

from commands import request
from commands.blockkit import fallback_text
from commands.handover import views
from commands.request import Request
from commands.router import ACCOUNTS, CommandRouter
from crm import handover as svc
from crm.customers import find_customers
from crm.errors import CRMError, InvalidInput
from crm.search import MAX_QUERY_CHARS
from crm.slack_ids import SLACK_USER_ID

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)


# Value tiers: the value feature's when it is installed (crm.handover.value_tiers), else None.
TIER_OF: svc.TierOf | None = svc.value_tiers()
BRIEF_LEASE = timedelta(minutes=2)
MALFORMED = "That handover button was malformed. Nothing was changed."

_MENTION = rf"<@({SLACK_USER_ID.pattern})(?:\|[^>]*)?>"
_COMMAND = re.compile(
    rf"^\s*{_MENTION}\s+to\s+{_MENTION}\s*(?:(?:only\s+)?(?:customer\s+(?P<customer>.+?)|tier\s+(?P<tier>[A-Za-z]))\s*)?$",
    re.IGNORECASE | re.DOTALL,
)


def parse(text: str) -> tuple[str, str, str | None, str | None] | None:
    """(leaving, taking, customer query, tier) from the command's text, or None."""
    match = _COMMAND.match(text)
    if match is None:
        return None
    return match.group(1), match.group(2), match.group("customer"), (match.group("tier") or "").upper() or None


def _one_customer(req: Request, query: str) -> int:
    result = find_customers(req.sf, req.services.search, req.workspace_id, query[:MAX_QUERY_CHARS])
    if result.winner is not None:
        return result.winner.id
    options = ", ".join(result.customers[m.customer_id].name for m in result.matches[:5])
    hint = f" Did you mean one of: {options}?" if options else ""
    raise InvalidInput(f"I can't tell exactly which customer “{query[:100]}” is.{hint} Use the full name.")


def _people(req: Request, leaving: str, taking: str):
    people = req.services.people
    got = people.get(req.client, req.workspace_id, leaving), people.get(req.client, req.workspace_id, taking)
    svc.check_people(*got)
    return got


def handover_command(req: Request) -> None:
    parsed = parse(" ".join(req.args.split()))
    if parsed is None:
        req.reply(views.USAGE)
        return
    svc.check_can_hand_over(req.actor)
    leaving_id, taking_id, customer_query, tier = parsed
    leaving, taking = _people(req, leaving_id, taking_id)
    scope = svc.Scope(tier=tier, customer_id=_one_customer(req, customer_query) if customer_query else None)
    seen = svc.handover_preview(req.sf, req.workspace_id, req.actor, leaving_id, scope, now=req.now, tier_of=TIER_OF)
    if seen.empty:
        req.reply(
            fallback_text(
                f"{leaving.name} has nothing to hand over ({views.scope_words(scope.key)}): "
                "no customers, open deals or open follow-ups."
            )
        )
        return
    value = json.dumps({"f": leaving_id, "t": taking_id, "s": scope.key, "k": uuid.uuid4().hex})
    words = views.scope_words(scope.key, customer_query)
    req.reply(
        fallback_text(views.question_text(seen, leaving=leaving.name, taking=taking.name)),
        blocks=views.question_blocks(seen, leaving=leaving.name, taking=taking.name, scope=words, value=value),
    )


def _confirmed(value: str) -> tuple[str, str, svc.Scope, str] | None:
    try:
        data = json.loads(value)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    parts = [data.get(k) for k in ("f", "t", "s", "k")]
    if not all(isinstance(p, str) and p for p in parts):
        return None
    leaving, taking, scope, key = (str(p) for p in parts)
    if not (SLACK_USER_ID.fullmatch(leaving) and SLACK_USER_ID.fullmatch(taking)):
        return None
    return leaving, taking, svc.Scope.from_key(scope), key


def on_confirm(req: Request) -> None:
    confirmed = _confirmed(req.value)
    if confirmed is None:
        req.reply(MALFORMED, replace=True)
        return
    leaving_id, taking_id, scope, key = confirmed
    try:
        leaving, taking = _people(req, leaving_id, taking_id)
        moved = svc.hand_over(
            req.sf, req.workspace_id, req.actor, leaving_id, taking_id, scope, key=key, now=req.now, tier_of=TIER_OF
        )
    except CRMError as err:  # refused, or nothing left to move: the answer replaces the question
        req.reply(fallback_text(err.message), replace=True)
        return
    text = views.moved_text(moved, leaving=leaving.name, taking=taking.name)
    req.reply(
        fallback_text(text),
        blocks=views.moved_blocks(moved, leaving=leaving.name, taking=taking.name, undone=moved.undone),
        replace=True,
    )
    send_brief(req, moved.handover_id, by=req.name_of(req.user_id))


def send_brief(req: Request, handover_id: int, *, by: str) -> None:
    """DM the new owner their brief, once (a replayed Confirm finds it claimed or sent)."""
    services = req.services
    if not svc.claim_brief(req.sf, handover_id, replica=services.replica_id, now=req.now, lease=BRIEF_LEASE):
        return
    brief = svc.handover_brief(req.sf, req.workspace_id, handover_id, now=req.now, tier_of=TIER_OF)
    leaving = req.name_of(brief.from_user_id)
    taking_tz = services.people.tz(req.client, req.workspace_id, brief.to_user_id)
    blocks = views.brief_blocks(
        brief,
        leaving=leaving,
        by=by,
        stage_label=req.config.stage_label,
        type_label=req.config.type_label,
        tz=taking_tz,
        now=req.now,
    )
    try:
        sent = req.client.chat_postMessage(
            channel=brief.to_user_id, text=fallback_text(views.brief_text(brief, leaving=leaving)), blocks=blocks
        )
    except SlackApiError as exc:
        error = str(exc.response.get("error") or "unknown")
        svc.mark_brief_failed(req.sf, handover_id, replica=services.replica_id, error=error)
        log.warning("handover %s: the brief DM failed: %s", handover_id, error)
        req.tell(
            fallback_text(
                f"The handover is done, but Slack refused the brief DM to {req.name_of(brief.to_user_id)} ({error})."
            )
        )
        return
    svc.mark_brief_sent(req.sf, handover_id, replica=services.replica_id, now=req.now, ts=sent.get("ts"))


def on_undo(req: Request) -> None:
    handover_id = req.value_id
    if handover_id is None:
        req.reply(MALFORMED, replace=True)
        return
    try:
        moved = svc.undo_handover(req.sf, req.workspace_id, req.actor, handover_id, now=req.now)
    except CRMError as err:
        req.reply(fallback_text(err.message), replace=True)
        return
    leaving, taking = req.name_of(moved.from_user_id), req.name_of(moved.to_user_id)
    text = views.undone_text(moved, leaving=leaving, taking=taking)
    req.reply(fallback_text(text), replace=True)
    try:
        req.client.chat_postMessage(
            channel=moved.to_user_id,
            text=fallback_text(
                f"{req.name_of(req.user_id)} undid the handover from {leaving}: "
                f"{views.counts_text(moved.customers, moved.deals, moved.follow_ups)} went back to {leaving}."
            ),
        )
    except SlackApiError as exc:
        log.info("could not tell %s about the undone handover: %s", moved.to_user_id, exc.response.get("error"))


def on_cancel(req: Request) -> None:
    req.reply("Handover cancelled. Nothing was changed.", replace=True)


def register(app: App, services: Services, router: CommandRouter) -> None:
    router.add(
        "handover",
        handover_command,
        summary="Managers: move a rep's customers, open deals and follow-ups to someone else (with Undo).",
        example="/crm handover @rita to @sam",
        topic=ACCOUNTS,
    )
    request.action(app, views.CONFIRM, on_confirm)
    request.action(app, views.CANCEL, on_cancel)
    request.action(app, views.UNDO, on_undo)
