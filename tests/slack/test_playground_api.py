"""The playground without a browser: its JSON API drives the real app, and the stand-in's additions.

The page only ever calls these endpoints, so what they do is what a user of the page gets:
each test talks HTTP to a running playground, as the page does, and checks what the user
would see in the next ``/api/state`` (or what the database holds).
"""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.webhook import WebhookClient
from sqlalchemy import func, select

from bot.dev.playground import ADMIN, MANAGER, REP, Playground, dm_id
from bot.dev.standin import SlackStandIn
from commands.activities import views as log_ui
from commands.followups import nudge_dm as followup_views
from crm.customers import ContactInput, create_customer
from crm.models import Activity, Customer, FollowUp
from tests.support.processes import CRM_BOT, clean_env

SALES = "C0SALES"


class Page:
    """Calls the playground's API the way static/app.js does."""

    def __init__(self, playground: Playground, user: str = REP) -> None:
        self.playground = playground
        self.user = user

    def post(self, path: str, **body: Any) -> dict[str, Any]:
        body.setdefault("user", self.user)
        request = urllib.request.Request(
            self.playground.url + path,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def state(self, channel: str | None = SALES, **query: Any) -> dict[str, Any]:
        params = "&".join(f"{k}={v}" for k, v in {"user": self.user, "channel": channel or "", **query}.items())
        with urllib.request.urlopen(f"{self.playground.url}/api/state?{params}", timeout=30) as response:
            return json.loads(response.read())

    def wait_for(self, what: Callable[[dict[str, Any]], Any], channel: str | None = SALES, timeout: float = 10) -> Any:
        deadline = time.monotonic() + timeout
        state = self.state(channel)
        while time.monotonic() < deadline:
            found = what(state)
            if found:
                return found
            state = self.state(channel, since=state["version"], wait=1)
        raise AssertionError(f"not seen within {timeout}s; last state: {json.dumps(state)[:2000]}")


@pytest.fixture
def playground() -> Iterator[Playground]:
    pg = Playground(port=0, tick_seconds=3600).start()
    yield pg
    pg.stop()
    assert not pg.standin.block_errors, f"the app sent invalid Block Kit: {pg.standin.block_errors}"


@pytest.fixture
def page(playground) -> Page:
    return Page(playground)


@pytest.fixture
def acme(playground) -> Customer:
    services = playground.services
    return create_customer(
        services.session_factory,
        services.search,
        services.workspace_id("T0PLAYGROUND"),
        actor=REP,
        name="Acme Robotics",
        website="acme-robotics.com",
        contact=ContactInput(name="Jane Doe", email="jane@acme-robotics.com"),
    )


def texts(messages: list[dict[str, Any]]) -> str:
    """Everything a user reads in these messages (text and block text)."""
    return json.dumps([(m.get("text"), m.get("blocks")) for m in messages], ensure_ascii=False)


def modal(state: dict[str, Any]) -> dict[str, Any] | None:
    return state["modal"][-1] if state["modal"] else None


# ---------------------------------------------------------------- the workspace
def test_the_workspace_has_a_rep_a_manager_and_an_admin_with_time_zones(page):
    state = page.state()
    people = {u["id"]: u for u in state["users"] if u["in_switcher"]}
    assert {people[REP]["role"], people[MANAGER]["role"], people[ADMIN]["role"]} == {"rep", "manager", "admin"}
    assert people[ADMIN]["is_admin"] and not people[REP]["is_admin"]
    assert all(u["tz"] and "/" in u["tz"] for u in people.values())
    kinds = {c["name"]: c["kind"] for c in state["channels"]}
    assert kinds["sales"] == "channel" and kinds["crm"] == "app" and kinds["ext-globex-partners"] == "shared"
    assert [c["id"] for c in state["channels"] if c["kind"] == "app"] == [dm_id(REP)]


def test_a_slash_command_answers_only_the_user_who_typed_it(page, playground):
    page.post("/api/command", channel=SALES, text="/crm help")
    shown = page.wait_for(lambda s: [m for m in s["messages"] if m.get("ephemeral")])
    assert "CRM commands" in texts(shown) and shown[0]["time"]
    assert Page(playground, MANAGER).state()["messages"] == []


def test_an_unknown_command_is_explained(page):
    page.post("/api/command", channel=SALES, text="/nope now")
    shown = page.wait_for(lambda s: s["messages"])
    assert "`/nope` is not a command this app knows" in shown[0]["text"]


def test_bad_requests_say_what_is_wrong(page, playground):
    with pytest.raises(urllib.error.HTTPError) as err:
        page.post("/api/command", channel=SALES)
    assert err.value.code == 400 and json.loads(err.value.read())["error"] == "text is required"
    with pytest.raises(urllib.error.HTTPError) as err:
        Page(playground, "U0NOBODY").post("/api/command", channel=SALES, text="/crm")
    assert "unknown user" in json.loads(err.value.read())["error"]


def test_the_page_and_its_scripts_are_served(playground):
    with urllib.request.urlopen(playground.url + "/", timeout=10) as response:
        html = response.read().decode()
    assert "/static/app.js" in html and "/static/blockkit.js" in html
    for name in ("app.js", "blockkit.js", "style.css"):
        with urllib.request.urlopen(f"{playground.url}/static/{name}", timeout=10) as response:
            assert response.status == 200 and len(response.read()) > 1000
    with urllib.request.urlopen(playground.url + "/healthz", timeout=10) as response:
        assert json.loads(response.read()) == {"status": "ok"}


def test_requests_to_the_app_are_signed(playground):
    """The app's endpoint is the real one: an unsigned request is refused."""
    request = urllib.request.Request(playground.url + "/slack/events", data=b"command=/crm&text=help", method="POST")
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(request, timeout=10)
    assert err.value.code == 401


# ---------------------------------------------------------------- modals
def log_values(customer_option: dict | None, *, type_key: str | None, summary: str, follow_up: str = "") -> dict:
    return {
        log_ui.CUSTOMER_BLOCK: {
            log_ui.CUSTOMER_ACTION: {"type": "external_select", "selected_option": customer_option}
        },
        log_ui.TYPE_BLOCK: {
            log_ui.TYPE_ACTION: {
                "type": "static_select",
                "selected_option": {"text": {"type": "plain_text", "text": type_key}, "value": type_key}
                if type_key
                else None,
            }
        },
        log_ui.SUMMARY_BLOCK: {log_ui.SUMMARY_ACTION: {"type": "plain_text_input", "value": summary}},
        log_ui.WHEN_BLOCK: {log_ui.WHEN_ACTION: {"type": "datetimepicker", "selected_date_time": int(time.time())}},
        log_ui.FOLLOW_UP_TEXT_BLOCK: {
            log_ui.FOLLOW_UP_TEXT_ACTION: {"type": "plain_text_input", "value": follow_up or None}
        },
        log_ui.FOLLOW_UP_DATE_BLOCK: {log_ui.FOLLOW_UP_DATE_ACTION: {"type": "datepicker", "selected_date": None}},
    }


def open_log_modal(page: Page) -> dict[str, Any]:
    page.post("/api/command", channel=SALES, text="/log")
    return page.wait_for(modal)


def test_logging_a_call_through_the_modal(page, playground, acme):
    view = open_log_modal(page)
    assert view["callback_id"] == log_ui.LOG_CALLBACK

    # Typeahead: a block_suggestion answered by the app's shared customer picker.
    where = {"view_id": view["id"], "block_id": log_ui.CUSTOMER_BLOCK, "action_id": log_ui.CUSTOMER_ACTION}
    answer = page.post("/api/suggest", **where, value="acme")
    option = answer["options"][0]
    assert option["value"] == str(acme.id) and "Acme Robotics" in option["text"]["text"]

    # Picking it (dispatch_action) makes the app update the modal with the customer's contacts.
    page.post(
        "/api/action",
        view_id=view["id"],
        action={"type": "external_select", "action_id": log_ui.CUSTOMER_ACTION, "block_id": log_ui.CUSTOMER_BLOCK,
                "selected_option": option},
        values=log_values(option, type_key=None, summary=""),
    )  # fmt: skip
    updated = page.wait_for(lambda s: (m := modal(s)) and m["hash"] != view["hash"] and m)
    assert any(b.get("block_id", "").startswith(log_ui.CONTACT_BLOCK) for b in updated["blocks"])

    # Saving without a type: the error is on the field, the modal stays open.
    values = log_values(option, type_key=None, summary="x")
    answer = page.post("/api/view_submission", view_id=view["id"], values=values)
    assert log_ui.TYPE_BLOCK in answer["errors"]
    assert modal(page.state())["id"] == view["id"]

    answer = page.post(
        "/api/view_submission",
        view_id=view["id"],
        values=log_values(option, type_key="call", summary="Discussed renewal pricing"),
    )
    assert "errors" not in answer and "error" not in answer
    assert page.state()["modal"] == []
    confirmation = page.wait_for(lambda s: [m for m in s["messages"] if "Logged" in texts([m])])
    assert confirmation[0]["ephemeral"] and "Acme Robotics" in texts(confirmation)
    with playground.services.session_factory() as session:
        assert session.scalar(select(Activity.summary)) == "Discussed renewal pricing"


def test_cancel_closes_the_top_view_and_the_x_closes_them_all(page, playground, acme):
    view = open_log_modal(page)
    option = {"text": {"type": "plain_text", "text": "New"}, "value": "new:Globex"}
    page.post(
        "/api/action",
        view_id=view["id"],
        action={"type": "external_select", "action_id": log_ui.CUSTOMER_ACTION, "block_id": log_ui.CUSTOMER_BLOCK,
                "selected_option": option},
        values=log_values(option, type_key=None, summary=""),
    )  # fmt: skip
    stack = page.wait_for(lambda s: len(s["modal"]) == 2 and s["modal"])
    assert stack[1]["title"]["text"] == "New customer"
    page.post("/api/view_closed", view_id=stack[1]["id"])
    assert [v["id"] for v in page.state()["modal"]] == [view["id"]]
    page.post("/api/view_closed", view_id=view["id"], all=True)
    assert page.state()["modal"] == []


def test_a_response_action_update_replaces_the_view(playground, page, acme):
    """`/crm new` with a likely duplicate: the app answers the submission with response_action update."""
    page.post("/api/command", channel=SALES, text="/crm new Acme Robotics Inc")
    view = page.wait_for(modal)
    values = {}
    for block in view["blocks"]:
        element = block.get("element") or {}
        if block.get("type") == "input" and element.get("type") == "plain_text_input":
            values[block["block_id"]] = {
                element["action_id"]: {"type": "plain_text_input", "value": element.get("initial_value")}
            }
        elif block.get("type") == "input" and element.get("type") == "users_select":
            values[block["block_id"]] = {element["action_id"]: {"type": "users_select", "selected_user": REP}}
    answer = page.post("/api/view_submission", view_id=view["id"], values=values)
    assert answer["body"]["response_action"] == "update"
    shown = modal(page.state())
    assert shown["id"] == view["id"] and shown["hash"] != view["hash"]
    assert "Acme Robotics" in json.dumps(shown["blocks"])


# ---------------------------------------------------------------- messages, threads, the App Home
def test_a_customer_card_button_replaces_the_ephemeral_card(page, acme):
    page.post("/api/command", channel=SALES, text="/customer acme robotics")
    card = page.wait_for(lambda s: [m for m in s["messages"] if m.get("ephemeral") and m.get("blocks")])[0]
    history = next(
        e
        for b in card["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e.get("action_id", "").startswith("customer_history")
    )
    page.post(
        "/api/action",
        channel=SALES,
        message_ts=card["ts"],
        action={"type": "button", "action_id": history["action_id"], "block_id": "b", "value": history["value"]},
    )
    replaced = page.wait_for(lambda s: [m for m in s["messages"] if m["ts"] == card["ts"] and m.get("edited")])
    assert "History" in texts(replaced) and len(page.state()["messages"]) == 1


def test_a_mention_reaches_the_app_as_an_app_mention(page, playground, acme):
    answer = page.post("/api/message", channel=SALES, text="@crm who's talked to Acme Robotics?")
    assert answer["status"] == 200
    [question] = [m for m in page.state()["messages"] if m["ts"] == answer["ts"]]
    assert question["text"].startswith("<@U0BOT> who") and question["user"] == REP
    reply = page.wait_for(
        lambda s: [m for m in s["messages"] if m.get("thread_ts") == answer["ts"] and m.get("bot_id")]
    )
    assert "Acme Robotics" in texts(reply)


def test_thread_replies_are_kept_with_their_parent(page):
    parent = page.post("/api/message", channel=SALES, text="Anyone been to the trade fair?")
    page.post("/api/message", channel=SALES, text="Me, with @maria", thread_ts=parent["ts"])
    messages = page.state()["messages"]
    assert messages[0]["reply_count"] == 1
    assert messages[1]["thread_ts"] == parent["ts"] and messages[1]["text"] == "Me, with <@U0MGR>"


def test_opening_the_app_home_publishes_it(page):
    page.post("/api/home")
    home = page.wait_for(lambda s: s["home"], channel=dm_id(REP))
    assert home["type"] == "home" and home["blocks"]


def test_typed_text_is_stored_the_way_slack_stores_it(playground):
    encoded = playground.encode_text("@crm hi <b> & #sales @nobody")
    assert encoded == "<@U0BOT> hi &lt;b&gt; &amp; <#C0SALES|sales> @nobody"


def test_a_slash_command_gets_mentions_escaped_as_slack_sends_them(page, acme):
    """The manifest's commands say ``should_escape: true``, so Slack sends ``@rita`` as
    ``<@U0REP|rita>``: `/crm accounts owner:@rita` typed on the page must filter, not be refused."""
    page.post("/api/command", channel=SALES, text="/crm accounts owner:@rita")
    shown = page.wait_for(lambda s: [m for m in s["messages"] if m.get("ephemeral")])
    assert "Acme Robotics" in texts(shown) and "Name the owner with an @-mention" not in texts(shown)


def test_email_capture_not_set_up_tells_a_rep_whom_to_ask(page):
    """The playground runs without CRM_MAIL_DOMAIN: a rep learns there is no address yet and who can add one."""
    page.post("/api/command", channel=SALES, text="/crm email")
    said = texts(page.wait_for(lambda s: [m for m in s["messages"] if m.get("ephemeral")]))
    assert "there is no address to BCC" in said and "Ask whoever runs the CRM server" in said
    assert "The operator sets" not in said


# ---------------------------------------------------------------- time travel
def test_time_travel_delivers_the_nudge_and_done_settles_it(page, playground, acme):
    view = open_log_modal(page)
    option = {"text": {"type": "plain_text", "text": "Acme Robotics"}, "value": str(acme.id)}
    answer = page.post(
        "/api/view_submission",
        view_id=view["id"],
        values=log_values(option, type_key="call", summary="Sent the quote", follow_up="tomorrow 3pm"),
    )
    assert "errors" not in answer, answer
    assert page.state(dm_id(REP))["messages"] == []

    moved = page.post("/api/time", seconds=2 * 86400)
    assert moved["offset_seconds"] == 2 * 86400
    nudge = page.wait_for(lambda s: s["messages"], channel=dm_id(REP))[0]
    assert "Acme Robotics" in texts([nudge])

    page.post(
        "/api/action",
        channel=dm_id(REP),
        message_ts=nudge["ts"],
        action={"type": "button", "action_id": followup_views.DONE, "block_id": "b",
                "value": next(e["value"] for b in nudge["blocks"] if b["type"] == "actions" for e in b["elements"]
                              if e.get("action_id") == followup_views.DONE)},
    )  # fmt: skip
    page.wait_for(lambda s: "Done" in texts(s["messages"]), channel=dm_id(REP))
    with playground.services.session_factory() as session:
        assert session.scalar(select(FollowUp.status)) == "done"


def test_the_clock_only_moves_forward(page):
    with pytest.raises(urllib.error.HTTPError) as err:
        page.post("/api/time", seconds=-60)
    assert err.value.code == 400


# ---------------------------------------------------------------- demo data
def test_demo_data_is_realistic_and_the_same_every_time():
    with Playground(port=0, demo=True, tick_seconds=3600) as first:
        summary = first.demo_summary
        with first.services.session_factory() as session:
            names = session.scalars(select(Customer.name).order_by(Customer.id).limit(5)).all()
            soon = session.scalar(
                select(func.count())
                .select_from(FollowUp)
                .where(FollowUp.owner_user_id == REP, FollowUp.due_at < first.clock() + _hours(3))
            )
        report = first.tick()
        nudges = Page(first).state(dm_id(REP))["messages"]
    assert summary["customers"] >= 200 and summary["deals"] > 100 and summary["activities"] > 500
    assert summary["contacts"] > summary["customers"] and soon >= 2
    assert report["nudges"] >= 1 and nudges  # the overdue one, at the first tick
    with Playground(port=0, demo=True, tick_seconds=3600) as second, second.services.session_factory() as session:
        assert session.scalars(select(Customer.name).order_by(Customer.id).limit(5)).all() == names


def test_demo_deals_take_weeks_to_close_and_reach_won_or_lost_when_they_close():
    """The forecast's "days to close" on the demo reads like a real team's, not "2 days"."""
    from crm.models import Deal, DealStageChange

    with Playground(port=0, demo=True, tick_seconds=3600) as demo:
        now = demo.clock()
        with demo.services.session_factory() as session:
            closed = session.scalars(select(Deal).where(Deal.closed_at.is_not(None))).all()
            changes = session.scalars(select(DealStageChange)).all()
    assert closed
    ages = [(d.closed_at - d.created_at).days for d in closed]
    assert sum(ages) / len(ages) >= 14
    by_id = {d.id: d for d in closed}
    for change in changes:
        deal = by_id.get(change.deal_id)
        assert change.created_at.replace(tzinfo=None) <= now.replace(tzinfo=None)
        if deal is not None:
            assert change.created_at <= deal.closed_at
            if change.to_stage == deal.stage:
                assert change.created_at == deal.closed_at


def test_a_kept_demo_database_is_not_seeded_again_and_its_data_reads_true(tmp_path):
    from crm import dedupe

    url = f"sqlite:///{tmp_path / 'demo.db'}"
    with Playground(port=0, demo=True, database_url=url, tick_seconds=3600) as first:
        seeded = first.demo_summary["customers"]
        services = first.services
        ws = services.workspace_id("T0PLAYGROUND")
        with services.session_factory() as session:
            domains = session.scalars(select(Customer.domain).where(Customer.domain.is_not(None))).all()
        # Different companies never share a made-up domain, so no merge suggestion is wrong.
        assert len(domains) == len(set(domains)) and len(domains) > seeded // 2
        report = dedupe.find_duplicates(services.session_factory, ws)
        assert not report.customers, [(p.duplicate_name, p.keeper_name, p.reasons) for p in report.customers][:5]
        # The page's examples ("/customer acme", "/log call Acme …") name exactly one customer.
        assert [m.matched for m in services.search.search(ws, "acme")] == ["Acme Robotics"]
    with Playground(port=0, demo=True, database_url=url, tick_seconds=3600) as again:
        assert again.demo_summary == {} and again.demo_kept == seeded
        with again.services.session_factory() as session:
            assert session.scalar(select(func.count()).select_from(Customer)) == seeded


def _hours(n: int):
    from datetime import timedelta

    return timedelta(hours=n)


# ---------------------------------------------------------------- the stand-in's additions
def test_standin_view_response_update_and_push(tmp_path):
    with SlackStandIn() as slack:
        client = WebClient(token="xoxb-t", base_url=slack.base_url)
        section = {"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}
        view = {"type": "modal", "title": {"type": "plain_text", "text": "One"}, "blocks": [section]}
        opened = client.views_open(trigger_id=slack.trigger_id(), view=view)["view"]
        updated = slack.view_response(opened["id"], "update", {**view, "title": {"type": "plain_text", "text": "Two"}})
        assert updated["id"] == opened["id"] and updated["hash"] != opened["hash"]
        pushed = slack.view_response(opened["id"], "push", view)
        assert pushed["previous_view_id"] == opened["id"] and pushed["root_view_id"] == opened["id"]
        with pytest.raises(ValueError):
            slack.view_response(opened["id"], "update", {"type": "modal", "blocks": [{"type": "section"}]})


def test_standin_replaces_an_ephemeral_message_through_its_response_url():
    seen = []
    with SlackStandIn() as slack:
        slack.add_listener(lambda call: seen.append(call.method))
        client = WebClient(token="xoxb-t", base_url=slack.base_url)
        ts = client.chat_postEphemeral(channel="C1", user="U1", text="Pick one")["message_ts"]
        url = slack.response_url("C1", message_ts=ts, user="U1")
        WebhookClient(url).send(text="Picked", replace_original=True)
        assert [m["text"] for m in slack.ephemeral_messages("C1", user="U1")] == ["Picked"]
        WebhookClient(url).send(delete_original=True)
        assert slack.ephemeral_messages("C1") == []
        assert [c["id"] for c in slack.channels()] == ["C1"] and {u["id"] for u in slack.users()} == {"U0BOT"}
    assert seen == ["chat.postEphemeral", "response_url", "response_url"]


# ---------------------------------------------------------------- the command line
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serves_the_page(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
            return b"CRM playground" in response.read()
    except OSError:
        return False


def test_crm_bot_run_without_slack_credentials_starts_the_playground(tmp_path, processes):
    port = _free_port()
    playground = processes.start(
        "crm-bot-run", [CRM_BOT, "run", "--port", str(port)], env=clean_env(), cwd=tmp_path, split_stderr=True
    )
    processes.wait_until(lambda: _serves_the_page(port), "the playground's page", timeout=60, every=0.3)
    assert playground.terminate_and_wait(timeout=30) == 0, processes.story()
    stderr = playground.errors()
    first = stderr.strip().splitlines()[0]
    assert first.startswith("crm-bot: SLACK_BOT_TOKEN is not set, so this starts the local playground")
    assert "SLACK_SIGNING_SECRET" in first and "Traceback" not in stderr
    assert not (tmp_path / "crm.db").exists()  # the playground never touches the real database


def test_the_playground_recomputes_value_tiers_when_its_clock_crosses_a_day():
    """The scheduler's daily tier job, in the playground: a deal won today makes its customer A
    once the clock has moved to the next day (as it would overnight)."""
    from crm.deals import DealInput, create_deal
    from crm.models import CustomerValueTier
    from crm.pipeline_stages import DEFAULT

    with Playground(port=0, tick_seconds=3600) as pg:
        services = pg.services
        ws = services.workspace_id("T0PLAYGROUND")
        big = create_customer(services.session_factory, services.search, ws, actor=REP, name="Big Win", force=True)
        pg.tick()  # today's tiers: Big Win has won nothing yet
        form = DealInput(title="Deal", amount="50000", stage="won")
        create_deal(services.session_factory, ws, big.id, form, actor=REP, stages=DEFAULT, now=services.now())
        with services.session_factory() as s:
            assert s.scalar(select(CustomerValueTier.tier).where(CustomerValueTier.customer_id == big.id)) == "C"
        pg.advance(86400)
        with services.session_factory() as s:
            assert s.scalar(select(CustomerValueTier.tier).where(CustomerValueTier.customer_id == big.id)) == "A"


def test_a_long_jump_posts_each_digest_it_passes():
    """+3 days from any time of day: the three daily digests whose times the jump passes go out
    (a digest is due only on its own local day, so a jump straight past one would lose it)."""
    from datetime import timedelta

    from crm.digest_schedule import DAILY, Schedule, slots_between, subscribe
    from crm.models import DigestRun

    with Playground(port=0, tick_seconds=3600) as pg:
        services = pg.services
        ws = services.workspace_id("T0PLAYGROUND")
        now = pg.clock()
        soon = (now + timedelta(hours=1)).time().replace(second=0, microsecond=0)
        subscribe(services.session_factory, ws, channel_id=SALES, user=MANAGER, schedule=Schedule(soon, DAILY),
                  timezone="UTC", now=now)  # fmt: skip
        assert len(slots_between(services.session_factory, now, now + timedelta(days=3))) == 3
        pg.advance(3 * 86400)
        with services.session_factory() as s:
            runs = s.execute(select(DigestRun.run_date, DigestRun.sent_at, DigestRun.message_ts)).all()
        assert len(runs) == 3 and all(sent and ts for _, sent, ts in runs), runs
        assert pg.last_tick["digests_total"] == 3
        posts = [c for c in pg.standin.calls if c.method == "chat.postMessage" and c.params.get("channel") == SALES]
        assert len([p for p in posts if not p.params.get("thread_ts")]) == 3
