"""Posting the daily pipeline digests: at each channel's local time, exactly once, never lost.

:func:`send_due_digests` is the scheduled job, a plain function of a session factory, a
sender and ``now``; every replica runs it each minute and ``crm.digest_schedule`` makes sure
each subscription's digest is claimed by one of them per local day (see that module).

Where the digest goes:

- into the channel; when Slack says ``not_in_channel`` the bot joins the (public) channel
  with ``conversations.join`` and posts again;
- never into a Slack Connect channel (``conversations.info`` ``is_ext_shared``): the
  subscriber gets it by DM, with the reason;
- a private channel the bot is not in, an archived or vanished channel: the subscriber gets
  it by DM, with how to fix it.

The digest is a short summary (``chat.postMessage``) with the detail and the charts
(``files_upload_v2``) in a thread reply under it. Each post carries message metadata
(subscription id and local day). The summary's channel and ts, then the reply's ts, are kept on
the run as soon as each is posted (``crm.digest_schedule.mark_posted``), so a retry posts only
what is missing. When an earlier attempt ended in doubt (a timeout, a 5xx, a replica that
died), the sender first looks for that post in the channel's (or the DM's) history, and for
the reply and the charts in the thread, instead of posting a second one.

"Late" is said only when the app was down at the digest's time (:class:`Uptime`), not when the
clock jumped while it ran.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from sqlalchemy.orm import Session, sessionmaker

from commands.digests.charts import SharedChannel, digest_charts, upload_charts
from commands.digests.views import delivery_notice, detail_blocks, detail_text, digest_blocks, digest_text
from crm import digest_schedule as schedule
from crm.activity_types import label_for
from crm.charts import Chart
from crm.digest import Digest, ForecastInputs, build_digest
from crm.digest_schedule import Claim
from crm.forecast import probabilities_for
from crm.lifecycle import lifecycle_for
from crm.pipeline_stages import PipelineStages, stages_of
from crm.stale import StaleRule, stale_rule_for
from crm.states import DeliveryError, DeliveryNote, DmReason
from crm.value import DEFAULT_KEY_ACCOUNT_DAYS
from crm.workspace_config import WorkspaceConfig
from reminders.delivery import Delivery, Pacer, Tokens, ambiguous, find_posted, open_dm, refused

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)

METADATA_EVENT = "crm_pipeline_digest"
DETAIL_EVENT = "crm_pipeline_digest_detail"  # the thread reply under the summary
DIGESTS_PER_SECOND = 1.0  # chat.postMessage allows about one message per second per channel
TICK_BUDGET_SECONDS = 45
GONE = {"channel_not_found", "is_archived"}


@dataclass
class DigestTickReport:
    due: int = 0
    claimed: int = 0
    posted: int = 0
    late: int = 0
    by_dm: int = 0
    found_already_sent: int = 0
    failed: int = 0
    lost_claims: int = 0


def _boottime() -> float:
    """Seconds on a clock that counts suspended time too (Linux), else the monotonic clock."""
    clock = getattr(time, "CLOCK_BOOTTIME", None)
    return time.clock_gettime(clock) if clock is not None else time.monotonic()


class Uptime:
    """Since when (on the app's clock) this replica has been running: what "late" is measured by.

    It starts when the replica starts (``started``, else at its first tick). A wall clock that
    jumps forward while the app runs (the playground, an NTP step) moves nothing, so a digest
    due inside the jump is not "late". A machine that was suspended is down for that time: the
    boot-time clock ran on while the monotonic one stood still, so ``since`` starts again."""

    def __init__(
        self,
        started: datetime | None = None,
        *,
        gap: timedelta = timedelta(minutes=3),
        monotonic: Callable[[], float] = time.monotonic,
        boottime: Callable[[], float] = _boottime,
    ):
        self.since = started
        self.gap = gap.total_seconds()
        self._monotonic, self._boottime = monotonic, boottime
        self._mono, self._boot = monotonic(), boottime()

    def tick(self, now: datetime) -> datetime:
        mono, boot = self._monotonic(), self._boottime()
        asleep = (boot - self._boot) - (mono - self._mono)
        if self.since is None or asleep > self.gap:
            self.since = now
        self._mono, self._boot = mono, boot
        return self.since


@dataclass
class SlackDigestSender:
    """Renders a digest and gets it to the channel, or to the subscriber when it can't go there."""

    client: WebClient
    stages: PipelineStages
    type_label: Callable[[str], str] = lambda key: key.capitalize()
    pacer: Pacer = field(default_factory=lambda: Pacer(DIGESTS_PER_SECOND))
    # (workspace id, user id) → display name: digests name reps, never ping them.
    name_of: Callable[[int, str], str] = lambda _ws, user: user
    charts: bool = True  # draw the charts into the thread
    stale: StaleRule | None = None  # the per-stage rule (default: crm.stale's)
    uptime: Uptime = field(default_factory=Uptime)  # make_digest_sender starts it with the app
    tokens: Tokens | None = None  # per-workspace tokens (None: the client's one token, tests)
    # a workspace's own settings (stages, type labels, stale days), as its admins set them
    config_for: Callable[[int], WorkspaceConfig] | None = None
    stale_days: int | None = None
    key_account_days: int = DEFAULT_KEY_ACCOUNT_DAYS  # CRM_KEY_ACCOUNT_DAYS
    forecast_with: ForecastInputs | None = None  # the weekly forecast part (None: never)
    _dm: dict[str, str] = field(default_factory=dict)

    def use(self, workspace_id: int) -> None:
        """Render the next digest with this workspace's own settings (one thread uses a sender)."""
        if self.config_for is not None:
            config = self.config_for(workspace_id)
            self.stages, self.type_label, self.stale_days = config.stages, config.type_label, config.stale_days
            self.stale = config.stale
            self.key_account_days = config.key_account_days
            if self.forecast_with is not None:  # the weekly forecast, with the workspace's stages' odds
                self.forecast_with = ForecastInputs(config.lifecycle, config.probabilities)

    # -- helpers ---------------------------------------------------------------------------
    @staticmethod
    def _payload(claim: Claim) -> dict[str, Any]:
        return {"subscription_id": claim.subscription_id, "run_date": claim.run_date.isoformat()}

    def _message(self, claim: Claim, digest: Digest, notice: str | None = None) -> dict[str, Any]:
        return {
            "text": digest_text(digest),
            "blocks": digest_blocks(
                digest,
                stages=self.stages,
                type_label=self.type_label,
                late_for=claim.scheduled_at if claim.late else None,
                notice=notice,
                name_of=lambda user: self.name_of(claim.workspace_id, user),
            ),
            "metadata": {"event_type": METADATA_EVENT, "event_payload": self._payload(claim)},
            "unfurl_links": False,
            "unfurl_media": False,
        }

    def _detail(self, claim: Claim, digest: Digest, thread_ts: str, notes: list[str]) -> dict[str, Any]:
        return {
            "text": detail_text(digest),
            "blocks": detail_blocks(
                digest,
                stages=self.stages,
                type_label=self.type_label,
                name_of=lambda user: self.name_of(claim.workspace_id, user),
                notes=notes,
            ),
            "thread_ts": thread_ts,
            "metadata": {"event_type": DETAIL_EVENT, "event_payload": self._payload(claim)},
            "unfurl_links": False,
            "unfurl_media": False,
        }

    def draw(self, sf: sessionmaker[Session], claim: Claim, digest: Digest) -> list[Chart]:
        """The digest's charts; none (and a log line) if drawing fails: the digest matters more."""
        if not self.charts:
            return []
        try:
            return digest_charts(
                sf,
                digest,
                stages=self.stages,
                type_label=self.type_label,
                name_of=lambda user: self.name_of(claim.workspace_id, user),
            )
        except Exception:  # a chart must never stop the digest
            log.exception("digest %s: drawing the charts failed", claim.subscription_id)
            return []

    def dm_channel(self, user: str) -> str:
        return open_dm(self.client, self._dm, user)

    def _find_in(self, channel: str, claim: Claim) -> str | None:
        return find_posted(self.client, channel, METADATA_EVENT, self._payload(claim))

    def find_sent(self, claim: Claim) -> Delivery | None:
        """The post an earlier, interrupted attempt made (in the channel or the subscriber's DM)."""
        try:
            ts = self._find_in(claim.channel_id, claim)
            if ts:
                return Delivery(True, claim.channel_id, ts, note=DeliveryNote.ALREADY_SENT)
        except SlackApiError as exc:
            if exc.response.get("error") not in ("not_in_channel", "channel_not_found"):
                raise
        dm = self.dm_channel(claim.subscriber_user_id)
        ts = self._find_in(dm, claim)
        return Delivery(True, dm, ts, note=DeliveryNote.ALREADY_SENT) if ts else None

    def _post(self, channel: str, message: dict[str, Any]) -> Delivery:
        self.pacer.wait()
        response = self.client.chat_postMessage(channel=channel, **message)
        return Delivery(True, response.get("channel", channel), response.get("ts"))

    def to_subscriber(self, claim: Claim, digest: Digest, reason: DmReason) -> Delivery:
        """The digest by DM to whoever subscribed, saying why it didn't go to the channel."""
        try:
            dm = self.dm_channel(claim.subscriber_user_id)
            sent = self._post(dm, self._message(claim, digest, delivery_notice(reason, claim.channel_id)))
        except SlackApiError as exc:
            failed = refused(exc)
            failed.error = f"dm after {reason}: {failed.error}"
            return failed
        sent.note = DeliveryNote.BY_DM.of(reason)
        return sent

    # -- the delivery ----------------------------------------------------------------------
    def deliver(self, claim: Claim, digest: Digest) -> Delivery:
        """Deliver with the workspace's own token; park it when the workspace has none (uninstalled)."""
        if self.tokens is None:
            return self._deliver(claim, digest)
        parked = self.tokens.aim(self.client, claim.workspace_id)
        if parked is not None:
            return parked
        return self.tokens.check(claim.workspace_id, self._deliver(claim, digest))

    def _deliver(self, claim: Claim, digest: Digest) -> Delivery:
        """The summary: posted, found (an earlier attempt posted it), or sent to the subscriber."""
        if claim.posted_ts and claim.posted_channel:
            return Delivery(True, claim.posted_channel, claim.posted_ts, note=DeliveryNote.ALREADY_SENT)
        try:
            if claim.recovered:
                found = self.find_sent(claim)
                if found is not None:
                    return found
            try:
                info = self.client.conversations_info(channel=claim.channel_id)["channel"]
            except SlackApiError as exc:
                if exc.response.get("error") == "channel_not_found":
                    return self.to_subscriber(claim, digest, DmReason.CHANNEL_NOT_FOUND)
                raise
            if info.get("is_ext_shared") or info.get("is_pending_ext_shared"):
                return self.to_subscriber(claim, digest, DmReason.SLACK_CONNECT)
            if info.get("is_archived"):
                return self.to_subscriber(claim, digest, DmReason.ARCHIVED)
            message = self._message(claim, digest)
            try:
                return self._post(claim.channel_id, message)
            except SlackApiError as exc:
                error = exc.response.get("error")
                if error == "not_in_channel":
                    return self._join_and_post(claim, digest, message, private=bool(info.get("is_private")))
                if error in GONE:
                    reason = DmReason.ARCHIVED if error == "is_archived" else DmReason.CHANNEL_NOT_FOUND
                    return self.to_subscriber(claim, digest, reason)
                raise
        except SlackApiError as exc:
            return refused(exc)
        except (SlackClientError, OSError) as exc:  # timeouts, resets: Slack may have posted
            return ambiguous(exc)

    def _join_and_post(self, claim: Claim, digest: Digest, message: dict[str, Any], *, private: bool) -> Delivery:
        if private:
            return self.to_subscriber(claim, digest, DmReason.NOT_IN_CHANNEL)
        try:
            self.client.conversations_join(channel=claim.channel_id)
        except SlackApiError as exc:
            log.info("could not join %s: %s", claim.channel_id, exc.response.get("error"))
            return self.to_subscriber(claim, digest, DmReason.NOT_IN_CHANNEL)
        return self._post(claim.channel_id, message)

    def _in_thread(self, channel: str, ts: str) -> list[dict[str, Any]]:
        replies = self.client.conversations_replies(channel=channel, ts=ts, limit=200, include_all_metadata=True)
        return list(replies.get("messages") or [])[1:]

    def finish_thread(
        self,
        claim: Claim,
        digest: Digest,
        summary: Delivery,
        charts: list[Chart],
        record_detail: Callable[[str], object],
    ) -> Delivery:
        """The detail reply and the charts under the summary, each once; ``record_detail(ts)`` keeps the reply."""
        channel, ts = summary.channel, summary.ts
        if not channel or not ts:
            return summary
        try:
            replies = self._in_thread(channel, ts) if claim.recovered else []
            detail_ts = claim.detail_ts
            if detail_ts is None:
                payload = self._payload(claim)
                for message in replies:
                    meta = message.get("metadata") or {}
                    if meta.get("event_type") == DETAIL_EVENT and meta.get("event_payload") == payload:
                        detail_ts = message.get("ts")
                if detail_ts is None:
                    notes = [c.comment for c in charts if c.png is None]
                    self.pacer.wait()
                    detail_ts = self._post(channel, self._detail(claim, digest, ts, notes)).ts
                record_detail(detail_ts or "")
            posted = {f.get("name") for m in replies for f in (m.get("files") or [])}
            todo = [c for c in charts if c.png is not None and c.name not in posted]
            if todo:
                self.pacer.wait()
                try:
                    upload_charts(self.client, channel, todo, thread_ts=ts)
                except SharedChannel:
                    log.info(
                        "digest %s: %s is shared with another organisation: no charts", claim.subscription_id, channel
                    )
        except SlackApiError as exc:
            return refused(exc)
        except (SlackClientError, OSError) as exc:
            return ambiguous(exc)
        return summary


def send_due_digests(
    sf: sessionmaker[Session],
    sender: SlackDigestSender,
    now: datetime,
    *,
    replica: str,
    stale_days: int = 14,
    stale: StaleRule | None = None,
    batch: int = 20,
    lease: timedelta = timedelta(minutes=5),
    up_since: datetime | None = None,
) -> DigestTickReport:
    """One tick: claim the digests due now (at most ``batch``), build and post each.

    ``up_since``: since when this replica has run without a gap (:class:`Uptime`); a digest
    due after that is not "late" however far the clock moved."""
    report = DigestTickReport()
    due = schedule.due_runs(sf, now)
    report.due = len(due)
    for item in due:
        if report.claimed >= batch:
            break
        claimed = schedule.claim(sf, item, now=now, replica=replica, lease=lease, up_since=up_since)
        if claimed is None:
            continue
        report.claimed += 1
        sender.use(claimed.workspace_id)
        try:
            digest = build_digest(
                sf,
                claimed.workspace_id,
                now=now,
                tz=claimed.timezone,
                stages=sender.stages,
                previous=claimed.previous_snapshot,
                stale_days=sender.stale_days or stale_days,
                stale=stale or sender.stale,
                key_account_days=sender.key_account_days,
                forecast_with=sender.forecast_with,
            )
        except Exception:  # one workspace's broken data must not stop the other digests
            log.exception("digest %s: building failed", claimed.subscription_id)
            schedule.mark_failed(sf, claimed, replica=replica, now=now, error=DeliveryError.BUILD_FAILED)
            report.failed += 1
            continue
        outcome = _deliver(sf, sender, claimed, digest, replica)
        if outcome.ok:
            if schedule.mark_done(
                sf, claimed, replica=replica, now=now, ts=outcome.ts, note=outcome.note, snapshot=digest.snapshot()
            ):
                report.posted += 1
                report.late += claimed.late
                report.by_dm += bool(outcome.note and outcome.note.startswith(f"{DeliveryNote.BY_DM}:"))
                report.found_already_sent += outcome.note == DeliveryNote.ALREADY_SENT
            else:
                report.lost_claims += 1
                log.warning("digest %s: claim lost while posting", claimed.subscription_id)
            continue
        report.failed += 1
        log.warning("digest %s: not posted (%s)", claimed.subscription_id, outcome.error)
        if outcome.permanent:
            schedule.mark_done(
                sf,
                claimed,
                replica=replica,
                now=now,
                ts=None,
                note=DeliveryNote.FAILED.of(outcome.error or DeliveryError.UNKNOWN),
            )
            continue
        schedule.mark_failed(
            sf,
            claimed,
            replica=replica,
            now=now,
            error=outcome.error or DeliveryError.UNKNOWN,
            retry_after=outcome.retry_after,
        )
        if outcome.error == DeliveryError.RATELIMITED:
            break  # Slack says slow down: the rest stay unclaimed for a later tick
    return report


def _deliver(sf: sessionmaker[Session], sender: SlackDigestSender, claimed: Claim, digest: Digest, replica: str):
    """The summary, kept on the run at once, then its thread (the detail reply and the charts)."""
    charts = sender.draw(sf, claimed, digest)
    summary = sender.deliver(claimed, digest)
    if not summary.ok or not summary.ts:
        return summary
    if summary.ts != claimed.posted_ts:
        schedule.mark_posted(sf, claimed, replica=replica, channel=summary.channel, ts=summary.ts)

    def record(detail_ts: str) -> None:
        schedule.mark_posted(sf, claimed, replica=replica, channel=summary.channel, ts=summary.ts, detail_ts=detail_ts)

    thread = sender.finish_thread(claimed, digest, summary, charts, record)
    if not thread.ok and thread.permanent:  # the summary is out: finish the day, saying what failed
        return Delivery(True, summary.channel, summary.ts, note=f"thread failed: {thread.error}"[:255])
    return thread


def make_digest_sender(services: Services, client: WebClient, rate: float = DIGESTS_PER_SECOND) -> SlackDigestSender:
    s = services.settings
    return SlackDigestSender(
        client=client,
        stages=stages_of(services.settings),
        type_label=lambda key: label_for(services.settings, key),
        pacer=Pacer(rate),
        name_of=lambda ws, user: services.people.get(client, ws, user).full_name,
        stale=stale_rule_for(s.stale_days, s.stale_days_by_stage, s.deal_stages),
        uptime=Uptime(services.now()),
        tokens=Tokens(services.bot_token, services.token_died),
        config_for=services.config,
        key_account_days=s.key_account_days,
        forecast_with=ForecastInputs(
            lifecycle_for(s.lifecycle_stages), dict(probabilities_for(s.stage_probabilities, s.deal_stages))
        ),
    )


def digest_tick(services: Services, sender: SlackDigestSender) -> int:
    """The APScheduler job: post what is due, within the tick's budget; return how many went out."""
    started = time.monotonic()
    posted = 0
    while True:
        now = services.now()
        report = send_due_digests(
            services.session_factory,
            sender,
            now,
            replica=services.replica_id,
            stale_days=services.settings.stale_days,
            up_since=sender.uptime.tick(now),
        )
        posted += report.posted
        if not report.claimed or report.failed or time.monotonic() - started > TICK_BUDGET_SECONDS:
            return posted
