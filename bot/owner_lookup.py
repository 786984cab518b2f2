"""``users.lookupByEmail`` for the importer: an old CRM's owner email -> the Slack user id.

``crm.importer`` never talks to Slack; ``crm-bot import`` passes it this look-up when
``SLACK_BOT_TOKEN`` is set (the app needs the ``users:read.email`` scope for it).
"""

from __future__ import annotations

from collections.abc import Callable

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from crm.errors import InvalidInput


def slack_owner_lookup(client: WebClient) -> Callable[[str], str | None]:
    """email -> Slack user id, None when Slack has nobody with it (``users_not_found``).

    Any other refusal (a missing scope, a revoked token) stops the import with a sentence:
    carrying on would leave every owner unmapped without saying why.
    """

    def lookup(email: str) -> str | None:
        try:
            response = client.users_lookupByEmail(email=email)
        except SlackApiError as err:
            error = err.response.get("error", "") if err.response is not None else ""
            if error == "users_not_found":
                return None
            hint = " (add the users:read.email scope to the app)" if error == "missing_scope" else ""
            raise InvalidInput(
                f"Slack refused users.lookupByEmail with “{error}”{hint}; map owners with --owners instead."
            ) from None
        except (SlackClientError, OSError) as err:
            raise InvalidInput(f"Slack could not be asked who {email} is ({err}); try again or use --owners.") from None
        user = response.get("user") or {}
        found = user.get("id")
        if not found or user.get("deleted") or user.get("is_bot"):
            return None
        return str(found)

    return lookup
