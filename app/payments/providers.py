"""Payment providers behind one interface: ``start``, confirmation (through
``orders.services.confirm_payment`` — the one path every provider uses) and
``refund``.

- ``wallet``: pays from the buyer's shop balance in the same transaction;
  a card order is delivered in the same request (the answer carries the
  codes).
- ``sandbox``: development and tests. It creates a payment and confirms it
  through the same confirmation path a real provider's webhook takes.
  Refused when ``ENV=production`` (the app will not even start with it).
- ``stripe``: a PaymentIntent on the shop's connected Stripe account
  (``Stripe-Account`` header) with the platform's fee as
  ``application_fee_amount``; a verified webhook confirms it (see
  ``payments.webhooks``). Without a connected account the platform's own
  account takes the payment and no application fee applies.

Wallet recharges (充值) use the same providers through ``start_recharge``;
their one confirmation path is ``payments.services.confirm_recharge``.

A ``Payment`` row records what the provider says about the money
(pending → succeeded | failed, then refunded); whether an order accepted
that money is the order's business (a second payment for a paid order is
still a succeeded payment, and gets a ticket).

Every PaymentIntent carries ``metadata.kameng_tenant_id`` (where the
webhook looks first) and ``kameng_purpose``; orders add
``kameng_order_id``/``kameng_order_number``, recharges ``kameng_payment_id``.
The order number travels in metadata rather than ``description``: the
PaymentIntent parameters we send are the minimal documented set, which
localstripe (our test double of Stripe) also accepts.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from flask import current_app
from sqlalchemy import select, update

from app.core.errors import KamengError, ValidationFailed
from app.extensions import db
from app.orders.models import Order
from app.payments.models import Payment


class ProviderUnavailable(KamengError):
    status = 422
    slug = "payment-provider-unavailable"
    title = "This payment method is not available"


class ProviderError(KamengError):
    status = 502
    slug = "payment-provider-error"
    title = "The payment provider did not accept the request"


@dataclass
class PaymentStart:
    provider: str
    status: str  # succeeded | requires_action
    payment_id: uuid.UUID | None = None
    details: dict = field(default_factory=dict)


def enabled(provider: str) -> bool:
    return provider in current_app.config["PAYMENT_PROVIDERS"]


def record_order_payment(order: Order, provider: str, ref: str) -> Payment:
    """The order's payment through ``provider`` with reference ``ref``, created
    on first use (pending). Runs in the caller's transaction."""
    existing = db.session.scalar(
        select(Payment).where(Payment.provider == provider, Payment.provider_ref == ref)
    )
    if existing is not None:
        return existing
    payment = Payment(
        purpose="order",
        order_id=order.id,
        provider=provider,
        provider_ref=ref,
        amount=order.total,
        currency=order.currency,
    )
    db.session.add(payment)
    db.session.flush()
    return payment


def start(order: Order, provider: str, *, buyer_id: uuid.UUID | None, actor: str) -> PaymentStart:
    """Start (or, for wallet and sandbox, complete) paying ``order``. Commits."""
    from app.orders import services as orders

    if not enabled(provider):
        raise ProviderUnavailable(f"'{provider}' is not enabled on this platform.")
    orders.ensure_payable(order)
    if provider == "wallet":
        if buyer_id is None:
            raise ValidationFailed(
                "Sign in to pay from your balance.", errors={"provider": ["Needs an account."]}
            )
        orders.pay_with_wallet(order, buyer_id, actor)
        return PaymentStart("wallet", "succeeded")
    if provider == "sandbox":
        payment = record_order_payment(order, "sandbox", f"sb_{order.id.hex}")
        db.session.commit()
        orders.confirm_payment(
            order.id,
            provider="sandbox",
            provider_ref=payment.provider_ref,
            amount=order.total,
            actor="sandbox",
        )
        mark_succeeded(payment.id)
        db.session.commit()
        return PaymentStart("sandbox", "succeeded", payment.id)
    if provider == "stripe":
        return _start_stripe(order)
    raise ProviderUnavailable(f"Unknown payment method '{provider}'.")


def stripe_client():
    import stripe

    cfg = current_app.config
    if not cfg.get("STRIPE_SECRET_KEY"):
        raise ProviderUnavailable("Stripe is not configured on this platform.")
    client = stripe.StripeClient(
        cfg["STRIPE_SECRET_KEY"],
        base_addresses={"api": cfg["STRIPE_API_BASE"]} if cfg.get("STRIPE_API_BASE") else None,
        max_network_retries=2,
    )
    return client


def platform_fee(amount: int) -> int:
    """The platform's fee on a Stripe payment of ``amount`` minor units
    (``PLATFORM_FEE_BPS``, rounded once by ``core.money.share_of``)."""
    from app.core.money import share_of

    return share_of(amount, current_app.config["PLATFORM_FEE_BPS"])


def create_payment_intent(
    *, tenant_id: uuid.UUID, amount: int, currency: str, metadata: dict, idempotency_key: str
):
    """Create a PaymentIntent for ``amount`` minor units on the shop's Stripe
    account: with a connected account, on that account (``Stripe-Account``)
    with the platform's fee (``share_of(amount, PLATFORM_FEE_BPS)``) as
    ``application_fee_amount``; without one, on the platform's account and
    no fee. Idempotent at Stripe by ``idempotency_key``. Raises
    ``ProviderError`` when Stripe refuses."""
    import stripe

    from tenants.models import Tenant

    shop = db.session.get(Tenant, tenant_id)
    params: dict = {
        "amount": amount,
        "currency": currency.lower(),
        "payment_method_types": current_app.config["STRIPE_PAYMENT_METHODS"],
        "metadata": {"kameng_tenant_id": str(tenant_id), **metadata},
    }
    options: dict = {"idempotency_key": idempotency_key}
    if shop.stripe_account_id:
        params["application_fee_amount"] = platform_fee(amount)
        options["stripe_account"] = shop.stripe_account_id
    try:
        return stripe_client().v1.payment_intents.create(params=params, options=options)
    except stripe.StripeError as exc:
        raise ProviderError(f"Stripe: {exc.user_message or type(exc).__name__}") from exc


def _start_stripe(order: Order) -> PaymentStart:
    intent = create_payment_intent(
        tenant_id=order.tenant_id,
        amount=order.total,
        currency=order.currency,
        metadata={
            "kameng_order_id": str(order.id),
            "kameng_order_number": order.number,
            "kameng_purpose": "order",
        },
        idempotency_key=f"kameng-order-{order.id}",
    )
    payment = record_order_payment(order, "stripe", intent.id)
    db.session.commit()
    return PaymentStart(
        "stripe",
        "requires_action",
        payment.id,
        {"payment_intent": intent.id, "client_secret": intent.client_secret},
    )


def start_recharge(payment: Payment) -> PaymentStart:
    """Collect a pending recharge ``payment`` (already committed) through its
    provider. ``sandbox`` confirms at once through
    ``payments.services.confirm_recharge`` (the path a webhook takes);
    ``stripe`` creates the PaymentIntent and leaves confirmation to the
    webhook. Commits."""
    from app.payments import services

    if payment.provider == "sandbox":
        services.confirm_recharge(
            payment.id,
            provider="sandbox",
            provider_ref=payment.provider_ref,
            amount=payment.amount,
            actor="sandbox",
        )
        return PaymentStart("sandbox", "succeeded", payment.id)
    if payment.provider == "stripe":
        intent = create_payment_intent(
            tenant_id=payment.tenant_id,
            amount=payment.amount,
            currency=payment.currency,
            metadata={
                "kameng_payment_id": str(payment.id),
                "kameng_account_id": str(payment.account_id),
                "kameng_purpose": "recharge",
            },
            idempotency_key=f"kameng-recharge-{payment.id}",
        )
        payment.provider_ref = intent.id
        db.session.commit()
        return PaymentStart(
            "stripe",
            "requires_action",
            payment.id,
            {"payment_intent": intent.id, "client_secret": intent.client_secret},
        )
    raise ProviderUnavailable(f"Recharging through '{payment.provider}' is not supported.")


def mark_succeeded(payment_id: uuid.UUID) -> bool:
    """Record that the provider collected the payment (pending or failed →
    succeeded; a refunded or already succeeded payment is left alone). Runs
    in the caller's transaction. Returns whether it changed the row."""
    return _move(payment_id, ("pending", "failed"), "succeeded", confirmed_at=datetime.now(UTC))


def mark_failed(payment_id: uuid.UUID) -> bool:
    """Record a failed attempt: only a pending payment becomes failed, so a
    failure reported after a success (events out of order) changes nothing.
    Runs in the caller's transaction."""
    return _move(payment_id, ("pending",), "failed")


def record_refunded(payment_id: uuid.UUID, refunded: int) -> bool:
    """Record that ``refunded`` minor units of the payment went back (the
    provider's running total, so a stale or repeated report never lowers
    it). A full refund marks the payment refunded. Caller's transaction."""
    payment = db.session.scalar(select(Payment).where(Payment.id == payment_id))
    if payment is None or refunded <= (payment.refunded or 0):
        return False
    refunded = min(refunded, payment.amount)
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


def refund_original(order: Order) -> None:
    """Send the order's money back through its provider (runs in the caller's
    transaction; the Stripe call is idempotent by order)."""
    import stripe

    from tenants.models import Tenant

    provider = order.payment_provider
    if provider in (None, "sandbox", "wallet"):
        return  # sandbox has no money; wallet refunds are ledger-only
    if provider != "stripe":
        raise ProviderUnavailable(f"Refunds through '{provider}' are not supported.")
    shop = db.session.get(Tenant, order.tenant_id)
    options: dict = {"idempotency_key": f"kameng-refund-{order.id}"}
    params: dict = {"payment_intent": order.payment_ref}
    if shop.stripe_account_id:
        options["stripe_account"] = shop.stripe_account_id
        params["refund_application_fee"] = True
    try:
        stripe_client().v1.refunds.create(params=params, options=options)
    except stripe.StripeError as exc:
        raise ProviderError(f"Stripe refund: {exc.user_message or type(exc).__name__}") from exc
    payment = db.session.scalar(
        select(Payment).where(
            Payment.provider == "stripe", Payment.provider_ref == order.payment_ref
        )
    )
    if payment is not None:
        payment.status = "refunded"
        payment.refunded = payment.amount
