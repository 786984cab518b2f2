"""OAuth installs over the real HTTP server and the stand-in: the install page and its state
cookie, the redirect with a code, tokens encrypted at rest, bad states, denied installs, racing
callbacks, org-wide installs, token rotation, and a workspace that never installed the app."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from bot.installations import TokenCipher
from crm import customers as svc
from crm.models import slack_bots, slack_installations, slack_oauth_states
from tests.conftest import REP
from tests.support.oauth import KEY, OAuthApp, oauth_app

__all__ = ["oauth_app"]  # the fixture


def _rows(oauth_app: OAuthApp, table) -> list[dict]:
    with oauth_app.services.engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(table)).mappings()]


def test_the_install_page_sets_the_state_cookie_and_links_to_slack(oauth_app):
    state, _ = oauth_app.start_install()
    _, _, page = oauth_app.get("/slack/install")
    assert "client_id=1111.2222" in page and "scope=commands,chat:write," in page
    assert state in [r["state"] for r in _rows(oauth_app, slack_oauth_states)]  # one row per page shown


def test_an_install_is_stored_encrypted_and_then_serves_that_workspace(oauth_app):
    status, page = oauth_app.install("T0NEW", team_name="New Co")
    assert status == 200 and "Thank you!" in page
    [token] = oauth_app.standin.tokens_of("T0NEW")
    [row] = _rows(oauth_app, slack_installations)
    [bot] = _rows(oauth_app, slack_bots)
    for stored in (row["bot_token"], bot["bot_token"]):
        assert token not in stored and not stored.startswith("xox")  # ciphertext, not the token
        assert TokenCipher([KEY]).open(stored) == token
    assert (row["team_id"], row["enterprise_id"], row["is_enterprise_install"]) == ("T0NEW", None, False)
    assert _rows(oauth_app, slack_oauth_states) == []  # the state was used up

    s = oauth_app.services
    svc.create_customer(s.session_factory, s.search, s.workspace_id("T0NEW"), actor=REP, name="Acme Corporation")
    assert "Acme Corporation" in oauth_app.lookup("T0NEW", "acme")
    # Bolt authorized the request with that workspace's own token (auth.test), and answered with it.
    assert {c.token for c in oauth_app.standin.calls_to("auth.test")} == {token}
    assert "Acme Corporation" in oauth_app.lookup("T0NEW", "acme")
    assert len(oauth_app.standin.calls_to("auth.test")) == 2  # the install's, and one for requests


def test_a_reused_state_or_one_without_its_cookie_is_refused(oauth_app):
    state, cookie = oauth_app.start_install()
    code = oauth_app.standin.approve("T0NEW")
    assert oauth_app.get(f"/slack/oauth_redirect?code={code}&state={state}", cookie)[0] == 200
    again = oauth_app.standin.approve("T0NEW")
    status, _, page = oauth_app.get(f"/slack/oauth_redirect?code={again}&state={state}", cookie)
    assert status == 401 and "reason: invalid_state" in page  # Bolt's failure page, no traceback
    state2, _ = oauth_app.start_install()
    status, _, _ = oauth_app.get(f"/slack/oauth_redirect?code={again}&state={state2}")  # no cookie
    assert status == 400
    assert len(_rows(oauth_app, slack_installations)) == 1


def test_an_expired_state_is_refused(oauth_app):
    state, cookie = oauth_app.start_install()
    with oauth_app.services.engine.begin() as conn:
        conn.execute(update(slack_oauth_states).values(expire_at=datetime.now(UTC).replace(tzinfo=None) - timedelta(1)))
    code = oauth_app.standin.approve("T0NEW")
    status, _, _ = oauth_app.get(f"/slack/oauth_redirect?code={code}&state={state}", cookie)
    assert status == 401
    assert _rows(oauth_app, slack_installations) == []
    assert oauth_app.standin.calls_to("oauth.v2.access") == []  # the code was never exchanged


def test_a_denied_install_ends_on_a_page_and_stores_nothing(oauth_app):
    state, cookie = oauth_app.start_install()
    status, _, page = oauth_app.get(f"/slack/oauth_redirect?error=access_denied&state={state}", cookie)
    assert status == 200 and "reason: access_denied" in page
    assert _rows(oauth_app, slack_installations) == []


def test_two_callbacks_racing_make_one_installation(oauth_app):
    state, cookie = oauth_app.start_install()
    code = oauth_app.standin.approve("T0NEW")
    statuses: list[int] = []
    go = threading.Barrier(4)

    def callback() -> None:
        go.wait()
        statuses.append(oauth_app.get(f"/slack/oauth_redirect?code={code}&state={state}", cookie)[0])

    threads = [threading.Thread(target=callback) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [200, 401, 401, 401]
    assert len(_rows(oauth_app, slack_installations)) == 1
    assert len(oauth_app.standin.calls_to("oauth.v2.access")) == 1


def test_a_workspace_with_no_installation_gets_bolts_standard_answer(oauth_app):
    oauth_app.install("T0NEW")
    reply = oauth_app.lookup("T0OTHER", "acme")
    assert "your installation with this app is no longer available" in reply
    s = oauth_app.services
    with s.session_factory() as session:
        from crm.models import Workspace

        assert [w.team_id for w in session.scalars(select(Workspace))] == []  # no tenant made for it


def test_an_org_wide_install_serves_each_workspace_its_own_data(oauth_app):
    status, _ = oauth_app.install(None, enterprise_id="E0ORG", org_wide=True)
    assert status == 200
    [row] = _rows(oauth_app, slack_installations)
    assert (row["team_id"], row["enterprise_id"], row["is_enterprise_install"]) == (None, "E0ORG", True)
    s = oauth_app.services
    for team, name in (("T0AAA", "Acme Corporation"), ("T0BBB", "Globex Industries")):
        assert "No customer matches" in oauth_app.lookup(team, "zzz", "E0ORG")  # first sight: its row is made
        svc.create_customer(s.session_factory, s.search, s.workspace_id(team, "E0ORG"), actor=REP, name=name)
    in_a = oauth_app.lookup("T0AAA", "acme", "E0ORG")
    in_b = oauth_app.lookup("T0BBB", "acme", "E0ORG")
    assert "Acme Corporation" in in_a and "Acme Corporation" not in in_b
    assert "Globex Industries" in oauth_app.lookup("T0BBB", "globex", "E0ORG")

    # Interactions of an org-wide install may carry team: null: the acting user's team decides.
    def typeahead(team: str, query: str) -> list[str]:
        payload = {
            "type": "block_suggestion",
            "team": None,
            "enterprise": {"id": "E0ORG", "name": "Org"},
            "is_enterprise_install": True,
            "user": {"id": REP, "team_id": team},
            "api_app_id": "A0CRM",
            "action_id": "customer_picker",
            "block_id": "b",
            "value": query,
            "view": {"id": "V0OPT", "type": "modal", "callback_id": "", "private_metadata": "", "team_id": team},
            "container": {"type": "view", "view_id": "V0OPT"},
        }
        resp = oauth_app.driver(team, "E0ORG").post_payload(payload)
        assert resp.status == 200
        return [o["text"]["text"] for o in resp.json()["options"]]

    assert any("Acme Corporation" in t for t in typeahead("T0AAA", "acme"))
    assert not any("Acme Corporation" in t for t in typeahead("T0BBB", "acme"))
    # The scheduled senders find the org's token for each workspace of the org.
    [token] = oauth_app.standin.tokens_of(None)
    assert s.bot_token(s.workspace_id("T0AAA")) == token == s.bot_token(s.workspace_id("T0BBB"))


def test_a_rotating_token_is_refreshed_before_it_expires(oauth_app):
    oauth_app.install("T0ROT", rotating=True, expires_in=60)  # inside the 120-minute window
    [first] = oauth_app.standin.tokens_of("T0ROT")
    assert first.startswith("xoxe.xoxb-")
    s = oauth_app.services
    s.workspace_id("T0ROT")
    fresh = s.bot_token(s.workspace_id("T0ROT"))
    assert fresh and fresh != first
    refresh_calls = [c for c in oauth_app.standin.calls_to("oauth.v2.access") if c.params.get("grant_type")]
    assert len(refresh_calls) == 1
    [bot] = [b for b in _rows(oauth_app, slack_bots) if b["bot_token"] and TokenCipher([KEY]).open(b["bot_token"])]
    assert TokenCipher([KEY]).open(bot["bot_token"]) == fresh  # stored, encrypted, for every replica
    assert not bot["bot_refresh_token"].startswith("xoxe")
