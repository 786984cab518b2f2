"""`/crm accounts`: customers by value tier with filters and pages: ``filters`` (the grammar),
``handlers`` (thin), ``views`` (pure Block Kit builders; block and action ids)."""

from commands.accounts.handlers import register

__all__ = ["register"]
