"""Email capture in Slack (issue 17): ``/crm email`` (the workspace's address; admins rotate it or
turn capture off), and the Home tab's "Unfiled email: pick the customer" with its picker."""

from commands.mail.handlers import register

__all__ = ["register"]
