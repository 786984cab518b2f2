"""Rows for tests, with sensible defaults and keyword overrides: ``make.customer("Globex")``.

Customers, contacts and deals go through the crm/ services, so the search index, the stage
history and the audit trail are what the app itself would have written. Activities and
follow-ups are inserted as rows, so a test can place them anywhere in time (the services
refuse a follow-up in the past) and fill them with text an import or an older version could
have left behind.

The root conftest offers ``make`` (on the test's ``services``), ``ws`` (the T0TEST workspace)
and ``acme`` (a customer called "Acme Corp"); a test module that needs another name or actor
declares its own ``acme`` and uses ``make`` in it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from bot.services import Services
from crm.customers import ContactInput, add_contact, create_customer
from crm.customers.values import clean_name
from crm.deals import DealInput, create_deal
from crm.lookup import bump_search_version
from crm.models import Activity, Contact, Customer, Deal, FollowUp
from crm.pipeline_stages import DEFAULT as DEFAULT_STAGES
from crm.pipeline_stages import PipelineStages
from crm.states import ActivitySource, FollowUpStatus
from tests.support.constants import REP, TEAM_ID

Row = Customer | Contact | Deal | Activity | int | None
R = TypeVar("R", Activity, FollowUp)


def _id(row: Row) -> int | None:
    """A row's id, or the id itself: factories take either."""
    return row if row is None or isinstance(row, int) else row.id


def _contact(value: str | ContactInput) -> ContactInput:
    return value if isinstance(value, ContactInput) else ContactInput(name=value)


@dataclass
class Make:
    """Factories bound to one Services (its database, search index and clock) and one workspace."""

    services: Services
    team_id: str = TEAM_ID

    @property
    def ws(self) -> int:
        """The workspace row id for ``team_id`` (created on first use)."""
        return self.services.workspace_id(self.team_id)

    def now(self) -> datetime:
        """The app's clock: a test that sets ``services.clock`` moves the defaults with it."""
        return self.services.clock()

    def customer(
        self,
        name: str = "Acme Corp",
        *,
        actor: str = REP,
        contact: str | ContactInput | None = None,
        contacts: Iterable[str | ContactInput] = (),
        **fields,
    ) -> Customer:
        """A customer created as /crm new would, with ``contact`` as its first contact and
        ``contacts`` added after (names or ContactInputs). Other keywords go to
        ``crm.customers.create_customer`` (``website``, ``owner_user_id``, ``force``, ``source`` ...)."""
        first, *rest = [_contact(c) for c in ([contact] if contact is not None else []) + list(contacts)] or [None]
        svc = self.services
        customer = create_customer(
            svc.session_factory, svc.search, self.ws, actor=actor, name=name, contact=first, **fields
        )
        for more in rest:
            self.contact(customer, more, actor=actor)
        return customer

    def customers(self, names: Iterable[str], *, actor: str = REP, **columns) -> list[Customer]:
        """Many customers in one transaction, as rows (no duplicate check, no audit entry): for tests
        that need a crowded workspace rather than the way a customer is created. The search index
        sees them, as it sees an import's."""
        svc = self.services
        with svc.session_factory.begin() as session:
            version = bump_search_version(session, self.ws)
            rows = []
            for name in names:
                display, normalized = clean_name(name)
                values = {"owner_user_id": actor, "created_by": actor, **columns}
                rows.append(
                    Customer(
                        workspace_id=self.ws, name=display, normalized_name=normalized, index_version=version, **values
                    )
                )
            session.add_all(rows)
            session.flush()
        svc.search.refresh(self.ws)
        return rows

    def contact(
        self, customer: Row, contact: str | ContactInput = "Jane Doe", *, actor: str = REP, **fields
    ) -> Contact:
        """A contact on ``customer``: a name, or a ContactInput; other keywords go to ``add_contact``."""
        svc = self.services
        customer_id = _id(customer)
        assert customer_id is not None
        return add_contact(
            svc.session_factory, svc.search, self.ws, customer_id, _contact(contact), actor=actor, **fields
        )

    def deal(
        self,
        customer: Row,
        title: str = "Annual licence",
        *,
        stage: str = "lead",
        amount: str | None = "1000",
        currency: str | None = "USD",
        owner: str = REP,
        at: datetime | None = None,
        stages: PipelineStages = DEFAULT_STAGES,
        **fields,
    ) -> Deal:
        """A deal as the New deal modal would create it, ``at`` (default: the app's clock) by ``owner``.
        Other keywords are DealInput fields (``expected_close``)."""
        form = DealInput(title=title, amount=amount, currency=currency, stage=stage, owner_user_id=owner, **fields)
        customer_id = _id(customer)
        assert customer_id is not None
        return create_deal(
            self.services.session_factory,
            self.ws,
            customer_id,
            form,
            actor=owner,
            stages=stages,
            now=at or self.now(),
        )

    def activity(
        self,
        customer: Row,
        summary: str = "Talked about the renewal",
        *,
        type_key: str = "call",
        at: datetime | None = None,
        by: str = REP,
        contact: Row = None,
        deal: Row = None,
        source: ActivitySource = ActivitySource.MODAL,
        **columns,
    ) -> Activity:
        """An activity row, ``at`` (default: an hour before the app's clock) by ``by``."""
        return self._add(
            Activity(
                workspace_id=self.ws,
                customer_id=_id(customer),
                contact_id=_id(contact),
                deal_id=_id(deal),
                type_key=type_key,
                summary=summary,
                occurred_at=at or self.now() - timedelta(hours=1),
                source=source,
                created_by=by,
                **columns,
            )
        )

    def follow_up(
        self,
        customer: Row,
        note: str | None = "send the quote",
        *,
        owner: str = REP,
        due: datetime | None = None,
        nudge: bool = True,
        deal: Row = None,
        by: str | None = None,
        **columns,
    ) -> FollowUp:
        """An open follow-up row for ``owner``, due at ``due`` (default: five minutes before the app's
        clock, so it is due now) and waiting for its nudge then (``nudge=False``: no nudge pending)."""
        due = due or self.now() - timedelta(minutes=5)
        values = {
            "workspace_id": self.ws,
            "customer_id": _id(customer),
            "deal_id": _id(deal),
            "owner_user_id": owner,
            "due_at": due,
            "nudge_at": due if nudge else None,
            "note": note,
            "status": FollowUpStatus.OPEN,
            "created_by": by or owner,
        }
        values.update(columns)
        return self._add(FollowUp(**values))

    def _add(self, row: R) -> R:
        with self.services.session_factory.begin() as session:
            session.add(row)
            session.flush()
        return row
