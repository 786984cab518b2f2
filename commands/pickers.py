"""The customer picker every modal shares: an ``external_select`` backed by the fuzzy index.

Options requests must be answered within 3 s; the index is in memory, so they are. The
last option always offers to create a customer with the typed name.

Every picker's action_id starts with ``customer_picker`` (e.g. ``customer_picker:log``):
one options listener serves them all, and each feature listens for block actions on its
own action_id (with ``dispatch_action`` on its input block) and reads the choice with
:func:`picked`. A "new customer" choice is handed to
``commands.customers.push_create_customer``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from slack_bolt import App

from commands import request
from commands.blockkit import OPTION_TEXT_MAX, OPTION_VALUE_MAX, option, plain, truncate
from commands.common import as_id
from commands.request import Request
from crm.customers import find_customers
from crm.models import Customer
from crm.search import MAX_QUERY_CHARS

if TYPE_CHECKING:
    from bot.services import Services
    from commands.router import CommandRouter

CUSTOMER_PICKER = "customer_picker"
PICKER_PATTERN = re.compile(r"^customer_picker(:[\w.-]+)?$")
NEW_PREFIX = "new:"
MAX_OPTIONS = 20


def picked(action: dict[str, Any]) -> tuple[str, int | str] | None:
    """("customer", id) or ("new", typed name) for a picker's block action; None if cleared
    (or the value can't be a customer: a forged or out-of-range id)."""
    option = action.get("selected_option") if isinstance(action, dict) else None
    value = option.get("value") if isinstance(option, dict) else None
    if not isinstance(value, str) or not value:
        return None
    if value.startswith(NEW_PREFIX):
        return "new", value[len(NEW_PREFIX) :]
    customer_id = as_id(value)
    return ("customer", customer_id) if customer_id is not None else None


def customer_option(customer: Customer) -> dict[str, Any]:
    label = customer.name + (f" · {customer.domain}" if customer.domain else "")
    return option(truncate(label, OPTION_TEXT_MAX), str(customer.id))


def customer_select(
    initial: Customer | None = None, *, action_id: str = CUSTOMER_PICKER, placeholder: str = "Type a customer name…"
) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "external_select",
        "action_id": action_id,
        "placeholder": plain(placeholder),
        "min_query_length": 1,
    }
    if initial is not None:
        element["initial_option"] = customer_option(initial)
    return element


def customer_options(req: Request, query: str) -> list[dict[str, Any]]:
    """Options for a typed query: best matches first, then "create new"."""
    query = " ".join((query or "").split())[:MAX_QUERY_CHARS]
    if not query:
        return []
    result = find_customers(req.sf, req.services.search, req.workspace_id, query, limit=MAX_OPTIONS)
    options = [customer_option(result.customers[m.customer_id]) for m in result.matches]
    typed = truncate(query, OPTION_VALUE_MAX - len(NEW_PREFIX), suffix="")
    options.append(option(truncate(f"➕ New customer: {query}", OPTION_TEXT_MAX), NEW_PREFIX + typed))
    return options[:100]


def on_options(req: Request) -> dict[str, Any]:
    return {"options": customer_options(req, request.query(req))}


def register(app: App, services: Services, router: CommandRouter) -> None:
    request.options(app, PICKER_PATTERN, on_options)
