"""Real RFC 5322 messages for the email capture tests (the standard library builds them)."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

DOMAIN = "mail.example.com"
RITA = "rita@ourco.com"  # REP's Slack email
SAM = "sam@ourco.com"  # REP2's


def message(
    *,
    frm: str = f"Rita Rep <{RITA}>",
    to: str = "Jane Doe <jane@acme.com>",
    cc: str | None = None,
    subject: str = "Your quote",
    body: str = "Hi Jane,\n\nHere is the quote we discussed.\n\nRita",
    date=None,
    msgid: str | None = None,
    headers: dict[str, str] | None = None,
    attachments: list[tuple[str, bytes]] = (),  # type: ignore[assignment]
    html: str | None = None,
) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = frm
    msg["To"] = to
    if cc:
        msg["Cc"] = cc
    msg["Subject"] = subject
    if date is not None:
        msg["Date"] = format_datetime(date)
    msg["Message-ID"] = msgid or make_msgid(domain="ourco.com")
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(body)
    if html:
        msg.add_alternative(html, subtype="html")
    for name, data in attachments:
        msg.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
    return msg
