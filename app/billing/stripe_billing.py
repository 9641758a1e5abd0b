"""Stripe Billing, the platform's own account: the shop's customer, a plan's
price, the shop's subscription, Checkout and the customer portal.

Each function is one call (or a find-then-create pair) to Stripe with an
idempotency key naming what it makes, so a retry after a crash makes
nothing twice. The functions return Stripe's objects as plain dicts and
change nothing of ours: ``app.billing.subscriptions`` decides what they
mean for the shop.

A plan's price is made through ``/v1/plans`` (a Stripe Plan is a Price:
its id is accepted wherever a price id is, and subscription items name it
as ``plan``); the Stripe double the tests run against knows only Plans.
Customers, payment methods, subscriptions and invoices are the same calls
on either. Checkout Sessions and the portal exist only on Stripe itself.
"""

from __future__ import annotations

import uuid

from flask import current_app

from app.billing.models import Plan
from tenants.models import Tenant


class BillingUnavailable(Exception):
    """Stripe is not configured, or refused; ``str()`` is the reason."""


def configured() -> bool:
    """Whether the platform sells plans through Stripe (a secret key is set)."""
    return bool(current_app.config.get("STRIPE_SECRET_KEY"))


def checkout_enabled() -> bool:
    """Whether operators pay through Stripe Checkout (``BILLING_CHECKOUT``);
    otherwise the plan page takes a card itself."""
    return configured() and bool(current_app.config.get("BILLING_CHECKOUT", True))


def _client():
    import stripe

    cfg = current_app.config
    if not cfg.get("STRIPE_SECRET_KEY"):
        raise BillingUnavailable("Stripe is not configured on this platform.")
    return stripe.StripeClient(
        cfg["STRIPE_SECRET_KEY"],
        base_addresses={"api": cfg["STRIPE_API_BASE"]} if cfg.get("STRIPE_API_BASE") else None,
        max_network_retries=2,
    )


def _call(what: str, fn, *args, **kwargs) -> dict:
    import stripe

    try:
        found = fn(*args, **kwargs)
    except stripe.StripeError as exc:
        raise BillingUnavailable(
            f"Stripe ({what}): {exc.user_message or type(exc).__name__}"
        ) from exc
    return found.to_dict(recursive=True) if hasattr(found, "to_dict") else found


def ensure_customer(tenant: Tenant, email: str, customer_id: str | None) -> str:
    """The shop's Stripe customer id: ``customer_id`` when given, else a new
    customer with the owner's ``email`` and ``metadata.kameng_tenant_id``
    (idempotent by the shop's id)."""
    if customer_id:
        return customer_id
    customer = _call(
        "customer",
        _client().v1.customers.create,
        params={
            "email": email,
            "name": tenant.name,
            "metadata": {"kameng_tenant_id": str(tenant.id), "kameng_shop": tenant.slug},
        },
        options={"idempotency_key": f"kameng-billing-customer-{tenant.id}"},
    )
    return customer["id"]


def ensure_price(plan: Plan) -> str:
    """The plan's Stripe price id: ``plan.stripe_price_id`` when set, else a
    new recurring price (with its product) for the plan's fee, currency and
    interval, idempotent by the plan's id, price and interval (a changed
    fee makes a new price). The caller stores the id on the plan."""
    if plan.stripe_price_id:
        return plan.stripe_price_id
    made = _call(
        "price",
        _client().v1.plans.create,
        params={
            "amount": plan.price,
            "currency": plan.currency.lower(),
            "interval": plan.interval,
            "product": {"name": plan.name},
            "metadata": {"kameng_plan": plan.code},
        },
        options={"idempotency_key": f"kameng-billing-price-{plan.id}-{plan.price}-{plan.interval}"},
    )
    return made["id"]


def attach_card(customer_id: str, payment_method: str) -> str:
    """Attach the payment method to the customer and make it the default
    for the customer's invoices; its id."""
    client = _client()
    method = _call(
        "card",
        client.v1.payment_methods.attach,
        payment_method,
        params={"customer": customer_id},
    )
    _call(
        "card",
        client.v1.customers.update,
        customer_id,
        params={"invoice_settings": {"default_payment_method": method["id"]}},
    )
    return method["id"]


def create_card(number: str, exp_month: int, exp_year: int, cvc: str) -> str:
    """A card payment method from the digits typed on the plan page (used
    only where Checkout is not available); its id."""
    method = _call(
        "card",
        _client().v1.payment_methods.create,
        params={
            "type": "card",
            "card": {
                "number": number,
                "exp_month": exp_month,
                "exp_year": exp_year,
                "cvc": cvc,
            },
        },
    )
    return method["id"]


def create_subscription(
    tenant_id: uuid.UUID, customer_id: str, price_id: str, *, trial_days: int, key: str
) -> dict:
    """A subscription of the customer to the price, with ``trial_days`` free
    (none: the first invoice is charged to the default card now);
    idempotent by ``key``."""
    params: dict = {
        "customer": customer_id,
        "items": [{"plan": price_id}],
        "metadata": {"kameng_tenant_id": str(tenant_id)},
    }
    if trial_days:
        params["trial_period_days"] = trial_days
    return _call(
        "subscription",
        _client().v1.subscriptions.create,
        params=params,
        options={"idempotency_key": key},
    )


def change_price(subscription_id: str, price_id: str, *, key: str) -> dict:
    """Move the subscription to another price (Stripe prorates, its
    default); idempotent by ``key``."""
    return _call(
        "subscription",
        _client().v1.subscriptions.update,
        subscription_id,
        params={"items": [{"plan": price_id}]},
        options={"idempotency_key": key},
    )


def retrieve_subscription(subscription_id: str) -> dict:
    """The subscription as Stripe has it now."""
    return _call("subscription", _client().v1.subscriptions.retrieve, subscription_id)


def cancel_subscription(subscription_id: str) -> dict:
    """End the subscription now (Stripe answers it ``canceled``)."""
    return _call("subscription", _client().v1.subscriptions.cancel, subscription_id)


def open_invoices(subscription_id: str) -> list[dict]:
    """The subscription's invoices still to pay (``open``), oldest first."""
    listed = _call(
        "invoices",
        _client().v1.invoices.list,
        params={"subscription": subscription_id, "limit": 100},
    )
    found = [i for i in listed.get("data", []) if i.get("status") == "open"]
    return sorted(found, key=lambda i: i.get("created") or 0)


def pay_invoice(invoice_id: str, *, key: str) -> dict:
    """Charge the invoice to the customer's default card now; the invoice
    as Stripe answers it (``paid`` or still ``open``). Idempotent by ``key``."""
    return _call(
        "invoice",
        _client().v1.invoices.pay,
        invoice_id,
        options={"idempotency_key": key},
    )


def checkout_session(
    tenant_id: uuid.UUID,
    customer_id: str,
    price_id: str,
    *,
    plan_code: str,
    trial_days: int,
    success_url: str,
    cancel_url: str,
) -> str:
    """A Stripe Checkout Session (mode ``subscription``) for the shop; the
    address to send the operator to. ``client_reference_id`` and metadata
    name the shop and plan, which the ``checkout.session.completed`` event
    carries back."""
    subscription_data: dict = {
        "metadata": {"kameng_tenant_id": str(tenant_id), "kameng_plan": plan_code}
    }
    if trial_days:
        subscription_data["trial_period_days"] = trial_days
    session = _call(
        "checkout",
        _client().v1.checkout.sessions.create,
        params={
            "mode": "subscription",
            "customer": customer_id,
            "client_reference_id": str(tenant_id),
            "line_items": [{"price": price_id, "quantity": 1}],
            "metadata": {"kameng_tenant_id": str(tenant_id), "kameng_plan": plan_code},
            "subscription_data": subscription_data,
            "success_url": success_url,
            "cancel_url": cancel_url,
        },
    )
    return session["url"]


def portal_session(customer_id: str, return_url: str) -> str:
    """A customer portal session (card, invoices, cancel); its address."""
    session = _call(
        "portal",
        _client().v1.billing_portal.sessions.create,
        params={"customer": customer_id, "return_url": return_url},
    )
    return session["url"]
