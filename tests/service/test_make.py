"""The shared factories (tests/support/make.py) make what they say, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from crm.customers import ContactInput, list_contacts
from crm.models import Activity, AuditEntry, DealStageChange, FollowUp
from tests.conftest import REP, REP2


def test_defaults_make_a_workspace_with_a_customer(services, ws, acme):
    assert acme.workspace_id == ws == services.workspace_id("T0TEST")
    assert (acme.name, acme.created_by, acme.owner_user_id) == ("Acme Corp", REP, REP)
    assert [m.customer_id for m in services.search.search(ws, "acme")] == [acme.id]
    with services.session_factory() as s:  # created through the service: audited
        assert s.scalars(select(AuditEntry.entity_id).where(AuditEntry.entity_type == "customer")).all() == [acme.id]


def test_keywords_override_and_contacts_come_along(make, ws):
    globex = make.customer(
        "Globex",
        actor=REP2,
        website="globex.example",
        contacts=["Hank Scorpio", ContactInput(name="Mindy", email="m@globex.example")],
    )
    assert (globex.name, globex.created_by, globex.domain) == ("Globex", REP2, "globex.example")
    contacts = list_contacts(make.services.session_factory, ws, globex.id)
    assert sorted((c.name, c.email) for c in contacts) == [("Hank Scorpio", None), ("Mindy", "m@globex.example")]


def test_a_deal_an_activity_and_a_follow_up_follow_the_apps_clock(make, services, acme):
    now = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
    services.clock = lambda: now
    deal = make.deal(acme, stage="proposal", amount="2,500")
    jane = make.contact(acme)
    call = make.activity(acme, contact=jane, deal=deal)
    later = make.follow_up(acme, "chase", owner=REP2, due=now + timedelta(days=2), deal=deal)
    due = make.follow_up(acme)
    with services.session_factory() as s:
        assert s.scalars(select(DealStageChange.to_stage).where(DealStageChange.deal_id == deal.id)).all() == [
            "proposal"
        ]
        row = s.get(Activity, call.id)
        assert row is not None
        assert (row.contact_id, row.deal_id, row.created_by) == (jane.id, deal.id, REP)
        assert row.occurred_at.replace(tzinfo=UTC) == now - timedelta(hours=1)
        first, second = (s.get(FollowUp, f.id) for f in (later, due))
        assert first is not None and second is not None
        assert (first.owner_user_id, first.note, first.deal_id, first.created_by) == (REP2, "chase", deal.id, REP2)
        assert second.due_at.replace(tzinfo=UTC) == second.nudge_at.replace(tzinfo=UTC) == now - timedelta(minutes=5)
    assert deal.amount_minor == 250_000 and deal.stage == "proposal"


def test_many_customers_at_once_are_searchable(make, services, ws):
    rows = make.customers(f"Northwind {i:03d}" for i in range(30))
    assert len({r.id for r in rows}) == 30
    found = services.search.search(ws, "northwind 017", limit=3)
    assert found and found[0].customer_id == rows[17].id
