"""The platform's commission on a shop's sales (平台佣金).

``rate_for(tenant_id, at)`` is the one answer to "what share of this sale
is the platform's": the shop's plan's ``commission_bps``, nothing during
its launch offer (``Subscription.launch_offer_ends_at``), and
``PLATFORM_FEE_BPS`` for a shop with no plan at all (no subscription and
no ``BILLING_DEFAULT_PLAN``), the platform's fee before plans existed.

A card payment on a shop's connected Stripe account pays it as Stripe's
``application_fee_amount`` (``app.payments.adapters.stripe``); every other
sale accrues it in the shop's ledger (``app.billing.accrual``).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from flask import current_app

from app.billing.plans import ShopPlan, plan_of
from app.core.money import share_of


def rate_for(tenant_id: uuid.UUID, at: datetime | None = None) -> int:
    """The platform's commission on the shop's sales at ``at`` (now when
    ``None``), in basis points. Reads only."""
    return rate_on(plan_of(tenant_id), at or datetime.now(UTC))


def rate_on(shop_plan: ShopPlan, at: datetime) -> int:
    """``rate_for`` with the shop's plan already read (a job rating a batch
    of one shop's sales reads it once)."""
    if shop_plan.plan is None:
        return int(current_app.config["PLATFORM_FEE_BPS"])
    offer_ends = shop_plan.subscription.launch_offer_ends_at if shop_plan.subscription else None
    if offer_ends is not None and at < offer_ends:
        return 0
    return int(shop_plan.plan.commission_bps)


def commission_on(tenant_id: uuid.UUID, amount: int, at: datetime | None = None) -> int:
    """The platform's commission on a sale of ``amount`` minor units at
    ``at``: ``rate_for`` rounded once by ``core.money.share_of``."""
    return share_of(amount, rate_for(tenant_id, at))
