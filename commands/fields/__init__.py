"""`/crm fields`: admins define the workspace's custom fields. ``handlers`` (the subcommand, the
list's buttons and the modals; who may is crm's rule) and ``views`` (their Block Kit)."""

from commands.fields.handlers import register

__all__ = ["register"]
