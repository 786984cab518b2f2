"""`/crm pipeline` and `/crm digest subscribe|list|unsubscribe|preview`.

Subscribing checks, before saving, that the digest can really be posted in the channel: not
a DM, not archived, not shared with another organisation (Slack Connect), and with the bot
in it (it joins a public channel itself). The posting is done by ``reminders/digests.py``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from slack_bolt import App
from slack_sdk.errors import SlackApiError

from commands import request
from commands.blockkit import context
from commands.digests import charts, views
from commands.digests.forecast_view import forecast_blocks
from commands.request import Request
from commands.router import DEALS, CommandRouter
from crm import digest_schedule as subs
from crm.deals import format_totals, pipeline_summary
from crm.digest import ForecastInputs, build_digest
from crm.forecast import forecast
from crm.workspace_settings import weighted_totals

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)

DIGEST_USAGE = (
    "Use `/crm digest subscribe [time] [weekdays|daily]` in the team channel (default 9:00 on weekdays, your "
    "time zone), `/crm digest list`, `/crm digest unsubscribe` or `/crm digest preview`."
)
PIPELINE_USAGE = (
    "Use `/crm pipeline` for your deals or `/crm pipeline team` for everyone's; add `charts` for pictures in "
    "your DM with me (`/crm pipeline team charts`)."
)


def full_name(req: Request, user_id: str) -> str:
    """A rep as digests and charts name them: the full name, never a handle or a ping."""
    return req.services.people.get(req.client, req.workspace_id, user_id).full_name


# -- /crm pipeline -----------------------------------------------------------------------
CHART_WORDS = ("charts", "chart", "pictures", "graphs")


def pipeline(req: Request) -> None:
    words = req.args.strip().lower().split()
    charts = any(w in CHART_WORDS for w in words)
    arg = " ".join(w for w in words if w not in CHART_WORDS)
    if arg in ("", "mine", "me", "my"):
        owner, title = req.user_id, "Your pipeline"
    elif arg in ("team", "all", "everyone"):
        owner, title = None, "Team pipeline"
    else:
        req.reply(PIPELINE_USAGE)
        return
    stages = req.config.stages
    summary = pipeline_summary(req.sf, req.workspace_id, owner=owner, stages=stages, now=req.now)
    note = _send_charts(req, summary.open, owner=owner, title=title) if charts else None
    blocks = views.pipeline_blocks(
        summary, stages=stages, title=title, charts_note=note, charts_view="team" if owner is None else "mine"
    )
    if owner is not None:  # one rep's: the weighted total (the team view has the whole forecast)
        weighted = weighted_totals(summary.open, req.config.probabilities)
        if weighted:
            blocks.insert(2, context(f"*Weighted by stage probability:* {format_totals(weighted, empty='—')}"))
    else:  # the team view adds the forecast and conversion (issue 16, item 5)
        found = forecast(req.sf, req.workspace_id, stages=stages, lifecycle=req.config.lifecycle,
                         probabilities=req.config.probabilities, now=req.now, tz=req.tz)  # fmt: skip
        blocks += forecast_blocks(found, stage_label=req.config.stage_label)
    req.reply(views.pipeline_text(summary, title), blocks=blocks)


def on_charts_button(req: Request) -> None:
    """The "Charts" button under a `/crm pipeline` reply: the same charts, to the asker's DM."""
    owner, title = (None, "Team pipeline") if req.value == "team" else (req.user_id, "Your pipeline")
    summary = pipeline_summary(req.sf, req.workspace_id, owner=owner, stages=req.config.stages, now=req.now)
    req.reply(_send_charts(req, summary.open, owner=owner, title=title))


def _send_charts(req: Request, rows, *, owner: str | None, title: str) -> str:
    """The charts to the asker's DM with the bot: an ephemeral answer can't carry files, and the
    DM is as private (only the asker sees it) and never a Slack Connect channel. Returns what to say."""
    drawn = charts.pipeline_charts(
        req.sf,
        req.workspace_id,
        rows=rows,
        stages=req.config.stages,
        now=req.now,
        tz=req.tz,
        type_label=req.config.type_label,
        name_of=lambda user: full_name(req, user),
        owner=owner,
        title=f"{title}: open by stage",
    )
    if not any(c.png for c in drawn):
        return " ".join(c.comment for c in drawn)
    try:
        dm = req.client.conversations_open(users=req.user_id)["channel"]["id"]
        charts.upload_charts(req.client, dm, drawn)
    except SlackApiError as exc:
        log.warning("pipeline charts for %s: %s", req.user_id, exc.response.get("error"))
        return "I couldn't send the charts just now (Slack said no); please try again."
    missing = [c.comment for c in drawn if c.png is None]
    return "📊 The charts are in your DM with me, where only you see them." + (
        " " + " ".join(missing) if missing else ""
    )


# -- /crm digest ---------------------------------------------------------------------------
def digest(req: Request) -> None:
    verb, _, rest = req.args.strip().partition(" ")
    verb = verb.lower()
    handler = VERBS.get(verb)
    if handler is None:
        req.reply((f"I don't know `/crm digest {views.esc(verb, 30)}`. " if verb else "") + DIGEST_USAGE)
        return
    handler(req, rest)


def _postable_problem(req: Request) -> str | None:
    """Why the digest could not be posted in this channel, or None when it can."""
    channel = req.channel_id
    if not channel or channel.startswith("D"):
        return "Digests go to a channel, not a direct message. Run this in the team channel."
    try:
        info = req.client.conversations_info(channel=channel)["channel"]
    except SlackApiError as exc:
        if exc.response.get("error") == "channel_not_found":
            return (
                "I can't see this channel: it is private and I'm not in it. Invite me with `/invite @crm`, "
                "then subscribe again."
            )
        log.warning("conversations.info for %s failed: %s", channel, exc.response.get("error"))
        return "Slack didn't tell me about this channel just now. Nothing was changed; please try again."
    if info.get("is_im") or info.get("is_mpim"):
        return "Digests go to a channel, not a direct message. Run this in the team channel."
    if info.get("is_archived"):
        return "This channel is archived, so nobody would read the digest here. Pick a live channel."
    if info.get("is_ext_shared") or info.get("is_pending_ext_shared"):
        return (
            ":lock: This channel is shared with another organisation (Slack Connect), so I won't post CRM data "
            "in it. Subscribe an internal channel instead."
        )
    if not info.get("is_member"):
        if info.get("is_private"):
            return "I'm not in this private channel. Invite me with `/invite @crm`, then subscribe again."
        try:
            req.client.conversations_join(channel=channel)
        except SlackApiError as exc:
            log.info("could not join %s: %s", channel, exc.response.get("error"))
            return "I couldn't join this channel. Invite me with `/invite @crm`, then subscribe again."
    return None


def subscribe(req: Request, rest: str) -> None:
    schedule = subs.parse_schedule(rest)  # InvalidInput becomes the reply
    problem = _postable_problem(req)
    if problem:
        req.reply(problem)
        return
    assert req.channel_id is not None  # _postable_problem refuses a request without a channel
    result = subs.subscribe(
        req.sf,
        req.workspace_id,
        channel_id=req.channel_id,
        user=req.user_id,
        schedule=schedule,
        timezone=req.tz,
        now=req.now,
    )
    req.reply(views.subscribed_text(req.channel_id, schedule, req.tz, result.first_at, created=result.created))


def list_subscriptions(req: Request, rest: str) -> None:
    rows = subs.list_subscriptions(req.sf, req.workspace_id)
    req.reply(f"Digest subscriptions: {len(rows)}", blocks=views.subscriptions_blocks(rows, tz=req.tz))


def unsubscribe(req: Request, rest: str) -> None:
    channel = req.channel_id or ""
    subs.unsubscribe(req.sf, req.workspace_id, channel_id=channel, user=req.user_id, now=req.now)  # NotFound: reply
    req.reply(f":wave: <#{channel}> won't get the pipeline digest any more.")


def preview(req: Request, rest: str) -> None:
    sub = subs.get_subscription(req.sf, req.workspace_id, req.channel_id or "")
    stages = req.config.stages
    built = build_digest(
        req.sf,
        req.workspace_id,
        now=req.now,
        tz=sub.timezone if sub else req.tz,
        stages=stages,
        previous=sub.last_snapshot if sub else None,
        stale_days=req.config.stale_days,
        stale=req.config.stale,
        key_account_days=req.config.key_account_days,
        forecast_with=ForecastInputs(req.config.lifecycle, req.config.probabilities),
    )
    blocks = views.digest_blocks(
        built,
        stages=stages,
        type_label=req.config.type_label,
        preview=True,
        name_of=lambda user: full_name(req, user),
        threaded=False,
    )
    req.reply(views.digest_text(built), blocks=blocks)


VERBS = {
    "subscribe": subscribe,
    "sub": subscribe,
    "list": list_subscriptions,
    "ls": list_subscriptions,
    "unsubscribe": unsubscribe,
    "unsub": unsubscribe,
    "stop": unsubscribe,
    "preview": preview,
    "show": preview,
}


def register(app: App, services: Services, router: CommandRouter) -> None:
    router.add(
        "pipeline",
        pipeline,
        summary="Open deals by stage with totals per currency: yours, or `team` for everyone's; `charts` "
        "sends pictures to your DM.",
        example="/crm pipeline team charts",
        topic=DEALS,
    )
    router.add(
        "digest",
        digest,
        summary="Daily pipeline digest in this channel: `subscribe [time] [weekdays|daily]`, `list`, "
        "`unsubscribe`, `preview`.",
        example="/crm digest subscribe 9:00 weekdays",
        topic=DEALS,
    )
    request.action(app, views.CHARTS_ACTION, on_charts_button)
