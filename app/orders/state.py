"""Order transitions: the only code that changes ``orders.status``.

Each transition is one conditional UPDATE naming the states it expects
(``… WHERE status IN (:expected)``) plus an event row, in the caller's
transaction. It returns whether this call moved the order: a repeat, or a
racing second caller, gets ``False`` and must not repeat the side effects
(deliver, mail, post to the ledger) that belong to the transition.
A transition that may leave one of several states first locks the row and
reads which one, so the event records the state actually left.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select, update

from app.extensions import db
from app.orders.models import (
    CANCELLED,
    DELIVERED,
    EXPIRED,
    FAILED,
    FULFILLING,
    PAID,
    PARTIAL,
    PENDING,
    REFUNDED,
    REFUNDING,
    Order,
    OrderEvent,
)

ALLOWED: dict[str, set[str]] = {
    PENDING: {PAID, EXPIRED, CANCELLED},
    EXPIRED: {PAID},  # a payment that arrives late is never lost (掉单)
    PAID: {FULFILLING, DELIVERED, FAILED, REFUNDING},
    FULFILLING: {DELIVERED, PARTIAL, FAILED, FULFILLING},
    FAILED: {FULFILLING, DELIVERED, REFUNDING},
    PARTIAL: {DELIVERED, REFUNDING},
    DELIVERED: {REFUNDING},
    # A refund is claimed first (one committed transition), then the
    # provider is asked, then it is finished: two refunds can never race.
    REFUNDING: {REFUNDED},
    CANCELLED: set(),
    REFUNDED: set(),
}


class IllegalTransition(ValueError):
    """A transition the state machine does not allow (a programming error)."""


def transition(
    order_id: uuid.UUID,
    expected: str | tuple[str, ...],
    to: str,
    *,
    actor: str,
    note: str = "",
    where=None,
    **values,
) -> bool:
    """Move the order from one of ``expected`` to ``to``, setting ``values``.

    ``where`` adds a condition (e.g. a stale fulfilment lease). Returns
    ``True`` when this call made the move.
    """
    expected = (expected,) if isinstance(expected, str) else tuple(expected)
    for state in expected:
        if to not in ALLOWED.get(state, set()):
            raise IllegalTransition(f"{state} -> {to}")
    stmt = (
        update(Order)
        .where(Order.id == order_id, Order.status.in_(expected))
        .values(status=to, **values)
        .execution_options(synchronize_session=False)
    )
    if where is not None:
        stmt = stmt.where(where)
    if len(expected) == 1:
        left = expected[0]
        returning = Order.id
    elif db.session.get_bind().dialect.name == "postgresql":
        # The history names the one state the order leaves: read it from a
        # locked copy of the row in the same statement (one round trip; the
        # lock makes the UPDATE see the state the copy shows).
        previous = (
            select(Order.id, Order.status.label("left_status"))
            .where(Order.id == order_id)
            .with_for_update()
            .subquery()
        )
        stmt = stmt.where(Order.id == previous.c.id)
        returning = previous.c.left_status
        left = None
    else:
        # SQLite serialises writers and cannot return a FROM table's columns:
        # lock (BEGIN IMMEDIATE holds it) and read first.
        left = db.session.scalar(select(Order.status).where(Order.id == order_id).with_for_update())
        if left not in expected:
            return False
        returning = Order.id
    # The guard scopes ORM UPDATEs (and their subqueries) to the current shop.
    moved = db.session.execute(stmt.returning(returning)).first()
    if moved is None:
        return False
    if left is None:
        left = moved[0]
    db.session.add(
        OrderEvent(
            order_id=order_id,
            from_status=left,
            to_status=to,
            actor=actor[:120],
            note=note,
        )
    )
    if to in (DELIVERED, REFUNDED):
        # Commission follows the order in the same transaction
        # (``app.agents.commission``): earned on delivery, undone on refund.
        from app.agents import commission

        if to == DELIVERED:
            commission.accrue(order_id)
        else:
            commission.reverse(order_id)
    if to in (DELIVERED, FAILED, REFUNDED):
        # A docking partner who bought this order hears of it after commit
        # (``app.supply.callbacks``).
        from app.supply import callbacks

        callbacks.watch(order_id, to)
    return True
