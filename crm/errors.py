"""Domain errors raised by the services in ``crm``.

The Slack layer (``commands``) catches these and turns them into a friendly
ephemeral message or a modal field error. Each carries a user-facing message.
"""

from __future__ import annotations


class CRMError(Exception):
    """Base class: ``message`` is one sentence for the user, in plain words.

    It may quote what the user typed; the Slack layer escapes it before showing it
    (``commands.blockkit.error_text``). Only the Slack layer itself may raise one whose message
    is already formatted for Slack (``formatted=True``, e.g. with a user mention); ``crm`` never does.
    """

    def __init__(self, message: str, *, field: str | None = None, formatted: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.formatted = formatted


class NotFound(CRMError):
    """The thing asked for does not exist in this workspace (or was deleted)."""


class PermissionDenied(CRMError):
    """The user may not do this (e.g. merge without being an admin)."""


class InvalidInput(CRMError):
    """A value from the user could not be accepted; ``field`` names which one."""


class InvalidFields(InvalidInput):
    """Several values of one form were refused: ``errors`` maps each field to its sentence.

    ``message`` and ``field`` are the first of them, so code that shows one error still can.
    """

    def __init__(self, errors: dict[str, str]) -> None:
        first_field, first_message = next(iter(errors.items()))
        super().__init__(first_message, field=first_field or None)
        self.errors = dict(errors)


class DateParseError(InvalidInput):
    """A date or time phrase could not be read, or lies on the wrong side of now."""


class DuplicateSuspected(CRMError):
    """Saving would likely create a duplicate; ``candidates`` holds what it resembles."""

    def __init__(self, message: str, candidates: list, *, field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.candidates = candidates


class Conflict(CRMError):
    """The action lost a race or acts on stale state (e.g. a button pressed twice)."""
