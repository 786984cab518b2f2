"""Logging an activity: `/log` and `/crm log`, the shortcuts, the card's "Log activity" button,
the modal (customer picker and submission), and the confirmation's Undo, Edit and Restore.

Every entry point ends in the same modal or the same ``crm.activities`` call. Saving is exactly
once per view (``view:<id>``) or slash trigger (``slash:<trigger id>``); Undo and Restore are
no-ops the second time, concurrent clicks included. Who may edit, undo or restore is decided by
``crm.activities``; a refusal becomes the private reply.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING

from slack_bolt import App
from slack_sdk.errors import SlackApiError

from commands import request
from commands.activities import views
from commands.activities.forms import FIELDS, LogMeta, LogSubmission, read_log_state
from commands.activities.quick_log import QuickLog, guess_customer, parse_quick_log, search_lookup, unescape_slack
from commands.activities.views import LogForm
from commands.blockkit import PLAIN_TEXT_INPUT_MAX, escape_mrkdwn
from commands.common import as_id
from commands.customers import push_create_customer
from commands.pickers import picked
from commands.request import Errors, Request, ViewAnswer
from commands.router import ACTIVITIES, CommandRouter
from crm import dates
from crm.activities import (
    FollowUpRequest,
    Logged,
    delete_activity,
    editable_activity,
    get_logged,
    log_activity,
    log_choices,
    restore_activity,
    update_activity,
)
from crm.channels import link_of
from crm.customers import get_customer
from crm.errors import CRMError, InvalidInput, NotFound
from crm.followups import read_due
from crm.models import Customer
from crm.states import ActivitySource

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)


# -- opening the modal -----------------------------------------------------------------------------
def open_log_modal(req: Request, form: LogForm, meta: LogMeta, notice: str | None = None) -> None:
    """The log modal, with the contact and deal pickers of the customer it starts with."""
    choices = None
    if form.customer is not None:
        choices = log_choices(req.sf, req.workspace_id, form.customer.id)
        form = replace(form, customer=choices.customer)
        meta.customer_id = choices.customer.id
    req.open_view(_modal(req, form, meta, choices=choices, notice=notice))


def _modal(req: Request, form: LogForm, meta: LogMeta, **kw) -> dict:
    return views.log_modal(req.config.types, form, meta, now=req.now, **kw)


def _customer_or_none(req: Request, customer_id: int | None) -> Customer | None:
    if customer_id is None:
        return None
    try:
        return get_customer(req.sf, req.workspace_id, customer_id)
    except NotFound:
        return None


# -- /log and /crm log -------------------------------------------------------------------------------
def on_log_command(req: Request) -> None:
    """`/log` alone opens the form; `/log call Acme Corp …` saves when certain, else asks."""
    text = unescape_slack(req.args).strip()
    if not text:
        open_log_modal(req, LogForm(), LogMeta(channel=req.channel_id or None))
        return
    actor, now = req.actor, req.now
    quick = parse_quick_log(
        text, req.config.types, search_lookup(req.services, req.workspace_id), lambda p: actor.read_follow_up(p, now)
    )
    if quick.certain:
        req.reply(*_save_quick_log(req, quick))
        return
    _ask_about(req, quick)


def _save_quick_log(req: Request, quick: QuickLog) -> tuple[str, list]:
    assert quick.type is not None and quick.customer is not None
    follow_up = FollowUpRequest(quick.follow_up_due, quick.follow_up_note) if quick.follow_up_due else None
    logged = log_activity(
        req.sf,
        req.workspace_id,
        types=req.config.types,
        actor=req.actor,
        customer_id=quick.customer.id,
        type_key=quick.type.key,
        summary=quick.summary,
        occurred_at=req.now,
        source=ActivitySource.SLASH,
        now=req.now,
        idempotency_key=f"slash:{req.trigger_id}" if req.trigger_id else None,
        follow_up=follow_up,
    )
    return views.confirmation(logged, req.config.types, tz=req.tz, now=req.now)


def _ask_about(req: Request, quick: QuickLog) -> None:
    """The form, prefilled with what the one-liner made clear, and a notice of what it didn't."""
    summary = quick.summary + (f"\nNext step: {quick.follow_up_note}" if quick.follow_up_note else "")
    if len(summary) > PLAIN_TEXT_INPUT_MAX:
        doubts = escape_mrkdwn(" ".join(quick.doubts))
        raise InvalidInput(
            f"Nothing was saved. {doubts} Your note is {len(summary):,} characters, too long "
            f"for the form ({PLAIN_TEXT_INPUT_MAX:,}); start the line with the type and the customer, e.g. "
            "`/log call Acme Corp …`, and I'll save it whole."
        )
    form = LogForm(
        customer=quick.customer,
        type_key=quick.type.key if quick.type else None,
        summary=summary,
        follow_up_text=quick.follow_up_text or "",
    )
    open_log_modal(
        req, form, LogMeta(channel=req.channel_id or None, source=ActivitySource.SLASH), notice=" ".join(quick.doubts)
    )


# -- shortcuts and the card's button -------------------------------------------------------------------
def on_global_shortcut(req: Request) -> None:
    open_log_modal(req, LogForm(), LogMeta(source=ActivitySource.SHORTCUT))


def on_message_shortcut(req: Request) -> None:
    """ "Log to CRM" on a message: its text as the summary, the customer it names, its permalink."""
    message = req.body.get("message")
    message = message if isinstance(message, dict) else {}
    raw = message.get("text")
    text = unescape_slack(raw if isinstance(raw, str) else "").strip()
    linked = link_of(req.sf, req.workspace_id, req.channel_id)  # a linked channel: its customer
    customer = _customer_or_none(req, linked.link.customer_id) if linked else None
    if customer is None and text:
        customer = guess_customer(req.services, req.workspace_id, text)
    permalink = _permalink(req, message.get("ts"))
    notice = None
    if len(text) > PLAIN_TEXT_INPUT_MAX:
        notice = f"The message is {len(text):,} characters; the form holds the first {PLAIN_TEXT_INPUT_MAX:,}." + (
            " The link to the whole message is saved with the activity." if permalink else ""
        )
    meta = LogMeta(source=ActivitySource.SHORTCUT, channel=req.channel_id, permalink=permalink)
    deal_id = linked.link.deal_id if linked and customer and customer.id == linked.link.customer_id else None
    open_log_modal(req, LogForm(customer=customer, summary=text, deal_id=deal_id), meta, notice=notice)


def _permalink(req: Request, ts: object) -> str | None:
    if not req.channel_id or not isinstance(ts, str) or not ts:
        return None
    try:
        return req.client.chat_getPermalink(channel=req.channel_id, message_ts=ts).get("permalink")
    except SlackApiError as exc:
        log.info("no permalink for %s/%s: %s", req.channel_id, ts, exc.response.get("error"))
        return None


def on_open(req: Request) -> None:
    """A card's (or the Home tab's) "Log activity": the form, with that customer when there is one."""
    customer = _customer_or_none(req, req.value_id)
    open_log_modal(req, LogForm(customer=customer), LogMeta(channel=req.channel_id))


# -- inside the modal: the customer picker ---------------------------------------------------------------
def on_customer_picked(req: Request) -> None:
    """Redraw the form for the picked customer (its contacts and deals), keeping what was typed."""
    choice = picked(req.action)
    if choice is not None and choice[0] == "new":
        push_create_customer(req, str(choice[1]))
        return
    meta = LogMeta.load(req.metadata)
    sub = read_log_state(req.values)
    customer_id = as_id(choice[1]) if choice is not None else None
    choices = None
    if customer_id is not None:
        try:
            choices = log_choices(req.sf, req.workspace_id, customer_id)
        except NotFound:
            choices = None
    meta.customer_id = choices.customer.id if choices else None
    form = _form_of(sub, req)
    form.customer = choices.customer if choices else None
    if meta.summary_locked and meta.activity_id:
        form.summary = get_logged(req.sf, req.workspace_id, meta.activity_id).activity.summary
    req.update_view(_modal(req, form, meta, choices=choices))


def _form_of(sub: LogSubmission, req: Request) -> LogForm:
    return LogForm(
        type_key=sub.type_key,
        summary=sub.summary or "",
        occurred_at=sub.occurred_at(req.now) if sub.occurred_ts else None,
        follow_up_text=sub.follow_up_text or "",
        follow_up_date=sub.follow_up_date,
    )


# -- saving the modal ------------------------------------------------------------------------------------
def on_log_submitted(req: Request) -> ViewAnswer:
    """Check the form (all its errors at once), then save or update, then confirm."""
    meta = LogMeta.load(req.metadata)
    sub = read_log_state(req.values)
    errors = _missing(req, sub)
    follow_up = None
    if not meta.editing:
        try:
            due = read_due(req.actor, req.now, sub.follow_up_text, sub.follow_up_date)
        except CRMError as err:  # shown beside the other fields' errors
            errors[sub.block_of(err.field)] = err.message
        else:
            follow_up = FollowUpRequest(due) if due else None
    if errors:
        return Errors(errors)
    try:
        logged = _update(req, meta, sub) if meta.editing else _log(req, meta, sub, follow_up)
    except CRMError as err:
        if err.field in ("contact", "deal"):  # their blocks are named after the customer
            return Errors({sub.block_of(err.field): err.message})
        raise
    if meta.editing or logged.created:  # a repeated submission: the first one already confirmed
        verb = "Updated" if meta.editing else "Logged"
        text, blocks = views.confirmation(logged, req.config.types, tz=req.tz, now=req.now, verb=verb)
        _confirm_later(req, text, blocks, channel=meta.channel)
    return None


def _confirm_later(req: Request, text: str, blocks: list, *, channel: str | None) -> None:
    """After Slack has closed the modal: the confirmation where the form was opened (else a DM)."""

    def confirm() -> None:
        req.tell(text, blocks, channel=channel)

    req.later(confirm)


def _missing(req: Request, sub: LogSubmission) -> dict[str, str]:
    errors: dict[str, str] = {}
    if sub.new_customer is not None:
        errors[views.CUSTOMER_BLOCK] = (
            f"Create “{sub.new_customer}” first (pick it again to open the form), then pick it here."
        )
    elif sub.customer_id is None:
        errors[views.CUSTOMER_BLOCK] = "Pick a customer."
    if not sub.type_key:
        errors[views.TYPE_BLOCK] = f"Pick an activity type: {req.config.types.names()}."
    return errors


def _view_key(req: Request) -> str | None:
    view_id = req.view.get("id")
    return f"view:{view_id}" if isinstance(view_id, str) and view_id else None


def _log(req: Request, meta: LogMeta, sub: LogSubmission, follow_up: FollowUpRequest | None) -> Logged:
    assert sub.customer_id is not None and sub.type_key is not None
    return log_activity(
        req.sf,
        req.workspace_id,
        types=req.config.types,
        actor=req.actor,
        customer_id=sub.customer_id,
        type_key=sub.type_key,
        summary=sub.summary or "",
        occurred_at=sub.occurred_at(req.now),
        source=ActivitySource.SHORTCUT if meta.source == ActivitySource.SHORTCUT else ActivitySource.MODAL,
        now=req.now,
        contact_id=sub.contact_id,
        deal_id=sub.deal_id,
        permalink=meta.permalink,
        idempotency_key=_view_key(req),
        follow_up=follow_up,
    )


def _update(req: Request, meta: LogMeta, sub: LogSubmission) -> Logged:
    assert sub.customer_id is not None and sub.type_key is not None and meta.activity_id is not None
    return update_activity(
        req.sf,
        req.workspace_id,
        meta.activity_id,
        types=req.config.types,
        actor=req.actor,
        now=req.now,
        customer_id=sub.customer_id,
        type_key=sub.type_key,
        summary=None if meta.summary_locked else (sub.summary or ""),
        occurred_at=sub.occurred_at(req.now),
        contact_id=sub.contact_id,
        deal_id=sub.deal_id,
    )


# -- the confirmation's buttons ------------------------------------------------------------------------------
def on_undo(req: Request) -> None:
    logged = delete_activity(req.sf, req.workspace_id, req.value_id or 0, actor=req.actor, now=req.now)
    req.reply(*views.deleted(logged, req.config.types), replace=True)


def on_restore(req: Request) -> None:
    logged = restore_activity(req.sf, req.workspace_id, req.value_id or 0, actor=req.actor, now=req.now)
    text, blocks = views.confirmation(logged, req.config.types, tz=req.tz, now=req.now, verb="Restored")
    req.reply(text, blocks, replace=True)


def on_edit(req: Request) -> None:
    """The form, filled with the activity, if crm says this person may edit it."""
    logged = editable_activity(req.sf, req.workspace_id, req.value_id or 0, actor=req.actor)
    activity = logged.activity
    form = LogForm(
        customer=logged.customer,
        type_key=activity.type_key,
        contact_id=activity.contact_id,
        deal_id=activity.deal_id,
        summary=activity.summary,
        occurred_at=activity.occurred_at,
    )
    locked = len(activity.summary) > PLAIN_TEXT_INPUT_MAX
    open_log_modal(
        req, form, LogMeta(mode="edit", channel=req.channel_id, activity_id=activity.id, summary_locked=locked)
    )


# -- registration ----------------------------------------------------------------------------------------
def register(app: App, services: Services, router: CommandRouter) -> None:
    dates.warm_up()
    router.add(
        "log",
        on_log_command,
        summary="Log a call, meeting or email in one line, or open the form with no text.",
        example="/log call Acme Corp discussed renewal pricing, follow up next friday",
        slash="/log",
        topic=ACTIVITIES,
    )
    request.shortcut(app, views.GLOBAL_SHORTCUT, on_global_shortcut)
    request.shortcut(app, views.MESSAGE_SHORTCUT, on_message_shortcut)
    request.action(app, views.OPEN_ACTION, on_open)
    request.action(app, views.CUSTOMER_ACTION, on_customer_picked)
    request.view(app, views.LOG_CALLBACK, on_log_submitted, fields=FIELDS)
    request.action(app, views.UNDO_ACTION, on_undo)
    request.action(app, views.DELETE_ACTION, on_undo)
    request.action(app, views.RESTORE_ACTION, on_restore)
    request.action(app, views.EDIT_ACTION, on_edit)
