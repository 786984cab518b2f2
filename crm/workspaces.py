"""Workspaces: the tenant every row belongs to."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from crm.models import Workspace


def get_or_create_workspace(
    session_factory: sessionmaker[Session], team_id: str, enterprise_id: str | None = None
) -> Workspace:
    """Return the workspace for a Slack team, creating it on first sight (race-safe)."""
    key = enterprise_id or ""
    query = select(Workspace).where(Workspace.team_id == team_id, Workspace.enterprise_id_key == key)
    with session_factory.begin() as session:
        found = session.scalars(query).first()
        if found is not None:
            return found
    try:
        with session_factory.begin() as session:
            workspace = Workspace(team_id=team_id, enterprise_id=enterprise_id, enterprise_id_key=key)
            session.add(workspace)
        return workspace
    except IntegrityError:
        # Another replica created it between our read and our insert.
        with session_factory.begin() as session:
            return session.scalars(query).one()
