"""`/crm handover @leaving to @taking-over`: ``handlers`` (the command, Confirm, Undo, the brief's
DM) and ``views`` (the counts, the answers and the new owner's brief)."""

from commands.handover.handlers import register

__all__ = ["register"]
