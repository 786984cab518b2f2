"""``oauth.v2.access`` and the tokens it hands out: installs into more workspaces than the one the
stand-in holds, Enterprise Grid org-wide installs, token rotation and revocation.

A test plays Slack's part of "Add to Slack" with :meth:`OAuthMethods.approve`, which returns the
one-time ``code`` Slack would put on the redirect to ``/slack/oauth_redirect``; the app exchanges it
with ``oauth.v2.access`` (client id and secret in HTTP Basic auth or the form, as Slack accepts).
Each token answers ``auth.test`` for its own workspace; :meth:`revoke` makes a workspace's tokens
answer ``token_revoked`` from then on, for every method.
"""

from __future__ import annotations

import base64
import itertools
import time
from dataclasses import dataclass
from typing import Any

from bot.dev.standin.server import SlackError
from bot.dev.standin.workspace import Workspace

ROTATING_LIFETIME = 43_200  # seconds: Slack's rotating bot tokens live 12 hours


@dataclass
class Grant:
    team_id: str | None  # None for an org-wide install
    team_name: str
    enterprise_id: str | None
    org_wide: bool
    installer: str
    scopes: str
    rotating: bool
    expires_in: int


@dataclass
class Issued:
    grant: Grant
    expires_at: float | None = None


class OAuthMethods(Workspace):
    """oauth.v2.access, and auth.test answered per token."""

    client_id = "1111.2222"
    client_secret = "standin-client-secret"

    def _clear(self) -> None:
        super()._clear()
        self._codes: dict[str, Grant] = {}
        self._issued: dict[str, Issued] = {}
        self._refresh: dict[str, Grant] = {}
        self._revoked: set[str] = set()
        if not hasattr(self, "_serial"):  # codes and tokens are never reused, also after reset()
            self._serial = itertools.count(1)

    # ---------------------------------------------------------------- what a test does

    def approve(
        self,
        team_id: str | None,
        *,
        team_name: str = "",
        enterprise_id: str | None = None,
        org_wide: bool = False,
        installer: str = "U0ADMIN",
        scopes: str = "commands,chat:write",
        rotating: bool = False,
        expires_in: int = ROTATING_LIFETIME,
    ) -> str:
        """An admin clicked Allow: the one-time code Slack puts on the redirect."""
        with self._lock:
            code = f"code-{next(self._serial)}-{team_id or enterprise_id}"
            self._codes[code] = Grant(
                team_id,
                team_name or f"Team {team_id}",
                enterprise_id,
                org_wide,
                installer,
                scopes,
                rotating,
                expires_in,
            )
            return code

    def revoke(self, team_id: str | None, enterprise_id: str | None = None) -> None:
        """The workspace (or the org's org-wide install) removed the app: its tokens are dead."""
        with self._lock:
            for token, issued in self._issued.items():
                if issued.grant.team_id == team_id and (
                    enterprise_id is None or issued.grant.enterprise_id == enterprise_id
                ):
                    self._revoked.add(token)

    def tokens_of(self, team_id: str | None) -> list[str]:
        with self._lock:
            return [t for t, i in self._issued.items() if i.grant.team_id == team_id]

    def expire(self, token: str) -> None:
        """Make a rotating token's lifetime run out now."""
        with self._lock:
            self._issued[token].expires_at = time.time() - 1

    # ---------------------------------------------------------------- the Web API

    def _token_refusal(self, token: str) -> str | None:
        if token in self._revoked:
            return "token_revoked"
        issued = self._issued.get(token)
        if issued is not None and issued.expires_at is not None and issued.expires_at < time.time():
            return "token_expired"
        return None

    def _client_ok(self, params: dict[str, Any], headers: dict[str, str]) -> bool:
        client_id, secret = params.get("client_id"), params.get("client_secret")
        auth = headers.get("authorization", "")
        if auth.startswith("Basic "):
            try:
                client_id, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
            except ValueError:
                return False
        return client_id == self.client_id and secret == self.client_secret

    def _mint_token(self, grant: Grant) -> dict[str, Any]:
        serial = next(self._serial)
        who = grant.team_id or grant.enterprise_id
        token = f"xoxe.xoxb-{serial}-{who}" if grant.rotating else f"xoxb-{serial}-{who}"
        issued = Issued(grant, time.time() + grant.expires_in if grant.rotating else None)
        self._issued[token] = issued
        answer: dict[str, Any] = {"access_token": token, "token_type": "bot", "scope": grant.scopes}
        if grant.rotating:
            refresh = f"xoxe-1-{serial}-{who}"
            self._refresh[refresh] = grant
            answer.update(refresh_token=refresh, expires_in=grant.expires_in)
        return answer

    def _api_oauth_v2_access(self, params: dict[str, Any]) -> dict[str, Any]:
        if not self._client_ok(params, self._headers_now):
            raise SlackError("invalid_client_id")
        if params.get("grant_type") == "refresh_token":
            grant = self._refresh.pop(params.get("refresh_token") or "", None)
            if grant is None:
                raise SlackError("invalid_refresh_token")
            return self._mint_token(grant)
        grant = self._codes.pop(params.get("code") or "", None)  # a code works once
        if grant is None:
            raise SlackError("invalid_code")
        answer = self._mint_token(grant)
        team = None if grant.org_wide else {"id": grant.team_id, "name": grant.team_name}
        enterprise = {"id": grant.enterprise_id, "name": f"Org {grant.enterprise_id}"} if grant.enterprise_id else None
        return {
            **answer,
            "app_id": self.app_id,
            "bot_user_id": self.bot_user_id,
            "team": team,
            "enterprise": enterprise,
            "is_enterprise_install": grant.org_wide,
            "authed_user": {"id": grant.installer},
        }

    def _api_auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        issued = self._issued.get(self._token_now or "")
        if issued is None:
            return super()._api_auth_test(params)  # type: ignore[misc]
        grant = issued.grant
        return {
            "url": f"https://{(grant.team_id or grant.enterprise_id or 'x').lower()}.slack.com/",
            "team": grant.team_name,
            "user": self.bot_name,
            "team_id": grant.team_id or grant.enterprise_id,
            "enterprise_id": grant.enterprise_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": grant.org_wide,
        }
