"""Coupons at checkout: finding a usable code and counting its uses.

A use is a ``CouponRedemption`` row written with the order, in the order's
transaction. It counts while its order is alive: an order that expires or is
cancelled gives its use back (an unpaid order past its hold at once, as its
stock does, before the expiry job marks it), so an abandoned checkout never burns a
single-use code. The coupon row is locked (``FOR UPDATE``) while its uses
are counted and the redemption written, so two buyers racing for the last
use cannot both have it.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, func, not_, select

from app.core.errors import KamengError
from app.extensions import db
from app.pricing.models import Coupon, CouponRedemption
from app.pricing.quote import CouponNotApplicable, CouponTerms

MAX_CODE = 32
#: order states whose redemption no longer counts as a use
RETURNED_STATES = ("expired", "cancelled")


class CouponRefused(KamengError):
    status = 422
    slug = "coupon-not-applicable"
    title = "This coupon cannot be used for this order"


_MESSAGES = {
    "unknown": _l("There is no such coupon in this shop."),
    "inactive": _l("This coupon is no longer offered."),
    "not_started": _l("This coupon cannot be used yet."),
    "expired": _l("This coupon has expired."),
    "used_up": _l("This coupon has been used up."),
    "used_by_you": _l("You have already used this coupon as many times as it allows."),
    "scope": _l("This coupon does not apply to this product."),
    "min_spend": _l("This order does not reach the coupon's minimum spend."),
}

_DETAILS = {
    "unknown": "No coupon with that code in this shop.",
    "inactive": "The coupon is switched off.",
    "not_started": "The coupon's validity has not started.",
    "expired": "The coupon has expired.",
    "used_up": "The coupon has no uses left.",
    "used_by_you": "This buyer has used the coupon as many times as it allows.",
    "scope": "The coupon does not apply to this product.",
    "min_spend": "The order's subtotal is below the coupon's minimum spend.",
}


def refused(reason: str, **extra) -> CouponRefused:
    return CouponRefused(
        _DETAILS.get(reason, reason),
        errors={"coupon": [_DETAILS.get(reason, reason)]},
        message=_MESSAGES.get(reason),
        reason=reason,
        **extra,
    )


def normalize_code(code: str) -> str:
    return (code or "").strip().upper()[: MAX_CODE + 1]


def terms(coupon: Coupon) -> CouponTerms:
    return CouponTerms(
        code=coupon.code,
        kind=coupon.kind,
        amount=coupon.amount,
        min_spend=coupon.min_spend,
        product_id=coupon.product_id,
        category_id=coupon.category_id,
        starts_at=coupon.starts_at,
        expires_at=coupon.expires_at,
        allow_below_cost=coupon.allow_below_cost,
    )


def buyer_key(buyer_id: uuid.UUID | None, email: str) -> str:
    """Whose use: the account when signed in, else the (normalised) email."""
    return f"account:{buyer_id}" if buyer_id else f"email:{email}"[:260]


def uses(coupon_id: uuid.UUID, key: str | None = None) -> int:
    """The coupon's live uses (all of them, or one buyer's)."""
    from app.orders.models import Order

    lapsed = and_(Order.status == "pending_payment", Order.expires_at <= datetime.now(UTC))
    stmt = (
        select(func.count(CouponRedemption.id))
        .join(Order, Order.id == CouponRedemption.order_id)
        .where(
            CouponRedemption.coupon_id == coupon_id,
            Order.status.not_in(RETURNED_STATES),
            not_(lapsed),
        )
    )
    if key is not None:
        stmt = stmt.where(CouponRedemption.buyer_key == key)
    return int(db.session.scalar(stmt) or 0)


def claim(code: str, key: str, *, now: datetime | None = None) -> Coupon:
    """The usable coupon with ``code``, locked for this transaction;
    ``CouponRefused`` (422, with the ``reason``) when there is none, it is
    off, outside its window, or out of uses (in all or for this buyer)."""
    now = now or datetime.now(UTC)
    wanted = normalize_code(code)
    if not wanted or len(wanted) > MAX_CODE:
        raise refused("unknown")
    coupon = db.session.scalar(select(Coupon).where(Coupon.code == wanted).with_for_update())
    if coupon is None:
        raise refused("unknown")
    if not coupon.active:
        raise refused("inactive")
    if coupon.starts_at is not None and now < coupon.starts_at:
        raise refused("not_started")
    if coupon.expires_at is not None and now >= coupon.expires_at:
        raise refused("expired")
    if coupon.max_uses is not None and uses(coupon.id) >= coupon.max_uses:
        raise refused("used_up")
    if coupon.max_uses_per_buyer is not None and uses(coupon.id, key) >= coupon.max_uses_per_buyer:
        raise refused("used_by_you")
    return coupon


def not_applicable(err: CouponNotApplicable) -> CouponRefused:
    """``quote``'s refusal as the error a buyer sees."""
    return refused(err.reason, **err.extra)


def redeem(coupon: Coupon, order_id: uuid.UUID, key: str, discount: int) -> None:
    """Record the use with the order (the caller's transaction)."""
    db.session.add(
        CouponRedemption(coupon_id=coupon.id, order_id=order_id, buyer_key=key, discount=discount)
    )
