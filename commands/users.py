"""Who is asking: Slack's ``users.info`` (time zone, locale, admin flags), cached.

Looked up in memory, then in the ``slack_users`` table, then from Slack; a digest or a
card never calls ``users.info`` once per row. When Slack cannot answer, a stale entry
or the workspace default zone is used rather than failing the user's request.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from crm.people import Person, cached_person, save_person

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)

FRESH_FOR = timedelta(hours=12)


class UserDirectory:
    def __init__(self, services: Services, fresh_for: timedelta = FRESH_FOR) -> None:
        self.services = services
        self.fresh_for = fresh_for
        self._memory: dict[tuple[int, str], Person] = {}
        self._lock = threading.Lock()

    def _fresh(self, person: Person, now: datetime) -> bool:
        return now - person.fetched_at < self.fresh_for

    def get(self, client: WebClient, workspace_id: int, user_id: str) -> Person:
        now = self.services.now()
        key = (workspace_id, user_id)
        with self._lock:
            person = self._memory.get(key)
        if person is not None and self._fresh(person, now):
            return person
        stored = cached_person(self.services.session_factory, workspace_id, user_id)
        if stored is not None and self._fresh(stored, now):
            with self._lock:
                self._memory[key] = stored
            return stored
        try:
            user = client.users_info(user=user_id, include_locale=True)["user"]
        except (SlackApiError, SlackClientError, OSError) as exc:
            log.warning("users.info for %s failed: %s", user_id, exc)
            return stored or person or self.default(user_id)
        profile = user.get("profile") or {}
        fetched = Person(
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
        save_person(self.services.session_factory, workspace_id, fetched)
        with self._lock:
            self._memory[key] = fetched
        return fetched

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
