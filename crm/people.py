"""Slack users as the CRM knows them: a cache of ``users.info`` (zone, locale, admin flags)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from crm.models import SlackUser


@dataclass(frozen=True)
class Person:
    user_id: str
    display_name: str | None
    real_name: str | None
    tz: str | None
    locale: str | None
    is_admin: bool
    is_owner: bool
    is_bot: bool
    deleted: bool
    fetched_at: datetime

    @property
    def name(self) -> str:
        return self.display_name or self.real_name or self.user_id

    @property
    def full_name(self) -> str:
        """The name a manager reads in a digest or a chart: the full name, else the display name."""
        return self.real_name or self.display_name or self.user_id

    @property
    def can_admin(self) -> bool:
        """Workspace admins and owners may merge, edit anyone's activities, see everyone's lists."""
        return self.is_admin or self.is_owner


_FIELDS = ("display_name", "real_name", "tz", "locale", "is_admin", "is_owner", "is_bot", "deleted", "fetched_at")


def cached_person(sf: sessionmaker[Session], workspace_id: int, user_id: str) -> Person | None:
    with sf() as session:
        row = session.scalars(
            select(SlackUser).where(SlackUser.workspace_id == workspace_id, SlackUser.user_id == user_id)
        ).first()
        if row is None:
            return None
        return Person(user_id, *(getattr(row, f) for f in _FIELDS))


def save_person(sf: sessionmaker[Session], workspace_id: int, person: Person) -> None:
    """Insert or refresh the cached row (race-safe across replicas)."""
    values = {f: getattr(person, f) for f in _FIELDS}
    for _ in range(2):
        try:
            with sf.begin() as session:
                row = session.scalars(
                    select(SlackUser).where(SlackUser.workspace_id == workspace_id, SlackUser.user_id == person.user_id)
                ).first()
                if row is None:
                    session.add(SlackUser(workspace_id=workspace_id, user_id=person.user_id, **values))
                else:
                    for key, value in values.items():
                        setattr(row, key, value)
            return
        except IntegrityError:
            continue  # another replica inserted it first: update on the second pass
