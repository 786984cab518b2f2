"""Email capture end to end: real RFC 5322 messages through smtplib to the SMTP receiver on a real
loopback port, and through the SendGrid and Mailgun webhooks as signed multipart posts to the real
HTTP server; the database is checked, and the Home tab's "Unfiled email" is filed with signed
block_actions and view_submission payloads against the Slack stand-in."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import smtplib
import ssl
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from email.policy import SMTP as SMTP_POLICY

import pytest
from sqlalchemy import select

from bot.app import create_app, make_web_client
from bot.dev.driver import SlackDriver
from bot.mail.intake import MailIntake
from bot.mail.smtp import start_smtp
from bot.mail.webhooks import make_mail_app
from bot.pool import TrackedExecutor
from bot.server import ServerThread, make_wsgi_app
from bot.services import Services
from commands.mail import views
from crm.actors import Actor
from crm.customers.values import ContactInput
from crm.mail.inbox import get_inbox, set_enabled
from crm.models import Activity, InboundEmail
from tests.conftest import ADMIN, REP, REP2, SIGNING_SECRET, TEAM_ID, RunningApp, make_settings
from tests.support.mail import DOMAIN, RITA, SAM, message
from tests.support.make import Make

MAILGUN_KEY = "key-mailgun-test-0123456789"
WEBHOOK_AUTH = "sendgrid:s3cret-pass"


@dataclass
class Stack:
    app: RunningApp
    services: Services
    make: Make
    ws: int
    address: str
    smtp_port: int
    slack: SlackDriver

    def send(self, msg, *, rcpt: str | None = None, mail_from: str = RITA) -> dict:
        with smtplib.SMTP("127.0.0.1", self.smtp_port, timeout=30) as smtp:
            return smtp.sendmail(mail_from, [rcpt or self.address], msg.as_bytes(policy=SMTP_POLICY))

    def post(self, path: str, fields: list[tuple[str, bytes | str, str | None]], *, auth: str | None = None):
        body, content_type = multipart(fields)
        request = urllib.request.Request(self.app.url + path, data=body, method="POST")
        request.add_header("Content-Type", content_type)
        if auth:
            request.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
        try:
            with urllib.request.urlopen(request, timeout=30) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode()

    def emails(self) -> list[InboundEmail]:
        with self.services.session_factory() as s:
            return list(s.scalars(select(InboundEmail).order_by(InboundEmail.id)))

    def activities(self) -> list[Activity]:
        with self.services.session_factory() as s:
            return list(s.scalars(select(Activity).order_by(Activity.id)))


def multipart(fields: list[tuple[str, bytes | str, str | None]]) -> tuple[bytes, str]:
    """A multipart/form-data body as the providers post it: (name, value, filename or None)."""
    boundary = "----crmtest" + uuid.uuid4().hex
    out = bytearray()
    for name, value, filename in fields:
        data = value.encode() if isinstance(value, str) else value
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        out += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n".encode()
        if filename:
            out += b"Content-Type: application/octet-stream\r\n"
        out += b"\r\n" + data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out), f"multipart/form-data; boundary={boundary}"


def mailgun_signature(key: str = MAILGUN_KEY, *, timestamp: int | None = None, token: str | None = None):
    ts = str(timestamp if timestamp is not None else int(time.time()))
    token = token or uuid.uuid4().hex
    sig = hmac.new(key.encode(), (ts + token).encode(), hashlib.sha256).hexdigest()
    return [("timestamp", ts, None), ("token", token, None), ("signature", sig, None)]


@pytest.fixture
def stack(database_url, standin, request) -> Iterator[Stack]:
    overrides = getattr(request, "param", {})
    standin.add_user(REP, name="rita", real_name="Rita Rep", tz="America/New_York", email=RITA)
    standin.add_user(REP2, name="sam", real_name="Sam Seller", tz="Europe/Berlin", email=SAM)
    standin.add_user(ADMIN, name="alex", real_name="Alex Admin", tz="UTC", is_admin=True, email="alex@ourco.com")
    standin.add_user("U0BOTX", name="robot", is_bot=True, email="robot@ourco.com")
    settings = make_settings(
        database_url,
        standin,
        mail_domain=DOMAIN,
        mailgun_signing_key=MAILGUN_KEY,
        mail_webhook_auth=WEBHOOK_AUTH,
        **overrides,
    )
    services = Services.from_settings(settings)
    app = create_app(services)
    intake = MailIntake(services, make_web_client(services))
    server = ServerThread(make_wsgi_app(app, services.engine, mail=make_mail_app(intake)), threads=8).start()
    smtp = start_smtp(intake, host="127.0.0.1", port=0)
    listeners = app.listener_runner.listener_executor
    assert isinstance(listeners, TrackedExecutor)
    running = RunningApp(server.url, services, standin, listeners)
    make = Make(services)
    ws = make.ws
    inbox = get_inbox(services.session_factory, ws, actor=Actor(ADMIN, is_admin=True), now=services.now())
    slack = SlackDriver(running.events_url, SIGNING_SECRET, team_id=TEAM_ID, response_url_factory=standin.response_url)
    yield Stack(running, services, make, ws, inbox.address("crm", DOMAIN), smtp.port, slack)
    smtp.stop()
    server.stop()
    listeners.shutdown(wait=True, cancel_futures=False)
    services.close()


@pytest.fixture
def acme(stack):
    return stack.make.customer(
        "Acme Corp", website="https://acme.com", contact=ContactInput(name="Jane Doe", email="jane@acme.com")
    )


def ago(hours: float) -> datetime:
    return (datetime.now(UTC) - timedelta(hours=hours)).replace(microsecond=0)


# -- SMTP -------------------------------------------------------------------------------------------
def test_a_bcc_is_logged_once_on_the_contacts_customer_credited_to_the_rep(stack, acme):
    sent = ago(3)
    msg = message(date=sent, msgid="<quote-1@ourco.com>", attachments=[("quote.pdf", b"%PDF-1.7" * 100)])
    assert stack.send(msg) == {}
    assert stack.send(msg) == {}  # the same Message-ID again (a second BCC, a retry): not logged twice
    (activity,) = stack.activities()
    assert (activity.customer_id, activity.created_by, activity.source, activity.type_key) == (
        acme.id,
        REP,
        "email",
        "email",
    )
    assert activity.occurred_at == sent and activity.contact_id is not None
    assert "Your quote" in activity.summary and "Here is the quote" in activity.summary
    assert "quote.pdf" in activity.summary and "%PDF" not in activity.summary
    (mail,) = stack.emails()
    stack.slack.command("/customer", "acme corp")
    card = json.dumps(stack.app.standin.wait_for("response_url")[0].params["blocks"])
    assert "captured from email" in card and "Your quote" in card
    assert (mail.status, mail.via, mail.attachments, mail.counterparts) == (
        "filed",
        "smtp",
        ["quote.pdf"],
        ["jane@acme.com"],
    )


def test_quoted_replies_and_the_signature_are_cut(stack, acme):
    body = (
        "Thanks Jane, we'll ship on Monday.\n\n-- \nRita Rep | OurCo | +1 555 0100\n\n"
        "On Mon, 30 Nov 2026 at 10:00, Jane Doe <jane@acme.com> wrote:\n> When do you ship?\n> Jane\n"
    )
    stack.send(message(body=body, date=ago(1)))
    summary = stack.activities()[0].summary
    assert "ship on Monday" in summary
    assert "When do you ship" not in summary and "+1 555 0100" not in summary


def test_a_forward_is_logged_with_the_original_sender_and_date(stack, acme):
    body = (
        "FYI, Jane wants a call.\n\n---------- Forwarded message ---------\n"
        "From: Jane Doe <jane@acme.com>\nDate: Mon, 30 Nov 2026 09:15:00 +0000\nSubject: Call?\n"
        f"To: Rita Rep <{RITA}>\n\nCan we talk tomorrow about the renewal?\n"
    )
    stack.send(message(to=stack.address, subject="Fwd: Call?", body=body, date=ago(0.5)))
    (activity,) = stack.activities()
    assert activity.customer_id == acme.id and activity.created_by == REP
    assert activity.occurred_at == datetime(2026, 11, 30, 9, 15, tzinfo=UTC)
    assert "renewal" in activity.summary and "Call?" in activity.summary


def test_a_mail_bccd_and_later_forwarded_as_text_is_logged_once(stack, acme):
    sent = ago(2).replace(second=41)  # the forward below shows only its minute
    assert stack.send(message(date=sent, subject="Your quote", msgid="<quote-2@ourco.com>")) == {}
    shown = sent.strftime("%a, %b %d, %Y at %I:%M %p")
    body = (
        "For the record.\n\n---------- Forwarded message ---------\n"
        f"From: Rita Rep <{RITA}>\nDate: {shown}\nSubject: Your quote\nTo: Jane Doe <jane@acme.com>\n\n"
        "Hi Jane,\n\nHere is the quote we discussed.\n"
    )
    assert stack.send(message(to=stack.address, subject="Fwd: Your quote", body=body, date=ago(0.5))) == {}
    assert len(stack.activities()) == 1 and len(stack.emails()) == 1
    stack.slack.command("/customer", "acme corp")
    card = json.dumps(stack.app.standin.wait_for("response_url")[0].params["blocks"])
    assert card.count("Your quote") == 1


def test_the_domain_matches_when_no_contact_does(stack, acme):
    globex = stack.make.customer("Globex", website="https://globex.com")
    stack.send(message(to="Hank <hank@globex.com>", date=ago(2)))
    assert [a.customer_id for a in stack.activities()] == [globex.id]


@pytest.mark.parametrize(
    ("msg_kw", "rcpt", "mail_from", "expected"),
    [
        ({"frm": "Mallory <mallory@evil.example>"}, None, "mallory@evil.example", "not a Slack user"),
        ({"frm": "Robot <robot@ourco.com>"}, None, "robot@ourco.com", "not a Slack user"),
        ({"headers": {"Auto-Submitted": "auto-replied"}}, None, RITA, "automatic"),
        ({"headers": {"Precedence": "bulk"}}, None, RITA, "bulk"),
        ({"headers": {"X-Loop": "crm"}}, None, RITA, "X-Loop"),
        ({"frm": f"CRM <crm+loop@{DOMAIN}>"}, None, f"crm+loop@{DOMAIN}", "own capture domain"),
        ({}, None, "someone@else.example", "envelope sender"),  # a forged From: the envelope tells
        ({}, f"crm+{'z' * 24}@{DOMAIN}", RITA, "unknown or rotated"),
    ],
)
def test_refused_mail_gets_a_550_with_the_reason_and_nothing_is_stored(stack, acme, msg_kw, rcpt, mail_from, expected):
    with pytest.raises(smtplib.SMTPDataError) as refused:
        stack.send(message(date=ago(1), **msg_kw), rcpt=rcpt, mail_from=mail_from)
    assert refused.value.smtp_code == 550 and expected in refused.value.smtp_error.decode()
    assert stack.emails() == [] and stack.activities() == []


def test_only_capture_addresses_are_accepted_and_it_never_relays(stack, acme):
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        stack.send(message(date=ago(1)), rcpt="someone@gmail.com")
    assert refused.value.recipients["someone@gmail.com"][0] == 550


def test_capture_turned_off_by_an_admin_refuses_mail(stack, acme):
    stack.slack.command("/crm", "email", user=ADMIN)
    reply = stack.app.standin.wait_for("response_url")[0].params
    assert stack.address in json.dumps(reply["blocks"])
    stack.slack.block_actions([{"type": "button", "action_id": views.TOGGLE, "value": "off"}], user=ADMIN)
    assert "*off*" in json.dumps(stack.app.standin.wait_for("response_url", count=2)[1].params["blocks"])
    with pytest.raises(smtplib.SMTPDataError) as refused:
        stack.send(message(date=ago(1)))
    assert "turned off" in refused.value.smtp_error.decode()
    # A rep may see the address but not turn it back on.
    stack.slack.block_actions([{"type": "button", "action_id": views.TOGGLE, "value": "on"}], user=REP)
    assert "Only a workspace admin" in stack.app.standin.wait_for("response_url", count=3)[2].params["text"]


def test_a_rotated_address_stops_working(stack, acme):
    stack.slack.block_actions([{"type": "button", "action_id": views.ROTATE, "value": "rotate"}], user=ADMIN)
    new = json.dumps(stack.app.standin.wait_for("response_url")[0].params["blocks"])
    assert stack.address not in new and f"@{DOMAIN}" in new
    with pytest.raises(smtplib.SMTPDataError) as refused:
        stack.send(message(date=ago(1)))
    assert "rotated" in refused.value.smtp_error.decode()


def test_a_25_mb_mail_is_logged_without_its_attachment(stack, acme):
    big = bytes(range(256)) * (18 * 1024 * 4)  # 18 MB: 25 MB on the wire, in base64
    msg = message(date=ago(1), attachments=[("video.mov", big)])
    assert len(msg.as_bytes()) > 25_000_000
    stack.send(msg)
    (mail,) = stack.emails()
    assert mail.attachments == ["video.mov"] and len(stack.activities()[0].summary) < 10_000


@pytest.mark.parametrize("stack", [{"mail_max_bytes": 1024 * 1024}], indirect=True)
def test_a_mail_over_the_limit_is_refused_with_552(stack, acme):
    with pytest.raises(smtplib.SMTPException) as refused:
        stack.send(message(date=ago(1), attachments=[("big.bin", b"x" * 2 * 1024 * 1024)]))
    assert "552" in str(refused.value) and stack.emails() == []


def test_a_malformed_part_is_skipped_and_the_rest_logged(stack, acme):
    raw = (
        f"From: Rita Rep <{RITA}>\r\nTo: jane@acme.com\r\nSubject: Odd\r\nMessage-ID: <odd@ourco.com>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n"
        "--XX\r\nContent-Type: text/plain; charset=no-such-charset\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        "%%%not base64%%%\r\n--XX\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
        "Content-Transfer-Encoding: quoted-printable\r\n\r\nSee you in K=F6ln on Friday.\r\n--XX"
    ).encode()
    with smtplib.SMTP("127.0.0.1", stack.smtp_port, timeout=30) as smtp:
        smtp.sendmail(RITA, [stack.address], raw)
    (activity,) = stack.activities()
    assert "Köln" in activity.summary


# -- the Home tab -------------------------------------------------------------------------------
def test_unfiled_mail_waits_in_the_home_tab_and_is_filed_from_the_picker(stack, acme):
    stack.send(message(to="Pat <pat@unknown-startup.io>", subject="Intro", date=ago(2)))
    assert stack.activities() == [] and [m.status for m in stack.emails()] == ["unfiled"]
    slack, standin = stack.slack, stack.app.standin
    told = standin.wait_for("chat.postMessage")[0].params
    assert told["channel"] == REP and "Intro" in told["text"] and "Home tab" in told["text"]
    slack.event({"type": "app_home_opened", "user": REP, "channel": "D0REP", "tab": "home"})
    home = json.dumps(standin.wait_for("views.publish")[0].params["view"]["blocks"])
    assert views.UNFILED_TITLE in home and "Intro" in home and "pat@unknown-startup.io" in home
    mail_id = stack.emails()[0].id
    # Someone else can't file it.
    view = {"id": standin.home_view(REP)["id"], "type": "home", "callback_id": "", "private_metadata": ""}
    slack.block_actions(
        [{"type": "button", "action_id": views.PICK, "value": str(mail_id)}], user=REP2, channel=None, view=view
    )
    slack.block_actions([{"type": "button", "action_id": views.PICK, "value": str(mail_id)}], channel=None, view=view)
    opened = standin.wait_for("views.open")
    assert len(opened) == 1 and opened[0].params["view"]["callback_id"] == views.FILE_VIEW
    modal = opened[0].params["view"]
    resp = slack.view_submission(
        views.FILE_VIEW,
        {
            views.CUSTOMER_BLOCK: {
                views.CUSTOMER_ACTION: {"type": "external_select", "selected_option": {"value": str(acme.id)}}
            }
        },
        private_metadata=modal["private_metadata"],
    )
    assert resp.status == 200 and resp.text == ""
    standin.wait_for("views.publish", count=2)
    (activity,) = stack.activities()
    assert (activity.customer_id, activity.created_by, activity.source) == (acme.id, REP, "email")
    assert [m.status for m in stack.emails()] == ["filed"]
    again = json.dumps(standin.calls_to("views.publish")[-1].params["view"]["blocks"])
    assert views.UNFILED_TITLE not in again
    # The same form submitted again files nothing more.
    slack.view_submission(
        views.FILE_VIEW,
        {
            views.CUSTOMER_BLOCK: {
                views.CUSTOMER_ACTION: {"type": "external_select", "selected_option": {"value": str(acme.id)}}
            }
        },
        private_metadata=modal["private_metadata"],
    )
    stack.app.drain()
    assert len(stack.activities()) == 1


def test_several_matching_customers_are_offered_never_guessed(stack, acme):
    globex = stack.make.customer("Globex", website="https://globex.com")
    stack.send(message(to="jane@acme.com", cc="hank@globex.com", date=ago(1)))
    (mail,) = stack.emails()
    assert mail.status == "unfiled" and sorted(mail.candidates) == sorted([acme.id, globex.id])
    slack, standin = stack.slack, stack.app.standin
    view = {"id": "V0HOME", "type": "home", "callback_id": "", "private_metadata": ""}
    slack.block_actions([{"type": "button", "action_id": views.PICK, "value": str(mail.id)}], channel=None, view=view)
    modal = standin.wait_for("views.open")[0].params["view"]
    offered = next(b for b in modal["blocks"] if b.get("block_id") == views.CANDIDATE_BLOCK)
    assert {o["value"] for o in offered["element"]["options"]} == {str(acme.id), str(globex.id)}
    resp = slack.view_submission(views.FILE_VIEW, {}, private_metadata=modal["private_metadata"])
    assert "Pick the customer" in resp.text  # nothing picked: the modal says so
    slack.view_submission(
        views.FILE_VIEW,
        {
            views.CANDIDATE_BLOCK: {
                views.CANDIDATE_ACTION: {"type": "static_select", "selected_option": {"value": str(globex.id)}}
            }
        },
        private_metadata=modal["private_metadata"],
    )
    stack.app.drain()
    assert [a.customer_id for a in stack.activities()] == [globex.id]


def test_not_a_customers_mail_leaves_the_home_tab(stack, acme):
    stack.send(message(to="friend@private-club.org", date=ago(1)))
    mail_id = stack.emails()[0].id
    view = {"id": "V0HOME", "type": "home", "callback_id": "", "private_metadata": ""}
    stack.slack.block_actions(
        [{"type": "button", "action_id": views.DISMISS, "value": str(mail_id)}], channel=None, view=view
    )
    published = stack.app.standin.wait_for("views.publish")[0].params["view"]
    assert views.UNFILED_TITLE not in json.dumps(published["blocks"])
    assert [m.status for m in stack.emails()] == ["dismissed"] and stack.activities() == []


# -- SendGrid --------------------------------------------------------------------------------------
def test_sendgrid_raw_mime_is_logged(stack, acme):
    msg = message(date=ago(1), msgid="<sg-1@ourco.com>")
    fields = [
        ("email", msg.as_bytes(), None),
        ("envelope", json.dumps({"to": [stack.address], "from": RITA}), None),
        ("SPF", "pass", None),
        ("dkim", "{@ourco.com : pass}", None),
    ]
    assert stack.post("/mail/sendgrid", fields)[0] == 401  # basic auth is configured
    status, text = stack.post("/mail/sendgrid", fields, auth=WEBHOOK_AUTH)
    assert status == 200 and "logged" in text
    assert stack.post("/mail/sendgrid", fields, auth=WEBHOOK_AUTH) == (
        200,
        "duplicate: this mail was captured already\n",
    )
    (activity,) = stack.activities()
    assert activity.customer_id == acme.id and stack.emails()[0].via == "sendgrid"


def test_sendgrid_parsed_fields_are_logged(stack, acme):
    headers = (
        f"From: Rita Rep <{RITA}>\r\nTo: Jane <jane@acme.com>\r\nSubject: Parsed\r\n"
        f"Date: {message(date=ago(1))['Date']}\r\nMessage-ID: <sg-parsed@ourco.com>\r\n"
    )
    fields = [
        ("headers", headers, None),
        ("text", "Parsed body text.", None),
        ("envelope", json.dumps({"to": [stack.address], "from": RITA}), None),
        ("attachment1", b"binary", "price-list.xlsx"),
    ]
    status, _ = stack.post("/mail/sendgrid", fields, auth=WEBHOOK_AUTH)
    assert status == 200
    (mail,) = stack.emails()
    assert mail.attachments == ["price-list.xlsx"] and mail.status == "filed" and "Parsed body" in mail.body


def test_sendgrid_forged_from_is_refused_with_200_and_logged(stack, acme, caplog):
    fields = [
        ("email", message(date=ago(1)).as_bytes(), None),
        ("envelope", json.dumps({"to": [stack.address], "from": RITA}), None),
        ("SPF", "fail", None),
        ("dkim", "none", None),
    ]
    status, text = stack.post("/mail/sendgrid", fields, auth=WEBHOOK_AUTH)
    assert status == 200 and "refused" in text and "forged" in text
    assert stack.emails() == [] and any("forged" in r.getMessage() for r in caplog.records)


def test_webhook_bad_input_gets_a_clear_status(stack, acme):
    status, text = stack.post("/mail/sendgrid", [("nothing", "here", None)], auth=WEBHOOK_AUTH)
    assert status == 200 and "refused" in text and "unknown or rotated" in text
    request = urllib.request.Request(stack.app.url + "/mail/sendgrid", data=b"x=1", method="POST")
    request.add_header("Content-Type", "application/x-www-form-urlencoded")
    request.add_header("Authorization", "Basic " + base64.b64encode(WEBHOOK_AUTH.encode()).decode())
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 415


# -- Mailgun ---------------------------------------------------------------------------------------
def test_mailgun_signed_mime_is_logged_and_a_bad_signature_refused(stack, acme):
    msg = message(date=ago(1), msgid="<mg-1@ourco.com>")
    mime = [
        ("body-mime", msg.as_bytes(), None),
        ("recipient", stack.address, None),
        ("sender", RITA, None),
    ]
    assert stack.post("/mail/mailgun", [*mime, *mailgun_signature("wrong-key")])[0] == 401
    assert stack.post("/mail/mailgun", [*mime, *mailgun_signature(timestamp=int(time.time()) - 3600)])[0] == 401
    signed = mailgun_signature()
    status, text = stack.post("/mail/mailgun", [*mime, *signed])
    assert status == 200 and "logged" in text
    assert stack.post("/mail/mailgun", [*mime, *signed])[0] == 401  # the same token again: a replay
    assert [a.customer_id for a in stack.activities()] == [acme.id]


def test_mailgun_parsed_fields_and_a_refusal_is_406(stack, acme):
    headers = [["From", f"Rita Rep <{RITA}>"], ["To", "jane@acme.com"], ["Subject", "MG parsed"],
               ["Message-Id", "<mg-parsed@ourco.com>"], ["Date", message(date=ago(1))["Date"]]]  # fmt: skip
    fields = [
        ("message-headers", json.dumps(headers), None),
        ("body-plain", "Mailgun parsed body.", None),
        ("recipient", stack.address, None),
        ("sender", RITA, None),
        ("attachment-1", b"data", "spec.docx"),
    ]
    assert stack.post("/mail/mailgun", [*fields, *mailgun_signature()])[0] == 200
    (mail,) = stack.emails()
    assert mail.via == "mailgun" and mail.attachments == ["spec.docx"] and mail.status == "filed"
    stranger = [("message-headers", json.dumps([["From", "x@evil.example"], ["To", "jane@acme.com"]]), None)]
    stranger += [fields[1], fields[2], ("sender", "x@evil.example", None)]
    status, text = stack.post("/mail/mailgun", [*stranger, *mailgun_signature()])
    assert status == 406 and "not a Slack user" in text


def test_capture_off_keeps_the_workspace_setting(stack, acme):
    set_enabled(stack.services.session_factory, stack.ws, False, actor=Actor(ADMIN, is_admin=True), now=ago(0))
    status, text = stack.post(
        "/mail/sendgrid",
        [("email", message(date=ago(1)).as_bytes(), None), ("envelope", json.dumps({"to": [stack.address]}), None)],
        auth=WEBHOOK_AUTH,
    )
    assert status == 200 and "turned off" in text and stack.emails() == []


def test_sendgrid_25_mb_post_is_read_without_storing_the_attachment(stack, acme):
    big = bytes(range(256)) * (18 * 1024 * 4)
    raw = message(date=ago(1), attachments=[("video.mov", big)]).as_bytes()
    fields = [("email", raw, None), ("envelope", json.dumps({"to": [stack.address], "from": RITA}), None)]
    status, text = stack.post("/mail/sendgrid", fields, auth=WEBHOOK_AUTH)
    assert status == 200 and "logged" in text and stack.emails()[0].attachments == ["video.mov"]


@pytest.mark.parametrize("stack", [{"mail_max_bytes": 1024 * 1024}], indirect=True)
def test_a_webhook_post_over_the_limit_is_413(stack, acme):
    raw = message(date=ago(1), attachments=[("big.bin", b"x" * 4 * 1024 * 1024)]).as_bytes()
    fields = [("email", raw, None), ("envelope", json.dumps({"to": [stack.address]}), None)]
    status, text = stack.post("/mail/sendgrid", fields, auth=WEBHOOK_AUTH)
    assert status == 413 and "limit" in text and stack.emails() == []


@pytest.mark.parametrize("stack", [{"mail_authserv_id": "mx.ourco.com"}], indirect=True)
def test_our_mtas_spf_dkim_verdict_is_trusted_and_a_senders_own_ignored(stack, acme):
    forged = {"Authentication-Results": "mx.ourco.com; spf=fail smtp.mailfrom=rita@ourco.com; dkim=none"}
    with pytest.raises(smtplib.SMTPDataError) as refused:
        stack.send(message(date=ago(1), headers=forged))
    assert refused.value.smtp_code == 550 and "looks forged" in refused.value.smtp_error.decode()
    planted = {"Authentication-Results": "evil.example; dmarc=fail"}  # not our MTA's: the sender's say-so
    stack.send(message(date=ago(1), headers=planted))
    assert len(stack.activities()) == 1


@pytest.fixture
def tls_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={DOMAIN}",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return str(cert), str(key)


def test_starttls_is_offered_with_a_certificate(tls_files, acme, stack):
    cert, key = tls_files
    settings = replace(stack.services.settings, mail_tls_cert=cert, mail_tls_key=key)
    services = Services.from_settings(settings, engine=stack.services.engine)
    smtp = start_smtp(MailIntake(services, make_web_client(services)), host="127.0.0.1", port=0)
    try:
        context = ssl.create_default_context(cafile=cert)
        context.check_hostname = False
        with smtplib.SMTP("127.0.0.1", smtp.port, timeout=30) as client:
            client.ehlo()
            assert client.has_extn("starttls")
            client.starttls(context=context)
            client.ehlo()
            client.sendmail(RITA, [stack.address], message(date=ago(1)).as_bytes(policy=SMTP_POLICY))
    finally:
        smtp.stop()
        services.work.shutdown()  # its engine is the stack's, closed with it
    assert [a.customer_id for a in stack.activities()] == [acme.id]


def test_mail_for_an_uninstalled_workspace_waits_and_slack_is_not_asked(stack, acme):
    """After app_uninstalled nothing is sent to the workspace, so its sender can't be looked up:
    the mail gets a temporary 451 (the sending server tries again; a reinstall takes it), never a
    Slack call with a dead token, and nothing is stored."""
    from crm.workspaces import mark_uninstalled

    mark_uninstalled(
        stack.services.session_factory, team_id=TEAM_ID, enterprise_id=None, reason="app_uninstalled", now=ago(0)
    )
    seen = len(stack.app.standin.calls)
    with pytest.raises(smtplib.SMTPDataError) as later:
        stack.send(message(date=ago(1), msgid="<uninstalled@ourco.com>"))
    assert later.value.smtp_code == 451 and "not installed" in later.value.smtp_error.decode()
    assert not [c for c in stack.app.standin.calls[seen:] if c.method == "users.lookupByEmail"]
    assert stack.activities() == [] and stack.emails() == []
