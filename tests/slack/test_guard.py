"""The guard in front of Bolt: hostile requests over the real HTTP server are refused before
anything acts on them (no Slack call, no response_url post, no row, one short log line)."""

from __future__ import annotations

import functools
import http.client
import json
import logging
import re
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from urllib.parse import quote, urlencode, urlsplit

import pytest
from slack_bolt import BoltRequest
from sqlalchemy import func, select

from bot.app import create_app
from bot.dev.driver import sign
from bot.guard import (
    Refusal,
    _QuietLog,
    came_from_slack,
    check_ids,
    check_signature,
    parse_body,
    signature_matches,
)
from crm.models import Base
from tests.conftest import REP, SIGNING_SECRET, TEAM_ID

FORM = "application/x-www-form-urlencoded"
JSON_TYPE = "application/json"
LOG_LINE = r"refused a request to /slack/events: \d{3} [a-zA-Z0-9 .'-]+"


# -- sending exactly the bytes and headers a case names ------------------------------------
@dataclass
class Req:
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    chunked: bool = False


def send(url: str, req: Req) -> int:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        if req.chunked:
            step = 64 * 1024
            chunks: Iterator[bytes] = (req.body[i : i + step] for i in range(0, len(req.body), step))
            conn.request(
                "POST", parts.path, chunks, {**req.headers, "Transfer-Encoding": "chunked"}, encode_chunked=True
            )
        else:
            conn.request("POST", parts.path, req.body, req.headers)
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


class Maker:
    """Builds request bodies and headers; ``bait`` is a response_url on the stand-in that any post
    would show up at (so "nothing was posted" is observable)."""

    def __init__(self, bait: str) -> None:
        self.bait = bait

    def command(self, **changes: str | None) -> bytes:
        fields: dict[str, str | None] = {
            "command": "/crm",
            "text": "help",
            "team_id": TEAM_ID,
            "user_id": REP,
            "channel_id": "C0SALES",
            "response_url": self.bait,
            "trigger_id": "1.2.trigger",
        }
        fields.update(changes)
        return urlencode({k: v for k, v in fields.items() if v is not None}).encode()

    def click(self, **changes) -> bytes:
        payload = {
            "type": "block_actions",
            "team": {"id": TEAM_ID},
            "user": {"id": REP, "team_id": TEAM_ID},
            "channel": {"id": "C0SALES"},
            "response_url": self.bait,
            "actions": [{"action_id": "crm_nope", "block_id": "b", "type": "button", "value": "1"}],
        }
        payload.update(changes)
        return urlencode({"payload": json.dumps(payload)}).encode()

    @staticmethod
    def signed(body: bytes, content_type: str | None = FORM, *, ts: int | None = None, **kw) -> Req:
        stamp = str(int(time.time()) if ts is None else ts)
        headers = {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": sign(SIGNING_SECRET, stamp, body)}
        if content_type is not None:
            headers["Content-Type"] = content_type
        return Req(body, headers, **kw)

    @staticmethod
    def unsigned(body: bytes, ts: str | None, sig: str | None, content_type: str = FORM) -> Req:
        headers = {"Content-Type": content_type}
        if ts is not None:
            headers["X-Slack-Request-Timestamp"] = ts
        if sig is not None:
            headers["X-Slack-Signature"] = sig
        return Req(body, headers)


def _now() -> str:
    return str(int(time.time()))


BINARY = bytes(range(256)) * 8
DEEP = b"[" * 30_000
BIG = 1_100_000
HUGE = 13 * 1024 * 1024

Case = Callable[[Maker], Req]
CASES: list[tuple[str, int, Case]] = [
    # -- signature headers: 401 before the body is even parsed ------------------------------
    ("timestamp abc", 401, lambda m: m.unsigned(m.command(), "abc", "v0=x")),
    ("timestamp empty", 401, lambda m: m.unsigned(m.command(), "", "v0=x")),
    ("timestamp 1e9", 401, lambda m: m.unsigned(m.command(), "1e9", "v0=x")),
    ("timestamp 1.5", 401, lambda m: m.unsigned(m.command(), "1.5", "v0=x")),
    ("timestamp with a sign", 401, lambda m: m.unsigned(m.command(), "+" + _now(), "v0=x")),
    (
        "timestamp abc, signed over abc",
        401,
        lambda m: m.unsigned(m.command(), "abc", sign(SIGNING_SECRET, "abc", m.command())),
    ),
    ("no timestamp", 401, lambda m: m.unsigned(m.command(), None, "v0=" + "0" * 64)),
    ("no signature", 401, lambda m: m.unsigned(m.command(), _now(), None)),
    ("no headers at all", 401, lambda m: m.unsigned(m.command(), None, None)),
    ("signature v0=x", 401, lambda m: m.unsigned(m.command(), _now(), "v0=x")),
    ("signature all zeros", 401, lambda m: m.unsigned(m.command(), _now(), "v0=" + "0" * 64)),
    ("signature v1", 401, lambda m: m.unsigned(m.command(), _now(), "v1=" + "0" * 64)),
    (
        "signature upper-case hex",
        401,
        lambda m: m.unsigned(m.command(), _now(), sign(SIGNING_SECRET, _now(), m.command()).upper()),
    ),
    ("wrong secret", 401, lambda m: m.unsigned(m.command(), _now(), sign("guess", _now(), m.command()))),
    (
        "tampered body",
        401,
        lambda m: m.unsigned(m.command(text="merge"), _now(), sign(SIGNING_SECRET, _now(), m.command())),
    ),
    ("stale timestamp", 401, lambda m: m.signed(m.command(), ts=int(time.time()) - 301)),
    # A minute past the window, so a slow machine cannot carry it back inside before the check;
    # the exact edges (300 s in, 301 s out, both ways) are test_the_replay_window_edges.
    ("future timestamp", 401, lambda m: m.signed(m.command(), ts=int(time.time()) + 360)),
    # -- unsigned garbage is refused as unsigned, never parsed -----------------------------
    ("unsigned payload={nope", 401, lambda m: m.unsigned(b"payload=%7Bnope", "abc", "v0=x")),
    ("unsigned payload=[1]", 401, lambda m: m.unsigned(b"payload=%5B1%5D", _now(), "v0=x")),
    ("unsigned non-JSON json", 401, lambda m: m.unsigned(b"{nope", _now(), "v0=x", JSON_TYPE)),
    ("unsigned binary", 401, lambda m: m.unsigned(BINARY, _now(), "v0=x", "application/octet-stream")),
    ("unsigned 30,000 [", 401, lambda m: m.unsigned(DEEP, _now(), "v0=x", JSON_TYPE)),
    # -- signed, but not a body Slack would send: 400 ---------------------------------------
    ("payload={nope", 400, lambda m: m.signed(b"payload=%7Bnope")),
    ("payload=[1]", 400, lambda m: m.signed(b"payload=%5B1%5D")),
    ('payload="text"', 400, lambda m: m.signed(b"payload=%22text%22")),
    ("payload of 30,000 [", 400, lambda m: m.signed(b"payload=" + quote(DEEP).encode())),
    ("non-JSON json", 400, lambda m: m.signed(b"{nope", JSON_TYPE)),
    ("json array", 400, lambda m: m.signed(b"[1, 2]", JSON_TYPE)),
    ("json null", 400, lambda m: m.signed(b"null", JSON_TYPE)),
    ("json 30,000 [", 400, lambda m: m.signed(DEEP, JSON_TYPE)),
    ("binary as form", 400, lambda m: m.signed(BINARY)),
    ("binary as json", 400, lambda m: m.signed(BINARY, JSON_TYPE)),
    ("form that is JSON", 400, lambda m: m.signed(b'{"team_id": "T0TEST"}')),
    ("empty body", 400, lambda m: m.signed(b"")),
    # -- signed, with a content type Slack never uses: 415 ----------------------------------
    ("text/plain", 415, lambda m: m.signed(m.command(), "text/plain")),
    ("multipart", 415, lambda m: m.signed(m.command(), "multipart/form-data; boundary=x")),
    ("no content type", 415, lambda m: m.signed(m.command(), None)),
    ("octet-stream", 415, lambda m: m.signed(m.command(), "application/octet-stream")),
    ("xml", 415, lambda m: m.signed(b"<crm/>", "application/xml")),
    # -- too big: 413, signed or not, counted or chunked ------------------------------------
    ("1.1 MB signed", 413, lambda m: m.signed(m.command(text="x" * BIG))),
    ("1.1 MB unsigned", 413, lambda m: m.unsigned(m.command(text="x" * BIG), "abc", "v0=x")),
    ("1.1 MB chunked", 413, lambda m: m.signed(m.command(text="x" * BIG), chunked=True)),
    ("13 MB", 413, lambda m: m.signed(b"text=" + b"x" * HUGE)),
    ("13 MB chunked", 413, lambda m: m.signed(b"text=" + b"x" * HUGE, chunked=True)),
    # -- signed, but naming no workspace or ids Slack never issues: 400 ---------------------
    ("command without team id", 400, lambda m: m.signed(m.command(team_id=None))),
    ("command with empty team id", 400, lambda m: m.signed(m.command(team_id=""))),
    ("click without any team", 400, lambda m: m.signed(m.click(team=None, user={"id": REP}))),
    (
        "event without team or org",
        400,
        lambda m: m.signed(
            json.dumps({"type": "event_callback", "event": {"type": "app_mention", "user": REP}}).encode(), JSON_TYPE
        ),
    ),
    ("team id lower-case", 400, lambda m: m.signed(m.command(team_id="t0test"))),
    ("team id with SQL", 400, lambda m: m.signed(m.command(team_id="T0TEST' OR '1'='1"))),
    ("team id as a number", 400, lambda m: m.signed(m.click(team={"id": 5}))),
    ("enterprise id malformed", 400, lambda m: m.signed(m.command(enterprise_id="E<!channel>"))),
    ("user id over 32 characters", 400, lambda m: m.signed(m.command(user_id="U" + "A" * 40))),
    ("user id <!channel>", 400, lambda m: m.signed(m.command(user_id="<!channel>"))),
    ("user id a list", 400, lambda m: m.signed(m.click(user={"id": ["U0REP"], "team_id": TEAM_ID}))),
    ("command without user", 400, lambda m: m.signed(m.command(user_id=None))),
]


# -- fixtures and checks --------------------------------------------------------------------
def _row_counts(services) -> dict[str, int]:
    with services.session_factory() as s:
        return {t.name: s.scalar(select(func.count()).select_from(t)) for t in Base.metadata.sorted_tables}


def _canary(app_server, standin) -> str:
    """A genuine /crm help: answered through its own response_url. Returns that url's id."""
    url = standin.response_url("C0SALES", user=REP)
    req = Maker(url).signed(Maker(url).command())
    before = len(standin.calls_to("response_url"))
    assert send(app_server.events_url, req) == 200
    standin.wait_for("response_url", count=before + 1)
    return url.rsplit("/", 1)[1]


@pytest.mark.parametrize("name,status,build", CASES, ids=[c[0] for c in CASES])
def test_hostile_request_is_refused_before_anything_acts(name, status, build, app_server, standin, caplog):
    _canary(app_server, standin)  # the workspace exists; a real request is answered
    seen = len(standin.calls)
    rows = _row_counts(app_server.services)
    bait = standin.response_url("C0SALES", user="U0VICTIM")
    caplog.set_level(logging.INFO)
    caplog.clear()

    assert send(app_server.events_url, build(Maker(bait))) == status

    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) <= 1, lines
    assert all(len(line) <= 100 and re.fullmatch(LOG_LINE, line) for line in lines), lines
    assert _row_counts(app_server.services) == rows
    # The next genuine request is served, and its answer is all Slack saw since the first one.
    second = _canary(app_server, standin)
    assert [(c.method, c.params.get("id")) for c in standin.calls[seen:]] == [("response_url", second)]


def test_the_curl_from_the_issue_is_refused_and_posts_nowhere(app_server, standin):
    bait = standin.response_url("C1", user="U1")
    # Exactly the issue's command, with the server's port; then the same body naming a URL the
    # stand-in would record a post to.
    for response_url in ("http://127.0.0.1:9/x", bait):
        out = subprocess.run(
            [
                "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                "-X", "POST", app_server.events_url,
                "-H", "X-Slack-Request-Timestamp: abc",
                "-H", "X-Slack-Signature: v0=x",
                "--data", f"command=/crm&text=help&team_id=T1&user_id=U1&channel_id=C1&response_url={response_url}",
            ],
            capture_output=True, text=True, timeout=30, check=True,
        )  # fmt: skip
        assert out.stdout == "401"
    _canary(app_server, standin)
    assert [c.method for c in standin.calls if c.method != "auth.test"] == ["response_url"]


def test_a_flood_of_refusals_logs_a_bounded_number_of_lines(app_server, standin, caplog):
    caplog.set_level(logging.INFO)
    req = Maker(standin.response_url()).unsigned(b"payload=%7Bnope" + b"A" * 9000, "abc", "v0=x")
    statuses = [send(app_server.events_url, req) for _ in range(60)]
    assert statuses == [401] * 60
    # Only our own lines: waitress may add "Task queue depth" when the requests queue up.
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("bot.")]
    assert 1 <= len(lines) <= 20
    assert sum(len(line) for line in lines) < 2000
    assert not any("AAAA" in line or "nope" in line for line in lines)


def test_the_quiet_log_counts_what_it_drops(caplog):
    caplog.set_level(logging.INFO)
    quiet = _QuietLog(burst=3, window=10)
    for i in range(10):
        quiet.refused(401, "signature does not match", now=100 + i * 0.1)
    quiet.refused(401, "signature does not match", now=111)
    assert [r.getMessage() for r in caplog.records] == [
        "refused a request to /slack/events: 401 signature does not match",
    ] * 3 + [
        "refused 7 more requests in the last 10 s",
        "refused a request to /slack/events: 401 signature does not match",
    ]


# -- a word containing "payload" in a slash command (Bolt alone reads it as an empty request) --
def test_a_command_mentioning_payload_is_still_a_command(slack, standin):
    resp = slack.command("/crm", "frobnicate the payload format")
    assert resp.status == 200
    [call] = standin.wait_for("response_url")
    assert "I don't know" in json.dumps(call.params["blocks"])


# -- defence in depth: what reaches Bolt without the guard is still not answered ------------
def test_the_error_handler_never_answers_an_unverified_request(services, standin, caplog):
    """Bolt alone (no guard): slack_sdk raises on the timestamp; nothing is posted anywhere."""
    app = create_app(services)
    bait = standin.response_url("C0SALES", user="U0VICTIM")
    body = Maker(bait).command().decode()
    caplog.set_level(logging.INFO)
    for stamp in ("abc", "", "1e9", "1.5"):
        request = BoltRequest(
            body=body,
            headers={"content-type": FORM, "x-slack-request-timestamp": stamp, "x-slack-signature": "v0=x"},
        )
        response = app.dispatch(request)  # the error handler runs inside dispatch
        assert response.status == 401
    assert standin.calls == []
    assert not any("response_url" in r.getMessage() or "Traceback" in r.getMessage() for r in caplog.records)
    app.listener_runner.listener_executor.shutdown(wait=True)


def test_bolt_logs_no_body_for_a_bad_signature(services, caplog):
    caplog.set_level(logging.DEBUG)  # before the App copies the root level onto Bolt's loggers
    app = create_app(services)
    body = "command=/crm&text=SECRET-LOOKING-TEXT&team_id=T0TEST&user_id=U0REP"
    request = BoltRequest(
        body=body,
        headers={"content-type": FORM, "x-slack-request-timestamp": _now(), "x-slack-signature": "v0=" + "0" * 64},
    )
    assert app.dispatch(request).status == 401
    messages = [r.getMessage() for r in caplog.records]
    assert messages and not any("SECRET-LOOKING-TEXT" in m for m in messages)
    app.listener_runner.listener_executor.shutdown(wait=True)


def test_socket_mode_requests_count_as_verified_and_unsigned_http_ones_do_not():
    body = {"command": "/crm", "team_id": "T0TEST", "user_id": "U0REP"}
    assert came_from_slack(BoltRequest(body=body, mode="socket_mode"), SIGNING_SECRET)
    form = "command=%2Fcrm&team_id=T0TEST&user_id=U0REP"
    stamp = _now()
    signed = {"x-slack-request-timestamp": stamp, "x-slack-signature": sign(SIGNING_SECRET, stamp, form.encode())}
    assert came_from_slack(BoltRequest(body=form, headers=signed), SIGNING_SECRET)
    assert not came_from_slack(BoltRequest(body=form + "&x=1", headers=signed), SIGNING_SECRET)
    assert not came_from_slack(BoltRequest(body=form, headers=signed), None)
    assert not came_from_slack(BoltRequest(body=form, headers={"x-slack-request-timestamp": "abc"}), SIGNING_SECRET)


def test_bolt_keeps_the_secret_where_the_guard_reads_it(services):
    app = create_app(services)
    assert app._signing_secret == SIGNING_SECRET
    app.listener_runner.listener_executor.shutdown(wait=True)


# -- the checks as plain functions ----------------------------------------------------------
@pytest.mark.parametrize(
    "content_type,body,expected",
    [
        (FORM, b"command=%2Fcrm&team_id=T1X", {"command": "/crm", "team_id": "T1X"}),
        (FORM + "; charset=utf-8", b"text=the+payload+format", {"text": "the payload format"}),
        (FORM, b"payload=%7B%22type%22%3A%22shortcut%22%7D", {"type": "shortcut"}),
        (JSON_TYPE, b'{"type": "url_verification"}', {"type": "url_verification"}),
        ("Application/JSON; charset=utf-8", b'{"a": 1}', {"a": 1}),
    ],
)
def test_parse_body_reads_what_slack_sends(content_type, body, expected):
    assert parse_body(content_type, body) == expected


@pytest.mark.parametrize(
    "payload",
    [
        {"type": "url_verification", "challenge": "x"},
        {"ssl_check": "1", "token": "x"},
        {"command": "/crm", "team_id": "T0TEST", "user_id": "USLACKBOT"},
        {"command": "/crm", "team_id": "T0TEST", "enterprise_id": "E0ORG", "user_id": "W0GRIDUSER"},
        {
            "type": "block_actions",
            "team": None,
            "user": {"id": "U0REP", "team_id": "T0TEST"},
            "enterprise": {"id": "E0ORG"},
        },
        {"type": "event_callback", "enterprise_id": "E0ORG", "event": {"type": "app_uninstalled"}},
        {"type": "event_callback", "team_id": "T0TEST", "event": {"type": "user_change", "user": {"id": "U0REP"}}},
    ],
)
def test_check_ids_lets_slacks_own_shapes_through(payload):
    check_ids(payload)


def test_check_ids_refuses_an_org_level_command_without_a_workspace():
    with pytest.raises(Refusal) as refused:
        check_ids({"command": "/crm", "enterprise_id": "E0ORG", "user_id": "U0REP"})
    assert refused.value.status == 400


@pytest.mark.parametrize(("offset", "fresh"), [(-301, False), (-300, True), (0, True), (300, True), (301, False)])
def test_the_replay_window_edges(offset, fresh):
    now = 1_700_000_000
    body = b"command=%2Fcrm&text=help"
    timestamp = str(now + offset)
    check = functools.partial(check_signature, SIGNING_SECRET, timestamp, body=body, now=float(now))
    if fresh:
        check(signature=sign(SIGNING_SECRET, timestamp, body))
        with pytest.raises(Refusal, match="signature does not match"):
            check(signature="v0=" + "0" * 64)
    else:
        with pytest.raises(Refusal, match="outside the 5-minute window") as refused:
            check(signature=sign(SIGNING_SECRET, timestamp, body))
        assert refused.value.status == 401


def test_signature_matches_slacks_documented_example():
    # From Slack's "Verifying requests from Slack" page.
    secret = "8f742231b10e8888abcd99yyyzzz85a5"
    body = (
        b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
        b"&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
        b"&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
        b"&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
    )
    expected = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
    assert signature_matches(secret, "1531420618", body, expected)
    assert not signature_matches(secret, "1531420619", body, expected)
