"""Sending due follow-up nudges as DMs: exactly once, paced, retried, never dropped.

:func:`send_due_nudges` is the scheduled job: a plain function of a session factory, a
sender and ``now``. Every replica runs it; :func:`crm.nudges.claim_due` makes sure each
nudge is sent by one of them. See ``crm/nudges.py`` for the claim protocol.

Ambiguous outcomes (a timeout or a 5xx: Slack may have posted) are not resent blindly:
each DM carries message metadata with the follow-up id and due time, and before sending a
nudge whose earlier attempt is in doubt the sender looks for it in the DM's history.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from sqlalchemy.orm import Session, sessionmaker

from commands.followups.nudge_dm import nudge_blocks, nudge_text
from crm import nudges
from crm.nudges import Claimed
from crm.states import DeliveryError, DeliveryNote
from crm.workspace_config import WorkspaceConfig
from reminders.delivery import Delivery, Pacer, Tokens, ambiguous, find_posted, open_dm, refused

log = logging.getLogger(__name__)

METADATA_EVENT = "crm_follow_up_nudge"


@dataclass
class TickReport:
    claimed: int = 0
    sent: int = 0
    failed: int = 0
    found_already_sent: int = 0
    lost_claims: int = 0


@dataclass
class SlackNudgeSender:
    """Posts nudge DMs with a client that never re-sends by itself on errors that may have posted."""

    client: WebClient
    timezone_of: Callable[[Claimed], str]
    type_label: Callable[[str], str] = lambda key: key.capitalize()
    pacer: Pacer = field(default_factory=lambda: Pacer(5.0))
    tokens: Tokens | None = None  # per-workspace tokens (None: the client's one token, tests)
    # a workspace's own settings (its activity type labels), as its admins set them
    config_for: Callable[[int], WorkspaceConfig] | None = None
    _dm: dict[str, str] = field(default_factory=dict)

    def dm_channel(self, user: str) -> str:
        return open_dm(self.client, self._dm, user)

    @staticmethod
    def _payload(claimed: Claimed) -> dict:
        return {"follow_up_id": claimed.follow_up_id, "due": claimed.due_at.isoformat()}

    def find_sent(self, claimed: Claimed) -> Delivery | None:
        """The DM an earlier, interrupted attempt posted, if it did."""
        channel = self.dm_channel(claimed.owner_user_id)
        ts = find_posted(self.client, channel, METADATA_EVENT, self._payload(claimed))
        return Delivery(True, channel, ts, note=DeliveryNote.ALREADY_SENT) if ts else None

    def _find_sent_if_allowed(self, claimed: Claimed) -> Delivery | None:
        """:meth:`find_sent`, unless the app may not read DMs: then sending again (at least once)
        beats never reminding the rep, and the admin is told in the log to grant the scope."""
        try:
            return self.find_sent(claimed)
        except SlackApiError as exc:
            if exc.response.get("error") not in ("missing_scope", "not_allowed_token_type"):
                raise
            log.warning(
                "can't check whether follow-up %s was already nudged (%s): grant im:history; sending again",
                claimed.follow_up_id,
                exc.response.get("error"),
            )
            return None

    def send(self, claimed: Claimed, now: datetime) -> Delivery:
        """Send with the workspace's own token; park it when the workspace has none (uninstalled)."""
        if self.config_for is not None:
            self.type_label = self.config_for(claimed.workspace_id).type_label
        if self.tokens is None:
            return self._send(claimed, now)
        parked = self.tokens.aim(self.client, claimed.workspace_id)
        if parked is not None:
            return parked
        return self.tokens.check(claimed.workspace_id, self._send(claimed, now))

    def _send(self, claimed: Claimed, now: datetime) -> Delivery:
        try:
            if claimed.recovered:
                found = self._find_sent_if_allowed(claimed)
                if found is not None:
                    return found
            channel = self.dm_channel(claimed.owner_user_id)
            self.pacer.wait()
            tz = self.timezone_of(claimed)
            response = self.client.chat_postMessage(
                channel=channel,
                text=nudge_text(claimed),
                blocks=nudge_blocks(claimed, tz=tz, now=now, type_label=self.type_label),
                metadata={"event_type": METADATA_EVENT, "event_payload": self._payload(claimed)},
                unfurl_links=False,
            )
            return Delivery(True, response.get("channel", channel), response.get("ts"))
        except SlackApiError as exc:
            return refused(exc, permanent_errors=nudges.PERMANENT_ERRORS)
        except (SlackClientError, OSError) as exc:  # timeouts, resets: Slack may have posted
            return ambiguous(exc)


def send_due_nudges(
    sf: sessionmaker[Session],
    sender: SlackNudgeSender,
    now: datetime,
    *,
    replica: str,
    batch: int = 50,
    lease: timedelta = timedelta(minutes=5),
) -> TickReport:
    """One tick: claim what is due (at most ``batch``) and send it."""
    report = TickReport()
    claimed = nudges.claim_due(sf, now=now, replica=replica, limit=batch, lease=lease)
    report.claimed = len(claimed)
    for position, item in enumerate(claimed):
        outcome = sender.send(item, now)
        if outcome.ok:
            if outcome.note == DeliveryNote.ALREADY_SENT:
                report.found_already_sent += 1
            if nudges.mark_sent(
                sf, item.follow_up_id, replica=replica, now=now, channel=outcome.channel, ts=outcome.ts
            ):
                report.sent += 1
            else:
                report.lost_claims += 1
                log.warning("follow-up %s: claim lost while sending", item.follow_up_id)
        else:
            report.failed += 1
            log.warning("follow-up %s: nudge refused (%s)", item.follow_up_id, outcome.error)
            nudges.mark_failed(
                sf,
                item.follow_up_id,
                replica=replica,
                now=now,
                error=outcome.error or DeliveryError.UNKNOWN,
                permanent=outcome.permanent,
                retry_after=outcome.retry_after,
            )
            if outcome.error == DeliveryError.RATELIMITED:
                # Slack says slow down: hand the rest back for a later tick instead of hammering.
                rest = [c.follow_up_id for c in claimed[position + 1 :]]
                nudges.release(sf, rest, replica=replica)
                break
    return report
