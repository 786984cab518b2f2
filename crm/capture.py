"""Capture without typing, per workspace: an admin turns each kind (channel, alert, email) off.

Stored in ``workspaces.settings["capture"]``; a kind not mentioned there is on.
"""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from crm import audit
from crm.actors import Actor
from crm.errors import NotFound, PermissionDenied
from crm.models import Workspace
from crm.states import AuditAction, CaptureKind


def capture_settings(sf: sessionmaker[Session], workspace_id: int) -> dict[CaptureKind, bool]:
    """Each kind of capture and whether it is on (all are, until an admin turns one off)."""
    with sf() as session:
        return _capture(session, workspace_id)


def _capture(session: Session, workspace_id: int) -> dict[CaptureKind, bool]:
    workspace = session.get(Workspace, workspace_id)
    stored = (workspace.settings or {}).get("capture") if workspace else None
    stored = stored if isinstance(stored, dict) else {}
    return {kind: stored.get(kind.value) is not False for kind in CaptureKind}


def capture_on(session: Session, workspace_id: int, kind: CaptureKind) -> bool:
    return _capture(session, workspace_id)[kind]


def set_capture(
    sf: sessionmaker[Session], workspace_id: int, kind: CaptureKind, on: bool, *, actor: Actor
) -> dict[CaptureKind, bool]:
    """Turn one kind of capture on or off for the workspace (admins only); the settings after."""
    if not actor.is_admin:
        raise PermissionDenied("Only a workspace admin can turn capturing on or off.")
    with sf.begin() as session:
        workspace = session.get(
            Workspace, workspace_id, with_for_update=session.get_bind().dialect.name == "postgresql"
        )
        if workspace is None:
            raise NotFound("This workspace is not set up yet.")
        before = _capture(session, workspace_id)
        settings = dict(workspace.settings or {})
        capture = dict(settings.get("capture") or {})
        capture[kind.value] = on
        settings["capture"] = capture
        workspace.settings = settings  # a new dict, so the JSON column is written
        audit.record(
            session,
            workspace_id=workspace_id,
            entity_type="workspace",
            entity_id=workspace_id,
            action=AuditAction.SETTING,
            actor=actor.user_id,
            before={"capture": {k.value: v for k, v in before.items()}},
            after={"capture": capture},
        )
        session.flush()
        return _capture(session, workspace_id)


def check_capture(session: Session, workspace_id: int, kind: CaptureKind) -> None:
    if not capture_on(session, workspace_id, kind):
        raise PermissionDenied(
            f"Capturing from {kind.value}s is turned off in this workspace; an admin can turn it on "
            f"with `/crm capture {kind.value} on`."
        )
