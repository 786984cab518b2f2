"""Who is asking: Slack's ``users.info`` (time zone, locale, admin flags), cached.

Looked up in memory, then in the ``slack_users`` table, then from Slack; a digest or a
card never calls ``users.info`` once per row. A request never waits long on Slack:

- a fresh cached person is returned as is;
- a stale one is returned at once and refreshed in the background (stale-while-revalidate);
- a person never seen is fetched, waiting at most :data:`WAIT_SECONDS`, and not at all while
  Slack is known to be slow; meanwhile the user gets the workspace default zone and no admin
  rights, and the fetch still fills the cache when Slack answers.

At most one ``users.info`` per user is in flight, on a small pool of its own, so a slow Slack
holds :data:`REFRESH_THREADS` threads, not the threads that acknowledge requests.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from sqlalchemy.exc import SQLAlchemyError

from crm.people import Person, cached_person, save_person

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)

FRESH_FOR = timedelta(hours=12)
WAIT_SECONDS = 2.0  # the longest a request waits for users.info
SLOW_FOR = 30.0  # after a wait runs out, new users get the default at once for this long
REFRESH_THREADS = 8

_Key = tuple[int, str]


class UserDirectory:
    def __init__(
        self,
        services: Services,
        fresh_for: timedelta = FRESH_FOR,
        *,
        wait: float = WAIT_SECONDS,
        slow_for: float = SLOW_FOR,
    ) -> None:
        self.services = services
        self.fresh_for = fresh_for
        self.wait = wait
        self.slow_for = slow_for
        self._memory: dict[_Key, Person] = {}
        self._inflight: dict[_Key, Future[Person | None]] = {}
        self._slow_until = 0.0
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=REFRESH_THREADS, thread_name_prefix="users-info")

    def _fresh(self, person: Person, now: datetime) -> bool:
        return now - person.fetched_at < self.fresh_for

    def get(self, client: WebClient, workspace_id: int, user_id: str) -> Person:
        now = self.services.now()
        key = (workspace_id, user_id)
        with self._lock:
            known = self._memory.get(key)
        if known is None:
            known = cached_person(self.services.session_factory, workspace_id, user_id)
            if known is not None:
                with self._lock:
                    self._memory.setdefault(key, known)
        if known is not None:
            if not self._fresh(known, now):
                self._refresh(client, key)
            return known
        return self._first_sight(client, key)

    def warm(self, client: WebClient, workspace_id: int, user_ids: Iterable[str]) -> None:
        """Start fetching, side by side, the people of a list never seen before (the Team
        section names 50 reps), so the ``get`` calls that follow wait once, not once each."""
        for user_id in dict.fromkeys(user_ids):
            key = (workspace_id, user_id)
            with self._lock:
                if key in self._memory:
                    continue
            known = cached_person(self.services.session_factory, workspace_id, user_id)
            if known is not None:
                with self._lock:
                    self._memory.setdefault(key, known)
            elif time.monotonic() >= self._slow_until:
                self._refresh(client, key)

    def _first_sight(self, client: WebClient, key: _Key) -> Person:
        future = self._refresh(client, key)
        if time.monotonic() < self._slow_until:
            return self.default(key[1])
        try:
            return future.result(timeout=self.wait) or self.default(key[1])
        except FutureTimeout:
            with self._lock:
                self._slow_until = time.monotonic() + self.slow_for
            log.warning("users.info is slow (over %.1f s); using the default zone meanwhile", self.wait)
            return self.default(key[1])

    def _refresh(self, client: WebClient, key: _Key) -> Future[Person | None]:
        """Start fetching ``key`` in the background unless a fetch is already in flight."""
        with self._lock:
            future = self._inflight.get(key)
            if future is None:
                future = self._pool.submit(self._fetch, client, key)
                self._inflight[key] = future
        return future

    def _fetch(self, client: WebClient, key: _Key) -> Person | None:
        workspace_id, user_id = key
        started = time.monotonic()
        try:
            try:
                user = client.users_info(user=user_id, include_locale=True)["user"]
            except (SlackApiError, SlackClientError, OSError) as exc:
                log.warning("users.info for %s failed: %s", user_id, exc)
                return None
            fetched = _person(user_id, user, self.services.now())
            with self._lock:
                self._memory[key] = fetched
                if time.monotonic() - started < self.wait:
                    self._slow_until = 0.0
            try:
                save_person(self.services.session_factory, workspace_id, fetched)
            except SQLAlchemyError as exc:  # kept in memory; stored on the next refresh
                log.warning("could not store %s's profile: %s", user_id, exc.__class__.__name__)
            return fetched
        finally:
            with self._lock:
                self._inflight.pop(key, None)

    def drain(self, timeout: float = 30.0) -> None:
        """Wait until no refresh is in flight (tests, and a clean stop)."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                pending = list(self._inflight.values())
            if not pending:
                return
            for future in pending:
                future.exception(timeout=max(0.0, deadline - time.monotonic()))

    def default(self, user_id: str) -> Person:
        return Person(
            user_id,
            None,
            None,
            self.services.settings.default_timezone,
            None,
            False,
            False,
            False,
            False,
            self.services.now(),
        )

    def tz(self, client: WebClient, workspace_id: int, user_id: str) -> str:
        return self.get(client, workspace_id, user_id).tz or self.services.settings.default_timezone


def _person(user_id: str, user: dict, now: datetime) -> Person:
    profile = user.get("profile") or {}
    return Person(
        user_id=user_id,
        display_name=(profile.get("display_name") or user.get("name") or None),
        real_name=(profile.get("real_name") or user.get("real_name") or None),
        tz=user.get("tz") or None,
        locale=user.get("locale") or None,
        is_admin=bool(user.get("is_admin")),
        is_owner=bool(user.get("is_owner") or user.get("is_primary_owner")),
        is_bot=bool(user.get("is_bot")),
        deleted=bool(user.get("deleted")),
        fetched_at=now,
    )
