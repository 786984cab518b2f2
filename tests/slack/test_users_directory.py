"""users.info on the request path: a slow Slack costs a request at most a short wait, cached people
are served stale while they refresh, and at most one refresh per user is in flight."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from slack_sdk import WebClient

from bot.app import LISTENER_THREADS
from bot.dev.driver import SlackDriver
from bot.services import OTHER_DB_THREADS, WORK_THREADS
from commands.users import REFRESH_THREADS, UserDirectory
from crm import customers as svc
from tests.conftest import BOT_TOKEN, REP, REP2, SIGNING_SECRET, TEAM_ID


def _client(standin) -> WebClient:
    return WebClient(token=BOT_TOKEN, base_url=standin.base_url, timeout=10)


def _timed(fn):
    started = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - started


def test_a_new_user_waits_briefly_then_gets_the_default_and_the_cache_fills(services, standin):
    people = UserDirectory(services, wait=0.5)
    ws = services.workspace_id(TEAM_ID)
    standin.set_latency("users.info", 2.0)
    person, took = _timed(lambda: people.get(_client(standin), ws, REP))
    assert person.tz == "UTC" and not person.can_admin  # the default, for now
    assert 0.4 < took < 1.0
    # Slack is known to be slow now: the next new user does not wait at all.
    other, took = _timed(lambda: people.get(_client(standin), ws, REP2))
    assert other.tz == "UTC" and took < 0.2
    people.drain()
    standin.set_latency("users.info", 0)
    assert people.get(_client(standin), ws, REP).tz == "America/New_York"
    assert people.get(_client(standin), ws, REP2).tz == "Europe/Berlin"
    assert len(standin.calls_to("users.info")) == 2
    # Stored too: another replica (a fresh directory) reads it without asking Slack.
    assert UserDirectory(services).get(_client(standin), ws, REP).tz == "America/New_York"
    assert len(standin.calls_to("users.info")) == 2


def test_a_stale_person_is_served_at_once_and_refreshed_once(services, standin):
    people = UserDirectory(services, wait=0.5)
    ws = services.workspace_id(TEAM_ID)
    start = services.now()
    assert people.get(_client(standin), ws, REP).tz == "America/New_York"
    services.clock = lambda: start + timedelta(hours=13)  # past FRESH_FOR
    standin.add_user(REP, name="rita", real_name="Rita Rep", tz="Asia/Tokyo")  # she moved
    standin.set_latency("users.info", 1.5)

    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(lambda _: _timed(lambda: people.get(_client(standin), ws, REP)), range(10)))
    assert {person.tz for person, _ in results} == {"America/New_York"}  # the stale answer
    assert max(took for _, took in results) < 0.3
    people.drain()
    assert len(standin.calls_to("users.info")) == 2  # the first fetch and one refresh
    assert people.get(_client(standin), ws, REP).tz == "Asia/Tokyo"


def test_slack_refusing_gives_the_default_or_keeps_the_cached_person(services, standin):
    people = UserDirectory(services, wait=0.5)
    ws = services.workspace_id(TEAM_ID)
    standin.fail_next("users.info", error="user_not_found")
    assert people.get(_client(standin), ws, REP).tz == "UTC"
    assert people.get(_client(standin), ws, REP).tz == "America/New_York"
    start = services.now()
    services.clock = lambda: start + timedelta(hours=13)
    standin.fail_next("users.info", status=500)
    assert people.get(_client(standin), ws, REP).tz == "America/New_York"
    people.drain()
    assert people.get(_client(standin), ws, REP).tz == "America/New_York"


def test_a_slow_users_info_does_not_stall_acks(app_server, standin):
    """More people than listener threads look a customer up while users.info takes 4 s (over
    Slack's deadline); they and a colleague's /crm help probes are all acknowledged in time."""
    services = app_server.services
    services.people.wait = 1.0
    ws = services.workspace_id(TEAM_ID)
    svc.create_customer(services.session_factory, services.search, ws, actor=REP, name="Acme Corporation")
    users = [f"U0LOOK{i:03d}" for i in range(LISTENER_THREADS + 16)]
    for user in users:
        standin.add_user(user, name=user.lower(), real_name=user, tz="Europe/Paris")
    standin.set_latency("users.info", 4.0)
    slack = SlackDriver(
        app_server.events_url, SIGNING_SECRET, team_id=TEAM_ID, response_url_factory=standin.response_url
    )
    with ThreadPoolExecutor(max_workers=len(users) + 10) as pool:
        lookups = [pool.submit(slack.command, "/customer", "acme", user=u) for u in users]
        probes = [pool.submit(slack.command, "/crm", "help", user=REP2) for _ in range(10)]
        responses = [f.result() for f in lookups + probes]
    assert [r.status for r in responses] == [200] * len(responses)
    slowest = max(r.elapsed for r in responses)
    assert slowest < 3.0, f"slowest ack {slowest:.2f}s"
    cards = standin.wait_for("response_url", count=len(responses), timeout=30)
    assert sum("Acme Corporation" in c.params.get("text", "") for c in cards) == len(users)
    # The refreshes carry on in the background and fill the cache.
    standin.set_latency("users.info", 0)
    services.people.drain()
    assert (
        services.people.get(WebClient(token=BOT_TOKEN, base_url=standin.base_url), ws, users[-1]).tz == "Europe/Paris"
    )


def test_the_pool_is_sized_for_every_thread_that_uses_the_database():
    assert OTHER_DB_THREADS >= LISTENER_THREADS + WORK_THREADS + REFRESH_THREADS
