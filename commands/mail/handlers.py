"""Email capture's Slack side: `/crm email`, and filing or dismissing the Home tab's unfiled mail."""

from __future__ import annotations

from typing import TYPE_CHECKING

from slack_bolt import App

from commands import request
from commands.common import as_id, input_value
from commands.followups.handlers import publish_home
from commands.mail import views
from commands.request import Errors, Request, ViewAnswer
from commands.router import CAPTURE
from crm.errors import InvalidInput
from crm.mail.capture import dismiss_email, file_email, get_unfiled
from crm.mail.inbox import Inbox, get_inbox, rotate_token, set_enabled

if TYPE_CHECKING:
    from bot.services import Services
    from commands.router import CommandRouter


def _address(req: Request, inbox: Inbox) -> str:
    settings = req.services.settings
    assert settings.mail_domain
    return inbox.address(settings.mail_local_part, settings.mail_domain)


def _show(req: Request, inbox: Inbox, *, replace: bool = False) -> None:
    text, blocks = views.inbox_blocks(inbox, _address(req, inbox), is_admin=req.actor.is_admin)
    req.reply(text, blocks=blocks, replace=replace)


def on_email_command(req: Request) -> None:
    if not req.services.settings.mail_domain:
        raise InvalidInput(views.not_set_up_text())
    _show(req, get_inbox(req.sf, req.workspace_id, actor=req.actor, now=req.now))


def on_rotate(req: Request) -> None:
    _show(req, rotate_token(req.sf, req.workspace_id, actor=req.actor, now=req.now), replace=True)


def on_toggle(req: Request) -> None:
    inbox = set_enabled(req.sf, req.workspace_id, req.value == "on", actor=req.actor, now=req.now)
    _show(req, inbox, replace=True)


def on_pick(req: Request) -> None:
    mail_id = as_id(req.value)
    if mail_id is None:
        return
    mail = get_unfiled(req.sf, req.workspace_id, mail_id, actor=req.actor)
    req.open_view(views.file_view(mail, tz=req.tz, now=req.now))


def on_dismiss(req: Request) -> None:
    mail_id = as_id(req.value)
    if mail_id is not None:
        dismiss_email(req.sf, req.workspace_id, mail_id, actor=req.actor, now=req.now)
    publish_home(req)


def on_file_submitted(req: Request) -> ViewAnswer:
    mail_id = as_id(str(req.metadata.get("mail", "")))
    picked = input_value(req.values, views.CUSTOMER_BLOCK, views.CUSTOMER_ACTION)
    candidate = input_value(req.values, views.CANDIDATE_BLOCK, views.CANDIDATE_ACTION)
    if isinstance(picked, str) and picked.startswith("new:"):
        return Errors({views.CUSTOMER_BLOCK: "Pick an existing customer (create it first with New customer)."})
    customer_id = as_id(picked) or as_id(candidate)
    if mail_id is None:
        return Errors({views.CUSTOMER_BLOCK: "This form is out of date; open the Home tab again."})
    if customer_id is None:
        block = (
            views.CANDIDATE_BLOCK if candidate is None and views.CANDIDATE_BLOCK in req.values else views.CUSTOMER_BLOCK
        )
        return Errors({block: "Pick the customer this email belongs to."})
    filed = file_email(
        req.sf, req.workspace_id, mail_id, customer_id, actor=req.actor, types=req.config.types, now=req.now
    )
    if filed.created:

        def tell() -> None:
            req.tell(f"✉️ Logged the email on {filed.customer_name}.", channel=None)

        req.later(tell)
    req.later(lambda: publish_home(req))
    return None


def register(app: App, services: Services, router: CommandRouter) -> None:
    router.add(
        "email",
        on_email_command,
        summary="The address to BCC or forward customer mail to (admins: new address, on/off).",
        example="/crm email",
        aliases=("mail",),
        topic=CAPTURE,
    )
    request.action(app, views.ROTATE, on_rotate)
    request.action(app, views.TOGGLE, on_toggle)
    request.action(app, views.PICK, on_pick)
    request.action(app, views.DISMISS, on_dismiss)
    request.view(app, views.FILE_VIEW, on_file_submitted, fields={None: views.CUSTOMER_BLOCK})
