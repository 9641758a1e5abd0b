"""Fulfilment: a paid order becomes a delivered one, exactly once.

- ``fulfil`` takes a lease (a conditional transition) before it sells a
  card, so only one caller — the request that paid, the job, the sweeper —
  delivers; a lease left by a killed worker runs out after
  ``ORDER_FULFIL_LEASE_SECONDS``;
- ``deliver_in_request`` delivers in the buyer's own request when the buyer
  is waiting on it (a wallet payment); anything it cannot finish goes to
  the fulfilment queue;
- ``sweep`` re-enqueues paid orders whose job was lost, so a lost Redis
  message delays an order but never loses it;
- ``expire_due`` ends unpaid orders past their hold and returns their stock.

Side effects outside the database (enqueueing, mail) happen after the
commit that justifies them and are safe to repeat. Runs in the current
shop's context except ``sweep`` (across shops, from the scheduler).
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import func, or_, select, update

from app.catalog import stock
from app.catalog.models import CARD_SOLD, KIND_CARD, KIND_TOPUP, Card
from app.core.queues import get_queue
from app.extensions import db
from app.orders import state, tickets
from app.orders.lookups import get_order_by_id
from app.orders.models import (
    DELIVERED,
    EXPIRED,
    FAILED,
    FULFILLING,
    PAID,
    PENDING,
    Order,
    Ticket,
)
from tenants.context import current_tenant_id

log = logging.getLogger(__name__)

MAX_FULFIL_ATTEMPTS = 5
FULFIL_JOB = "app.orders.jobs.fulfil_order"
MAIL_JOB = "app.orders.jobs.mail_delivery"


def fulfil_lease() -> timedelta:
    """How long a fulfilment holds its order (``ORDER_FULFIL_LEASE_SECONDS``)."""
    return timedelta(seconds=int(current_app.config["ORDER_FULFIL_LEASE_SECONDS"]))


# --- a paid order's stock -------------------------------------------------------


def missing_cards(order: Order) -> int:
    """Keep the paid order's holds from expiring and count the cards it still
    lacks (sold ones count as had: a partly delivered order asks only for
    the rest). Caller's transaction."""
    held = stock.keep_for_paid_order(order.id)
    if held >= order.quantity:
        return 0  # the usual case: every reserved card is still held
    sold = db.session.scalar(
        select(func.count()).where(Card.order_id == order.id, Card.status == CARD_SOLD)
    )
    return order.quantity - held - int(sold or 0)


def hold_paid_stock(order: Order) -> None:
    """A paid order keeps its cards: holds stop expiring, and whatever a late
    payment lost to other buyers is reserved again. Raises ``OutOfStock``
    (the holds it kept stay kept). Caller's transaction."""
    missing = missing_cards(order)
    if missing > 0:
        stock.reserve(order.product_id, missing, order.id, hold=stock.PAID_HOLD)


def ensure_reserved(order: Order) -> None:
    """After a (late) payment the order must hold its cards, or get a ticket
    (unless the product has sources to buy the rest from).
    The cards it still holds are kept either way, so they are not lost to
    other buyers while the ticket waits. Caller's transaction."""
    missing = missing_cards(order)
    if missing <= 0:
        return
    try:
        with db.session.begin_nested():
            stock.reserve(order.product_id, missing, order.id, hold=stock.PAID_HOLD)
    except stock.OutOfStock:
        from app.supply import routing

        if routing.has_sources(order.product_id):
            return  # fulfilment buys what is missing from the product's sources
        tickets.open_ticket(
            order.id,
            "out_of_stock",
            "Paid after the hold expired and the stock was gone; deliver when stock "
            "returns, or refund.",
        )


# --- delivering ---------------------------------------------------------------


def enqueue_fulfilment(order_id: uuid.UUID) -> None:
    """Queue the fulfilment job; a lost enqueue is repaired by ``sweep``."""
    try:
        get_queue("fulfilment").enqueue(
            FULFIL_JOB,
            str(current_tenant_id()),
            str(order_id),
            job_id=f"fulfil-{order_id}",
            result_ttl=300,
            failure_ttl=86400,
        )
    except Exception:  # noqa: BLE001 - Redis down: the sweeper will enqueue it
        log.warning("order %s: fulfilment not enqueued; the sweeper will retry", order_id)


def deliver_in_request(order_id: uuid.UUID) -> str:
    """Deliver a just-paid card order in the buyer's own request, so the
    answer to "pay" already carries the codes (no queue hop, no polling).

    Same guarantees as the job (``fulfil``: the lease and conditional
    transitions; a concurrent job or sweeper delivers nothing twice). If
    delivery cannot finish here (an error, a top-up) the order is queued
    for the fulfilment worker instead; a crash between the payment's commit
    and this call leaves a paid order, which the sweeper re-enqueues.
    Returns the order's status."""
    try:
        status = fulfil(order_id, actor="checkout", upstream=False)
    except Exception:  # noqa: BLE001 - the worker retries it; the payment is committed
        db.session.rollback()
        log.exception("order %s: delivery in the request failed; queued", order_id)
        enqueue_fulfilment(order_id)
        return get_order_by_id(order_id).status
    if status not in (DELIVERED, FAILED):
        enqueue_fulfilment(order_id)
    return status


def fulfil(order_id: uuid.UUID, actor: str = "fulfilment", upstream: bool = True) -> str:
    """Deliver a paid order. Idempotent and safe under concurrency: only the
    caller that takes the fulfilment lease delivers. Top-ups, and card
    orders the shop's own stock cannot cover, are bought from the product's
    sources (``app.supply.routing``) unless ``upstream`` is False (the
    buyer's request: those orders are left to the queue). Commits. Returns
    the status."""
    from app.supply import routing

    order = db.session.get(Order, order_id) or get_order_by_id(order_id)
    if order.product_kind != KIND_CARD and (
        order.product_kind != KIND_TOPUP
        or not upstream
        or not routing.has_sources(order.product_id)
    ):
        return order.status  # manual items (and top-ups without sources) wait for the operator
    now = datetime.now(UTC)
    took = state.transition(
        order.id,
        (PAID, FULFILLING),
        FULFILLING,
        actor=actor,
        where=or_(
            Order.status == PAID,
            Order.fulfil_started_at.is_(None),
            Order.fulfil_started_at < now - fulfil_lease(),
        ),
        fulfil_started_at=now,
        fulfil_attempts=Order.fulfil_attempts + 1,
    )
    if not took:
        db.session.rollback()
        return get_order_by_id(order_id).status
    if order.product_kind == KIND_TOPUP:
        db.session.commit()  # the lease, before any request to a supplier
        return routing.supply_order(order.id, actor=actor)
    sold = stock.sell(order.id, order.quantity)
    if len(sold) >= order.quantity:
        state.transition(
            order.id, FULFILLING, DELIVERED, actor=actor, delivered_at=datetime.now(UTC)
        )
        db.session.commit()
        notify_delivered(order_id)  # the id argument: the commit expired ``order``
        return DELIVERED
    if routing.has_sources(order.product_id):
        if not upstream:
            # Let the lease go: the fulfilment worker buys the rest.
            db.session.execute(
                update(Order)
                .where(Order.id == order.id)
                .values(fulfil_started_at=None)
                .execution_options(synchronize_session=False)
            )
            db.session.commit()
            return FULFILLING
        db.session.commit()  # the sold cards and the lease
        return routing.supply_order(order.id, actor=actor)
    open_ticket = db.session.scalar(
        select(Ticket.id).where(Ticket.order_id == order.id, Ticket.status == "open")
    )
    state.transition(
        order.id,
        FULFILLING,
        FAILED,
        actor=actor,
        note=f"{len(sold)} of {order.quantity} codes available",
        last_error="not enough reserved stock",
    )
    if open_ticket is None:
        tickets.open_ticket(
            order.id, "out_of_stock", f"{len(sold)} of {order.quantity} codes in stock."
        )
    db.session.commit()
    return FAILED


#: Delivered orders whose mail is still to be sent, oldest first, as
#: ``<shop id>:<order id>`` (``app.orders.jobs.drain_delivery_mails``).
MAIL_PENDING_KEY = "kameng:mail:pending"
DRAIN_JOB = "app.orders.jobs.drain_delivery_mails"


def notify_delivered(order_id: uuid.UUID) -> None:
    """Queue the delivery mail (after the commit that delivered): the order
    joins the list of pending mails, one Redis command; the purchase that
    finds the list empty also queues the job that drains it. A burst of
    purchases queues one job, not one each (RQ's enqueue costs a purchase
    more CPU than its own statements' round trips)."""
    from app.core.redisconn import get_redis

    try:
        if get_redis().rpush(MAIL_PENDING_KEY, f"{current_tenant_id()}:{order_id}") == 1:
            get_queue("mail").enqueue(DRAIN_JOB)
    except Exception:  # noqa: BLE001 - the order page shows the codes regardless
        log.warning("order %s: delivery mail not queued", order_id)


def stamp_mailed(order_ids: list[uuid.UUID], *, only_unstamped: bool = False) -> None:
    """Record that the delivery mails of ``order_ids`` were taken by the mail
    server (``mailed_at`` now, an earlier error cleared), in one UPDATE;
    ``only_unstamped`` leaves orders already stamped as they are. Not a
    transition: the status is untouched. Commits (when there is any)."""
    if not order_ids:
        return
    condition = Order.id.in_(order_ids)
    if only_unstamped:
        condition &= Order.mailed_at.is_(None)
    db.session.execute(
        update(Order)
        .where(condition)
        .values(mailed_at=datetime.now(UTC), mail_error=None)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def record_delivery_mail(order_id: uuid.UUID, error: str | None = None) -> None:
    """Record how the order's delivery mail went: taken by the mail server
    (``error`` None: ``mailed_at`` is stamped, an earlier error cleared) or
    refused (the reason kept in ``mail_error``; ``mailed_at`` stays as it
    was). The order page claims a mailed copy only from ``mailed_at``.
    Not a transition: the status is untouched. Commits."""
    if error is None:
        values = {"mailed_at": datetime.now(UTC), "mail_error": None}
    else:
        values = {"mail_error": error[:200]}
    db.session.execute(
        update(Order)
        .where(Order.id == order_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


# --- periodic -------------------------------------------------------------------


def sweep(limit: int = 500) -> int:
    """Re-enqueue paid orders whose fulfilment job is gone (a lost message, a
    killed worker). Runs across shops from the scheduler."""
    now = datetime.now(UTC)
    rows = db.session.execute(
        select(Order.id, Order.tenant_id)
        .where(
            Order.product_kind == KIND_CARD,
            or_(
                (Order.status == PAID) & (Order.paid_at < now - timedelta(seconds=10)),
                (Order.status == FULFILLING) & (Order.fulfil_started_at < now - fulfil_lease()),
            ),
            Order.fulfil_attempts < MAX_FULFIL_ATTEMPTS,
        )
        .limit(limit)
    ).all()
    queue = get_queue("fulfilment")
    for order_id, tenant_id in rows:
        queue.enqueue(FULFIL_JOB, str(tenant_id), str(order_id), job_id=f"fulfil-{order_id}")
    return len(rows)


def expire_due(limit: int = 1000) -> int:
    """Expire unpaid orders past their hold and return their stock. Commits."""
    now = datetime.now(UTC)
    ids = db.session.scalars(
        select(Order.id).where(Order.status == PENDING, Order.expires_at < now).limit(limit)
    ).all()
    expired = 0
    for order_id in ids:
        if state.transition(order_id, PENDING, EXPIRED, actor="expiry"):
            stock.release(order_id)
            expired += 1
    db.session.commit()
    return expired
