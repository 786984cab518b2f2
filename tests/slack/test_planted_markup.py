"""Planted markup in every stored user-typed field never reaches Slack raw (issue 12, item 5).

Mentions, links and HTML-ish characters are typed, through the real entry points (slash
commands and the modals the app itself opened, filled in field by field), into every field a
user can store: customer name and former name (a rename), website, contact name, email and
title, deal title, activity summary, follow-up note, the digest subscription (its refused
settings are quoted back), and the display name Slack gives a user. Then every message the app
sends is triggered: the card, search results, the pick list, history, sharing, the pipeline,
the digest (preview and the scheduled post), the nudge DM and its buttons, the Home tab, the
who's-talked answer, the merge confirmation and result, the duplicates list, confirmations,
errors and modals.

Every string of every recorded stand-in call (and every view-submission answer) is walked.
Where Slack parses text (a message's ``text``, any ``mrkdwn`` object, attachment text and
fallbacks) no planted markup may appear raw. Where Slack never parses (``plain_text`` objects,
input initial values, option and button values, private_metadata, message metadata) raw text is
correct: escaping there would show ``&lt;`` to the user or save it back.
"""

from __future__ import annotations

import itertools
import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.dev.standin import SlackStandIn
from crm.models import Customer
from reminders.digests import make_digest_sender, send_due_digests
from reminders.nudges import send_due_nudges
from reminders.scheduler import make_sender, nudge_client
from tests.conftest import ADMIN, REP2

PLANTS = ("<!channel>", "<!here>", "<@U0VICTIM>", "<https://evil.example|x>", "<#C0EVIL>")
P = "<!channel> <!here> <@U0VICTIM> <https://evil.example|x> <#C0EVIL> & < >"
MALLORY = "U0MALLORY"  # a user whose Slack display name carries markup
MESSAGES = ("chat.postMessage", "chat.postEphemeral", "chat.update", "chat.scheduleMessage", "response_url")
VIEWS = ("views.open", "views.update", "views.push", "views.publish")
# What a field of each kind accepts, planted (the service refuses markup in an email or a phone).
TYPED = {
    "email": "o&hara@evil.example",
    "phone": "+1 415 555 0100",
    "website": "https://evil.example/a|b>c<!here>&x",
    "amount": "12.5k",
    "currency": "EUR",
    "follow_up": "tomorrow",
    "occurred_at": "",
    "country": "US",  # checked against ISO 3166: markup can't be a country
    "region": "",
    "postal_code": "94105",  # at most 32 characters
    "employees": "250",
    "annual_revenue": "",
    "tags": "<!channel>, <!here>, <@U0VICTIM>, <#C0EVIL>",  # each tag at most 64 characters
}


_emails = itertools.count(1)


# -- walking every string ------------------------------------------------------------------------
def parsed_strings(node: Any, *, parsed: bool = False) -> list[str]:
    """Every string in ``node`` that Slack parses for mentions and links (message ``text``,
    mrkdwn objects, attachments' text, pretext and fallback)."""
    if isinstance(node, str):
        return [node] if parsed else []
    if isinstance(node, list):
        return [s for item in node for s in parsed_strings(item, parsed=parsed)]
    if not isinstance(node, dict):
        return []
    if node.get("type") == "plain_text":
        return []  # never parsed
    found: list[str] = []
    is_mrkdwn = node.get("type") == "mrkdwn"
    for k, v in node.items():
        if k in ("private_metadata", "metadata", "value", "initial_value", "action_id", "block_id", "callback_id"):
            continue  # values the user never sees as text, or that Slack shows verbatim
        child_parsed = (is_mrkdwn and k == "text") or k in ("fallback", "pretext")
        found += parsed_strings(v, parsed=child_parsed)
    return found


def all_strings(node: Any) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, list):
        return [s for item in node for s in all_strings(item)]
    if isinstance(node, dict):
        return [s for v in node.values() for s in all_strings(v)]
    return []


def message_strings(params: dict[str, Any]) -> list[str]:
    """A message's top-level ``text`` (the fallback and notification text) and its parsed strings."""
    top = [params["text"]] if isinstance(params.get("text"), str) else []
    rest = {k: v for k, v in params.items() if k != "text"}
    return top + parsed_strings(rest) + [s for a in params.get("attachments") or [] for s in parsed_strings(a)]


def raw_plants(text: str) -> list[str]:
    found = [p for p in PLANTS if p in text]
    if "<@<" in text:
        found.append("<@<")
    return found


# -- driving modals the app opened ----------------------------------------------------------------------
def last_view(standin: SlackStandIn, seen: int) -> dict[str, Any]:
    """The modal opened last since ``seen``, with the id Slack gave it (submissions are keyed on it)."""
    calls = [c for c in standin.calls[seen:] if c.method in ("views.open", "views.push")]
    assert calls, "no modal was opened"
    view_id = ((calls[-1].response or {}).get("view") or {}).get("id") or f"V0PLANT{seen}"
    return {**calls[-1].params["view"], "id": view_id}


def fill(view: dict[str, Any], planted: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """State values for every input of ``view``: text inputs get ``planted`` (or what their kind
    accepts, see TYPED), menus their initial or first option, user pickers REP2."""
    values: dict[str, Any] = {}
    for block in view.get("blocks") or []:
        element = block.get("element") if block.get("type") == "input" else None
        if not isinstance(element, dict):
            continue
        bid, aid, kind = block["block_id"], element["action_id"], element.get("type")
        state: dict[str, Any] = {"type": kind}
        wanted = (overrides or {}).get(bid, (overrides or {}).get(aid))
        if kind == "plain_text_input":
            typed = next((t for k, t in TYPED.items() if k in bid or k in aid), None)
            if typed and "@" in typed:  # a fresh address each time: an email names one contact
                typed = typed.replace("@", f"{next(_emails)}@")
            state["value"] = wanted if wanted is not None else (typed if typed is not None else planted)
            if state["value"] == "":
                continue
        elif kind in ("static_select", "external_select", "radio_buttons"):
            option = element.get("initial_option") or next(iter(element.get("options") or []), None)
            if wanted is not None:
                option = {"value": wanted, "text": {"type": "plain_text", "text": "x"}}
            if option is None:
                continue
            state["selected_option"] = option
        elif kind == "users_select":
            state["selected_user"] = wanted or element.get("initial_user") or REP2
        elif kind == "datepicker":
            if wanted is None and not element.get("initial_date"):
                continue
            state["selected_date"] = wanted or element.get("initial_date")
        elif kind == "checkboxes":
            state["selected_options"] = (element.get("options") if wanted else element.get("initial_options")) or []
        else:
            continue
        values[bid] = {aid: state}
    return values


class Session:
    """One user's clicks and submissions, and every answer the app gave to them."""

    def __init__(self, slack, standin: SlackStandIn, app_server) -> None:
        self.slack, self.standin, self.app = slack, standin, app_server
        self.answers: list[dict[str, Any]] = []  # view-submission responses

    def wait(self) -> None:
        self.app.drain()

    def command(self, command: str, text: str, user: str = REP2) -> None:
        assert self.slack.command(command, text, user=user).status == 200
        self.wait()

    def click(self, action_id: str, value: str, user: str = REP2, **kw) -> None:
        assert self.slack.click(action_id, value, user=user, **kw).status == 200
        self.wait()

    def open_and_submit(self, open_: Any, planted: str, overrides: dict[str, Any] | None = None, user: str = REP2):
        seen = len(self.standin.calls)
        open_()
        self.wait()
        view = last_view(self.standin, seen)
        resp = self.slack.view_submission(
            view["callback_id"],
            fill(view, planted, overrides),
            private_metadata=view.get("private_metadata") or "",
            user=user,
            blocks=view.get("blocks"),
            view_id=view["id"],
        )
        assert resp.status == 200, resp.text
        if resp.text:
            self.answers.append(resp.json())
        self.wait()
        return resp.json() if resp.text else None

    def buttons(self, action_id: str) -> list[str]:
        """The values of every ``action_id`` element the app has sent so far, newest first."""
        found: list[str] = []

        def walk(node: Any) -> None:
            if isinstance(node, dict):
                if node.get("action_id") == action_id and isinstance(node.get("value"), str):
                    found.append(node["value"])
                for option in node.get("options") or [] if node.get("action_id") == action_id else []:
                    found.append(option.get("value"))
                for v in node.values():
                    walk(v)
            elif isinstance(node, list):
                for v in node:
                    walk(v)

        for call in reversed(self.standin.calls):
            walk(call.params)
        for answer in reversed(self.answers):
            walk(answer)
        return found


@pytest.fixture
def mallory(standin) -> str:
    standin.add_user(MALLORY, name="mallory<!here>", real_name=f"Mallory {P}", tz="UTC")
    return MALLORY


def test_planted_markup_never_reaches_slack_raw(slack, standin, app_server, mallory):
    s = Session(slack, standin, app_server)
    services = app_server.services
    ws = services.workspace_id("T0TEST")
    name = f"Corp {P}"
    # -- plant, through the entry points ---------------------------------------------------------
    s.command("/customer", f"nobody {P}")  # nothing matches: the "create it?" answer quotes it
    s.open_and_submit(lambda: s.command("/crm", f"new {name}"), f"Jo {P}", {"name": name})
    with services.session_factory() as db:
        cid = str(db.scalar(select(Customer.id).where(Customer.workspace_id == ws, Customer.name == name)))
    assert cid != "None", f"the customer was not created: {s.answers}"
    s.open_and_submit(lambda: s.click("customer_edit_open", cid), P, {"name": f"Co {P}"})  # "Corp …" is a former name
    s.open_and_submit(lambda: s.click("contact_add_open", cid), f"Al {P}", {"contact_name": f"Al {P}"})
    s.open_and_submit(lambda: s.click("deal_new_open", cid), f"Deal {P}")
    s.open_and_submit(lambda: s.click("activity_log_open", cid), f"Talked {P}", {"follow_up": "tomorrow"})
    s.command("/log", f"call Co {P} discussed {P}, follow up next friday")
    s.open_and_submit(lambda: s.click("followup_add_open", cid), f"Note {P}", {"follow_up": "tomorrow"})
    s.command("/crm", f"followup Co {P} tomorrow send {P}")
    s.command("/crm", f"digest subscribe {P}")  # refused: it quotes what was typed
    s.command("/crm", "digest subscribe 9:00 daily")
    # a near-duplicate, created anyway, typed by the user whose display name is planted
    s.open_and_submit(
        lambda: s.command("/crm", f"new Co {P} two", user=mallory), P, {"name": f"Co {P} two"}, user=mallory
    )
    for answer in list(s.answers):  # the duplicate warning: "Create anyway"
        if "force" in json.dumps(answer):
            view = answer["view"]
            values = fill(view, P, {"name": f"Co {P} two", "force": "yes"})
            resp = slack.view_submission(
                view["callback_id"], values, private_metadata=view.get("private_metadata") or "", user=mallory
            )
            if resp.text:
                s.answers.append(resp.json())
            s.wait()
    s.command("/log", f"meeting Co {P} two met {P}", user=mallory)

    # -- trigger every message ---------------------------------------------------------------------
    for query in (f"Co {P}", "Corp", "co", "evil.example", "o&hara@evil.example", f"Al {P}"):
        s.command("/customer", query)
    for value in s.buttons("customer_show")[:3]:
        s.click("customer_show", value)
    for value in s.buttons("customer_history")[:1]:
        s.click("customer_history", value)
        for older in s.buttons("customer_history_older")[:1]:
            s.click("customer_history_older", older)
    s.click("customer_share", cid, channel="C0SALES")
    s.click("customer_edit_open", cid)  # the edit form, prefilled (plain text: raw is right)
    s.click("deal_list_show", cid)
    for value in s.buttons("deal_edit_open")[:1]:
        s.click("deal_edit_open", value)
    for text in ("deal", f"deal Co {P}", "pipeline", "pipeline team", "followups", "followups all", "digest list"):
        s.command("/crm", text, user=ADMIN if "all" in text or "team" in text else REP2)
    s.command("/crm", "digest preview")
    for text in (f"who Co {P}", f"who {P}", "duplicates", f"merge Co {P} two into Co {P}", f"merge {P} into nobody"):
        s.command("/crm", text, user=ADMIN)
    for value in s.buttons("customer_merge_confirm")[:1]:
        s.click("customer_merge_confirm", value, user=ADMIN)
        s.click("customer_merge_confirm", value, user=ADMIN)  # "already merged"
    slack.event(
        {
            "type": "app_mention",
            "user": REP2,
            "channel": "C0SALES",
            "ts": "1.5",
            "text": f"<@U0BOT> who's talked to Co {P}?",
        }
    )
    slack.message_shortcut(
        "who_talked_message", {"type": "message", "ts": "1700000000.000500", "user": mallory, "text": f"Co {P} renewal"}
    )
    slack.message_shortcut(
        "log_activity_message",
        {"type": "message", "ts": "1700000000.000600", "user": mallory, "text": f"Co {P} said {P}"},
    )
    s.wait()
    for value in s.buttons("whos_talked_pick")[:1]:
        s.click("whos_talked_pick", value)
    for value in s.buttons("whos_talked_card")[:1]:
        s.click("whos_talked_card", value)
    for value in s.buttons("activity_undo")[:1]:
        s.click("activity_undo", value)
        for restore in s.buttons("activity_restore")[:1]:
            s.click("activity_restore", restore)
    for user in (REP2, ADMIN, mallory):
        slack.event({"type": "app_home_opened", "user": user, "channel": "D0X", "tab": "home"})
    s.wait()
    # the scheduled jobs: nudges for the follow-ups (due tomorrow, so run a day and a half later), the digest
    later = (services.now() + timedelta(days=8)).replace(hour=12)  # past 9:00 in Berlin
    send_due_nudges(services.session_factory, make_sender(services, nudge_client(services), rate=0), later, replica="t")
    send_due_digests(
        services.session_factory, make_digest_sender(services, nudge_client(services), rate=0), later, replica="t"
    )
    dms = [c for c in standin.calls_to("chat.postMessage") if c.params.get("metadata")]
    assert dms, "no nudge DM was sent"
    for dm in dms[:1]:
        message = {"ts": dm.response["ts"], "text": "", "blocks": dm.params["blocks"]}
        fid = next(v for v in s.buttons("followup_done"))
        for action in ("followup_reschedule_open", "followup_snooze", "followup_done"):
            element = {"type": "button", "action_id": action, "value": fid, "block_id": f"fu:{fid}"}
            if action == "followup_snooze":
                element = {
                    "type": "overflow",
                    "action_id": action,
                    "block_id": f"fu:{fid}",
                    "selected_option": {"value": next(iter(s.buttons(action)), f"{fid}:tomorrow")},
                }
            slack.block_actions([element], user=REP2, channel=dm.response["channel"], message=message)
            s.wait()

    # -- check every string of every call ------------------------------------------------------------
    problems: list[str] = []
    shown = 0
    methods: set[str] = set()
    for call in standin.calls:
        if call.method in MESSAGES:
            texts = message_strings(call.params)
        elif call.method in VIEWS:
            texts = parsed_strings(call.params.get("view"))
        else:
            continue
        methods.add(call.method)
        for text in texts:
            shown += "&lt;!channel&gt;" in text
            if raw_plants(text):
                problems.append(f"{call.method}: {raw_plants(text)} in {text[:200]!r}")
        assert "Something went wrong" not in json.dumps(call.params), call.params
    for answer in s.answers:
        for text in parsed_strings(answer):
            if raw_plants(text):
                problems.append(f"view submission answer: {raw_plants(text)} in {text[:200]!r}")
    import os

    if os.environ.get("PLANT_DEBUG"):
        for c in standin.calls:
            print(
                "CALL",
                c.method,
                repr((c.params.get("text") or "")[:150]),
                (c.params.get("view") or {}).get("callback_id"),
            )
        print("ANSWERS", [json.dumps(a)[:200] for a in s.answers])
    assert not problems, "\n".join(sorted(set(problems))[:30])
    assert {
        "response_url",
        "chat.postEphemeral",
        "chat.postMessage",
        "chat.update",
        "views.open",
        "views.publish",
    } <= methods
    said = " ".join(t for c in standin.calls if c.method in MESSAGES for t in message_strings(c.params))
    for what in (
        "Created Co",
        "Saved contact Al",
        "Created deal Deal",
        "Logged: Call",
        "Follow-up due: Co",
        "History of Co",
    ):
        assert what in said, what
    for what in (
        "Merged Co",
        "already merged",
        "Probable duplicates: 1 customer pair",
        "Who's talked to Co",
        "digest for",
    ):
        assert what in said, what
    assert shown >= 30, shown  # the planted text really was shown (escaped), not left out
    # plain text (the edit form's initial values) keeps what was typed, unescaped
    assert any(f"Co {P}" in s for c in standin.calls_to("views.open") for s in all_strings(c.params["view"]))


def test_the_walker_finds_markup_where_slack_parses_it_and_only_there():
    message = {
        "text": "fallback <!here>",
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": "card <!channel>"}},
            {"type": "header", "text": {"type": "plain_text", "text": "plain <!channel>"}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": "ctx <@U0VICTIM>"}]},
            {
                "type": "actions",
                "elements": [{"type": "button", "value": "<!here>", "text": {"type": "plain_text", "text": "b"}}],
            },
        ],
        "attachments": [{"fallback": "att <#C0EVIL>", "text": "not mrkdwn"}],
        "metadata": {"event_payload": {"note": "<!channel>"}},
    }
    found = message_strings(message)
    assert "fallback <!here>" in found and "card <!channel>" in found and "ctx <@U0VICTIM>" in found
    assert "att <#C0EVIL>" in found
    assert not [t for t in found if "plain" in t or t == "<!here>"]
    modal = {"type": "modal", "private_metadata": "<!here>", "blocks": [
        {"type": "input", "element": {"type": "plain_text_input", "initial_value": "<!channel>"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "shown <https://evil.example|x>"}},
    ]}  # fmt: skip
    assert parsed_strings(modal) == ["shown <https://evil.example|x>"]
    assert raw_plants("a <@<!channel>>") == ["<!channel>", "<@<"]
    assert raw_plants("&lt;!channel&gt; &amp;") == []
