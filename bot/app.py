"""The one wiring point: build the Bolt app and register every feature on it."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.webhook import WebhookClient

from bot.pool import TrackedExecutor
from bot.services import Services
from commands import activities, customers, deals, digests, duplicates, followups, pickers, request, whos_talked
from commands import router as router_module
from commands.router import CommandRouter

log = logging.getLogger(__name__)

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
)

# Enough threads that listeners doing slow work after ack() never delay other requests' acks.
LISTENER_THREADS = 64


def make_web_client(services: Services) -> WebClient:
    """The Web API client, with retries for rate limits, 5xx answers and dropped connections."""
    return WebClient(
        token=services.settings.slack_bot_token,
        base_url=services.settings.slack_api_url,
        timeout=10,
        retry_handlers=[
            ConnectionErrorRetryHandler(max_retry_count=2),
            RateLimitErrorRetryHandler(max_retry_count=2),
            ServerErrorRetryHandler(max_retry_count=2),
        ],
    )


def create_app(services: Services) -> App:
    """Build the Bolt app. Nothing connects to Slack here (no auth.test at start)."""
    settings = services.settings
    settings.require_slack()
    app = App(
        client=make_web_client(services),
        signing_secret=settings.slack_signing_secret or "socket-mode-needs-no-signature",
        token_verification_enabled=False,
        process_before_response=False,
        raise_error_for_unhandled_request=False,
        listener_executor=TrackedExecutor(max_workers=LISTENER_THREADS, thread_name_prefix="listener"),
    )
    request.install(app, services)
    router = CommandRouter()
    for feature in FEATURES:
        feature.register(app, services, router)
    router.install(app, services)
    app.error(_make_error_handler())
    return app


def _make_error_handler():
    def handle_error(error: Exception, body: dict[str, Any], client: WebClient) -> None:
        """Log the unexpected with its stack trace; tell the user with a reference id."""
        ref = uuid.uuid4().hex[:8]
        log.error("unhandled error (ref %s)", ref, exc_info=error)
        text = f":warning: Something went wrong on our side (reference `{ref}`). Nothing was lost; please try again."
        user = (body.get("user") or {}).get("id") or body.get("user_id")
        channel = (body.get("channel") or {}).get("id") or body.get("channel_id")
        try:
            if body.get("response_url"):
                WebhookClient(body["response_url"]).send(text=text, response_type="ephemeral")
            elif user and channel:
                client.chat_postEphemeral(channel=channel, user=user, text=text)
        except (SlackApiError, OSError) as exc:
            log.warning("could not tell the user about error %s: %s", ref, exc)

    return handle_error
