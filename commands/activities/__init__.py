"""Logging activities: ``handlers`` (`/log`, the shortcuts, the card's button, the modal, Undo /
Edit / Restore), ``views`` (the log modal, the confirmation, the deleted notice), ``forms``
(reading the modal back) and ``quick_log`` (the one-line `/log` parser)."""

from commands.activities.handlers import register

__all__ = ["register"]
