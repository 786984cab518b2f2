"""`/crm alerts [filters]`, `/crm alerts list`, `/crm alerts off` and `/crm alerts preview [filters]`.

Subscribing checks the channel first (a channel, the bot in it, not shared with another
organisation); the alerts are posted by ``reminders/channel_posts.py`` through the outbox.
"""

from __future__ import annotations

from commands.request import Request
from commands.rooms import views
from commands.rooms.alert_words import parse_filters
from commands.rooms.channel_check import channel_facts
from crm import alerts as svc
from crm.channel_events import tier_filter
from crm.states import ChannelEventKind


def _stage_keys(req: Request) -> set[str]:
    return {s.key for s in req.config.stages.stages}


def _filters(req: Request, text: str) -> svc.AlertFilters:
    return parse_filters(text, user_id=req.user_id, stage_keys=_stage_keys(req))


def on_alerts(req: Request) -> None:
    verb, _, rest = req.args.strip().partition(" ")
    verb = verb.lower()
    if verb in ("help", "?"):
        req.reply(views.ALERTS_USAGE)
    elif verb in ("list", "ls"):
        text, blocks = views.alerts_list_blocks(
            svc.subscriptions(req.sf, req.workspace_id), name_of=req.name_of, stage_label=req.config.stage_label
        )
        req.reply(text, blocks)
    elif verb in ("off", "stop", "unsubscribe", "unsub"):
        svc.unsubscribe(req.sf, req.workspace_id, req.channel_id or "", actor=req.user_id, now=req.now)
        req.reply(f":wave: <#{req.channel_id}> won't get deal alerts any more.")
    elif verb in ("preview", "show"):
        sub = svc.subscription_of(req.sf, req.workspace_id, req.channel_id)
        if rest.strip() or sub is None:
            filters = _filters(req, rest)
        else:
            filters = svc.AlertFilters(
                events=tuple(ChannelEventKind(e) for e in sub.events),
                stage=sub.stage,
                min_amount_minor=sub.min_amount_minor,
                currency=sub.currency,
                reps=tuple(sub.reps or ()),
                tier=tier_filter(sub.tier) or None,  # a legacy "gold" filtered nothing: still doesn't
            )
        events = svc.preview(req.sf, req.workspace_id, filters, now=req.now)
        req.reply(
            *views.preview_blocks(
                events, name_of=req.name_of, stage_label=req.config.stage_label, type_label=req.config.type_label
            )
        )
    else:
        filters = _filters(req, req.args)
        facts = channel_facts(req)
        sub = svc.subscribe(
            req.sf,
            req.workspace_id,
            req.channel_id or "",
            filters,
            actor=req.user_id,
            stage_keys=_stage_keys(req),
            shared=facts.shared,
            now=req.now,
        )
        described = views.describe_filters(sub, name_of=req.name_of, stage_label=req.config.stage_label)
        req.reply(views.subscribed_text(req.channel_id or "", described))
