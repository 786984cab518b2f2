"""Isolation between workspaces on one deployment, over signed requests.

Workspace A holds a customer, contact, deal, activity, follow-up and custom field. Workspace B (and
then a third, C) drives every button with every one of A's row ids forged into its value, submits
every modal with A's ids forged into private_metadata, types into the typeaheads and runs the
commands. Then, whatever B was told:

* nothing B was sent (any Web API call or response_url post) names any of A's data;
* A's rows are exactly as they were;
* no row anywhere refers to a row of another workspace (checked on every foreign key).
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import and_, func, select

from bot.dev.driver import SlackDriver
from commands.activities import views as activities
from commands.customers import record
from commands.customers import views as customers
from commands.deals import views as deals
from commands.fields import views as fields
from commands.followups import nudge_dm
from commands.followups import views as followups
from commands.whos_talked import views as whos
from crm.custom_fields.definitions import add_field
from crm.models import Base, Workspace
from tests.conftest import ADMIN, REP, SIGNING_SECRET
from tests.support.make import Make

SECRETS = (
    "Zanzibar Holdings",
    "Quentin Quill",
    "Quasar renewal",
    "zebra-stripe pricing",
    "chase the zebra",
    "Zeta tier",
)

BUTTONS = (
    customers.SHOW,
    customers.SHARE,
    customers.EDIT_OPEN,
    customers.CONTACT_ADD_OPEN,
    customers.CONTACT_MENU,
    customers.HISTORY,
    f"{customers.HISTORY}_older",
    customers.MERGE_CONFIRM,
    customers.USE_EXISTING,
    record.LIFECYCLE_SET,
    deals.EDIT_OPEN,
    deals.LIST_SHOW,
    customers.DEAL_NEW_OPEN,
    activities.OPEN_ACTION,
    activities.UNDO_ACTION,
    activities.DELETE_ACTION,
    activities.RESTORE_ACTION,
    activities.EDIT_ACTION,
    whos.PICK,
    whos.OPEN_CARD,
    fields.MENU,
    nudge_dm.DONE,
    nudge_dm.SNOOZE,
    nudge_dm.REASSIGN,
    nudge_dm.RESCHEDULE_OPEN,
    followups.FOLLOW_UP_OPEN_ACTION,
)
MODALS = (
    customers.EDIT_VIEW,
    customers.CONTACT_VIEW,
    deals.SAVE_VIEW,
    activities.LOG_CALLBACK,
    followups.FOLLOW_UP_CALLBACK,
    followups.RESCHEDULE_VIEW,
    fields.RENAME_VIEW,
    fields.OPTIONS_VIEW,
)
COMMANDS = (
    ("/customer", "zanzibar"),
    ("/crm", "followups"),
    ("/crm", "followups all"),
    ("/crm", "pipeline"),
    ("/crm", "duplicates"),
    ("/crm", "fields"),
    ("/crm", "who zanzibar"),
    ("/log", "call Zanzibar zebra check"),  # names A's customer only partly: B's own words may come back
)


def _seed_a(app_server) -> dict[str, int]:
    make = Make(app_server.services, team_id="T0AAA")
    customer = make.customer("Zanzibar Holdings")
    contact = make.contact(customer, "Quentin Quill")
    deal = make.deal(customer, "Quasar renewal")
    activity = make.activity(customer, "zebra-stripe pricing", deal=deal)
    follow_up = make.follow_up(customer, "chase the zebra")
    with app_server.services.session_factory.begin() as session:
        field = add_field(session, make.ws, by=ADMIN, entity="customer", label="Zeta tier", type="text")
    return {
        "ws": make.ws,
        "customer": customer.id,
        "contact": contact.id,
        "deal": deal.id,
        "activity": activity.id,
        "follow_up": follow_up.id,
        "field": field.id,
    }


def _values_for(row_id: int) -> list[str]:
    return [
        str(row_id),
        f"{row_id}:thread",
        f"{row_id}:private",
        f"{row_id}:customer",
        f"{row_id}:1h",
        f"{row_id}:{REP}",
        f"rename:{row_id}",
        f"retire:{row_id}",
        f"{row_id}:{row_id}",
        json.dumps({"customer_id": row_id, "deal_id": row_id}),
    ]


def _metadata_for(row_id: int) -> list[str]:
    keys = ("customer_id", "deal_id", "follow_up_id", "activity_id", "contact_id", "field_id", "id")
    return [str(row_id), json.dumps({k: row_id for k in keys}), json.dumps({"mode": "edit", "activity_id": row_id})]


def _snapshot(app_server, ws: int) -> dict[str, list[tuple[Any, ...]]]:
    out: dict[str, list[tuple[Any, ...]]] = {}
    with app_server.services.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            if "workspace_id" in table.c and table.name != "slack_users":
                rows = conn.execute(select(table).where(table.c.workspace_id == ws)).all()
                out[table.name] = sorted((tuple(map(repr, r)) for r in rows), key=repr)
    return out


def _cross_references(app_server) -> list[str]:
    """Rows whose foreign key points at a row of another workspace."""
    found = []
    with app_server.services.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            if "workspace_id" not in table.c:
                continue
            for fk in table.foreign_keys:
                target = fk.column.table
                if target.name == Workspace.__tablename__ or "workspace_id" not in target.c:
                    continue
                other = target.alias()
                n = conn.scalar(
                    select(func.count())
                    .select_from(table.join(other, fk.parent == other.c[fk.column.name]))
                    .where(and_(table.c.workspace_id != other.c.workspace_id))
                )
                if n:
                    found.append(f"{table.name}.{fk.parent.name} -> {target.name}: {n}")
    return found


def _leaks(standin, since: int) -> list[str]:
    leaked = []
    for call in standin.calls[since:]:
        text = json.dumps([call.params, call.response], ensure_ascii=False, default=str)
        where = (call.params.get("view") or {}).get("callback_id") if isinstance(call.params.get("view"), dict) else ""
        leaked += [f"{call.method} {where}: {s}" for s in SECRETS if s.lower() in text.lower()]
    return leaked


def _drive(app_server, driver: SlackDriver, ids: dict[str, int]) -> None:
    row_ids = sorted({v for k, v in ids.items() if k != "ws"})
    for user in (ADMIN, REP):
        for command, text in COMMANDS:
            assert driver.command(command, text, user=user).status == 200
        for action_id in BUTTONS:
            for row_id in row_ids:
                for value in _values_for(row_id):
                    action = {"type": "button", "action_id": action_id, "block_id": "b", "value": value}
                    assert driver.block_actions([action], user=user).status == 200
        for callback in MODALS:
            for row_id in row_ids:
                for meta in _metadata_for(row_id):
                    resp = driver.view_submission(callback, {}, user=user, private_metadata=meta)
                    assert resp.status == 200
        for picker in ("customer_picker", "customer_picker:log", "customer_picker:deal"):
            resp = driver.block_suggestion(picker, "zanz", user=user)
            assert "Zanzibar" not in resp.text
    app_server.drain(timeout=120)


def test_nothing_of_one_workspace_reaches_or_is_changed_from_two_others(app_server, standin):
    ids = _seed_a(app_server)
    before = _snapshot(app_server, ids["ws"])
    since = len(standin.calls)
    for team in ("T0BBB", "T0CCC"):  # a second, then a third workspace
        driver = SlackDriver(
            app_server.events_url, SIGNING_SECRET, team_id=team, response_url_factory=standin.response_url
        )
        Make(app_server.services, team_id=team).customer("Globex")  # each has data of its own
        _drive(app_server, driver, ids)
    assert _leaks(standin, since) == []
    assert _snapshot(app_server, ids["ws"]) == before
    assert _cross_references(app_server) == []
    # The drive did reach the handlers (B's own answers arrived), so "nothing leaked" is not vacuous.
    assert len(standin.calls_to("response_url")) > 50


def test_an_org_with_two_workspaces_keeps_them_apart(app_server, standin):
    ids = _seed_a(app_server)
    app_server.services.workspace_id("T0AAA", "E0ORG")  # A is in the org
    before = _snapshot(app_server, ids["ws"])
    since = len(standin.calls)
    driver = SlackDriver(
        app_server.events_url,
        SIGNING_SECRET,
        team_id="T0BBB",
        enterprise_id="E0ORG",
        response_url_factory=standin.response_url,
        org_wide_install=True,
    )
    _drive(app_server, driver, ids)
    assert _leaks(standin, since) == []
    assert _snapshot(app_server, ids["ws"]) == before
    assert _cross_references(app_server) == []
