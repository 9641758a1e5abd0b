"""Billing a month's accrued commission on the shop's Stripe customer.

``bill_month(month)`` adds what the shop owes the platform at the month's
end (the ``platform:commission`` balance from entries posted before it:
the month's accruals less its reversals, with anything an earlier bill
left) as one invoice item on its Stripe customer
(``Subscription.stripe_customer_id``), which Stripe puts on the shop's
next subscription invoice. The bill is posted in the shop's ledger under
``platform-billed:<YYYY-MM>`` (``platform:commission −x``,
``clearing:platform-billing +x``), dated at the month's end, so the next
month's balance starts from zero.

Idempotent: a billed month is not billed again (its ledger key), and the
invoice item is created with the Stripe idempotency key
``kameng-commission-<shop>-<YYYY-MM>`` so a crash between Stripe and our
commit does not bill twice. A shop with no Stripe customer is skipped and
flagged (``no_customer``; logged) and billed on a later run once it has
one; nothing due (zero or a credit) is ``nothing_due``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.billing.plans import plan_of
from app.billing.statements import (
    BILLED_KIND,
    billed_key,
    month_bounds,
    owed_before,
)
from app.core.errors import KamengError, ValidationFailed
from app.extensions import db
from app.ledger import services as ledger
from app.ledger.models import LedgerTransaction
from tenants.context import current_tenant_id
from tenants.models import Tenant

log = logging.getLogger(__name__)

BILLING_CLEARING = "clearing:platform-billing"
BILLED = "billed"
ALREADY_BILLED = "already_billed"
NOTHING_DUE = "nothing_due"
NO_CUSTOMER = "no_customer"


class BillingUnavailable(KamengError):
    status = 503
    slug = "billing-unavailable"
    title = "Stripe billing is not available"


@dataclass(frozen=True)
class Bill:
    status: str
    amount: int = 0
    invoice_item: str | None = None


def stripe_client():
    """The platform's own Stripe client (``STRIPE_SECRET_KEY``,
    ``STRIPE_API_BASE``); ``BillingUnavailable`` when Stripe is not set up."""
    import stripe

    cfg = current_app.config
    if not cfg.get("STRIPE_SECRET_KEY"):
        raise BillingUnavailable(
            "Stripe is not configured on this platform.",
            message=_l("Stripe is not configured on this platform."),
        )
    return stripe.StripeClient(
        cfg["STRIPE_SECRET_KEY"],
        base_addresses={"api": cfg["STRIPE_API_BASE"]} if cfg.get("STRIPE_API_BASE") else None,
        max_network_retries=2,
    )


def bill_month(month: date, *, now: datetime | None = None) -> Bill:
    """Bill the current shop's commission owed at the end of ``month`` (see
    the module doc). Commits when it bills. ``ValidationFailed`` for a
    month that has not ended in the shop's time zone; ``BillingUnavailable``
    when Stripe is not set up or refuses (nothing is posted then)."""
    import stripe

    tenant_id = current_tenant_id()
    shop_plan = plan_of(tenant_id)
    start, end = month_bounds(month, shop_plan.timezone)
    now = now or datetime.now(UTC)
    if now < end:
        raise ValidationFailed(
            f"{month:%Y-%m} has not ended yet in the shop's time zone.",
            errors={"month": ["The month has not ended yet."]},
        )
    key = billed_key(month)
    if db.session.scalar(
        select(LedgerTransaction.id).where(LedgerTransaction.idempotency_key == key)
    ):
        return Bill(ALREADY_BILLED)
    amount = owed_before(end)
    if amount <= 0:
        return Bill(NOTHING_DUE, amount)
    sub = shop_plan.subscription
    customer = sub.stripe_customer_id if sub is not None else None
    if not customer:
        log.warning(
            "shop %s owes %s commission for %s and has no Stripe customer",
            tenant_id,
            amount,
            f"{month:%Y-%m}",
        )
        return Bill(NO_CUSTOMER, amount)
    currency = db.session.scalar(select(Tenant.currency).where(Tenant.id == tenant_id))
    try:
        item = stripe_client().v1.invoice_items.create(
            params={
                "customer": customer,
                "amount": amount,
                "currency": currency.lower(),
                "description": f"Commission on sales, {month:%Y-%m}",
                "metadata": {"kameng_tenant_id": str(tenant_id), "kameng_month": f"{month:%Y-%m}"},
            },
            options={"idempotency_key": f"kameng-commission-{tenant_id}-{month:%Y-%m}"},
        )
    except stripe.StripeError as exc:
        raise BillingUnavailable(
            f"Stripe refused the invoice item: {exc.user_message or type(exc).__name__}",
            message=_l("Stripe did not accept the request. Try again later."),
        ) from exc
    ledger.post(
        key,
        BILLED_KIND,
        [ledger.Line(ledger.PLATFORM_COMMISSION, -amount), ledger.Line(BILLING_CLEARING, amount)],
        currency,
        memo=f"Platform commission {month:%Y-%m} billed ({item.id})",
        # At the month's close: the next month's balance starts after it.
        at=end - timedelta(microseconds=1),
    )
    db.session.commit()
    return Bill(BILLED, amount, item.id)
