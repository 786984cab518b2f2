"""Workspaces: the tenant every row belongs to.

A Slack team id (``T…``) names one workspace for good, also after the workspace joins an
Enterprise Grid org, and in an org-wide install each request names the acting workspace's
team id. So a workspace is found by ``team_id`` alone: a workspace whose requests start
carrying an ``enterprise_id`` keeps its data, and the org's id is recorded on its row.

New rows store ``enterprise_id_key = ""``, so the ``(team_id, enterprise_id_key)`` unique
constraint allows one row per team for them. Rows created before this rule, keyed by an org
(a second, empty row made when a workspace joined an org), are never created again; where a
team has two rows, the oldest (the one holding the workspace's history) is used.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, Table, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from crm.models import Base, ChannelPost, FollowUp, Workspace
from crm.states import DEAD_TOKEN, OPEN_STATUSES, DeliveryError


class NoWorkspace(ValueError):
    """A request that names no workspace (no team id) has no tenant; nothing is created for it."""


def get_or_create_workspace(
    session_factory: sessionmaker[Session], team_id: str, enterprise_id: str | None = None
) -> Workspace:
    """Return the workspace for a Slack team, creating it on first sight (race-safe).

    ``enterprise_id``, when given and different from the one on record, is recorded."""
    if not team_id:
        raise NoWorkspace("a Slack request without a team id belongs to no workspace")
    query = select(Workspace).where(Workspace.team_id == team_id).order_by(Workspace.id).limit(1)
    with session_factory.begin() as session:
        found = session.scalars(query).first()
        if found is not None:
            if enterprise_id and found.enterprise_id != enterprise_id:
                found.enterprise_id = enterprise_id
            return found
    try:
        with session_factory.begin() as session:
            workspace = Workspace(team_id=team_id, enterprise_id=enterprise_id, enterprise_id_key="")
            session.add(workspace)
        return workspace
    except IntegrityError:
        # Another replica created it between our read and our insert.
        return get_or_create_workspace(session_factory, team_id, enterprise_id)


# -- installed or not ------------------------------------------------------------------------------
def _matching(team_id: str | None, enterprise_id: str | None, *, org_wide: bool):
    """The workspaces an install covers: an org-wide one covers every workspace of the org."""
    if org_wide and enterprise_id:
        return Workspace.enterprise_id == enterprise_id
    return Workspace.team_id == (team_id or "")


def mark_uninstalled(
    session_factory: sessionmaker[Session],
    *,
    team_id: str | None,
    enterprise_id: str | None,
    org_wide: bool = False,
    reason: str,
    now: datetime,
) -> int:
    """Nothing is sent to these workspaces from now on (their data stays); how many were marked."""
    with session_factory.begin() as session:
        result = session.execute(
            update(Workspace)
            .where(_matching(team_id, enterprise_id, org_wide=org_wide), Workspace.uninstalled_at.is_(None))
            .values(uninstalled_at=now, uninstall_reason=reason[:64])
        )
        return cast(CursorResult[Any], result).rowcount or 0


# What a send parked for while the app was gone records: it is sent again after a reinstall.
_GONE = (DeliveryError.NOT_INSTALLED, *DEAD_TOKEN)
# Channel posts (linked-channel events, deal alerts) that were parked while the app was gone are
# sent after a reinstall when they are at most this old; older ones stay parked as stale news.
REQUEUE_POSTS_WITHIN = timedelta(days=1)


def mark_installed(
    session_factory: sessionmaker[Session],
    *,
    team_id: str | None,
    enterprise_id: str | None,
    org_wide: bool = False,
    now: datetime,
) -> int:
    """The app is installed again: the workspaces' data is theirs again, and sends resume (the
    open follow-ups whose nudge was parked because the app was gone are nudged again, and the
    channel posts parked for that reason in the last :data:`REQUEUE_POSTS_WITHIN` are sent)."""
    with session_factory.begin() as session:
        ids = list(
            session.scalars(
                select(Workspace.id).where(
                    _matching(team_id, enterprise_id, org_wide=org_wide), Workspace.uninstalled_at.is_not(None)
                )
            )
        )
        if not ids:
            return 0
        session.execute(
            update(Workspace).where(Workspace.id.in_(ids)).values(uninstalled_at=None, uninstall_reason=None)
        )
        session.execute(
            update(FollowUp)
            .where(
                FollowUp.workspace_id.in_(ids),
                FollowUp.status.in_(OPEN_STATUSES),
                FollowUp.deleted_at.is_(None),
                FollowUp.nudge_at.is_(None),
                FollowUp.nudge_error.in_(_GONE),
            )
            .values(nudge_at=now, nudge_error=None)
        )
        session.execute(
            update(ChannelPost)
            .where(
                ChannelPost.workspace_id.in_(ids),
                ChannelPost.send_at.is_(None),
                ChannelPost.sent_at.is_(None),
                ChannelPost.error.in_(_GONE),
                ChannelPost.created_at >= now - REQUEUE_POSTS_WITHIN,
            )
            .values(send_at=now, error=None, claimed_by=None, claimed_until=None)
        )
        return len(ids)


@dataclass(frozen=True)
class Tenant:
    """A workspace as a sender needs it: who it is in Slack, and whether the app is still there."""

    id: int
    team_id: str
    enterprise_id: str | None
    uninstalled: str | None  # why nothing may be sent to it, or None


def tenant(session_factory: sessionmaker[Session], workspace_id: int) -> Tenant | None:
    with session_factory() as session:
        row = session.get(Workspace, workspace_id)
        if row is None:
            return None
        reason = (row.uninstall_reason or "app_uninstalled") if row.uninstalled_at else None
        return Tenant(row.id, row.team_id, row.enterprise_id, reason)


# -- purging ---------------------------------------------------------------------------------------
def _workspace_tables() -> list[Table]:
    """Every table whose rows belong to a workspace, children before parents."""
    return [t for t in reversed(Base.metadata.sorted_tables) if "workspace_id" in t.c]


def purge_counts(session_factory: sessionmaker[Session], team_id: str) -> dict[str, int] | None:
    """What ``purge_workspace`` would delete: rows per table (only tables holding some); None
    when no workspace has this team id."""
    with session_factory() as session:
        ids = list(session.scalars(select(Workspace.id).where(Workspace.team_id == team_id)))
        return _counts(session, ids) if ids else None


def _counts(session: Session, ids: list[int]) -> dict[str, int]:
    counts: dict[str, int] = {}
    if not ids:
        return counts
    for table in _workspace_tables():
        n = session.scalar(select(func.count()).select_from(table).where(table.c.workspace_id.in_(ids))) or 0
        if n:
            counts[table.name] = n
    return counts


PURGED = "purged"


def purge_workspace(session_factory: sessionmaker[Session], team_id: str, *, now: datetime) -> dict[str, int]:
    """Delete every row a workspace owns for good, in one transaction; rows per table.

    The workspace's own row stays, emptied to its team id and marked uninstalled ("purged"): its
    id may be cached by running replicas, and its bumped search and settings versions tell their
    in-memory indexes and settings to let go of what was purged. Installing again starts afresh."""
    with session_factory.begin() as session:
        ids = list(session.scalars(select(Workspace.id).where(Workspace.team_id == team_id)))
        counts = _counts(session, ids)
        if not ids:
            return counts
        for table in _workspace_tables():
            if table.name in counts:
                self_refs = [fk.parent for fk in table.foreign_keys if fk.column.table is table]
                for column in self_refs:  # e.g. customers.merged_into_id: unlink first
                    session.execute(update(table).where(table.c.workspace_id.in_(ids)).values({column.name: None}))
                session.execute(delete(table).where(table.c.workspace_id.in_(ids)))
        session.execute(
            update(Workspace)
            .where(Workspace.id.in_(ids))
            .values(
                name=None,
                settings={},
                search_version=Workspace.search_version + 1,
                settings_version=Workspace.settings_version + 1,
                uninstalled_at=now,
                uninstall_reason=PURGED,
            )
        )
    return counts
