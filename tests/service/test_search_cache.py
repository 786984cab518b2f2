"""Search indexes per workspace: built lazily, kept in a bounded LRU cache, and answered from the
database (pg_trgm on PostgreSQL, a bounded fallback on SQLite) while a big workspace warms."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from crm import customers as svc
from crm.errors import DuplicateSuspected
from crm.lookup import SearchRegistry
from crm.models import Customer, Workspace
from crm.normalize import normalize_name
from crm.search_cold import has_trigrams
from tests.support.make import Make

NAMES = ["Cyberdyne Trading", "Initech Consulting", "Globex Electronics", "Umbrella Pharma", "Stark Industries"]


def _workspace(services, team: str, names=NAMES) -> int:
    make = Make(services, team_id=team)
    make.customers(names)
    return make.ws


def _top(registry: SearchRegistry, ws: int, query: str) -> int | None:
    matches = registry.search(ws, query, limit=5)
    return matches[0].customer_id if matches else None


def _id(services, ws: int, name: str) -> int:
    with services.session_factory() as s:
        return s.scalar(text("SELECT id FROM customers WHERE workspace_id = :ws AND name = :n"), {"ws": ws, "n": name})


def test_indexes_are_built_on_first_use_and_the_least_recently_used_is_evicted(services):
    a, b, c = (_workspace(services, t) for t in ("T0A", "T0B", "T0C"))
    registry = SearchRegistry(services.session_factory, max_workspaces=2)
    assert registry.cached_workspaces() == [] and not registry.is_warm(a)  # nothing built before use
    assert _top(registry, a, "cyberdine") == _id(services, a, "Cyberdyne Trading")
    assert registry.is_warm(a) and not registry.is_warm(b)
    assert _top(registry, b, "initek") == _id(services, b, "Initech Consulting")
    assert _top(registry, a, "globx") == _id(services, a, "Globex Electronics")  # a is now the most recent
    assert _top(registry, c, "stark") == _id(services, c, "Stark Industries")
    assert registry.cached_workspaces() == [a, c] and registry.evictions == 1  # b went
    assert _top(registry, b, "umbrela pharma") == _id(services, b, "Umbrella Pharma")  # built again
    assert registry.cached_workspaces() == [c, b]


def test_refresh_of_a_workspace_not_held_builds_nothing(services):
    a = _workspace(services, "T0A")
    registry = SearchRegistry(services.session_factory)
    registry.refresh(a)
    assert registry.cached_workspaces() == []


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("cyberdine", "Cyberdyne Trading"),
        ("initech consultng", "Initech Consulting"),
        ("globex", "Globex Electronics"),
        ("Umbrella Pharma Inc", "Umbrella Pharma"),
    ],
)
def test_a_cold_big_workspace_is_answered_from_the_database_while_it_warms(services, query, expected):
    filler = [f"Filler Company {i}" for i in range(300)]
    a = _workspace(services, "T0A", NAMES + filler)
    registry = SearchRegistry(services.session_factory, sync_build_max=100, background=False)
    assert _top(registry, a, query) == _id(services, a, expected)
    assert registry.cold_answers == 1 and not registry.is_warm(a)
    with services.session_factory() as s:
        assert has_trigrams(s) == (s.get_bind().dialect.name == "postgresql")  # migration 0008
    registry.warm_now(a)  # the background build, here in the test's thread
    assert registry.is_warm(a)
    assert _top(registry, a, query) == _id(services, a, expected)
    assert registry.cold_answers == 1  # warm now: the index answered


def test_the_duplicate_guard_works_on_a_cold_workspace(services):
    make = Make(services, team_id="T0A")
    make.customers(NAMES + [f"Filler Company {i}" for i in range(300)])
    registry = SearchRegistry(services.session_factory, sync_build_max=100, background=False)
    with pytest.raises(DuplicateSuspected):
        svc.create_customer(services.session_factory, registry, make.ws, actor="U0REP", name="Cyberdyne Tradng")
    assert registry.cold_answers == 1


def test_a_replica_sees_changes_made_on_another_warm_or_cold(services):
    a = _workspace(services, "T0A")
    sf = services.session_factory
    writer = SearchRegistry(sf, recheck_seconds=0)
    warm = SearchRegistry(sf, recheck_seconds=0)
    cold = SearchRegistry(sf, sync_build_max=0, background=False)
    assert _top(warm, a, "cyberdyne") is not None  # built
    new = svc.create_customer(sf, writer, a, actor="U0REP", name="Wayne Enterprises")
    assert _top(warm, a, "wayne enterprises") == new.id  # search_version moved: reloaded
    assert _top(cold, a, "wayne enterprises") == new.id  # read from the database
    svc.merge_customers(sf, writer, a, new.id, _id(services, a, "Stark Industries"), actor=_admin())
    assert _top(warm, a, "wayne enterprises") == _id(services, a, "Stark Industries")  # the former name


def _admin():
    from crm.actors import Actor

    return Actor("U0ADMIN", is_admin=True)


def test_without_the_right_to_create_pg_trgm_migrations_go_on_and_look_up_falls_back(request):
    """A role that may create tables but not extensions: migration 0008 skips the trigram
    indexes, and a cold look-up uses the bounded fallback."""
    import uuid

    from sqlalchemy import create_engine

    from crm.db import make_engine, make_session_factory
    from crm.migrate import head_revision, upgrade
    from tests.conftest import PG_ADMIN_URL

    request.getfixturevalue("pg_database")  # skips (or fails in CI) when PostgreSQL is absent
    name, role = f"crm_notrgm_{uuid.uuid4().hex[:8]}", f"crm_limited_{uuid.uuid4().hex[:6]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
        conn.execute(text(f"CREATE ROLE {role} LOGIN"))
    owner = create_engine(PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name, isolation_level="AUTOCOMMIT")
    with owner.connect() as conn:  # tables in public, but no CREATE on the database (no extensions)
        conn.execute(text(f"GRANT USAGE, CREATE ON SCHEMA public TO {role}"))
    owner.dispose()
    url = PG_ADMIN_URL.rsplit("@", 1)[0].rsplit("//", 1)[0] + f"//{role}@" + PG_ADMIN_URL.rsplit("@", 1)[1]
    engine = make_engine(url.rsplit("/", 1)[0] + "/" + name)
    try:
        assert upgrade(engine) == head_revision()
        sf = make_session_factory(engine)
        with sf() as s:
            assert not has_trigrams(s)
        with sf.begin() as s:
            workspace = Workspace(team_id="T0X", search_version=1)
            s.add(workspace)
            s.flush()
            ws = workspace.id
            for n in NAMES + [f"Filler Company {k}" for k in range(50)]:
                s.add(Customer(workspace_id=ws, name=n, normalized_name=normalize_name(n), index_version=1))
        registry = SearchRegistry(sf, sync_build_max=0, background=False)
        with sf() as s:
            want = s.scalar(text("SELECT id FROM customers WHERE name = 'Globex Electronics'"))
        assert _top(registry, ws, "globex electronic") == want and registry.cold_answers == 1
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f"DROP ROLE IF EXISTS {role}"))
        admin.dispose()
