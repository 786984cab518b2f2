"""The Team section of the Home tab (issue 16 item 1), end to end: signed app_home_opened, the
stand-in's views.publish, and the details each row opens."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert

from bot.dev.blockkit_check import validate_view
from commands.team import views
from crm.models import Activity, Customer, Deal, DealStageChange, FollowUp
from tests.conftest import ADMIN, MANAGER, REP, REP2


@pytest.fixture(autouse=True)
def managers(app_server):
    """MANAGER is a CRM manager (CRM_MANAGERS), and the clock stands still on a Wednesday."""
    services = app_server.services
    services.settings = replace(services.settings, managers=frozenset({MANAGER}))
    services.clock = lambda: NOW


def dump(value) -> str:
    return json.dumps(value, ensure_ascii=False)


NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)  # a Wednesday


def home(slack, standin, user, n=1):
    slack.event({"type": "app_home_opened", "user": user, "channel": "D0X", "tab": "home"})
    return standin.wait_for("views.publish", count=n)[n - 1].params["view"]


def crowd(services, ws, reps: int) -> list[str]:
    """``reps`` reps, each with customers, open deals in three stages and currencies, overdue
    follow-ups, activities this week and last, and a deal won this week."""
    users = [f"U0R{i:03d}" for i in range(reps)]
    stages = ("lead", "qualified", "proposal")
    with services.session_factory.begin() as s:
        for i, user in enumerate(users):
            customer = Customer(
                workspace_id=ws,
                name=f"Customer <!here> {i}",
                normalized_name=f"customer {i}",
                owner_user_id=user,
                created_by=user,
            )
            s.add(customer)
            s.flush()
            deals = [
                Deal(
                    workspace_id=ws,
                    customer_id=customer.id,
                    title=f"Deal {i}-{j}",
                    amount_minor=123_456_00 * (j + 1),
                    currency=("USD", "EUR", "GBP")[j],
                    stage=stages[j],
                    owner_user_id=user,
                    created_by=user,
                )
                for j in range(3)
            ]
            won = Deal(
                workspace_id=ws,
                customer_id=customer.id,
                title=f"Won {i}",
                amount_minor=5_000_00,
                currency="USD",
                stage="won",
                owner_user_id=user,
                created_by=user,
                closed_at=NOW - timedelta(days=1),
            )
            s.add_all([*deals, won])
            s.flush()
            s.add(
                DealStageChange(
                    workspace_id=ws,
                    deal_id=deals[2].id,
                    from_stage="qualified",
                    to_stage="proposal",
                    created_at=NOW - timedelta(days=1),
                    created_by=user,
                )
            )
            s.execute(
                insert(FollowUp),
                [
                    dict(
                        workspace_id=ws,
                        customer_id=customer.id,
                        owner_user_id=user,
                        due_at=NOW - timedelta(days=k + 1),
                        note=f"chase {k}",
                        status="open",
                        created_by=user,
                        created_at=NOW,
                        nudge_attempts=0,
                    )
                    for k in range(i % 4 + 1)
                ],
            )
            s.execute(
                insert(Activity),
                [
                    dict(
                        workspace_id=ws,
                        customer_id=customer.id,
                        type_key=t,
                        summary=f"talked {k}",
                        occurred_at=NOW - timedelta(days=d),
                        source="modal",
                        created_by=user,
                        created_at=NOW,
                    )
                    for k, (t, d) in enumerate((("call", 1), ("email", 1), ("call", 8), ("meeting", 9)))
                ],
            )
    return users


def test_fifty_reps_fit_the_home_tab_and_reps_see_no_team(slack, standin, app_server, ws):
    services = app_server.services
    services.clock = lambda: NOW
    users = crowd(services, ws, 50)
    for user in users:
        standin.add_user(user, name=f"rep{user[-3:]}", real_name=f"Rep {user[-3:]}")
    view = home(slack, standin, ADMIN)
    assert validate_view(view) == []
    blocks = view["blocks"]
    assert len(blocks) <= 100
    text = dump(blocks)
    assert "Your team" in text and "Open pipeline by rep and stage" in text and "Overdue follow-ups" in text
    assert "Activities this week against last week" in text and "Deals this week" in text
    assert "150 deals" in text and "…and 42 more reps" in text and "Won* 50" in text
    assert "rep000" in text and f"<@{users[0]}>" not in text and "<!here>" not in text  # names, never pings
    menus = [b["accessory"] for b in blocks if b.get("accessory", {}).get("type") == "static_select"]
    assert {m["action_id"] for m in menus} == {f"{views.PICK}:{k}" for k in views.LISTS}
    assert all(len(m["options"]) == 50 for m in menus if not m["action_id"].endswith("deals"))
    # A rep's Home has no Team section; a manager's has.
    assert "Your team" not in dump(home(slack, standin, REP, 2)["blocks"])
    assert "Your team" in dump(home(slack, standin, MANAGER, 3)["blocks"])


def test_each_row_opens_its_detail(slack, standin, app_server, ws):
    services = app_server.services
    services.clock = lambda: NOW
    users = crowd(services, ws, 12)
    home(slack, standin, ADMIN)
    hv = {"id": standin.home_view(ADMIN)["id"], "type": "home", "callback_id": "", "private_metadata": ""}

    def pick(kind, value, n):
        slack.block_actions(
            [
                {
                    "type": "static_select",
                    "action_id": f"{views.PICK}:{kind}",
                    "block_id": "b",
                    "selected_option": {"value": value, "text": {"type": "plain_text", "text": "x"}},
                }
            ],
            user=ADMIN,
            view=hv,
        )
        opened = standin.wait_for("views.open", count=n)[n - 1].params["view"]
        assert validate_view(opened) == []
        return dump(opened["blocks"])

    assert "Deal 3-0" in pick("pipeline", users[3], 1) and "$123,456.00" in pick("pipeline", users[3], 2)
    assert "chase 0" in pick("overdue", users[3], 3)
    detail = pick("activity", users[3], 4)
    assert "this week" in detail and "talked 0" in detail
    assert "Won 7" in pick("deals", "won", 5)
    assert "Deal 5-2" in pick("deals", "moved", 6)
    # "Show all" lists every rep; a row there pushes the rep's detail.
    slack.block_actions(
        [{"type": "button", "action_id": f"{views.ALL}:overdue", "value": "overdue", "block_id": "b"}],
        user=ADMIN,
        view=hv,
    )
    listed = standin.wait_for("views.open", count=7)[6].params["view"]
    assert validate_view(listed) == [] and len(listed["blocks"]) == 12
    slack.block_actions(
        [{"type": "button", "action_id": f"{views.OPEN}:overdue", "value": users[2], "block_id": "b"}], user=ADMIN
    )
    pushed = standin.wait_for("views.push")[0].params["view"]
    assert "chase 2" in dump(pushed["blocks"])


def test_a_rep_pressing_a_team_button_is_refused(slack, standin, app_server, ws):
    app_server.services.clock = lambda: NOW
    crowd(app_server.services, ws, 2)
    slack.block_actions(
        [{"type": "button", "action_id": f"{views.ALL}:pipeline", "value": "pipeline", "block_id": "b"}], user=REP2
    )
    assert "Only managers and admins" in standin.wait_for("response_url")[0].params["text"]
    assert not standin.calls_to("views.open")


def test_reps_never_seen_are_looked_up_side_by_side(slack, standin, app_server, ws):
    users = crowd(app_server.services, ws, 12)
    for user in users:
        standin.add_user(user, name=f"rep{user[-3:]}")
    standin.set_latency("users.info", 0.5)
    view = home(slack, standin, ADMIN)
    assert "rep011" in dump(view["blocks"])
    arrivals = sorted(c.at for c in standin.calls_to("users.info") if c.params.get("user") in users)
    assert len(arrivals) == 12
    # One after another they would arrive 0.5 s apart; side by side, several arrive together.
    assert sum(1 for at in arrivals if at < arrivals[0] + 0.4) >= 4
