"""What Slack's ids look like, said once: the CRM stores user and channel ids and checks them.

A person is ``U…`` (``W…`` in an Enterprise Grid org); a channel is ``C…``, ``G…`` (a legacy
private channel) or ``D…`` (a DM). Upper-case letters and digits, at most 32 characters in all:
the width of the CRM's user id columns (``crm.models.USER_ID``).
"""

from __future__ import annotations

import re

SLACK_USER_ID = re.compile(r"[UW][A-Z0-9]{2,31}")
SLACK_CHANNEL_ID = re.compile(r"[CDG][A-Z0-9]{2,31}")
# How a message names a person: <@U012ABC> or <@U012ABC|name>; the id is group 1.
SLACK_USER_MENTION = re.compile(rf"<@({SLACK_USER_ID.pattern})(?:\|[^>]*)?>")


def is_user_id(value: object) -> bool:
    """Whether ``value`` is a Slack user id (``U…`` or ``W…``)."""
    return isinstance(value, str) and SLACK_USER_ID.fullmatch(value) is not None


def is_channel_id(value: object) -> bool:
    """Whether ``value`` is a Slack channel id (``C…``, ``G…`` or ``D…``)."""
    return isinstance(value, str) and SLACK_CHANNEL_ID.fullmatch(value) is not None
