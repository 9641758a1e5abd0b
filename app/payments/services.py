"""Payment rows: what each provider said about the money.

A ``Payment`` records one attempt to collect money through a provider
(pending → succeeded | failed, then refunded). Whether an order or a
wallet accepted that money is its own domain's business: a second payment
for a paid order is still a succeeded payment (and gets a ticket).

Every function runs in the caller's transaction and the current shop's
context, and is safe to repeat: each change is a conditional UPDATE.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import select, update

from app.extensions import db
from app.payments.models import Payment

#: A payment's reference until its provider names it: the row is recorded
#: before the provider is asked, so a notification can always find it.
PENDING_REF = "pending:"


def pending_ref(payment_id: uuid.UUID) -> str:
    """The reference of a payment its provider has not named yet."""
    return PENDING_REF + str(payment_id)


def name_payment(payment_id: uuid.UUID, provider_ref: str) -> bool:
    """Give a pending payment the provider's reference, once (a payment
    already named keeps its name). Returns whether it named it."""
    moved = db.session.execute(
        update(Payment)
        .where(Payment.id == payment_id, Payment.provider_ref == pending_ref(payment_id))
        .values(provider_ref=provider_ref)
        .execution_options(synchronize_session=False)
    ).rowcount
    return moved == 1


def record_payment(
    *,
    purpose: str,
    provider: str,
    provider_ref: str,
    amount: int,
    currency: str,
    order_id: uuid.UUID | None = None,
    account_id: uuid.UUID | None = None,
) -> Payment:
    """The payment through ``provider`` with reference ``provider_ref``,
    created pending on first use (the same reference returns the same row)."""
    existing = payment_by_ref(provider, provider_ref)
    if existing is not None:
        return existing
    payment = Payment(
        purpose=purpose,
        order_id=order_id,
        account_id=account_id,
        provider=provider,
        provider_ref=provider_ref,
        amount=amount,
        currency=currency,
    )
    db.session.add(payment)
    db.session.flush()
    return payment


def payment_by_ref(provider: str, provider_ref: str | None) -> Payment | None:
    """The current shop's payment through ``provider`` named ``provider_ref``."""
    if not provider_ref:
        return None
    return db.session.scalar(
        select(Payment).where(Payment.provider == provider, Payment.provider_ref == provider_ref)
    )


def mark_succeeded(payment_id: uuid.UUID) -> bool:
    """Record that the provider collected the payment (pending or failed →
    succeeded; a refunded or already succeeded payment is left alone).
    Returns whether it changed the row."""
    return _move(payment_id, ("pending", "failed"), "succeeded", confirmed_at=datetime.now(UTC))


def mark_failed(payment_id: uuid.UUID) -> bool:
    """Record a failed attempt: only a pending payment becomes failed, so a
    failure reported after a success (events out of order) changes nothing."""
    return _move(payment_id, ("pending",), "failed")


def record_refunded(payment_id: uuid.UUID, refunded: int | None = None) -> bool:
    """Record that ``refunded`` minor units of the payment went back (the
    provider's running total, so a stale or repeated report never lowers
    it; None: all of it). A full refund marks the payment refunded."""
    payment = db.session.scalar(select(Payment).where(Payment.id == payment_id))
    if payment is None:
        return False
    refunded = payment.amount if refunded is None else min(refunded, payment.amount)
    if refunded <= (payment.refunded or 0):
        return False
    values: dict = {"refunded": refunded}
    if refunded >= payment.amount:
        values["status"] = "refunded"
    moved = db.session.execute(
        update(Payment)
        .where(Payment.id == payment_id, Payment.refunded < refunded)
        .values(**values)
        .execution_options(synchronize_session=False)
    ).rowcount
    return moved == 1


def _move(payment_id: uuid.UUID, expected: tuple[str, ...], to: str, **values) -> bool:
    moved = db.session.execute(
        update(Payment)
        .where(Payment.id == payment_id, Payment.status.in_(expected))
        .values(status=to, **values)
        .execution_options(synchronize_session=False)
    ).rowcount
    return moved == 1
