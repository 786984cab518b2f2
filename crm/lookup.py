"""One in-memory :class:`~crm.search.CustomerIndex` per workspace, kept in step with the database.

Every change to a customer, its aliases or its contacts bumps ``workspaces.search_version``
and stamps the customer with it (:func:`bump_search_version`). Before answering, a
registry compares its version with the database's (one primary-key read, at most once
per ``recheck_seconds``) and reloads only the customers stamped since. That keeps every
replica's index fresh within about a second of a change made anywhere, without ever
rescanning the table per keystroke.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from sqlalchemy import Row, select, update
from sqlalchemy.orm import Session, sessionmaker

from crm.models import Contact, Customer, CustomerAlias, Workspace
from crm.search import CustomerIndex, Match

log = logging.getLogger(__name__)

_LOAD_CHUNK = 5000
# A (re)load of the search index that took this long is logged at INFO; quicker ones at DEBUG.
SLOW_LOAD_SECONDS = 1.0
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
    ) -> None:
        self.session_factory = session_factory
        self.recheck_seconds = recheck_seconds
        self.monotonic = monotonic
        self._states: dict[int, _State[T]] = {}
        self._lock = threading.Lock()

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
        now = self.monotonic()
        if force_check or now - state.checked_at >= self.recheck_seconds:
            with state.lock:
                if force_check or now - state.checked_at >= self.recheck_seconds:
                    self._refresh(workspace_id, state)
                    state.checked_at = self.monotonic()
        return state.value

    def refresh(self, workspace_id: int) -> None:
        """Catch up now (after this process changed customers)."""
        self.get(workspace_id, force_check=True)

    def warm_all(self) -> None:
        """Build every workspace's value (at start, in the background, before the first use)."""
        with self.session_factory() as session:
            ids = session.scalars(select(Workspace.id)).all()
        for workspace_id in ids:
            self.refresh(workspace_id)

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

    def index(self, workspace_id: int, *, force_check: bool = False) -> CustomerIndex:
        return self.get(workspace_id, force_check=force_check)

    def search(self, workspace_id: int, query: str, limit: int = 10) -> list[Match]:
        return self.index(workspace_id).search(query, limit=limit)

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
