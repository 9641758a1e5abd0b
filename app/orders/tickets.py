"""Exception tickets (异常工单): orders the system could not finish on its
own, waiting for the operator (``orders.remedies`` acts on them).

A ticket is opened in the caller's transaction, so it stands or falls with
what made it necessary. Runs in the current shop's context.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import func, select

from app.core.pagination import offset_of
from app.extensions import db
from app.orders.models import Order, Ticket

#: How many tickets ``list_tickets`` (the API's list) answers at most.
TICKETS_SHOWN = 200


def open_ticket(order_id: uuid.UUID, reason: str, detail: str) -> Ticket:
    """Open a ticket on the order (caller's transaction)."""
    ticket = Ticket(order_id=order_id, reason=reason, detail=detail)
    db.session.add(ticket)
    return ticket


def resolve_tickets(order_id: uuid.UUID, resolution: str, actor: str) -> None:
    """Close the order's open tickets, recording who resolved them and how
    (caller's transaction)."""
    now = datetime.now(UTC)
    for ticket in db.session.scalars(
        select(Ticket).where(Ticket.order_id == order_id, Ticket.status == "open")
    ):
        ticket.status = "resolved"
        ticket.resolution = resolution
        ticket.resolved_at = now
        ticket.actions = [
            *ticket.actions,
            {"action": resolution, "by": actor, "at": now.isoformat()},
        ]


def list_tickets(status: str | None = "open") -> list[Ticket]:
    """The shop's tickets, newest first (at most ``TICKETS_SHOWN``);
    ``status`` None for all."""
    query = select(Ticket).order_by(Ticket.created_at.desc())
    if status:
        query = query.where(Ticket.status == status)
    return list(db.session.scalars(query.limit(TICKETS_SHOWN)).all())


def tickets_with_numbers(status: str | None = "open") -> list[tuple[Ticket, str | None]]:
    """``list_tickets`` with each ticket's order number (one more query)."""
    return _with_numbers(list_tickets(status))


def tickets_page(
    status: str | None = "open", *, page: int = 1, per_page: int = 50
) -> tuple[list[tuple[Ticket, str | None]], int]:
    """A page of the shop's tickets (``status`` None for all), newest first,
    each with its order number, and how many there are in all: three
    queries whatever the page, read a page at a time in the database."""
    query = select(Ticket)
    counted = select(func.count()).select_from(Ticket)
    if status:
        query = query.where(Ticket.status == status)
        counted = counted.where(Ticket.status == status)
    total = int(db.session.scalar(counted) or 0)
    found = list(
        db.session.scalars(
            query.order_by(Ticket.created_at.desc(), Ticket.id.desc())
            .limit(per_page)
            .offset(offset_of(page, per_page))
        ).all()
    )
    return _with_numbers(found), total


def _with_numbers(found: list[Ticket]) -> list[tuple[Ticket, str | None]]:
    ids = list({t.order_id for t in found})
    numbers = (
        dict(db.session.execute(select(Order.id, Order.number).where(Order.id.in_(ids))).all())
        if ids
        else {}
    )
    return [(t, numbers.get(t.order_id)) for t in found]


def open_ticket_count() -> int:
    """How many tickets wait for the operator."""
    return int(db.session.scalar(select(func.count(Ticket.id)).where(Ticket.status == "open")) or 0)
