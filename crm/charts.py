"""Charts of the pipeline as PNG bytes, drawn server-side with matplotlib (Agg, no display).

Three charts, each a pure function of data the ``crm`` services return:

- :func:`pipeline_chart`: open value by stage, one panel per currency (never added together);
- :func:`weekly_chart`: the open pipeline over the last 8 weeks, one panel per currency;
- :func:`activity_chart`: activities per rep this week, stacked by type.

Every chart comes with a text alternative (``alt_text``, for screen readers and the upload's
``alt_txt``) and a one-line ``comment``. No data gives no image but a sentence (``png`` is None).
The images have their own opaque white background with dark text and an Okabe-Ito palette
(safe for colour blindness), so they read the same in Slack's light and dark themes.
Figures are made with ``matplotlib.figure.Figure`` and its Agg canvas directly, never pyplot,
so drawing keeps no global state and is safe on the work pool's threads.
"""

from __future__ import annotations

import io
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.layout_engine import ConstrainedLayoutEngine
from matplotlib.ticker import FuncFormatter, MaxNLocator

from crm.money import currency_key, format_money_short

BACKGROUND = "#ffffff"
INK = "#1d1c1d"  # Slack's text colour
GRID = "#dddddd"
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#999999")
MAX_PANELS = 3  # currencies drawn side by side; the rest are named in the text
MAX_REPS = 15
MAX_TYPES = 5
ALT_MAX = 1000  # Slack's limit for a file's alt text
DPI = 100


@dataclass(frozen=True)
class Chart:
    name: str  # file name, e.g. "pipeline-by-stage.png"
    title: str
    alt_text: str
    comment: str  # one line posted with the image (or instead of it)
    png: bytes | None  # None: nothing to draw (``comment`` says so)


@dataclass(frozen=True)
class StageBar:
    label: str
    count: int
    totals: dict[str, int]


def _figure(width: float, height: float) -> Figure:
    # Constrained layout, with room between the panels' axis labels.
    layout = ConstrainedLayoutEngine(wspace=0.06, w_pad=0.08)
    fig = Figure(figsize=(width, height), dpi=DPI, facecolor=BACKGROUND, layout=layout)
    FigureCanvasAgg(fig)
    return fig


def _style(ax, title: str | None = None) -> None:
    ax.set_facecolor(BACKGROUND)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_color("#888888")
    ax.tick_params(colors=INK, labelsize=10)
    if title:
        ax.set_title(title, color=INK, fontsize=12, loc="left", fontweight="bold")


def _png(fig: Figure) -> bytes:
    out = io.BytesIO()
    fig.savefig(out, format="png", facecolor=BACKGROUND)
    return out.getvalue()


def _money_axis(currency: str) -> FuncFormatter:
    return FuncFormatter(lambda value, _pos: format_money_short(int(value), currency))


def _cut(text: str) -> str:
    return text if len(text) <= ALT_MAX else text[: ALT_MAX - 1] + "…"


def _panels(currencies: list[str], weight: Callable[[str], int]) -> tuple[list[str], list[str]]:
    """The currencies to draw (the ``MAX_PANELS`` that weigh most, shown in the fixed order) and the rest."""
    chosen = sorted(currencies, key=lambda c: (-weight(c), currency_key(c)))[:MAX_PANELS]
    drawn = sorted(chosen, key=currency_key)
    return drawn, [c for c in sorted(currencies, key=currency_key) if c not in chosen]


def _more(rest: list[str]) -> str:
    return f" Not drawn: {', '.join(rest)} (see `/crm pipeline`)." if rest else ""


# -- pipeline by stage ------------------------------------------------------------------------
def pipeline_chart(bars: list[StageBar], *, title: str = "Open pipeline by stage") -> Chart:
    currencies = sorted({c for b in bars for c, v in b.totals.items() if v}, key=currency_key)
    name = "pipeline-by-stage.png"
    if not currencies:
        deals = sum(b.count for b in bars)
        comment = (
            f"No chart of the pipeline by stage: the {deals:,} open deals have no amounts yet."
            if deals
            else "No chart of the pipeline by stage: there are no open deals yet."
        )
        return Chart(name, title, comment, comment, None)
    drawn, rest = _panels(currencies, lambda c: sum(b.totals.get(c, 0) for b in bars))
    labels = [plain_label(b.label) for b in bars]
    fig = _figure(3.4 * len(drawn) + 1.4, 0.42 * len(bars) + 1.5)
    axes = fig.subplots(1, len(drawn), sharey=True, squeeze=False)[0]
    fig.suptitle(title, color=INK, fontsize=14, fontweight="bold", x=0.01, ha="left")
    alt = [f"{title}, bars per stage for each currency."]
    for i, (ax, currency) in enumerate(zip(axes, drawn, strict=True)):
        values = [b.totals.get(currency, 0) for b in bars]
        ax.barh(range(len(bars)), values, color=PALETTE[i % len(PALETTE)], height=0.6)
        _style(ax, currency)
        if i == 0:  # the panels share the y axis: label it and turn it (top stage first) once
            ticks = [f"{_short(label)} ({b.count:,})" for label, b in zip(labels, bars, strict=True)]
            ax.set_yticks(range(len(bars)), ticks)
            ax.invert_yaxis()
        ax.xaxis.set_major_formatter(_money_axis(currency))
        ax.xaxis.set_major_locator(MaxNLocator(4))
        ax.grid(axis="x", color=GRID, linewidth=0.8)
        ax.set_axisbelow(True)
        peak = max(values) or 1
        ax.set_xlim(0, peak * 1.3)
        for y, value in enumerate(values):
            if value:
                ax.text(value + peak * 0.02, y, format_money_short(value, currency), va="center", color=INK, fontsize=9)
        alt.append(
            f"{currency}: "
            + ", ".join(
                f"{label} {format_money_short(b.totals.get(currency, 0), currency)}"
                for label, b in zip(labels, bars, strict=True)
            )
            + "."
        )
    comment = f"📊 {title} ({', '.join(drawn)}).{_more(rest)}"
    return Chart(name, title, _cut(" ".join(alt) + _more(rest)), comment, _png(fig))


# -- the open pipeline week by week -----------------------------------------------------------
def weekly_chart(
    points: list[datetime], totals: dict[str, list[int]], counts: list[int], *, tz_date: Callable[[datetime], str]
) -> Chart:
    title = f"Open pipeline, last {len(points)} weeks"
    name = "pipeline-weekly.png"
    if not any(counts) or not totals:
        comment = (
            f"No chart of the open pipeline over the last {len(points)} weeks: there were no open deals with an amount."
        )
        return Chart(name, title, comment, comment, None)
    drawn, rest = _panels(list(totals), lambda c: max(totals[c]))
    labels = [tz_date(p) for p in points]
    fig = _figure(3.6 * len(drawn) + 0.8, 3.2)
    axes = fig.subplots(1, len(drawn), squeeze=False)[0]
    fig.suptitle(title, color=INK, fontsize=14, fontweight="bold", x=0.01, ha="left")
    alt = [f"{title}, one line per currency, a point per week from {labels[0]} to {labels[-1]}."]
    xs = list(range(len(points)))
    for i, (ax, currency) in enumerate(zip(axes, drawn, strict=True)):
        values = totals[currency]
        colour = PALETTE[i % len(PALETTE)]
        ax.plot(xs, values, color=colour, linewidth=2.2, marker="o", markersize=4)
        ax.fill_between(xs, values, color=colour, alpha=0.15)
        _style(ax, currency)
        ax.set_xticks(xs[::2] if len(xs) > 4 else xs, labels[::2] if len(xs) > 4 else labels)
        ax.yaxis.set_major_formatter(_money_axis(currency))
        ax.yaxis.set_major_locator(MaxNLocator(4))
        ax.set_ylim(0, (max(values) or 1) * 1.15)
        ax.grid(axis="y", color=GRID, linewidth=0.8)
        ax.set_axisbelow(True)
        alt.append(
            f"{currency}: from {format_money_short(values[0], currency)} to {format_money_short(values[-1], currency)}"
            f" (highest {format_money_short(max(values), currency)})."
        )
    comment = f"📈 {title} ({', '.join(drawn)}), from each deal's created and closed dates.{_more(rest)}"
    return Chart(name, title, _cut(" ".join(alt) + _more(rest)), comment, _png(fig))


# -- activities per rep -------------------------------------------------------------------------
def activity_chart(
    reps: list[tuple[str, dict[str, int]]], *, type_label: Callable[[str], str], title: str = "Activities this week"
) -> Chart:
    """``reps``: (display name, type key → count), most active first."""
    name = "activities-per-rep.png"
    reps = [(who, counts) for who, counts in reps if sum(counts.values())]
    if not reps:
        comment = f"No chart of {title.lower()}: nobody has logged an activity yet."
        return Chart(name, title, comment, comment, None)
    shown = reps[:MAX_REPS]
    others = reps[MAX_REPS:]
    type_totals: dict[str, int] = {}
    for _, counts in reps:
        for key, n in counts.items():
            type_totals[key] = type_totals.get(key, 0) + n
    types = [k for k, _ in sorted(type_totals.items(), key=lambda kv: (-kv[1], kv[0]))]
    main, minor = types[:MAX_TYPES], types[MAX_TYPES:]
    rows = list(shown)
    fig = _figure(7.6, 0.36 * len(rows) + 2.0)
    ax = fig.subplots()
    _style(ax)
    fig.suptitle(title, color=INK, fontsize=14, fontweight="bold", x=0.01, ha="left")
    left = [0] * len(rows)
    series = [(plain_label(type_label(k)), [c.get(k, 0) for _, c in rows]) for k in main]
    if minor:
        series.append(("Other", [sum(c.get(k, 0) for k in minor) for _, c in rows]))
    for i, (label, values) in enumerate(series):
        ax.barh(range(len(rows)), values, left=left, color=PALETTE[i % len(PALETTE)], height=0.65, label=label)
        left = [a + b for a, b in zip(left, values, strict=True)]
    for y, total in enumerate(left):
        ax.text(total + max(left) * 0.01, y, f"{total:,}", va="center", color=INK, fontsize=9)
    ax.set_yticks(range(len(rows)), [_short(who) for who, _ in rows])
    ax.invert_yaxis()
    ax.set_xlim(0, max(left) * 1.12)
    ax.xaxis.set_major_locator(MaxNLocator(5, integer=True))
    ax.grid(axis="x", color=GRID, linewidth=0.8)
    ax.set_axisbelow(True)
    legend = ax.legend(
        loc="lower left",
        bbox_to_anchor=(0, 1.0),
        ncol=len(series),
        frameon=False,
        fontsize=9,
        labelcolor=INK,
        handlelength=1.2,
        columnspacing=1.0,
    )
    legend.set_in_layout(True)
    if others:
        rest = sum(sum(c.values()) for _, c in others)
        ax.set_xlabel(f"…and {len(others):,} other reps with {rest:,} activities", color=INK, fontsize=9, loc="left")
    total = sum(sum(c.values()) for _, c in reps)
    alt = f"{title}: {total:,} by {len(reps):,} reps. " + "; ".join(
        f"{who} {sum(c.values()):,}" for who, c in reps[:40]
    )
    comment = f"👥 {title}: {total:,} by {len(reps):,} reps" + (
        f" (the {MAX_REPS} most active drawn)" if others else ""
    )
    return Chart(name, title, _cut(alt + "."), comment + ".", _png(fig))


def _short(name: str, limit: int = 22) -> str:
    name = plain_label(name)
    return name if len(name) <= limit else name[: limit - 1] + "…"


def plain_label(text: str) -> str:
    """``text`` without emoji (the chart font has none: they would draw as empty boxes)."""
    kept = "".join(ch for ch in text if unicodedata.category(ch) not in ("So", "Sk", "Cs", "Co", "Cn"))
    return " ".join(kept.replace("\ufe0f", "").replace("\u200d", "").split()) or text.strip()
