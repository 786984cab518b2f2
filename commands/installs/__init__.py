"""Installs and uninstalls: ``handlers`` turns Slack's ``app_uninstalled`` and ``tokens_revoked``
events into "send nothing more to this workspace" (its data stays; a reinstall picks it up)."""

from commands.installs.handlers import register

__all__ = ["register"]
