"""crm/insights.py: who-talked aggregates and deliveries claimed once (on SQLite and PostgreSQL),
and the in-text customer finder (pure, with a speed check on 100k generated names)."""

from __future__ import annotations

import importlib.util
import random
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from crm import customers as svc
from crm import insights
from crm.actors import Actor
from crm.errors import NotFound
from crm.insights import NameDictionary
from crm.models import Activity
from crm.normalize import normalize_name
from tests.conftest import REP, REP2

NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)


# -- services ---------------------------------------------------------------------------------


def add_activities(services, ws, customer_id, rows) -> None:
    """rows: (rep, type, days ago, summary, contact id or None[, deleted])."""
    with services.session_factory.begin() as s:
        for rep, type_key, days, summary, contact_id, *deleted in rows:
            s.add(
                Activity(
                    workspace_id=ws,
                    customer_id=customer_id,
                    contact_id=contact_id,
                    type_key=type_key,
                    summary=summary,
                    occurred_at=NOW - timedelta(days=days),
                    created_by=rep,
                    deleted_at=NOW if deleted and deleted[0] else None,
                )
            )


def add_contact(services, ws, customer_id, name) -> int:
    contact = svc.add_contact(
        services.session_factory, services.search, ws, customer_id, svc.ContactInput(name=name), actor=REP
    )
    return contact.id


def test_who_talked_summarises_each_rep(services, ws, make):
    acme = make.customer("Acme Corporation", owner_user_id=REP2)
    other = make.customer("Globex")
    jane = add_contact(services, ws, acme.id, "Jane Doe")
    bob = add_contact(services, ws, acme.id, "Bob Stone")
    add_activities(
        services,
        ws,
        acme.id,
        [
            (REP, "call", 10, "intro call", jane),
            (REP, "call", 3, "pricing call", bob),
            (REP, "email", 5, "sent the deck", jane),
            (REP2, "meeting", 1, "renewal meeting", jane),
            (REP2, "call", 0.5, "deleted call", bob, True),  # deleted: never counted
            ("import", "note", 400, "imported note", None),
        ],
    )
    add_activities(services, ws, other.id, [(REP, "call", 0, "someone else", None)])

    result = insights.who_talked(services.session_factory, ws, acme.id)

    assert (result.customer_name, result.owner_user_id) == ("Acme Corporation", REP2)
    assert (result.rep_count, result.activity_count, result.more_reps) == (3, 5, 0)
    assert [r.rep for r in result.reps] == [REP2, REP, "import"]  # most recent last touch first
    rep2, rep, imported = result.reps
    assert rep2.total == 1 and rep2.by_type == (("meeting", 1),)
    assert rep2.last_summary == "renewal meeting" and rep2.contacts == ("Jane Doe",)
    assert rep.total == 3 and rep.by_type == (("call", 2), ("email", 1))
    assert (rep.last_type, rep.last_summary) == ("call", "pricing call")
    assert rep.last_at == NOW - timedelta(days=3) and rep.last_at.tzinfo is not None
    assert rep.contacts == ("Bob Stone", "Jane Doe") and rep.contact_count == 2  # most recent first
    assert imported.contacts == () and imported.contact_count == 0


def test_who_talked_limits_reps_and_counts_the_rest(services, ws, make):
    acme = make.customer("Acme Corporation")
    add_activities(services, ws, acme.id, [(f"U{i:04d}", "call", i, f"call {i}", None) for i in range(60)])
    result = insights.who_talked(services.session_factory, ws, acme.id, limit=15, contacts_per_rep=2)
    assert (result.rep_count, len(result.reps), result.more_reps) == (60, 15, 45)
    assert [r.rep for r in result.reps] == [f"U{i:04d}" for i in range(15)]


def test_who_talked_with_nobody_and_for_missing_customers(services, ws, make):
    acme = make.customer("Acme Corporation")
    empty = insights.who_talked(services.session_factory, ws, acme.id)
    assert (empty.reps, empty.rep_count, empty.activity_count) == ([], 0, 0)
    with pytest.raises(NotFound):
        insights.who_talked(services.session_factory, ws, 999_999)
    other_ws = services.workspace_id("T0OTHER")
    with pytest.raises(NotFound):  # another workspace's customer is not there
        insights.who_talked(services.session_factory, other_ws, acme.id)


def test_claim_delivery_is_once_per_key_and_workspace(services, ws):
    sf = services.session_factory
    assert insights.claim_delivery(sf, ws, "event:Ev1", "mention:C1:1.1")
    assert not insights.claim_delivery(sf, ws, "event:Ev1")
    assert not insights.claim_delivery(sf, ws, "event:Ev2", "mention:C1:1.1")  # shares one key
    assert insights.claim_delivery(sf, ws, "event:Ev2")  # the failed claim left nothing behind
    assert insights.claim_delivery(sf, services.workspace_id("T0OTHER"), "event:Ev1")
    assert insights.claim_delivery(sf, ws, "x" * 500) and not insights.claim_delivery(sf, ws, "x" * 600)


def test_customers_in_text_by_name_email_and_domain(services, ws, make):
    acme = make.customer("Acme Robotics", website="acme-robotics.com")
    globex = make.customer("Globex", contact=svc.ContactInput(name="Hank Scorpio", email="hank@gmail.com"))
    apple = make.customer("Apple Inc.")
    registry = insights.MentionRegistry(services.session_factory, recheck_seconds=0)

    def found(text, **kw):
        refs = insights.customers_in_text(services.session_factory, registry, services.search, ws, text, **kw)
        return [(r.id, r.how) for r in refs]

    assert found("Call with ACME robotics tomorrow") == [(acme.id, "name")]
    assert found("mail from someone@acme-robotics.com") == [(acme.id, "domain")]
    assert found("see https://www.acme-robotics.com/pricing") == [(acme.id, "domain")]
    assert found("hank@gmail.com wrote back") == [(globex.id, "email")]
    assert found("bob@gmail.com wrote back") == []  # free mail says nothing about the company
    assert found("an apple a day") == [] and found("Apple renewed") == [(apple.id, "name")]
    assert found("apple", relaxed=True) == [(apple.id, "name")]
    # Changes made anywhere show up at the next version check: a new customer, a rename (the
    # old name stays an alias), a merge (the duplicate is gone; its name leads to the keeper).
    initech = make.customer("Initech")
    assert found("Initech and Globex") == [(initech.id, "name"), (globex.id, "name")]
    svc.update_customer(
        services.session_factory,
        services.search,
        ws,
        initech.id,
        actor=REP,
        name="Initrode",
        website=None,
        owner_user_id=None,
    )
    assert found("Initrode, formerly Initech") == [(initech.id, "name")]
    svc.merge_customers(
        services.session_factory, services.search, ws, initech.id, globex.id, actor=Actor(REP, is_admin=True)
    )
    assert found("Initrode and Globex") == [(globex.id, "name")]


# -- the in-text finder (pure) ---------------------------------------------------------------
NAMES = [
    "Apple Inc.",
    "Acme Corporation",
    "Acme Robotics",
    "On",
    "Blue Sky Ltd",
    "GE",
    "Procter & Gamble",
    "The Home Depot",
    "Müller GmbH",
    "Globex",
    "Globex",  # two customers with one name: both reported
    "Summit",
]


@pytest.fixture(scope="module")
def names() -> NameDictionary:
    d = NameDictionary()
    for i, name in enumerate(NAMES):
        d.add(i, [normalize_name(name)])
    return d


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Apple renewed today", [0]),
        ("Call the Apple team", [0]),
        ("Apple's renewal is due", [0]),
        ("I ate an apple", []),
        ("An apple a day", []),
        ("An Apple engineer called", []),  # an article before a common word: not confident
        ("apple pie", []),
        ("Pineapple and snapple", []),  # whole words only
        ("Had a call with ACME robotics and acme.", [2, 1]),  # longest name first, then the shorter
        ("acme corp. is late", [1]),
        ("on the blue sky", []),
        ("Blue Sky called", [4]),
        ("It's On", []),  # a function word is never a name in free text
        ("GE and ge", [5]),
        ("(Procter & Gamble) replied", [6]),
        ("Called the home depot", [7]),
        ("müller and MULLER", [8]),
        ("globex!", [9, 10]),
        ("we reached the summit", []),
        ("Summit wants a demo", [11]),
        ("", []),
        ("🚀🔥 <!channel> %_% '; DROP TABLE", []),
    ],
)
def test_find_names_in_text(names, text, expected):
    assert [m.customer_id for m in names.find(text)] == expected


def test_relaxed_finds_lowercase_common_words_but_never_function_words(names):
    assert [m.customer_id for m in names.find("apple", relaxed=True)] == [0]
    assert names.find("on", relaxed=True) == []


def test_add_remove_and_replace(names):
    d = NameDictionary()
    d.add(1, ["acme"])
    d.add(2, ["acme", "globex"])
    assert [m.customer_id for m in d.find("acme")] == [1, 2]
    d.remove(1)
    assert [m.customer_id for m in d.find("acme globex")] == [2]
    d.add(2, ["initech"])  # replaces its names
    assert d.find("acme globex") == [] and len(d) == 1
    d.add(3, ["a b c d e f g"])  # longer than MAX_NGRAM: never found, so not kept
    assert d.find("a b c d e f g") == []


def _load_datagen():
    path = Path(__file__).resolve().parents[2] / "bench" / "datagen.py"
    if not path.exists():
        return None
    spec = importlib.util.spec_from_file_location("_datagen", path)
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    sys.modules.setdefault("_datagen", module)  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_the_finder_finds_one_name_among_20k_in_a_long_text():
    # Its speed at 100k names is measured by bench/bench_finder.py, not here.
    datagen = _load_datagen()
    if datagen is not None:
        generated = [c.name for c in datagen.generate(20_000)]
    else:  # bench/ not in this checkout: random invented names
        rng = random.Random(7)
        syllables = "ka lo mi ne su ta ri vo ze pa".split()
        generated = [
            " ".join("".join(rng.choices(syllables, k=3)).title() for _ in range(rng.randint(1, 3)))
            for _ in range(20_000)
        ]
    d = NameDictionary()
    for i, name in enumerate(generated):
        d.add(i, [normalize_name(name)])
    needle = generated[14_321]
    text = ("We talked about the renewal and the next steps with the team, " * 60) + f"then {needle} called."
    found = d.find(text)
    assert 14_321 in {m.customer_id for m in found} or normalize_name(needle).count(" ") >= 6
