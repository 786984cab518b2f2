"""Follow-ups: ``handlers`` (the nudge DM's buttons, the card's "Add follow-up", `/crm followup`,
`/crm followups`, the App Home), ``nudge_dm`` (the DM a rep gets when one is due, also posted by
``reminders/nudges.py``), ``views`` (lists and modals), ``home`` (the App Home) and ``one_line``
(the `/crm followup` parser)."""

from commands.followups.handlers import register

__all__ = ["register"]
