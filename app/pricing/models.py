"""What prices are made of: agent tiers, price rules and coupons.

``app.pricing.quote.quote`` reads these (as plain facts, see
``app.pricing.rules``) and is the only code that turns them into a price.

- An **agent tier** (普通会员, 铜牌代理, 金牌代理 …) is the operator's: a
  name, a rank (higher ranks are better tiers), and how an account reaches
  it (``manual``: the operator sets it; ``fee``: the account pays
  ``upgrade_amount`` from its wallet; ``recharge_total``: reached by itself
  once the account's recharges add up to ``upgrade_amount``).
- A **price rule** gives a fixed unit ``price`` or a ``percent_off`` (whole
  percent) for one product, one category or the whole shop (neither set),
  for one tier or for everyone (``tier_id`` null), from ``min_quantity``
  units, between ``starts_at`` and ``ends_at``. Which stage of ``quote`` a
  rule belongs to follows from its fields (see ``stage_of``).
- A **coupon** takes a fixed amount or a percent off an order's total, with a
  minimum spend, an optional product or category scope, a cap on uses per
  code and per buyer, and an expiry. A redemption row per order counts its
  uses (an order that expires or is cancelled gives its use back).
"""

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
)
from sqlalchemy.orm import Mapped, mapped_column

from app.core.dates import UTCDateTime
from app.core.ids import uuid7
from app.extensions import db
from tenants.guard import TenantOwned

UPGRADE_MANUAL = "manual"
UPGRADE_FEE = "fee"
UPGRADE_RECHARGE_TOTAL = "recharge_total"
UPGRADE_KINDS = (UPGRADE_MANUAL, UPGRADE_FEE, UPGRADE_RECHARGE_TOTAL)

COUPON_FIXED = "fixed"
COUPON_PERCENT = "percent"
COUPON_KINDS = (COUPON_FIXED, COUPON_PERCENT)

#: how many of each a shop may hold (a bound on what one operator may create,
#: and on what ``quote`` ever reads for one product)
MAX_TIERS = 20
MAX_PRICE_RULES = 2_000
MAX_COUPONS = 10_000


class AgentTier(TenantOwned, db.Model):
    __tablename__ = "agent_tiers"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    name: Mapped[str] = mapped_column(String(40))
    rank: Mapped[int] = mapped_column(Integer, default=0)
    upgrade_kind: Mapped[str] = mapped_column(String(16), default=UPGRADE_MANUAL)
    #: the fee, or the recharge total, in minor units (0 for manual)
    upgrade_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now())


class PriceRule(TenantOwned, db.Model):
    __tablename__ = "price_rules"
    __table_args__ = (
        Index("ix_price_rules_tenant_product", "tenant_id", "product_id"),
        Index("ix_price_rules_tenant_category", "tenant_id", "category_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    product_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("products.id", ondelete="CASCADE")
    )
    category_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("categories.id", ondelete="CASCADE")
    )
    tier_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("agent_tiers.id", ondelete="CASCADE")
    )
    #: exactly one of ``price`` (a unit price, minor units) and ``percent_off``
    price: Mapped[int | None] = mapped_column(BigInteger)
    percent_off: Mapped[int | None] = mapped_column(Integer)
    min_quantity: Mapped[int] = mapped_column(Integer, default=1)
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    priority: Mapped[int] = mapped_column(Integer, default=0)
    allow_below_cost: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now())


class Coupon(TenantOwned, db.Model):
    __tablename__ = "coupons"
    __table_args__ = (UniqueConstraint("tenant_id", "code"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    #: stored upper-case; buyers may type it in any case
    code: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(8), default=COUPON_FIXED)
    #: minor units off (fixed) or whole percent off (percent)
    amount: Mapped[int] = mapped_column(BigInteger)
    min_spend: Mapped[int] = mapped_column(BigInteger, default=0)
    product_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("products.id", ondelete="CASCADE")
    )
    category_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("categories.id", ondelete="CASCADE")
    )
    max_uses: Mapped[int | None] = mapped_column(Integer)
    max_uses_per_buyer: Mapped[int | None] = mapped_column(Integer)
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    allow_below_cost: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now())


class CouponRedemption(TenantOwned, db.Model):
    """A coupon used on an order. The order's status says whether the use
    still counts (``app.pricing.coupons.uses``)."""

    __tablename__ = "coupon_redemptions"
    __table_args__ = (
        UniqueConstraint("tenant_id", "order_id"),
        Index("ix_coupon_redemptions_tenant_coupon", "tenant_id", "coupon_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    coupon_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("coupons.id", ondelete="CASCADE"))
    order_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("orders.id", ondelete="CASCADE"))
    #: who used it: the buyer account, else the normalised email
    buyer_key: Mapped[str] = mapped_column(String(260))
    discount: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now())
