"""Isolation between workspaces, continued (issue 18 item 5): events other than the Home tab,
scheduled jobs and the import/export command line.

Workspace A holds the same secrets as in ``test_isolation_e2e`` (a customer, contact, deal,
activity, follow-up, custom field); B and C have data of their own. Whatever B does (mentions,
channel events, the message shortcut with A's ids forged into its modal's metadata, an import of a
file naming A's customers, an export) and whatever one scheduler tick sends for A, B and C at once:

* nothing sent to B or C names A's data, and what goes to a workspace goes with its own token;
* A's rows are exactly as they were, and no row refers to a row of another workspace;
* an export of B holds no row, name, id or email of A.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select, update

from bot.dev.driver import SlackDriver
from commands.activities import views as activities
from commands.rooms.handlers import CHANNEL_EVENTS
from commands.whos_talked import views as whos
from crm.customers.values import ContactInput
from crm.digest_schedule import DAILY, Schedule, subscribe
from crm.models import Activity, Base, Customer, CustomerValueTier, LinkedChannel, Workspace
from crm.value import recompute_all_tiers
from reminders.channel_posts import channel_post_tick, make_poster
from reminders.digests import digest_tick
from reminders.scheduler import make_digest_sender, make_sender, nudge_client, nudge_tick
from tests.conftest import REP, SIGNING_SECRET
from tests.slack.test_isolation_e2e import SECRETS, _cross_references, _leaks, _seed_a, _snapshot
from tests.slack.test_log_e2e import log_values
from tests.support.make import Make
from tests.support.oauth import OAuthApp, oauth_app

__all__ = ["oauth_app"]  # the fixture

CRM_BOT = str(Path(sys.executable).parent / "crm-bot")
A_EMAIL = "quentin@zanzibar-holdings.example"
A_REF = "ZAN-EXT-0001"


def _cli(tmp_path: Path, database_url: str, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_URL", "CRM_", "PORT"))}
    env["DATABASE_URL"] = database_url
    return subprocess.run([CRM_BOT, *argv], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180)


class _On:
    """What ``_seed_a`` needs of a running app: its services."""

    def __init__(self, services) -> None:
        self.services = services


def _seed_a_with_refs(services) -> dict[str, int]:
    """A's secrets, plus an email on a contact and an external id on the customer."""
    ids = _seed_a(_On(services))
    Make(services, team_id="T0AAA").contact(ids["customer"], ContactInput(name="Quincy Zed", email=A_EMAIL))
    with services.session_factory.begin() as session:
        session.execute(update(Customer).where(Customer.id == ids["customer"]).values(external_ref=A_REF))
    return ids


def _ids_of(services, ws: int) -> dict[str, set[int]]:
    with services.engine.connect() as conn:
        return {
            t.name: set(conn.scalars(select(t.c.id).where(t.c.workspace_id == ws)))
            for t in Base.metadata.sorted_tables
            if "workspace_id" in t.c and "id" in t.c
        }


def _scan_export(directory: Path, a_ids: dict[str, set[int]], own_ws: int) -> list[str]:
    """Every file of the export: A's names, email and external id nowhere; no JSON row is one of A's."""
    found = []
    files = sorted(p for p in directory.iterdir() if p.is_file())
    assert any(p.suffix == ".jsonl" for p in files) and any(p.suffix == ".csv" for p in files)
    for path in files:
        text = path.read_text(encoding="utf-8-sig").lower()
        found += [f"{path.name}: {s}" for s in (*SECRETS, A_EMAIL, A_REF) if s.lower() in text]
        if path.suffix != ".jsonl":
            continue
        for line in text.splitlines():
            if not line.strip():
                continue
            row = json.loads(line)
            if row.get("workspace_id") not in (None, own_ws):
                found.append(f"{path.name}: a row of workspace {row['workspace_id']}")
            if row.get("id") in a_ids.get(path.stem, set()):
                found.append(f"{path.name}: A's row {row['id']}")
    return found


def test_import_and_export_of_one_workspace_never_touch_another(services, database_url, tmp_path):
    ids = _seed_a_with_refs(services)
    b = Make(services, team_id="T0BBB")
    b.customer("Globex", contact=ContactInput(name="Gina Globe", email="gina@globex.example"))
    a_ids = _ids_of(services, ids["ws"])
    before = _snapshot(_On(services), ids["ws"])

    export = _cli(tmp_path, database_url, "export", "--team", "T0BBB", "--out", str(tmp_path / "b"))
    assert export.returncode == 0, export.stderr
    assert "customers: 1" in export.stdout
    assert _scan_export(tmp_path / "b", a_ids, b.ws) == []
    assert "Globex" in (tmp_path / "b" / "customers.csv").read_text(encoding="utf-8-sig")  # not vacuous

    # B imports files naming A's customer by name, by its row id and by its external id, and A's
    # contact's email, deal and custom field: first as new rows, then again with --update.
    customer_id, deal_id = ids["customer"], ids["deal"]
    (tmp_path / "customers.csv").write_text(
        f"id,name,website,Zeta tier\n{A_REF},Zanzibar Holdings,zanzibar-holdings.example,gold\n"
        f"{customer_id},Zanzibar Holdings Ltd,,silver\n"
    )
    (tmp_path / "contacts.csv").write_text(
        f"id,name,email,company\n{ids['contact']},Quentin Quill,{A_EMAIL},Zanzibar Holdings\n"
    )
    (tmp_path / "deals.csv").write_text(
        f"id,title,company,amount,stage\n{deal_id},Quasar renewal,Zanzibar Holdings,999999,won\n"
    )
    files = ("--customers", "customers.csv", "--contacts", "contacts.csv", "--deals", "deals.csv")
    first = _cli(tmp_path, database_url, "import", *files, "--team", "T0BBB")
    assert first.returncode == 0, first.stdout + first.stderr
    # A's rows are not B's: all new (none "already there" or "updated"), A's custom field unknown to
    # B, and the only duplicate is within the file.
    assert first.stdout.count("0 updated, 0 already there") == 3, first.stdout
    assert "2 new" in first.stdout and "Zeta tier" in first.stdout.split("NOT imported", 1)[1].split("\n\n")[0]
    assert "in this file" in first.stdout
    again = _cli(tmp_path, database_url, "import", *files, "--team", "T0BBB", "--update", "--create-fields")
    assert again.returncode == 0, again.stdout + again.stderr
    assert all("Traceback" not in r.stderr for r in (first, again))
    with services.session_factory() as session:
        b_names = set(session.scalars(select(Customer.name).where(Customer.workspace_id == b.ws)))
    assert "Globex" in b_names and any(n.startswith("Zanzibar") for n in b_names)  # B got rows of its own
    assert _snapshot(_On(services), ids["ws"]) == before  # A is byte-identical
    assert _cross_references(_On(services)) == []

    # C, which imported nothing, exports nothing of A's or B's.
    Make(services, team_id="T0CCC").customer("Initech")
    c = _cli(tmp_path, database_url, "export", "--team", "T0CCC", "--out", str(tmp_path / "c"))
    assert c.returncode == 0, c.stderr
    b_ids = _ids_of(services, b.ws)
    merged = {t: a_ids.get(t, set()) | b_ids.get(t, set()) for t in {*a_ids, *b_ids}}
    assert _scan_export(tmp_path / "c", merged, services.workspace_id("T0CCC")) == []
    c_text = (tmp_path / "c" / "customers.csv").read_text(encoding="utf-8-sig")
    assert "Initech" in c_text and "Globex" not in c_text


# -- events ------------------------------------------------------------------------------
def _driver(app_server, team: str, **kw) -> SlackDriver:
    return SlackDriver(
        app_server.events_url, SIGNING_SECRET, team_id=team, response_url_factory=app_server.standin.response_url, **kw
    )


def _mention(driver: SlackDriver, standin, text: str, thread_ts: str | None = None) -> None:
    message = standin.post_message("C0SALES", text, user=REP, thread_ts=thread_ts)
    event = {"type": "app_mention", "user": REP, "text": text, "ts": message["ts"], "channel": "C0SALES"}
    if thread_ts:
        event["thread_ts"] = thread_ts
    assert driver.event(event).status == 200


def _channel_event(event_type: str) -> dict:
    if event_type.endswith("_rename"):
        return {"type": event_type, "channel": {"id": "C0SALES", "name": "b-renamed", "created": 1}}
    event = {"type": event_type, "channel": "C0SALES", "user": REP, "channel_type": "C", "event_ts": "1.2"}
    if event_type.startswith("member_"):
        event["user"] = "U0BOT"
    if event_type.endswith("shared"):
        event["connected_team_id"] = "T0AAA"  # B says it shares the channel with A
    return event


def _drive_events(app_server, driver: SlackDriver, ids: dict[str, int]) -> None:
    standin = app_server.standin
    parent = standin.post_message("C0SALES", "zanzibar wants the zebra pricing", user=REP)
    for text in (
        "<@U0BOT> who's talked to zanzibar?",
        "<@U0BOT> who knows zanzibar",
        "<@U0BOT> who zanzibar",
    ):
        _mention(driver, standin, text)
        _mention(driver, standin, text, thread_ts=parent["ts"])
    for text in ("<@U0BOT> log", "<@U0BOT> log call", "<@U0BOT> crm log meeting zanzibar"):
        _mention(driver, standin, text, thread_ts=parent["ts"])
    app_server.drain()
    # The message shortcuts, on a message naming A's customer, in the channel A linked.
    message = {"type": "message", "user": REP, "text": parent["text"], "ts": parent["ts"]}
    assert driver.message_shortcut(whos.MESSAGE_SHORTCUT, message).status == 200
    assert driver.message_shortcut(activities.MESSAGE_SHORTCUT, message).status == 200
    app_server.drain()
    # Its modal submitted with A's ids forged into the state and the metadata.
    customer, activity, deal, contact = ids["customer"], ids["activity"], ids["deal"], ids["contact"]
    metas = [
        {"source": "shortcut", "channel": "C0SALES", "customer_id": customer},
        {"mode": "edit", "source": "shortcut", "channel": "C0SALES", "activity_id": activity, "customer_id": customer},
        {"mode": "edit", "activity_id": activity},
    ]
    for meta in metas:
        for values in (
            log_values(customer, summary="forged from B"),
            log_values(
                customer,
                summary="forged from B",
                contact=(f"{activities.CONTACT_BLOCK}:{customer}", contact),
                deal=(f"{activities.DEAL_BLOCK}:{customer}", deal),
                follow_up="chase it",
            ),
            log_values(None, summary="forged from B"),
        ):
            resp = driver.view_submission(activities.LOG_CALLBACK, values, private_metadata=json.dumps(meta))
            assert resp.status == 200
    # Every channel event the app listens to, naming the channel A linked.
    for event_type in CHANNEL_EVENTS:
        assert driver.event(_channel_event(event_type)).status == 200
    for event_type in ("channel_rename", "channel_archive", "member_left_channel", "channel_deleted"):
        assert driver.event(_channel_event(event_type)).status == 200  # and the ones that end a link, last
    app_server.drain(timeout=60)


def _rows(services, model, ws: int) -> list:
    with services.session_factory() as session:
        return list(session.scalars(select(model).where(model.workspace_id == ws).order_by(model.id)))


def test_events_and_the_message_shortcut_from_b_never_answer_with_or_change_a(app_server, standin):
    ids = _seed_a(app_server)
    a = _driver(app_server, "T0AAA")
    assert a.command("/crm", "link zanzibar holdings").status == 200
    standin.wait_for("chat.postMessage")
    app_server.drain()
    [link] = _rows(app_server.services, LinkedChannel, ids["ws"])
    assert link.channel_id == "C0SALES"
    before = _snapshot(app_server, ids["ws"])
    since = len(standin.calls)
    for team in ("T0BBB", "T0CCC"):
        Make(app_server.services, team_id=team).customer("Globex")
        _drive_events(app_server, _driver(app_server, team), ids)
    assert _leaks(standin, since) == []
    assert _snapshot(app_server, ids["ws"]) == before  # A's link is still active, its name unchanged
    assert _cross_references(app_server) == []
    for team in ("T0BBB", "T0CCC"):  # nothing forged was logged anywhere
        ws = app_server.services.workspace_id(team)
        assert all("forged" not in a.summary for a in _rows(app_server.services, Activity, ws))
    # B and C were answered (not vacuous): mentions, the shortcut's modal and the refusals.
    kinds = ("chat.postMessage", "chat.postEphemeral", "views.open")
    answered = [c for c in standin.calls[since:] if c.method in kinds]
    assert len(answered) >= 10
    assert len([c for c in standin.calls[since:] if c.method == "views.open"]) == 2
    # B uninstalling leaves A installed.
    assert _driver(app_server, "T0BBB").event({"type": "app_uninstalled"}).status == 200
    app_server.drain()
    with app_server.services.session_factory() as session:
        assert session.get(Workspace, ids["ws"]).uninstalled_at is None
    # "@crm log" in the channel A linked is, for B, a channel that isn't linked.
    refusals = [c for c in standin.calls[since:] if "isn't linked" in json.dumps(c.params)]
    assert len(refusals) >= 4


def test_events_from_a_workspace_of_the_same_org_stay_out_of_the_other(app_server, standin):
    ids = _seed_a(app_server)
    app_server.services.workspace_id("T0AAA", "E0ORG")
    a = _driver(app_server, "T0AAA", enterprise_id="E0ORG", org_wide_install=True)
    assert a.command("/crm", "link zanzibar holdings").status == 200
    standin.wait_for("chat.postMessage")
    app_server.drain()
    before = _snapshot(app_server, ids["ws"])
    since = len(standin.calls)
    _drive_events(app_server, _driver(app_server, "T0BBB", enterprise_id="E0ORG", org_wide_install=True), ids)
    assert _leaks(standin, since) == []
    assert _snapshot(app_server, ids["ws"]) == before
    assert _cross_references(app_server) == []


# -- scheduled jobs ----------------------------------------------------------------------
# Each workspace's own secrets: its customer, deal, follow-up note and the deal's amount.
OWN = {
    "T0AAA": ("Zanzibar Holdings", "Quasar renewal", "chase the zebra", "71,717"),
    "T0BBB": ("Bollinger Brothers", "Bravo expansion", "call the badger", "82,828"),
    "T0CCC": ("Cumulus Corp", "Cirrus pilot", "ping the cat", "93,939"),
}


def _seed_due_work(oauth: OAuthApp, team: str, enterprise: str | None = None) -> int:
    """An installed workspace with a due nudge, an overdue follow-up in a linked channel, a deal alert
    queued, a daily digest due, and won and open deals for its value tiers (``enterprise``: a
    workspace of that org, which has installed the app org-wide already)."""
    services = oauth.services
    if enterprise is None:
        assert oauth.install(team)[0] == 200
    name, title, note, amount = OWN[team]
    if enterprise:
        services.workspace_id(team, enterprise)  # the org's workspace, as its first request makes it
    make = Make(services, team_id=team)
    assert enterprise is None or make.ws == services.workspace_id(team, enterprise)
    customer = make.customer(name)
    driver = oauth.driver(team, enterprise)
    assert driver.command("/crm", f"link {name}").status == 200
    assert driver.command("/crm", "alerts new won over 1").status == 200
    oauth.drain()
    make.deal(customer, title, amount=amount.replace(",", ""), stage="proposal")
    make.deal(customer, f"{title} (won)", amount=amount.replace(",", ""), stage="won")
    make.follow_up(customer, note)
    make.follow_up(customer, f"{note} overdue", due=services.now() - timedelta(days=3))
    subscribe(
        services.session_factory,
        make.ws,
        channel_id="C0SALES",
        user=REP,
        schedule=Schedule(days=DAILY),
        timezone="UTC",
        now=services.now() - timedelta(days=2),
    )
    return make.ws


def test_one_tick_sends_each_workspace_only_its_own_with_its_own_token(oauth_app):
    s, standin = oauth_app.services, oauth_app.standin
    workspaces = {team: _seed_due_work(oauth_app, team) for team in OWN}
    tokens = {team: set(standin.tokens_of(team)) for team in OWN}
    assert all(tokens.values()) and not set.intersection(*tokens.values())
    since = len(standin.calls)
    later = (s.now() + timedelta(days=1)).replace(hour=12, minute=0)
    s.clock = lambda: later
    # One tick of every job, as the scheduler runs them (value tiers first: the digest shows them).
    recompute_all_tiers(s.session_factory, now=s.now())
    client = nudge_client(s)
    assert nudge_tick(s, make_sender(s, client, rate=0)) >= 3
    assert channel_post_tick(s, make_poster(s, client, rate=0)) >= 3
    assert digest_tick(s, make_digest_sender(s, nudge_client(s), rate=0)) == 3

    sends = [c for c in standin.calls[since:] if c.method in ("chat.postMessage", "chat.postEphemeral", "chat.update")]
    assert sends
    by_team: dict[str, list] = {team: [] for team in OWN}
    for call in sends:
        [team] = [t for t, own in tokens.items() if call.token in own]  # every send with one workspace's token
        by_team[team].append(call)
        text = json.dumps(call.params, ensure_ascii=False, default=str)
        for other, secrets in OWN.items():
            if other != team:
                leaked = [x for x in secrets if x in text]
                assert leaked == [], f"{call.method} to {team} names {other}'s {leaked}"
    for team, (name, _, note, amount) in OWN.items():
        text = json.dumps([c.params for c in by_team[team]], ensure_ascii=False, default=str)
        assert name in text and note in text and amount in text  # its own nudge, post, alert and digest
        assert len(by_team[team]) >= 3, (team, [c.method for c in by_team[team]])
    # Every Web API call of the tick (look-ups too) used one installed workspace's token; the bytes
    # of a chart go to the pre-signed URL that files.getUploadURLExternal gave, with no token, as in Slack.
    known = set.union(*tokens.values())
    tokenless = ("response_url", "file_upload")
    strays = [(c.method, c.token) for c in standin.calls[since:] if c.method not in tokenless and c.token not in known]
    assert strays == []
    # The value tiers stayed per workspace: each tier row's customer is of its own workspace.
    with s.session_factory() as session:
        for team, ws in workspaces.items():
            owned = set(session.scalars(select(Customer.id).where(Customer.workspace_id == ws)))
            tiers = set(
                session.scalars(select(CustomerValueTier.customer_id).where(CustomerValueTier.workspace_id == ws))
            )
            assert tiers == owned, team
    assert _cross_references(_On(s)) == []


def test_one_tick_keeps_two_workspaces_of_an_org_apart_and_from_a_third(oauth_app):
    """A and B are one Grid org's (one org-wide install, one token); C installed on its own."""
    s, standin = oauth_app.services, oauth_app.standin
    assert oauth_app.install(None, enterprise_id="E0ORG", org_wide=True)[0] == 200
    for team in ("T0AAA", "T0BBB"):
        _seed_due_work(oauth_app, team, "E0ORG")
    _seed_due_work(oauth_app, "T0CCC")
    org_tokens, own_tokens = set(standin.tokens_of(None)), set(standin.tokens_of("T0CCC"))
    since = len(standin.calls)
    later = (s.now() + timedelta(days=1)).replace(hour=12, minute=0)
    s.clock = lambda: later
    recompute_all_tiers(s.session_factory, now=s.now())
    client = nudge_client(s)
    nudge_tick(s, make_sender(s, client, rate=0))
    channel_post_tick(s, make_poster(s, client, rate=0))
    assert digest_tick(s, make_digest_sender(s, nudge_client(s), rate=0)) == 3
    named: dict[str, int] = {team: 0 for team in OWN}
    for call in standin.calls[since:]:
        if call.method not in ("chat.postMessage", "chat.postEphemeral", "chat.update"):
            continue
        text = json.dumps(call.params, ensure_ascii=False, default=str)
        teams = [team for team, secrets in OWN.items() if any(x in text for x in secrets)]
        assert len(teams) <= 1, f"{call.method} names {teams}"  # never two workspaces' data in one send
        for team in teams:
            named[team] += 1
            assert call.token in (own_tokens if team == "T0CCC" else org_tokens), (team, call.method)
    assert all(n >= 3 for n in named.values()), named
    assert _cross_references(_On(s)) == []
