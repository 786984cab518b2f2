"""Enterprise Grid over signed requests: a workspace that joins an org keeps its data, and an
org-wide install shows each workspace its own data."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from bot.dev.driver import SlackDriver
from crm import customers as svc
from crm.models import Workspace
from crm.workspaces import NoWorkspace
from tests.conftest import REP, SIGNING_SECRET

ORG = "E0ORG"
TEAM_A, TEAM_B = "T0AAA", "T0BBB"


def _driver(app_server, team_id: str, enterprise_id: str | None = None) -> SlackDriver:
    return SlackDriver(
        app_server.events_url,
        SIGNING_SECRET,
        team_id=team_id,
        enterprise_id=enterprise_id,
        response_url_factory=app_server.standin.response_url,
    )


def _customer(app_server, team_id: str, name: str) -> None:
    s = app_server.services
    svc.create_customer(s.session_factory, s.search, s.workspace_id(team_id), actor=REP, name=name)


def _workspaces(app_server) -> list[tuple[str, str | None]]:
    with app_server.services.session_factory() as s:
        return [(w.team_id, w.enterprise_id) for w in s.scalars(select(Workspace).order_by(Workspace.id))]


def _lookup(app_server, driver: SlackDriver, query: str) -> str:
    seen = len(app_server.standin.calls_to("response_url"))
    assert driver.command("/customer", query).status == 200
    reply = app_server.standin.wait_for("response_url", count=seen + 1)[-1].params
    return json.dumps(reply.get("blocks"), ensure_ascii=False)


def test_a_workspace_that_joins_an_org_keeps_its_data(app_server):
    before = _driver(app_server, TEAM_A)
    _lookup(app_server, before, "anything")  # first sight: the workspace row is made
    _customer(app_server, TEAM_A, "Acme Corporation")

    after = _driver(app_server, TEAM_A, enterprise_id=ORG)
    assert "Acme Corporation" in _lookup(app_server, after, "acme")
    assert _workspaces(app_server) == [(TEAM_A, ORG)]  # the same row, now knowing its org
    # A request that does not mention the org (some payload kinds don't) still finds it.
    assert "Acme Corporation" in _lookup(app_server, before, "acme")
    assert _workspaces(app_server) == [(TEAM_A, ORG)]


def test_an_org_wide_install_shows_each_workspace_its_own_data(app_server):
    for team, name in ((TEAM_A, "Acme Corporation"), (TEAM_B, "Globex Industries")):
        _lookup(app_server, _driver(app_server, team, ORG), "anything")
        _customer(app_server, team, name)

    # Slash commands name the workspace they were typed in, with the org.
    in_a = _lookup(app_server, _driver(app_server, TEAM_A, ORG), "acme")
    assert "Acme Corporation" in in_a
    in_b = _lookup(app_server, _driver(app_server, TEAM_B, ORG), "acme")
    assert "Acme Corporation" not in in_b and "No customer matches" in in_b
    assert "Globex Industries" in _lookup(app_server, _driver(app_server, TEAM_B, ORG), "globex")

    # Interactions of an org-wide install may carry team: null; the acting user's team decides.
    def typeahead(team: str, query: str) -> list[str]:
        payload = {
            "type": "block_suggestion",
            "team": None,
            "enterprise": {"id": ORG, "name": "Org"},
            "is_enterprise_install": True,
            "user": {"id": REP, "team_id": team},
            "api_app_id": "A0CRM",
            "action_id": "customer_picker",
            "block_id": "b",
            "value": query,
            "view": {"id": "V0OPTIONS", "type": "modal", "callback_id": "", "private_metadata": "", "team_id": team},
            "container": {"type": "view", "view_id": "V0OPTIONS"},
        }
        resp = _driver(app_server, team, ORG).post_payload(payload)
        assert resp.status == 200
        return [o["text"]["text"] for o in resp.json()["options"]]

    assert any("Acme Corporation" in t for t in typeahead(TEAM_A, "acme"))
    assert not any("Acme Corporation" in t for t in typeahead(TEAM_B, "acme"))
    assert any("Globex Industries" in t for t in typeahead(TEAM_B, "glob"))
    assert _workspaces(app_server) == [(TEAM_A, ORG), (TEAM_B, ORG)]


def test_a_team_split_by_the_old_rule_is_read_from_its_original_row(app_server):
    """Before this fix, joining an org made a second, empty row (keyed by the org): the oldest
    row, which holds the workspace's history, is the one used."""
    _lookup(app_server, _driver(app_server, TEAM_A), "anything")
    _customer(app_server, TEAM_A, "Acme Corporation")
    with app_server.services.session_factory.begin() as s:
        s.add(Workspace(team_id=TEAM_A, enterprise_id=ORG, enterprise_id_key=ORG))
    app_server.services._workspace_ids.clear()
    assert "Acme Corporation" in _lookup(app_server, _driver(app_server, TEAM_A, ORG), "acme")


def test_no_team_id_never_makes_a_workspace(services):
    with pytest.raises(NoWorkspace):
        services.workspace_id("", ORG)
    with services.session_factory() as s:
        assert s.scalars(select(Workspace)).all() == []
