"""The charts in the playground: `/crm pipeline team charts` uploads PNGs to the rep's DM, and
the page shows them as images served from what the stand-in received."""

from __future__ import annotations

import urllib.request

from bot.dev.playground import REP, dm_id
from crm.deals import DealInput, create_deal
from crm.pipeline_stages import DEFAULT
from tests.slack.test_playground_api import SALES, acme, page, playground  # noqa: F401  (fixtures)


def test_pipeline_charts_show_as_images_in_the_dm(page, playground, acme):  # noqa: F811
    services = playground.services
    ws = services.workspace_id("T0PLAYGROUND")
    for stage, amount in (("lead", "12000"), ("proposal", "80000")):
        create_deal(
            services.session_factory,
            ws,
            acme.id,
            DealInput(title=f"{stage} deal", amount=amount, stage=stage),
            actor=REP,
            stages=DEFAULT,
            now=services.now(),
        )
    page.post("/api/command", channel=SALES, text="/crm pipeline team charts")
    dm = dm_id(REP)
    [shared] = page.wait_for(lambda s: [m for m in s["messages"] if m.get("files")], channel=dm, timeout=20)
    files = shared["files"]
    assert {f["name"] for f in files} >= {"pipeline-by-stage.png", "pipeline-weekly.png"}
    for f in files:
        assert f["mimetype"] == "image/png" and f["alt_txt"]
        with urllib.request.urlopen(f"{playground.url}/api/file/{f['id']}", timeout=30) as response:
            assert response.headers["Content-Type"] == "image/png"
            assert response.read().startswith(b"\x89PNG")
    with urllib.request.urlopen(f"{playground.url}/static/app.js", timeout=30) as response:
        assert b"/api/file/" in response.read()  # the page renders them as <img>


def test_a_digest_after_moving_time_has_its_thread_and_charts_and_is_not_late(page, playground, acme):  # noqa: F811
    from crm.digest_schedule import get_subscription, next_slot, schedule_of

    services = playground.services
    ws = services.workspace_id("T0PLAYGROUND")
    create_deal(
        services.session_factory,
        ws,
        acme.id,
        DealInput(title="Robots", amount="250000", stage="proposal"),
        actor=REP,
        stages=DEFAULT,
        now=services.now(),
    )
    page.post("/api/command", channel=SALES, text="/crm digest subscribe 9:00 daily")
    page.wait_for(lambda s: [m for m in s["messages"] if "pipeline digest at" in str(m.get("text"))])
    sub = get_subscription(services.session_factory, ws, SALES)
    assert sub is not None
    now = services.now()
    slot = next_slot(schedule_of(sub), sub.timezone, now)
    page.post("/api/time", seconds=(slot - now).total_seconds() + 3 * 3600)  # the clock jumps past 9:00
    summary = page.wait_for(
        lambda s: [m for m in s["messages"] if "Pipeline digest" in str(m.get("blocks")) and m.get("reply_count")],
        timeout=30,
    )[0]
    assert "Late" not in str(summary["blocks"])  # the app ran all along: only the clock jumped
    thread = page.wait_for(
        lambda s: [m for m in s["messages"] if m.get("thread_ts") == summary["ts"] and m.get("files")], timeout=30
    )
    assert {f["name"] for f in thread[0]["files"]} >= {"pipeline-by-stage.png"}
