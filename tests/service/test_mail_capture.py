"""Email capture's rules on real SQLite and PostgreSQL: exactly once across replicas, one
workspace's address never reaches another, unfiled mail filed once."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from crm.activity_types import DEFAULT
from crm.actors import Actor
from crm.customers.values import ContactInput
from crm.db import make_engine, make_session_factory
from crm.mail.capture import Envelope, MailConfig, Result, capture, file_email, list_unfiled
from crm.mail.inbox import get_inbox, rotate_token
from crm.mail.parse import parse_mail
from crm.models import Activity, AuditEntry, InboundEmail
from tests.conftest import ADMIN, REP
from tests.support.mail import DOMAIN, RITA, message

CONFIG = MailConfig(domain=DOMAIN)
NOW = datetime.now(UTC).replace(microsecond=0)


def lookup(_ws: int, email: str) -> str | None:
    return REP if email == RITA else None


def run(sf, raw: bytes, address: str):
    return capture(
        sf, parse_mail(raw), Envelope("smtp", RITA, (address,)), config=CONFIG, lookup=lookup, types=DEFAULT, now=NOW
    )


def test_the_same_mail_from_many_replicas_at_once_is_logged_once(services, make, database_url):
    make.customer("Acme Corp", contact=ContactInput(name="Jane", email="jane@acme.com"))
    inbox = get_inbox(services.session_factory, make.ws, actor=Actor(ADMIN, is_admin=True), now=NOW)
    raw = message(date=NOW - timedelta(hours=1), msgid="<race@ourco.com>").as_bytes()
    engines = [make_engine(database_url) for _ in range(4)]  # four replicas, each its own pool
    results: list[Result] = []
    start = threading.Barrier(len(engines))

    def replica(engine) -> None:
        start.wait()
        results.append(run(make_session_factory(engine), raw, inbox.address("crm", DOMAIN)).result)

    threads = [threading.Thread(target=replica, args=(e,)) for e in engines]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    for e in engines:
        e.dispose()
    assert sorted(results) == sorted([Result.LOGGED] + [Result.DUPLICATE] * 3)
    with services.session_factory() as s:
        assert len(s.scalars(select(Activity)).all()) == 1
        assert len(s.scalars(select(InboundEmail)).all()) == 1


def test_one_workspaces_address_never_reaches_another(services, make):
    other = type(make)(services, team_id="T0OTHER")
    make.customer("Acme Corp", website="https://acme.com")
    theirs = other.customer("Acme Corp", website="https://acme.com")
    sf = services.session_factory
    admin = Actor(ADMIN, is_admin=True)
    mine = get_inbox(sf, make.ws, actor=admin, now=NOW)
    their_inbox = get_inbox(sf, other.ws, actor=admin, now=NOW)
    assert mine.token != their_inbox.token
    outcome = run(sf, message(date=NOW).as_bytes(), their_inbox.address("crm", DOMAIN))
    assert outcome.result == Result.LOGGED and outcome.workspace_id == other.ws
    with sf() as s:
        (activity,) = s.scalars(select(Activity)).all()
    assert activity.customer_id == theirs.id and activity.workspace_id == other.ws
    # After a rotation the old address is nobody's; the rotation is audited without the secret.
    rotate_token(sf, other.ws, actor=admin, now=NOW)
    with sf() as s:
        entries = s.scalars(select(AuditEntry).where(AuditEntry.entity_type == "mail_inbox")).all()
    assert [e.action for e in entries if e.workspace_id == other.ws] == ["create", "update"]
    assert all(their_inbox.token not in str((e.before, e.after, e.note)) for e in entries)
    late = run(sf, message(date=NOW).as_bytes(), their_inbox.address("crm", DOMAIN))
    assert late.result == Result.REFUSED and "rotated" in late.reason


def test_unfiled_mail_is_filed_once_even_when_picked_twice_at_once(services, make):
    acme = make.customer("Acme Corp")
    sf = services.session_factory
    inbox = get_inbox(sf, make.ws, actor=Actor(ADMIN, is_admin=True), now=NOW)
    outcome = run(sf, message(to="pat@startup.example", date=NOW).as_bytes(), inbox.address("crm", DOMAIN))
    assert outcome.result == Result.UNFILED
    waiting, total = list_unfiled(sf, make.ws, REP)
    assert total == 1 and waiting[0].counterparts == ["pat@startup.example"]
    filed = []

    def pick() -> None:
        filed.append(file_email(sf, make.ws, waiting[0].id, acme.id, actor=Actor(REP), types=DEFAULT, now=NOW))

    threads = [threading.Thread(target=pick) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(f.created for f in filed) == [False, False, True]
    with sf() as s:
        (activity,) = s.scalars(select(Activity)).all()
    assert activity.source == "email" and activity.created_by == REP
    assert list_unfiled(sf, make.ws, REP) == ([], 0)


def test_a_workspace_without_an_email_type_refuses_with_why(services, make):
    from crm.activity_types import types_for

    make.customer("Acme Corp", contact=ContactInput(name="Jane", email="jane@acme.com"))
    sf = services.session_factory
    inbox = get_inbox(sf, make.ws, actor=Actor(ADMIN, is_admin=True), now=NOW)
    outcome = capture(
        sf,
        parse_mail(message(date=NOW).as_bytes()),
        Envelope("smtp", RITA, (inbox.address("crm", DOMAIN),)),
        config=CONFIG,
        lookup=lookup,
        types=types_for("call:Call:📞,meeting:Meeting:🤝"),
        now=NOW,
    )
    assert outcome.result == Result.REFUSED and "Email activity type" in outcome.reason
    with sf() as s:
        assert s.scalars(select(InboundEmail)).all() == []  # nothing half-saved: it can come again later


def test_one_switch_turns_email_capture_off_from_either_command(services, make):
    """`/crm capture email off` (crm.capture) and `/crm email off` (the inbox) are the same switch."""
    from crm.capture import capture_settings, set_capture
    from crm.mail.inbox import inbox_by_token, set_enabled
    from crm.states import CaptureKind

    sf, admin = services.session_factory, Actor(ADMIN, is_admin=True)
    make.customer("Acme Corp", contact=ContactInput(name="Jane", email="jane@acme.com"))
    inbox = get_inbox(sf, make.ws, actor=admin, now=NOW)
    address = inbox.address("crm", DOMAIN)

    set_capture(sf, make.ws, CaptureKind.EMAIL, False, actor=admin)
    assert inbox_by_token(sf, inbox.token).enabled is False
    refused = run(sf, message(date=NOW - timedelta(hours=1), msgid="<off@ourco.com>").as_bytes(), address)
    assert refused.result is Result.REFUSED and "turned off" in refused.reason

    set_enabled(sf, make.ws, True, actor=admin, now=NOW)
    assert capture_settings(sf, make.ws)[CaptureKind.EMAIL] is True
    assert (
        run(sf, message(date=NOW - timedelta(hours=1), msgid="<on@ourco.com>").as_bytes(), address).result
        is Result.LOGGED
    )

    set_enabled(sf, make.ws, False, actor=admin, now=NOW)
    assert capture_settings(sf, make.ws)[CaptureKind.EMAIL] is False


def _inline_forward(original_from: str, original_to: str, sent, subject: str, words: str):
    """Rita forwards a mail as text, the way Gmail writes it (the time to the minute)."""
    shown = sent.strftime("%a, %b %d, %Y at %I:%M %p").replace(" 0", " ")
    body = (
        "FYI, for the record.\n\n---------- Forwarded message ---------\n"
        f"From: {original_from}\nDate: {shown}\nSubject: {subject}\nTo: {original_to}\n\n{words}\n"
    )
    return message(subject=f"Fwd: {subject}", body=body, to="crm@elsewhere.example", date=NOW)


def test_an_inline_forward_of_a_mail_captured_before_is_not_logged_again(services, make):
    make.customer("Acme Corp", contact=ContactInput(name="Jane", email="jane@acme.com"))
    make.customer("Initech", contact=ContactInput(name="Bob", email="bob@initech.example"))
    sf = services.session_factory
    address = get_inbox(sf, make.ws, actor=Actor(ADMIN, is_admin=True), now=NOW).address("crm", DOMAIN)
    sent = NOW - timedelta(hours=2, seconds=-37)  # the forward shows only its minute
    bcc = run(sf, message(date=sent, subject="Your quote").as_bytes(), address)  # Rita BCC'd it to Jane
    assert bcc.result == Result.LOGGED
    # Later she forwards that same mail as text: a Message-ID of its own, the original's minute.
    again = run(
        sf,
        _inline_forward(f"Rita Rep <{RITA}>", "Jane Doe <jane@acme.com>", sent, "Your quote", "Hi Jane").as_bytes(),
        address,
    )
    assert again.result == Result.DUPLICATE and again.activity_id == bcc.activity_id
    # Jane's answer, forwarded as text twice, is one mail too.
    answer_at = NOW - timedelta(hours=1)
    first = _inline_forward("Jane Doe <jane@acme.com>", f"Rita Rep <{RITA}>", answer_at, "Re: Your quote", "Deal.")
    second = _inline_forward("Jane Doe <jane@acme.com>", f"Rita Rep <{RITA}>", answer_at, "Re: Your quote", "Deal.")
    assert run(sf, first.as_bytes(), address).result == Result.LOGGED
    assert run(sf, second.as_bytes(), address).result == Result.DUPLICATE
    # The same subject in the same minute to someone else, or another minute, is another mail.
    to_bob = _inline_forward(f"Rita Rep <{RITA}>", "Bob <bob@initech.example>", sent, "Your quote", "Hi Bob")
    assert run(sf, to_bob.as_bytes(), address).result == Result.LOGGED
    later = _inline_forward(
        f"Rita Rep <{RITA}>", "Jane Doe <jane@acme.com>", sent + timedelta(minutes=5), "Your quote", "Hi"
    )
    assert run(sf, later.as_bytes(), address).result == Result.LOGGED
    with sf() as s:
        assert len(s.scalars(select(Activity)).all()) == 4
        assert len(s.scalars(select(InboundEmail)).all()) == 4
