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

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from crm.models import Workspace


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
