"""Follow-ups in Slack: the nudge DM's buttons, `/crm followups`, and the App Home "my day".

After any action the DM is rewritten (``chat.update``) without its buttons, so a stale
button cannot act twice; the database refuses it anyway (a done follow-up can't be
snoozed). The App Home is republished after every action taken there.
"""

from __future__ import annotations

import json
import logging
import re
from typing import TYPE_CHECKING

from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from commands import followup_views as views
from commands.activities import leading_customer, read_follow_up_fields, rep_of, search_lookup
from commands.common import input_value, meta_id, metadata, tell, user_of, workspace_of
from commands.customer_views import create_customer_view
from commands.customers import CustomerUI
from commands.router import CommandRouter, SlashContext
from crm import nudges
from crm.activity_types import label_for
from crm.customers import get_customer
from crm.dates import format_local, parse_when
from crm.errors import CRMError
from crm.followups import add_follow_up
from crm.my_day import my_day
from crm.pipeline_stages import stages_of

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)

_USER_MENTION = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$")
SNOOZE_PHRASES = {"1h": "in 1 hour", "tomorrow": "tomorrow", "next_week": "next week"}


class FollowUpUI:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.sf = services.session_factory

    def _type_label(self, key: str) -> str:
        return label_for(self.services.settings, key)

    def _is_manager(self, client: WebClient, ws: int, user: str) -> bool:
        if user in self.services.settings.managers:
            return True
        return self.services.people.get(client, ws, user).can_admin

    # -- the buttons -------------------------------------------------------------------
    def _settle(self, body: dict, client: WebClient, ws: int, user: str, text: str, customer_id: int, log_offer: bool):
        """Rewrite the message that held the buttons, or republish the Home tab."""
        container = body.get("container") or {}
        if container.get("type") == "message" and container.get("channel_id") and container.get("message_ts"):
            try:
                client.chat_update(
                    channel=container["channel_id"],
                    ts=container["message_ts"],
                    text=text[:300],
                    blocks=views.settled_blocks(text, customer_id=customer_id, offer_log=log_offer),
                )
            except SlackApiError as exc:
                log.warning("could not update the nudge DM: %s", exc.response.get("error"))
        self.publish_home(client, ws, user)

    def _refuse(self, body: dict, client: WebClient, user: str, message: str) -> None:
        channel = (body.get("container") or {}).get("channel_id") or (body.get("channel") or {}).get("id")
        tell(client, channel, user, message)

    def _act(self, body: dict, client: WebClient, follow_up_id: int, action) -> None:
        ws = workspace_of(self.services, body)
        user = user_of(body)
        is_admin = self.services.people.get(client, ws, user).can_admin
        try:
            follow_up, text, offer_log = action(ws, user, is_admin)
        except CRMError as err:
            self._refuse(body, client, user, err.message)
            return
        self._settle(body, client, ws, user, text, follow_up.customer_id, offer_log)

    def _customer_name(self, ws: int, customer_id: int) -> str:
        try:
            return get_customer(self.sf, ws, customer_id).name
        except CRMError:
            return "the customer"

    def done(self, ack: Ack, body: dict, client: WebClient) -> None:
        ack()
        raw = body["actions"][0].get("value", "")
        if not raw.isdigit():
            return

        def action(ws, user, is_admin):
            f = nudges.complete(self.sf, ws, int(raw), actor=user, actor_is_admin=is_admin, now=self.services.now())
            name = views._esc(self._customer_name(ws, f.customer_id))
            return f, f":white_check_mark: Done: follow up with *{name}*. Log what happened?", True

        self._act(body, client, int(raw), action)

    def snooze(self, ack: Ack, body: dict, client: WebClient) -> None:
        ack()
        value = (body["actions"][0].get("selected_option") or {}).get("value", "")
        raw, _, choice = value.partition(":")
        if not raw.isdigit() or choice not in SNOOZE_PHRASES:
            return

        def action(ws, user, is_admin):
            person = self.services.people.get(client, ws, user)
            tz = person.tz or self.services.settings.default_timezone
            now = self.services.now()
            due = parse_when(SNOOZE_PHRASES[choice], now=now, tz=tz, workday_start=self.services.settings.workday_start)
            f = nudges.reschedule(
                self.sf, ws, int(raw), actor=user, actor_is_admin=is_admin, now=now, due_at=due, snooze=True
            )
            name = views._esc(self._customer_name(ws, f.customer_id))
            return f, f":zzz: Snoozed: follow up with *{name}* {format_local(due, tz, now=now)}.", False

        self._act(body, client, int(raw), action)

    def reassign(self, ack: Ack, body: dict, client: WebClient) -> None:
        ack()
        action_body = body["actions"][0]
        new_owner = action_body.get("selected_user") or ""
        raw = (action_body.get("block_id") or "").rpartition(":")[2]
        if not raw.isdigit() or not new_owner:
            return

        def action(ws, user, is_admin):
            target = self.services.people.get(client, ws, new_owner)
            if target.is_bot or target.deleted:
                raise CRMError(f"<@{new_owner}> can't take follow-ups (a bot or a deactivated account). Pick a person.")
            f = nudges.reassign(
                self.sf, ws, int(raw), actor=user, actor_is_admin=is_admin, new_owner=new_owner, now=self.services.now()
            )
            name = views._esc(self._customer_name(ws, f.customer_id))
            return f, f":arrow_right: Reassigned: follow up with *{name}* now belongs to <@{new_owner}>.", False

        self._act(body, client, int(raw), action)

    def reschedule_open(self, ack: Ack, body: dict, client: WebClient) -> None:
        ack()
        raw = body["actions"][0].get("value", "")
        ws = workspace_of(self.services, body)
        user = user_of(body)
        try:
            follow_up = nudges.get_follow_up(self.sf, ws, int(raw))
        except (CRMError, ValueError):
            self._refuse(body, client, user, "That follow-up no longer exists.")
            return
        container = body.get("container") or {}
        meta = json.dumps(
            {"id": follow_up.id, "channel": container.get("channel_id"), "ts": container.get("message_ts")}
        )
        tz = self.services.people.tz(client, ws, user)
        view = views.reschedule_view(
            follow_up, self._customer_name(ws, follow_up.customer_id), meta=meta, tz=tz, now=self.services.now()
        )
        client.views_open(trigger_id=body["trigger_id"], view=view)

    def reschedule_submit(self, ack: Ack, body: dict, client: WebClient) -> None:
        values = body["view"]["state"]["values"]
        meta = metadata(body)
        ws = workspace_of(self.services, body)
        user = user_of(body)
        rep = rep_of(self.services, client, ws, user)
        now = self.services.now()
        due, errors = read_follow_up_fields(
            rep,
            now,
            input_value(values, views.B_WHEN, "value"),
            input_value(values, views.B_DATE, "value"),
            text_block=views.B_WHEN,
            date_block=views.B_DATE,
        )
        if due is None:
            ack(response_action="errors", errors=errors or {views.B_WHEN: "Type when, or pick a day below."})
            return
        try:
            follow_up = nudges.reschedule(
                self.sf, ws, meta_id(meta, "id"), actor=user, actor_is_admin=rep.can_admin, now=now, due_at=due
            )
        except CRMError as err:
            ack(response_action="errors", errors={views.B_WHEN: err.message[:300]})
            return
        ack()
        name = views._esc(self._customer_name(ws, follow_up.customer_id))
        text = f":calendar: Rescheduled: follow up with *{name}* {format_local(due, rep.tz, now=now)}."
        fake_body = {"container": {"type": "message", "channel_id": meta.get("channel"), "message_ts": meta.get("ts")}}
        self._settle(fake_body, client, ws, user, text, follow_up.customer_id, False)

    # -- /crm followup <customer> <when> [note] -----------------------------------------
    def add_command(self, ctx: SlashContext) -> None:
        text = " ".join(ctx.args.split())
        usage = "Say who and when: `/crm followup Acme Corp next friday send the proposal`."
        if not text:
            ctx.reply(usage)
            return
        customer, rest, ambiguous = leading_customer(text, search_lookup(self.services, ctx.workspace_id))
        if customer is None:
            why = "Several customers match" if ambiguous else "I can't find a customer"
            ctx.reply(f"{why} at the start of “{views._esc(text, 80)}”. {usage}")
            return
        rep = rep_of(self.services, ctx.client, ctx.workspace_id, ctx.user_id)
        tz = rep.tz
        now = self.services.now()
        words = rest.split()
        due, note, last_error = None, "", None
        for k in range(min(6, len(words)), 0, -1):  # the longest phrase that reads as a time
            try:
                due = rep.read_follow_up(" ".join(words[:k]), now)
            except CRMError as err:
                last_error = err
                continue
            note = " ".join(words[k:])
            break
        if due is None:
            message = last_error.message if last_error and words else f"When should I remind you? {usage}"
            ctx.reply(message)
            return
        follow_up, _ = add_follow_up(
            self.sf,
            ctx.workspace_id,
            customer_id=customer.id,
            owner_user_id=ctx.user_id,
            due_at=due,
            actor=ctx.user_id,
            now=now,
            note=note or None,
            idempotency_key=f"slash:{ctx.trigger_id}" if ctx.trigger_id else None,
        )
        ctx.reply(
            f":calendar: I'll remind you about {customer.name} {format_local(follow_up.due_at, tz, now=now)}"
            + (f": {note}" if note else ".")
        )

    # -- lists -------------------------------------------------------------------------
    def list_command(self, ctx: SlashContext) -> None:
        arg = ctx.args.strip()
        owner: str | None = ctx.user_id
        title = "Your open follow-ups"
        if arg:
            match = _USER_MENTION.match(arg)
            if arg.lower() not in ("all", "team") and not match:
                ctx.reply("Use `/crm followups` for yours, `/crm followups @someone` or `/crm followups all`.")
                return
            if not self._is_manager(ctx.client, ctx.workspace_id, ctx.user_id):
                ctx.reply("Only managers and admins can see other people's follow-ups. `/crm followups` shows yours.")
                return
            owner = match.group(1) if match else None
            title = (
                f"Open follow-ups of {self.services.people.get(ctx.client, ctx.workspace_id, owner).name}"
                if owner
                else ("Everyone's open follow-ups")
            )
        rows, total = nudges.list_follow_ups(self.sf, ctx.workspace_id, owner=owner, limit=30)
        tz = self.services.people.tz(ctx.client, ctx.workspace_id, ctx.user_id)
        blocks = views.list_blocks(rows, total, title=title, tz=tz, now=self.services.now(), show_owner=owner is None)
        ctx.reply(f"{title}: {total}", blocks=blocks)

    # -- App Home ----------------------------------------------------------------------
    def publish_home(self, client: WebClient, ws: int, user: str) -> None:
        person = self.services.people.get(client, ws, user)
        now = self.services.now()
        day = my_day(self.sf, ws, user, now=now, include_failed=person.can_admin)
        view = views.home_view(
            overdue=day.overdue,
            upcoming=day.upcoming,
            overdue_total=day.overdue_total,
            upcoming_total=day.upcoming_total,
            activities=day.activities,
            deals=day.deals,
            failed=day.failed,
            tz=person.tz or self.services.settings.default_timezone,
            now=now,
            type_label=self._type_label,
            stage_label=lambda key: stages_of(self.services.settings).describe(key).display,
        )
        try:
            client.views_publish(user_id=user, view=view)
        except SlackApiError as exc:
            log.warning("views.publish for %s failed: %s", user, exc.response.get("error"))

    def home_opened(self, event: dict, body: dict, client: WebClient) -> None:
        if event.get("tab", "home") != "home" or not event.get("user"):
            return
        self.publish_home(client, workspace_of(self.services, body), event["user"])

    def home_find(self, ack: Ack, body: dict, client: WebClient) -> None:
        ack()
        client.views_open(trigger_id=body["trigger_id"], view=views.find_customer_view())

    def home_find_submit(self, ack: Ack, body: dict, client: WebClient) -> None:
        value = input_value(body["view"]["state"]["values"], "customer", "customer_picker:home") or ""
        if value.startswith("new:"):
            ack(response_action="errors", errors={"customer": "Pick an existing customer, or use New customer."})
            return
        if not value.isdigit():
            ack(response_action="errors", errors={"customer": "Pick a customer from the list."})
            return
        ack()
        ws = workspace_of(self.services, body)
        user = user_of(body)
        card, blocks = CustomerUI(self.services).card(client, ws, int(value), user)
        tell(client, None, user, f"Customer card: {card.customer.name}"[:300], blocks)

    def home_new(self, ack: Ack, body: dict, client: WebClient) -> None:
        ack()
        client.views_open(trigger_id=body["trigger_id"], view=create_customer_view(owner=user_of(body), meta={}))


def register(app: App, services: Services, router: CommandRouter) -> None:
    ui = FollowUpUI(services)
    router.add(
        "followup",
        ui.add_command,
        summary="Set a follow-up reminder for a customer.",
        example="/crm followup Acme Corp next friday send the proposal",
        aliases=("remind", "fu"),
    )
    router.add(
        "followups",
        ui.list_command,
        summary="Your open follow-ups, overdue first; managers: `@someone` or `all`.",
        example="/crm followups",
        aliases=("follow-ups", "todo"),
    )
    app.action(views.DONE)(ui.done)
    app.action(views.SNOOZE)(ui.snooze)
    app.action(views.REASSIGN)(ui.reassign)
    app.action(views.RESCHEDULE_OPEN)(ui.reschedule_open)
    app.view(views.RESCHEDULE_VIEW)(ui.reschedule_submit)
    app.event("app_home_opened")(ui.home_opened)
    app.action(views.HOME_FIND)(ui.home_find)
    app.view(views.FIND_VIEW)(ui.home_find_submit)
    app.action(views.HOME_NEW)(ui.home_new)
