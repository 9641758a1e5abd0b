"""Prices: one pure function, ``quote``, returns what a buyer pays and the
lines that explain it. Orders store its snapshot; product pages, the API and
checkout all ask it, so a buyer's price is the same everywhere.

The order of application, written here once:

1. **Audience price.** Start from the retail price. Rules for the buyer's
   agent tier, or for everyone (``tier_id`` None), that need no quantity and
   have no validity window are this stage's candidates. In a sub-shop the
   audience is the sub-shop owner's tier, and the owner's markup (whole
   percent, rounded half up) is added on top of that price.
2. **Quantity breaks.** Rules with ``min_quantity`` > 1 that the quantity
   reaches (no validity window).
3. **Sale prices.** Rules with a validity window (``starts_at`` /
   ``ends_at``) that contains ``now``, from their ``min_quantity``; expired
   and future rules are ignored.
4. **Coupon**, on the subtotal (unit price × quantity): a fixed amount or a
   percent, when the subtotal reaches its minimum spend and the product is in
   its scope; never more than the subtotal.
5. **First-order discount**, a whole percent of what is left, for a buyer's
   first order in the shop.

Within a stage one rule applies: the highest ``priority``; among equals the
one giving the lowest price. A rule never raises the price (a fixed price
above the current one does nothing; a percent takes off the current price).
No rule, coupon or discount takes the price below the product's cost unless
that rule or coupon allows it (``allow_below_cost``); a price already below
cost (the operator's retail choice) is left as it is. Percentages are
rounded half up on minor units by ``app.core.money.share_of``, the one
rounding rule.

Everything here is integers and plain facts (``Rule``, ``CouponTerms``): no
database, no clock unless ``now`` is omitted. ``app.pricing.rules`` gathers
the facts for a product and a buyer.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from app.core.money import share_of

# What each line of a quote is (the order page and the API name them by kind).
LINE_ITEMS = "items"
LINE_TIER = "tier_price"
LINE_SUB_SHOP = "sub_shop_markup"
LINE_QUANTITY = "quantity_break"
LINE_SALE = "sale_price"
LINE_COUPON = "coupon"
LINE_FIRST_ORDER = "first_order"

STAGE_AUDIENCE = "audience"
STAGE_QUANTITY = "quantity"
STAGE_SALE = "sale"


@dataclass(frozen=True)
class Rule:
    """A price rule as ``quote`` reads it (``app.pricing.models.PriceRule``)."""

    id: uuid.UUID | str | None = None
    product_id: uuid.UUID | None = None
    category_id: uuid.UUID | None = None
    tier_id: uuid.UUID | None = None
    price: int | None = None
    percent_off: int | None = None
    min_quantity: int = 1
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    priority: int = 0
    allow_below_cost: bool = False


@dataclass(frozen=True)
class CouponTerms:
    """A coupon as ``quote`` reads it; its uses and expiry are checked by the
    caller (``app.pricing.coupons``) before it gets here, and again here for
    the window."""

    code: str
    kind: str  # fixed | percent
    amount: int
    min_spend: int = 0
    product_id: uuid.UUID | None = None
    category_id: uuid.UUID | None = None
    starts_at: datetime | None = None
    expires_at: datetime | None = None
    allow_below_cost: bool = False


@dataclass(frozen=True)
class QuoteLine:
    label: str
    amount: int
    kind: str = LINE_ITEMS
    ref: str | None = None  # the rule id or coupon code behind a line


@dataclass(frozen=True)
class Quote:
    currency: str
    unit_price: int
    quantity: int
    total: int
    lines: list[QuoteLine] = field(default_factory=list)
    #: what the buyer would pay before coupon and first-order discount
    #: (``unit_price × quantity``); commission spreads compare these
    subtotal: int = 0
    coupon: str | None = None
    coupon_discount: int = 0
    tier_id: str | None = None

    def snapshot(self) -> dict:
        """The quote as plain data (what an order keeps), written out:
        ``dataclasses.asdict`` deep-copies every value, on the purchase path."""
        return {
            "currency": self.currency,
            "unit_price": self.unit_price,
            "quantity": self.quantity,
            "total": self.total,
            "lines": [
                {"label": line.label, "amount": line.amount, "kind": line.kind, "ref": line.ref}
                for line in self.lines
            ],
            "subtotal": self.subtotal,
            "coupon": self.coupon,
            "coupon_discount": self.coupon_discount,
            "tier_id": self.tier_id,
        }


class CouponNotApplicable(ValueError):
    """The coupon does not apply to this purchase; ``reason`` says why
    (``expired``, ``not_started``, ``min_spend``, ``scope``)."""

    def __init__(self, reason: str, **extra) -> None:
        super().__init__(reason)
        self.reason = reason
        self.extra = extra


def stage_of(rule: Rule) -> str:
    """Which stage a rule belongs to, from its fields (see the module doc)."""
    if rule.starts_at is not None or rule.ends_at is not None:
        return STAGE_SALE
    if rule.min_quantity > 1:
        return STAGE_QUANTITY
    return STAGE_AUDIENCE


def _in_scope(
    product_id: uuid.UUID | None,
    category_ids: tuple,
    rule_product: uuid.UUID | None,
    rule_category: uuid.UUID | None,
) -> bool:
    if rule_product is not None:
        return rule_product == product_id
    if rule_category is not None:
        return rule_category in category_ids
    return True


def _active(rule: Rule, now: datetime) -> bool:
    if rule.starts_at is not None and now < rule.starts_at:
        return False
    return not (rule.ends_at is not None and now >= rule.ends_at)


def _apply(current: int, rule: Rule, cost: int) -> int:
    """The unit price after ``rule``: never higher than ``current``, never
    below cost unless allowed (nor below zero)."""
    if rule.price is not None:
        candidate = min(current, rule.price)
    else:
        candidate = current - share_of(current, int(rule.percent_off or 0) * 100)
    floor = 0 if rule.allow_below_cost else min(current, cost)
    return max(candidate, floor, 0)


def _stage(
    current: int,
    rules: list[Rule],
    cost: int,
) -> tuple[int, Rule | None]:
    """The unit price after the one rule of a stage that applies."""
    best: tuple[int, int, Rule] | None = None
    for rule in rules:
        price = _apply(current, rule, cost)
        key = (-rule.priority, price)
        if best is None or key < best[:2]:
            best = (key[0], key[1], rule)
    if best is None:
        return current, None
    return best[1], best[2]


def audience_price(
    *,
    unit_price: int,
    quantity: int,
    cost: int = 0,
    product_id: uuid.UUID | None = None,
    category_ids: tuple = (),
    tier_id: uuid.UUID | None = None,
    rules: tuple | list = (),
    now: datetime,
) -> tuple[int, list[tuple[str, Rule]]]:
    """Stages 1–3 for one audience: the unit price and the rules applied."""
    matching = [
        r
        for r in rules
        if (r.tier_id is None or r.tier_id == tier_id)
        and _in_scope(product_id, category_ids, r.product_id, r.category_id)
        and r.min_quantity <= quantity
    ]
    applied: list[tuple[str, Rule]] = []
    current = unit_price
    for stage in (STAGE_AUDIENCE, STAGE_QUANTITY, STAGE_SALE):
        candidates = [r for r in matching if stage_of(r) == stage]
        if stage == STAGE_SALE:
            candidates = [r for r in candidates if _active(r, now)]
        after, rule = _stage(current, candidates, cost)
        if rule is not None and after != current:
            applied.append((stage, rule))
        current = after
    return current, applied


def quote(
    *,
    unit_price: int,
    quantity: int,
    currency: str,
    product_name: str,
    cost: int = 0,
    product_id: uuid.UUID | None = None,
    category_ids: tuple = (),
    tier_id: uuid.UUID | None = None,
    rules: tuple | list = (),
    markup_percent: int | None = None,
    coupon: CouponTerms | None = None,
    first_order_percent: int = 0,
    now: datetime | None = None,
) -> Quote:
    """The price of ``quantity`` of a product for an audience (see the module
    doc for the order of application). ``unit_price`` is retail;
    ``category_ids`` the product's category and its ancestors; ``tier_id``
    the audience's tier (the sub-shop owner's in a sub-shop);
    ``markup_percent`` the sub-shop's markup (None outside a sub-shop).

    ``CouponNotApplicable`` when ``coupon`` is given and does not apply.
    """
    for value in (unit_price, quantity, cost):
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError("quote takes integer minor units and an integer quantity")
    if unit_price < 0 or quantity < 1 or cost < 0:
        raise ValueError("price and cost must be >= 0 and quantity >= 1")
    now = now or datetime.now(UTC)
    unit, applied = audience_price(
        unit_price=unit_price,
        quantity=quantity,
        cost=cost,
        product_id=product_id,
        category_ids=category_ids,
        tier_id=tier_id,
        rules=rules,
        now=now,
    )
    lines = [QuoteLine(f"{product_name} × {quantity}", unit_price * quantity, LINE_ITEMS)]
    kinds = {STAGE_AUDIENCE: LINE_TIER, STAGE_QUANTITY: LINE_QUANTITY, STAGE_SALE: LINE_SALE}
    # The lines walk the same stages again to show each one's effect.
    running = unit_price
    for stage, rule in applied:
        after = _apply(running, rule, cost)
        lines.append(
            QuoteLine(kinds[stage], (after - running) * quantity, kinds[stage], str(rule.id))
        )
        running = after
    if markup_percent:
        marked = unit + share_of(unit, int(markup_percent) * 100)
        lines.append(QuoteLine(LINE_SUB_SHOP, (marked - unit) * quantity, LINE_SUB_SHOP))
        unit = marked
    subtotal = unit * quantity
    total = subtotal
    discount = 0
    if coupon is not None:
        discount = coupon_discount(
            coupon,
            subtotal=subtotal,
            quantity=quantity,
            cost=cost,
            product_id=product_id,
            category_ids=category_ids,
            now=now,
        )
        if discount:
            lines.append(QuoteLine(LINE_COUPON, -discount, LINE_COUPON, coupon.code))
        total -= discount
    if first_order_percent:
        off = share_of(total, int(first_order_percent) * 100)
        off = min(off, max(total - min(total, cost * quantity), 0))
        if off:
            lines.append(QuoteLine(LINE_FIRST_ORDER, -off, LINE_FIRST_ORDER))
            total -= off
    return Quote(
        currency,
        unit,
        quantity,
        total,
        lines,
        subtotal=subtotal,
        coupon=coupon.code if coupon is not None else None,
        coupon_discount=discount,
        tier_id=str(tier_id) if tier_id else None,
    )


def coupon_discount(
    coupon: CouponTerms,
    *,
    subtotal: int,
    quantity: int,
    cost: int,
    product_id: uuid.UUID | None,
    category_ids: tuple,
    now: datetime,
) -> int:
    """What ``coupon`` takes off ``subtotal`` (``CouponNotApplicable`` when
    it does not apply): at most the subtotal, and never below the cost of
    the goods unless the coupon allows it."""
    if coupon.starts_at is not None and now < coupon.starts_at:
        raise CouponNotApplicable("not_started")
    if coupon.expires_at is not None and now >= coupon.expires_at:
        raise CouponNotApplicable("expired")
    if not _in_scope(product_id, category_ids, coupon.product_id, coupon.category_id):
        raise CouponNotApplicable("scope")
    if subtotal < coupon.min_spend:
        raise CouponNotApplicable("min_spend", min_spend=coupon.min_spend)
    if coupon.kind == "percent":
        off = share_of(subtotal, int(coupon.amount) * 100)
    else:
        off = int(coupon.amount)
    off = max(0, min(off, subtotal))
    if not coupon.allow_below_cost:
        off = min(off, max(subtotal - cost * quantity, 0))
    return off
