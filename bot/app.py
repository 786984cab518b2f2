"""The one wiring point: build the Bolt app and register every feature on it."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from slack_bolt import App, BoltRequest, BoltResponse
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.webhook import WebhookClient

from bot.config import Settings
from bot.guard import came_from_slack, keep_acks, quiet_bolt_logs
from bot.pool import TrackedExecutor
from bot.services import Services
from commands import (
    accounts,
    activities,
    admin,
    customers,
    deals,
    digests,
    duplicates,
    fields,
    followups,
    handover,
    installs,
    mail,
    pickers,
    request,
    rooms,
    team,
    whos_talked,
)
from commands import router as router_module
from commands.common import is_slack_response_url
from commands.router import CommandRouter

log = logging.getLogger(__name__)

__all__ = ["create_app", "is_slack_response_url", "make_web_client"]

# Feature modules, each exposing register(app, services, router). Order matters only for
# the order of subcommands in `/crm help`.
FEATURES = (
    router_module,
    customers,
    pickers,
    activities,
    followups,
    whos_talked,
    duplicates,
    deals,
    digests,
    fields,
    rooms,
    mail,
    accounts,
    team,
    handover,
    installs,
    admin,
)

# Enough threads that listeners doing slow work after ack() never delay other requests' acks.
LISTENER_THREADS = 64


def make_web_client(services: Services) -> WebClient:
    """The Web API client, with retries for rate limits, 5xx answers and dropped connections."""
    return WebClient(
        token=None if services.settings.oauth else services.settings.slack_bot_token,
        base_url=services.settings.slack_api_url,
        timeout=10,
        retry_handlers=[
            ConnectionErrorRetryHandler(max_retry_count=2),
            RateLimitErrorRetryHandler(max_retry_count=2),
            ServerErrorRetryHandler(max_retry_count=2),
        ],
    )


class _NoTokenSkipped(logging.Filter):
    """Bolt reads SLACK_BOT_TOKEN from the environment itself, and warns at every start that it is
    unused when a client is given, as here (the client carries the token, the retry handlers and
    the Web API address). The warning is about Bolt's own wiring, so it is dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != warning_client_prioritized_and_token_skipped()


def create_app(services: Services) -> App:
    """Build the Bolt app. Nothing connects to Slack here (no auth.test at start)."""
    settings = services.settings
    settings.require_slack()
    bolt_log = logging.getLogger("slack_bolt.App")
    if not any(isinstance(f, _NoTokenSkipped) for f in bolt_log.filters):
        bolt_log.addFilter(_NoTokenSkipped())
    oauth: dict[str, Any] = {}
    if services.installations is not None:  # OAuth: each workspace's token from its installation
        oauth = {"oauth_settings": services.installations.oauth_settings()}
    app = App(
        client=make_web_client(services),
        signing_secret=settings.slack_signing_secret or "socket-mode-needs-no-signature",
        token_verification_enabled=False,
        **oauth,
        process_before_response=False,
        raise_error_for_unhandled_request=False,
        listener_executor=TrackedExecutor(max_workers=LISTENER_THREADS, thread_name_prefix="listener"),
    )
    quiet_bolt_logs()  # Bolt would log the body of a badly signed request
    app.use(keep_acks)
    request.install(app, services)
    router = CommandRouter()
    for feature in FEATURES:
        feature.register(app, services, router)
    router.install(app, services)
    app.error(_make_error_handler(settings))
    return app


# The error message is sent while Slack may still be waiting for our answer: never wait long.
ERROR_REPLY_TIMEOUT = 2
# Payload kinds whose failure is not told to anyone: a typeahead would message the user on each
# keystroke, and an event has no one who asked.
_UNTOLD = ("block_suggestion", "event_callback", "view_closed")


def _make_error_handler(settings: Settings):
    def handle_error(
        error: Exception, request: BoltRequest, response: BoltResponse | None, body: dict[str, Any], client: WebClient
    ) -> None:
        """Log the unexpected with its stack trace; tell the user with a reference id.

        Only a request Slack signed is answered (whatever let it this far), and Slack gets a 200:
        the user reads our sentence instead of Slack's "failed with the error" (or a 404 after 3 s)."""
        if not came_from_slack(request, settings.slack_signing_secret):
            log.warning("error on an unverified request (%s); not answered", type(error).__name__)
            if response is not None:
                response.status, response.body = 401, ""
            return
        ref = uuid.uuid4().hex[:8]
        log.error("unhandled error (ref %s)", ref, exc_info=error)
        if response is not None:
            response.status, response.body = 200, ""
        if body.get("type") in _UNTOLD:
            return
        text = f":warning: Something went wrong on our side (reference `{ref}`). Nothing was lost; please try again."
        try:
            quick = WebClient(token=client.token, base_url=client.base_url, timeout=ERROR_REPLY_TIMEOUT)
            _tell_user(settings, body, quick, text)
        except (SlackApiError, OSError) as exc:
            log.warning("could not tell the user about error %s: %s", ref, exc)

    return handle_error


def _tell_user(settings: Settings, body: dict[str, Any], client: WebClient, text: str) -> None:
    """Through the request's response_url (only a Slack one), else privately in the channel, else by DM."""
    user = (body.get("user") or {}).get("id") if isinstance(body.get("user"), dict) else body.get("user_id")
    channel = (body.get("channel") or {}).get("id") if isinstance(body.get("channel"), dict) else body.get("channel_id")
    url = body.get("response_url")
    if isinstance(url, str) and is_slack_response_url(url, settings.response_url_base):
        WebhookClient(url, timeout=ERROR_REPLY_TIMEOUT).send(text=text, response_type="ephemeral")
    elif isinstance(user, str) and user and isinstance(channel, str) and channel:
        client.chat_postEphemeral(channel=channel, user=user, text=text)
    elif isinstance(user, str) and user:
        client.chat_postMessage(channel=user, text=text)
