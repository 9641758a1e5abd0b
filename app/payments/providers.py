"""Payment providers behind one interface: ``start``, confirmation (through
``orders.services.confirm_payment`` — the one path every provider uses) and
``refund``.

- ``wallet``: pays from the buyer's shop balance in the same transaction.
- ``sandbox``: development and tests. It creates a payment and confirms it
  through the same confirmation path a real provider's webhook takes.
  Refused when ``ENV=production`` (the app will not even start with it).
- ``stripe``: a PaymentIntent on the shop's connected Stripe account
  (``Stripe-Account`` header) with the platform's fee as
  ``application_fee_amount``; a verified webhook confirms it (see
  ``payments.webhooks``). Without a connected account the platform's own
  account takes the payment and no application fee applies.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy import select

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


def _record(order: Order, provider: str, ref: str) -> Payment:
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
        payment = _record(order, "sandbox", f"sb_{order.id.hex}")
        db.session.commit()
        orders.confirm_payment(
            order.id,
            provider="sandbox",
            provider_ref=payment.provider_ref,
            amount=order.total,
            actor="sandbox",
        )
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


def platform_fee(order: Order) -> int:
    from app.core.money import share_of

    return share_of(order.total, current_app.config["PLATFORM_FEE_BPS"])


def _start_stripe(order: Order) -> PaymentStart:
    import stripe

    from tenants.models import Tenant

    shop = db.session.get(Tenant, order.tenant_id)
    params: dict = {
        "amount": order.total,
        "currency": order.currency.lower(),
        "payment_method_types": current_app.config["STRIPE_PAYMENT_METHODS"],
        "metadata": {
            "kameng_order_id": str(order.id),
            "kameng_tenant_id": str(order.tenant_id),
            "kameng_order_number": order.number,
        },
        "description": f"{shop.name} order {order.number}",
        "receipt_email": order.email,
    }
    options: dict = {"idempotency_key": f"kameng-order-{order.id}"}
    if shop.stripe_account_id:
        params["application_fee_amount"] = platform_fee(order)
        options["stripe_account"] = shop.stripe_account_id
    try:
        intent = stripe_client().v1.payment_intents.create(params=params, options=options)
    except stripe.StripeError as exc:
        raise ProviderError(f"Stripe: {exc.user_message or type(exc).__name__}") from exc
    payment = _record(order, "stripe", intent.id)
    db.session.commit()
    return PaymentStart(
        "stripe",
        "requires_action",
        payment.id,
        {"payment_intent": intent.id, "client_secret": intent.client_secret},
    )


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
