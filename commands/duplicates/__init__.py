"""`/crm duplicates`: ``handlers`` (the subcommand, admins only) and ``views`` (the report's
Block Kit, with the customers feature's Merge button on each customer pair)."""

from commands.duplicates.handlers import register

__all__ = ["register"]
