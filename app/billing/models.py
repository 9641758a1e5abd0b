"""Plans and subscriptions: platform-level tables (not tenant-owned), like
``tenants``; the platform's commission on each sale is the shop's
(``platform_commissions``, tenant-owned). A plan's limits are columns, ``NULL`` meaning unlimited; a
shop with no subscription row is on the platform's default plan
(``BILLING_DEFAULT_PLAN``; none: unlimited)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    Uuid,
    func,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.dates import UTCDateTime
from app.core.ids import uuid7
from app.extensions import db
from tenants.guard import TenantOwned

INTERVAL_MONTH = "month"
INTERVAL_YEAR = "year"
INTERVALS = (INTERVAL_MONTH, INTERVAL_YEAR)

SUB_TRIALING = "trialing"
SUB_ACTIVE = "active"
SUB_PAST_DUE = "past_due"
SUB_SUSPENDED = "suspended"
SUB_CANCELED = "canceled"
SUBSCRIPTION_STATUSES = (SUB_TRIALING, SUB_ACTIVE, SUB_PAST_DUE, SUB_SUSPENDED, SUB_CANCELED)


class Plan(db.Model):
    """What a shop pays the platform and what it may use: a fee per
    ``interval``, commission on sales in basis points, and limits. A plan
    is never deleted (shops may be on it); it is switched off (``active``
    False), which takes it off the offer and keeps its shops on it."""

    __tablename__ = "plans"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(80))
    #: the fee per interval, in minor units of ``currency``
    price: Mapped[int] = mapped_column(BigInteger, default=0)
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    interval: Mapped[str] = mapped_column(String(8), default=INTERVAL_MONTH)
    #: the platform's commission on each sale, in basis points (100 = 1 %)
    commission_bps: Mapped[int] = mapped_column(Integer, default=0)
    trial_days: Mapped[int] = mapped_column(Integer, default=0)
    #: days a past-due shop keeps selling before its storefront is suspended
    grace_days: Mapped[int] = mapped_column(Integer, default=7, server_default="7")
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # Limits: NULL is unlimited.
    max_products: Mapped[int | None] = mapped_column(Integer)
    max_staff: Mapped[int | None] = mapped_column(Integer)
    max_domains: Mapped[int | None] = mapped_column(Integer)
    max_orders_month: Mapped[int | None] = mapped_column(Integer)
    api_access: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    sub_shops: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    #: the plan's price in Stripe Billing (price_…), once it is sold there
    stripe_price_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), server_default=func.now(), onupdate=func.now()
    )


class Subscription(db.Model):
    """A shop's plan (one row a shop at most). ``status`` follows Stripe
    Billing's subscription states; a plan the platform owner assigns by
    hand (a comp, a migration) is ``active`` with no Stripe ids."""

    __tablename__ = "subscriptions"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), unique=True
    )
    plan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("plans.id", ondelete="RESTRICT"))
    status: Mapped[str] = mapped_column(String(16), default=SUB_ACTIVE)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now())
    current_period_end: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: no commission on sales before this instant (the launch offer)
    launch_offer_ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: the platform owner's grace for this shop, when it differs from the plan's
    grace_days: Mapped[int | None] = mapped_column(Integer)
    stripe_customer_id: Mapped[str | None] = mapped_column(String(64))
    stripe_subscription_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    #: the ``created`` instant of the newest Stripe event applied to this row:
    #: an older event never overwrites what a newer one said
    stripe_synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: when the shop's payment first failed (dunning counts from here)
    past_due_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: how many dunning reminders went out since ``past_due_since`` (0–3)
    reminders_sent: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), server_default=func.now(), onupdate=func.now()
    )

    plan: Mapped[Plan] = relationship(lazy="joined")


#: a sale the platform's commission was accrued on in the shop's ledger
PC_ACCRUED = "accrued"
#: an accrued commission undone by the order's refund
PC_REVERSED = "reversed"
#: a card sale on the shop's connected Stripe account: Stripe took the fee
PC_COLLECTED = "collected"
#: a collected fee Stripe returned with the refund
PC_COLLECTED_REFUNDED = "collected_refunded"
PLATFORM_COMMISSION_KINDS = (PC_ACCRUED, PC_REVERSED, PC_COLLECTED, PC_COLLECTED_REFUNDED)


class PlatformCommission(TenantOwned, db.Model):
    """The platform's commission on one order, as the accrual job counted
    it (``app.billing.accrual``): one row per (shop, order, kind), which
    is what makes the job safe to run twice. ``amount`` is 0 on a sale
    during the launch offer (the sale is still counted on the statement).
    ``booked_at`` is the instant of its ledger transaction (and of the
    statement month it falls in)."""

    __tablename__ = "platform_commissions"
    __table_args__ = (
        UniqueConstraint("tenant_id", "order_id", "kind"),
        Index("ix_platform_commissions_tenant_booked", "tenant_id", "booked_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    order_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    kind: Mapped[str] = mapped_column(String(20))
    #: how the buyer paid (``Order.payment_provider``)
    provider: Mapped[str] = mapped_column(String(16))
    #: the sale (the order's total), positive on a sale, negative on its refund
    sale_amount: Mapped[int] = mapped_column(BigInteger)
    rate_bps: Mapped[int] = mapped_column(Integer)
    #: the commission, positive when the shop owes it, negative when undone
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    #: when the order was delivered (or refunded): the rate's instant
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    booked_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ConnectAccount(db.Model):
    """A shop's Stripe Connect account while and after it is onboarded
    (platform table, one row a shop at most). The payment adapter uses
    ``Tenant.stripe_account_id``, which is set once Stripe says the
    account can take charges (``charges_enabled``), so buyers never pay an
    account that cannot receive money."""

    __tablename__ = "connect_accounts"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), unique=True
    )
    account_id: Mapped[str] = mapped_column(String(64), unique=True)
    charges_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    details_submitted: Mapped[bool] = mapped_column(Boolean, default=False)
    payouts_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), server_default=func.now(), onupdate=func.now()
    )
