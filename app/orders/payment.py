"""Paying an order: the use case that calls a payment adapter, and the one
path by which any provider's confirmation marks an order paid.

- ``pay_order`` starts (or, for providers that collect at once, completes)
  a payment through the adapter the registry names; it never names a
  provider itself, it reads the adapter's flags;
- ``confirm_payment`` posts ``pay:<order>`` to the ledger and moves the
  order to paid in one transaction; a repeat changes nothing, a second,
  different payment opens a ticket, and a payment confirmed after the
  order expired re-reserves stock and delivers if it can (never lost, the
  peers' 掉单 problem);
- ``NOTIFICATIONS`` is how ``payments.events`` hands a provider's webhook
  about an order's money to this domain.

Runs in the current shop's context and commits.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import select, update

from app.catalog.models import KIND_CARD
from app.core.errors import KamengError, NotFound
from app.core.ids import uuid7
from app.extensions import db
from app.ledger import services as ledger
from app.orders import checkout, state
from app.orders.fulfilment import deliver_in_request, enqueue_fulfilment, ensure_reserved
from app.orders.lookups import get_order_by_id, is_expired
from app.orders.models import EXPIRED, PAID, PENDING, REFUNDED, REFUNDING, Order
from app.orders.tickets import open_ticket
from app.payments import registry
from app.payments import services as payments
from app.payments.adapters.base import (
    SUCCEEDED,
    Charge,
    PaymentStart,
    ProviderError,
    ProviderUnavailable,
    WebhookEvent,
)
from app.payments.events import PurposeHandler
from app.payments.models import Payment


class OrderNotPayable(KamengError):
    status = 409
    slug = "order-not-payable"
    title = "This order cannot be paid"


def ensure_payable(order: Order) -> None:
    """``OrderNotPayable`` unless the order waits for its payment."""
    if is_expired(order):
        raise OrderNotPayable("This order has expired; place a new one.")
    if order.status != PENDING:
        raise OrderNotPayable(f"This order is {order.status.replace('_', ' ')}.")


def pay_order(
    order: Order, provider: str, *, buyer_id: uuid.UUID | None, actor: str
) -> PaymentStart:
    """Pay ``order`` through ``provider``: a provider that collects at once
    (wallet, sandbox) confirms here, one that needs the buyer (stripe)
    answers what the buyer's browser needs and its webhook confirms.

    A wallet pays only for its own buyer; a guest order paid from a
    signed-in buyer's wallet becomes theirs, so a refund knows which wallet
    to return the money to. Commits. Raises ``ProviderUnavailable``,
    ``ProviderError``, ``OrderNotPayable``, ``InsufficientFunds``."""
    adapter = registry.usable(provider)
    ensure_payable(order)
    checkout.extend_hold(order)  # a payment starts: the short initial hold becomes the full one
    order_id, total = order.id, order.total
    if adapter.pays_from_wallet and buyer_id is not None:
        if order.buyer_id not in (None, buyer_id):
            raise NotFound("No such order.")
    payment_id = None
    if not adapter.pays_from_wallet:
        # On record before the provider is asked: its notification proves
        # the payment is ours by naming this row, never by the order alone.
        payment_id = _pending_payment(order_id, adapter.name, total, order.currency)
        db.session.commit()
    try:
        started = adapter.start(
            Charge(
                tenant_id=order.tenant_id,
                purpose="order",
                subject_id=order_id,
                amount=total,
                currency=order.currency,
                reference=order.number,
                payer_id=buyer_id,
                payment_id=payment_id,
            )
        )
    except (ProviderError, ProviderUnavailable):
        db.session.rollback()
        if payment_id is not None:
            payments.mark_failed(payment_id)
            db.session.commit()
        raise
    payment = None
    if payment_id is not None:
        payment = payments.payment_by_ref(adapter.name, started.provider_ref)
        if payment is None:  # the usual case: the provider named a new payment
            payments.name_payment(payment_id, started.provider_ref)
            payment = db.session.get(Payment, payment_id)
        elif payment.id != payment_id:  # it answered one we already hold
            payments.mark_failed(payment_id)
        started.payment_id = payment.id
    elif order.buyer_id is None:
        db.session.execute(
            update(Order)
            .where(Order.id == order_id, Order.buyer_id.is_(None))
            .values(buyer_id=buyer_id)
            .execution_options(synchronize_session=False)
        )
    if started.status != SUCCEEDED:
        db.session.commit()
        return started
    if payment is not None:
        db.session.commit()  # the payment is on record before the order moves
    confirm_payment(
        order_id,
        provider=adapter.name,
        provider_ref=started.provider_ref,
        amount=total,
        actor=actor if adapter.pays_from_wallet else adapter.name,
        ledger_source=started.ledger_source,
        deliver_now=adapter.delivers_in_request,
    )
    if payment is not None:
        payments.mark_succeeded(payment.id)
        db.session.commit()
    return started


def _pending_payment(order_id: uuid.UUID, provider: str, amount: int, currency: str) -> uuid.UUID:
    """The order's payment through ``provider`` the provider has not named
    yet (asking again after a crash asks with the same row, hence the same
    idempotency key), or a new one (caller's transaction)."""
    pending = db.session.scalar(
        select(Payment.id)
        .where(
            Payment.order_id == order_id,
            Payment.purpose == "order",
            Payment.provider == provider,
            Payment.status == "pending",
            Payment.amount == amount,
            Payment.currency == currency,
            Payment.provider_ref.startswith(payments.PENDING_REF),
        )
        .order_by(Payment.created_at.desc())
        .limit(1)
    )
    if pending is not None:
        return pending
    payment_id = uuid7()
    db.session.add(
        Payment(
            id=payment_id,
            purpose="order",
            order_id=order_id,
            provider=provider,
            provider_ref=payments.pending_ref(payment_id),
            amount=amount,
            currency=currency,
        )
    )
    db.session.flush()
    return payment_id


def confirm_payment(
    order_id: uuid.UUID,
    *,
    provider: str,
    provider_ref: str,
    amount: int,
    actor: str,
    ledger_source: str | None = None,
    deliver_now: bool = False,
) -> bool:
    """The one path by which any provider's confirmation marks an order paid.

    Posts ``pay:<order>`` to the ledger (from ``clearing:<provider>``, or
    from ``ledger_source`` e.g. the buyer's wallet), moves the order to
    paid, re-reserves stock for a late payment, and after commit hands it
    to fulfilment: with ``deliver_now`` (the buyer is waiting on this very
    request) a card order is delivered here at once, otherwise (webhooks,
    and the sandbox, which stands in for one) the fulfilment job is queued.
    Idempotent: a repeat returns False and changes nothing. A second,
    different payment for an already paid order opens a ticket.
    """
    order = db.session.get(Order, order_id) or get_order_by_id(order_id)
    if amount != order.total:
        open_ticket(order.id, "amount_mismatch", f"{provider} {provider_ref} paid {amount}")
        db.session.commit()
        return False
    late = order.status == EXPIRED
    moved = state.transition(
        order.id,
        (PENDING, EXPIRED),
        PAID,
        actor=actor,
        note=f"{provider} {provider_ref}" + (" (after expiry)" if late else ""),
        paid_at=datetime.now(UTC),
        payment_provider=provider,
        payment_ref=provider_ref,
    )
    if not moved:
        db.session.rollback()
        order = get_order_by_id(order_id)
        if order.payment_ref != provider_ref and order.status not in (PENDING, EXPIRED):
            open_ticket(
                order.id,
                "duplicate_payment",
                f"{provider} {provider_ref} paid again for an order already paid "
                f"by {order.payment_provider} {order.payment_ref}; refund one",
            )
            db.session.commit()
        return False
    ledger.post(
        f"pay:{order.id}",
        "order_payment",
        [
            ledger.Line(ledger_source or ledger.clearing_code(provider), -order.total),
            ledger.Line(ledger.SALES, order.total),
        ],
        order.currency,
        memo=f"order {order.number}",
        order_id=order.id,
    )
    kind = order.product_kind
    if kind == KIND_CARD:
        ensure_reserved(order)
    db.session.commit()
    if deliver_now and kind == KIND_CARD:
        deliver_in_request(order_id)
    else:
        enqueue_fulfilment(order_id)
    return True


# --- provider notifications (payments.events) ----------------------------------


def _adopt(payment_id: uuid.UUID, provider: str, provider_ref: str) -> Payment | None:
    """Our pending payment for an order (``payments.events`` checked it is
    the one the notification names, for the same order, amount, currency
    and fee) takes the reference the provider reports."""
    payment = db.session.scalar(
        select(Payment).where(
            Payment.id == payment_id, Payment.purpose == "order", Payment.provider == provider
        )
    )
    if payment is None or not payments.name_payment(payment.id, provider_ref):
        return None
    db.session.refresh(payment)
    return payment


def _unverified(subject_id: uuid.UUID, event: WebhookEvent, reason: str) -> str:
    """Money the provider collected on the shop's account for one of its
    orders, but not through a payment we started as it says (a foreign
    intent, another amount or fee, the other live mode): it pays nothing,
    and the operator gets a ticket on the order to look at it."""
    order_id = db.session.scalar(select(Order.id).where(Order.id == subject_id))
    if order_id is None:
        return "unknown_payment"
    open_ticket(
        order_id,
        "unverified_payment",
        f"{event.provider_ref} ({event.amount} {event.currency}) was not started by "
        f"this platform as reported: {reason}; it paid nothing",
    )
    db.session.commit()
    return "unverified_payment"


def _confirmed(payment: Payment, event: WebhookEvent) -> str:
    paid = confirm_payment(
        payment.order_id,
        provider=payment.provider,
        provider_ref=event.provider_ref,
        amount=event.amount,
        actor=f"{payment.provider} webhook",
    )
    payments.mark_succeeded(payment.id)
    db.session.commit()
    return "order_paid" if paid else "order_unchanged"


def _refunded(payment: Payment) -> str:
    status = db.session.scalar(select(Order.status).where(Order.id == payment.order_id))
    # Refunded at the provider (e.g. its dashboard), not through us: the
    # order still stands, so the operator must look at it.
    return "refund_recorded" if status in (REFUNDING, REFUNDED) else "refunded_outside_kameng"


#: How ``payments.events`` handles notifications about orders' money.
NOTIFICATIONS = PurposeHandler(
    adopt=_adopt, confirmed=_confirmed, refunded=_refunded, unverified=_unverified
)
