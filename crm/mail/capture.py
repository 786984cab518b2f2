"""Logging inbound mail: which workspace, which rep, which customer, once per Message-ID.

:func:`capture` takes a parsed mail and its envelope and decides, in this order: the workspace
(the secret token in a recipient address), whether capture is on there, whether the mail is
automatic (a loop, a bounce, a list), whether the From looks forged (the envelope sender, the
provider's or our MTA's SPF/DKIM verdict), and who the rep is (the From must be a Slack user of
that workspace; ``lookup`` asks Slack). Then the other party's addresses (not the rep's own
domain, nor ours) are matched to customers: by a contact's email first, else by the customer's
domain (never through a free mail provider). One customer: an Email activity (source ``email``)
credited to the rep at the mail's own date. None or several: the mail waits for the rep to pick
(``unfiled``); it is never guessed. The mail row and its activity are written in one transaction,
and ``(workspace, message key)`` is unique, so a mail is logged exactly once across replicas.
A forward written as text has no Message-ID of its original: it counts as the mail it forwards
when that was captured before, by BCC or in an earlier forward (:func:`forwarded_original`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from crm.activities import add_activity
from crm.activity_types import ActivityTypes
from crm.actors import Actor
from crm.errors import CRMError, InvalidInput, NotFound, PermissionDenied
from crm.mail.inbox import Inbox, inbox_by_token, token_in
from crm.mail.parse import Address, ParsedMail, Verdict, verdict_from_results
from crm.models import Activity, Contact, Customer, InboundEmail
from crm.normalize import is_free_email_domain, registrable_domain
from crm.states import ActivitySource, MailStatus

EMAIL_TYPE = "email"
FUTURE_TOLERANCE = timedelta(hours=1)
OLDEST = timedelta(days=5 * 366)  # an older Date is a broken clock: the received time is used
# An inline forward shows its original's time to the minute ("Date: Mon, Nov 30, 2026 at 9:15 AM").
FORWARD_TIME_SLACK = timedelta(seconds=60)
HOME_LIMIT = 5


class Result(StrEnum):
    LOGGED = "logged"
    UNFILED = "unfiled"
    DUPLICATE = "duplicate"
    REFUSED = "refused"  # for good: the sender gets a 550 / the provider a 2xx or 406
    RETRY = "retry"  # for now (Slack could not be asked): the sender or provider should try later


class LookupUnavailable(Exception):
    """Slack could not be asked who an address belongs to (an outage, a rate limit)."""


@dataclass(frozen=True)
class MailConfig:
    """The deployment's mail settings, as the capture rules use them."""

    domain: str  # CRM_MAIL_DOMAIN: the capture addresses' domain
    local_part: str = "crm"
    sender_domains: frozenset[str] = frozenset()  # CRM_MAIL_SENDER_DOMAINS: the reps' domains, if limited
    authserv_id: str | None = None  # CRM_MAIL_AUTHSERV_ID: whose Authentication-Results to trust


@dataclass(frozen=True)
class Envelope:
    via: str  # smtp, sendgrid, mailgun
    mail_from: str | None = None  # the envelope sender (MAIL FROM); "" for a bounce; None if unknown
    recipients: tuple[str, ...] = ()  # the envelope recipients (RCPT TO), where the BCC shows
    verdict: Verdict | None = None  # the provider's SPF/DKIM verdict, when it gives one


@dataclass(frozen=True)
class Outcome:
    result: Result
    reason: str
    workspace_id: int | None = None
    rep_user_id: str | None = None
    inbound_id: int | None = None
    activity_id: int | None = None
    customer_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class Unfiled:
    id: int
    subject: str
    counterparts: list[str]
    sent_at: datetime
    body: str
    attachments: list[str]
    candidates: list[tuple[int, str]] = field(default_factory=list)  # (customer id, name)


# -- deciding -------------------------------------------------------------------------------------
def workspace_token(mail: ParsedMail, envelope: Envelope, config: MailConfig) -> str | None:
    """The first capture token among the envelope recipients, else the To/Cc/Delivered-To headers."""
    candidates = [*envelope.recipients, *(a.email for a in (*mail.delivered_to, *mail.to, *mail.cc))]
    for address in candidates:
        token = token_in(address, local_part=config.local_part, domain=config.domain)
        if token:
            return token
    return None


def _refused(reason: str, **ids: object) -> Outcome:
    return Outcome(Result.REFUSED, reason, **ids)  # type: ignore[arg-type]


def check_sender(mail: ParsedMail, envelope: Envelope, config: MailConfig) -> str | None:
    """Why this mail is refused before anyone is asked who sent it, or None."""
    sender = mail.sender
    if sender is None:
        return "it has no readable From address"
    if mail.loop:
        return f"{mail.loop}; automatic mail is never logged, so it can't loop"
    if envelope.mail_from == "":
        return "it is a bounce (empty envelope sender)"
    ours = config.domain.lower()
    if sender.domain == ours or sender.domain.endswith("." + ours):
        return f"it comes from our own capture domain ({ours}): a mail loop"
    if config.sender_domains and sender.domain not in config.sender_domains:
        return f"the sender's domain {sender.domain} is not one of CRM_MAIL_SENDER_DOMAINS"
    verdict = envelope.verdict or verdict_from_results(mail.auth_results, config.authserv_id)
    if verdict is not None and verdict.forged:
        return f"the From address {sender.email} looks forged: {verdict.forged}"
    mail_from = (envelope.mail_from or "").strip().strip("<>").lower()
    if mail_from and mail_from != sender.email and not (verdict is not None and verdict.dkim == "pass"):
        return f"the envelope sender {mail_from} is not the From address {sender.email}"
    return None


def message_key(mail: ParsedMail) -> str:
    """What makes two deliveries the same mail: the forwarded original's Message-ID, else the mail's,
    else (no Message-ID) its sender, date, subject and words."""
    basis = (mail.forwarded.message_id if mail.forwarded else None) or mail.message_id
    if basis:
        basis = "id:" + basis.strip().strip("<>").strip()
    else:
        sender = mail.sender.email if mail.sender else ""
        basis = f"content:{sender}|{mail.sent_at}|{mail.subject}|{mail.text}"
    return "sha256:" + hashlib.sha256(basis.encode("utf-8", "surrogatepass")).hexdigest()


def counterparts(mail: ParsedMail, rep: Address, config: MailConfig) -> list[str]:
    """The other party's addresses: the forwarded original's people, else the To and Cc, without the
    rep's own domain, the reps' domains and our capture domain."""
    people: tuple[Address, ...]
    if mail.forwarded is not None:
        people = tuple(a for a in ((mail.forwarded.sender,) if mail.forwarded.sender else ())) + mail.forwarded.to
    else:
        people = mail.to + mail.cc
    own = {rep.domain, config.domain.lower(), *config.sender_domains}
    found: list[str] = []
    for person in people:
        domain = person.domain
        if domain in own or registrable_domain(domain) in own or any(domain.endswith("." + d) for d in own):
            continue
        if person.email not in found:
            found.append(person.email)
    return found[:50]


def sent_time(mail: ParsedMail, now: datetime) -> datetime:
    """When it was really sent: the forwarded original's date, else the Date header; one more than
    an hour ahead or five years back is a broken clock, and the received time is used."""
    for when in (mail.forwarded.sent_at if mail.forwarded else None, mail.sent_at):
        if when is not None and now - OLDEST <= when <= now + FUTURE_TOLERANCE:
            return min(when, now)
    return now


@dataclass
class Match:
    customers: list[int]
    contact_id: int | None  # the one contact the mail was with, if exactly one matched


def match_customers(session: Session, workspace_id: int, emails: list[str]) -> Match:
    """Customers of the other party: each address by a contact's email, else by the customer's domain."""
    live = (Customer.workspace_id == workspace_id, Customer.deleted_at.is_(None), Customer.merged_into_id.is_(None))
    customers: list[int] = []
    contacts: set[int] = set()
    for email in emails:
        rows = session.execute(
            select(Contact.id, Contact.customer_id)
            .join(Customer, Customer.id == Contact.customer_id)
            .where(
                *live,
                Contact.workspace_id == workspace_id,
                Contact.deleted_at.is_(None),
                Contact.merged_into_id.is_(None),
                func.lower(Contact.email) == email,
            )
        ).all()
        found = [customer_id for _, customer_id in rows]
        contacts.update(contact_id for contact_id, _ in rows)
        domain = email.rpartition("@")[2]
        if not found and not is_free_email_domain(domain):
            domains = {domain, registrable_domain(domain)}
            found = list(session.scalars(select(Customer.id).where(*live, func.lower(Customer.domain).in_(domains))))
        for customer_id in found:
            if customer_id not in customers:
                customers.append(customer_id)
    contact = next(iter(contacts)) if len(contacts) == 1 and len(customers) == 1 else None
    return Match(customers, contact)


def summary_of(row: InboundEmail) -> str:
    lines = [f"✉️ {row.subject or '(no subject)'}"]
    if row.counterparts:
        lines.append("With " + ", ".join(row.counterparts[:5]))
    if row.body:
        lines += ["", row.body]
    if row.attachments:
        lines += ["", "Attachments (not stored): " + ", ".join(row.attachments[:20])]
    return "\n".join(lines)


# -- capturing ------------------------------------------------------------------------------------
def capture(
    sf: sessionmaker[Session],
    mail: ParsedMail,
    envelope: Envelope,
    *,
    config: MailConfig,
    lookup: Callable[[int, str], str | None],
    types: ActivityTypes | Callable[[int], ActivityTypes],
    now: datetime,
) -> Outcome:
    """Log ``mail`` once, or say why not. ``types``: the activity types, or the workspace's by its id.
    ``lookup(workspace_id, email)`` is the Slack user id of
    that workspace's member with the email (None: nobody), raising :class:`LookupUnavailable`
    when Slack can't be asked."""
    token = workspace_token(mail, envelope, config)
    inbox: Inbox | None = inbox_by_token(sf, token) if token else None
    if inbox is None:
        return _refused("no workspace has this address (an unknown or rotated capture token)")
    ws = inbox.workspace_id
    if not inbox.enabled:
        return _refused("email capture is turned off for this workspace", workspace_id=ws)
    problem = check_sender(mail, envelope, config)
    if problem:
        return _refused(problem, workspace_id=ws)
    assert mail.sender is not None
    try:
        rep = lookup(ws, mail.sender.email)
    except LookupUnavailable as err:
        return Outcome(Result.RETRY, f"Slack could not be asked who {mail.sender.email} is ({err})", ws)
    if rep is None:
        return _refused(f"the sender {mail.sender.email} is not a Slack user of this workspace", workspace_id=ws)
    key = message_key(mail)
    with sf() as session:
        earlier = _by_key(session, ws, key) or forwarded_original(session, ws, mail)
        if earlier is not None:
            return _duplicate(earlier)
    try:
        with sf.begin() as session:
            own = types(ws) if callable(types) else types
            return _save(session, ws, key, mail, envelope, rep=rep, config=config, types=own, now=now)
    except CRMError as err:  # e.g. no Email activity type: nothing saved, and retrying can't help
        return _refused(err.message, workspace_id=ws, rep_user_id=rep)
    except IntegrityError:
        with sf() as session:
            earlier = _by_key(session, ws, key)
        if earlier is None:
            raise
        return _duplicate(earlier)  # another replica saved the same mail first


def _by_key(session: Session, workspace_id: int, key: str) -> InboundEmail | None:
    return session.scalars(
        select(InboundEmail).where(InboundEmail.workspace_id == workspace_id, InboundEmail.message_key == key)
    ).first()


def forwarded_original(session: Session, workspace_id: int, mail: ParsedMail) -> InboundEmail | None:
    """The mail captured before that ``mail`` forwards as text, if any.

    A forward as an attachment carries its original's Message-ID (:func:`message_key`); one
    written as text carries only its From, To, Date and Subject lines. It is the same mail as
    a captured one with that subject, sent within the minute its Date line shows, whose sender
    was the original's (the rep BCC'd it when sending) or who had the original's sender among
    its people (an earlier forward of it); when the forward names the original's recipients, one
    of them must be among the captured mail's. Anything less is logged as a mail of its own.
    """
    fwd = mail.forwarded
    if fwd is None or fwd.message_id or fwd.sent_at is None or fwd.sender is None:
        return None
    subject = _subject_key(fwd.subject)
    if not subject:
        return None
    rows = session.scalars(
        select(InboundEmail)
        .where(
            InboundEmail.workspace_id == workspace_id,
            InboundEmail.sent_at >= fwd.sent_at - FORWARD_TIME_SLACK,
            InboundEmail.sent_at <= fwd.sent_at + FORWARD_TIME_SLACK,
        )
        .order_by(InboundEmail.id)
    ).all()
    sender = fwd.sender.email
    recipients = {a.email for a in fwd.to}
    for row in rows:
        if _subject_key(row.subject) != subject:
            continue
        people = set(row.counterparts or ())
        if row.from_address == sender:  # the original itself, BCC'd by its sender
            if recipients and not recipients & people:
                continue
            return row
        if sender in people:  # an earlier forward of the same original
            return row
    return None


def _subject_key(subject: str | None) -> str:
    return " ".join((subject or "").split()).casefold()[:998]


def _duplicate(row: InboundEmail) -> Outcome:
    return Outcome(
        Result.DUPLICATE, "this mail was captured already", row.workspace_id, row.rep_user_id, row.id, row.activity_id
    )


def _save(
    session: Session,
    ws: int,
    key: str,
    mail: ParsedMail,
    envelope: Envelope,
    *,
    rep: str,
    config: MailConfig,
    types: ActivityTypes,
    now: datetime,
) -> Outcome:
    assert mail.sender is not None
    others = counterparts(mail, mail.sender, config)
    match = match_customers(session, ws, others)
    subject = (mail.forwarded.subject if mail.forwarded and mail.forwarded.subject else mail.subject) or ""
    row = InboundEmail(
        workspace_id=ws,
        message_key=key,
        message_id=mail.message_id,
        via=envelope.via,
        rep_user_id=rep,
        from_address=mail.sender.email,
        counterparts=others,
        subject=subject[:998],
        body=mail.text,
        attachments=list(mail.attachments),
        sent_at=sent_time(mail, now),
        status=MailStatus.UNFILED,
        candidates=match.customers if len(match.customers) > 1 else [],
        created_by=rep,
        created_at=now,
    )
    session.add(row)
    session.flush()  # the unique key: a second delivery stops here
    if len(match.customers) != 1:
        why = "no customer matches" if not match.customers else f"{len(match.customers)} customers match"
        return Outcome(
            Result.UNFILED, f"{why}; it waits in the rep's Home tab", ws, rep, row.id, None, tuple(match.customers)
        )
    activity = _file(session, row, match.customers[0], match.contact_id, actor=Actor(rep), types=types, now=now)
    return Outcome(Result.LOGGED, "logged", ws, rep, row.id, activity.id, tuple(match.customers))


def _file(
    session: Session,
    row: InboundEmail,
    customer_id: int,
    contact_id: int | None,
    *,
    actor: Actor,
    types: ActivityTypes,
    now: datetime,
) -> Activity:
    type_key = EMAIL_TYPE if types.is_active(EMAIL_TYPE) else None
    if type_key is None:
        raise InvalidInput("This workspace has no Email activity type (CRM_ACTIVITY_TYPES), so mail can't be logged.")
    activity = Activity(
        workspace_id=row.workspace_id,
        customer_id=customer_id,
        contact_id=contact_id,
        type_key=type_key,
        summary=summary_of(row),
        occurred_at=row.sent_at,
        source=ActivitySource.EMAIL,
        idempotency_key=f"email:{row.message_key}",
        external_ref=(row.message_id or "")[:255] or None,
        created_by=row.rep_user_id,
        created_at=now,
    )
    logged = add_activity(session, activity, actor=actor, types=types, now=now)
    row.status, row.activity_id = MailStatus.FILED, logged.activity.id
    row.filed_at, row.filed_by = now, actor.user_id
    return logged.activity


# -- the rep's unfiled mail -------------------------------------------------------------------------
def list_unfiled(
    sf: sessionmaker[Session], workspace_id: int, rep_user_id: str, *, limit: int = HOME_LIMIT
) -> tuple[list[Unfiled], int]:
    """The rep's mail waiting for a customer, newest first, and how many there are."""
    where = (
        InboundEmail.workspace_id == workspace_id,
        InboundEmail.rep_user_id == rep_user_id,
        InboundEmail.status == MailStatus.UNFILED,
    )
    with sf() as session:
        total = session.scalar(select(func.count()).select_from(InboundEmail).where(*where)) or 0
        rows = session.scalars(select(InboundEmail).where(*where).order_by(InboundEmail.sent_at.desc()).limit(limit))
        return [_unfiled(session, row) for row in rows], total


def _unfiled_row(session: Session, workspace_id: int, inbound_id: int, actor: Actor) -> InboundEmail:
    row = session.get(InboundEmail, inbound_id, with_for_update=True)
    if row is None or row.workspace_id != workspace_id:
        raise NotFound("That email doesn't exist.")
    if row.rep_user_id != actor.user_id and not actor.is_admin:
        raise PermissionDenied("That email is someone else's to file.")
    return row


def _unfiled(session: Session, row: InboundEmail) -> Unfiled:
    ids = list(row.candidates or [])
    live = (Customer.id.in_(ids or [-1]), Customer.deleted_at.is_(None), Customer.merged_into_id.is_(None))
    names: dict[int, str] = {
        cid: name for cid, name in session.execute(select(Customer.id, Customer.name).where(*live))
    }
    candidates = [(cid, names[cid]) for cid in ids if cid in names]
    return Unfiled(row.id, row.subject, row.counterparts, row.sent_at, row.body, row.attachments, candidates)


def get_unfiled(sf: sessionmaker[Session], workspace_id: int, inbound_id: int, *, actor: Actor) -> Unfiled:
    with sf() as session:
        row = _unfiled_row(session, workspace_id, inbound_id, actor)
        if row.status != MailStatus.UNFILED:
            raise NotFound("That email was filed already.")
        return _unfiled(session, row)


@dataclass(frozen=True)
class Filed:
    activity_id: int | None
    customer_name: str | None
    created: bool  # False: it had been filed (or dismissed) already


def file_email(
    sf: sessionmaker[Session],
    workspace_id: int,
    inbound_id: int,
    customer_id: int,
    *,
    actor: Actor,
    types: ActivityTypes,
    now: datetime,
) -> Filed:
    """Log a waiting mail on the customer the rep picked (once: the row is locked, and a second
    pick finds it filed)."""
    with sf.begin() as session:
        row = _unfiled_row(session, workspace_id, inbound_id, actor)
        if row.status != MailStatus.UNFILED:
            earlier = session.get(Activity, row.activity_id) if row.activity_id else None
            return Filed(row.activity_id, _name(session, earlier.customer_id) if earlier else None, False)
        activity = _file(session, row, customer_id, None, actor=actor, types=types, now=now)
        return Filed(activity.id, _name(session, activity.customer_id), True)


def _name(session: Session, customer_id: int) -> str | None:
    customer = session.get(Customer, customer_id)
    return customer.name if customer is not None else None


def dismiss_email(
    sf: sessionmaker[Session], workspace_id: int, inbound_id: int, *, actor: Actor, now: datetime
) -> bool:
    """The rep says the mail belongs to no customer: it leaves the Home tab (kept, not logged)."""
    with sf.begin() as session:
        row = _unfiled_row(session, workspace_id, inbound_id, actor)
        if row.status != MailStatus.UNFILED:
            return False
        row.status, row.filed_at, row.filed_by = MailStatus.DISMISSED, now, actor.user_id
        return True
