"""The digest's value parts (issue 16, items 4 and 5): untouched key accounts, only when there are
some, and the forecast and conversion part in the first digest of each week; with no deals, one
currency or twelve, and charts with nothing to draw, the digest still says something clear."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy import update

from bot.dev.blockkit_check import validate_message
from commands.digests import views
from crm import digest_schedule as subs
from crm.digest import ForecastInputs, build_digest, first_of_week
from crm.digest_schedule import DAILY, Schedule
from crm.forecast import parse_stage_probabilities
from crm.lifecycle import lifecycle_for
from crm.models import Customer
from crm.pipeline_stages import DEFAULT
from crm.value import recompute_tiers
from reminders.digests import make_digest_sender, send_due_digests
from reminders.scheduler import nudge_client
from tests.conftest import REP, REP2

BERLIN = "Europe/Berlin"
MONDAY = datetime(2026, 3, 9, 8, 0, tzinfo=UTC)  # Monday 9 March 2026, 09:00 in Berlin
TUESDAY = MONDAY + timedelta(days=1)
INPUTS = ForecastInputs(lifecycle_for(None), parse_stage_probabilities(None, DEFAULT))
TWELVE = ("USD", "EUR", "GBP", "JPY", "CHF", "CAD", "AUD", "INR", "SEK", "NOK", "DKK", "PLN")


def snap(at: datetime) -> dict:
    return {"at": at.isoformat(), "stages": {}}


def build(services, ws, now, previous=None, **kw):
    return build_digest(
        services.session_factory, ws, now=now, tz=BERLIN, stages=DEFAULT, previous=previous, forecast_with=INPUTS, **kw
    )


def render(d) -> tuple[list[str], str, list[dict]]:
    """The summary's lines, the thread's text, and both messages checked against Slack's limits."""
    top = views.digest_blocks(d, stages=DEFAULT, type_label=str.capitalize, name_of=lambda u: f"Name of {u}")
    detail = views.detail_blocks(d, stages=DEFAULT, type_label=str.capitalize, name_of=lambda u: f"Name of {u}")
    for blocks in (top, detail):
        validate_message({"text": "digest", "blocks": blocks})
    lines = [line for b in top if b["type"] == "section" for line in b["text"]["text"].split("\n")]
    return lines, str(detail), detail


@pytest.mark.parametrize(
    ("previous", "now", "expected"),
    [
        (None, TUESDAY, True),  # the first digest ever
        (MONDAY, TUESDAY, False),  # Monday's came this week
        (MONDAY - timedelta(days=3), MONDAY, True),  # last Friday's: Monday opens the week
        (MONDAY - timedelta(days=4), TUESDAY, True),  # a Monday skipped: Tuesday's is the first
        # Sunday 23:30 in Berlin is still last week there, though it is the same UTC day as nothing else
        (datetime(2026, 3, 8, 22, 30, tzinfo=UTC), MONDAY, True),
        (datetime(2026, 3, 8, 23, 30, tzinfo=UTC), MONDAY, False),  # 00:30 Monday in Berlin
    ],
)
def test_first_digest_of_the_week(previous, now, expected):
    assert first_of_week(snap(previous) if previous else None, now, BERLIN) is expected


def test_untouched_key_accounts_show_only_when_there_are_some(services, ws, make):
    big, busy, small = (make.customer(n, owner_user_id=REP) for n in ("Big Quiet GmbH", "Busy AG", "Small Ltd"))
    make.deal(big, stage="won", amount="90k", at=MONDAY - timedelta(days=100))
    make.deal(busy, stage="won", amount="80k", owner=REP2, at=MONDAY - timedelta(days=100))
    make.deal(small, stage="won", amount="1k", at=MONDAY - timedelta(days=100))
    make.activity(big, at=MONDAY - timedelta(days=45))
    make.activity(busy, at=MONDAY - timedelta(days=2))
    # Before the daily recompute nobody is A: no section at all.
    lines, detail, _ = render(build(services, ws, TUESDAY, snap(MONDAY)))
    assert not any("Key accounts" in line for line in lines) and "Key accounts" not in detail
    recompute_tiers(services.session_factory, ws, now=MONDAY)
    d = build(services, ws, TUESDAY, snap(MONDAY), key_account_days=30)
    assert d.key_accounts is not None and [a.name for a in d.key_accounts.rows] == ["Big Quiet GmbH"]
    lines, detail, _ = render(d)
    [line] = [x for x in lines if "Key accounts" in x]
    assert line.startswith("💎 *Key accounts gone quiet:* 1 A-tier with no activity for 30 days")
    assert "Big Quiet GmbH (Name of U0REP" in line and "quiet 46 days" in line
    assert "Big Quiet GmbH" in detail and "$90,000.00" in detail and "Busy AG" not in detail
    with services.session_factory.begin() as s:  # its owner left and nobody took it over
        s.execute(update(Customer).where(Customer.id == big.id).values(owner_user_id=None))
    lines, detail, _ = render(build(services, ws, TUESDAY, snap(MONDAY)))
    assert "Big Quiet GmbH (no owner, quiet 46 days)" in "\n".join(lines) and "nobody" not in detail
    # A shorter window (CRM_KEY_ACCOUNT_DAYS=1) takes the recently touched one in too.
    d = build(services, ws, TUESDAY, snap(MONDAY), key_account_days=1)
    assert d.key_accounts is not None and d.key_accounts.total == 2


def test_the_forecast_comes_in_the_first_digest_of_the_week_only(services, ws, make):
    acme = make.customer("Acme")
    make.deal(acme, stage="proposal", amount="10k", at=MONDAY - timedelta(days=20), expected_close=TUESDAY.date())
    make.deal(acme, stage="won", amount="4k", at=MONDAY - timedelta(days=30))
    d = build(services, ws, MONDAY, snap(MONDAY - timedelta(days=3)))
    assert d.forecast is not None
    lines, detail, _ = render(d)
    [line] = [x for x in lines if "forecast" in x]
    assert line == "📈 *This week's forecast:* $5k weighted · win rate 100%"  # 50% of 10k; 1 won, 0 lost
    assert "📈 *Forecast:* $5,000.00 weighted of $10,000.00 open, by expected close month" in detail
    assert "• *Mar* (1 deal): $5,000.00" in detail
    assert "Win rate (90 days): 100% · 1 won, 0 lost" in detail and "Lead → customer in Mar" in detail
    # Tuesday, after Monday's digest: not again. Without the settings (forecast_with=None), never.
    assert build(services, ws, TUESDAY, snap(MONDAY)).forecast is None
    plain = build_digest(services.session_factory, ws, now=MONDAY, tz=BERLIN, stages=DEFAULT, previous=None)
    assert plain.forecast is None
    assert not any("forecast" in x for x in render(build(services, ws, TUESDAY, snap(MONDAY)))[0])


def test_a_forecast_with_no_deals_says_so(services, ws):
    d = build(services, ws, MONDAY, None)
    lines, detail, _ = render(d)
    assert "📈 *This week's forecast:* no open deals to forecast · nothing closed in 90 days" in lines
    assert "no open deals to forecast" in detail and "no deals won or lost in the last 90 days" in detail
    assert "Key accounts" not in detail and "nan" not in detail.lower() and "None" not in detail


@pytest.mark.parametrize("currencies", [("EUR",), TWELVE], ids=["one currency", "twelve currencies"])
def test_one_currency_or_twelve_read_well(services, ws, make, currencies):
    acme = make.customer("Acme")
    for i, cur in enumerate(currencies):
        make.deal(acme, f"Deal {cur}", stage="negotiation", amount=str(1000 * (i + 1)), currency=cur,
                  at=MONDAY - timedelta(days=5))  # fmt: skip
    lines, detail, _ = render(build(services, ws, MONDAY, None))
    [line] = [x for x in lines if "forecast" in x]
    if len(currencies) == 1:
        assert line.startswith("📈 *This week's forecast:* €750 weighted")  # 75% of €1,000
        assert "$" not in line and "more currenc" not in line
    else:
        # The top line names the first three in the fixed order; the thread has all twelve, exact.
        assert line.startswith("📈 *This week's forecast:* $750 + €1.5k + £2.3k + 9 more currencies weighted")
        assert "¥4,000" in detail and "SEK 9,000.00" in detail and "PLN 12,000.00" in detail
    assert all(len(x) <= 300 for x in lines), lines


def test_an_empty_workspace_gets_a_digest_thread_with_sentences_for_the_charts(services, standin, ws):
    """No deals, no activity: the thread says why there is no picture and no file is uploaded."""
    subs.subscribe(services.session_factory, ws, channel_id="C0SALES", user=REP,
                   schedule=Schedule(time(9, 0), DAILY), timezone=BERLIN, now=MONDAY - timedelta(days=1))  # fmt: skip
    sender = make_digest_sender(services, nudge_client(services), rate=0)
    report = send_due_digests(services.session_factory, sender, MONDAY, replica="r1")
    assert (report.posted, report.failed) == (1, 0)
    posts = [c for c in standin.calls_to("chat.postMessage") if c.ok]
    [top] = [c for c in posts if not c.params.get("thread_ts")]
    [detail] = [c for c in posts if c.params.get("thread_ts")]
    top_text, detail_text = str(top.params["blocks"]), str(detail.params["blocks"])
    assert "no open deals to forecast" in top_text  # the first digest of the week
    assert "no open deals to forecast" in detail_text
    assert "nobody has logged an activity yet" in detail_text  # the chart's sentence, not an image
    assert not [c for c in standin.calls_to("files.completeUploadExternal") if c.ok]
    assert standin.uploaded() == []


def test_charts_with_and_without_data_in_one_digest_thread(services, standin, ws, make):
    """Deals but no activity this week: the two pipeline charts are uploaded, the activity chart is
    a sentence in the thread reply, never an empty image."""
    acme = make.customer("Acme")
    make.deal(acme, stage="proposal", amount="10k", at=MONDAY - timedelta(days=20))
    subs.subscribe(services.session_factory, ws, channel_id="C0SALES", user=REP,
                   schedule=Schedule(time(9, 0), DAILY), timezone=BERLIN, now=MONDAY - timedelta(days=1))  # fmt: skip
    sender = make_digest_sender(services, nudge_client(services), rate=0)
    assert send_due_digests(services.session_factory, sender, MONDAY, replica="r1").posted == 1
    [detail] = [c for c in standin.calls_to("chat.postMessage") if c.ok and c.params.get("thread_ts")]
    assert "nobody has logged an activity yet" in str(detail.params["blocks"])
    assert sorted(f["name"] for f in standin.uploaded()) == ["pipeline-by-stage.png", "pipeline-weekly.png"]
    assert all(f["content"].startswith(b"\x89PNG") and f["alt_txt"] for f in standin.uploaded())
