"""``quote`` with rules, as a table: what a buyer pays once tier prices,
quantity breaks, sale windows, coupons, the first-order discount and a
sub-shop's markup are in play, in the one documented order
(``app.pricing.quote``). Each row names its case; every quote's lines add
up to its total. Money is integer minor units; percentages round half up
on minor units (``core/money.share_of``)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from app.pricing.quote import CouponNotApplicable, CouponTerms, Rule, quote

NOW = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)
PRODUCT, OTHER_PRODUCT = uuid.uuid4(), uuid.uuid4()
CATEGORY, PARENT, OTHER_CATEGORY = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
GOLD, SILVER = uuid.uuid4(), uuid.uuid4()
DAY, SECOND = timedelta(days=1), timedelta(seconds=1)


def rule(**fields) -> Rule:
    return Rule(id=uuid.uuid4(), **fields)


def coupon(**fields) -> CouponTerms:
    return CouponTerms(**{"code": "SAVE", "kind": "fixed", "amount": 1_000, **fields})


def priced(**given):
    """A quote of the product (retail 100.00, cost 60.00, in CATEGORY under
    PARENT), one unit, retail audience, no rules, at NOW, unless given."""
    args = {
        "unit_price": 10_000,
        "quantity": 1,
        "currency": "CNY",
        "product_name": "Steam ¥100",
        "cost": 6_000,
        "product_id": PRODUCT,
        "category_ids": (CATEGORY, PARENT),
        "tier_id": None,
        "rules": (),
        "now": NOW,
        **given,
    }
    return quote(**args)


TIER_PRICE = rule(product_id=PRODUCT, tier_id=GOLD, price=8_000)
EVERYONE_5 = rule(percent_off=5)

# case -> (arguments, unit price, total)
CASES = {
    # audience: the buyer's tier, else retail
    "retail-no-rules": ({}, 10_000, 10_000),
    "retail-ignores-a-tier-rule": ({"rules": [TIER_PRICE]}, 10_000, 10_000),
    "tier-pays-its-price": ({"rules": [TIER_PRICE], "tier_id": GOLD}, 8_000, 8_000),
    "another-tier-pays-retail": ({"rules": [TIER_PRICE], "tier_id": SILVER}, 10_000, 10_000),
    "everyone-rule-for-retail": ({"rules": [EVERYONE_5]}, 9_500, 9_500),
    "another-products-rule-ignored": (
        {"rules": [rule(product_id=OTHER_PRODUCT, price=1)]},
        10_000,
        10_000,
    ),
    "category-rule-reaches-through-the-parent": (
        {"rules": [rule(category_id=PARENT, percent_off=10)]},
        9_000,
        9_000,
    ),
    "other-categorys-rule-ignored": (
        {"rules": [rule(category_id=OTHER_CATEGORY, percent_off=10)]},
        10_000,
        10_000,
    ),
    # ties: the highest priority, then the lowest price
    "same-priority-lowest-price-wins": (
        {"rules": [EVERYONE_5, TIER_PRICE], "tier_id": GOLD},
        8_000,
        8_000,
    ),
    "same-priority-percent-beats-a-higher-fixed-price": (
        {"rules": [rule(price=9_800), rule(percent_off=15)]},
        8_500,
        8_500,
    ),
    "higher-priority-wins-over-a-lower-price": (
        {"rules": [rule(percent_off=5, priority=1), TIER_PRICE], "tier_id": GOLD},
        9_500,
        9_500,
    ),
    # quantity breaks
    "below-the-break": (
        {"rules": [rule(min_quantity=10, price=9_000)], "quantity": 9},
        10_000,
        90_000,
    ),
    "at-the-break": (
        {"rules": [rule(min_quantity=10, price=9_000)], "quantity": 10},
        9_000,
        90_000,
    ),
    "break-after-the-tier-price": (
        {
            "rules": [TIER_PRICE, rule(min_quantity=10, percent_off=10)],
            "tier_id": GOLD,
            "quantity": 10,
        },
        7_200,
        72_000,
    ),
    # sale windows
    "sale-active": (
        {"rules": [rule(price=7_000, starts_at=NOW - DAY, ends_at=NOW + DAY)]},
        7_000,
        7_000,
    ),
    "sale-starts-now": ({"rules": [rule(price=7_000, starts_at=NOW)]}, 7_000, 7_000),
    "sale-expired": ({"rules": [rule(price=7_000, ends_at=NOW - SECOND)]}, 10_000, 10_000),
    "sale-ends-now": ({"rules": [rule(price=7_000, ends_at=NOW)]}, 10_000, 10_000),
    "sale-in-the-future": ({"rules": [rule(price=7_000, starts_at=NOW + SECOND)]}, 10_000, 10_000),
    "sale-after-the-tier-price": (
        {"rules": [TIER_PRICE, rule(percent_off=10, ends_at=NOW + DAY)], "tier_id": GOLD},
        7_200,
        7_200,
    ),
    # never below cost unless the rule allows it; never above the price
    "rule-stops-at-cost": ({"rules": [rule(price=5_000)]}, 6_000, 6_000),
    "rule-allowed-below-cost": (
        {"rules": [rule(price=5_000, allow_below_cost=True)]},
        5_000,
        5_000,
    ),
    "percent-stops-at-cost": ({"rules": [rule(percent_off=100)]}, 6_000, 6_000),
    "free-when-allowed": ({"rules": [rule(percent_off=100, allow_below_cost=True)]}, 0, 0),
    "retail-below-cost-is-left-as-it-is": (
        {"unit_price": 5_000, "rules": [EVERYONE_5]},
        5_000,
        5_000,
    ),
    "a-higher-price-does-nothing": ({"rules": [rule(price=12_000)]}, 10_000, 10_000),
    # percentages round half up on minor units
    "999-at-15-percent-off": (
        {"unit_price": 999, "cost": 0, "rules": [rule(percent_off=15)]},
        849,
        849,
    ),
    "1001-at-5-percent-off": (
        {"unit_price": 1_001, "cost": 0, "rules": [rule(percent_off=5)]},
        951,
        951,
    ),
    "10-at-25-percent-off": ({"unit_price": 10, "cost": 0, "rules": [rule(percent_off=25)]}, 7, 7),
    # coupons, on the subtotal
    "coupon-fixed": ({"coupon": coupon()}, 10_000, 9_000),
    "coupon-percent-rounds-half-up": (
        {"unit_price": 999, "cost": 0, "coupon": coupon(kind="percent", amount=15)},
        999,
        849,
    ),
    "coupon-at-its-minimum-spend": ({"coupon": coupon(min_spend=10_000)}, 10_000, 9_000),
    "coupon-for-this-product": ({"coupon": coupon(product_id=PRODUCT)}, 10_000, 9_000),
    "coupon-for-the-parent-category": ({"coupon": coupon(category_id=PARENT)}, 10_000, 9_000),
    "coupon-capped-at-the-subtotal": (
        {"cost": 0, "coupon": coupon(amount=50_000)},
        10_000,
        0,
    ),
    "coupon-capped-at-cost": ({"coupon": coupon(amount=5_000)}, 10_000, 6_000),
    "coupon-allowed-below-cost": (
        {"coupon": coupon(amount=5_000, allow_below_cost=True)},
        10_000,
        5_000,
    ),
    "coupon-after-the-tier-price": (
        {"rules": [TIER_PRICE], "tier_id": GOLD, "coupon": coupon(kind="percent", amount=10)},
        8_000,
        7_200,
    ),
    "coupon-on-the-whole-quantity": (
        {"quantity": 3, "coupon": coupon(kind="percent", amount=10)},
        10_000,
        27_000,
    ),
    # the first-order discount, on what is left
    "first-order": ({"first_order_percent": 10}, 10_000, 9_000),
    "first-order-after-the-coupon": (
        {"coupon": coupon(), "first_order_percent": 10},
        10_000,
        8_100,
    ),
    "first-order-stops-at-cost": ({"first_order_percent": 50}, 10_000, 6_000),
    "first-order-rounds-half-up": (
        {"unit_price": 999, "cost": 0, "first_order_percent": 15},
        999,
        849,
    ),
    # a sub-shop's markup, on the owner's tier price
    "sub-shop-markup-on-the-tier-price": (
        {"rules": [TIER_PRICE], "tier_id": GOLD, "markup_percent": 10},
        8_800,
        8_800,
    ),
    "sub-shop-markup-rounds-half-up": (
        {"unit_price": 999, "cost": 0, "markup_percent": 15},
        1_149,
        1_149,
    ),
    "sub-shop-markup-then-coupon": ({"markup_percent": 10, "coupon": coupon()}, 11_000, 10_000),
}


@pytest.mark.parametrize(("given", "unit_price", "total"), list(CASES.values()), ids=list(CASES))
def test_the_price_of_each_case(given, unit_price, total):
    priced_ = priced(**given)

    assert (priced_.unit_price, priced_.total) == (unit_price, total)
    assert priced_.subtotal == unit_price * priced_.quantity
    assert sum(line.amount for line in priced_.lines) == priced_.total
    assert all(type(line.amount) is int for line in priced_.lines)


# case -> (the coupon, other arguments, the reason it is refused)
REFUSED = {
    "below-the-minimum-spend": (coupon(min_spend=10_001), {}, "min_spend"),
    "for-another-product": (coupon(product_id=OTHER_PRODUCT), {}, "scope"),
    "for-another-category": (coupon(category_id=OTHER_CATEGORY), {}, "scope"),
    "expired": (coupon(expires_at=NOW - SECOND), {}, "expired"),
    "expires-now": (coupon(expires_at=NOW), {}, "expired"),
    "not-started": (coupon(starts_at=NOW + SECOND), {}, "not_started"),
    "minimum-spend-after-the-tier-price": (
        coupon(min_spend=9_000),
        {"rules": [TIER_PRICE], "tier_id": GOLD},
        "min_spend",
    ),
}


@pytest.mark.parametrize(("terms", "given", "reason"), list(REFUSED.values()), ids=list(REFUSED))
def test_a_coupon_that_does_not_apply_is_refused_with_its_reason(terms, given, reason):
    with pytest.raises(CouponNotApplicable) as refusal:
        priced(coupon=terms, **given)

    assert refusal.value.reason == reason


def test_the_lines_name_each_stage_and_the_rule_behind_it():
    sale = rule(percent_off=10, ends_at=NOW + DAY)
    priced_ = priced(
        rules=[TIER_PRICE, rule(min_quantity=2, price=7_500), sale],
        tier_id=GOLD,
        quantity=2,
        coupon=coupon(),
        first_order_percent=5,
    )

    assert [(line.kind, line.amount) for line in priced_.lines] == [
        ("items", 20_000),
        ("tier_price", -4_000),
        ("quantity_break", -1_000),
        ("sale_price", -1_500),
        ("coupon", -1_000),
        ("first_order", -500),  # 5 % of 12,500 is 625; it stops at the cost of 12,000
    ]
    assert priced_.lines[1].ref == str(TIER_PRICE.id) and priced_.lines[3].ref == str(sale.id)
    assert (priced_.coupon, priced_.coupon_discount, priced_.tier_id) == ("SAVE", 1_000, str(GOLD))
    assert priced_.total == 12_000
