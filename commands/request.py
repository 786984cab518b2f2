"""One request context, and one way to write a handler.

A Bolt middleware (:func:`install`) builds a :class:`Request` once per Slack request: the
workspace, who is asking (an :class:`~crm.actors.Actor`, looked up lazily so the
acknowledgement never waits for ``users.info``), ``now``, the workspace's settings (activity
types, stages, managers) and the ways to answer. Every handler is a plain function taking that
one object::

    def on_undo(req: Request) -> None:
        logged = activities.delete_activity(req.sf, req.workspace_id, req.action_id_value, actor=req.actor, ...)
        req.reply(*views.deleted(logged, req.config.types), replace=True)

and is registered with :func:`action`, :func:`view`, :func:`shortcut`, :func:`options` or
:func:`event` (slash commands go through :class:`commands.router.CommandRouter`). The registration
acknowledges Slack first and runs the rest on the bounded work pool, so a slow Web API call
never holds up anyone's acknowledgement. A :class:`~crm.errors.CRMError` raised by a handler
becomes, in one place, a private reply (or a modal field error for view submissions); anything
else is logged with a reference id and the user is told.
"""

from __future__ import annotations

import contextlib
import logging
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from commands.blockkit import error_text
from commands.common import as_id, channel_of, clean_payload, is_slack_response_url, metadata, team_of, tell, user_of
from crm.actors import Actor, zone_name
from crm.errors import CRMError

if TYPE_CHECKING:
    from bot.services import Services
    from crm.people import Person
    from crm.workspace_config import WorkspaceConfig

log = logging.getLogger(__name__)

CONTEXT_KEY = "crm_request"
# views.open / views.push refusals that mean the click's trigger was used already or ran out
# (Slack honours one for 3 seconds, once): nothing is wrong but the timing.
TRIGGER_ERRORS = ("expired_trigger_id", "exchanged_trigger_id", "invalid_trigger_id", "trigger_exchanged")
FORM_EXPIRED = "That form took too long to open (or was opened already). Please try again."
BUSY = ":hourglass: I'm very busy right now and couldn't get to that. Please try again in a minute."


@dataclass
class Request:
    """What one Slack request is about, and the ways to answer it."""

    services: Services
    client: WebClient
    body: dict[str, Any]
    respond: Any  # Bolt's Respond when the payload has a response_url, else None
    workspace_id: int
    team_id: str
    enterprise_id: str | None
    user_id: str
    channel_id: str | None
    now: datetime
    config: WorkspaceConfig
    args: str = ""  # slash commands: the text after the command (or after the /crm subcommand)
    command: str = ""  # slash commands: "/crm", "/customer", ...
    _later: list[Callable[[], None]] = field(default_factory=list, repr=False)

    # -- who is asking (looked up after the ack, cached per process) ---------------------------
    @cached_property
    def person(self) -> Person:
        return self.services.people.get(self.client, self.workspace_id, self.user_id)

    @cached_property
    def actor(self) -> Actor:
        person = self.person
        return Actor(
            self.user_id,
            is_admin=person.can_admin,
            is_manager=person.can_admin or self.user_id in self.config.managers,
            tz=zone_name(person.tz, self.config.default_timezone),
            locale=person.locale,
            workday_start=self.config.workday_start,
        )

    @property
    def tz(self) -> str:
        return self.actor.tz

    def name_of(self, user_id: str) -> str:
        """A Slack user's display name (for text posted where a mention would notify them)."""
        return self.services.people.get(self.client, self.workspace_id, user_id).name

    # -- the payload ---------------------------------------------------------------------------
    @property
    def sf(self):
        return self.services.session_factory

    @property
    def trigger_id(self) -> str:
        trigger = self.body.get("trigger_id")
        return trigger if isinstance(trigger, str) else ""

    @property
    def action(self) -> dict[str, Any]:
        """The first action of a ``block_actions`` payload ({} for other kinds)."""
        actions = self.body.get("actions") or [{}]
        first = actions[0] if isinstance(actions, list) and actions else {}
        return first if isinstance(first, dict) else {}

    @property
    def value(self) -> str:
        """The pressed button's value, or the chosen option's value."""
        action = self.action
        option = action.get("selected_option") or {}
        raw = action.get("value") if "value" in action else option.get("value")
        return raw if isinstance(raw, str) else ""

    @property
    def value_id(self) -> int | None:
        """The pressed button's value as a row id, or None when it is not one."""
        return as_id(self.value)

    @property
    def view(self) -> dict[str, Any]:
        view = self.body.get("view")
        return view if isinstance(view, dict) else {}

    @property
    def values(self) -> dict[str, Any]:
        """A submitted (or updated) modal's input values by block id."""
        state = self.view.get("state")
        values = state.get("values") if isinstance(state, dict) else None
        return values if isinstance(values, dict) else {}

    @property
    def metadata(self) -> dict[str, Any]:
        return metadata(self.body)

    @property
    def event(self) -> dict[str, Any]:
        event = self.body.get("event")
        return event if isinstance(event, dict) else {}

    @property
    def container(self) -> dict[str, Any]:
        container = self.body.get("container")
        return container if isinstance(container, dict) else {}

    # -- answering -----------------------------------------------------------------------------
    def reply(self, text: str, blocks: list[dict[str, Any]] | None = None, *, replace: bool = False) -> None:
        """A private answer: through the response URL when there is one (replacing the message
        that held the button when ``replace``), else an ephemeral message or a DM."""
        if self.respond is not None and self.body.get("response_url"):
            self.respond(text=text, blocks=blocks, response_type="ephemeral", replace_original=replace)
        else:
            self.tell(text, blocks)

    def tell(self, text: str, blocks: list[dict[str, Any]] | None = None, *, channel: str | None = None) -> bool:
        """An ephemeral message to the user in ``channel`` (default: where they are), else a DM."""
        return tell(self.client, channel or self.channel_id, self.user_id, text, blocks)

    def open_view(self, view: dict[str, Any]) -> None:
        """Open a modal; a trigger Slack no longer honours is told to the user in one sentence."""
        self._with_trigger(lambda trigger: self.client.views_open(trigger_id=trigger, view=view))

    def push_view(self, view: dict[str, Any]) -> None:
        self._with_trigger(lambda trigger: self.client.views_push(trigger_id=trigger, view=view))

    def _with_trigger(self, call: Callable[[str], Any]) -> None:
        trigger = self.trigger_id
        if not trigger:
            raise CRMError(FORM_EXPIRED)
        try:
            call(trigger)
        except SlackApiError as exc:
            if exc.response.get("error") not in TRIGGER_ERRORS:
                raise
            log.info("form not opened: %s", exc.response.get("error"))
            raise CRMError(FORM_EXPIRED) from None

    def update_view(self, view: dict[str, Any]) -> None:
        """Redraw the open modal; a lost race (``hash_conflict``) is left to the next redraw."""
        current = self.view
        try:
            self.client.views_update(view_id=current.get("id"), hash=current.get("hash"), view=view)
        except SlackApiError as exc:
            log.info("modal not updated: %s", exc.response.get("error"))

    def later(self, work: Callable[[], None]) -> None:
        """Run ``work`` after Slack has been answered (view submissions: the confirmation)."""
        self._later.append(work)


# -- building the request once -----------------------------------------------------------------
_SLASH_COMMAND = re.compile(r"/[a-z0-9_\-]{1,31}")


def build_request(services: Services, client: WebClient, body: dict[str, Any], respond: Any) -> Request | None:
    """The request context of a payload, or None when it names no workspace."""
    team_id, enterprise_id = team_of(body)
    if not team_id:
        return None
    clean_payload(body)
    url = body.get("response_url")
    if not (isinstance(url, str) and is_slack_response_url(url, services.settings.response_url_base)):
        respond = None  # answer by ephemeral message or DM: we post only to Slack's own response URLs
    workspace_id = services.workspace_id(team_id, enterprise_id)
    command = body.get("command")
    return Request(
        services=services,
        client=client,
        body=body,
        respond=respond,
        workspace_id=workspace_id,
        team_id=team_id,
        enterprise_id=enterprise_id,
        user_id=user_of(body),
        channel_id=channel_of(body),
        now=services.now(),
        config=services.config(workspace_id),
        args=(body.get("text") or "").strip() if isinstance(command, str) else "",
        command=command if isinstance(command, str) and _SLASH_COMMAND.fullmatch(command) else "",
    )


def install(app: App, services: Services) -> None:
    """The middleware that builds every request's context before any listener runs."""

    def request_context(context: BoltContext, body: dict[str, Any], next: Callable[[], None]) -> None:
        if isinstance(body, dict):
            req = build_request(services, context.client, body, context.respond)
            if req is not None:
                context[CONTEXT_KEY] = req
        next()

    app.use(request_context)


def request_of(context: BoltContext) -> Request | None:
    return context.get(CONTEXT_KEY)


# -- running handlers ----------------------------------------------------------------------------
Handler = Callable[[Request], None]


def report_unexpected(req: Request, error: BaseException) -> None:
    """Log an unexpected failure with its stack trace and tell the user, with a reference id."""
    ref = uuid.uuid4().hex[:8]
    log.error("unhandled error (ref %s)", ref, exc_info=error)
    text = f":warning: Something went wrong on our side (reference `{ref}`). Nothing was lost; please try again."
    try:
        if req.body.get("response_url") and req.respond is not None:
            req.respond(text=text, response_type="ephemeral", replace_original=False)
        elif req.user_id:
            req.tell(text)
    except (SlackApiError, SlackClientError, OSError) as exc:
        log.warning("could not tell the user about error %s: %s", ref, exc)


def run(req: Request, handler: Handler) -> None:
    """Run a handler now, turning a CRMError into a private reply and anything else into a report."""
    try:
        handler(req)
    except CRMError as err:
        req.reply(error_text(err))
    except Exception as exc:  # the one place post-ack failures are caught: logged with a reference
        report_unexpected(req, exc)


def after_ack(req: Request, handler: Handler) -> None:
    """Run a handler on the work pool (Slack has been answered); tell the user if the pool is full."""
    if not req.services.work.submit(lambda: run(req, handler)):
        log.warning("work pool full: dropped a %s from %s", req.body.get("type") or "command", req.user_id)
        with contextlib.suppress(SlackApiError, SlackClientError, OSError):
            req.reply(BUSY)


def _listener(handler: Handler) -> Callable[..., None]:
    def listener(ack: Ack, context: BoltContext) -> None:
        ack()
        req = request_of(context)
        if req is not None:
            after_ack(req, handler)

    listener.__name__ = getattr(handler, "__name__", "listener")
    return listener


def action(app: App, action_id: str | re.Pattern[str], handler: Handler) -> None:
    """A button, menu or picker in a message, the Home tab or a modal."""
    app.action(action_id)(_listener(handler))


def shortcut(app: App, callback_id: str, handler: Handler) -> None:
    """A global or message shortcut (open modals at once: the trigger expires in 3 s)."""
    app.shortcut(callback_id)(_listener(handler))


def event(app: App, event_type: str, handler: Handler) -> None:
    """An Events API event (Bolt acknowledges events itself)."""

    def listener(context: BoltContext) -> None:
        req = request_of(context)
        if req is not None:
            after_ack(req, handler)

    listener.__name__ = getattr(handler, "__name__", "listener")
    app.event(event_type)(listener)


# -- view submissions -------------------------------------------------------------------------------
class Errors(dict):
    """A view handler's answer: field errors by block id (the modal stays open)."""


@dataclass(frozen=True)
class Update:
    """A view handler's answer: replace the modal with ``view``."""

    view: dict[str, Any]


@dataclass(frozen=True)
class Push:
    """A view handler's answer: push ``view`` on top of the modal."""

    view: dict[str, Any]


ViewAnswer = Errors | Update | Push | None
ViewHandler = Callable[[Request], ViewAnswer]


def view(app: App, callback_id: str, handler: ViewHandler, *, fields: Mapping[str | None, str]) -> None:
    """A modal submission. The handler validates and saves before Slack is answered (so field
    errors can be shown), returns an answer, and queues anything slower with ``req.later``.

    ``fields`` maps a :class:`CRMError`'s ``field`` to the block id that shows it; the ``None``
    key is the block for errors that name no field (or a field this form doesn't have).
    """

    def listener(ack: Ack, context: BoltContext) -> None:
        req = request_of(context)
        if req is None:
            ack()
            return
        try:
            answer = handler(req)
        except CRMError as err:
            block = fields.get(err.field) or fields[None]
            ack(response_action="errors", errors={block: err.message})  # plain text: Slack shows it as typed
            return
        if isinstance(answer, Errors) and answer:
            ack(response_action="errors", errors=dict(answer))
            return
        if isinstance(answer, Update):
            ack(response_action="update", view=answer.view)
        elif isinstance(answer, Push):
            ack(response_action="push", view=answer.view)
        else:
            ack()
        if req._later:
            after_ack(req, _run_later)

    listener.__name__ = getattr(handler, "__name__", "listener")
    app.view(callback_id)(listener)


def _run_later(req: Request) -> None:
    """The work a view handler queued with ``req.later``, in order."""
    for work in req._later:
        work()


# -- typeahead -----------------------------------------------------------------------------------------
OptionsHandler = Callable[[Request], dict[str, Any]]


def options(app: App, action_id: str | re.Pattern[str], handler: OptionsHandler) -> None:
    """An external select's options: the handler returns ``{"options": [...]}`` (or
    ``option_groups``) and it is sent as the acknowledgement, so it must be quick."""

    def listener(ack: Ack, context: BoltContext) -> None:
        req = request_of(context)
        try:
            answer = handler(req) if req is not None else {"options": []}
        except CRMError:
            answer = {"options": []}
        ack(**answer)

    listener.__name__ = getattr(handler, "__name__", "listener")
    app.options(action_id)(listener)


def query(req: Request) -> str:
    """What the user typed into an external select."""
    value = req.body.get("value")
    return value if isinstance(value, str) else ""
