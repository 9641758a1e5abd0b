"""The operator's remedies for an order the system could not finish (an
exception ticket, 异常工单): try again, deliver by hand, refund.

Each is one transaction that moves the order by a conditional transition
(a racing second click changes nothing), resolves its open tickets and
records who acted in the order's history. Runs in the current shop's
context and commits.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.catalog import stock
from app.catalog.models import Card
from app.core.crypto import get_cipher
from app.core.errors import Conflict, ValidationFailed
from app.extensions import db
from app.ledger import services as ledger
from app.orders import state
from app.orders.fulfilment import fulfil, hold_paid_stock, notify_delivered
from app.orders.lookups import get_order_by_id
from app.orders.models import DELIVERED, FAILED, FULFILLING, PAID, PARTIAL, REFUNDED, Order
from app.orders.tickets import resolve_tickets
from app.payments import registry
from app.payments import services as payments

REFUND_TARGETS = ("wallet", "original")
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
    hold_paid_stock(order)
    if not state.transition(
        order.id, FAILED, FULFILLING, actor=actor, note="retry", fulfil_started_at=None
    ):
        raise Conflict(
            "The order changed meanwhile; reload and try again.", message=CHANGED_MEANWHILE
        )
    resolve_tickets(order.id, "retried", actor)
    db.session.commit()
    return fulfil(order.id, actor=actor)


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

    Undelivered codes return to stock; delivered ones are voided, never
    resold. Idempotent by the ledger key ``refund:<order>`` and, at the
    provider, by ``kameng-refund-<order>``.
    """
    order = get_order_by_id(order_id)
    if order.status == FULFILLING:
        raise Conflict(
            "This order is being delivered right now; try again in a minute.",
            message=_l("This order is being delivered right now. Try again in a minute."),
        )
    if order.status not in (PAID, DELIVERED, PARTIAL, FAILED):
        raise Conflict(
            f"This order is {order.status}; there is nothing to refund.",
            message=_l("This order has nothing to refund."),
        )
    if to == "wallet":
        if order.buyer_id is None:
            raise ValidationFailed(
                "A guest order can only be refunded to the original payment.",
                errors={"to": ["This buyer has no wallet."]},
                message=_l("A guest order can only be refunded to the original payment."),
            )
        target = ledger.wallet_code(order.buyer_id)
    elif to == "original":
        target = _refund_to_provider(order)
    else:
        raise ValidationFailed(
            "Refund to 'wallet' or 'original'.",
            errors={"to": ["Unknown."]},
            message=_l("Choose where the money goes back to."),
        )
    moved = state.transition(
        order.id,
        (PAID, DELIVERED, PARTIAL, FAILED),
        REFUNDED,
        actor=actor,
        note=f"refund to {to}",
    )
    if not moved:
        raise Conflict(
            "The order changed meanwhile; reload and try again.", message=CHANGED_MEANWHILE
        )
    ledger.post(
        f"refund:{order.id}",
        "refund",
        [ledger.Line(ledger.SALES, -order.total), ledger.Line(target, order.total)],
        order.currency,
        memo=f"refund of order {order.number}",
        order_id=order.id,
    )
    stock.release(order.id)
    sold_ids = list(
        db.session.scalars(select(Card.id).where(Card.order_id == order.id, Card.status == "sold"))
    )
    stock.void(sold_ids)
    resolve_tickets(order.id, "refunded", actor)
    db.session.commit()
    return get_order_by_id(order.id)


def _refund_to_provider(order: Order) -> str:
    """Send the money back through the provider that collected it; returns
    the ledger account it goes back to (caller's transaction)."""
    if order.payment_provider is None:
        return ledger.clearing_code("unknown")
    adapter = registry.adapter(order.payment_provider)
    target = adapter.refund(
        tenant_id=order.tenant_id,
        provider_ref=order.payment_ref,
        key=f"kameng-refund-{order.id}",
        payer_id=order.buyer_id,
    )
    payment = payments.payment_by_ref(order.payment_provider, order.payment_ref)
    if payment is not None:
        payments.record_refunded(payment.id)
    return target
