"""Handover (issue 16 item 6) and the team view's numbers (item 1), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, select

from crm import handover as ho
from crm import team
from crm.actors import Actor
from crm.errors import CRMError, InvalidInput, PermissionDenied
from crm.models import AuditEntry, Customer, Deal, FollowUp, Handover
from crm.people import Person
from crm.states import AuditAction
from tests.conftest import ADMIN, MANAGER, REP, REP2

NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)  # a Wednesday
BOSS = Actor(MANAGER, is_manager=True)
REP_ACTOR = Actor(REP)


@pytest.fixture(autouse=True)
def clock(services):
    services.clock = lambda: NOW


def person(uid, **flags) -> Person:
    base = dict(display_name=uid.lower(), real_name=None, tz=None, locale=None, is_admin=False, is_owner=False)
    return Person(uid, **base, is_bot=flags.get("bot", False), deleted=flags.get("deleted", False), fetched_at=NOW)


@pytest.fixture
def book(make):
    """REP's book: two customers, two open deals and a won one, three open follow-ups (one done)."""
    acme, globex = make.customer("Acme Corp", owner_user_id=REP), make.customer("Globex", owner_user_id=REP)
    other = make.customer("Initech", owner_user_id=REP2)
    deals = [make.deal(acme, "Licence", stage="proposal"), make.deal(globex, "Pilot", stage="lead")]
    make.deal(acme, "Old win", stage="won")
    make.deal(other, "Sam's", owner=REP2)
    fus = [make.follow_up(acme), make.follow_up(globex, due=NOW + timedelta(days=2)), make.follow_up(other)]
    make.follow_up(acme, status="done")
    make.activity(acme, "first call", at=NOW - timedelta(days=3))
    return {"acme": acme, "globex": globex, "other": other, "deals": deals, "fus": fus}


def owners(services, model, ids):
    with services.session_factory() as s:
        return {r.id: r.owner_user_id for r in s.scalars(select(model).where(model.id.in_(ids)))}


def test_preview_counts_then_one_audited_move_and_undo_restores_exactly_that(services, ws, make, book):
    sf = services.session_factory
    seen = ho.handover_preview(sf, ws, BOSS, REP, ho.Scope(), now=NOW)
    assert (len(seen.customers), len(seen.deals), len(seen.follow_ups), seen.overdue) == (2, 2, 3, 2)
    moved = ho.hand_over(sf, ws, BOSS, REP, REP2, ho.Scope(), key="k1", now=NOW)
    assert (moved.customers, moved.deals, moved.follow_ups, moved.again) == (2, 2, 3, False)
    assert set(owners(services, Customer, [book["acme"].id, book["globex"].id]).values()) == {REP2}
    won = [d for d in owners(services, Deal, range(1, 10)).items()]
    assert any(o == REP for _, o in won)  # the won deal stays with its owner
    with sf() as s:
        entries = s.scalars(select(AuditEntry).where(AuditEntry.action == AuditAction.HANDOVER)).all()
    assert len(entries) == 2 + 2 + 3 + 1  # every row, and the handover itself
    # Same confirmation again: nothing moves twice.
    again = ho.hand_over(sf, ws, BOSS, REP, REP2, ho.Scope(), key="k1", now=NOW)
    assert again.again and again.handover_id == moved.handover_id
    # Things change since: Sam gives Globex to the admin, and gets a customer of his own.
    with sf.begin() as s:
        s.get(Customer, book["globex"].id).owner_user_id = ADMIN
    own = make.customer("Sam's own", owner_user_id=REP2)
    undone = ho.undo_handover(sf, ws, BOSS, moved.handover_id, now=NOW)
    assert (undone.customers, undone.deals, undone.follow_ups) == (1, 2, 3)
    assert undone.skipped == {"customers": 1}
    got = owners(services, Customer, [book["acme"].id, book["globex"].id, own.id, book["other"].id])
    assert got == {book["acme"].id: REP, book["globex"].id: ADMIN, own.id: REP2, book["other"].id: REP2}
    assert set(owners(services, FollowUp, [f.id for f in book["fus"]]).values()) == {REP}
    with pytest.raises(CRMError, match="undone already"):
        ho.undo_handover(sf, ws, BOSS, moved.handover_id, now=NOW)


def test_partial_handover_one_customer_or_one_tier(services, ws, book):
    sf = services.session_factory
    one = ho.hand_over(sf, ws, BOSS, REP, ADMIN, ho.Scope(customer_id=book["acme"].id), key="c", now=NOW)
    assert (one.customers, one.deals, one.follow_ups) == (1, 1, 1)
    assert owners(services, Customer, [book["globex"].id]) == {book["globex"].id: REP}
    with pytest.raises(InvalidInput, match="tiers aren't available"):
        ho.handover_preview(sf, ws, BOSS, REP, ho.Scope(tier="A"), now=NOW)

    def tiers(session, workspace_id, ids):
        return {book["globex"].id: "A"}

    seen = ho.handover_preview(sf, ws, BOSS, REP, ho.Scope(tier="a"), now=NOW, tier_of=tiers)
    assert (seen.customers, len(seen.deals), len(seen.follow_ups)) == ([book["globex"].id], 1, 1)
    moved = ho.hand_over(sf, ws, BOSS, REP, ADMIN, ho.Scope(tier="A"), key="t", now=NOW, tier_of=tiers)
    brief = ho.handover_brief(sf, ws, moved.handover_id, now=NOW, tier_of=tiers)
    assert [g.tier for g in brief.groups] == ["A"] and brief.key_accounts[0].account.name == "Globex"


def test_bad_input_is_refused_clearly(services, ws, book):
    sf = services.session_factory
    with pytest.raises(PermissionDenied, match="Only managers and admins"):
        ho.handover_preview(sf, ws, REP_ACTOR, REP, ho.Scope(), now=NOW)
    with pytest.raises(PermissionDenied):
        ho.hand_over(sf, ws, REP_ACTOR, REP, REP2, ho.Scope(), key="x", now=NOW)
    for taking, words in (
        (person(REP), "themselves"),
        (person("U0BOT", bot=True), "bot"),
        (person("U0GONE", deleted=True), "deactivated"),
    ):
        with pytest.raises(InvalidInput, match=words):
            ho.check_people(person(REP), taking)
    with pytest.raises(InvalidInput, match="nothing to hand over"):
        ho.hand_over(sf, ws, BOSS, MANAGER, REP2, ho.Scope(), key="empty", now=NOW)
    with sf() as s:
        assert s.scalars(select(Handover)).all() == []  # the refused one left nothing behind


def test_three_thousand_overdue_follow_ups_move_and_the_brief_stays_short(services, ws, make):
    acme = make.customer("Acme Corp", owner_user_id=REP)
    rows = [
        dict(
            workspace_id=ws,
            customer_id=acme.id,
            owner_user_id=REP,
            due_at=NOW - timedelta(days=1, minutes=i),
            note=f"n{i}",
            status="open",
            created_by=REP,
            created_at=NOW,
            nudge_attempts=0,
        )
        for i in range(3000)
    ]
    with services.session_factory.begin() as s:
        s.execute(insert(FollowUp), rows)
    sf = services.session_factory
    assert ho.handover_preview(sf, ws, BOSS, REP, ho.Scope(), now=NOW).overdue == 3000
    moved = ho.hand_over(sf, ws, BOSS, REP, REP2, ho.Scope(), key="big", now=NOW)
    assert moved.follow_ups == 3000
    brief = ho.handover_brief(sf, ws, moved.handover_id, now=NOW)
    assert (brief.follow_ups_total, brief.overdue_total, len(brief.next_follow_ups)) == (3000, 3000, 8)
    assert brief.next_follow_ups[0].follow_up.note == "n2999"  # the most overdue first


def test_the_brief_is_claimed_once(services, ws, book):
    sf = services.session_factory
    moved = ho.hand_over(sf, ws, BOSS, REP, REP2, ho.Scope(), key="b", now=NOW)
    lease = timedelta(minutes=2)
    assert ho.claim_brief(sf, moved.handover_id, replica="r1", now=NOW, lease=lease)
    assert not ho.claim_brief(sf, moved.handover_id, replica="r2", now=NOW, lease=lease)
    # r1 died before sending: after the lease another replica may send it.
    assert ho.claim_brief(sf, moved.handover_id, replica="r2", now=NOW + lease * 2, lease=lease)
    ho.mark_brief_sent(sf, moved.handover_id, replica="r2", now=NOW, ts="1.2")
    assert not ho.claim_brief(sf, moved.handover_id, replica="r3", now=NOW + lease * 9, lease=lease)
    brief = ho.handover_brief(sf, ws, moved.handover_id, now=NOW)
    assert brief.customers_total == 2 and brief.deals_total == 2 and brief.follow_ups_total == 3
    assert [k.account.name for k in brief.key_accounts] == ["Acme Corp", "Globex"]
    assert [a.summary for a in brief.key_accounts[0].activities] == ["first call"]


# -- the team view -------------------------------------------------------------------------------
def test_team_overview_numbers(services, ws, make, book):
    sf = services.session_factory
    acme = book["acme"]
    make.activity(acme, "this week", at=NOW - timedelta(hours=2))
    make.activity(acme, "last week, by now", type_key="email", at=NOW - timedelta(days=7, hours=3))
    make.activity(acme, "last week, later", at=NOW - timedelta(days=6))
    make.deal(acme, "Closed this week", stage="lead", at=NOW - timedelta(days=20))
    with pytest.raises(PermissionDenied):
        team.team_overview(sf, ws, REP_ACTOR, now=NOW)
    got = team.team_overview(sf, ws, BOSS, now=NOW)
    assert got.week_start == datetime(2026, 11, 23, tzinfo=UTC)
    rep = next(r for r in got.pipeline if r.user_id == REP)
    assert rep.count == 3 and rep.stages["proposal"].count == 1 and rep.totals == {"USD": 300000}
    assert {r.user_id: r.count for r in got.overdue} == {REP: 2}
    week = next(r for r in got.activity if r.user_id == REP)
    assert (week.this_total, week.so_far_total, week.last_total) == (1, 1, 3)  # "first call" was on Sunday: last week
    assert got.week["won"].count == 1 and got.week["lost"].count == 0
    deals, total = team.rep_open_deals(sf, ws, BOSS, REP)
    assert total == 3 and {d.title for d, _ in deals} == {"Licence", "Pilot", "Closed this week"}


def test_two_managers_confirming_at_once_move_each_row_once(services, ws, book, database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite runs one writer at a time; the race needs PostgreSQL's row locks")
    import threading

    sf, results, errors = services.session_factory, [], []
    start = threading.Barrier(2)

    def confirm(key: str, taking: str) -> None:
        start.wait()
        try:
            results.append(ho.hand_over(sf, ws, BOSS, REP, taking, ho.Scope(), key=key, now=NOW))
        except InvalidInput as err:
            errors.append(err.message)

    threads = [threading.Thread(target=confirm, args=(k, t)) for k, t in (("a", REP2), ("b", ADMIN))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    moved = sum(r.customers + r.deals + r.follow_ups for r in results)
    assert moved == 2 + 2 + 3  # every row moved exactly once, to one of them
    with sf() as s:
        handed = s.scalars(select(AuditEntry).where(AuditEntry.action == AuditAction.HANDOVER)).all()
    assert len([e for e in handed if e.entity_type != "handover"]) == 7
