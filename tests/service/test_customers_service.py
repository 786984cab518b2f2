"""Customer services on real SQLite and PostgreSQL: duplicate guard, contacts, merge, freshness."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from crm import customers as svc
from crm.actors import Actor
from crm.errors import DuplicateSuspected, InvalidInput, NotFound, PermissionDenied
from crm.lookup import SearchRegistry
from crm.models import Activity, AuditEntry, Contact, Customer, CustomerAlias, Deal, FollowUp
from tests.support.make import Make

REP, ADMIN = "U0REP", "U0ADMIN"


def test_create_with_first_contact(services, ws, make):
    c = make.customer(
        "  Acme   Corporation ",
        website="https://www.acme.com/about",
        contact=svc.ContactInput(name="Jane Doe", email="Jane@Acme.com", phone="+1 (415) 555-0100", title="CTO"),
    )
    assert c.name == "Acme Corporation" and c.domain == "acme.com" and c.owner_user_id == REP
    with services.session_factory() as s:
        contact = s.scalars(select(Contact).where(Contact.customer_id == c.id)).one()
        assert contact.email == "jane@acme.com"
        assert contact.phone == "+14155550100"
        actions = s.scalars(select(AuditEntry.action).where(AuditEntry.workspace_id == ws)).all()
        assert sorted(actions) == ["create", "create"]
        assert c.created_by == REP and c.created_at is not None


@pytest.mark.parametrize(
    ("second", "kw", "reason"),
    [
        ("ACME Corp.", {}, "same name"),
        ("acme inc", {}, "same name"),
        ("Roadrunner Supplies", {"website": "acme.com"}, "same website"),
        ("Roadrunner Supplies", {"contact": svc.ContactInput(name="Wile", email="wile@acme.com")}, "website matches"),
        ("Acmee Corporation", {}, "similar name"),
    ],
)
def test_duplicate_guard(services, ws, second, kw, reason, make):
    first = make.customer("Acme Corporation", website="acme.com")
    with pytest.raises(DuplicateSuspected) as err:
        make.customer(second, **kw)
    [candidate] = err.value.candidates
    assert candidate.customer_id == first.id
    assert any(reason in r for r in candidate.reasons), candidate.reasons


@pytest.mark.parametrize(
    ("existing", "typed"),
    [("Cyberdyne Trading", "cyberdine"), ("Initech Consulting", "initek"), ("Globex Electronics", "globx")],
)
def test_duplicate_guard_catches_a_one_word_typo_of_a_longer_name(services, ws, make, existing, typed):
    first = make.customer(existing)
    make.customer("Umbrella Pharmaceuticals")
    with pytest.raises(DuplicateSuspected) as err:
        make.customer(typed)
    assert [c.customer_id for c in err.value.candidates] == [first.id]
    result = svc.find_customers(services.session_factory, services.search, ws, typed)
    assert result.kind == "winner" and result.winner is not None and result.winner.id == first.id


def test_contact_email_duplicate_is_caught_even_on_free_mail(services, ws, make):
    make.customer("Acme", contact=svc.ContactInput(name="Jo", email="jo.smith@gmail.com"))
    with pytest.raises(DuplicateSuspected) as err:
        make.customer("Jo Smith Consulting", contact=svc.ContactInput(name="Jo", email="jo.smith@gmail.com"))
    assert "has contact jo.smith@gmail.com" in err.value.candidates[0].reasons
    # A gmail address says nothing about the company: no domain match for another gmail user.
    make.customer("Other Co", contact=svc.ContactInput(name="Al", email="al@gmail.com"))


def test_create_anyway_is_recorded_with_who_chose_it(services, ws, make):
    make.customer("Globex")
    twin = make.customer("Globex", force=True)
    assert twin.duplicate_override_by == REP
    with services.session_factory() as s:
        note = s.scalar(select(AuditEntry.note).where(AuditEntry.entity_id == twin.id, AuditEntry.action == "create"))
    assert "created anyway" in note and "Globex" in note


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"name": "   "}, "name"),
        ({"name": "!!!"}, "name"),
        ({"name": "x" * 300}, "name"),
        ({"name": "Initech", "website": "not a website"}, "website"),
        ({"name": "Initech", "website": "bob@initech.com"}, "website"),
        ({"name": "Initech", "contact": svc.ContactInput(name="Bob", email="bob@")}, "contact_email"),
        ({"name": "Initech", "contact": svc.ContactInput(name="Bob", phone="call me")}, "contact_phone"),
    ],
)
def test_invalid_values_name_their_field_and_write_nothing(services, ws, kw, field):
    with pytest.raises(InvalidInput) as err:
        svc.create_customer(services.session_factory, services.search, ws, actor=REP, **kw)
    assert err.value.field == field
    with services.session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Customer)) == 0


def test_two_people_creating_the_same_company_at_once_get_one(services, ws, make):
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def attempt(name: str) -> None:
        barrier.wait()
        try:
            make.customer(name)
            outcomes.append("created")
        except DuplicateSuspected:
            outcomes.append("duplicate")

    threads = [threading.Thread(target=attempt, args=(n,)) for n in ("Hooli", "HOOLI Inc.", "hooli llc", "Hooli")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["created", "duplicate", "duplicate", "duplicate"]
    with services.session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Customer)) == 1


def test_another_replicas_index_sees_changes_within_its_recheck(services, ws, make):
    other = SearchRegistry(services.session_factory, recheck_seconds=0)
    assert other.search(ws, "umbrella") == []
    c = make.customer("Umbrella Corporation")
    assert other.search(ws, "umbrela corp")[0].customer_id == c.id
    svc.update_customer(
        services.session_factory,
        services.search,
        ws,
        c.id,
        actor=REP,
        name="Umbrella Pharma",
        website=None,
        owner_user_id=None,
    )
    with services.session_factory() as s:
        assert s.scalars(select(CustomerAlias.alias).where(CustomerAlias.customer_id == c.id)).all() == [
            "Umbrella Corporation"
        ]
    # The old name stays findable as an alias, on both replicas.
    assert other.search(ws, "Umbrella Corporation")[0].customer_id == c.id
    assert other.search(ws, "umbrella pharma")[0].matched == "Umbrella Pharma"


def test_lookup_by_contact_email_and_domain(services, ws, make):
    c = make.customer(
        "Stark Industries",
        website="stark.com",
        contact=svc.ContactInput(name="Pepper Potts", email="pepper@starkmail.io"),
    )
    for query in (
        "pepper@starkmail.io",
        "tony@stark.com",
        "https://www.stark.com/",
        "Pepper Potts",
        "stark industries",
    ):
        result = svc.find_customers(services.session_factory, services.search, ws, query)
        assert result.winner is not None and result.winner.id == c.id, query


def test_workspaces_never_see_each_other(services, ws, make):
    other = Make(services, team_id="T0OTHER")
    other_ws = other.ws
    other.customer("Wayne Enterprises")
    assert svc.find_customers(services.session_factory, services.search, ws, "Wayne Enterprises").kind == "none"
    mine = make.customer("Wayne Enterprises")  # no duplicate across workspaces
    with pytest.raises(NotFound):
        svc.get_customer(services.session_factory, other_ws, mine.id)


def test_contacts_duplicate_rules(services, ws, make):
    acme = make.customer("Acme")
    globex = make.customer("Globex")
    sf, reg = services.session_factory, services.search
    bob = svc.add_contact(sf, reg, ws, acme.id, svc.ContactInput(name="Bob Stone", email="bob@acme.com"), actor=REP)
    with pytest.raises(InvalidInput) as err:
        svc.add_contact(sf, reg, ws, globex.id, svc.ContactInput(name="Robert", email="BOB@acme.com"), actor=REP)
    assert err.value.field == "contact_email"
    with pytest.raises(DuplicateSuspected):
        svc.add_contact(sf, reg, ws, acme.id, svc.ContactInput(name="bob  stone"), actor=REP)
    # Same name at another customer is fine; at the same one only when forced.
    svc.add_contact(sf, reg, ws, globex.id, svc.ContactInput(name="Bob Stone"), actor=REP)
    svc.add_contact(sf, reg, ws, acme.id, svc.ContactInput(name="Bob Stone"), actor=REP, force_name=True)
    edited = svc.update_contact(
        sf,
        reg,
        ws,
        bob.id,
        svc.ContactInput(name="Bob Stone", email="b.stone@acme.com", title="VP"),
        actor=REP,
        force_name=True,
    )
    assert edited.email == "b.stone@acme.com"
    svc.delete_contact(sf, reg, ws, bob.id, actor=REP)
    with sf() as s:
        row = s.get(Contact, bob.id)
        assert row.deleted_at is not None and row.deleted_by == REP  # soft: still there
        actions = s.scalars(
            select(AuditEntry.action).where(AuditEntry.entity_type == "contact", AuditEntry.entity_id == bob.id)
        ).all()
        assert actions == ["create", "update", "delete"]


def _seed_history(services, ws, customer_id, n_activities=3):
    now = datetime(2026, 11, 20, 12, tzinfo=UTC)
    with services.session_factory.begin() as s:
        contact = Contact(workspace_id=ws, customer_id=customer_id, name="Dup Contact", normalized_name="dup contact")
        s.add(contact)
        s.add(Deal(workspace_id=ws, customer_id=customer_id, title="Renewal", stage="proposal", amount_minor=120000))
        for i in range(n_activities):
            s.add(
                Activity(
                    workspace_id=ws,
                    customer_id=customer_id,
                    type_key="call",
                    summary=f"call {i}",
                    occurred_at=now - timedelta(days=i),
                    created_by=REP,
                )
            )
        s.add(FollowUp(workspace_id=ws, customer_id=customer_id, owner_user_id=REP, due_at=now + timedelta(days=2)))


def test_merge_moves_everything_and_keeps_the_old_name(services, ws, make):
    sf, reg = services.session_factory, services.search
    keeper = make.customer("Initech", website="initech.com")
    dup = make.customer("Initech Software Ltd (old)", force=True)
    _seed_history(services, ws, dup.id)
    with pytest.raises(PermissionDenied):
        svc.merge_customers(sf, reg, ws, dup.id, keeper.id, actor=Actor(REP))
    preview = svc.merge_preview(sf, ws, dup.id, keeper.id)
    assert (preview.contacts, preview.deals, preview.activities, preview.follow_ups) == (1, 1, 3, 1)
    svc.merge_customers(sf, reg, ws, dup.id, keeper.id, actor=Actor(ADMIN, is_admin=True))
    with sf() as s:
        for model in (Contact, Deal, Activity, FollowUp):
            assert s.scalar(select(func.count()).select_from(model).where(model.customer_id == keeper.id)) >= 1
            assert s.scalar(select(func.count()).select_from(model).where(model.customer_id == dup.id)) == 0
        old = s.get(Customer, dup.id)
        assert old.merged_into_id == keeper.id and old.deleted_at is not None  # kept, not dropped
        assert s.scalar(select(CustomerAlias.alias).where(CustomerAlias.customer_id == keeper.id)) == dup.name
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "merge")).one()
        assert entry.created_by == ADMIN and entry.after["moved"]["activities"] == 3
    # Links to the old record lead to the keeper; the old name finds the keeper.
    assert svc.get_customer(sf, ws, dup.id).id == keeper.id
    result = svc.find_customers(sf, reg, ws, "Initech Software Ltd (old)")
    assert result.matches[0].customer_id == keeper.id
    # A second merge of the same pair is refused rather than repeated.
    with pytest.raises(Exception, match="already merged"):
        svc.merge_customers(sf, reg, ws, dup.id, keeper.id, actor=Actor(ADMIN, is_admin=True))


def test_card_counts_and_history_paging(services, ws, make):
    sf = services.session_factory
    c = make.customer("Cyberdyne Systems")
    _seed_history(services, ws, c.id, n_activities=23)
    card = svc.customer_card(sf, ws, c.id, contacts=10, activities=5)
    assert card.activity_count == 23 and len(card.activities) == 5
    assert card.activities[0].summary == "call 0"  # newest first
    assert card.next_follow_up is not None and card.open_deal_count == 1
    page3 = svc.customer_history(sf, ws, c.id, page=3, per_page=10)
    assert page3.pages == 3 and [a.summary for a in page3.activities] == ["call 20", "call 21", "call 22"]
