"""The operator's remedies for an order the system could not finish (an
exception ticket, 异常工单): try again, deliver by hand, refund.

Each moves the order by a conditional transition (a racing second click
changes nothing), resolves its open tickets and records who acted in the
order's history. Retry and delivery by hand are one transaction each; a
refund, which asks a provider, is claimed, sent, then finished (see
``refund``). Runs in the current shop's
context and commits.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from app.catalog import stock
from app.catalog.models import KIND_CARD, Card
from app.core.crypto import get_cipher
from app.core.errors import Conflict, ValidationFailed
from app.extensions import db
from app.ledger import services as ledger
from app.orders import state
from app.orders.fulfilment import fulfil, hold_paid_stock, notify_delivered
from app.orders.lookups import get_order_by_id
from app.orders.models import (
    DELIVERED,
    FAILED,
    FULFILLING,
    PAID,
    PARTIAL,
    REFUNDED,
    REFUNDING,
    Order,
    OrderEvent,
    Ticket,
)
from app.orders.tickets import open_ticket, resolve_tickets
from app.payments import registry
from app.payments import services as payments
from app.payments.adapters.base import ProviderError
from app.supply import routing

REFUND_TARGETS = ("wallet", "original")
#: The states a refund may leave.
REFUNDABLE = (PAID, DELIVERED, PARTIAL, FAILED)
CHANGED_MEANWHILE = _l("The order changed meanwhile. Reload the page and try again.")


def retry(order_id: uuid.UUID, actor: str) -> str:
    """Try delivering a failed order again (re-reserving what is missing;
    ``OutOfStock`` when the shop still has none). Returns the status."""
    order = get_order_by_id(order_id)
    if order.status != FAILED:
        raise Conflict(
            f"Only a failed order can be retried; this one is {order.status}.",
            message=_l("Only a failed order can be tried again."),
        )
    if order.product_kind == KIND_CARD:
        try:
            hold_paid_stock(order)
        except stock.OutOfStock:
            if not routing.has_sources(order.product_id):
                raise  # nowhere else to get the codes from
    if not state.transition(
        order.id, FAILED, FULFILLING, actor=actor, note="retry", fulfil_started_at=None
    ):
        raise Conflict(
            "The order changed meanwhile; reload and try again.", message=CHANGED_MEANWHILE
        )
    resolve_tickets(order.id, "retried", actor)
    db.session.commit()
    return fulfil(order.id, actor=actor)


def switch_source(order_id: uuid.UUID, actor: str) -> str:
    """Stop waiting on the silent source of a failed order and buy from the
    next one (``app.supply.routing.give_up_source``, then ``retry``). The
    silent source may still deliver later: the operator's call, which the
    order's history records. Returns the status."""
    order = get_order_by_id(order_id)
    if order.status != FAILED:
        raise Conflict(
            f"Only a failed order can switch source; this one is {order.status}.",
            message=_l("Only a failed order can switch to another source."),
        )
    if routing.give_up_source(order.id, actor) is None:
        raise Conflict(
            "No source is holding this order's purchase; retry it instead.",
            message=_l("No source is holding this order. Use retry instead."),
        )
    db.session.add(
        OrderEvent(
            order_id=order.id,
            from_status=FAILED,
            to_status=FAILED,
            actor=actor,
            note="stopped waiting on the silent source",
        )
    )
    db.session.commit()
    return retry(order.id, actor)


def deliver_manually(order_id: uuid.UUID, content: str, actor: str) -> Order:
    """Deliver by hand (a manual item, or a failed card order). The content
    is encrypted like card codes and shown to the buyer (page and mail)."""
    content = (content or "").strip()
    if not content:
        raise ValidationFailed(
            "Give what to deliver.",
            errors={"content": ["Required."]},
            message=_l("Write what the buyer receives."),
        )
    order = get_order_by_id(order_id)
    cipher = get_cipher()
    moved = state.transition(
        order.id,
        (PAID, FAILED, FULFILLING),
        DELIVERED,
        actor=actor,
        note="delivered by hand",
        delivered_at=datetime.now(UTC),
        manual_key_id=cipher.current_id,
        manual_secret=cipher.encrypt(order.id, content),
    )
    if not moved:
        raise Conflict(
            f"This order is {order.status}; it cannot be delivered by hand.",
            message=_l("This order cannot be delivered by hand in its current state."),
        )
    stock.release(order.id)
    resolve_tickets(order.id, "delivered", actor)
    db.session.commit()
    notify_delivered(order.id)
    return get_order_by_id(order.id)


def refund(order_id: uuid.UUID, *, to: str, actor: str) -> Order:
    """Refund a paid order to the buyer's wallet or the original payment.

    Exactly one refund ever happens, however many operators click at once:
    the order is first claimed (``→ refunding``, one committed conditional
    transition naming the states a refund may leave), so a second caller
    gets ``Conflict`` before any money moves. Then the provider is asked
    (idempotent at the provider by ``kameng-refund-<order>``), then
    ``finish_refund`` completes it in one transaction. A crash in between
    leaves the order ``refunding`` for ``finish_stale_refunds`` to finish
    with the same key. Undelivered codes return to stock; delivered ones
    are voided, never resold. Commits.
    """
    order = get_order_by_id(order_id)
    if order.status == FULFILLING:
        raise Conflict(
            "This order is being delivered right now; try again in a minute.",
            message=_l("This order is being delivered right now. Try again in a minute."),
        )
    if order.status == REFUNDING:
        raise Conflict(
            "This order is being refunded right now.",
            message=_l("This order is already being refunded."),
        )
    if order.status not in REFUNDABLE:
        raise Conflict(
            f"This order is {order.status}; there is nothing to refund.",
            message=_l("This order has nothing to refund."),
        )
    if to not in REFUND_TARGETS:
        raise ValidationFailed(
            "Refund to 'wallet' or 'original'.",
            errors={"to": ["Unknown."]},
            message=_l("Choose where the money goes back to."),
        )
    if to == "wallet" and order.buyer_id is None:
        raise ValidationFailed(
            "A guest order can only be refunded to the original payment.",
            errors={"to": ["This buyer has no wallet."]},
            message=_l("A guest order can only be refunded to the original payment."),
        )
    claimed = state.transition(order.id, REFUNDABLE, REFUNDING, actor=actor, note=_claim_note(to))
    if not claimed:
        db.session.rollback()
        raise Conflict(
            "The order changed meanwhile; reload and try again.", message=CHANGED_MEANWHILE
        )
    db.session.commit()
    target = _asked_provider(order, to)
    finish_refund(order.id, target=target, to=to, actor=actor)
    return get_order_by_id(order.id)


def finish_refund(order_id: uuid.UUID, *, target: str, to: str, actor: str) -> bool:
    """Finish a claimed refund in one transaction: ``refunding → refunded``,
    the ledger's ``refund:<order>`` (sales → ``target``), the payment row
    marked refunded, codes released or voided, tickets resolved. Commits.
    Idempotent: an order no longer ``refunding`` is left alone (False)."""
    order = get_order_by_id(order_id)
    if not state.transition(order.id, REFUNDING, REFUNDED, actor=actor, note=f"refund to {to}"):
        db.session.rollback()
        return False
    ledger.post(
        f"refund:{order.id}",
        "refund",
        [ledger.Line(ledger.SALES, -order.total), ledger.Line(target, order.total)],
        order.currency,
        memo=f"refund of order {order.number}",
        order_id=order.id,
    )
    if to == "original" and order.payment_provider is not None:
        payment = payments.payment_by_ref(order.payment_provider, order.payment_ref)
        if payment is not None:
            payments.record_refunded(payment.id)
    stock.release(order.id)
    sold_ids = list(
        db.session.scalars(select(Card.id).where(Card.order_id == order.id, Card.status == "sold"))
    )
    stock.void(sold_ids)
    resolve_tickets(order.id, "refunded", actor)
    db.session.commit()
    return True


def finish_stale_refund(order_id: uuid.UUID, actor: str = "refund recovery") -> bool:
    """Finish a refund claimed but never finished (the process died after
    the claim): ask the provider again with the same idempotency key (the
    provider answers the refund it already made, never a second one), then
    ``finish_refund``. Where the money goes is read from the claim's entry
    in the order's history. Commits; safe to run twice."""
    order = get_order_by_id(order_id)
    if order.status != REFUNDING:
        return False
    note = db.session.scalar(
        select(OrderEvent.note)
        .where(OrderEvent.order_id == order.id, OrderEvent.to_status == REFUNDING)
        .order_by(OrderEvent.created_at.desc(), OrderEvent.id.desc())
        .limit(1)
    )
    to = "wallet" if note == _claim_note("wallet") and order.buyer_id is not None else "original"
    target = _asked_provider(order, to)
    return finish_refund(order.id, target=target, to=to, actor=actor)


def stale_refunds(older_than: datetime) -> list[uuid.UUID]:
    """The current shop's orders claimed for a refund before ``older_than``
    and not finished since."""
    claimed_at = (
        select(OrderEvent.order_id, func.max(OrderEvent.created_at).label("at"))
        .where(OrderEvent.to_status == REFUNDING)
        .group_by(OrderEvent.order_id)
        .subquery()
    )
    return list(
        db.session.scalars(
            select(Order.id)
            .join(claimed_at, claimed_at.c.order_id == Order.id)
            .where(Order.status == REFUNDING, claimed_at.c.at < older_than)
        )
    )


def _claim_note(to: str) -> str:
    return f"refund to {to} claimed"


REFUND_REFUSED = "refund_refused"


def _asked_provider(order: Order, to: str) -> str:
    """``_refund_target``, and when the provider refuses: a ticket says so
    (once per order), the order stays claimed (no second refund can start)
    and ``finish_stale_refunds`` asks again with the same key; the error
    goes on to the caller."""
    try:
        return _refund_target(order, to)
    except ProviderError as err:
        db.session.rollback()
        already = db.session.scalar(
            select(func.count(Ticket.id)).where(
                Ticket.order_id == order.id,
                Ticket.reason == REFUND_REFUSED,
                Ticket.status == "open",
            )
        )
        if not already:
            open_ticket(
                order.id,
                REFUND_REFUSED,
                f"{err.detail} The order stays claimed for this refund and it is retried; "
                "fix the cause at the provider, or refund there by hand (the retry then "
                "finds that refund and completes the order).",
            )
            db.session.commit()
        raise


def _refund_target(order: Order, to: str) -> str:
    """The ledger account the money goes back to, sending it back through
    the provider that collected it for ``original`` (idempotent at the
    provider by ``kameng-refund-<order>``)."""
    if to == "wallet":
        return ledger.wallet_code(order.buyer_id)
    if order.payment_provider is None:
        return ledger.clearing_code("unknown")
    adapter = registry.adapter(order.payment_provider)
    return adapter.refund(
        tenant_id=order.tenant_id,
        provider_ref=order.payment_ref,
        key=refund_key(order.id),
        payer_id=order.buyer_id,
    )


def refund_key(order_id: uuid.UUID) -> str:
    """The provider's idempotency key of the order's one refund."""
    return f"kameng-refund-{order_id}"
