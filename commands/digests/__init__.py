"""Pipeline digests in channels and `/crm pipeline`: ``handlers`` (the subcommands), ``views``
(pure Block Kit builders, also used by the scheduled job in ``reminders/digests.py``)."""

from commands.digests.handlers import register

__all__ = ["register"]
