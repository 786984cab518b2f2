"""Uninstall and revoke over signed requests: app_uninstalled and tokens_revoked stop every send to
that workspace at once (parked with a reason, not retried), the data stays, a reinstall picks it
up again; a token revoked in the middle of a tick sends nothing more with it."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from crm.digest_schedule import DAILY, Schedule, subscribe
from crm.models import Customer, FollowUp, Workspace, slack_bots
from crm.states import DeliveryError
from reminders.digests import send_due_digests
from reminders.nudges import send_due_nudges
from reminders.scheduler import make_digest_sender, make_sender, nudge_client
from tests.conftest import REP, REP2
from tests.support.make import Make
from tests.support.oauth import OAuthApp, oauth_app

__all__ = ["oauth_app"]  # the fixture


def _nudge_tick(services) -> int:
    sender = make_sender(services, nudge_client(services), rate=0)
    return send_due_nudges(services.session_factory, sender, services.now(), replica="test").sent


def _workspace(services, team: str) -> Workspace:
    with services.session_factory() as s:
        return s.scalars(select(Workspace).where(Workspace.team_id == team)).one()


def _follow_ups(services, ws: int) -> list[FollowUp]:
    with services.session_factory() as s:
        return list(s.scalars(select(FollowUp).where(FollowUp.workspace_id == ws).order_by(FollowUp.id)))


def _posts(standin) -> list:
    return [c for c in standin.calls_to("chat.postMessage")]


def _installed_with_a_due_follow_up(oauth_app: OAuthApp, team: str) -> tuple[Make, int]:
    assert oauth_app.install(team)[0] == 200
    make = Make(oauth_app.services, team_id=team)
    customer = make.customer("Acme Corporation")
    make.follow_up(customer)
    return make, make.ws


def test_app_uninstalled_parks_every_send_keeps_the_data_and_a_reinstall_resumes(oauth_app):
    s, standin = oauth_app.services, oauth_app.standin
    _, ws = _installed_with_a_due_follow_up(oauth_app, "T0GONE")
    other, other_ws = _installed_with_a_due_follow_up(oauth_app, "T0STAY")
    other.follow_up(other.customer("Globex"), due=s.now() + timedelta(days=1))  # not due yet

    standin.revoke("T0GONE")
    driver = oauth_app.driver("T0GONE")
    assert driver.event({"type": "app_uninstalled"}).status == 200
    oauth_app.drain()
    gone = _workspace(s, "T0GONE")
    assert gone.uninstalled_at is not None and gone.uninstall_reason == "app_uninstalled"
    with s.engine.connect() as conn:  # Bolt's own listener deleted the dead token
        assert [r.team_id for r in conn.execute(select(slack_bots))] == ["T0STAY"]

    assert _nudge_tick(s) == 1  # only the installed workspace's nudge went out
    posts = _posts(standin)
    assert len(posts) == 1 and posts[0].token == standin.tokens_of("T0STAY")[0]
    [parked] = _follow_ups(s, ws)
    assert parked.nudge_at is None and parked.nudge_error == DeliveryError.NOT_INSTALLED
    assert _nudge_tick(s) == 0 and len(_posts(standin)) == 1  # not retried
    with s.session_factory() as session:  # the data stays
        assert session.scalars(select(Customer.name).where(Customer.workspace_id == ws)).all() == ["Acme Corporation"]

    # A request from the uninstalled workspace gets Bolt's answer, not an error.
    assert "no longer available" in oauth_app.lookup("T0GONE", "acme")

    assert oauth_app.install("T0GONE")[0] == 200  # installed again: the same data, sends resume
    assert _workspace(s, "T0GONE").uninstalled_at is None
    assert s.workspace_id("T0GONE") == ws
    assert "Acme Corporation" in oauth_app.lookup("T0GONE", "acme")
    assert _nudge_tick(s) == 1
    new_token = standin.tokens_of("T0GONE")[-1]
    assert _posts(standin)[-1].token == new_token
    assert _follow_ups(s, ws)[0].nudged_at is not None
    assert other_ws != ws


def test_a_token_revoked_mid_tick_sends_nothing_more_with_it(oauth_app):
    s, standin = oauth_app.services, oauth_app.standin
    make, ws = _installed_with_a_due_follow_up(oauth_app, "T0MID")
    make.follow_up(make.customer("Globex"), owner=REP2)
    make.follow_up(make.customer("Initech"))
    standin.revoke("T0MID")  # no event yet: Slack's answers say it
    before = len(standin.calls)

    assert _nudge_tick(s) == 0
    refused = [c for c in standin.calls[before:] if c.token in standin.tokens_of("T0MID")]
    assert len(refused) == 1 and refused[0].error == "token_revoked"  # one try, then nothing
    assert _workspace(s, "T0MID").uninstall_reason == "token_revoked"
    errors = [f.nudge_error for f in _follow_ups(s, ws)]
    assert errors.count("token_revoked") == 1 and errors.count(DeliveryError.NOT_INSTALLED) == 2
    assert all(f.nudge_at is None for f in _follow_ups(s, ws))


def test_tokens_revoked_stops_the_digests_of_that_workspace(oauth_app):
    s, standin = oauth_app.services, oauth_app.standin
    assert oauth_app.install("T0DIG")[0] == 200
    ws = s.workspace_id("T0DIG")
    subscribe(
        s.session_factory,
        ws,
        channel_id="C0SALES",
        user=REP,
        schedule=Schedule(days=DAILY),
        timezone="UTC",
        now=s.now() - timedelta(days=2),
    )
    event = {"type": "tokens_revoked", "tokens": {"oauth": [], "bot": ["U0BOT"]}}
    assert oauth_app.driver("T0DIG").event(event).status == 200
    oauth_app.drain()
    assert _workspace(s, "T0DIG").uninstall_reason == "tokens_revoked"
    sender = make_digest_sender(s, nudge_client(s), rate=0)
    report = send_due_digests(s.session_factory, sender, (s.now() + timedelta(days=2)).replace(hour=12), replica="test")
    assert report.due == 1 and report.claimed == 1 and report.posted == 0  # due, yet parked
    assert _posts(standin) == [] and standin.calls_to("conversations.info") == []


def test_single_token_mode_parks_sends_after_app_uninstalled(app_server, slack, make, ws):
    make.follow_up(make.customer("Acme Corporation"))
    assert slack.event({"type": "app_uninstalled"}).status == 200
    app_server.drain()
    assert _nudge_tick(app_server.services) == 0
    assert app_server.standin.calls_to("chat.postMessage") == []
    assert _follow_ups(app_server.services, ws)[0].nudge_error == DeliveryError.NOT_INSTALLED


def test_an_org_wide_uninstall_stops_every_workspace_of_the_org(oauth_app):
    s, standin = oauth_app.services, oauth_app.standin
    assert oauth_app.install(None, enterprise_id="E0ORG", org_wide=True)[0] == 200
    workspaces = {team: s.workspace_id(team, "E0ORG") for team in ("T0AAA", "T0BBB")}
    outside = s.workspace_id("T0OUT")  # not in the org
    for team in workspaces:
        make = Make(s, team_id=team)
        make.follow_up(make.customer(f"Customer of {team}"))
    assert s.bot_token(workspaces["T0AAA"]) == standin.tokens_of(None)[0]
    standin.revoke(None, "E0ORG")
    envelope = {
        "type": "event_callback",
        "enterprise_id": "E0ORG",
        "api_app_id": "A0CRM",
        "is_ext_shared_channel": False,
        "event": {"type": "app_uninstalled"},
        "event_id": "Ev0ORGGONE",
        "event_time": 1,
        "authorizations": [
            {"enterprise_id": "E0ORG", "team_id": None, "user_id": "U0BOT", "is_enterprise_install": True}
        ],
    }
    assert oauth_app.driver("T0AAA", "E0ORG").post_json(envelope).status == 200
    oauth_app.drain()
    for team in workspaces:
        assert _workspace(s, team).uninstall_reason == "app_uninstalled"
    assert _workspace(s, "T0OUT").uninstalled_at is None and outside
    assert _nudge_tick(s) == 0 and _posts(standin) == []
    with s.engine.connect() as conn:
        assert list(conn.execute(select(slack_bots))) == []  # Bolt deleted the org's install


def test_a_reinstall_sends_the_channel_posts_parked_while_the_app_was_gone(oauth_app):
    from crm import channels
    from crm.deals import DealInput, update_deal
    from crm.models import ChannelPost
    from crm.pipeline_stages import DEFAULT as STAGES
    from reminders.channel_posts import make_poster, send_channel_posts

    s, standin = oauth_app.services, oauth_app.standin
    assert oauth_app.install("T0BACK")[0] == 200
    make = Make(s, team_id="T0BACK")
    acme = make.customer("Acme Corporation")
    deal = make.deal(acme, "Annual licence")
    channels.link_channel(
        s.session_factory, make.ws, "C0ACME", channel_name="acme", is_shared=False, actor=REP,
        now=s.now(), customer_id=acme.id,
    )  # fmt: skip

    def tick() -> int:
        poster = make_poster(s, nudge_client(s), rate=0)
        return send_channel_posts(s.session_factory, poster, s.now(), replica="test").sent

    standin.revoke("T0BACK")
    assert oauth_app.driver("T0BACK").event({"type": "app_uninstalled"}).status == 200
    oauth_app.drain()
    # The deal moves while the app is gone: the channel's post is queued, then parked.
    stage = STAGES.stages[2].key
    form = DealInput(title=deal.title, amount="5000", currency="USD", stage=stage, owner_user_id=REP)
    update_deal(s.session_factory, make.ws, deal.id, form, actor=REP, stages=STAGES, now=s.now())
    assert tick() == 0
    with s.session_factory() as session:
        (parked,) = session.scalars(select(ChannelPost)).all()
    assert parked.send_at is None and parked.error == DeliveryError.NOT_INSTALLED

    assert oauth_app.install("T0BACK")[0] == 200  # installed again: the post goes out, with the new token
    assert tick() == 1
    [post] = [c for c in _posts(standin) if c.params.get("channel") == "C0ACME"]
    assert post.token == standin.tokens_of("T0BACK")[-1]
