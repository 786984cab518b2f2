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

from commands import digest_views as views
from commands.router import CommandRouter, SlashContext
from crm import digest_schedule as subs
from crm.activity_types import label_for
from crm.deals import pipeline_summary
from crm.digest import build_digest
from crm.pipeline_stages import stages_of

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)

DIGEST_USAGE = (
    "Use `/crm digest subscribe [time] [weekdays|daily]` in the team channel (default 9:00 on weekdays, your "
    "time zone), `/crm digest list`, `/crm digest unsubscribe` or `/crm digest preview`."
)
PIPELINE_USAGE = "Use `/crm pipeline` for your deals or `/crm pipeline team` for everyone's."


class DigestUI:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.sf = services.session_factory

    @property
    def stages(self):
        return stages_of(self.services.settings)

    # -- /crm pipeline -----------------------------------------------------------------------
    def pipeline(self, ctx: SlashContext) -> None:
        arg = ctx.args.strip().lower()
        if arg in ("", "mine", "me", "my"):
            owner, title = ctx.user_id, "Your pipeline"
        elif arg in ("team", "all", "everyone"):
            owner, title = None, "Team pipeline"
        else:
            ctx.reply(PIPELINE_USAGE)
            return
        summary = pipeline_summary(self.sf, ctx.workspace_id, owner=owner, stages=self.stages, now=self.services.now())
        ctx.reply(
            views.pipeline_text(summary, title), blocks=views.pipeline_blocks(summary, stages=self.stages, title=title)
        )

    # -- /crm digest ---------------------------------------------------------------------------
    def digest(self, ctx: SlashContext) -> None:
        verb, _, rest = ctx.args.strip().partition(" ")
        verb = verb.lower()
        handlers = {
            "subscribe": self.subscribe,
            "sub": self.subscribe,
            "list": self.list,
            "ls": self.list,
            "unsubscribe": self.unsubscribe,
            "unsub": self.unsubscribe,
            "stop": self.unsubscribe,
            "preview": self.preview,
            "show": self.preview,
        }
        handler = handlers.get(verb)
        if handler is None:
            ctx.reply((f"I don't know `/crm digest {verb[:30]}`. " if verb else "") + DIGEST_USAGE)
            return
        handler(ctx, rest)

    def _postable_problem(self, ctx: SlashContext) -> str | None:
        """Why the digest could not be posted in this channel, or None when it can."""
        channel = ctx.channel_id
        if not channel or channel.startswith("D"):
            return "Digests go to a channel, not a direct message. Run this in the team channel."
        try:
            info = ctx.client.conversations_info(channel=channel)["channel"]
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
                ctx.client.conversations_join(channel=channel)
            except SlackApiError as exc:
                log.info("could not join %s: %s", channel, exc.response.get("error"))
                return "I couldn't join this channel. Invite me with `/invite @crm`, then subscribe again."
        return None

    def subscribe(self, ctx: SlashContext, rest: str) -> None:
        schedule = subs.parse_schedule(rest)  # InvalidInput is answered by the router
        problem = self._postable_problem(ctx)
        if problem:
            ctx.reply(problem)
            return
        tz = self.services.people.tz(ctx.client, ctx.workspace_id, ctx.user_id)
        result = subs.subscribe(
            self.sf,
            ctx.workspace_id,
            channel_id=ctx.channel_id,
            user=ctx.user_id,
            schedule=schedule,
            timezone=tz,
            now=self.services.now(),
        )
        ctx.reply(views.subscribed_text(ctx.channel_id, schedule, tz, result.first_at, created=result.created))

    def list(self, ctx: SlashContext, rest: str) -> None:
        rows = subs.list_subscriptions(self.sf, ctx.workspace_id)
        tz = self.services.people.tz(ctx.client, ctx.workspace_id, ctx.user_id)
        ctx.reply(f"Digest subscriptions: {len(rows)}", blocks=views.subscriptions_blocks(rows, tz=tz))

    def unsubscribe(self, ctx: SlashContext, rest: str) -> None:
        subs.unsubscribe(
            self.sf, ctx.workspace_id, channel_id=ctx.channel_id, user=ctx.user_id, now=self.services.now()
        )  # NotFound is answered by the router
        ctx.reply(f":wave: <#{ctx.channel_id}> won't get the pipeline digest any more.")

    def preview(self, ctx: SlashContext, rest: str) -> None:
        sub = subs.get_subscription(self.sf, ctx.workspace_id, ctx.channel_id)
        tz = sub.timezone if sub else self.services.people.tz(ctx.client, ctx.workspace_id, ctx.user_id)
        digest = build_digest(
            self.sf,
            ctx.workspace_id,
            now=self.services.now(),
            tz=tz,
            stages=self.stages,
            previous=sub.last_snapshot if sub else None,
            stale_days=self.services.settings.stale_days,
        )
        blocks = views.digest_blocks(
            digest,
            stages=self.stages,
            type_label=lambda key: label_for(self.services.settings, key),
            preview=True,
        )
        ctx.reply(views.digest_text(digest), blocks=blocks)


def register(app: App, services: Services, router: CommandRouter) -> None:
    ui = DigestUI(services)
    router.add(
        "pipeline",
        ui.pipeline,
        summary="Open deals by stage with totals per currency: yours, or `team` for everyone's.",
        example="/crm pipeline team",
    )
    router.add(
        "digest",
        ui.digest,
        summary="Daily pipeline digest in this channel: `subscribe [time] [weekdays|daily]`, `list`, "
        "`unsubscribe`, `preview`.",
        example="/crm digest subscribe 9:00 weekdays",
    )
