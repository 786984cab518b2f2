"""The built-in SMTP receiver (``aiosmtpd``), off unless CRM_MAIL_SMTP_PORT is set.

Recipients are checked as they are named (RCPT TO): only ``<local>+<token>@<CRM_MAIL_DOMAIN>``
is accepted, so it never relays; a sender outside CRM_MAIL_SENDER_DOMAINS is refused at MAIL FROM.
With CRM_MAIL_TLS_CERT and CRM_MAIL_TLS_KEY it offers STARTTLS. The message itself goes to
:class:`bot.mail.intake.MailIntake` on a worker thread; a refusal is a 550 with the reason, a
Slack outage a 451 (the sending server tries again later), a mail over the size limit a 552
before its data is read.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from typing import Any

from aiosmtpd.controller import Controller

from bot.config import ConfigError
from bot.mail.intake import MailIntake
from crm.mail.capture import Envelope, Result
from crm.mail.inbox import token_in

log = logging.getLogger("crm.mail")


class CaptureHandler:
    def __init__(self, intake: MailIntake) -> None:
        self.intake = intake

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        domains = self.intake.config.sender_domains
        domain = address.rpartition("@")[2].lower()
        if address and domains and domain not in domains:
            log.warning("SMTP from %s refused: not one of CRM_MAIL_SENDER_DOMAINS", address)
            return f"550 5.7.1 Mail from {domain} is not accepted here (CRM_MAIL_SENDER_DOMAINS)"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        config = self.intake.config
        if token_in(address, local_part=config.local_part, domain=config.domain) is None:
            log.warning("SMTP to %s refused: not a capture address", address)
            return "550 5.1.1 No such mailbox here: send to your workspace's CRM address (/crm email)"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content or b""
        env = Envelope(via="smtp", mail_from=envelope.mail_from, recipients=tuple(envelope.rcpt_tos))
        loop = asyncio.get_running_loop()
        try:
            outcome = await loop.run_in_executor(None, self.intake.receive, raw, env)
        except Exception:  # the database is down, say: the sender tries again later
            log.exception("SMTP mail could not be stored")
            return "451 4.3.0 Could not store the mail just now; please try again later"
        reason = outcome.reason.replace("\r", " ").replace("\n", " ")[:400]
        if outcome.result == Result.REFUSED:
            return f"550 5.7.1 Not logged: {reason}"
        if outcome.result == Result.RETRY:
            return f"451 4.4.3 Try again later: {reason}"
        return f"250 OK {outcome.result}"


def free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def start_smtp(intake: MailIntake, *, host: str, port: int) -> Controller:
    """Start the receiver on its own thread (port 0 picks a free one: ``controller.port``)."""
    port = port or free_port(host)
    settings = intake.services.settings
    tls = None
    if settings.mail_tls_cert and settings.mail_tls_key:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        try:
            tls.load_cert_chain(settings.mail_tls_cert, settings.mail_tls_key)
        except (OSError, ssl.SSLError) as err:
            raise ConfigError(f"CRM_MAIL_TLS_CERT / CRM_MAIL_TLS_KEY could not be loaded ({err}).") from None
    controller = Controller(
        CaptureHandler(intake),
        hostname=host,
        port=port,
        data_size_limit=intake.max_bytes,
        decode_data=False,
        server_hostname=intake.config.domain,
        ident="crm-bot",
        tls_context=tls,  # STARTTLS offered when set; plain mail is still taken (as port 25 must)
    )
    controller.start()
    log.info(
        "receiving mail by SMTP on %s:%s for *@%s%s", host, port, intake.config.domain, " (STARTTLS)" if tls else ""
    )
    return controller
