"""A workspace's capture address ``<local>+<token>@<domain>``: its secret token, rotation, on/off.

The token is the only thing that ties a mail to a workspace, so it is long and random (24
lowercase letters and digits, about 124 bits: some mail servers lowercase local parts); rotating
it makes the old address stop working at once. Only admins may rotate it or turn capture off.
"""

from __future__ import annotations

import re
import secrets
import string
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, object_session, sessionmaker

from crm import audit
from crm.actors import Actor
from crm.capture import capture_on, set_capture
from crm.errors import PermissionDenied
from crm.models import MailInbox
from crm.states import AuditAction, CaptureKind

TOKEN_LENGTH = 24
_ALPHABET = string.ascii_lowercase + string.digits
_TOKEN = re.compile(rf"[a-z0-9]{{{TOKEN_LENGTH}}}")


@dataclass(frozen=True)
class Inbox:
    workspace_id: int
    token: str
    enabled: bool
    updated_by: str | None
    updated_at: datetime | None

    def address(self, local_part: str, domain: str) -> str:
        return f"{local_part}+{self.token}@{domain}"


def new_token() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(TOKEN_LENGTH))


def token_in(address: str, *, local_part: str, domain: str) -> str | None:
    """The token of ``crm+<token>@mail.example.com`` (any case), or None for any other address."""
    local, _, host = address.strip().lower().rpartition("@")
    base, plus, token = local.partition("+")
    if host != domain.lower() or base != local_part.lower() or not plus or not _TOKEN.fullmatch(token):
        return None
    return token


def _inbox(row: MailInbox) -> Inbox:
    session = object_session(row)  # on or off: the workspace's capture switch (crm.capture)
    on = session is None or capture_on(session, row.workspace_id, CaptureKind.EMAIL)
    return Inbox(row.workspace_id, row.token, on, row.updated_by, row.updated_at)


def _row(session: Session, workspace_id: int) -> MailInbox | None:
    return session.scalars(select(MailInbox).where(MailInbox.workspace_id == workspace_id)).first()


def get_inbox(sf: sessionmaker[Session], workspace_id: int, *, actor: Actor, now: datetime) -> Inbox:
    """The workspace's inbox, made on first use (race-safe: one replica's insert wins)."""
    for _ in range(2):
        with sf() as session:
            row = _row(session, workspace_id)
            if row is not None:
                return _inbox(row)
        try:
            with sf.begin() as session:
                row = MailInbox(workspace_id=workspace_id, token=new_token())
                row.created_by, row.created_at = actor.user_id, now
                session.add(row)
                session.flush()
                audit.change(session, row, AuditAction.CREATE, actor=actor.user_id)
                return _inbox(row)
        except IntegrityError:
            continue
    raise RuntimeError("the workspace's inbox could neither be read nor made")


def inbox_by_token(sf: sessionmaker[Session], token: str) -> Inbox | None:
    with sf() as session:
        row = session.scalars(select(MailInbox).where(MailInbox.token == token)).first()
        return _inbox(row) if row is not None else None


def _change(
    sf: sessionmaker[Session], workspace_id: int, actor: Actor, now: datetime, note: str, **values: object
) -> Inbox:
    if not actor.is_admin:
        raise PermissionDenied("Only a workspace admin can change the email capture address or turn it on or off.")
    get_inbox(sf, workspace_id, actor=actor, now=now)
    with sf.begin() as session:
        row = session.scalars(select(MailInbox).where(MailInbox.workspace_id == workspace_id).with_for_update()).one()
        before = audit.snapshot(row)
        for key, value in values.items():
            setattr(row, key, value)
        row.updated_by, row.updated_at = actor.user_id, now
        session.flush()
        audit.change(session, row, AuditAction.UPDATE, actor=actor.user_id, before=before, note=note)
        return _inbox(row)


def rotate_token(sf: sessionmaker[Session], workspace_id: int, *, actor: Actor, now: datetime) -> Inbox:
    """A new secret address; mail to the old one is refused from now on."""
    return _change(sf, workspace_id, actor, now, "a new capture address", token=new_token())


def set_enabled(sf: sessionmaker[Session], workspace_id: int, enabled: bool, *, actor: Actor, now: datetime) -> Inbox:
    """Email capture on or off: the same switch as `/crm capture email on|off` (audited there)."""
    if not actor.is_admin:
        raise PermissionDenied("Only a workspace admin can change the email capture address or turn it on or off.")
    get_inbox(sf, workspace_id, actor=actor, now=now)
    set_capture(sf, workspace_id, CaptureKind.EMAIL, enabled, actor=actor)
    return get_inbox(sf, workspace_id, actor=actor, now=now)
