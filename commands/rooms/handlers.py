"""Linked channels and deal rooms: `/crm link`, `/crm unlink`, `/crm room`, `/crm capture`, and
what Slack tells us about a linked channel (archived, renamed, the bot removed, shared).

``crm.channels`` decides and records; this module reads the channel from Slack, creates the room,
invites people and posts the card. Threads are logged by ``threads.py``, alerts by ``alerts.py``.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from slack_bolt import App
from slack_sdk.errors import SlackApiError, SlackClientError

from commands import request
from commands.blockkit import esc, person
from commands.customers.card import card as customer_card
from commands.request import Request
from commands.rooms import alerts, threads, views
from commands.rooms.channel_check import channel_facts, slack_error
from commands.router import CAPTURE, CommandRouter
from commands.whos_talked.questions import from_query, plain_text
from crm import capture, channels
from crm.deals import get_deal
from crm.errors import CRMError, NotFound
from crm.states import CaptureKind, LinkStatus

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)

_MENTION = re.compile(r"<@([UW][A-Z0-9]{2,30})(?:\|[^<>]*)?>")
MAX_INVITES = 30
ROOM_NAME_TRIES = 10
LINK_USAGE = "Use `/crm link <customer or deal>` in the channel to link, and `/crm unlink` to undo it."
ROOM_USAGE = "Use `/crm room <deal> [@people to invite]`, e.g. `/crm room Annual licence @ann`."


# -- finding what a command names -------------------------------------------------------------------
@dataclass(frozen=True)
class Target:
    customer_id: int
    deal_id: int | None = None


def _choices(refs: list[channels.DealRef], command: str) -> str:
    lines = [f"• *{esc(r.title, 80)}* ({esc(r.customer_name, 60)}): `{command} {esc(r.title, 80)}`" for r in refs[:10]]
    return "Which deal? Several match:\n" + "\n".join(lines)


def find_target(req: Request, query: str, *, deal_only: bool, command: str) -> Target:
    """The deal or customer ``query`` names: a deal by its exact title, else a customer (for a
    room: that customer's one deal), else a deal whose title contains it; asks when unsure."""
    deals, exact = channels.deals_named(req.sf, req.workspace_id, query)
    if exact and len(deals) == 1:
        return Target(deals[0].customer_id, deals[0].deal_id)
    found = from_query(req.services, req.workspace_id, query)
    if found.customer_id is not None and not (exact and deals):
        if not deal_only:
            return Target(found.customer_id)
        own, _ = channels.deals_named(req.sf, req.workspace_id, "", customer_id=found.customer_id)
        open_deals = [d for d in own if d.stage not in ("won", "lost")] or own
        if len(open_deals) == 1:
            return Target(found.customer_id, open_deals[0].deal_id)
        if not open_deals:
            raise NotFound("That customer has no deals yet. Create one from the customer's card first.")
        raise CRMError(_choices(open_deals, command), formatted=True)
    if found.candidates and deals and not deal_only:  # "globex": two Globex customers and a Globex deal
        names = ", ".join(f"*{esc(c.name, 60)}*" for c in found.candidates[:8])
        deal_lines = _choices(deals, command).partition("\n")[2]
        said = f"Which one? The customers {names}, type more of the name; or a deal:\n{deal_lines}"
        raise CRMError(said, formatted=True)
    if len(deals) == 1:
        return Target(deals[0].customer_id, deals[0].deal_id)
    if deals:
        raise CRMError(_choices(deals, command), formatted=True)
    if found.candidates and not deal_only:
        names = ", ".join(f"*{esc(c.name, 60)}*" for c in found.candidates[:8])
        raise CRMError(f"Which one? {names}. Type more of the name.", formatted=True)
    raise NotFound(f"I found no {'deal' if deal_only else 'customer or deal'} called “{query[:80]}”.")


# -- /crm link, /crm unlink --------------------------------------------------------------------------
def post_card(req: Request, channel: str, customer_id: int) -> None:
    """The customer's card in the channel (read-only, people named); a refusal is only logged."""
    found, blocks = customer_card(req, customer_id, shared=True)
    try:
        req.client.chat_postMessage(channel=channel, text=f"{found.customer.name}: the CRM card", blocks=blocks)
    except (SlackApiError, SlackClientError, OSError) as exc:
        log.warning("could not post the card in %s: %s", channel, exc)


def on_link(req: Request) -> None:
    query = plain_text(req.args)
    if not query:
        req.reply(LINK_USAGE)
        return
    facts = channel_facts(req)
    target = find_target(req, query, deal_only=False, command="/crm link")
    link = channels.link_channel(
        req.sf,
        req.workspace_id,
        req.channel_id,
        customer_id=target.customer_id,
        deal_id=target.deal_id,
        channel_name=facts.name,
        is_shared=facts.shared,
        actor=req.user_id,
        now=req.now,
    )
    assert req.channel_id is not None
    req.reply(
        views.linked_text(
            req.channel_id, link.record_name, created=link.created, replaced=link.replaced, shared=link.link.is_shared
        )
    )
    if link.created and not link.link.is_shared:
        post_card(req, req.channel_id, link.link.customer_id)


def on_unlink(req: Request) -> None:
    link = channels.unlink_channel(req.sf, req.workspace_id, req.channel_id, actor=req.user_id, now=req.now)
    req.reply(f":broken_chain: <#{req.channel_id}> is no longer linked to *{esc(link.record_name)}*.")


# -- /crm room ---------------------------------------------------------------------------------------
def _create_channel(req: Request, customer: str, title: str) -> dict[str, Any]:
    """A private channel with a readable, unique name (``-2``, ``-3`` … when taken)."""
    for attempt in range(1, ROOM_NAME_TRIES + 1):
        name = channels.room_name(customer, title, suffix=attempt)
        try:
            return req.client.conversations_create(name=name, is_private=True)["channel"]
        except SlackApiError as exc:
            error = slack_error(exc)
            if error == "name_taken":
                continue
            log.warning("conversations.create %s refused: %s", name, error)
            if error in ("restricted_action", "missing_scope", "no_permission"):
                raise CRMError(
                    "Slack didn't let me create a channel here (only some people may create channels in this "
                    f"workspace: `{error}`). Create it yourself and run `/crm link` in it.",
                    formatted=True,
                ) from None
            raise CRMError(
                f"Slack refused to create the room (`{esc(error, 60)}`). Nothing was created.", formatted=True
            ) from None
    raise CRMError(
        f"The room names `{channels.room_name(customer, title)}` to `-{ROOM_NAME_TRIES}` are all taken.", formatted=True
    )


def _invite(req: Request, channel: str, users: list[str]) -> tuple[list[str], list[str]]:
    """Invite each person: the ones now in the room, and the ones Slack refused, with why."""
    invited, refused = [], []
    for user in users[:MAX_INVITES]:
        try:
            req.client.conversations_invite(channel=channel, users=user)
            invited.append(user)
        except SlackApiError as exc:
            error = slack_error(exc)
            if error in ("already_in_channel", "cant_invite_self"):
                invited.append(user)
            else:
                refused.append(f"{esc(req.name_of(user), 60)} ({error})")
    return invited, refused


def on_room(req: Request) -> None:
    invitees = list(dict.fromkeys(_MENTION.findall(req.args)))
    query = plain_text(_MENTION.sub(" ", req.args))
    if not query:
        req.reply(ROOM_USAGE)
        return
    target = find_target(req, query, deal_only=True, command="/crm room")
    assert target.deal_id is not None
    existing = channels.room_of_deal(req.sf, req.workspace_id, target.deal_id)
    if existing is not None and existing.status == LinkStatus.ACTIVE:
        req.reply(f":door: This deal already has a room: <#{existing.channel_id}>.")
        return
    with_capture_on(req, CaptureKind.CHANNEL)
    found = get_deal(req.sf, req.workspace_id, target.deal_id)
    title, customer_name, owner = found.deal.title, found.customer_name, found.deal.owner_user_id
    room = _create_channel(req, customer_name, title)
    people = [u for u in dict.fromkeys([req.user_id, *([owner] if owner else []), *invitees]) if u]
    invited, refused = _invite(req, room["id"], people)
    channels.link_channel(
        req.sf,
        req.workspace_id,
        room["id"],
        deal_id=target.deal_id,
        channel_name=room.get("name"),
        is_shared=False,
        actor=req.user_id,
        now=req.now,
        is_room=True,
    )
    post_card(req, room["id"], target.customer_id)
    others = [person(u) for u in invited if u != req.user_id]
    note = f" In it with you: {', '.join(others)}." if others else ""
    note += f" I couldn't invite: {', '.join(refused)}." if refused else ""
    req.reply(f":door: Created <#{room['id']}> for *{esc(title)}* ({esc(customer_name)}) and linked it.{note}")


def with_capture_on(req: Request, kind: CaptureKind) -> None:
    if not capture.capture_settings(req.sf, req.workspace_id)[kind]:
        raise CRMError(
            f"Capturing from {kind.value}s is turned off in this workspace; an admin can turn it on with "
            f"`/crm capture {kind.value} on`.",
            formatted=True,
        )


# -- /crm capture ---------------------------------------------------------------------------------------
def on_capture(req: Request) -> None:
    words = req.args.lower().split()
    if not words:
        req.reply(views.capture_text(capture.capture_settings(req.sf, req.workspace_id)))
        return
    if len(words) != 2 or words[0] not in {k.value for k in CaptureKind} or words[1] not in ("on", "off"):
        req.reply("Use `/crm capture` to see the settings, or `/crm capture <channel|alert|email> on|off` (admins).")
        return
    after = capture.set_capture(req.sf, req.workspace_id, CaptureKind(words[0]), words[1] == "on", actor=req.actor)
    req.reply(views.capture_text(after))


# -- what Slack tells us about a channel -------------------------------------------------------------
def _bot_user(req: Request) -> str | None:
    for auth in req.body.get("authorizations") or []:
        if isinstance(auth, dict) and auth.get("is_bot"):
            return auth.get("user_id")
    return None


def _channel_id(event: dict[str, Any]) -> str | None:
    channel = event.get("channel")
    if isinstance(channel, dict):
        channel = channel.get("id")
    return channel if isinstance(channel, str) and channel else None


def _record(req: Request, why: str, **change: Any) -> None:
    channel = _channel_id(req.event)
    if channel is None:
        return
    touched = channels.channel_changed(req.sf, req.workspace_id, channel, now=req.now, **change)
    if touched:
        log.info("channel %s: %s (recorded on %d rows)", channel, why, touched)


def on_archived(req: Request) -> None:
    _record(req, "archived", status=LinkStatus.ARCHIVED, note="channel archived")


def on_unarchived(req: Request) -> None:
    _record(req, "unarchived", status=LinkStatus.ACTIVE, note=None)


def on_deleted(req: Request) -> None:
    _record(req, "deleted", status=LinkStatus.GONE, note="channel deleted")


def on_renamed(req: Request) -> None:
    channel = req.event.get("channel")
    name = channel.get("name") if isinstance(channel, dict) else None
    if isinstance(name, str):
        _record(req, f"renamed to {name[:80]}", name=name)


def on_member_left(req: Request) -> None:
    if req.event.get("user") == _bot_user(req):
        _record(req, "the bot was removed", status=LinkStatus.REMOVED, note="the bot was removed from the channel")


def on_bot_left(req: Request) -> None:
    """``channel_left`` / ``group_left``: sent to the bot itself when it is removed."""
    _record(req, "the bot was removed", status=LinkStatus.REMOVED, note="the bot was removed from the channel")


def on_member_joined(req: Request) -> None:
    if req.event.get("user") == _bot_user(req):
        _record(req, "the bot is back", status=LinkStatus.ACTIVE, note=None)


def on_shared(req: Request) -> None:
    _record(req, "shared with another organisation", shared=True)


def on_unshared(req: Request) -> None:
    if not req.event.get("is_ext_shared"):
        _record(req, "no longer shared", shared=False)


CHANNEL_EVENTS = {
    "channel_archive": on_archived,
    "group_archive": on_archived,
    "channel_unarchive": on_unarchived,
    "group_unarchive": on_unarchived,
    "channel_deleted": on_deleted,
    "group_deleted": on_deleted,
    "channel_rename": on_renamed,
    "group_rename": on_renamed,
    "member_left_channel": on_member_left,
    "channel_left": on_bot_left,
    "group_left": on_bot_left,
    "member_joined_channel": on_member_joined,
    "channel_shared": on_shared,
    "channel_unshared": on_unshared,
}


def register(app: App, services: Services, router: CommandRouter) -> None:
    router.add(
        "link",
        on_link,
        summary="Link this channel to a customer or a deal: its events show up here, `@crm log` logs a thread.",
        example="/crm link acme",
        topic=CAPTURE,
    )
    router.add(
        "unlink",
        on_unlink,
        summary="Undo this channel's link to a customer or deal.",
        example="/crm unlink",
        topic=CAPTURE,
    )
    router.add(
        "room",
        on_room,
        summary="Create a private deal room, invite the owner and the people named, link it and post the card.",
        example="/crm room Annual licence @ann",
        topic=CAPTURE,
    )
    router.add(
        "alerts",
        alerts.on_alerts,
        summary="Deal alerts in this channel: won, lost, a stage reached, new deals over an amount; "
        "`list`, `off`, `preview`.",
        example="/crm alerts won lost over 10000",
        topic=CAPTURE,
    )
    router.add(
        "capture",
        on_capture,
        summary="What the CRM captures by itself (linked channels, alerts, email); admins turn each on or off.",
        example="/crm capture alert off",
        topic=CAPTURE,
    )
    for event_type, handler in CHANNEL_EVENTS.items():
        request.event(app, event_type, handler)
    request.action(app, re.compile(f"^{views.LOG_TYPE}:"), threads.on_type_picked)
