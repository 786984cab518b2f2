"""The pretend workspace every playground starts with: the team, its people, channels and shortcuts.

Plain data, shared by :mod:`bot.dev.playground.core` (which seeds the Slack stand-in with it) and
:mod:`bot.dev.playground.demo` (which gives these people customers, deals and follow-ups).
"""

from __future__ import annotations

from dataclasses import dataclass

TEAM_ID = "T0PLAYGROUND"
TEAM_DOMAIN = "crm-playground"


@dataclass(frozen=True)
class PlaygroundUser:
    id: str
    name: str
    real_name: str
    tz: str
    role: str  # rep | manager | admin | colleague
    is_admin: bool = False
    in_switcher: bool = True


USERS = (
    PlaygroundUser("U0REP", "rita", "Rita Rep", "America/New_York", "rep"),
    PlaygroundUser("U0MGR", "maria", "Maria Manager", "America/Los_Angeles", "manager"),
    PlaygroundUser("U0ADMIN", "alex", "Alex Admin", "Europe/London", "admin", is_admin=True),
    PlaygroundUser("U0REP2", "sam", "Sam Seller", "Europe/Berlin", "colleague", in_switcher=False),
)
REP, MANAGER, ADMIN = USERS[0].id, USERS[1].id, USERS[2].id

# (id, name, shared with another organisation)
CHANNELS = (
    ("C0SALES", "sales", False),
    ("C0GENERAL", "general", False),
    ("C0PARTNERS", "ext-globex-partners", True),
)

# The shortcuts the app declares in manifest.yml (Slack shows them in its menus).
SHORTCUTS = (
    {"type": "global", "callback_id": "log_activity_global", "name": "Log a call"},
    {"type": "message", "callback_id": "log_activity_message", "name": "Log to CRM"},
    {"type": "message", "callback_id": "who_talked_message", "name": "Who's talked to them?"},
)


def dm_id(user_id: str) -> str:
    """The id of the bot's DM with a playground user."""
    return "D" + user_id[1:]
