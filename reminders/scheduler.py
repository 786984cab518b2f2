"""APScheduler wiring: every replica ticks; the database decides who sends what.

APScheduler 3 cannot share a job store between processes, so each process keeps its jobs in
memory and relies on the claims in ``crm/nudges.py`` (and the digest claims) for
exactly-once. The first tick runs at start, so nudges missed while every process was down
go out straight away.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from crm.activity_types import label_for
from crm.channel_events import prune_sent_posts
from crm.housekeeping import prune_processed_events
from crm.value import recompute_all_tiers
from reminders.channel_posts import channel_post_tick, make_poster
from reminders.delivery import Pacer, Tokens
from reminders.digests import digest_tick, make_digest_sender
from reminders.nudges import SlackNudgeSender, send_due_nudges

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)

TICK_BUDGET_SECONDS = 45  # stop draining before the next tick is due
NUDGES_PER_SECOND = 5.0


def nudge_client(services: Services) -> WebClient:
    """A client that retries only 429s (which never posted), not timeouts or 5xx (which may have)."""
    return WebClient(
        token=services.settings.slack_bot_token,
        base_url=services.settings.slack_api_url,
        timeout=10,
        retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=1)],
    )


def make_sender(services: Services, client: WebClient, rate: float = NUDGES_PER_SECOND) -> SlackNudgeSender:
    return SlackNudgeSender(
        client=client,
        timezone_of=lambda c: services.people.tz(client, c.workspace_id, c.owner_user_id),
        type_label=lambda key: label_for(services.settings, key),
        pacer=Pacer(rate),
        tokens=Tokens(services.bot_token, services.token_died),
        config_for=services.config,
    )


# Claim a few at a time: at 5 sends a second that is a second's work, so a replica that dies
# mid-tick strands at most this many nudges, and only until their lease runs out.
NUDGE_BATCH = 5


def nudge_tick(services: Services, sender: SlackNudgeSender, *, batch: int = NUDGE_BATCH) -> int:
    """Drain what is due, batch by batch, within the tick's time budget; return how many were sent."""
    started = time.monotonic()
    lease = timedelta(seconds=services.settings.nudge_lease_seconds)
    sent = 0
    while True:
        report = send_due_nudges(
            services.session_factory, sender, services.now(), replica=services.replica_id, batch=batch, lease=lease
        )
        sent += report.sent
        if report.claimed < batch or time.monotonic() - started > TICK_BUDGET_SECONDS or report.failed:
            return sent


def start_scheduler(services: Services) -> BackgroundScheduler:
    client = nudge_client(services)
    sender = make_sender(services, client)
    scheduler = BackgroundScheduler(timezone=UTC)
    # A fixed id (replace_existing), one run at a time, missed runs folded into one.
    once = {"replace_existing": True, "max_instances": 1, "coalesce": True}
    # The senders start at once, and a tick up to 30 s late still runs.
    prompt = {**once, "misfire_grace_time": 30, "next_run_time": datetime.now(UTC)}
    scheduler.add_job(
        nudge_tick,
        IntervalTrigger(seconds=services.settings.nudge_interval_seconds, timezone=UTC),
        args=(services, sender),
        id="follow_up_nudges",
        **prompt,
    )
    scheduler.add_job(
        digest_tick,
        IntervalTrigger(seconds=60, timezone=UTC),
        # its own client: each sender points its client at the token of the workspace it sends to
        args=(services, make_digest_sender(services, nudge_client(services))),
        id="pipeline_digests",
        **prompt,
    )
    # Value tiers (crm.value): once at start, then daily; idempotent, so every replica may run it.
    scheduler.add_job(
        lambda: recompute_all_tiers(services.session_factory, now=services.now()),
        IntervalTrigger(hours=24, timezone=UTC),
        id="value_tiers",
        **{**once, "next_run_time": datetime.now(UTC) + timedelta(seconds=30)},
    )
    scheduler.add_job(
        channel_post_tick,
        IntervalTrigger(seconds=30, timezone=UTC),
        args=(services, make_poster(services, client)),
        id="channel_posts",
        **prompt,
    )
    scheduler.add_job(
        lambda: prune_sent_posts(services.session_factory, now=services.now()),
        IntervalTrigger(hours=1, timezone=UTC),
        id="prune_channel_posts",
        **once,
    )
    scheduler.add_job(
        lambda: prune_processed_events(services.session_factory, now=services.now()),
        IntervalTrigger(hours=1, timezone=UTC),
        id="prune_processed_events",
        **once,
    )
    scheduler.start()
    log.info("scheduler started: nudges every %ss", services.settings.nudge_interval_seconds)
    return scheduler
