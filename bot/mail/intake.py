"""One place every inbound mail goes through, from the SMTP receiver or a webhook: the size limit,
parsing, the Slack look-up of the sender, :func:`crm.mail.capture.capture`, and a log line with
the outcome (a refusal always says why)."""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from sqlalchemy import select

from commands.blockkit import escape_mrkdwn
from crm.mail.capture import Envelope, LookupUnavailable, MailConfig, Outcome, Result, capture
from crm.mail.parse import parse_mail
from crm.models import Workspace

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger("crm.mail")

LOOKUP_TTL = 600.0  # seconds a users.lookupByEmail answer is reused


class MailIntake:
    def __init__(self, services: Services, client: WebClient) -> None:
        settings = services.settings
        assert settings.mail_domain, "email capture needs CRM_MAIL_DOMAIN"
        self.services = services
        self.client = client
        self.max_bytes = settings.mail_max_bytes
        self.config = MailConfig(
            domain=settings.mail_domain,
            local_part=settings.mail_local_part,
            sender_domains=settings.mail_sender_domains,
            authserv_id=settings.mail_authserv_id,
        )
        self._cache: dict[tuple[int, str], tuple[float, str | None]] = {}
        self._clients: dict[str, WebClient] = {}
        self._lock = threading.Lock()

    def client_for(self, workspace_id: int) -> WebClient:
        """A client with the workspace's own token (OAuth: each workspace has its own; one client per
        token, as a shared client's token must not change under another thread's call). Raises
        :class:`LookupUnavailable` when the app has no token there (uninstalled, revoked)."""
        token = self.services.bot_token(workspace_id)
        if token is None:
            raise LookupUnavailable("the app is not installed in this workspace (uninstalled or its token revoked)")
        if token == self.client.token:
            return self.client
        with self._lock:
            client = self._clients.get(token)
            if client is None:
                if len(self._clients) > 1000:  # rotated tokens: drop the old ones
                    self._clients.clear()
                client = WebClient(token=token, base_url=self.client.base_url, timeout=self.client.timeout)
                self._clients[token] = client
        return client

    # -- who sent it ---------------------------------------------------------------------------
    def _team_id(self, workspace_id: int) -> str | None:
        with self.services.session_factory() as session:
            return session.scalar(select(Workspace.team_id).where(Workspace.id == workspace_id))

    def lookup(self, workspace_id: int, email: str) -> str | None:
        """The Slack user of the workspace with this email (``users.lookupByEmail``), None for nobody,
        a bot, a deactivated account or a member of another workspace."""
        key = (workspace_id, email)
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None and time.monotonic() - hit[0] < LOOKUP_TTL:
            return hit[1]
        try:
            user = self.client_for(workspace_id).users_lookupByEmail(email=email).get("user") or {}
        except SlackApiError as err:
            error = err.response.get("error", "") if err.response is not None else ""
            if error != "users_not_found":
                raise LookupUnavailable(error or "an error") from None
            user = {}
        except (SlackClientError, OSError) as err:
            raise LookupUnavailable(str(err) or type(err).__name__) from None
        found: str | None = user.get("id") if isinstance(user.get("id"), str) else None
        if user.get("deleted") or user.get("is_bot"):
            found = None
        team = user.get("team_id")
        if found and team and team != self._team_id(workspace_id):
            found = None  # a person of another workspace in the org: not this one's rep
        with self._lock:
            self._cache[key] = (time.monotonic(), found)
        return found

    # -- one mail ----------------------------------------------------------------------------------
    def receive(self, raw: bytes, envelope: Envelope) -> Outcome:
        if len(raw) > self.max_bytes:
            outcome = Outcome(
                Result.REFUSED, f"it is {len(raw) / 1e6:.1f} MB, over the {self.max_bytes // 2**20} MB limit"
            )
            self._log(outcome, envelope, None, None)
            return outcome
        mail = parse_mail(raw)
        now = self.services.now()
        outcome = capture(
            self.services.session_factory,
            mail,
            envelope,
            config=self.config,
            lookup=self.lookup,
            types=lambda workspace_id: self.services.config(workspace_id).types,
            now=now,
        )
        self._log(outcome, envelope, mail.sender.email if mail.sender else None, mail.message_id)
        if outcome.result == Result.UNFILED and outcome.rep_user_id:
            self._tell_unfiled(outcome, mail.subject)
        if mail.defects and outcome.result in (Result.LOGGED, Result.UNFILED):
            log.info("mail %s had unreadable parts: %s", mail.message_id, "; ".join(mail.defects))
        return outcome

    def _tell_unfiled(self, outcome: Outcome, subject: str) -> None:
        """A DM to the rep: the mail waits for them to pick the customer (never guessed)."""
        which = "matches several customers" if len(outcome.customer_ids) > 1 else "matches no customer"
        text = (
            f"✉️ Your email “{escape_mrkdwn(subject[:150] or '(no subject)')}” {which}, so it isn't logged yet: "
            "pick the customer under “Unfiled email” in my Home tab."
        )
        try:
            client = self.client_for(outcome.workspace_id) if outcome.workspace_id is not None else self.client
            client.chat_postMessage(channel=outcome.rep_user_id or "", text=text)
        except (SlackApiError, SlackClientError, OSError, LookupUnavailable) as err:
            log.warning("could not tell %s about unfiled mail: %s", outcome.rep_user_id, err)

    def _log(self, outcome: Outcome, envelope: Envelope, sender: str | None, message_id: str | None) -> None:
        level = logging.WARNING if outcome.result in (Result.REFUSED, Result.RETRY) else logging.INFO
        log.log(
            level,
            "mail via %s from %s (Message-ID %s): %s: %s",
            envelope.via,
            sender or envelope.mail_from or "?",
            message_id or "none",
            outcome.result,
            outcome.reason,
        )
