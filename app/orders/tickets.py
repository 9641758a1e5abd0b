"""Exception tickets (异常工单): orders the system could not finish on its
own, waiting for the operator (``orders.remedies`` acts on them).

A ticket is opened in the caller's transaction, so it stands or falls with
what made it necessary. Runs in the current shop's context.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import select

from app.extensions import db
from app.orders.models import Order, Ticket

#: How many tickets one page lists at most.
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
    found = list_tickets(status)
    ids = list({t.order_id for t in found})
    numbers = (
        dict(db.session.execute(select(Order.id, Order.number).where(Order.id.in_(ids))).all())
        if ids
        else {}
    )
    return [(t, numbers.get(t.order_id)) for t in found]


def open_ticket_count() -> int:
    """How many tickets wait for the operator."""
    from sqlalchemy import func

    return int(db.session.scalar(select(func.count(Ticket.id)).where(Ticket.status == "open")) or 0)
