"""Reading one inbound mail: the standard library's ``email`` package with ``policy.default``.

:func:`parse_mail` never raises on what a sender wrote: a part it cannot decode (a bad charset,
broken base64, a malformed header) is skipped and named in ``defects``, attachments are named
and never kept, quoted replies and signatures are cut (``mail-parser-reply``), and a forwarded
message (inline, as Gmail, Outlook, Apple Mail and Thunderbird write it, or attached as
``message/rfc822``) gives its original sender, recipients, date and Message-ID.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import getaddresses, parsedate_to_datetime
from html.parser import HTMLParser

from mailparser_reply import EmailReplyParser

MAX_BODY_CHARS = 4000  # what an activity keeps of the mail's own words
MAX_ATTACHMENTS = 50
MAX_NAME = 200
MAX_PARTS = 200  # a mail with more parts than this is read no further
REPLY_LANGUAGES = ["en", "de", "fr", "es", "it", "nl", "pt", "sv", "pl"]

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ufeff]")
_FORWARD_MARK = re.compile(
    r"^[ \t>]*(?:-{2,}[ \t]*(?:forwarded message|original message|forwarded message follows|"
    r"weitergeleitete nachricht|message transféré|mensaje reenviado|ursprüngliche nachricht)[ \t]*-{2,}"
    r"|begin forwarded message:|_{10,})[ \t]*$",
    re.IGNORECASE | re.MULTILINE,
)
_FWD_HEADER = re.compile(
    r"^[ \t>]*\**(from|von|de|date|sent|datum|gesendet|envoyé|enviado|subject|betreff|objet|asunto|to|an|à|para|cc)"
    r"\**[ \t]*:\**[ \t]*(.*)$",
    re.IGNORECASE,
)
_FIELD = {
    "from": "from", "von": "from", "de": "from",
    "date": "date", "sent": "date", "datum": "date", "gesendet": "date", "envoyé": "date", "enviado": "date",
    "subject": "subject", "betreff": "subject", "objet": "subject", "asunto": "subject",
    "to": "to", "an": "to", "à": "to", "para": "to", "cc": "cc",
}  # fmt: skip
_LOOP_PRECEDENCE = {"bulk", "junk", "list", "auto_reply"}


@dataclass(frozen=True)
class Address:
    email: str  # lowercased
    name: str = ""

    @property
    def domain(self) -> str:
        return self.email.rpartition("@")[2]


@dataclass(frozen=True)
class Forwarded:
    """The message a rep forwarded, as far as the forward shows it."""

    sender: Address | None
    to: tuple[Address, ...]
    sent_at: datetime | None
    subject: str
    message_id: str | None  # only when attached as message/rfc822


@dataclass(frozen=True)
class ParsedMail:
    message_id: str | None
    sender: Address | None  # the From header's first address
    to: tuple[Address, ...]
    cc: tuple[Address, ...]
    delivered_to: tuple[Address, ...]  # Delivered-To, X-Original-To: where it was sent, if headers say
    subject: str
    sent_at: datetime | None  # the Date header, aware; None when missing or unreadable
    text: str  # the mail's own words: quoted replies and signature cut
    attachments: tuple[str, ...]
    forwarded: Forwarded | None
    loop: str | None  # why it looks automatic (a reason), or None
    auth_results: tuple[str, ...]  # Authentication-Results headers, as received
    defects: tuple[str, ...]
    size: int


# -- addresses and dates ------------------------------------------------------------------------
def _clean(text: str | None, limit: int = 998) -> str:
    return " ".join(_CONTROL.sub("", text or "").split())[:limit]


def addresses(values: list[str]) -> tuple[Address, ...]:
    """Addresses from header values, lowercased, valid-looking, without repeats."""
    found: dict[str, Address] = {}
    for name, email in getaddresses([_clean(v, 20_000) for v in values]):
        email = email.strip().strip("<>").lower()
        if email.count("@") == 1 and " " not in email and "." in email.rpartition("@")[2] and len(email) <= 320:
            found.setdefault(email, Address(email, _clean(name, 200)))
    return tuple(found.values())


def _header(msg: Message, name: str) -> list[str]:
    values = []
    try:
        for value in msg.get_all(name) or []:
            values.append(str(value))
    except (ValueError, TypeError, IndexError, AttributeError, LookupError):  # a header the policy can't read
        raw = msg.get(name, failobj=None) if hasattr(msg, "get") else None
        if raw is not None:
            values.append(str(raw.encode() if hasattr(raw, "encode") else raw))
    return values


def _first(msg: Message, name: str) -> str:
    values = _header(msg, name)
    return values[0] if values else ""


def read_date(text: str, *, zone: tzinfo | None = None) -> datetime | None:
    """An RFC 5322 date, or the forms mail clients write in a forward ("Mon, Nov 30, 2026 at 10:00 AM",
    "Monday, 30 November 2026 10:00"), aware (naive ones take ``zone``, else UTC); None if unreadable."""
    text = _clean(text, 200)
    if not text:
        return None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        when = None
    if when is None:
        import dateparser  # only forwards written by hand need it

        try:
            when = dateparser.parse(
                text.replace(" at ", " "), languages=None, settings={"PREFER_DAY_OF_MONTH": "first"}
            )
        except (ValueError, TypeError, OverflowError):
            when = None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=zone or UTC)
    return when.astimezone(UTC)


# -- text ----------------------------------------------------------------------------------------
class _HtmlText(HTMLParser):
    """The text of an HTML body: block elements become line breaks; scripts, styles and quoted
    replies (``blockquote``, Gmail's ``gmail_quote``) are left out."""

    SKIP = {"script", "style", "head", "blockquote"}
    BREAK = {"br", "p", "div", "tr", "li", "h1", "h2", "h3", "h4", "table"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = " ".join(v or "" for k, v in attrs if k == "class")
        if tag in self.SKIP or "gmail_quote" in classes:
            if tag not in ("br",):
                self.skipping.append(tag)
        elif tag in self.BREAK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if self.skipping and self.skipping[-1] == tag:
            self.skipping.pop()
        elif tag in self.BREAK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    reader = _HtmlText()
    try:
        reader.feed(html)
        reader.close()
    except (AssertionError, ValueError):
        pass
    lines = [" ".join(line.split()) for line in "".join(reader.parts).splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def cut_reply(text: str) -> str:
    """The newest words of a mail: quoted replies, "On ... wrote:" blocks and the signature cut."""
    text = _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    if not text.strip():
        return ""
    try:
        mail = EmailReplyParser(languages=REPLY_LANGUAGES).read(text=text)
        body = mail.replies[0].body if mail.replies else text
    except (ValueError, IndexError, AttributeError, TypeError, RecursionError):
        body = text
    body = body.split("\n-- \n", 1)[0]  # the RFC 3676 signature separator
    return re.sub(r"\n{3,}", "\n\n", body).strip()


def _part_text(part: Message, n: int, defects: list[str]) -> str | None:
    try:
        content = part.get_content() if isinstance(part, EmailMessage) else None
        if isinstance(content, bytes):
            content = content.decode("utf-8", "replace")
        if isinstance(content, str):
            return content
    except (LookupError, ValueError, UnicodeError, AssertionError, AttributeError, TypeError, KeyError):
        pass
    try:  # an unknown charset or broken transfer encoding: the bytes as UTF-8, if there are any
        raw = part.get_payload(decode=True)
    except (ValueError, TypeError, AssertionError):
        raw = None
    if isinstance(raw, bytes) and raw:
        defects.append(f"part {n}: its charset or encoding could not be read; read as UTF-8")
        return raw.decode("utf-8", "replace")
    defects.append(f"part {n} ({part.get_content_type()}): unreadable, skipped")
    return None


def _attachment_name(part: Message, n: int) -> str:
    try:
        name = part.get_filename()
    except (ValueError, TypeError, LookupError, AttributeError):
        name = None
    return _clean(name, MAX_NAME) or f"part {n} ({part.get_content_type()})"


@dataclass
class _Walk:
    plain: list[str]
    html: list[str]
    attachments: list[str]
    attached: Message | None  # the first message/rfc822 part: a forward as attachment
    defects: list[str]


def _walk(msg: Message) -> _Walk:
    found = _Walk([], [], [], None, [])
    for n, part in enumerate(msg.walk()):
        if n >= MAX_PARTS:
            found.defects.append(f"more than {MAX_PARTS} parts; the rest were not read")
            break
        kind = part.get_content_type()
        if kind == "message/rfc822":
            inner = part.get_payload()
            if found.attached is None and isinstance(inner, list) and inner and isinstance(inner[0], Message):
                found.attached = inner[0]
            break  # the attached message's own parts are read from it, not as ours
        if part.is_multipart():
            continue
        disposition = (part.get_content_disposition() or "").lower()
        if (
            disposition == "attachment"
            or (disposition == "inline" and part.get_filename())
            or not kind.startswith("text/")
        ):
            if len(found.attachments) < MAX_ATTACHMENTS:
                found.attachments.append(_attachment_name(part, n))
            continue
        text = _part_text(part, n, found.defects)
        if text is None:
            continue
        (found.html if kind == "text/html" else found.plain).append(text)
    for defect in getattr(msg, "defects", [])[:5]:
        found.defects.append(type(defect).__name__)
    return found


# -- forwards ------------------------------------------------------------------------------------
def split_forward(text: str, *, zone: tzinfo | None = None) -> tuple[str, Forwarded, str] | None:
    """An inline forward: (the forwarder's note, the original's headers, the original's text)."""
    mark = _FORWARD_MARK.search(text)
    if mark is None:
        return None
    note, rest = text[: mark.start()], text[mark.end() :]
    fields: dict[str, str] = {}
    lines = rest.lstrip("\n").split("\n")
    used = 0
    for used, line in enumerate(lines):  # noqa: B007 - the loop index is read after it
        match = _FWD_HEADER.match(line)
        if match:
            fields.setdefault(_FIELD[match.group(1).lower()], match.group(2).strip())
        elif line.strip() or fields:
            break
    if "from" not in fields:
        return None
    original = "\n".join(ln.lstrip("> ").rstrip() if ln.startswith(">") else ln for ln in lines[used:])
    sender = addresses([fields["from"]])
    forwarded = Forwarded(
        sender=sender[0] if sender else None,
        to=addresses([fields.get("to", ""), fields.get("cc", "")]),
        sent_at=read_date(fields.get("date", ""), zone=zone),
        subject=_clean(fields.get("subject", "")),
        message_id=None,
    )
    return note, forwarded, original


def _attached_forward(inner: Message) -> tuple[Forwarded, str]:
    sender = addresses(_header(inner, "from"))
    walk = _walk(inner)
    text = "\n".join(walk.plain) or html_to_text("\n".join(walk.html))
    forwarded = Forwarded(
        sender=sender[0] if sender else None,
        to=addresses(_header(inner, "to") + _header(inner, "cc")),
        sent_at=read_date(_first(inner, "date")),
        subject=_clean(_first(inner, "subject")),
        message_id=_message_id(_first(inner, "message-id")),
    )
    return forwarded, text


def _message_id(value: str) -> str | None:
    value = _clean(value, 998).strip()
    return value or None


def loop_reason(msg: Message) -> str | None:
    """Why a mail looks automatic (an auto-reply, a bounce, a list): never logged, so never looped."""
    auto = _first(msg, "auto-submitted").strip().lower()
    if auto and auto != "no":
        return f"it is an automatic message (Auto-Submitted: {auto[:40]})"
    if _header(msg, "x-loop"):
        return "it carries an X-Loop header"
    precedence = _first(msg, "precedence").strip().lower()
    if precedence in _LOOP_PRECEDENCE:
        return f"it is bulk or list mail (Precedence: {precedence})"
    for name in ("x-autoreply", "x-autorespond"):
        if _header(msg, name):
            return f"it is an auto-reply ({name})"
    if _first(msg, "content-type").lower().startswith("multipart/report"):
        return "it is a delivery report (a bounce)"
    return None


# -- the whole mail -----------------------------------------------------------------------------
def parse_mail(raw: bytes) -> ParsedMail:
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    sent_at = read_date(_first(msg, "date"))
    walk = _walk(msg)
    text = "\n".join(walk.plain) if walk.plain else html_to_text("\n".join(walk.html))
    forwarded: Forwarded | None = None
    if walk.attached is not None:
        forwarded, original = _attached_forward(walk.attached)
        text = _join(cut_reply(text), cut_reply(original))
    elif (split := split_forward(text.replace("\r\n", "\n"), zone=_zone_of(_first(msg, "date")))) is not None:
        note, forwarded, original = split
        text = _join(cut_reply(note), cut_reply(original))
    else:
        text = cut_reply(text)
    if len(text) > MAX_BODY_CHARS:
        text = text[: MAX_BODY_CHARS - 1].rstrip() + "…"
    sender = addresses(_header(msg, "from"))
    return ParsedMail(
        message_id=_message_id(_first(msg, "message-id")),
        sender=sender[0] if sender else None,
        to=addresses(_header(msg, "to")),
        cc=addresses(_header(msg, "cc")),
        delivered_to=addresses(_header(msg, "delivered-to") + _header(msg, "x-original-to")),
        subject=_clean(_first(msg, "subject")),
        sent_at=sent_at,
        text=text,
        attachments=tuple(walk.attachments),
        forwarded=forwarded,
        loop=loop_reason(msg),
        auth_results=tuple(_header(msg, "authentication-results")),
        defects=tuple(walk.defects[:20]),
        size=len(raw),
    )


def _zone_of(date: str) -> tzinfo | None:
    """The sender's UTC offset in a Date header: a forward's own date, written without one, is in it."""
    try:
        return parsedate_to_datetime(_clean(date, 200)).tzinfo
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _join(note: str, original: str) -> str:
    if note and original:
        return f"{note}\n\n— forwarded —\n{original}"
    return note or original


# -- SPF / DKIM verdicts -------------------------------------------------------------------------
@dataclass(frozen=True)
class Verdict:
    """What a trusted receiver (the mail provider, or our own MTA) said about the sender."""

    spf: str | None = None  # pass, fail, softfail, neutral, none, ...
    dkim: str | None = None
    dmarc: str | None = None

    @property
    def forged(self) -> str | None:
        """Why the verdict says the From is forged, or None."""
        if self.dmarc == "fail":
            return "DMARC failed for the From domain"
        if self.spf in ("fail", "softfail") and self.dkim != "pass":
            return f"SPF said {self.spf} and DKIM did not pass"
        if self.dkim == "fail" and self.spf != "pass":
            return "DKIM failed and SPF did not pass"
        return None


_METHOD = re.compile(r"\b(spf|dkim|dmarc)\s*=\s*([a-z]+)", re.IGNORECASE)


def verdict_from_results(headers: tuple[str, ...], authserv_id: str | None) -> Verdict | None:
    """The verdict in the Authentication-Results header added by ``authserv_id`` (our MTA), or None:
    a header from anyone else is the sender's say-so and is ignored (RFC 8601 section 5)."""
    if not authserv_id:
        return None
    for header in headers:
        server, _, results = header.partition(";")
        words = server.split()
        if not words or words[0].lower() != authserv_id.lower():
            continue
        found: dict[str, str] = {}
        for method, result in _METHOD.findall(results):
            found.setdefault(method.lower(), result.lower())
        return Verdict(found.get("spf"), found.get("dkim"), found.get("dmarc"))
    return None
