"""Everything a rep does with customers in Slack: look up, card, create, edit, contacts, merge.

Entry points: ``/customer <query>``, ``/crm find <query>``, ``/crm new <name>``,
``/crm merge <duplicate> into <keeper>``, the card's buttons, and the create modal that
the shared customer picker pushes.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from commands import customer_views as views
from commands.blockkit import escape_mrkdwn
from commands.common import channel_of, input_value, meta_id, metadata, tell, user_of, workspace_of
from commands.router import CommandRouter, SlashContext
from crm import customers as svc
from crm.activity_types import label_for
from crm.errors import CRMError, DuplicateSuspected, InvalidInput, NotFound
from crm.pipeline_stages import stages_of
from crm.search import MAX_QUERY_CHARS

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)

CONTACT_FIELD_BLOCKS = {
    "contact_name": views.B_CONTACT_NAME,
    "contact_email": views.B_CONTACT_EMAIL,
    "contact_phone": views.B_CONTACT_PHONE,
    "contact_title": views.B_CONTACT_TITLE,
    "name": views.B_NAME,
    "website": views.B_WEBSITE,
}


def _type_label(services: Services):
    """How activity types are shown ("📞 Call"), retired ones included."""
    return lambda key: label_for(services.settings, key)


def _contact_form(values: dict[str, Any]) -> tuple[svc.ContactInput, bool]:
    """The contact fields of a submitted modal, and whether "save/create anyway" was ticked."""
    contact = svc.ContactInput(
        name=input_value(values, views.B_CONTACT_NAME, "value"),
        email=input_value(values, views.B_CONTACT_EMAIL, "value"),
        phone=input_value(values, views.B_CONTACT_PHONE, "value"),
        title=input_value(values, views.B_CONTACT_TITLE, "value"),
    )
    return contact, views.FORCE_VALUE in (input_value(values, views.B_FORCE, views.A_FORCE) or [])


class CustomerUI:
    """The customer handlers, bound to one app's services."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.sf = services.session_factory

    # -- helpers ---------------------------------------------------------------------
    def card(self, client: WebClient, workspace_id: int, customer_id: int, user: str, *, shared: bool = False):
        card = svc.customer_card(
            self.sf,
            workspace_id,
            customer_id,
            contacts=views.CARD_CONTACTS,
            deals=views.CARD_DEALS,
            activities=views.CARD_ACTIVITIES,
        )
        tz = self.services.people.tz(client, workspace_id, user)
        blocks = views.card_blocks(
            card,
            tz=tz,
            now=self.services.now(),
            type_label=_type_label(self.services),
            stage_label=lambda key: stages_of(self.services.settings).describe(key).display,
            shared=shared,
            name_of=(lambda uid: self.services.people.get(client, workspace_id, uid).name) if shared else None,
        )
        return card, blocks

    def _is_admin(self, client: WebClient, workspace_id: int, user: str) -> bool:
        return self.services.people.get(client, workspace_id, user).can_admin

    # -- look-up ---------------------------------------------------------------------
    def lookup(self, ctx: SlashContext) -> None:
        query = " ".join(ctx.args.split())
        command = "/customer" if ctx.command == "/customer" else "/crm find"
        if not query:
            ctx.reply("Who should I look for?", blocks=views.usage_blocks(command))
            return
        query = query[:MAX_QUERY_CHARS]
        result = svc.find_customers(self.sf, self.services.search, ctx.workspace_id, query)
        if result.kind == "winner":
            card, blocks = self.card(ctx.client, ctx.workspace_id, result.matches[0].customer_id, ctx.user_id)
            ctx.reply(views.card_text(card), blocks=blocks)
        elif result.kind == "ambiguous":
            ctx.reply(f"Several customers match “{query[:100]}”.", blocks=views.pick_list_blocks(query, result))
        else:
            ctx.reply(f"No customer matches “{query[:100]}”.", blocks=views.no_match_blocks(query))

    def show(self, ack: Ack, body: dict, client: WebClient, respond: Respond) -> None:
        ack()
        value = body["actions"][0].get("value", "")
        if not value.isdigit():
            return
        ws = workspace_of(self.services, body)
        try:
            card, blocks = self.card(client, ws, int(value), user_of(body))
        except NotFound as err:
            respond(text=err.message, response_type="ephemeral", replace_original=False)
            return
        respond(text=views.card_text(card), blocks=blocks, response_type="ephemeral", replace_original=True)

    def history(self, ack: Ack, body: dict, client: WebClient, respond: Respond) -> None:
        ack()
        customer_id, _, page = body["actions"][0].get("value", "").partition(":")
        if not customer_id.isdigit():
            return
        ws = workspace_of(self.services, body)
        user = user_of(body)
        try:
            hist = svc.customer_history(self.sf, ws, int(customer_id), page=int(page) if page.isdigit() else 1)
        except NotFound as err:
            respond(text=err.message, response_type="ephemeral", replace_original=False)
            return
        tz = self.services.people.tz(client, ws, user)
        blocks = views.history_blocks(hist, tz=tz, now=self.services.now(), type_label=_type_label(self.services))
        respond(
            text=f"History of {hist.customer.name}"[:300],
            blocks=blocks,
            response_type="ephemeral",
            replace_original=True,
        )

    def share(self, ack: Ack, body: dict, client: WebClient, respond: Respond) -> None:
        ack()
        value = body["actions"][0].get("value", "")
        channel = channel_of(body)
        user = user_of(body)
        ws = workspace_of(self.services, body)
        if not value.isdigit() or not channel:
            return
        if self._externally_shared(client, channel):
            respond(
                text=":lock: This channel is shared with another organisation, so I won't post CRM data "
                "in it. The card stays visible only to you.",
                response_type="ephemeral",
                replace_original=False,
            )
            return
        try:
            card, blocks = self.card(client, ws, int(value), user, shared=True)
        except NotFound as err:
            respond(text=err.message, response_type="ephemeral", replace_original=False)
            return
        try:
            client.chat_postMessage(
                channel=channel, text=f"<@{user}> shared {escape_mrkdwn(card.customer.name)}"[:300], blocks=blocks
            )
        except SlackApiError as exc:
            error = exc.response.get("error")
            text = (
                "I can't post here because I'm not in this channel. Invite me with `/invite @crm` and try again."
                if error in ("not_in_channel", "channel_not_found")
                else f"Slack refused to post the card ({error}). Nothing was changed."
            )
            respond(text=text, response_type="ephemeral", replace_original=False)

    @staticmethod
    def _externally_shared(client: WebClient, channel: str) -> bool:
        if channel.startswith("D"):
            return False
        try:
            info = client.conversations_info(channel=channel)["channel"]
        except SlackApiError:
            return True  # unknown: don't risk posting CRM data publicly
        return bool(info.get("is_ext_shared") or info.get("is_pending_ext_shared"))

    # -- create ----------------------------------------------------------------------
    def new_command(self, ctx: SlashContext) -> None:
        name = " ".join(ctx.args.split())[:255]
        view = views.create_customer_view(name=name, owner=ctx.user_id, meta={"channel": ctx.channel_id})
        ctx.client.views_open(trigger_id=ctx.trigger_id, view=view)

    def create_open(self, ack: Ack, body: dict, client: WebClient) -> None:
        ack()
        name = body["actions"][0].get("value", "")[:255]
        view = views.create_customer_view(name=name, owner=user_of(body), meta={"channel": channel_of(body)})
        client.views_open(trigger_id=body["trigger_id"], view=view)

    def push_create(self, client: WebClient, body: dict, name: str) -> None:
        """Open the create modal on top of another modal (from a customer picker)."""
        parent = metadata(body)
        view = views.create_customer_view(
            name=name[:255], owner=user_of(body), meta={"channel": parent.get("channel"), "pushed": True}
        )
        client.views_push(trigger_id=body["trigger_id"], view=view)

    def create_submit(self, ack: Ack, body: dict, client: WebClient) -> None:
        values = body["view"]["state"]["values"]
        meta = metadata(body)
        user = user_of(body)
        ws = workspace_of(self.services, body)
        form = {
            "name": input_value(values, views.B_NAME, views.A_NAME) or "",
            "website": input_value(values, views.B_WEBSITE, views.A_WEBSITE) or "",
            "owner": input_value(values, views.B_OWNER, views.A_OWNER),
        }
        contact, force = _contact_form(values)
        if not contact.is_empty() and not (contact.name or "").strip():
            ack(
                response_action="errors", errors={views.B_CONTACT_NAME: "Give the contact a name, or clear the fields."}
            )
            return
        try:
            customer = svc.create_customer(
                self.sf,
                self.services.search,
                ws,
                actor=user,
                name=form["name"],
                website=form["website"],
                owner_user_id=form["owner"],
                contact=contact,
                force=force,
            )
        except InvalidInput as err:
            block = CONTACT_FIELD_BLOCKS.get(err.field or "", views.B_NAME)
            ack(response_action="errors", errors={block: err.message})
            return
        except DuplicateSuspected as dup:
            view = views.create_customer_view(
                name=form["name"],
                website=form["website"],
                owner=form["owner"],
                contact={k: getattr(contact, k) or "" for k in ("name", "email", "phone", "title")},
                duplicates=dup.candidates,
                meta=meta,
            )
            ack(response_action="update", view=view)
            return
        if meta.get("pushed"):
            ack(
                response_action="update",
                view=views.notice_view(
                    "Customer created",
                    f"Created *{views._esc(customer.name, 200)}*. Go back and pick it in the form.",
                ),
            )
        else:
            ack()
        _, blocks = self.card(client, ws, customer.id, user)
        tell(client, meta.get("channel"), user, f"Created {customer.name}"[:300], blocks)

    def use_existing(self, ack: Ack, body: dict, client: WebClient) -> None:
        ack()
        value = body["actions"][0].get("value", "")
        view = body.get("view") or {}
        ws = workspace_of(self.services, body)
        user = user_of(body)
        try:
            card, blocks = self.card(client, ws, int(value), user)
        except (NotFound, ValueError):
            notice = views.notice_view("Not found", "That customer no longer exists. Nothing was created.")
            if view.get("id"):
                client.views_update(view_id=view["id"], view=notice)
            else:
                tell(client, channel_of(body), user, "That customer no longer exists.")
            return
        if view.get("id"):
            client.views_update(
                view_id=view["id"],
                hash=view.get("hash"),
                view=views.notice_view(
                    "Existing customer",
                    f"Nothing new was created. *{views._esc(card.customer.name, 200)}*'s card is in the channel, "
                    "visible only to you.",
                ),
            )
        tell(client, metadata(body).get("channel") or channel_of(body), user, views.card_text(card), blocks)

    # -- edit ------------------------------------------------------------------------
    def edit_open(self, ack: Ack, body: dict, client: WebClient) -> None:
        ack()
        value = body["actions"][0].get("value", "")
        ws = workspace_of(self.services, body)
        try:
            customer = svc.get_customer(self.sf, ws, int(value))
        except (NotFound, ValueError):
            tell(client, channel_of(body), user_of(body), "That customer no longer exists.")
            return
        view = views.edit_customer_view(customer, meta={"channel": channel_of(body)})
        client.views_open(trigger_id=body["trigger_id"], view=view)

    def edit_submit(self, ack: Ack, body: dict, client: WebClient) -> None:
        values = body["view"]["state"]["values"]
        meta = metadata(body)
        ws = workspace_of(self.services, body)
        user = user_of(body)
        try:
            customer = svc.update_customer(
                self.sf,
                self.services.search,
                ws,
                meta_id(meta, "customer"),
                actor=user,
                name=input_value(values, views.B_NAME, views.A_NAME) or "",
                website=input_value(values, views.B_WEBSITE, views.A_WEBSITE),
                owner_user_id=input_value(values, views.B_OWNER, views.A_OWNER),
            )
        except InvalidInput as err:
            ack(response_action="errors", errors={CONTACT_FIELD_BLOCKS.get(err.field or "", views.B_NAME): err.message})
            return
        except DuplicateSuspected as dup:
            names = ", ".join(c.name for c in dup.candidates[:3])
            ack(
                response_action="errors",
                errors={views.B_NAME: f"Another customer already looks like this ({names}). Merge them instead?"[:300]},
            )
            return
        except NotFound as err:
            ack(response_action="errors", errors={views.B_NAME: err.message})
            return
        ack()
        _, blocks = self.card(client, ws, customer.id, user)
        tell(client, meta.get("channel"), user, f"Saved {customer.name}"[:300], blocks)

    # -- contacts --------------------------------------------------------------------
    def contact_add_open(self, ack: Ack, body: dict, client: WebClient) -> None:
        ack()
        ws = workspace_of(self.services, body)
        try:
            customer = svc.get_customer(self.sf, ws, int(body["actions"][0].get("value", "")))
        except (NotFound, ValueError):
            tell(client, channel_of(body), user_of(body), "That customer no longer exists.")
            return
        client.views_open(
            trigger_id=body["trigger_id"], view=views.contact_view(customer, None, meta={"channel": channel_of(body)})
        )

    def contact_menu(self, ack: Ack, body: dict, client: WebClient, respond: Respond) -> None:
        ack()
        choice = (body["actions"][0].get("selected_option") or {}).get("value", "")
        verb, _, raw_id = choice.partition(":")
        if not raw_id.isdigit():
            return
        ws = workspace_of(self.services, body)
        user = user_of(body)
        try:
            contact = svc.get_contact(self.sf, ws, int(raw_id))
            if verb == "edit":
                customer = svc.get_customer(self.sf, ws, contact.customer_id)
                view = views.contact_view(customer, contact, meta={"channel": channel_of(body)})
                client.views_open(trigger_id=body["trigger_id"], view=view)
            elif verb == "remove":
                svc.delete_contact(self.sf, self.services.search, ws, contact.id, actor=user)
                respond(
                    text=f"Removed {contact.name}. Their past activities keep their name.",
                    response_type="ephemeral",
                    replace_original=False,
                )
        except CRMError as err:
            respond(text=err.message, response_type="ephemeral", replace_original=False)

    def contact_submit(self, ack: Ack, body: dict, client: WebClient) -> None:
        values = body["view"]["state"]["values"]
        meta = metadata(body)
        ws = workspace_of(self.services, body)
        user = user_of(body)
        contact, force = _contact_form(values)
        try:
            if meta_id(meta, "contact"):
                saved = svc.update_contact(
                    self.sf, self.services.search, ws, meta_id(meta, "contact"), contact, actor=user, force_name=force
                )
            else:
                saved = svc.add_contact(
                    self.sf,
                    self.services.search,
                    ws,
                    meta_id(meta, "customer"),
                    contact,
                    actor=user,
                    force_name=force,
                )
        except DuplicateSuspected as dup:
            ack(
                response_action="errors",
                errors={views.B_CONTACT_NAME: f"{dup.message} Tick “Save anyway” if this is a different person."[:300]},
            )
            return
        except InvalidInput as err:
            ack(
                response_action="errors",
                errors={CONTACT_FIELD_BLOCKS.get(err.field or "", views.B_CONTACT_NAME): err.message},
            )
            return
        except NotFound as err:
            ack(response_action="errors", errors={views.B_CONTACT_NAME: err.message})
            return
        ack()
        _, blocks = self.card(client, ws, saved.customer_id, user)
        tell(client, meta.get("channel"), user, f"Saved contact {saved.name}"[:300], blocks)

    # -- merge -----------------------------------------------------------------------
    def merge_command(self, ctx: SlashContext) -> None:
        text = " ".join(ctx.args.split())
        lowered = text.lower()
        at = lowered.rfind(" into ")
        if at <= 0:
            ctx.reply("Say which customer goes into which: `/crm merge Acme Inc into Acme Corporation`.")
            return
        if not self._is_admin(ctx.client, ctx.workspace_id, ctx.user_id):
            ctx.reply("Only workspace admins can merge customers. Ask an admin, or tell them which two are the same.")
            return
        picked = []
        for query in (text[:at], text[at + len(" into ") :]):
            result = svc.find_customers(self.sf, self.services.search, ctx.workspace_id, query[:MAX_QUERY_CHARS])
            winner = result.winner
            if winner is None:
                options = ", ".join(result.customers[m.customer_id].name for m in result.matches[:5])
                hint = f" Did you mean one of: {options}?" if options else ""
                ctx.reply(f"I can't tell exactly which customer “{query[:100]}” is.{hint} Use the full name."[:3000])
                return
            picked.append(winner)
        try:
            preview = svc.merge_preview(self.sf, ctx.workspace_id, picked[0].id, picked[1].id)
        except CRMError as err:
            ctx.reply(err.message)
            return
        ctx.reply(
            f"Merge {preview.duplicate.name} into {preview.keeper.name}?"[:300],
            blocks=views.merge_confirm_blocks(preview),
        )

    def merge_confirm(self, ack: Ack, body: dict, client: WebClient, respond: Respond) -> None:
        ack()
        dup, _, keeper = body["actions"][0].get("value", "").partition(":")
        ws = workspace_of(self.services, body)
        user = user_of(body)
        try:
            result = svc.merge_customers(
                self.sf,
                self.services.search,
                ws,
                int(dup),
                int(keeper),
                actor=user,
                actor_is_admin=self._is_admin(client, ws, user),
            )
        except (CRMError, ValueError) as err:
            message = err.message if isinstance(err, CRMError) else "That merge request was malformed."
            respond(text=message, response_type="ephemeral", replace_original=True)
            return
        respond(
            text=(
                f"Merged {result.duplicate.name} into {result.keeper.name}: moved {result.contacts} contacts, "
                f"{result.deals} deals, {result.activities} activities and {result.follow_ups} follow-ups."
            )[:3000],
            response_type="ephemeral",
            replace_original=True,
        )

    def merge_cancel(self, ack: Ack, respond: Respond) -> None:
        ack()
        respond(text="Merge cancelled. Nothing was changed.", response_type="ephemeral", replace_original=True)


def push_create_customer(services: Services, client: WebClient, body: dict[str, Any], name: str) -> None:
    """For other features' pickers: push the create-customer modal onto the current modal."""
    CustomerUI(services).push_create(client, body, name)


def register(app: App, services: Services, router: CommandRouter) -> None:
    ui = CustomerUI(services)
    router.add(
        "find",
        ui.lookup,
        summary="Look up a customer by name, website or email; typos are fine.",
        example="/crm find acme corp",
        aliases=("customer", "lookup", "search"),
        slash="/customer",
    )
    router.add(
        "new",
        ui.new_command,
        summary="Create a customer (checks for duplicates first).",
        example="/crm new Acme Corporation",
        aliases=("create", "add"),
    )
    router.add(
        "merge",
        ui.merge_command,
        summary="Admins: merge a duplicate customer into the one to keep.",
        example="/crm merge Acme Inc into Acme Corporation",
    )
    app.action(views.SHOW)(ui.show)
    app.action(re.compile(rf"^{views.HISTORY}(_newer|_older)?$"))(ui.history)
    app.action(views.SHARE)(ui.share)
    app.action(views.CREATE_OPEN)(ui.create_open)
    app.action(views.USE_EXISTING)(ui.use_existing)
    app.action(views.EDIT_OPEN)(ui.edit_open)
    app.action(views.CONTACT_ADD_OPEN)(ui.contact_add_open)
    app.action(views.CONTACT_MENU)(ui.contact_menu)
    app.action(views.MERGE_CONFIRM)(ui.merge_confirm)
    app.action(views.MERGE_CANCEL)(ui.merge_cancel)
    app.view(views.CREATE_VIEW)(ui.create_submit)
    app.view(views.EDIT_VIEW)(ui.edit_submit)
    app.view(views.CONTACT_VIEW)(ui.contact_submit)
