"""The inbound-parse webhooks: SendGrid's Inbound Parse and Mailgun's routes, on the same server as
``/slack/events`` (``POST /mail/sendgrid``, ``POST /mail/mailgun``).

Both post ``multipart/form-data`` (read with the ``multipart`` library, within the size limit):
the raw MIME when asked for (SendGrid's "POST the raw, full MIME message" gives ``email``;
a Mailgun route forwarding to a URL ending in ``mime`` gives ``body-mime``), else parsed fields,
which are put back together into one message so that both go the same way.

- **Mailgun** signs each post: ``signature`` is HMAC-SHA256 of ``timestamp + token`` with the
  webhook signing key (CRM_MAILGUN_SIGNING_KEY). A bad signature, a timestamp more than five
  minutes off, or a token seen before is refused with 401. A refused mail gets 406 (Mailgun does
  not retry it); a Slack outage 503 (it retries).
- **SendGrid** Inbound Parse signs nothing. What protects it is the secret token in the capture
  address (a mail without a workspace's current token is refused) and, if CRM_MAIL_WEBHOOK_AUTH is
  set, HTTP basic auth in the URL configured at SendGrid (``https://user:pass@host/mail/sendgrid``).
  SendGrid retries anything but a 2xx for three days, so a refused mail gets 200 (logged with its
  reason), and only a Slack outage gets 503.
- The providers' SPF/DKIM verdicts (SendGrid's ``SPF`` and ``dkim`` fields, Mailgun's
  ``X-Mailgun-Spf`` and ``X-Mailgun-Dkim-Check-Result`` headers) are trusted: a From that fails
  them is refused as forged.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable
from email import policy
from email.message import Message
from email.parser import BytesHeaderParser
from typing import Any

from multipart import MultipartError, MultipartParser, parse_options_header

from bot.mail.intake import MailIntake
from crm.mail.capture import Envelope, Outcome, Result
from crm.mail.parse import Verdict

log = logging.getLogger("crm.mail")

PREFIX = "/mail/"
SENDGRID_PATH = "/mail/sendgrid"
MAILGUN_PATH = "/mail/mailgun"
MAILGUN_MAX_AGE = 300  # seconds a Mailgun signature stays good
FORM_OVERHEAD = 2  # a form may carry the mail twice (raw and parsed) and some fields
_VERDICT = re.compile(r"^\s*(pass|fail|softfail|neutral|none|temperror|permerror|hardfail)\b", re.IGNORECASE)

Form = dict[str, list[Any]]
Answer = tuple[str, str]  # (HTTP status, a sentence)


class BadRequest(Exception):
    def __init__(self, status: str, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


# -- the form -------------------------------------------------------------------------------------
def read_form(environ: dict[str, Any], limit: int) -> Form:
    """The posted fields by name: text fields as bytes, files as (filename, size)."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise BadRequest("400 Bad Request", "a Content-Length that is not a number") from None
    if length > limit:
        raise BadRequest(
            "413 Content Too Large", f"the post is {length / 1e6:.1f} MB, over the {limit // 2**20} MB limit"
        )
    content_type, options = parse_options_header(environ.get("CONTENT_TYPE", ""))
    if content_type != "multipart/form-data" or not options.get("boundary"):
        raise BadRequest("415 Unsupported Media Type", "not a multipart/form-data post")
    form: Form = {}
    try:
        parser = MultipartParser(
            environ["wsgi.input"],
            options["boundary"],
            content_length=length,
            part_limit=1000,
            memory_limit=limit,
            disk_limit=limit,
            partsize_limit=limit,
            spool_limit=1024 * 1024,
        )
        for part in parser:
            if part.filename is not None:
                form.setdefault(part.name, []).append((part.filename, part.size))
            else:
                form.setdefault(part.name, []).append(part.raw)
            part.close()
    except MultipartError as err:
        raise BadRequest("400 Bad Request", f"the form could not be read ({err})") from None
    return form


def field(form: Form, name: str) -> str:
    values = [v for v in form.get(name, []) if isinstance(v, bytes)]
    return values[0].decode("utf-8", "replace") if values else ""


def raw_field(form: Form, name: str) -> bytes | None:
    values = [v for v in form.get(name, []) if isinstance(v, bytes)]
    return values[0] if values else None


def files(form: Form) -> list[str]:
    return [v[0] for values in form.values() for v in values if isinstance(v, tuple)]


def rebuild(headers: Iterable[tuple[str, str]], text: str, html: str, attachments: list[str]) -> bytes:
    """One MIME message from a provider's parsed fields (attachments named, empty)."""
    msg = Message(policy=policy.compat32)
    for name, value in headers:
        if name.lower() in ("content-type", "content-transfer-encoding", "mime-version"):
            continue
        msg[name] = value.replace("\r", " ").replace("\n", " ")
    msg["MIME-Version"] = "1.0"
    msg["Content-Type"] = 'multipart/mixed; boundary="crm-rebuilt-0c1f"'
    parts = []
    for kind, body in (("plain", text), ("html", html)):
        if body:
            encoded = base64.encodebytes(body.encode("utf-8")).decode()
            parts.append(
                f'Content-Type: text/{kind}; charset="utf-8"\r\nContent-Transfer-Encoding: base64\r\n\r\n{encoded}'
            )
        if body and kind == "plain":
            break  # the plain text is enough
    for name in attachments:
        safe = name.replace('"', "'").replace("\r", " ").replace("\n", " ")
        parts.append(
            f'Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename="{safe}"\r\n\r\n'
        )
    head = msg.as_string().split("\n\n", 1)[0].replace("\n", "\r\n")
    body = "".join(f"--crm-rebuilt-0c1f\r\n{p}\r\n" for p in parts) + "--crm-rebuilt-0c1f--\r\n"
    return (head + "\r\n\r\n" + body).encode("utf-8", "surrogateescape")


def _verdict_word(value: str | None) -> str | None:
    match = _VERDICT.match(value or "")
    return match.group(1).lower() if match else None


# -- SendGrid ---------------------------------------------------------------------------------------
def sendgrid_mail(form: Form) -> tuple[bytes, Envelope]:
    raw = raw_field(form, "email")
    if raw is None:
        header_block = field(form, "headers").encode("utf-8", "replace")
        headers = BytesHeaderParser(policy=policy.compat32).parsebytes(header_block).items()
        raw = rebuild(headers, field(form, "text"), field(form, "html"), files(form))
    try:
        envelope = json.loads(field(form, "envelope") or "{}")
    except ValueError:
        envelope = {}
    envelope = envelope if isinstance(envelope, dict) else {}
    to_field = envelope.get("to")
    to: list[Any] = to_field if isinstance(to_field, list) else []
    sender = envelope.get("from") if isinstance(envelope.get("from"), str) else None
    dkim_field = field(form, "dkim")  # "{@acme.com : pass}" per signing domain
    dkim = "pass" if re.search(r":\s*pass\b", dkim_field) else ("fail" if re.search(r":\s*fail", dkim_field) else None)
    verdict = Verdict(spf=_verdict_word(field(form, "SPF")), dkim=dkim)
    has_verdict = verdict.spf is not None or verdict.dkim is not None
    return raw, Envelope("sendgrid", sender, tuple(str(t) for t in to), verdict if has_verdict else None)


def sendgrid_status(outcome: Outcome) -> Answer:
    if outcome.result == Result.RETRY:
        return "503 Service Unavailable", outcome.reason
    return "200 OK", f"{outcome.result}: {outcome.reason}"  # a refusal too: SendGrid would retry it


# -- Mailgun ------------------------------------------------------------------------------------------
class SeenTokens:
    """Mailgun tokens seen within the signature's lifetime: a replayed post is refused."""

    def __init__(self) -> None:
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def first_time(self, token: str, now: float) -> bool:
        with self._lock:
            for old in [t for t, at in self._seen.items() if now - at > 2 * MAILGUN_MAX_AGE]:
                del self._seen[old]
            if token in self._seen:
                return False
            self._seen[token] = now
            return True


def check_mailgun_signature(form: Form, key: str, *, now: float, seen: SeenTokens) -> None:
    timestamp, token, signature = field(form, "timestamp"), field(form, "token"), field(form, "signature")
    if not (timestamp.isascii() and timestamp.isdigit()) or not token or not signature:
        raise BadRequest("401 Unauthorized", "no Mailgun signature (timestamp, token, signature)")
    expected = hmac.new(key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature.strip().lower()):
        raise BadRequest("401 Unauthorized", "the Mailgun signature does not match (check CRM_MAILGUN_SIGNING_KEY)")
    if abs(now - int(timestamp)) > MAILGUN_MAX_AGE:
        raise BadRequest("401 Unauthorized", f"the Mailgun signature is stale (timestamp {timestamp})")
    if not seen.first_time(token, now):
        raise BadRequest("401 Unauthorized", "this Mailgun token was used already (a replay)")


def mailgun_mail(form: Form) -> tuple[bytes, Envelope]:
    raw = raw_field(form, "body-mime")
    headers: list[tuple[str, str]] = []
    if raw is None:
        try:
            listed = json.loads(field(form, "message-headers") or "[]")
        except ValueError:
            listed = []
        headers = [(str(h[0]), str(h[1])) for h in listed if isinstance(h, list) and len(h) == 2]
        if not headers:
            headers = [(n, field(form, n.lower())) for n in ("From", "To", "Subject", "Date", "Message-Id")]
        raw = rebuild(headers, field(form, "body-plain"), field(form, "body-html"), files(form))
    else:
        parsed = BytesHeaderParser(policy=policy.compat32).parsebytes(raw)
        headers = [(k, str(v)) for k, v in parsed.items()]
    first: dict[str, str] = {}
    for name, value in headers:
        first.setdefault(name.lower(), value)  # Mailgun prepends its own: the first is its verdict
    verdict = Verdict(
        spf=_verdict_word(first.get("x-mailgun-spf")), dkim=_verdict_word(first.get("x-mailgun-dkim-check-result"))
    )
    recipients = tuple(r.strip() for r in field(form, "recipient").split(",") if r.strip())
    has_verdict = verdict.spf is not None or verdict.dkim is not None
    return raw, Envelope("mailgun", field(form, "sender") or None, recipients, verdict if has_verdict else None)


def mailgun_status(outcome: Outcome) -> Answer:
    if outcome.result == Result.RETRY:
        return "503 Service Unavailable", outcome.reason
    if outcome.result == Result.REFUSED:
        return "406 Not Acceptable", outcome.reason  # Mailgun does not retry a 406
    return "200 OK", f"{outcome.result}: {outcome.reason}"


# -- the WSGI app ---------------------------------------------------------------------------------
def _basic_auth_ok(environ: dict[str, Any], expected: str | None) -> bool:
    if not expected:
        return True
    header = environ.get("HTTP_AUTHORIZATION", "")
    if not header.lower().startswith("basic "):
        return False
    try:
        given = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


def make_mail_app(intake: MailIntake, *, clock: Callable[[], float] = time.time) -> Callable[..., Iterable[bytes]]:
    settings = intake.services.settings
    limit = intake.max_bytes * FORM_OVERHEAD + 1024 * 1024
    seen = SeenTokens()

    def handle(path: str, environ: dict[str, Any]) -> Answer:
        if path == MAILGUN_PATH and not settings.mailgun_signing_key:
            return "404 Not Found", "Mailgun capture is off (set CRM_MAILGUN_SIGNING_KEY)"
        if path not in (SENDGRID_PATH, MAILGUN_PATH):
            return "404 Not Found", "Not Found"
        if environ.get("REQUEST_METHOD") != "POST":
            return "405 Method Not Allowed", "POST only"
        if path == SENDGRID_PATH and not _basic_auth_ok(environ, settings.mail_webhook_auth):
            return "401 Unauthorized", "basic auth required (CRM_MAIL_WEBHOOK_AUTH)"
        form = read_form(environ, limit)
        if path == MAILGUN_PATH:
            assert settings.mailgun_signing_key
            check_mailgun_signature(form, settings.mailgun_signing_key, now=clock(), seen=seen)
            raw, envelope = mailgun_mail(form)
            return mailgun_status(intake.receive(raw, envelope))
        raw, envelope = sendgrid_mail(form)
        return sendgrid_status(intake.receive(raw, envelope))

    def wsgi(environ: dict[str, Any], start_response) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        try:
            status, text = handle(path, environ)
        except BadRequest as err:
            log.warning("mail webhook %s refused: %s", path, err.reason)
            status, text = err.status, err.reason
        except Exception:  # the database is down, say: the provider retries a 5xx
            log.exception("mail webhook %s failed", path)
            status, text = "503 Service Unavailable", "could not store the mail just now"
        body = (text + "\n").encode()
        headers = [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))]
        if status.startswith("401") and path == SENDGRID_PATH:
            headers.append(("WWW-Authenticate", 'Basic realm="crm-bot mail"'))
        start_response(status, headers)
        return [body]

    return wsgi
