"""Merging duplicate contacts, and undoing it, on real SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from crm import customers as svc
from crm import dedupe
from crm.actors import Actor
from crm.errors import InvalidInput, NotFound, PermissionDenied
from crm.models import Activity, AuditEntry, Contact, CustomField, CustomFieldValue
from tests.conftest import ADMIN, REP

BOSS = Actor(ADMIN, is_admin=True)


def _contact_row(services, contact_id: int) -> dict:
    with services.session_factory() as s:
        c = s.get(Contact, contact_id)
        return {
            name: getattr(c, name)
            for name in ("customer_id", "name", "email", "phone", "mobile_phone", "title", "city", "merged_into_id")
        } | {"deleted": c.deleted_at is not None}


def _field_value(services, ws: int, record_id: int, text: str) -> int:
    with services.session_factory.begin() as s:
        field = s.scalars(select(CustomField).where(CustomField.workspace_id == ws, CustomField.key == "tier")).first()
        if field is None:
            field = CustomField(workspace_id=ws, entity="contact", key="tier", label="Tier", type="text")
            s.add(field)
            s.flush()
        value = CustomFieldValue(workspace_id=ws, entity="contact", record_id=record_id, field_id=field.id)
        value.value_text = text
        s.add(value)
        s.flush()
        return value.id


def _seed(services, make):
    acme = make.customer("Acme Corporation")
    keeper = make.contact(acme, svc.ContactInput(name="Jane Doe", email="jane@acme.com"))
    dup = make.contact(
        acme,
        svc.ContactInput(name="Dr. Jane Q. Doe", phone="+1 415 555 0100", title="CTO"),
        force_name=True,
    )
    mine = [make.activity(acme, f"call {i}", contact=dup) for i in range(3)]
    theirs = make.activity(acme, "keeper's call", contact=keeper)
    return acme, keeper, dup, mine, theirs


def test_merge_moves_activities_fills_details_and_undo_restores_exactly(services, ws, make):
    sf, reg = services.session_factory, services.search
    acme, keeper, dup, mine, theirs = _seed(services, make)
    value_id = _field_value(services, ws, dup.id, "gold")
    before_keeper, before_dup = _contact_row(services, keeper.id), _contact_row(services, dup.id)

    with pytest.raises(PermissionDenied):
        svc.merge_contacts(sf, reg, ws, dup.id, keeper.id, actor=Actor(REP))
    with pytest.raises(InvalidInput):
        svc.merge_contacts(sf, reg, ws, dup.id, dup.id, actor=BOSS)
    preview = svc.contact_merge_preview(sf, ws, dup.id, keeper.id)
    assert preview.activities == 3 and preview.filled == ("phone", "title")

    result = svc.merge_contacts(sf, reg, ws, dup.id, keeper.id, actor=BOSS)
    assert result.activities == 3 and result.filled == ("phone", "title")
    with sf() as s:
        assert {a.contact_id for a in s.scalars(select(Activity).where(Activity.customer_id == acme.id))} == {keeper.id}
        assert s.get(CustomFieldValue, value_id).record_id == keeper.id
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "merge")).one()
        assert entry.entity_type == "contact" and entry.created_by == ADMIN
        assert sorted(entry.after["moved"]["activities"]) == sorted(a.id for a in mine)
    merged_keeper, merged_dup = _contact_row(services, keeper.id), _contact_row(services, dup.id)
    assert (merged_keeper["phone"], merged_keeper["title"]) == ("+14155550100", "CTO")
    assert merged_dup["merged_into_id"] == keeper.id and merged_dup["deleted"]
    assert [c.id for c in svc.list_contacts(sf, ws, acme.id)] == [keeper.id]
    with pytest.raises(svc.AlreadyMerged, match="already merged"):  # a replayed confirmation
        svc.merge_contacts(sf, reg, ws, dup.id, keeper.id, actor=BOSS)

    with pytest.raises(PermissionDenied):
        svc.undo_contact_merge(sf, reg, ws, dup.id, keeper.id, actor=Actor(REP))
    undone = svc.undo_contact_merge(sf, reg, ws, dup.id, keeper.id, actor=BOSS)
    assert undone.activities == 3 and undone.kept_as_is == ()
    assert _contact_row(services, keeper.id) == before_keeper
    assert _contact_row(services, dup.id) == before_dup
    with sf() as s:
        assert s.get(Activity, theirs.id).contact_id == keeper.id
        assert {s.get(Activity, a.id).contact_id for a in mine} == {dup.id}
        assert s.get(CustomFieldValue, value_id).record_id == dup.id
        actions = s.scalars(select(AuditEntry.action).where(AuditEntry.entity_type == "contact")).all()
        assert actions.count("merge") == 1 and actions.count("unmerge") == 1
    with pytest.raises(svc.NotMerged, match="nothing to undo"):  # a replayed undo
        svc.undo_contact_merge(sf, reg, ws, dup.id, keeper.id, actor=BOSS)
    # Merged again after the undo: works as the first time.
    assert svc.merge_contacts(sf, reg, ws, dup.id, keeper.id, actor=BOSS).activities == 3


def test_undo_leaves_what_was_changed_since_and_says_so(services, ws, make):
    sf, reg = services.session_factory, services.search
    acme, keeper, dup, _, _ = _seed(services, make)
    svc.merge_contacts(sf, reg, ws, dup.id, keeper.id, actor=BOSS)
    with sf.begin() as s:  # edited after the merge
        s.get(Contact, keeper.id).title = "CEO"
    later = make.activity(acme, "after the merge", contact=keeper)
    undone = svc.undo_contact_merge(sf, reg, ws, dup.id, keeper.id, actor=BOSS)
    assert undone.filled == ("phone",) and undone.kept_as_is == ("title",)
    with sf() as s:
        assert s.get(Contact, keeper.id).title == "CEO" and s.get(Contact, dup.id).title == "CTO"
        assert s.get(Activity, later.id).contact_id == keeper.id  # logged with the keeper: stays


def test_merging_across_workspaces_or_into_a_removed_contact_is_refused(services, ws, make):
    sf, reg = services.session_factory, services.search
    _, keeper, dup, _, _ = _seed(services, make)
    other_ws = services.workspace_id("T0OTHER")
    with pytest.raises(NotFound):
        svc.merge_contacts(sf, reg, other_ws, dup.id, keeper.id, actor=BOSS)
    svc.delete_contact(sf, reg, ws, keeper.id, actor=REP)
    with pytest.raises(Exception, match="merged or removed"):
        svc.merge_contacts(sf, reg, ws, dup.id, keeper.id, actor=BOSS)


def test_the_report_proposes_the_contact_with_more_activities_as_keeper(services, ws, make):
    acme = make.customer("Acme Corporation")
    older = make.contact(acme, svc.ContactInput(name="Wile E Coyote", email="wile@acme.com"))
    busy = make.contact(make.customer("Acme Rockets", force=True), svc.ContactInput(name="Wile Coyote"))
    with services.session_factory.begin() as s:  # the same email on a second record, as an import leaves it
        s.get(Contact, busy.id).email = "wile@acme.com"
    make.activity(acme, "call", contact=busy)
    [pair] = dedupe.find_duplicates(services.session_factory, ws).contacts
    assert (pair.first_id, pair.second_id) == (older.id, busy.id)
    assert dedupe.contact_keeper(1, 2, {}) == (2, 1)  # as busy: the older is kept
