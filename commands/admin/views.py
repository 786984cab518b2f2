"""Block Kit for the Admin section of the Home tab and the workspace settings modal (pure builders)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from commands.blockkit import actions, button, context, divider, input_block, plain, section, text_input

OPEN = "admin_settings_open"
CALLBACK = "admin_settings"
ADMIN_BLOCK = "home_admin"
# Block ids are the settings' own keys (crm.workspace_settings.KEYS), so a field error lands on its input.
TYPES, STAGES, LIFECYCLE = "activity_types", "deal_stages", "lifecycle_stages"
STALE, CURRENCY, MANAGERS = "stale_days", "default_currency", "managers"
PROBABILITIES, KEY_DAYS = "stage_probabilities", "key_account_days"
VALUE = "value"
LIST_MAX = 3000  # Slack's plain_text_input limit
FORMAT_HINT = (
    "Comma-separated key:Label:emoji entries, optionally :alias|alias. Removing one retires it: "
    "records that use it keep it and show it as retired."
)


def admin_blocks() -> list[dict[str, Any]]:
    """The Home tab's Admin section (shown to workspace admins only)."""
    return [
        divider(),
        section(
            "*Admin*\nActivity types, deal stages and their probabilities, lifecycle stages, stale days, "
            "default currency and managers."
        ),
        actions(button("Workspace settings", OPEN, "settings"), block_id=ADMIN_BLOCK),
        context("Custom fields: `/crm fields` · every change is kept in the audit log"),
    ]


def settings_modal(
    *,
    types: str,
    stages: str,
    lifecycle: str,
    probabilities: str,
    stale_days: int,
    key_account_days: int,
    currency: str,
    managers: Sequence[str],
) -> dict[str, Any]:
    users: dict[str, Any] = {"type": "multi_users_select", "action_id": VALUE, "placeholder": plain("Nobody")}
    if managers:
        users["initial_users"] = list(managers)[:100]
    return {
        "type": "modal",
        "callback_id": CALLBACK,
        "title": plain("Workspace settings"),
        "submit": plain("Save"),
        "close": plain("Cancel"),
        "blocks": [
            input_block(TYPES, "Activity types", _list(types), hint=FORMAT_HINT),
            input_block(STAGES, "Deal stages", _list(stages), hint=FORMAT_HINT + " End with won and lost."),
            input_block(
                PROBABILITIES,
                "Stage probabilities",
                text_input(VALUE, initial=probabilities, max_length=LIST_MAX),
                optional=True,
                hint="Each open stage's chance of being won, in percent, such as lead=10, demo=40: "
                "/crm pipeline then shows the weighted pipeline too.",
            ),
            input_block(LIFECYCLE, "Lifecycle stages", _list(lifecycle), hint=FORMAT_HINT),
            input_block(
                STALE,
                "Stale days",
                text_input(VALUE, initial=str(stale_days), max_length=3),
                hint="Days without activity before an open deal counts as stale (1-365).",
            ),
            input_block(
                KEY_DAYS,
                "Key-account days",
                text_input(VALUE, initial=str(key_account_days), max_length=3),
                hint="Days without activity before a key account is flagged to its owner and managers (1-365).",
            ),
            input_block(
                CURRENCY,
                "Default currency",
                text_input(VALUE, initial=currency, max_length=3),
                hint="What a new deal's currency starts as: a three-letter ISO code (USD, EUR, GBP, JPY…).",
            ),
            input_block(
                MANAGERS,
                "Managers",
                users,
                optional=True,
                hint="Managers see everyone's follow-ups, like workspace admins.",
            ),
        ],
    }


def _list(initial: str) -> dict[str, Any]:
    element = text_input(VALUE, initial=initial, max_length=LIST_MAX)
    element["multiline"] = True
    return element


def saved_text(version: int) -> str:
    return f":white_check_mark: Workspace settings saved (version {version}); every replica uses them within seconds."
