"""Activity and follow-up services on real SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from crm import activities as svc
from crm.activity_types import DEFAULT, parse_activity_types
from crm.actors import Actor
from crm.customers import ContactInput, add_contact, create_customer
from crm.errors import DateParseError, InvalidInput, NotFound, PermissionDenied
from crm.followups import add_follow_up, read_due
from crm.models import Activity, AuditEntry, Deal, FollowUp
from tests.conftest import ADMIN, REP, REP2

NOW = datetime(2026, 3, 4, 15, 0, tzinfo=UTC)
LATER = NOW + timedelta(days=2)


def log(services, ws, customer_id, **kw):
    args = {
        "types": DEFAULT,
        "actor": Actor(REP),
        "customer_id": customer_id,
        "type_key": "call",
        "summary": "Talked about renewal",
        "occurred_at": NOW - timedelta(hours=1),
        "source": "modal",
        "now": NOW,
    }
    args.update(kw)
    return svc.log_activity(services.session_factory, ws, **args)


def rows(services, model):
    with services.session_factory() as s:
        return list(s.scalars(select(model).order_by(model.id)))


def audit(services, entity_type):
    with services.session_factory() as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.entity_type == entity_type).order_by(AuditEntry.id)))


def test_log_records_who_how_when_and_audits(services, ws, acme):
    logged = log(services, ws, acme.id, source="slash", permalink="https://x.slack.com/archives/C1/p1")
    assert logged.created and logged.customer.id == acme.id and logged.follow_up is None
    [row] = rows(services, Activity)
    assert (row.created_by, row.source, row.type_key) == (REP, "slash", "call")
    assert row.occurred_at == NOW - timedelta(hours=1) and row.created_at == NOW
    assert row.permalink == "https://x.slack.com/archives/C1/p1"
    [entry] = audit(services, "activity")
    assert (entry.action, entry.created_by, entry.entity_id) == ("create", REP, row.id)
    assert entry.after["summary"] == "Talked about renewal" and entry.before is None


def test_activity_and_follow_up_are_saved_together(services, ws, acme):
    logged = log(services, ws, acme.id, follow_up=svc.FollowUpRequest(LATER, "send deck"))
    [fu] = rows(services, FollowUp)
    assert fu.id == logged.follow_up.id
    assert (fu.activity_id, fu.customer_id, fu.owner_user_id, fu.note) == (
        logged.activity.id,
        acme.id,
        REP,
        "send deck",
    )
    assert fu.due_at == fu.nudge_at == LATER and fu.status == "open"
    assert [e.action for e in audit(services, "follow_up")] == ["create"]


def test_a_bad_follow_up_saves_nothing(services, ws, acme):
    with pytest.raises(DateParseError):
        log(services, ws, acme.id, follow_up=svc.FollowUpRequest(NOW - timedelta(minutes=1)))
    assert rows(services, Activity) == [] and rows(services, FollowUp) == [] and audit(services, "activity") == []


def test_the_same_key_saves_once(services, ws, acme):
    first = log(services, ws, acme.id, idempotency_key="view:V1", follow_up=svc.FollowUpRequest(LATER))
    again = log(
        services, ws, acme.id, idempotency_key="view:V1", summary="changed", follow_up=svc.FollowUpRequest(LATER)
    )
    assert first.created and not again.created
    assert again.activity.id == first.activity.id and again.activity.summary == "Talked about renewal"
    assert again.follow_up.id == first.follow_up.id
    assert len(rows(services, Activity)) == 1 and len(rows(services, FollowUp)) == 1
    # Keys are per workspace.
    other_ws = services.workspace_id("T0OTHER")
    globex = create_customer(services.session_factory, services.search, other_ws, actor=REP, name="Globex")
    assert log(services, other_ws, globex.id, idempotency_key="view:V1").created


def test_concurrent_requests_with_one_key_save_once(services, ws, acme):
    results, errors = [], []
    barrier = threading.Barrier(8)

    def worker():
        barrier.wait()
        try:
            results.append(log(services, ws, acme.id, idempotency_key="slash:T1"))
        except Exception as exc:  # report, don't hide
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sum(r.created for r in results) == 1
    assert len({r.activity.id for r in results}) == 1
    assert len(rows(services, Activity)) == 1


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"type_key": "banana"}, "type"),
        ({"type_key": ""}, "type"),
        ({"summary": ""}, "summary"),
        ({"summary": " \n\t\x00 "}, "summary"),
        ({"summary": "x" * (svc.MAX_SUMMARY + 1)}, "summary"),
        ({"occurred_at": NOW + timedelta(hours=2)}, "occurred_at"),
        ({"occurred_at": NOW - timedelta(days=366 * 21)}, "occurred_at"),
    ],
)
def test_bad_values_are_refused_naming_the_field(services, ws, acme, kw, field):
    with pytest.raises(InvalidInput) as err:
        log(services, ws, acme.id, **kw)
    assert err.value.field == field
    assert rows(services, Activity) == []


def test_summaries_are_kept_whole_with_emoji_rtl_and_markup(services, ws, acme):
    text = "Line one 📞\nمرحبا بالعالم — שלום\n<!channel> <@U0BOSS> *bold* <b>html</b>\x07\u202e" + " long" * 3000
    logged = log(services, ws, acme.id, summary=text)
    expected = text.replace("\x07", "").replace("\u202e", "").strip()
    assert logged.activity.summary == expected and len(expected) > 15_000
    assert rows(services, Activity)[0].summary == expected


def test_customers_contacts_and_deals_must_belong_together(services, ws, acme):
    sf = services.session_factory
    globex = create_customer(sf, services.search, ws, actor=REP, name="Globex")
    eve = add_contact(sf, services.search, ws, globex.id, ContactInput(name="Eve"), actor=REP)
    with sf.begin() as s:
        deal = Deal(workspace_id=ws, customer_id=globex.id, title="Big", stage="open", created_by=REP)
        s.add(deal)
    with pytest.raises(InvalidInput) as err:
        log(services, ws, acme.id, contact_id=eve.id)
    assert err.value.field == "contact"
    with pytest.raises(InvalidInput) as err:
        log(services, ws, acme.id, deal_id=deal.id)
    assert err.value.field == "deal"
    logged = log(services, ws, globex.id, contact_id=eve.id, deal_id=deal.id)
    with sf() as s:
        assert s.get(Deal, deal.id).last_activity_at == logged.activity.occurred_at
    # Another workspace's customer does not exist here.
    other_ws = services.workspace_id("T0OTHER")
    with pytest.raises(NotFound):
        log(services, other_ws, acme.id)
    choices = svc.log_choices(sf, ws, globex.id)
    assert [c.name for c in choices.contacts] == ["Eve"] and [d.title for d in choices.deals] == ["Big"]


def test_edit_own_or_as_admin_with_audit(services, ws, acme):
    sf = services.session_factory
    logged = log(services, ws, acme.id)
    edit = {
        "types": DEFAULT,
        "now": NOW,
        "customer_id": acme.id,
        "type_key": "meeting",
        "summary": "Met in person",
        "occurred_at": NOW - timedelta(days=1),
    }
    with pytest.raises(PermissionDenied):
        svc.update_activity(sf, ws, logged.activity.id, actor=Actor(REP2), **edit)
    updated = svc.update_activity(sf, ws, logged.activity.id, actor=Actor(ADMIN, is_admin=True), **edit)
    assert (updated.activity.type_key, updated.activity.summary) == ("meeting", "Met in person")
    assert updated.activity.updated_by == ADMIN and updated.activity.created_by == REP
    entry = audit(services, "activity")[-1]
    assert entry.action == "update" and entry.created_by == ADMIN
    assert entry.before["type_key"] == "call" and entry.after["type_key"] == "meeting"
    # summary=None keeps the summary (a form that could not show it).
    kept = svc.update_activity(sf, ws, logged.activity.id, actor=Actor(REP), **{**edit, "summary": None})
    assert kept.activity.summary == "Met in person"
    # Another workspace cannot touch it, even as admin.
    with pytest.raises(NotFound):
        svc.update_activity(
            sf, services.workspace_id("T0OTHER"), logged.activity.id, actor=Actor(ADMIN, is_admin=True), **edit
        )


def test_retired_types_keep_working_for_old_activities(services, ws, acme):
    sf = services.session_factory
    logged = log(services, ws, acme.id, type_key="demo")
    narrower = parse_activity_types("call:Call:📞,meeting:Meeting:🤝")
    assert narrower.describe("demo").retired
    edit = {"now": NOW, "customer_id": acme.id, "summary": "still a demo", "occurred_at": NOW - timedelta(hours=1)}
    kept = svc.update_activity(sf, ws, logged.activity.id, types=narrower, actor=Actor(REP), type_key="demo", **edit)
    assert kept.activity.type_key == "demo"
    with pytest.raises(InvalidInput):
        log(services, ws, acme.id, types=narrower, type_key="demo")
    other = log(services, ws, acme.id, types=narrower)
    with pytest.raises(InvalidInput):  # no activity moves to a retired type
        svc.update_activity(sf, ws, other.activity.id, types=narrower, actor=Actor(REP), type_key="demo", **edit)


def test_soft_delete_and_restore_take_the_follow_up_along(services, ws, acme):
    sf = services.session_factory
    logged = log(services, ws, acme.id, follow_up=svc.FollowUpRequest(LATER))
    aid = logged.activity.id
    with pytest.raises(PermissionDenied):
        svc.delete_activity(sf, ws, aid, actor=Actor(REP2), now=NOW)
    deleted = svc.delete_activity(sf, ws, aid, actor=Actor(REP), now=NOW)
    assert deleted.activity.deleted_at == NOW and deleted.activity.deleted_by == REP
    [fu] = rows(services, FollowUp)
    assert fu.deleted_at == NOW and fu.nudge_at is None
    with pytest.raises(NotFound):
        svc.get_activity(sf, ws, aid)
    assert svc.get_activity(sf, ws, aid, include_deleted=True).id == aid
    # Pressing Undo twice changes nothing more.
    svc.delete_activity(sf, ws, aid, actor=Actor(REP), now=NOW + timedelta(minutes=1))
    assert rows(services, Activity)[0].deleted_at == NOW

    restored = svc.restore_activity(sf, ws, aid, actor=Actor(ADMIN, is_admin=True), now=NOW)
    assert restored.activity.deleted_at is None
    [fu] = rows(services, FollowUp)
    assert fu.deleted_at is None and fu.nudge_at == LATER
    assert [e.action for e in audit(services, "activity")] == ["create", "delete", "restore"]
    assert [e.action for e in audit(services, "follow_up")] == ["create", "delete", "restore"]
    assert audit(services, "activity")[1].before["deleted_at"] is None


def test_add_follow_up_standalone(services, ws, acme):
    sf = services.session_factory
    fu, created = add_follow_up(
        sf,
        ws,
        customer_id=acme.id,
        owner_user_id=REP2,
        due_at=LATER,
        actor=Actor(REP),
        now=NOW,
        note=" call back ",
        idempotency_key="view:F1",
    )
    again, created_again = add_follow_up(
        sf,
        ws,
        customer_id=acme.id,
        owner_user_id=REP2,
        due_at=LATER,
        actor=Actor(REP),
        now=NOW,
        idempotency_key="view:F1",
    )
    assert created and not created_again and again.id == fu.id
    assert (fu.owner_user_id, fu.note, fu.nudge_at, fu.created_by) == (REP2, "call back", LATER, REP)
    with pytest.raises(DateParseError):
        add_follow_up(sf, ws, customer_id=acme.id, owner_user_id=REP, due_at=NOW, actor=Actor(REP), now=NOW)
    with pytest.raises(NotFound):
        add_follow_up(
            sf,
            services.workspace_id("T0OTHER"),
            customer_id=acme.id,
            owner_user_id=REP,
            due_at=LATER,
            actor=Actor(REP),
            now=NOW,
        )
    assert len(rows(services, FollowUp)) == 1


def test_who_may_edit_is_decided_once(services, ws, acme):
    sf = services.session_factory
    logged = log(services, ws, acme.id)
    aid = logged.activity.id
    assert svc.editable_activity(sf, ws, aid, actor=Actor(REP)).customer.id == acme.id
    assert svc.editable_activity(sf, ws, aid, actor=Actor(ADMIN, is_admin=True)).activity.id == aid
    with pytest.raises(PermissionDenied) as err:
        svc.editable_activity(sf, ws, aid, actor=Actor(REP2, is_manager=True))  # managers don't edit others'
    assert err.value.message == "You can change only the activities you logged; an admin can change any."
    svc.delete_activity(sf, ws, aid, actor=Actor(REP), now=NOW)
    with pytest.raises(NotFound, match="press Undo"):
        svc.editable_activity(sf, ws, aid, actor=Actor(REP))
    with pytest.raises(NotFound):
        svc.editable_activity(sf, services.workspace_id("T0OTHER"), aid, actor=Actor(ADMIN, is_admin=True))


def test_keys_longer_than_the_column_still_save_once(services, ws, acme):
    key = "view:" + "V" * 500  # a forged view id
    first = log(services, ws, acme.id, idempotency_key=key)
    again = log(services, ws, acme.id, idempotency_key=key)
    assert first.created and not again.created and again.activity.id == first.activity.id
    assert len(first.activity.idempotency_key) <= 128
    fu, created = add_follow_up(
        services.session_factory,
        ws,
        customer_id=acme.id,
        owner_user_id=REP,
        due_at=LATER,
        actor=Actor(REP),
        now=NOW,
        idempotency_key=key,
    )
    assert created and len(fu.idempotency_key) <= 128


def test_concurrent_follow_ups_with_one_key_save_once(services, ws, acme):
    results, errors = [], []
    barrier = threading.Barrier(8)

    def worker():
        barrier.wait()
        try:
            results.append(
                add_follow_up(
                    services.session_factory,
                    ws,
                    customer_id=acme.id,
                    owner_user_id=REP,
                    due_at=LATER,
                    actor=Actor(REP),
                    now=NOW,
                    idempotency_key="view:RACE",
                )
            )
        except Exception as exc:  # report, don't hide
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sum(created for _, created in results) == 1 and len({f.id for f, _ in results}) == 1
    assert len(rows(services, FollowUp)) == 1 and [e.action for e in audit(services, "follow_up")] == ["create"]


NY_REP = Actor(REP, tz="America/New_York")


@pytest.mark.parametrize(
    ("text", "day", "expected"),
    [
        ("next friday", None, datetime(2026, 3, 6, 14, 0, tzinfo=UTC)),  # Fri 6 Mar, 09:00 EST
        (None, "2026-03-10", datetime(2026, 3, 10, 13, 0, tzinfo=UTC)),  # 09:00 EDT that day
        ("  ", None, None),
        (None, None, None),
    ],
)
def test_a_follow_up_is_due_when_its_text_or_its_date_says(text, day, expected):
    assert read_due(NY_REP, NOW, text, day) == expected


@pytest.mark.parametrize(
    ("text", "day", "field", "message"),
    [
        ("friday", "2026-03-10", "follow_up", "not both"),
        ("yesterday", None, "follow_up", "in the past"),
        ("when pigs fly", None, "follow_up", "couldn't read"),
        (None, "2026-03-04", "follow_up_date", "in the past"),  # 09:00 in New York has passed
        (None, "2026-13-40", "follow_up_date", "Pick a date from the calendar"),
        (None, "9999-12-31", "follow_up_date", None),  # a real date: fine, if far
        (None, "99999-01-01", "follow_up_date", "Pick a date from the calendar"),
    ],
)
def test_a_follow_up_date_that_cannot_be_is_refused_naming_its_field(text, day, field, message):
    if message is None:
        assert read_due(NY_REP, NOW, text, day) is not None
        return
    with pytest.raises(InvalidInput) as err:
        read_due(NY_REP, NOW, text, day)
    assert err.value.field == field and message in err.value.message
