"""Property-based fuzz of every entry point the Bolt app registers (issue 12, item 4).

The entry points are read from the app's own listeners (``App._listeners``): every slash command
(and every ``/crm`` subcommand, from the router the ``/crm`` listener closes over), every
``block_actions`` action_id, every ``view_submission`` callback_id, every ``block_suggestion``
action, every event type and every shortcut. A listener of a kind this file can't drive fails
the test, and so does a manifest entry without a listener (or the other way round), so a new
handler can't be forgotten.

Before hypothesis starts, a sweep drives each entry point once with real values (the buttons
and modals the app itself sent, harvested from the Slack stand-in) and once with hostile ones.
Then hypothesis builds requests from those real payloads and mutates them: hostile text (NUL,
controls, lone surrogates, huge, ``<!channel>``, RTL, emoji), ids beyond any integer, malformed
user/channel/team ids, missing keys, wrong JSON types, forged or stale ``private_metadata``;
signed and unsigned. After every request (and once the app has finished the work it handed on):

- no HTTP response >= 500, and Slack saw no "Something went wrong";
- nothing logged at ERROR or with a traceback;
- an unsigned request made no Web API call, no ``response_url`` post and no database write;
- no partial writes: every customer, contact, deal, activity, follow-up and digest subscription
  has its creation audit row, every deal its stage history ending at its stage, every row lives
  in its customer's workspace, and every live customer is in the search index.

Run it longer with ``CRM_FUZZ_EXAMPLES=2000 .venv/bin/python -m pytest tests/test_fuzz_entry_points.py``.
"""

from __future__ import annotations

import copy
import http.client
import inspect
import json
import logging
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from slack_bolt import App
from sqlalchemy import func, select

from bot.app import create_app
from bot.dev.driver import sign
from commands.router import CommandRouter
from crm import custom_fields as cf
from crm import customers as csvc
from crm import deals as dsvc
from crm.actors import Actor
from crm.audit import AUDITED
from crm.models import AuditEntry, Base, Customer, Deal, DealStageChange, InboundEmail, Workspace
from crm.states import AuditAction
from tests.conftest import ADMIN, MANAGER, REP, REP2, SIGNING_SECRET, TEAM_ID

EXAMPLES = int(os.environ.get("CRM_FUZZ_EXAMPLES", "60"))
MANIFEST = Path(__file__).resolve().parents[2] / "manifest.yml"
FORM = "application/x-www-form-urlencoded"
JSON_TYPE = "application/json"
ANSWERED = ("response_url", "chat.postEphemeral", "chat.postMessage", "chat.update", "views.open", "views.push")


# -- the entry points, from the app's registrations ------------------------------------------------
@dataclass(frozen=True)
class EntryPoint:
    kind: str  # command, action, view, options, event, shortcut
    name: str | re.Pattern[str]
    sub: str = ""  # a /crm subcommand

    @property
    def label(self) -> str:
        name = self.name.pattern if isinstance(self.name, re.Pattern) else self.name
        return f"{self.kind} {name} {self.sub}".strip()


# Bolt's built-in matcher of each listener kind, and the closure variable holding its constraint.
_MATCHERS = {
    "command": ("command", "command"),
    "action": ("action", "constraints"),
    "view_submission": ("view", "callback_id"),
    "options": ("options", "constraints"),
    "event": ("event", "event_type"),
    "shortcut": ("shortcut", "callback_id"),
}


def entry_points(app: App) -> list[EntryPoint]:
    """Every entry point the app's listeners match, /crm expanded into its subcommands."""
    found: list[EntryPoint] = []
    for listener in app._listeners:
        matcher = listener.matchers[0]
        fn = getattr(matcher, "func", None)
        builtin = getattr(fn, "__qualname__", "").split(".")[0]
        assert builtin in _MATCHERS, f"a listener this fuzz can't drive: {builtin or matcher!r}; add a builder"
        kind, var = _MATCHERS[builtin]
        constraint = inspect.getclosurevars(fn).nonlocals[var]
        if isinstance(constraint, dict):  # app.action({"action_id": ..., "type": ...})
            constraint = constraint.get("action_id") or constraint.get("callback_id")
        assert isinstance(constraint, str | re.Pattern), (builtin, constraint)
        if kind == "command" and constraint == "/crm":
            router = inspect.getclosurevars(listener.ack_function).nonlocals["self"]
            assert isinstance(router, CommandRouter)
            found.append(EntryPoint(kind, constraint, ""))
            for sub in router.subcommands.values():
                found += [EntryPoint(kind, constraint, word) for word in (sub.name, *sub.aliases)]
        else:
            found.append(EntryPoint(kind, constraint))
    return found


def manifest() -> dict[str, Any]:
    return yaml.safe_load(MANIFEST.read_text())


def shortcut_types() -> dict[str, str]:
    return {s["callback_id"]: s["type"] for s in manifest()["features"]["shortcuts"]}


def test_the_enumeration_is_complete_against_the_listeners_and_the_manifest(services):
    app = create_app(services)
    points = entry_points(app)
    # every listener became at least one entry point (no kind skipped, none double-counted)
    assert len({(p.kind, p.name) for p in points if not p.sub}) == len(app._listeners)
    by_kind: dict[str, set[Any]] = {}
    for p in points:
        by_kind.setdefault(p.kind, set()).add(p.name)
    m = manifest()
    assert {c["command"] for c in m["features"]["slash_commands"]} == by_kind["command"]
    assert set(shortcut_types()) == by_kind["shortcut"]
    assert set(m["settings"]["event_subscriptions"]["bot_events"]) == by_kind["event"]
    subs = {p.sub for p in points if p.sub}
    assert {"help", "find", "new", "merge", "log", "followup", "followups", "deal", "pipeline"} <= subs
    assert {"digest", "duplicates", "who"} <= subs
    assert len(by_kind["action"]) >= 25 and len(by_kind["view"]) >= 7 and by_kind["options"]


# -- hostile values ------------------------------------------------------------------------------------
NASTY = [
    "",
    " ",
    "\x00",
    "acme\x00corp",
    "\x07\x1b[31m\r\n\t",
    "\ud800",
    "a\udfffb",
    "<!channel>",
    "<!here> <@U0ADMIN> <#C0SALES> <https://evil.example|x>",
    "&amp; &lt; < > &",
    "*bold* _it_ ~s~ `code` ```block```",
    "شركة الأمل \u202eevil\u202c",
    "🚀🔥💯👩‍👩‍👧‍👦",
    "'; DROP TABLE customers; -- %_%",
    "x" * 3001,
    "y" * 40_000,
    "\u200b\ufeff\u00a0",
    "Ａｃｍｅ",
    "null",
    "{}",
    "[1]",
    "1:2:3",
    "edit:1",
    "remove:99999999999999999999",
]
NASTY_IDS = [
    "0",
    "-1",
    "1.0",
    " 1",
    "1e9",
    "0x10",
    "１２",
    "2147483647",
    "2147483648",
    "9223372036854775808",
    "99999999999999999999",
    "1" * 400,
]
USERS = [REP, REP2, MANAGER, ADMIN]
BAD_USERS = ["", "U", "u0rep", "U" + "A" * 40, "<!channel>", "UNOBODY1", "W0GRID", "BBOT1", "USLACKBOT", "U0REP\x00"]
CHANNELS = ["C0SALES", "D0DM", "CUNKNOWN1", "G0PRIV", "", "<#C0SALES>", "C" + "9" * 40]
TEAMS = [TEAM_ID] * 10 + ["T0OTHER", "", "t0test", "E0ORG", "T" + "Z" * 40, "T0TEST' OR 1=1"]

text_st = st.one_of(
    st.sampled_from(NASTY),
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=20),
    st.lists(st.sampled_from(NASTY[:14]), min_size=1, max_size=4).map(" ".join),
)
junk_st: st.SearchStrategy[Any] = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.integers(min_value=2**63),
        st.floats(allow_nan=False, allow_infinity=False),
        text_st,
    ),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)),
    max_leaves=6,
)


# -- what the app itself sent: real buttons, menus and modals ----------------------------------------
@dataclass
class Harvest:
    elements: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # action_id -> elements seen
    views: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # callback_id -> views seen
    messages: list[dict[str, Any]] = field(default_factory=list)
    seen_calls: int = 0

    def take(self, standin) -> None:
        calls = standin.calls
        for call in calls[self.seen_calls :]:
            params = call.params
            if call.method in ("views.open", "views.push", "views.update", "views.publish"):
                view = params.get("view")
                if isinstance(view, dict):
                    self._view(view)
            elif call.method in ANSWERED:
                self.messages.append({"ts": "1700000000.000200", "text": params.get("text") or "", **params})
            self._elements(params)
        self.seen_calls = len(calls)

    def take_answer(self, text: str) -> None:
        """A view submission's answer (an updated or pushed view)."""
        try:
            answer = json.loads(text) if text else None
        except ValueError:
            return
        if isinstance(answer, dict) and isinstance(answer.get("view"), dict):
            self._view(answer["view"])
            self._elements(answer)

    def _view(self, view: dict[str, Any]) -> None:
        callback = view.get("callback_id")
        if isinstance(callback, str) and callback:
            self.views.setdefault(callback, [])
            if len(self.views[callback]) < 8:
                self.views[callback].append(view)

    def _elements(self, node: Any) -> None:
        if isinstance(node, dict):
            action_id = node.get("action_id")
            if isinstance(action_id, str) and node.get("type") != "plain_text_input":
                seen = self.elements.setdefault(action_id, [])
                if len(seen) < 8 and node not in seen:
                    seen.append(node)
            for value in node.values():
                self._elements(value)
        elif isinstance(node, list):
            for value in node:
                self._elements(value)


def inputs_of(view: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(block_id, action_id, element) of every input block of a modal."""
    found = []
    for block in view.get("blocks") or []:
        element = block.get("element") if block.get("type") == "input" else None
        if isinstance(element, dict) and block.get("block_id") and element.get("action_id"):
            found.append((block["block_id"], element["action_id"], element))
    return found


def real_values(element: dict[str, Any]) -> list[str]:
    """The values an element offers: a button's value, a menu's option values."""
    values = [element["value"]] if isinstance(element.get("value"), str) else []
    for option in element.get("options") or []:
        if isinstance(option, dict) and isinstance(option.get("value"), str):
            values.append(option["value"])
    for group in element.get("option_groups") or []:
        values += [o["value"] for o in group.get("options") or [] if isinstance(o.get("value"), str)]
    return values


def submitted_state(element: dict[str, Any], value: Any) -> dict[str, Any]:
    """What Slack sends for ``element`` filled in with ``value``."""
    kind = element.get("type", "plain_text_input")
    state: dict[str, Any] = {"type": kind}
    if kind in ("static_select", "external_select", "radio_buttons"):
        state["selected_option"] = {"value": value, "text": {"type": "plain_text", "text": "x"}}
    elif kind == "users_select":
        state["selected_user"] = value
    elif kind == "multi_users_select":
        state["selected_users"] = [value]
    elif kind == "conversations_select":
        state["selected_conversation"] = value
    elif kind == "datepicker":
        state["selected_date"] = value
    elif kind == "timepicker":
        state["selected_time"] = value
    elif kind == "checkboxes":
        state["selected_options"] = [{"value": value, "text": {"type": "plain_text", "text": "x"}}]
    else:
        state["value"] = value
    return state


# -- the world the fuzz runs in ---------------------------------------------------------------------------
@dataclass
class World:
    app_server: Any
    standin: Any
    points: list[EntryPoint]
    harvest: Harvest
    ids: list[str]
    errors: list[logging.LogRecord]
    shortcut_types: dict[str, str]
    sent: int = 0
    frozen: bool = False
    driven: set[str] = field(default_factory=set)

    def __repr__(self) -> str:  # hypothesis prints the arguments of a failing example
        return f"World({len(self.points)} entry points, {self.sent} requests sent)"


class ErrorCatcher(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.ERROR or record.exc_info or "Traceback" in record.getMessage():
            self.records.append(record)


@pytest.fixture
def world(app_server, standin) -> Iterator[World]:
    catcher = ErrorCatcher()
    root = logging.getLogger()
    root.addHandler(catcher)
    try:
        services = app_server.services
        points = entry_points(create_app(services))
        w = World(app_server, standin, points, Harvest(), [], catcher.records, shortcut_types())
        seed(w)
        sweep(w)
        yield w
    finally:
        root.removeHandler(catcher)


def seed(w: World) -> None:
    """A few real rows, made through the entry points where one exists."""
    s = w.app_server.services
    ws = s.workspace_id(TEAM_ID)
    acme = csvc.create_customer(s.session_factory, s.search, ws, actor=REP, name="Acme Corporation")
    globex = csvc.create_customer(s.session_factory, s.search, ws, actor=REP2, name="Globex", website="globex.com")
    csvc.create_customer(s.session_factory, s.search, ws, actor=REP2, name="Acme Corp", force=True)
    contact = csvc.ContactInput(name="Jane Doe", email="jane@acme.com", title="CTO")
    csvc.add_contact(s.session_factory, s.search, ws, acme.id, contact, actor=REP)
    stages = s.config(ws).stages
    dsvc.create_deal(
        s.session_factory, ws, acme.id, dsvc.DealInput("Renewal", "12.5k"), actor=REP, stages=stages, now=s.now()
    )
    cf.define_field(
        s.session_factory,
        ws,
        actor=Actor(ADMIN, is_admin=True),
        entity="customer",
        label="Tier",
        type="one_of",
        options=["Gold", "Silver"],
    )
    with s.session_factory.begin() as session:  # email capture's unfiled mail: the Home tab's picker
        session.add(
            InboundEmail(
                workspace_id=ws, message_key="sha256:fuzz", via="smtp", rep_user_id=REP, from_address="r@ourco.com",
                counterparts=["pat@startup.example"], subject="Intro", body="Hi", attachments=[], sent_at=s.now(),
                status="unfiled", candidates=[acme.id, globex.id],
            )
        )  # fmt: skip
    fire(w, command_body("/log", "call Globex discussed renewal, follow up tomorrow", REP))
    fire(w, command_body("/crm", "followup globex in 2 days send the deck", REP))
    fire(w, command_body("/crm", "digest subscribe 9:00", REP))
    with s.session_factory() as session:
        ids = [str(i) for m in (Customer, Deal) for i in session.scalars(select(m.id))]
    w.ids = sorted(set([*ids, str(acme.id), str(globex.id)]))
    check_clean(w, "seeding")


def sweep(w: World) -> None:
    """Drive every entry point once with what the app sent (to harvest its buttons and modals),
    then once with hostile values; fail if one could not be driven."""
    for text in ("Acme", "acme corp", "globex"):
        fire(w, command_body("/customer", text, REP))
    commands = ("followups", "followups all", "deal acme corporation", "pipeline", "duplicates", "who acme", "fields")
    for text in (*commands, "email"):
        fire(w, command_body("/crm", text, ADMIN))
    fire(w, event_body({"type": "app_home_opened", "user": REP, "channel": "D0DM", "tab": "home"}))
    # an admin's Home adds the Team section and the workspace settings
    fire(w, event_body({"type": "app_home_opened", "user": ADMIN, "channel": "D0DMA", "tab": "home"}))
    fire(
        w,
        event_body(
            {
                "type": "app_mention",
                "user": REP,
                "channel": "C0SALES",
                "ts": "1.1",
                "text": "<@U0BOT> who's talked to acme?",
            }
        ),
    )
    clicked: set[str] = set()
    for _ in range(2):  # buttons open modals, whose buttons open more
        for action_id, elements in list(w.harvest.elements.items()):
            if action_id in clicked:
                continue
            clicked.add(action_id)
            for element in elements[:1]:
                # /crm fields, the settings, the Team section and handover are for admins and managers
                clicker = ADMIN if action_id.startswith(("fields", "admin", "team", "handover")) else REP
                for value in real_values(element)[:2]:
                    fire(w, action_body(action_id, element, value, clicker, w.harvest))
    for point in w.points:
        for body in [*realistic(point, w), hostile(point, w)]:
            fire(w, body)
        w.driven.add(point.label)
    missing = {p.name for p in w.points if p.kind == "view"} - set(w.harvest.views)
    assert not missing, f"no modal seen for {missing}: the fuzz would submit blind"
    check_clean(w, "the sweep")
    w.frozen = True


# -- building request bodies -----------------------------------------------------------------------------
@dataclass
class Body:
    fields: dict[str, Any] | None = None  # a form (slash command)
    payload: dict[str, Any] | None = None  # an interaction (form field "payload")
    event: dict[str, Any] | None = None  # an Events API envelope (JSON)
    label: str = ""

    def encoded(self) -> tuple[bytes, str]:
        if self.fields is not None:
            pairs = [(k, v if isinstance(v, str) else json.dumps(v)) for k, v in self.fields.items()]
            raw = urlencode(pairs, encoding="utf-8", errors="surrogatepass")
            return raw.encode("ascii"), FORM
        if self.payload is not None:
            return urlencode({"payload": json.dumps(self.payload)}).encode(), FORM
        return json.dumps(self.event).encode(), JSON_TYPE


_counter = iter(range(1, 10**9))


def command_body(command: str, text: str, user: str, channel: str = "C0SALES", team: str = TEAM_ID) -> Body:
    return Body(
        fields={
            "token": "legacy",
            "team_id": team,
            "team_domain": "acme-sales",
            "channel_id": channel,
            "channel_name": "sales",
            "user_id": user,
            "user_name": "someone",
            "command": command,
            "text": text,
            "api_app_id": "A0CRM",
            "response_url": "",  # filled in by fire()
            "trigger_id": f"{next(_counter)}.1.trigger",
        },
        label=f"{command} {text[:20]}",
    )


def _team(team: str) -> dict[str, Any]:
    return {"id": team, "domain": "acme-sales"}


def _user(user: str, team: str = TEAM_ID) -> dict[str, Any]:
    return {"id": user, "username": "someone", "team_id": team}


def action_body(action_id: str, element: dict[str, Any], value: Any, user: str, harvest: Harvest) -> Body:
    kind = element.get("type", "button")
    action: dict[str, Any] = {"action_id": action_id, "block_id": "b", "type": kind, "action_ts": "1.2"}
    if kind in ("static_select", "external_select", "overflow", "radio_buttons"):
        action["selected_option"] = {"value": value, "text": {"type": "plain_text", "text": "x"}}
    elif kind == "users_select":
        action["selected_user"] = value
    elif kind == "datepicker":
        action["selected_date"] = value
    else:
        action["value"] = value
    payload: dict[str, Any] = {
        "type": "block_actions",
        "team": _team(TEAM_ID),
        "user": _user(user),
        "api_app_id": "A0CRM",
        "trigger_id": f"{next(_counter)}.1.trigger",
        "actions": [action],
    }
    host = _host_view(action_id, harvest)
    if host is not None:
        payload["view"] = {**host, "id": "V0HOST", "hash": "1.h", "state": {"values": {}}}
        payload["container"] = {"type": "view", "view_id": "V0HOST"}
    else:
        message = harvest.messages[-1] if harvest.messages else {"ts": "1700000000.000100", "text": "", "blocks": []}
        payload["channel"] = {"id": "C0SALES", "name": "sales"}
        payload["message"] = {"ts": "1700000000.000100", "text": "", "blocks": message.get("blocks") or []}
        payload["container"] = {"type": "message", "message_ts": "1700000000.000100", "channel_id": "C0SALES"}
        payload["response_url"] = ""
    return Body(payload=payload, label=f"action {action_id}")


def _host_view(action_id: str, harvest: Harvest) -> dict[str, Any] | None:
    """A modal (or Home tab) the element with ``action_id`` was seen in, if any."""
    for views in harvest.views.values():
        for view in views:
            if action_id in json.dumps(view.get("blocks") or []):
                return view
    return None


def view_body(callback_id: str, view: dict[str, Any] | None, values: dict[str, Any], user: str, meta: Any) -> Body:
    base = copy.deepcopy(view) if view else {"type": "modal", "blocks": []}
    base.update(
        id="V0SUBMIT",
        callback_id=callback_id,
        hash="1.h",
        team_id=TEAM_ID,
        private_metadata=meta,
        state={"values": values},
    )
    payload = {
        "type": "view_submission",
        "team": _team(TEAM_ID),
        "user": _user(user),
        "api_app_id": "A0CRM",
        "trigger_id": f"{next(_counter)}.1.trigger",
        "view": base,
    }
    return Body(payload=payload, label=f"view {callback_id}")


def options_body(action_id: str, value: Any, user: str, view: dict[str, Any] | None) -> Body:
    host = copy.deepcopy(view) if view else {"type": "modal", "callback_id": "", "private_metadata": ""}
    host["id"] = "V0OPTIONS"
    payload = {
        "type": "block_suggestion",
        "team": _team(TEAM_ID),
        "user": _user(user),
        "api_app_id": "A0CRM",
        "action_id": action_id,
        "block_id": "b",
        "value": value,
        "view": host,
        "container": {"type": "view", "view_id": "V0OPTIONS"},
    }
    return Body(payload=payload, label=f"options {action_id}")


def event_body(event: dict[str, Any], team: str = TEAM_ID) -> Body:
    envelope = {
        "token": "legacy",
        "team_id": team,
        "api_app_id": "A0CRM",
        "event": event,
        "type": "event_callback",
        "event_id": f"Ev{next(_counter):08d}",
        "event_time": int(time.time()),
        "authorizations": [{"team_id": team, "user_id": "U0BOT", "is_bot": True}],
    }
    return Body(event=envelope, label=f"event {event.get('type')}")


def shortcut_body(callback_id: str, kind: str, user: str, message: dict[str, Any]) -> Body:
    payload: dict[str, Any] = {
        "type": "shortcut" if kind == "global" else "message_action",
        "callback_id": callback_id,
        "team": _team(TEAM_ID),
        "user": _user(user),
        "trigger_id": f"{next(_counter)}.1.trigger",
        "action_ts": "1.2",
    }
    if kind != "global":
        payload.update(
            channel={"id": "C0SALES", "name": "sales"},
            message=message,
            message_ts=message.get("ts"),
            response_url="",
        )
    return Body(payload=payload, label=f"shortcut {callback_id}")


def concrete_action_id(point: EntryPoint, harvest: Harvest) -> str:
    if isinstance(point.name, str):
        return point.name
    seen = [a for a in harvest.elements if point.name.fullmatch(a)]
    return seen[0] if seen else point.name.pattern.strip("^$").split("(")[0]


def realistic(point: EntryPoint, w: World) -> list[Body]:
    """Requests for ``point`` made of what the app itself sent (real ids, real modals)."""
    h = w.harvest
    if point.kind == "command":
        text = f"{point.sub} acme corporation" if point.sub else "acme"
        return [command_body(point.name, text, ADMIN)]
    if point.kind == "action":
        action_id = concrete_action_id(point, h)
        elements = h.elements.get(action_id) or [{"type": "button", "value": w.ids[0]}]
        return [action_body(action_id, e, v, REP, h) for e in elements[:1] for v in (real_values(e) or [""])[:2]]
    if point.kind == "view":
        bodies = []
        for view in h.views.get(point.name, [])[:2]:
            values = {b: {a: submitted_state(e, _plausible(e, w))} for b, a, e in inputs_of(view)}
            bodies.append(view_body(point.name, view, values, REP, view.get("private_metadata") or ""))
        return bodies
    if point.kind == "options":
        action_id = concrete_action_id(point, h)
        return [options_body(action_id, q, REP, None) for q in ("a", "acme", "glob")]
    if point.kind == "event":
        if point.name == "app_home_opened":
            return [event_body({"type": "app_home_opened", "user": u, "channel": "D0DM", "tab": "home"}) for u in USERS]
        return [
            event_body(
                {
                    "type": point.name,
                    "user": REP,
                    "channel": "C0SALES",
                    "ts": "1.3",
                    "text": "<@U0BOT> who knows globex?",
                }
            )
        ]
    if point.kind == "shortcut":
        message = {
            "type": "message",
            "ts": "1700000000.000300",
            "user": REP2,
            "text": "Call with Acme Corporation went well",
        }
        return [shortcut_body(point.name, w.shortcut_types[point.name], REP, message)]
    raise AssertionError(point)


# What a rep would type into a text input, by a word in its action id.
_TYPED = {
    "name": "Initech & <Sons> Ltd",
    "email": "jo@initech.example",
    "phone": "+1 415 555 0100",
    "website": "initech.example",
    "amount": "12.5k",
    "currency": "EUR",
    "follow": "next friday",
    "when": "tomorrow",
    "occurred": "yesterday",
    "date": "in 2 weeks",
    "title": "Head of <b>Sales</b>",
}


def _plausible(element: dict[str, Any], w: World) -> str:
    """A value that should pass the form's checks: what it shows initially, else what a rep would choose."""
    initial = element.get("initial_value") or element.get("initial_user") or element.get("initial_date")
    option = element.get("initial_option")
    if isinstance(option, dict) and isinstance(option.get("value"), str):
        return option["value"]
    if isinstance(initial, str) and initial:
        return initial
    values = real_values(element)
    if values:
        return values[0]
    kind = element.get("type")
    if kind == "users_select":
        return REP2
    if kind == "datepicker":
        return "2026-12-24"
    if kind == "external_select":
        return w.ids[0]
    action_id = str(element.get("action_id", ""))
    typed = [text for word, text in _TYPED.items() if word in action_id]
    return typed[0] if typed else "Discussed <!here> pricing & next steps"


def hostile(point: EntryPoint, w: World) -> Body:
    """One request for ``point`` with every value it carries made hostile."""
    evil = "<!channel> \x00 \ud800 " + "🚀" * 10 + " 99999999999999999999"
    if point.kind == "command":
        return command_body(point.name, f"{point.sub} {evil}", "U" + "A" * 40 if point.sub == "help" else REP)
    if point.kind == "action":
        return action_body(concrete_action_id(point, w.harvest), {"type": "button"}, evil, REP, w.harvest)
    if point.kind == "view":
        views = w.harvest.views.get(point.name) or [None]
        view = views[0]
        values = {b: {a: submitted_state(e, evil)} for b, a, e in inputs_of(view or {})}
        return view_body(point.name, view, values, REP, '{"customer": 99999999999999999999, "deal": [1], "channel": 5}')
    if point.kind == "options":
        return options_body(concrete_action_id(point, w.harvest), evil, REP, None)
    if point.kind == "event":
        return event_body({"type": point.name, "user": "<!channel>", "channel": 5, "text": evil, "tab": ["home"]})
    if point.kind == "shortcut":
        return shortcut_body(point.name, w.shortcut_types[point.name], REP, {"ts": evil, "text": evil, "user": [1]})
    raise AssertionError(point)


# -- sending and checking ------------------------------------------------------------------------------------
@dataclass
class Sent:
    status: int
    text: str


def post(url: str, body: bytes, headers: dict[str, str]) -> Sent:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.request("POST", parts.path, body, headers)
        resp = conn.getresponse()
        return Sent(resp.status, resp.read().decode("utf-8", "replace"))
    finally:
        conn.close()


SIGNINGS = ["signed"] * 6 + ["no headers", "bad signature", "wrong secret", "stale", "timestamp abc", "tampered"]


def headers_for(signing: str, body: bytes, content_type: str) -> tuple[dict[str, str], bytes]:
    now = str(int(time.time()))
    headers = {"Content-Type": content_type}
    if signing == "signed":
        headers.update({"X-Slack-Request-Timestamp": now, "X-Slack-Signature": sign(SIGNING_SECRET, now, body)})
    elif signing == "bad signature":
        headers.update({"X-Slack-Request-Timestamp": now, "X-Slack-Signature": "v0=" + "0" * 64})
    elif signing == "wrong secret":
        headers.update({"X-Slack-Request-Timestamp": now, "X-Slack-Signature": sign("guess", now, body)})
    elif signing == "stale":
        old = str(int(time.time()) - 600)
        headers.update({"X-Slack-Request-Timestamp": old, "X-Slack-Signature": sign(SIGNING_SECRET, old, body)})
    elif signing == "timestamp abc":
        headers.update({"X-Slack-Request-Timestamp": "abc", "X-Slack-Signature": sign(SIGNING_SECRET, "abc", body)})
    elif signing == "tampered":
        headers.update({"X-Slack-Request-Timestamp": now, "X-Slack-Signature": sign(SIGNING_SECRET, now, body)})
        body = body.replace(b"C0SALES", b"C0OTHER") if b"C0SALES" in body else body + b"&x=1"
    return headers, body


def row_counts(w: World) -> dict[str, int]:
    with w.app_server.services.session_factory() as s:
        return {t.name: s.scalar(select(func.count()).select_from(t)) or 0 for t in Base.metadata.sorted_tables}


def fire(w: World, body: Body, signing: str = "signed") -> Sent:
    """Send one request, wait until the app has done everything it set off, and check it."""
    standin, app = w.standin, w.app_server
    for holder in (body.fields, body.payload):
        if holder is not None and holder.get("response_url") == "":
            holder["response_url"] = standin.response_url()
    raw, content_type = body.encoded()
    headers, raw = headers_for(signing, raw, content_type)
    calls_before = len(standin.calls)
    rows_before = row_counts(w) if signing != "signed" else None
    errors_before = len(w.errors)
    sent = post(app.events_url, raw, headers)
    w.sent += 1
    app.drain()
    where = f"{body.label!r} ({signing}, {len(raw)} bytes)"
    assert sent.status < 500, f"{where} answered {sent.status}: {sent.text[:300]}"
    new_errors = w.errors[errors_before:]
    assert not new_errors, f"{where} logged: " + "\n".join(_format(r) for r in new_errors[:3])
    new_calls = standin.calls[calls_before:]
    if signing != "signed":
        assert sent.status == 401, f"{where} was not refused: {sent.status}"
        assert not new_calls, f"{where} made Slack calls: {[c.method for c in new_calls]}"
        assert row_counts(w) == rows_before, f"{where} wrote to the database"
        return sent
    for call in new_calls:
        shown = json.dumps(call.params, ensure_ascii=False)
        assert "Something went wrong" not in shown, f"{where}: {call.method} {shown[:400]}"
    assert not standin.block_errors, f"{where} sent invalid Block Kit: {standin.block_errors}"
    if not w.frozen:  # hypothesis draws from the harvest: it must not change under it
        w.harvest.take(standin)
    if not w.frozen and body.payload is not None and body.payload.get("type") == "view_submission":
        w.harvest.take_answer(sent.text)
    check_consistent(w, where)
    return sent


def _format(record: logging.LogRecord) -> str:
    text = f"{record.levelname} {record.name}: {record.getMessage()}"
    if record.exc_info:
        text += "\n" + logging.Formatter().formatException(record.exc_info)
    return text


def check_clean(w: World, stage: str) -> None:
    assert not w.errors, f"{stage} logged: " + "\n".join(_format(r) for r in w.errors[:3])


def check_consistent(w: World, where: str) -> None:
    """No partial writes: every row has what must be written with it."""
    services = w.app_server.services
    created = (AuditAction.CREATE, AuditAction.IMPORT, AuditAction.SUBSCRIBE)
    with services.session_factory() as s:
        for model, (entity, _) in AUDITED.items():
            audited = select(AuditEntry.entity_id).where(
                AuditEntry.entity_type == entity, AuditEntry.action.in_(created)
            )
            orphans = s.scalars(select(model.id).where(model.id.not_in(audited))).all()
            assert not orphans, f"after {where}: {entity} rows without their creation audit entry: {orphans}"
            if hasattr(model, "customer_id"):
                foreign = s.scalars(
                    select(model.id)
                    .join(Customer, Customer.id == model.customer_id)
                    .where(Customer.workspace_id != model.workspace_id)
                ).all()
                assert not foreign, f"after {where}: {entity} rows in another workspace than their customer: {foreign}"
        last = (
            select(DealStageChange.deal_id, func.max(DealStageChange.id).label("last"))
            .group_by(DealStageChange.deal_id)
            .subquery()
        )
        for deal_id, stage, to_stage in s.execute(
            select(Deal.id, Deal.stage, DealStageChange.to_stage)
            .outerjoin(last, last.c.deal_id == Deal.id)
            .outerjoin(DealStageChange, DealStageChange.id == last.c.last)
        ):
            assert to_stage == stage, f"after {where}: deal {deal_id} is {stage!r}, its history ends at {to_stage!r}"
        stale = s.execute(
            select(Customer.id)
            .join(Workspace, Workspace.id == Customer.workspace_id)
            .where(Customer.index_version > Workspace.search_version)
        ).all()
        assert not stale, f"after {where}: customers stamped beyond their workspace's search version: {stale}"
        live = s.execute(
            select(Customer.workspace_id, Customer.id).where(
                Customer.deleted_at.is_(None), Customer.merged_into_id.is_(None)
            )
        ).all()
    for workspace_id, customer_id in live:
        assert customer_id in services.search.index(workspace_id, force_check=True), (
            f"after {where}: customer {customer_id} is not in the search index"
        )


# -- the property ----------------------------------------------------------------------------------------------
def _mutate(draw, node: Any) -> Any:
    """A copy of ``node`` with 0 to 3 values deleted, retyped or made hostile, anywhere in it."""
    node = copy.deepcopy(node)
    for _ in range(draw(st.integers(0, 3))):
        paths = list(_paths(node))
        if not paths:
            break
        parent, key = draw(st.sampled_from(paths))
        how = draw(st.sampled_from(["delete", "junk", "text", "id"]))
        if how == "delete" and isinstance(parent, dict):
            del parent[key]
        elif how == "junk":
            parent[key] = draw(junk_st)
        elif how == "text":
            parent[key] = draw(text_st)
        else:
            parent[key] = draw(st.sampled_from(NASTY_IDS))
    return node


def _paths(node: Any) -> Iterator[tuple[Any, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield node, key
            yield from _paths(value)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield node, i
            yield from _paths(value)


def _value(draw, w: World) -> str:
    return draw(
        st.one_of(
            st.sampled_from(w.ids),
            st.sampled_from(NASTY_IDS),
            text_st,
            st.builds(
                lambda a, b: f"{a}:{b}",
                st.sampled_from(w.ids + NASTY_IDS + ["edit", "remove"]),
                st.sampled_from(w.ids + NASTY_IDS),
            ),
        )
    )


def _user_id(draw) -> str:
    return draw(st.sampled_from(USERS * 4 + BAD_USERS))


def draw_body(draw, w: World, point: EntryPoint) -> Body:
    h = w.harvest
    user = _user_id(draw)
    if point.kind == "command":
        words = draw(
            st.lists(
                st.one_of(text_st, st.sampled_from(["acme", "corp", "into", "tomorrow", "@U0REP", "all"])), max_size=4
            )
        )
        text = " ".join([point.sub, *words]).strip()
        body = command_body(point.name, text, user, draw(st.sampled_from(CHANNELS)), draw(st.sampled_from(TEAMS)))
        if draw(st.booleans()):
            assert body.fields is not None
            body.fields = _mutate(draw, body.fields)
            body.fields = {k: v for k, v in body.fields.items() if isinstance(k, str)}
        return body
    if point.kind == "action":
        action_id = concrete_action_id(point, h)
        if isinstance(point.name, re.Pattern):
            action_id = draw(st.one_of(st.just(action_id), st.from_regex(point.name, fullmatch=True)))
        elements = h.elements.get(action_id) or [{"type": "button"}]
        element = draw(st.sampled_from(elements))
        value = draw(st.one_of(st.sampled_from(real_values(element) or [""]), st.just(_value(draw, w))))
        body = action_body(action_id, element, value, user, h)
    elif point.kind == "view":
        views = h.views.get(point.name) or [None]
        view = draw(st.sampled_from(views))
        values: dict[str, Any] = {}
        for block, action, element in inputs_of(view or {}):
            if draw(st.integers(0, 7)) == 0:
                continue  # left empty (or missing altogether)
            how = draw(st.sampled_from(["plausible"] * 4 + ["offered", "text", "id"]))
            if how == "plausible":
                choice: Any = _plausible(element, w)
            elif how == "offered":
                choice = draw(st.sampled_from(real_values(element) or [_plausible(element, w)]))
            elif how == "text":
                choice = draw(text_st)
            else:
                choice = _value(draw, w)
            values[block] = {action: submitted_state(element, choice)}
        real_meta = (view or {}).get("private_metadata") or ""
        how = draw(st.sampled_from(["real"] * 4 + ["text", "junk", "forged"]))
        if how == "real":
            meta = real_meta
        elif how == "text":
            meta = draw(text_st)
        elif how == "junk":
            meta = json.dumps(draw(junk_st))
        else:
            meta = _forged_meta(draw, real_meta, w)
        body = view_body(point.name, view, values, user, meta)
    elif point.kind == "options":
        action_id = concrete_action_id(point, h)
        if isinstance(point.name, re.Pattern):
            action_id = draw(st.one_of(st.just(action_id), st.from_regex(point.name, fullmatch=True)))
        body = options_body(
            action_id, draw(st.one_of(text_st, st.sampled_from(["a", "ac", "acme", "globex"]))), user, None
        )
    elif point.kind == "event":
        event = {
            "type": point.name,
            "user": user,
            "channel": draw(st.sampled_from(CHANNELS)),
            "ts": draw(st.sampled_from(["1.1", "1700000000.000100", "", "x"])),
            "thread_ts": draw(st.sampled_from(["1700000000.000100", "nope"])),
            "text": "<@U0BOT> "
            + draw(
                st.one_of(text_st, st.sampled_from(["who's talked to acme?", "who knows them?", "history with globex"]))
            ),
            "tab": draw(st.sampled_from(["home", "messages", "", "about"])),
        }
        body = event_body(event, draw(st.sampled_from(TEAMS)))
        assert body.event is not None
        if draw(st.booleans()):
            body.event = _mutate(draw, body.event)
        return body
    else:
        kind = w.shortcut_types[point.name]
        message = {"type": "message", "ts": "1700000000.000400", "user": REP2, "text": draw(text_st)}
        body = shortcut_body(point.name, kind, user, message)
    assert body.payload is not None
    if draw(st.booleans()):
        body.payload = _mutate(draw, body.payload)
        if not isinstance(body.payload, dict):
            body.payload = {"payload": body.payload}
    return body


def _forged_meta(draw, real: str, w: World) -> str:
    try:
        meta = json.loads(real) if real else {}
    except ValueError:
        meta = {}
    if not isinstance(meta, dict) or not meta:
        meta = {"customer": 1, "deal": 1, "channel": "C0SALES", "id": 1}
    for key in list(meta):
        if draw(st.booleans()):
            meta[key] = draw(st.one_of(junk_st, st.sampled_from(NASTY_IDS), st.sampled_from(w.ids).map(int)))
    return json.dumps(meta)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_every_entry_point_survives_hostile_requests(world, data):
    assert world.driven == {p.label for p in world.points}  # the sweep drove every entry point
    point = data.draw(st.sampled_from(world.points), label="entry point")
    body = draw_body(data.draw, world, point)
    signing = data.draw(st.sampled_from(SIGNINGS), label="signing")
    fire(world, body, signing)
