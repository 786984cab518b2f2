"""Posting queued record events and deal alerts in channels: exactly once, paced, never forever.

:func:`channel_post_tick` is the scheduled job. Every replica runs it: it first queues overdue
follow-ups (``crm.channel_events.queue_overdue``, deduplicated by the outbox key), then claims
due posts (``claim_posts``) and sends them. A post whose earlier attempt is in doubt (a timeout,
a 5xx, a replica that died) is looked up in the channel's history by its message metadata before
it is sent again. A channel that is gone, archived or without the bot parks its posts and records
why on its link or subscription (``mark_refused``), so nothing is retried forever.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from sqlalchemy.orm import Session, sessionmaker

from commands.rooms.views import event_message
from crm import channel_events as outbox
from crm.channel_events import ClaimedPost
from crm.states import DeliveryError, DeliveryNote
from reminders.delivery import Delivery, Pacer, Tokens, ambiguous, find_posted, refused

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)

METADATA_EVENT = "crm_channel_post"
POSTS_PER_SECOND = 1.0  # Slack's pace for one channel; alerts and record events are few
POST_BATCH = 5
TICK_BUDGET_SECONDS = 45
SHARING_TTL = 300.0


@dataclass
class PostReport:
    claimed: int = 0
    sent: int = 0
    failed: int = 0
    found_already_sent: int = 0
    lost_claims: int = 0
    queued_overdue: int = 0


@dataclass
class SlackChannelPoster:
    """Posts one event message per claimed row, with metadata naming the row."""

    client: WebClient
    name_of: Callable[[ClaimedPost, str], str]
    stage_label: Callable[[ClaimedPost, str], str] = lambda post, key: key
    type_label: Callable[[ClaimedPost, str], str] = lambda post, key: key.capitalize()
    pacer: Pacer = field(default_factory=lambda: Pacer(POSTS_PER_SECOND))
    clock: Callable[[], float] = time.monotonic
    tokens: Tokens | None = None  # per-workspace tokens (None: the client's one token, tests)
    _sharing: dict[str, tuple[float, bool]] = field(default_factory=dict)

    def is_shared(self, channel: str) -> bool:
        """Whether the channel is shared with another organisation now (Slack Connect), checked at
        most every :data:`SHARING_TTL` seconds per channel: a channel can become shared without
        the event reaching us. A channel Slack won't describe is left to the post to find out."""
        seen = self._sharing.get(channel)
        if seen is not None and self.clock() - seen[0] < SHARING_TTL:
            return seen[1]
        try:
            info = self.client.conversations_info(channel=channel)["channel"]
        except (SlackApiError, SlackClientError, OSError) as exc:
            log.info("conversations.info %s before posting: %s", channel, exc)
            return False
        shared = bool(info.get("is_ext_shared") or info.get("is_pending_ext_shared"))
        self._sharing[channel] = (self.clock(), shared)
        return shared

    def _already(self, post: ClaimedPost) -> Delivery | None:
        try:
            ts = find_posted(self.client, post.channel_id, METADATA_EVENT, {"post_id": post.post_id})
        except SlackApiError as exc:
            if exc.response.get("error") in ("missing_scope", "not_allowed_token_type"):
                log.warning(
                    "can't check whether channel post %s went out (grant channels:history); sending", post.post_id
                )
                return None
            raise
        return Delivery(True, post.channel_id, ts, note=DeliveryNote.ALREADY_SENT) if ts else None

    def send(self, post: ClaimedPost) -> Delivery:
        """Post with the workspace's own token; park it when the workspace has none (uninstalled)."""
        if self.tokens is None:
            return self._send(post)
        parked = self.tokens.aim(self.client, post.workspace_id)
        if parked is not None:
            return parked
        return self.tokens.check(post.workspace_id, self._send(post))

    def _send(self, post: ClaimedPost) -> Delivery:
        try:
            if post.recovered:
                found = self._already(post)
                if found is not None:
                    return found
            if self.is_shared(post.channel_id):
                return Delivery(False, post.channel_id, error=outbox.SHARED_ERROR, permanent=True)
            text, blocks = event_message(
                post.payload,
                name_of=lambda uid: self.name_of(post, uid),
                stage_label=lambda key: self.stage_label(post, key),
                type_label=lambda key: self.type_label(post, key),
                route=post.route,
            )
            self.pacer.wait()
            response = self.client.chat_postMessage(
                channel=post.channel_id,
                text=text,
                blocks=blocks,
                metadata={"event_type": METADATA_EVENT, "event_payload": {"post_id": post.post_id}},
                unfurl_links=False,
                unfurl_media=False,
            )
            return Delivery(True, post.channel_id, response.get("ts"))
        except SlackApiError as exc:
            return refused(exc, permanent_errors=outbox.PERMANENT_ERRORS)
        except (SlackClientError, OSError) as exc:
            return ambiguous(exc)


def send_channel_posts(
    sf: sessionmaker[Session],
    poster: SlackChannelPoster,
    now: datetime,
    *,
    replica: str,
    batch: int = POST_BATCH,
    lease: timedelta = timedelta(minutes=5),
) -> PostReport:
    """One round: claim what is due (at most ``batch``) and post it."""
    report = PostReport()
    claimed = outbox.claim_posts(sf, now=now, replica=replica, limit=batch, lease=lease)
    report.claimed = len(claimed)
    gone: set[str] = set()  # channels found gone, archived or without the bot in this round
    for position, post in enumerate(claimed):
        if post.channel_id in gone:
            continue  # parked with the refused post (mark_refused)
        outcome = poster.send(post)
        if outcome.ok:
            if outcome.note == DeliveryNote.ALREADY_SENT:
                report.found_already_sent += 1
            if outbox.mark_posted(sf, post.post_id, replica=replica, now=now, ts=outcome.ts):
                report.sent += 1
            else:
                report.lost_claims += 1
                log.warning("channel post %s: claim lost while sending", post.post_id)
            continue
        report.failed += 1
        status = outbox.mark_refused(
            sf,
            post.post_id,
            replica=replica,
            now=now,
            error=outcome.error or DeliveryError.UNKNOWN,
            permanent=outcome.permanent,
            retry_after=outcome.retry_after,
        )
        if status is not None:
            gone.add(post.channel_id)
        log.warning(
            "channel post %s to %s refused (%s)%s",
            post.post_id,
            post.channel_id,
            outcome.error,
            f"; the channel is recorded as {status}" if status else "",
        )
        if outcome.error == DeliveryError.RATELIMITED:
            outbox.release_posts(sf, [c.post_id for c in claimed[position + 1 :]], replica=replica)
            break
    return report


def channel_post_tick(services: Services, poster: SlackChannelPoster, *, batch: int = POST_BATCH) -> int:
    """Queue overdue follow-ups, then drain due posts within the tick's budget; how many were sent."""
    started = time.monotonic()
    outbox.queue_overdue(services.session_factory, now=services.now())
    sent = 0
    while True:
        report = send_channel_posts(
            services.session_factory, poster, services.now(), replica=services.replica_id, batch=batch
        )
        sent += report.sent
        if report.claimed < batch or report.failed or time.monotonic() - started > TICK_BUDGET_SECONDS:
            return sent


def make_poster(services: Services, client: WebClient, rate: float = POSTS_PER_SECOND) -> SlackChannelPoster:
    return SlackChannelPoster(
        client=client,
        name_of=lambda post, uid: services.people.get(client, post.workspace_id, uid).name,
        stage_label=lambda post, key: services.config(post.workspace_id).stage_label(key),
        type_label=lambda post, key: services.config(post.workspace_id).type_label(key),
        pacer=Pacer(rate),
        tokens=Tokens(services.bot_token, services.token_died),
    )
