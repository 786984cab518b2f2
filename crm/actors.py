"""Who is acting: a Slack user as the CRM's rules see them (roles, zone, date habits).

Built once per request by the Slack layer (``commands.request``) and passed to the services,
which decide what the actor may do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from crm import dates
from crm.errors import DateParseError


def zone_name(tz: str | None, default: str) -> str:
    """``tz`` when it is a real IANA zone, else ``default``."""
    try:
        ZoneInfo(tz or "")
        return tz or default
    except (ZoneInfoNotFoundError, ValueError):
        return default


@dataclass(frozen=True)
class Actor:
    """A person (or the system) acting in one workspace."""

    user_id: str
    is_admin: bool = False  # a workspace admin or owner
    is_manager: bool = False  # a CRM manager (``CRM_MANAGERS``); admins count as managers too
    tz: str = "UTC"
    locale: str | None = None
    workday_start: time = time(9, 0)

    @property
    def sees_team(self) -> bool:
        """Managers and admins may see everyone's lists."""
        return self.is_admin or self.is_manager

    @property
    def date_order(self) -> dates.DateOrder | None:
        return dates.date_order_for_locale(self.locale)

    def read_follow_up(self, text: str, now: datetime) -> datetime:
        """A follow-up phrase ("next friday", "in 2 weeks", "3/12") in the actor's zone and habits."""
        return dates.parse_follow_up(
            text, now=now, tz=self.tz, workday_start=self.workday_start, date_order=self.date_order
        )

    def follow_up_on(self, day: date, now: datetime) -> datetime:
        """A date picked without a time: the start of the working day in the actor's zone."""
        due = datetime.combine(day, self.workday_start, tzinfo=ZoneInfo(self.tz)).astimezone(UTC)
        if due <= now:
            raise DateParseError(
                f"That's in the past — {dates.format_local(due, self.tz, now=now)}. "
                f"Pick a later date, or type a time such as {dates.EXAMPLES}.",
                field="follow_up_date",
            )
        return due
