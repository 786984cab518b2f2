"""``app_uninstalled`` and ``tokens_revoked``: stop every send to the workspace at once.

Slack sends these when a workspace (or, for an org-wide install, a whole Enterprise Grid org)
removes the app or its bot token is revoked. The workspace is marked (``crm.workspaces``), so the
scheduled senders park what is due there instead of calling Slack with a dead token; in OAuth mode
Bolt's own listeners also delete the stored installation. The workspace's data stays: installing
the app again clears the mark (``bot.services.Services._installed``).

Bolt acknowledges events itself and skips its authorization for these two (the token is gone).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from slack_bolt import App, BoltContext

from crm.workspaces import mark_uninstalled

if TYPE_CHECKING:
    from bot.services import Services
    from commands.router import CommandRouter

log = logging.getLogger(__name__)


def _org_wide(body: dict[str, Any]) -> bool:
    if body.get("is_enterprise_install") is True:
        return True
    auths = body.get("authorizations")
    first = auths[0] if isinstance(auths, list) and auths and isinstance(auths[0], dict) else {}
    return first.get("is_enterprise_install") is True


def _ids(body: dict[str, Any]) -> tuple[str | None, str | None]:
    team = body.get("team_id")
    enterprise = body.get("enterprise_id")
    return (
        team if isinstance(team, str) and team else None,
        enterprise if isinstance(enterprise, str) and enterprise else None,
    )


def on_gone(services: Services, body: dict[str, Any], reason: str) -> int:
    team_id, enterprise_id = _ids(body)
    org_wide = _org_wide(body)
    marked = mark_uninstalled(
        services.session_factory,
        team_id=team_id,
        enterprise_id=enterprise_id,
        org_wide=org_wide,
        reason=reason,
        now=services.now(),
    )
    log.info(
        "%s: team %s org %s (org-wide %s): %s workspace(s) stop receiving",
        reason,
        team_id,
        enterprise_id,
        org_wide,
        marked,
    )
    return marked


def register(app: App, services: Services, router: CommandRouter) -> None:
    builtin = app.installation_store is not None  # OAuth: Bolt deletes the stored tokens too
    uninstalled = app.default_app_uninstalled_event_listener() if builtin else None
    revoked = app.default_tokens_revoked_event_listener() if builtin else None

    def app_uninstalled(body: dict[str, Any], context: BoltContext) -> None:
        on_gone(services, body, "app_uninstalled")
        if uninstalled is not None:
            uninstalled(context=context)

    def tokens_revoked(body: dict[str, Any], event: dict[str, Any], context: BoltContext) -> None:
        raw = event.get("tokens")
        tokens: dict[str, Any] = raw if isinstance(raw, dict) else {}
        if tokens.get("bot"):  # only the bot token matters for sending; user tokens are not used
            on_gone(services, body, "tokens_revoked")
        if revoked is not None:
            revoked(event=event, context=context)

    app.event("app_uninstalled")(app_uninstalled)
    app.event("tokens_revoked")(tokens_revoked)
