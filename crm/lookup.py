"""One in-memory :class:`~crm.search.CustomerIndex` per workspace, kept in step with the database.

Every change to a customer, its aliases or its contacts bumps ``workspaces.search_version``
and stamps the customer with it (:func:`bump_search_version`). Before answering, a
registry compares its version with the database's (one primary-key read, at most once
per ``recheck_seconds``) and reloads only the customers stamped since. That keeps every
replica's index fresh within about a second of a change made anywhere, without ever
rescanning the table per keystroke.

Indexes are built on a workspace's first use and kept for at most ``max_workspaces``
workspaces, least recently used dropped first. A cold workspace too big to index within the
request (over :data:`SYNC_BUILD_MAX` customers) is answered from the database
(:mod:`crm.search_cold`) with the same scoring while its index builds in the background.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from sqlalchemy import Row, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from crm.models import Contact, Customer, CustomerAlias, Workspace
from crm.search import CustomerIndex, Match
from crm.search_cold import cold_candidates

log = logging.getLogger(__name__)

_LOAD_CHUNK = 5000
# A (re)load of the search index that took this long is logged at INFO; quicker ones at DEBUG.
SLOW_LOAD_SECONDS = 1.0
# Workspaces whose search index (and name dictionary) a replica keeps; the least recently used
# beyond this are dropped and built again when next used (CRM_SEARCH_CACHE_WORKSPACES).
DEFAULT_CACHE_WORKSPACES = 500
# A cold workspace with up to this many customers is indexed on its first use, in the request
# (about 1 s per 10,000 here); a bigger one is answered from the database while it warms.
SYNC_BUILD_MAX = 10_000
WARMERS = 2  # background index builds at once
T = TypeVar("T")


def bump_search_version(session: Session, workspace_id: int) -> int:
    """Advance the workspace's search version inside the caller's transaction.

    On PostgreSQL this also row-locks the workspace until commit, which serialises
    customer writes per workspace: the duplicate guard relies on that.
    """
    return session.execute(
        update(Workspace)
        .where(Workspace.id == workspace_id)
        .values(search_version=Workspace.search_version + 1)
        .returning(Workspace.search_version)
    ).scalar_one()


def touch_customer(session: Session, customer: Customer) -> None:
    """Mark a customer changed so every replica re-indexes it."""
    customer.index_version = bump_search_version(session, customer.workspace_id)


@dataclass
class _State(Generic[T]):
    value: T
    version: int = -1
    checked_at: float = float("-inf")
    lock: threading.Lock = field(default_factory=threading.Lock)


class WorkspaceCache(Generic[T]):
    """Something built per workspace from its customers, kept in step with the database.

    Subclasses say how to make an empty value (:meth:`empty`) and how to apply a batch of
    changed customer rows to it (:meth:`apply`). Before a value is handed out, the cache
    compares ``workspaces.search_version`` with the version it was built at (at most once per
    ``recheck_seconds``) and feeds it the customers stamped since.
    """

    what = "cache"

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        *,
        recheck_seconds: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
        max_workspaces: int = DEFAULT_CACHE_WORKSPACES,
    ) -> None:
        self.session_factory = session_factory
        self.recheck_seconds = recheck_seconds
        self.monotonic = monotonic
        self.max_workspaces = max(1, max_workspaces)
        self._states: OrderedDict[int, _State[T]] = OrderedDict()  # least recently used first
        self._lock = threading.Lock()
        self.evictions = 0

    def empty(self) -> T:
        raise NotImplementedError

    def apply(self, session: Session, value: T, rows: Sequence[Row]) -> None:
        """Add, replace or remove the customers in ``rows`` (id, name, normalized_name, domain,
        deleted_at, merged_into_id)."""
        raise NotImplementedError

    def get(self, workspace_id: int, *, force_check: bool = False) -> T:
        """The workspace's value, refreshed if the database has moved on."""
        with self._lock:
            state = self._states.get(workspace_id)
            if state is None:
                state = self._states[workspace_id] = _State(self.empty())
                while len(self._states) > self.max_workspaces:  # the least recently used goes
                    self._states.popitem(last=False)
                    self.evictions += 1
            else:
                self._states.move_to_end(workspace_id)
        now = self.monotonic()
        if force_check or now - state.checked_at >= self.recheck_seconds:
            with state.lock:
                if force_check or now - state.checked_at >= self.recheck_seconds:
                    self._refresh(workspace_id, state)
                    state.checked_at = self.monotonic()
        return state.value

    def refresh(self, workspace_id: int) -> None:
        """Catch up now (after this process changed customers); nothing for a workspace this
        replica holds nothing of (it is built from the database when next used)."""
        if self.is_warm(workspace_id):
            self.get(workspace_id, force_check=True)

    def is_warm(self, workspace_id: int) -> bool:
        """Built at least once and still cached (does not count as a use)."""
        with self._lock:
            state = self._states.get(workspace_id)
        return state is not None and state.version >= 0

    def cached_workspaces(self) -> list[int]:
        """The workspaces held, least recently used first."""
        with self._lock:
            return list(self._states)

    def warm_all(self, limit: int | None = None) -> None:
        """Build the values of the busiest workspaces (the most changes: search_version), up to ``limit`` (default: as
        many as the cache keeps). Not needed before serving: every workspace is built on first use."""
        limit = self.max_workspaces if limit is None else min(limit, self.max_workspaces)
        with self.session_factory() as session:
            ids = session.scalars(select(Workspace.id).order_by(Workspace.search_version.desc()).limit(limit)).all()
        for workspace_id in reversed(ids):  # the most recent used last, so it is evicted last
            self.get(workspace_id, force_check=True)

    def _refresh(self, workspace_id: int, state: _State[T]) -> None:
        with self.session_factory() as session:
            db_version = session.scalar(select(Workspace.search_version).where(Workspace.id == workspace_id))
            if db_version is None or db_version == state.version:
                return
            started = time.perf_counter()
            changed = 0
            last_id = 0
            while True:
                rows = session.execute(
                    select(
                        Customer.id,
                        Customer.name,
                        Customer.normalized_name,
                        Customer.domain,
                        Customer.deleted_at,
                        Customer.merged_into_id,
                    )
                    .where(
                        Customer.workspace_id == workspace_id,
                        Customer.index_version > state.version,
                        Customer.index_version <= db_version,
                        Customer.id > last_id,
                    )
                    .order_by(Customer.id)
                    .limit(_LOAD_CHUNK)
                ).all()
                if not rows:
                    break
                last_id = rows[-1].id
                self.apply(session, state.value, rows)
                changed += len(rows)
            state.version = db_version
            took = time.perf_counter() - started
            if changed:
                # Worth a line only when it is slow enough to notice; every small reload (each
                # customer created while seeding, say) would bury the log.
                log.log(
                    logging.INFO if took >= SLOW_LOAD_SECONDS else logging.DEBUG,
                    "%s for workspace %s: %d customers (re)loaded in %.0f ms",
                    self.what,
                    workspace_id,
                    changed,
                    took * 1000,
                )


class SearchRegistry(WorkspaceCache[CustomerIndex]):
    """One fuzzy :class:`CustomerIndex` per workspace."""

    what = "search index"

    def empty(self) -> CustomerIndex:
        return CustomerIndex()

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        *,
        sync_build_max: int = SYNC_BUILD_MAX,
        background: bool = True,
        **kw,
    ) -> None:
        super().__init__(session_factory, **kw)
        self.sync_build_max = sync_build_max
        self.background = background
        self._warming: set[int] = set()
        self._warmers = threading.Semaphore(WARMERS)
        self.cold_answers = 0  # look-ups answered from the database (for tests and the bench)

    def index(self, workspace_id: int, *, force_check: bool = False, hint: Sequence[str] = ()) -> CustomerIndex:
        """The workspace's index. A cold, big workspace with a ``hint`` (the names about to be
        searched) gets a small index of the database's candidates for them while it warms."""
        if self.is_warm(workspace_id) or not self._should_go_cold(workspace_id):
            return self.get(workspace_id, force_check=force_check)
        if not hint:
            return self.get(workspace_id, force_check=force_check)
        return self._cold_index(workspace_id, hint)

    def search(self, workspace_id: int, query: str, limit: int = 10) -> list[Match]:
        return self.index(workspace_id, hint=(query,)).search(query, limit=limit)

    def _should_go_cold(self, workspace_id: int) -> bool:
        """True for a workspace too big to index in the request; its build is started meanwhile."""
        with self._lock:
            if workspace_id in self._warming:
                return True
        with self.session_factory() as session:
            live = session.scalar(
                select(func.count())
                .select_from(Customer)
                .where(
                    Customer.workspace_id == workspace_id,
                    Customer.deleted_at.is_(None),
                    Customer.merged_into_id.is_(None),
                )
            )
        if (live or 0) <= self.sync_build_max:
            return False
        self._start_warming(workspace_id)
        return True

    def _start_warming(self, workspace_id: int) -> None:
        with self._lock:
            if workspace_id in self._warming:
                return
            self._warming.add(workspace_id)
        if self.background:
            threading.Thread(target=self._warm, args=(workspace_id,), name=f"warm-{workspace_id}", daemon=True).start()

    def _warm(self, workspace_id: int) -> None:
        try:
            with self._warmers:
                self.get(workspace_id, force_check=True)
        finally:
            with self._lock:
                self._warming.discard(workspace_id)

    def warm_now(self, workspace_id: int) -> None:
        """Finish a started background build in this thread (tests, and ``background=False``)."""
        self._warm(workspace_id)

    def _cold_index(self, workspace_id: int, hints: Sequence[str]) -> CustomerIndex:
        """The same scoring over the database's candidates for ``hints`` (see crm.search_cold)."""
        index = CustomerIndex()
        with self.session_factory() as session:
            rows = cold_candidates(session, workspace_id, hints)
            self._apply(session, index, rows)
        self.cold_answers += 1
        return index

    def apply(self, session: Session, value: CustomerIndex, rows: Sequence[Row]) -> None:
        self._apply(session, value, rows)

    @staticmethod
    def _apply(session: Session, index: CustomerIndex, rows: Iterable) -> None:
        live = [r for r in rows if r.deleted_at is None and r.merged_into_id is None]
        for r in rows:
            if r.deleted_at is not None or r.merged_into_id is not None:
                index.remove(r.id)
        ids = [r.id for r in live]
        if not ids:
            return
        aliases: dict[int, list[str]] = defaultdict(list)
        for cid, alias in session.execute(
            select(CustomerAlias.customer_id, CustomerAlias.alias).where(CustomerAlias.customer_id.in_(ids))
        ):
            aliases[cid].append(alias)
        names: dict[int, list[str]] = defaultdict(list)
        emails: dict[int, list[str]] = defaultdict(list)
        for cid, name, email in session.execute(
            select(Contact.customer_id, Contact.name, Contact.email).where(
                Contact.customer_id.in_(ids), Contact.deleted_at.is_(None)
            )
        ):
            names[cid].append(name)
            if email:
                emails[cid].append(email)
        for r in live:
            index.add(
                r.id,
                name=r.name,
                aliases=aliases.get(r.id, ()),
                domains=[r.domain] if r.domain else (),
                contact_names=names.get(r.id, ()),
                contact_emails=emails.get(r.id, ()),
            )
