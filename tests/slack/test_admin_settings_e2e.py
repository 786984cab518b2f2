"""Workspace settings from the Home tab's Admin section, over signed requests: admins only, stored
per workspace, audited, seen by another replica through the settings version, retired types and
stages still readable, and nothing of one workspace's settings in another's."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

import bot.services
from bot.dev.driver import SlackDriver
from bot.services import Services
from commands.admin import views
from crm.models import AuditEntry
from crm.workspace_settings import ENTITY
from tests.conftest import ADMIN, REP, SIGNING_SECRET, make_settings

TYPES = "call:Call:📞,meeting:Meeting:🤝,site_visit:Site visit:🏢:visit"
STAGES = "lead:Lead:🌱,demo:Demo:🖥️,won:Won:🏆,lost:Lost:🪦"


def _values(
    types: str = TYPES,
    stages: str = STAGES,
    stale: str = "21",
    currency: str = "eur",
    managers: list[str] | None = None,
    probabilities: str = "lead=10, demo=50%",
    key_days: str = "45",
) -> dict:
    return {
        views.KEY_DAYS: {views.VALUE: {"type": "plain_text_input", "value": key_days}},
        views.PROBABILITIES: {views.VALUE: {"type": "plain_text_input", "value": probabilities}},
        views.CURRENCY: {views.VALUE: {"type": "plain_text_input", "value": currency}},
        views.TYPES: {views.VALUE: {"type": "plain_text_input", "value": types}},
        views.STAGES: {views.VALUE: {"type": "plain_text_input", "value": stages}},
        views.LIFECYCLE: {views.VALUE: {"type": "plain_text_input", "value": ""}},
        views.STALE: {views.VALUE: {"type": "plain_text_input", "value": stale}},
        views.MANAGERS: {views.VALUE: {"type": "multi_users_select", "selected_users": managers or [REP]}},
    }


def _home(slack, standin, user: str, count: int) -> str:
    slack.event({"type": "app_home_opened", "user": user, "channel": "D0X", "tab": "home"})
    return json.dumps(standin.wait_for("views.publish", count=count)[-1].params["view"]["blocks"], ensure_ascii=False)


def test_only_admins_see_and_open_the_settings(slack, standin, app_server, ws):
    assert views.OPEN in _home(slack, standin, ADMIN, 1)
    assert views.OPEN not in _home(slack, standin, REP, 2)

    slack.click(views.OPEN, "settings", user=REP)
    reply = standin.wait_for("response_url")[0].params
    assert "Only workspace admins" in reply["text"]
    app_server.drain()
    assert standin.calls_to("views.open") == []

    slack.click(views.OPEN, "settings", user=ADMIN)
    modal = standin.wait_for("views.open")[0].params["view"]
    assert modal["callback_id"] == views.CALLBACK
    initial = {b["block_id"]: b["element"].get("initial_value") for b in modal["blocks"]}
    assert initial[views.TYPES].startswith("call:Call:") and "won:Won:" in initial[views.STAGES]
    assert initial[views.STALE] == "14" and initial[views.CURRENCY] == "USD"


def test_a_saved_change_is_audited_and_reaches_another_replica(slack, standin, app_server, ws, monkeypatch):
    services = app_server.services
    other = Services.from_settings(make_settings(services.settings.database_url, standin))
    try:
        assert other.config(ws).types.get("site_visit") is None  # cached by the other replica now
        resp = slack.view_submission(views.CALLBACK, _values(), user=ADMIN)
        assert resp.status == 200 and resp.text == ""
        config = services.config(ws)  # this replica: at once
        assert config.types.get("site_visit") is not None and config.stale_days == 21
        assert config.managers == frozenset({REP}) and config.default_currency == "EUR"
        assert config.key_account_days == 45 and config.probabilities == {"lead": 10, "demo": 50}
        # The other replica keeps its cached settings until it looks at the version again ...
        assert other.config(ws).types.get("site_visit") is None
        monkeypatch.setattr(bot.services, "CONFIG_POLL_SECONDS", 0.0)  # ... which is what time passing does
        assert other.config(ws).types.get("site_visit") is not None and other.config(ws).stale_days == 21
    finally:
        other.close()
    # Retired: "email" and the default stages are gone from the lists, yet old records still read.
    assert "email" in config.type_label("email").lower()
    assert "qualified" in config.stage_label("qualified").lower()
    with services.session_factory() as s:
        [entry] = s.scalars(select(AuditEntry).where(AuditEntry.entity_type == ENTITY)).all()
    assert entry.created_by == ADMIN and entry.workspace_id == ws
    assert entry.before == {} and entry.after["activity_types"] == TYPES and entry.after["stale_days"] == 21
    told = standin.wait_for("chat.postMessage")[0].params  # the admin is told it was saved, by DM
    assert "saved" in told["text"]


@pytest.mark.parametrize(
    ("values", "block"),
    [
        (_values(stages="lead:Lead:🌱,demo:Demo:🖥️"), views.STAGES),  # no won / lost
        (_values(types="call:Call:📞,call:Again:📞"), views.TYPES),
        (_values(stale="0"), views.STALE),
        (_values(currency="dollars"), views.CURRENCY),
        (_values(probabilities="qualified=40"), views.PROBABILITIES),  # not a stage of the new list
        (_values(probabilities="demo=140"), views.PROBABILITIES),
        (_values(probabilities="won=90"), views.PROBABILITIES),
        (_values(key_days="a month"), views.KEY_DAYS),
    ],
)
def test_a_bad_value_is_a_field_error_and_stores_nothing(slack, app_server, ws, values, block):
    resp = slack.view_submission(views.CALLBACK, values, user=ADMIN)
    assert resp.status == 200 and list(resp.json()["errors"]) == [block]
    assert app_server.services.config(ws).types.get("call") is not None
    with app_server.services.session_factory() as s:
        assert s.scalars(select(AuditEntry).where(AuditEntry.entity_type == ENTITY)).all() == []


def test_a_rep_cannot_save_settings_by_forging_the_submission(slack, app_server, ws):
    resp = slack.view_submission(views.CALLBACK, _values(), user=REP)
    assert "Only workspace admins" in json.dumps(resp.json())
    assert app_server.services.config(ws).types.get("site_visit") is None


def test_one_workspaces_settings_never_reach_another(slack, app_server, ws):
    other = SlackDriver(app_server.events_url, SIGNING_SECRET, team_id="T0OTHER")
    other_ws = app_server.services.workspace_id("T0OTHER")
    assert slack.view_submission(views.CALLBACK, _values(), user=ADMIN).status == 200
    assert app_server.services.config(ws).types.get("site_visit") is not None
    assert app_server.services.config(other_ws).types.get("site_visit") is None
    assert app_server.services.config(other_ws).stale_days == 14
    assert (
        other.view_submission(views.CALLBACK, _values(types="call:Call:📞,won_it:Won it:🎉"), user=ADMIN).status == 200
    )
    assert app_server.services.config(ws).types.get("won_it") is None  # A's settings untouched by B's admin


def test_the_scheduled_digest_uses_the_workspaces_own_stages(slack, standin, app_server, ws, make):
    from datetime import timedelta

    from crm.digest_schedule import DAILY, Schedule, subscribe
    from crm.pipeline_stages import parse_pipeline_stages
    from reminders.digests import send_due_digests
    from reminders.scheduler import make_digest_sender, nudge_client

    s = app_server.services
    assert slack.view_submission(views.CALLBACK, _values(), user=ADMIN).status == 200
    make.deal(make.customer("Acme Corporation"), "Big demo deal", stage="demo", stages=parse_pipeline_stages(STAGES))
    subscribe(
        s.session_factory,
        ws,
        channel_id="C0SALES",
        user=REP,
        schedule=Schedule(days=DAILY),
        timezone="UTC",
        now=s.now() - timedelta(days=2),
    )
    sender = make_digest_sender(s, nudge_client(s), rate=0)
    assert (
        send_due_digests(s.session_factory, sender, (s.now() + timedelta(days=2)).replace(hour=12), replica="t").posted
        == 1
    )
    posted = json.dumps(standin.wait_for("chat.postMessage")[-1].params, ensure_ascii=False)
    assert "🖥️ Demo" in posted or "Demo" in posted
    assert "Qualified" not in posted  # the environment's default stages are not this workspace's


def test_a_new_deal_starts_in_the_workspaces_currency(slack, standin, app_server, ws):
    assert slack.view_submission(views.CALLBACK, _values(currency="JPY"), user=ADMIN).status == 200
    slack.command("/crm", "deal", user=REP)
    modal = standin.wait_for("views.open")[0].params["view"]
    currency = next(b for b in modal["blocks"] if b.get("block_id") == "currency")
    assert currency["element"]["initial_value"] == "JPY"


def test_stage_probabilities_weight_the_pipeline(slack, standin, app_server, ws, make):
    from crm.pipeline_stages import parse_pipeline_stages

    slack.command("/crm", "pipeline", user=REP)
    plain = json.dumps(standin.wait_for("response_url")[0].params, ensure_ascii=False)
    assert "Weighted" not in plain  # no open deals: no weighted line
    assert slack.view_submission(views.CALLBACK, _values(currency="USD"), user=ADMIN).status == 200
    acme = make.customer("Acme Corporation")
    stages = parse_pipeline_stages(STAGES)
    make.deal(acme, "Small lead", stage="lead", amount="1000", stages=stages)
    make.deal(acme, "Demo deal", stage="demo", amount="3000", stages=stages)
    slack.command("/crm", "pipeline", user=REP)
    reply = json.dumps(standin.wait_for("response_url", count=2)[1].params, ensure_ascii=False)
    assert "Weighted by stage probability:* $1,600.00" in reply  # 10% of 1,000 + 50% of 3,000
