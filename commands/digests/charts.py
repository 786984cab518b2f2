"""The charts for a digest's thread and for `/crm pipeline`, and how they get to Slack.

The data comes from ``crm`` (the digest, ``crm.pipeline_history``), the drawing from
``crm.charts``; this module only names reps (display names, never mentions) and uploads
with ``files_upload_v2`` (``files:write``): one upload with every image, each with its
``alt_txt``, and the images' one-line descriptions as the message text. A chart with no data is
never uploaded: its sentence goes into the text instead.

Never into a Slack Connect channel: :func:`upload_charts` uploads only into a DM or a channel
``conversations.info`` says is not shared with another organisation.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from slack_sdk import WebClient
from sqlalchemy.orm import Session, sessionmaker

from crm.charts import Chart, StageBar, activity_chart, pipeline_chart, weekly_chart
from crm.deals import StageTotal
from crm.digest import Digest
from crm.pipeline_history import activities_this_week, weekly_open
from crm.pipeline_stages import PipelineStages

Label = Callable[[str], str]


class SharedChannel(Exception):
    """The channel is shared with another organisation (Slack Connect): no CRM charts there."""


def stage_bars(rows: list[StageTotal], stages: PipelineStages) -> list[StageBar]:
    return [StageBar(stages.describe(r.stage).label, r.count, r.totals) for r in rows]


def _day(tz: str) -> Callable[[datetime], str]:
    zone = ZoneInfo(tz)
    return lambda moment: f"{moment.astimezone(zone).day} {moment.astimezone(zone):%b}"


def pipeline_charts(
    sf: sessionmaker[Session],
    workspace_id: int,
    *,
    rows: list[StageTotal],
    stages: PipelineStages,
    now: datetime,
    tz: str,
    type_label: Label,
    name_of: Label,
    owner: str | None = None,
    title: str = "Open pipeline by stage",
) -> list[Chart]:
    """The three charts: by stage (``rows``), the last 8 weeks, and this week's activity per rep."""
    weekly = weekly_open(sf, workspace_id, now=now, owner=owner)
    week = activities_this_week(sf, workspace_id, now=now, tz=tz)
    reps = [(name_of(r.user_id), r.by_type) for r in week.reps if owner is None or r.user_id == owner]
    return [
        pipeline_chart(stage_bars(rows, stages), title=title),
        weekly_chart(weekly.points, weekly.totals, weekly.counts, tz_date=_day(tz)),
        activity_chart(
            reps, type_label=type_label, title="Your activities this week" if owner else "Activities this week"
        ),
    ]


def digest_charts(
    sf: sessionmaker[Session], digest: Digest, *, stages: PipelineStages, type_label: Label, name_of: Label
) -> list[Chart]:
    return pipeline_charts(
        sf,
        digest.workspace_id,
        rows=digest.pipeline,
        stages=stages,
        now=digest.built_at,
        tz=digest.tz,
        type_label=type_label,
        name_of=name_of,
    )


def check_not_shared(client: WebClient, channel: str) -> None:
    """Raise :class:`SharedChannel` for a Slack Connect channel (DMs with the bot never are)."""
    if channel.startswith("D"):
        return
    info = client.conversations_info(channel=channel)["channel"]
    if info.get("is_ext_shared") or info.get("is_pending_ext_shared"):
        raise SharedChannel(channel)


def upload_charts(client: WebClient, channel: str, charts: list[Chart], *, thread_ts: str | None = None) -> list[str]:
    """Upload the charts that have an image into ``channel`` (a thread when ``thread_ts``), in one
    message; return the file ids. Raises :class:`SharedChannel` for a Slack Connect channel."""
    images = [c for c in charts if c.png is not None]
    if not images:
        return []
    check_not_shared(client, channel)
    comment = "\n".join(c.comment for c in charts)
    response = client.files_upload_v2(
        channel=channel,
        thread_ts=thread_ts,
        initial_comment=comment,
        file_uploads=[{"file": c.png, "filename": c.name, "title": c.title, "alt_txt": c.alt_text} for c in images],
    )
    return [f.get("id") for f in response.get("files") or []]
