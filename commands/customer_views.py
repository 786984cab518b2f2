"""Transitional: the customer views moved to :mod:`commands.customers.views` (delete at the merge,
once deals, followups and whos_talked import from there)."""

from commands.customers.views import *  # noqa: F403
