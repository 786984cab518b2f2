"""Deals: `/crm deal`, the deal list with Edit, and the deal modal with its stage history:
``handlers`` (thin: read the request, call ``crm.deals``, answer), ``views`` (pure Block Kit
builders; block and action ids)."""

from commands.deals.handlers import register

__all__ = ["register"]
