"""Reading inbound mail: encodings, attachments, cut replies and signatures, forwards, loops,
malformed parts and the SPF/DKIM verdicts (no database, no network)."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage

import pytest

from crm.mail.capture import MailConfig, counterparts, message_key, sent_time
from crm.mail.inbox import token_in
from crm.mail.parse import Address, Verdict, cut_reply, html_to_text, parse_mail, read_date, verdict_from_results
from tests.support.mail import message

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
CONFIG = MailConfig(domain="mail.example.com")


def test_multipart_with_encodings_and_attachments_named_not_kept():
    msg = EmailMessage()
    msg["From"] = "=?utf-8?q?J=C3=BCrgen?= <juergen@ourco.com>"
    msg["To"] = "bob@acme.com"
    msg["Subject"] = "=?iso-8859-1?q?Gr=FC=DFe?="
    msg.set_content("Der Preis für München steht.", charset="iso-8859-1", cte="quoted-printable")
    msg.add_attachment(b"\x00" * 5000, maintype="application", subtype="pdf", filename="Angebot Nr. 1.pdf")
    mail = parse_mail(msg.as_bytes())
    assert mail.sender == Address("juergen@ourco.com", "Jürgen")
    assert mail.subject == "Grüße" and "München" in mail.text
    assert mail.attachments == ("Angebot Nr. 1.pdf",) and "\x00" not in mail.text


def test_html_only_mail_is_read_as_text_without_the_quoted_part():
    html = "<p>Hello <b>Bob</b></p><div class='gmail_quote'>On Monday Bob wrote: old stuff</div><script>x()</script>"
    assert html_to_text(html) == "Hello Bob"


@pytest.mark.parametrize(
    ("text", "kept", "cut"),
    [
        ("Sounds good.\n\nOn Mon, Nov 30, 2026 at 9:00 AM Bob <b@a.com> wrote:\n> old\n", "Sounds good.", "old"),
        ("Yes.\n\n-- \nRita | +1 555\n", "Yes.", "+1 555"),
        ("Ja, passt.\n\nAm 30.11.2026 um 09:00 schrieb Bob <b@a.com>:\n> alt\n", "Ja, passt.", "alt"),
    ],
)
def test_quoted_replies_and_signatures_are_cut(text, kept, cut):
    out = cut_reply(text)
    assert kept in out and cut not in out


@pytest.mark.parametrize(
    ("marker", "date_line"),
    [
        ("---------- Forwarded message ---------", "Date: Mon, Nov 30, 2026 at 9:15 AM"),
        ("-----Original Message-----", "Sent: Monday, November 30, 2026 9:15 AM"),
        ("Begin forwarded message:", "Date: 30 November 2026 at 09:15:00 GMT-5"),
    ],
)
def test_inline_forwards_give_the_original_sender_and_date(marker, date_line):
    body = f"See below.\n\n{marker}\nFrom: Jane Doe <jane@acme.com>\n{date_line}\nSubject: Renewal\n\nCan we talk?\n"
    msg = message(subject="Fwd: Renewal", body=body, date=datetime(2026, 11, 30, 16, 0, tzinfo=UTC))
    mail = parse_mail(msg.as_bytes())
    assert mail.forwarded is not None and mail.forwarded.sender == Address("jane@acme.com", "Jane Doe")
    assert mail.forwarded.subject == "Renewal" and "Can we talk?" in mail.text and "See below." in mail.text
    assert mail.forwarded.sent_at is not None and mail.forwarded.sent_at.date() == datetime(2026, 11, 30).date()


def test_a_forward_as_attachment_gives_the_originals_message_id():
    original = message(frm="Jane <jane@acme.com>", to="rita@ourco.com", msgid="<orig@acme.com>", body="Original words")
    outer = message(subject="Fwd", body="FYI")
    outer.add_attachment(original)
    mail = parse_mail(outer.as_bytes())
    assert mail.forwarded is not None and mail.forwarded.message_id == "<orig@acme.com>"
    assert "Original words" in mail.text
    # Forwarded twice, it is the same mail.
    again = message(subject="Fwd again", body="FYI again")
    again.add_attachment(original)
    assert message_key(parse_mail(again.as_bytes())) == message_key(mail)


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({"Auto-Submitted": "auto-replied"}, "Auto-Submitted"),
        ({"Auto-Submitted": "no"}, None),
        ({"X-Loop": "crm@mail.example.com"}, "X-Loop"),
        ({"Precedence": "bulk"}, "Precedence"),
        ({"Precedence": "list"}, "Precedence"),
        ({"X-Autoreply": "yes"}, "auto-reply"),
    ],
)
def test_automatic_mail_is_recognised(headers, reason):
    loop = parse_mail(message(headers=headers).as_bytes()).loop
    assert (loop is None) if reason is None else (reason in loop)


def test_a_malformed_mime_part_is_skipped_and_named():
    raw = (
        b"From: a@ourco.com\r\nTo: c@acme.com\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n"
        b"--XX\r\nContent-Type: text/plain; charset=klingon\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!\r\n"
        b"--XX\r\nContent-Type: text/plain\r\n\r\nThe good part.\r\n--XX\r\nContent-Type: image/png\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n@@@@\r\n"
    )  # and no closing boundary
    mail = parse_mail(raw)
    assert "The good part." in mail.text and mail.defects and mail.attachments == ("part 3 (image/png)",)


@pytest.mark.parametrize("raw", [b"", b"\x00\xff\xfe", b"From:\r\n\r\n", b"Content-Type: multipart/mixed\r\n\r\nx"])
def test_garbage_never_raises(raw):
    mail = parse_mail(raw)
    assert mail.sender is None


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        (datetime(2026, 12, 1, 9, 0, tzinfo=UTC), datetime(2026, 12, 1, 9, 0, tzinfo=UTC)),
        (datetime(2027, 1, 1, tzinfo=UTC), NOW),  # ahead: a broken clock
        (datetime(1999, 1, 1, tzinfo=UTC), NOW),  # far back: a broken clock
        (None, NOW),
    ],
)
def test_the_sent_date_within_sane_bounds(when, expected):
    assert sent_time(parse_mail(message(date=when).as_bytes()), NOW) == expected


def test_read_date_forms():
    assert read_date("Mon, 30 Nov 2026 10:00:00 -0500") == datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
    assert read_date("not a date") is None


def test_counterparts_leave_out_our_side():
    mail = parse_mail(
        message(to="jane@acme.com, sam@ourco.com", cc="crm+x@mail.example.com, Bob <BOB@Globex.com>").as_bytes()
    )
    assert counterparts(mail, Address("rita@ourco.com"), CONFIG) == ["jane@acme.com", "bob@globex.com"]


@pytest.mark.parametrize(
    ("address", "token"),
    [
        ("crm+abcdefghijklmnopqrstuvwx@mail.example.com", "abcdefghijklmnopqrstuvwx"),
        ("CRM+ABCDEFGHIJKLMNOPQRSTUVWX@Mail.Example.com", "abcdefghijklmnopqrstuvwx"),
        ("crm+short@mail.example.com", None),
        ("crm+abcdefghijklmnopqrstuvwx@other.example.com", None),
        ("sales+abcdefghijklmnopqrstuvwx@mail.example.com", None),
    ],
)
def test_token_in_address(address, token):
    assert token_in(address, local_part="crm", domain="mail.example.com") == token


@pytest.mark.parametrize(
    ("verdict", "forged"),
    [
        (Verdict(spf="pass"), False),
        (Verdict(spf="fail", dkim="pass"), False),
        (Verdict(spf="fail"), True),
        (Verdict(spf="softfail", dkim="none"), True),
        (Verdict(dkim="fail"), True),
        (Verdict(spf="pass", dmarc="fail"), True),
    ],
)
def test_verdicts(verdict, forged):
    assert bool(verdict.forged) is forged


def test_only_our_mtas_authentication_results_count():
    headers = ("evil.example; spf=pass", "mx.ourco.com; spf=fail smtp.mailfrom=rita@ourco.com; dkim=none")
    assert verdict_from_results(headers, "mx.ourco.com") == Verdict("fail", "none", None)
    assert verdict_from_results(headers, None) is None
    assert verdict_from_results(headers[:1], "mx.ourco.com") is None
