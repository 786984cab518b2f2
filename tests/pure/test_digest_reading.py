"""Digest wording and charts without a database: rounded money, the one currency order, the
per-stage stale rule, overdue phrases, and charts for one, three or twelve currencies or none."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from matplotlib.image import imread

from bot.config import ConfigError, load_settings
from commands.digests.views import overdue_phrase
from crm.charts import ALT_MAX, StageBar, activity_chart, pipeline_chart, plain_label, weekly_chart
from crm.money import format_money_short, in_currency_order
from crm.stale import DEFAULT_BY_STAGE, StaleRule, parse_by_stage

NOW = datetime(2026, 3, 3, 8, 0, tzinfo=UTC)
OPEN = ("lead", "qualified", "proposal", "negotiation")


@pytest.mark.parametrize(
    ("minor", "currency", "shown"),
    [
        (666_100_000, "USD", "$6.7M"),
        (12_000_000, "EUR", "€120k"),
        (95_000, "GBP", "£950"),
        (99_996_000, "USD", "$1M"),  # not "$1000k"
        (123_456_789_012, "USD", "$1.2B"),
        (3_400_000_000, "JPY", "¥3.4B"),  # no minor unit
        (120_000_000, "CHF", "CHF 1.2M"),
        (0, "USD", "$0"),
        (None, "USD", "no amount"),
    ],
)
def test_amounts_rounded_for_reading(minor, currency, shown):
    assert format_money_short(minor, currency) == shown


def test_one_currency_order_whatever_the_amounts():
    assert [c for c, _ in in_currency_order({"GBP": 9, "SEK": 1, "USD": 1, "EUR": 100, "AED": 5})] == [
        "USD",
        "EUR",
        "GBP",
        "AED",
        "SEK",
    ]


def test_stale_limits_per_stage_and_their_settings():
    rule = StaleRule(14)
    assert (rule.days("lead"), rule.days("negotiation"), rule.days("custom")) == (30, 10, 14)
    assert parse_by_stage("proposal:7, lead:45", OPEN) == {**DEFAULT_BY_STAGE, "proposal": 7, "lead": 45}
    assert parse_by_stage("none", OPEN) == {}
    for bad, message in (("proposal", "stage key and a number"), ("won:3", "not an open stage"), ("lead:0", "1 and")):
        with pytest.raises(ValueError, match=message):
            parse_by_stage(bad, OPEN)
    with pytest.raises(ConfigError, match="CRM_STALE_DAYS_BY_STAGE"):
        load_settings({"CRM_STALE_DAYS_BY_STAGE": "banana:3"})


@pytest.mark.parametrize(
    ("ago", "phrase"),
    [
        (timedelta(days=5, hours=2), "oldest 5 days overdue"),
        (timedelta(days=1), "oldest 1 day overdue"),
        (timedelta(hours=3), "oldest due 3 hours ago"),
        (timedelta(minutes=5), "oldest due within the hour"),
    ],
)
def test_overdue_never_says_0d(ago, phrase):
    assert overdue_phrase(NOW, NOW - ago) == phrase


def opaque_png(png: bytes) -> bool:
    pixels = imread(io.BytesIO(png), format="png")
    return pixels.shape[2] == 3 or bool((pixels[:, :, 3] == 1.0).all())


def test_charts_are_opaque_pngs_with_a_text_alternative():
    bars = [StageBar("🌱 Lead", 3, {"USD": 500_000, "EUR": 90_000}), StageBar("Proposal", 1, {"USD": 7_000_000})]
    chart = pipeline_chart(bars)
    assert chart.png is not None and chart.png.startswith(b"\x89PNG") and opaque_png(chart.png)
    assert "USD: Lead $5k, Proposal $70k." in chart.alt_text and "EUR: Lead €900, Proposal €0." in chart.alt_text
    points = [NOW - timedelta(weeks=7 - i) for i in range(8)]
    weekly = weekly_chart(points, {"USD": [i * 100_000 for i in range(8)]}, [1] * 8, tz_date=lambda d: f"{d:%d %b}")
    assert weekly.png and opaque_png(weekly.png) and "from $0 to $7k" in weekly.alt_text
    reps = [(f"Rep {i}", {"call": i + 1, "email": 2}) for i in range(40)]
    activity = activity_chart(reps, type_label=lambda k: "📞 " + k.capitalize())
    assert activity.png and opaque_png(activity.png) and "(the 15 most active drawn)" in activity.comment


def test_twelve_currencies_draw_three_and_name_the_rest():
    codes = ["USD", "EUR", "GBP", "JPY", "CHF", "CAD", "AUD", "INR", "SEK", "NOK", "DKK", "PLN"]
    bars = [StageBar("Lead", 12, {c: (i + 1) * 10_000_00 for i, c in enumerate(codes)})]
    chart = pipeline_chart(bars)
    assert chart.png is not None
    assert "Not drawn:" in chart.comment and chart.comment.count(",") >= 8
    assert "(NOK, DKK, PLN)" in chart.comment or "PLN" not in chart.comment.split("Not drawn:")[1]
    assert len(chart.alt_text) <= ALT_MAX


def test_no_data_is_a_sentence_not_an_image():
    assert pipeline_chart([]).png is None
    assert "no open deals yet" in pipeline_chart([StageBar("Lead", 0, {})]).comment
    assert "have no amounts yet" in pipeline_chart([StageBar("Lead", 4, {})]).comment
    points = [NOW - timedelta(weeks=7 - i) for i in range(8)]
    assert weekly_chart(points, {}, [0] * 8, tz_date=str).png is None
    empty = activity_chart([("Rita", {})], type_label=str)
    assert empty.png is None and "nobody has logged an activity yet" in empty.comment


def test_chart_labels_drop_emoji_the_font_cannot_draw():
    assert plain_label("📞 Call") == "Call" and plain_label("🤝 Negotiation") == "Negotiation"
    assert plain_label("Zoë Müller") == "Zoë Müller" and plain_label("🎉") == "🎉"


@pytest.mark.parametrize(
    ("overdue", "said"), [(0, "0 overdue follow-ups."), (1, "1 overdue follow-up."), (7, "7 overdue follow-ups.")]
)
def test_the_digest_notification_counts_overdue_follow_ups_in_words(overdue, said):
    from datetime import date

    from commands.digests.views import digest_text
    from crm.digest import Digest, Movement

    none = Movement(0, {}, [])
    now = datetime(2026, 12, 1, 17, tzinfo=UTC)
    d = Digest(
        workspace_id=1, built_at=now, since=now - timedelta(days=1), tz="UTC", local_date=date(2026, 12, 1),
        stale_days=14, pipeline=[], open_count=1, open_totals={"USD": 100_000}, previous=None, created=none,
        moved=none, won=none, lost=none, yesterday=[], yesterday_total=0, overdue=[], overdue_total=overdue,
        stale=none, pareto=[],
    )  # fmt: skip
    assert digest_text(d).endswith(f"1 open deal worth $1k; 0 won, 0 lost, {said}")


def test_the_digest_summary_says_which_currency_its_top_customers_line_is_in():
    """Three currencies open: "41 of 101 hold 80% of the $5.7M open" alone reads as all of it."""
    from datetime import date

    from commands.digests.views import digest_blocks
    from crm.digest import Digest, Movement, Pareto, ParetoCustomer
    from crm.pipeline_stages import DEFAULT

    none = Movement(0, {}, [])
    now = datetime(2026, 12, 1, 17, tzinfo=UTC)

    def digest(*currencies: str) -> Digest:
        return Digest(
            workspace_id=1, built_at=now, since=now - timedelta(days=1), tz="UTC", local_date=date(2026, 12, 1),
            stale_days=14, pipeline=[], open_count=3, open_totals={c: 570_000_000 for c in currencies},
            previous=None, created=none, moved=none, won=none, lost=none, yesterday=[], yesterday_total=0,
            overdue=[], overdue_total=0, stale=none,
            pareto=[Pareto(c, 570_000_000, 101, 41, [ParetoCustomer(1, "Acme", 10**8)], 456_000_000)
                    for c in currencies],
        )  # fmt: skip

    def summary(d: Digest) -> str:
        return " ".join(b["text"]["text"] for b in digest_blocks(d, stages=DEFAULT, type_label=str) if "text" in b)

    assert "41 of 101 hold 80% of the $5.7M open in USD (EUR, GBP in the thread)" in summary(
        digest("GBP", "USD", "EUR")
    )
    alone = summary(digest("USD"))
    assert "hold 80% of the $5.7M open" in alone and "in the thread)" not in alone
