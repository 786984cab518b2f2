"""The Team section's data for the Home tab, and the buttons and menus that open its details.

``crm.team`` decides who may see the team (managers and admins) and is asked on every click, so
a forwarded or replayed payload from a rep is refused. A menu or button on the Home tab opens a
modal; a row inside the all-reps modal pushes the rep's detail on top of it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from slack_bolt import App

from commands import request
from commands.request import Request
from commands.router import CommandRouter
from commands.team import views
from crm import team
from crm.value import untouched_key_accounts

if TYPE_CHECKING:
    from bot.services import Services


def key_accounts_blocks(req: Request) -> list[dict[str, Any]]:
    """The key accounts nobody has touched lately (issue 16 item 4): A-tier customers quiet for
    ``CRM_KEY_ACCOUNT_DAYS`` (``crm.value.untouched_key_accounts``)."""
    found = untouched_key_accounts(
        req.sf, req.workspace_id, days=req.config.key_account_days, now=req.now, limit=views.ROWS
    )
    return views.untouched_blocks(found.rows, found.total, found.days, name_of=req.name_of, now=req.now)


def team_section(req: Request) -> list[dict[str, Any]]:
    """The Home tab's Team section for managers and admins; nothing for reps."""
    if not req.actor.sees_team:
        return []
    overview = team.team_overview(req.sf, req.workspace_id, req.actor, now=req.now)
    people = [r.user_id for r in overview.pipeline] + [r.user_id for r in overview.overdue]
    people += [r.user_id for r in overview.activity]
    people += [d.owner_user_id for w in overview.week.values() for d in w.items if d.owner_user_id]
    req.services.people.warm(req.client, req.workspace_id, [p for p in people if p])
    return views.team_blocks(
        overview,
        name_of=req.name_of,
        stage_label=req.config.stage_label,
        type_label=req.config.type_label,
        tz=req.tz,
        now=req.now,
        key_accounts=key_accounts_blocks(req),
    )


def _rep(value: str) -> str:
    return "" if value == "-" else value


def detail_view(req: Request, kind: str, value: str) -> dict[str, Any]:
    """The modal a row opens: a rep's open deals, overdue follow-ups or activities, or a deal list."""
    sf, ws, actor = req.sf, req.workspace_id, req.actor
    if kind == "deals":
        week = team.week_deals(sf, ws, actor, value, now=req.now)
        return views.week_deals_modal(week, name_of=req.name_of, stage_label=req.config.stage_label)
    rep = _rep(value)
    name = req.name_of(rep) if rep else "Nobody"
    if kind == "pipeline":
        deals, total = team.rep_open_deals(sf, ws, actor, rep)
        return views.pipeline_modal(name, deals, total, stage_label=req.config.stage_label)
    if kind == "overdue":
        rows, total = team.rep_overdue(sf, ws, actor, rep, now=req.now)
        return views.overdue_modal(name, rows, total, tz=req.tz, now=req.now)
    overview = team.team_overview(sf, ws, actor, now=req.now)
    rep_week = next((r for r in overview.activity if r.user_id == rep), None)
    acts, total = team.rep_week_activities(sf, ws, actor, rep, now=req.now)
    return views.activity_modal(name, rep_week, acts, total, type_label=req.config.type_label, tz=req.tz, now=req.now)


def all_reps_view(req: Request, kind: str) -> dict[str, Any]:
    overview = team.team_overview(req.sf, req.workspace_id, req.actor, now=req.now)
    name_of, cfg = req.name_of, req.config
    lines: list[tuple[str, str]]
    if kind == "pipeline":
        lines = [(r.user_id, views.pipeline_line(r, name_of, cfg.stage_label, exact=True)) for r in overview.pipeline]
    elif kind == "overdue":
        lines = [(r.user_id, views.overdue_line(r, name_of, tz=req.tz, now=req.now)) for r in overview.overdue]
    else:
        lines = [(r.user_id, views.activity_line(r, name_of, cfg.type_label)) for r in overview.activity]
    return views.all_reps_modal(kind, lines)


def on_team_action(req: Request) -> None:
    match = views.ACTION.match(str(req.action.get("action_id") or ""))
    if match is None:
        return
    verb, kind = match.groups()
    if verb == views.ALL:
        req.open_view(all_reps_view(req, kind))
    elif verb == views.OPEN:
        req.push_view(detail_view(req, kind, req.value))
    else:
        req.open_view(detail_view(req, kind, req.value))


def register(app: App, services: Services, router: CommandRouter) -> None:
    request.action(app, views.ACTION, on_team_action)
