"""Everything a rep does with customers in Slack: look up, card, create, edit, contacts, merge.

- ``handlers``: ``/customer`` and ``/crm find``, the card's Show / History / Share buttons, and
  the feature's registration;
- ``forms``: ``/crm new``, the create, edit and contact modals and their submissions;
- ``merge``: ``/crm merge … into …`` and its confirmation;
- ``card``: the card as one request sees it (also used by other features);
- ``views``: pure Block Kit builders, with the block and action ids.

Other features use :func:`card`, :func:`push_create_customer`, :func:`open_create_customer`,
:func:`create_customer_view`
and the action ids :data:`SHOW`, :data:`DEAL_NEW_OPEN` and :data:`MERGE_CONFIRM` from here.
"""

from commands.customers.card import card
from commands.customers.forms import open_create_customer, push_create_customer
from commands.customers.handlers import register
from commands.customers.views import DEAL_NEW_OPEN, MERGE_CONFIRM, SHOW, create_customer_view

__all__ = [
    "DEAL_NEW_OPEN",
    "MERGE_CONFIRM",
    "SHOW",
    "card",
    "create_customer_view",
    "open_create_customer",
    "push_create_customer",
    "register",
]
