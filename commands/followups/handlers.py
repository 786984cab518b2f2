"""Follow-ups in Slack: the nudge DM's buttons (Done, Snooze, Reschedule, Reassign), the card's
"Add follow-up" modal, `/crm followup` and `/crm followups`, and the App Home "my day".

After a button is used the DM is rewritten (``chat.update``) without its buttons, so a stale
one cannot act twice; ``crm.nudges`` refuses it anyway (a done follow-up can't be snoozed), and
decides who may change a follow-up: its owner or an admin. The App Home is republished after
every action taken there.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from slack_bolt import App
from slack_sdk.errors import SlackApiError

from commands import request
from commands.activities.quick_log import search_lookup, unescape_slack
from commands.blockkit import error_text, fallback_text, truncate
from commands.common import as_id, input_value, meta_id
from commands.customers import card as customer_card
from commands.customers import open_create_customer
from commands.followups import home, nudge_dm, views
from commands.followups.one_line import parse_follow_up_line
from commands.request import Errors, Request, ViewAnswer
from commands.router import ACTIVITIES, CommandRouter
from crm import nudges
from crm.customers import get_customer
from crm.dates import parse_when
from crm.errors import CRMError, InvalidInput
from crm.followups import add_follow_up, check_owner, read_due
from crm.models import FollowUp
from crm.my_day import my_day
from crm.slack_ids import SLACK_USER_MENTION

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)

LIST_USAGE = "Use `/crm followups` for yours, `/crm followups @someone` or `/crm followups all`."


def _customer_name(req: Request, customer_id: int) -> str:
    try:
        return get_customer(req.sf, req.workspace_id, customer_id).name
    except CRMError:
        return "the customer"


# -- the nudge's buttons ------------------------------------------------------------------------
@dataclass(frozen=True)
class Settled:
    """What a button did: the follow-up, what the DM now says, whether to offer logging."""

    follow_up: FollowUp
    text: str
    offer_log: bool = False


def _settle(req: Request, settled: Settled, *, channel: str | None, ts: str | None) -> None:
    """Rewrite the DM that held the buttons (when there is one), and republish the Home tab."""
    if channel and ts:
        blocks = nudge_dm.settled_blocks(
            settled.text, customer_id=settled.follow_up.customer_id, offer_log=settled.offer_log
        )
        try:
            req.client.chat_update(channel=channel, ts=ts, text=truncate(settled.text, 300), blocks=blocks)
        except SlackApiError as exc:
            log.warning("could not update the nudge DM: %s", exc.response.get("error"))
    publish_home(req)


def _press(req: Request, change: Callable[[Request], Settled]) -> None:
    """Apply a button's change; a refusal is told in the conversation that held the button
    (the DM stays as it was), else the DM is settled."""
    try:
        settled = change(req)
    except CRMError as err:
        req.tell(error_text(err), channel=req.container.get("channel_id") or req.channel_id)
        return
    in_message = req.container.get("type") == "message"
    _settle(
        req,
        settled,
        channel=req.container.get("channel_id") if in_message else None,
        ts=req.container.get("message_ts") if in_message else None,
    )


def _done(req: Request) -> Settled:
    f = nudges.complete(req.sf, req.workspace_id, req.value_id or 0, actor=req.actor, now=req.now)
    return Settled(f, nudge_dm.done_text(_customer_name(req, f.customer_id)), offer_log=True)


def _snooze(req: Request) -> Settled:
    raw, _, choice = req.value.partition(":")
    phrase = nudge_dm.SNOOZE_PHRASES.get(choice)
    if phrase is None:
        raise InvalidInput("Pick one of the snooze choices.")
    actor = req.actor
    due = parse_when(phrase, now=req.now, tz=actor.tz, workday_start=actor.workday_start)
    f = nudges.reschedule(req.sf, req.workspace_id, as_id(raw) or 0, actor=actor, now=req.now, due_at=due, snooze=True)
    return Settled(f, nudge_dm.snoozed_text(_customer_name(req, f.customer_id), due, tz=actor.tz, now=req.now))


def _reassign(req: Request) -> Settled:
    new_owner = check_owner(req.action.get("selected_user"))
    follow_up_id = as_id(str(req.action.get("block_id") or "").rpartition(":")[2]) or 0
    target = req.services.people.get(req.client, req.workspace_id, new_owner)
    if target.is_bot or target.deleted:
        raise InvalidInput(
            f"<@{new_owner}> can't take follow-ups (a bot or a deactivated account). Pick a person.", formatted=True
        )
    f = nudges.reassign(req.sf, req.workspace_id, follow_up_id, actor=req.actor, new_owner=new_owner, now=req.now)
    return Settled(f, nudge_dm.reassigned_text(_customer_name(req, f.customer_id), new_owner))


def on_done(req: Request) -> None:
    _press(req, _done)


def on_snooze(req: Request) -> None:
    _press(req, _snooze)


def on_reassign(req: Request) -> None:
    _press(req, _reassign)


def on_reschedule_open(req: Request) -> None:
    try:
        follow_up = nudges.get_follow_up(req.sf, req.workspace_id, req.value_id or 0)
    except CRMError as err:
        req.tell(error_text(err), channel=req.container.get("channel_id") or req.channel_id)
        return
    container = req.container
    meta = json.dumps({"id": follow_up.id, "channel": container.get("channel_id"), "ts": container.get("message_ts")})
    name = _customer_name(req, follow_up.customer_id)
    req.open_view(views.reschedule_view(follow_up, name, meta=meta, tz=req.tz, now=req.now))


def on_reschedule_submitted(req: Request) -> ViewAnswer:
    values = req.values
    due = read_due(
        req.actor, req.now, input_value(values, views.B_WHEN, "value"), input_value(values, views.B_DATE, "value")
    )
    if due is None:
        return Errors({views.B_WHEN: "Type when, or pick a day below."})
    meta = req.metadata
    follow_up = nudges.reschedule(
        req.sf, req.workspace_id, meta_id(meta, "id"), actor=req.actor, now=req.now, due_at=due
    )
    text = nudge_dm.rescheduled_text(_customer_name(req, follow_up.customer_id), due, tz=req.tz, now=req.now)
    channel, ts = meta.get("channel"), meta.get("ts")
    settled = Settled(follow_up, text)
    req.later(lambda: _settle(req, settled, channel=_str(channel), ts=_str(ts)))
    return None


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


# -- the card's "Add follow-up" -------------------------------------------------------------------
def on_follow_up_open(req: Request) -> None:
    customer = get_customer(req.sf, req.workspace_id, req.value_id or 0)
    req.open_view(views.follow_up_modal(customer, owner=req.user_id, channel=req.channel_id))


def on_follow_up_submitted(req: Request) -> ViewAnswer:
    values = req.values
    text = input_value(values, views.FOLLOW_UP_TEXT_BLOCK, views.FOLLOW_UP_TEXT_ACTION)
    due = read_due(
        req.actor, req.now, text, input_value(values, views.FOLLOW_UP_DATE_BLOCK, views.FOLLOW_UP_DATE_ACTION)
    )
    if due is None:
        return Errors({views.FOLLOW_UP_TEXT_BLOCK: "When is it due? Type e.g. next friday, or pick a date."})
    view_id = req.view.get("id")
    follow_up, created = add_follow_up(
        req.sf,
        req.workspace_id,
        customer_id=meta_id(req.metadata, "customer_id"),
        owner_user_id=input_value(values, views.OWNER_BLOCK, views.OWNER_ACTION) or req.user_id,
        due_at=due,
        actor=req.actor,
        now=req.now,
        note=_str(input_value(values, views.NOTE_BLOCK, views.NOTE_ACTION)),
        idempotency_key=f"view:{view_id}" if isinstance(view_id, str) and view_id else None,
    )
    if created:  # a repeated submission: the first one already confirmed
        customer = get_customer(req.sf, req.workspace_id, follow_up.customer_id)
        text, blocks = views.follow_up_confirmation(follow_up, customer, tz=req.tz, now=req.now)
        channel = _str(req.metadata.get("channel"))

        def confirm() -> None:
            req.tell(text, blocks, channel=channel)

        req.later(confirm)
    return None


# -- /crm followup <customer> <when> [note] -----------------------------------------------------------
def on_followup_command(req: Request) -> None:
    actor, now = req.actor, req.now
    line = parse_follow_up_line(
        unescape_slack(req.args), search_lookup(req.services, req.workspace_id), lambda p: actor.read_follow_up(p, now)
    )
    follow_up, _ = add_follow_up(
        req.sf,
        req.workspace_id,
        customer_id=line.customer.id,
        owner_user_id=req.user_id,
        due_at=line.due,
        actor=actor,
        now=now,
        note=line.note,
        idempotency_key=f"slash:{req.trigger_id}" if req.trigger_id else None,
    )
    req.reply(views.reminder_set_text(line.customer, follow_up, tz=req.tz, now=now))


# -- /crm followups [@someone | all] ---------------------------------------------------------------
def on_followups_command(req: Request) -> None:
    arg = req.args.strip()
    owner: str | None = req.user_id
    title = "Your open follow-ups"
    if arg:
        match = SLACK_USER_MENTION.fullmatch(arg)
        if arg.lower() not in ("all", "team") and not match:
            raise InvalidInput(LIST_USAGE)
        if not req.actor.sees_team:
            raise InvalidInput(
                "Only managers and admins can see other people's follow-ups. `/crm followups` shows yours."
            )
        owner = match.group(1) if match else None
        title = f"Open follow-ups of {req.name_of(owner)}" if owner else "Everyone's open follow-ups"
    rows, total = nudges.list_follow_ups(req.sf, req.workspace_id, owner=owner, limit=30)
    blocks = views.list_blocks(rows, total, title=title, tz=req.tz, now=req.now, show_owner=owner is None)
    req.reply(views.list_text(title, total), blocks=blocks)


# -- the App Home ----------------------------------------------------------------------------------------
def publish_home(req: Request) -> None:
    from commands.team import team_section  # here, not at the top: commands.team uses this package's views

    day = my_day(req.sf, req.workspace_id, req.actor, now=req.now, key_account_days=req.config.key_account_days)
    from commands.mail.views import unfiled_blocks  # email capture's waiting mail (issue 17)
    from crm.mail.capture import list_unfiled

    unfiled = unfiled_blocks(*list_unfiled(req.sf, req.workspace_id, req.user_id), tz=req.tz, now=req.now)
    view = home.home_view(
        day,
        tz=req.tz,
        now=req.now,
        type_label=req.config.type_label,
        stage_label=req.config.stage_label,
        extra=unfiled,
        team=team_section(req),
        admin=req.actor.is_admin,
    )
    try:
        req.client.views_publish(user_id=req.user_id, view=view)
    except SlackApiError as exc:
        log.warning("views.publish for %s failed: %s", req.user_id, exc.response.get("error"))


def on_home_opened(req: Request) -> None:
    user = req.event.get("user")
    if req.event.get("tab", "home") != "home" or not isinstance(user, str) or not user:
        return
    publish_home(replace(req, user_id=user))  # an event names its user inside: they are who is asking


def on_home_find(req: Request) -> None:
    req.open_view(home.find_customer_view())


def on_home_find_submitted(req: Request) -> ViewAnswer:
    value = input_value(req.values, home.FIND_BLOCK, home.FIND_ACTION) or ""
    if isinstance(value, str) and value.startswith("new:"):
        return Errors({home.FIND_BLOCK: "Pick an existing customer, or use New customer."})
    customer_id = as_id(value)
    if customer_id is None:
        return Errors({home.FIND_BLOCK: "Pick a customer from the list."})
    req.later(lambda: _send_card(req, customer_id))
    return None


def _send_card(req: Request, customer_id: int) -> None:
    card, blocks = customer_card(req, customer_id)
    req.tell(fallback_text(f"Customer card: {card.customer.name}", 300), blocks, channel=None)


def on_home_new(req: Request) -> None:
    open_create_customer(req)


# -- registration ------------------------------------------------------------------------------------------
def register(app: App, services: Services, router: CommandRouter) -> None:
    router.add(
        "followup",
        on_followup_command,
        summary="Set a follow-up reminder for a customer.",
        example="/crm followup Acme Corp next friday send the proposal",
        aliases=("remind", "fu"),
        topic=ACTIVITIES,
    )
    router.add(
        "followups",
        on_followups_command,
        summary="Your open follow-ups, overdue first; managers: `@someone` or `all`.",
        example="/crm followups",
        aliases=("follow-ups", "todo"),
        topic=ACTIVITIES,
    )
    request.action(app, nudge_dm.DONE, on_done)
    request.action(app, nudge_dm.SNOOZE, on_snooze)
    request.action(app, nudge_dm.REASSIGN, on_reassign)
    request.action(app, nudge_dm.RESCHEDULE_OPEN, on_reschedule_open)
    request.view(app, views.RESCHEDULE_VIEW, on_reschedule_submitted, fields=RESCHEDULE_FIELDS)
    request.action(app, views.FOLLOW_UP_OPEN_ACTION, on_follow_up_open)
    request.view(app, views.FOLLOW_UP_CALLBACK, on_follow_up_submitted, fields=FOLLOW_UP_FIELDS)
    request.event(app, "app_home_opened", on_home_opened)
    request.action(app, home.HOME_FIND, on_home_find)
    request.action(app, home.HOME_KEY_CARD, lambda req: _send_card(req, req.value_id or 0))
    request.view(app, home.FIND_VIEW, on_home_find_submitted, fields={None: home.FIND_BLOCK})
    request.action(app, home.HOME_NEW, on_home_new)


RESCHEDULE_FIELDS = {None: views.B_WHEN, "follow_up": views.B_WHEN, "follow_up_date": views.B_DATE}
FOLLOW_UP_FIELDS = {
    None: views.FOLLOW_UP_TEXT_BLOCK,
    "follow_up": views.FOLLOW_UP_TEXT_BLOCK,
    "follow_up_date": views.FOLLOW_UP_DATE_BLOCK,
    "note": views.NOTE_BLOCK,
    "owner": views.OWNER_BLOCK,
}
