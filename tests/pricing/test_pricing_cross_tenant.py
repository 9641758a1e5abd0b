"""Shop A aimed at shop B's tiers, price rules, coupons, accounts and agent
settings: never B's data, never a change to B.

Each endpoint is tried with A's key or A's operator session and B's ids on
A's host (404, as if they did not exist; the same call with A's own ids
works), with A's key on B's host (401), and with bodies that name B's
product, category, tier or agent (refused as naming nothing). After each
try B's rows are read again and must be exactly as before. ``RULES`` (the
``(method, Flask rule)`` pairs covered here) is what
``tests/api/test_cross_tenant.py`` reads to count these endpoints covered.
"""

from __future__ import annotations

import pytest

from tests.api.cross_tenant_cases import (
    Endpoint,
    assert_foreign_reference_refused,
    rules_of,
    table_tests,
)
from tests.pricing.support import make_category, make_coupon, make_rule, make_tier

pytestmark = pytest.mark.critical


ENDPOINTS = [
    Endpoint("GET", "/api/v1/agent-tiers"),
    Endpoint("POST", "/api/v1/agent-tiers", {"name": "Intruder"}, ok=201),
    Endpoint("GET", "/api/v1/agent-tiers/{tier}"),
    Endpoint("PATCH", "/api/v1/agent-tiers/{tier}", {"name": "Taken over", "rank": 99}),
    Endpoint("DELETE", "/api/v1/agent-tiers/{tier}"),
    Endpoint("GET", "/api/v1/price-rules"),
    Endpoint("POST", "/api/v1/price-rules", {"percent_off": 50}, ok=201),
    Endpoint("GET", "/api/v1/price-rules/{rule}"),
    Endpoint("PATCH", "/api/v1/price-rules/{rule}", {"price": 1, "allow_below_cost": True}),
    Endpoint("DELETE", "/api/v1/price-rules/{rule}", ok=204),
    Endpoint("GET", "/api/v1/coupons"),
    Endpoint("POST", "/api/v1/coupons", {"code": "INTRUDER", "amount": 1}, ok=201),
    Endpoint("GET", "/api/v1/coupons/{coupon}"),
    Endpoint("PATCH", "/api/v1/coupons/{coupon}", {"active": False, "amount": 99999}),
    Endpoint("DELETE", "/api/v1/coupons/{coupon}", ok=204),
    Endpoint(
        "POST",
        "/api/v1/accounts/{account}/wallet/adjustments",
        {"amount": 100_000, "reason": "free money"},
        ok=201,
    ),
    Endpoint("GET", "/api/v1/shop/agent-settings"),
    Endpoint("PATCH", "/api/v1/shop/agent-settings", {"first_order_percent": 90}),
]
RULES = rules_of(ENDPOINTS)


@pytest.fixture
def world(app, shops, make_account, make_product):
    """Alpha and bravo, each with a tier, a category, a product, a price
    rule, a coupon and an agent."""
    made = {}
    for slug, shop in shops.items():
        tier = make_tier(app, shop)
        category = make_category(app, shop)
        product = make_product(shop, price=1000)
        ids = {
            "tier": tier,
            "category": category,
            "product": product,
            "rule": make_rule(app, shop, product_id=product, tier_id=tier, price=800),
            "coupon": make_coupon(app, shop),
            "account": make_account(shop, f"agent@{slug}.example.com", "agent").id,
        }
        made[slug] = (shop, {k: str(v) for k, v in ids.items()})
    return made


def call(client, headers, endpoint: Endpoint, ids: dict):
    return client.open(endpoint.method, endpoint.url(ids), json=endpoint.body, headers=headers)


def test_every_pricing_endpoint_has_a_case(app):
    served = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith(("pricing_api.", "settings_api.")) or (
            rule.rule.startswith("/api/v1/accounts/") and "wallet" in rule.rule
        ):
            served |= {(m, rule.rule) for m in rule.methods - {"HEAD", "OPTIONS"}}

    assert served == RULES


(
    test_shop_b_ids_through_shop_a_are_not_found,
    test_shop_a_key_on_shop_b_host_is_not_valid_there,
    test_shop_a_lists_hold_none_of_shop_b,
) = table_tests(ENDPOINTS, call)


# A body naming B's rows, sent by A on A's host: each is refused at its field.
FOREIGN_REFERENCES = [
    ("POST", "/api/v1/price-rules", {"product_id": "{product}", "price": 1}, "product_id"),
    ("POST", "/api/v1/price-rules", {"category_id": "{category}", "price": 1}, "category_id"),
    ("POST", "/api/v1/price-rules", {"tier_id": "{tier}", "price": 1}, "tier_id"),
    ("PATCH", "/api/v1/price-rules/{own_rule}", {"tier_id": "{tier}"}, "tier_id"),
    (
        "POST",
        "/api/v1/coupons",
        {"code": "X123", "amount": 1, "product_id": "{product}"},
        "product_id",
    ),
    (
        "POST",
        "/api/v1/coupons",
        {"code": "X123", "amount": 1, "category_id": "{category}"},
        "category_id",
    ),
    ("PATCH", "/api/v1/accounts/{own_account}", {"tier_id": "{tier}"}, "tier_id"),
    ("PATCH", "/api/v1/accounts/{own_account}", {"upline_id": "{account}"}, "upline_id"),
]


@pytest.mark.parametrize(("method", "path", "body", "field"), FOREIGN_REFERENCES)
def test_a_body_naming_shop_b_rows_is_refused_at_the_field(
    app, world, browser_for, method, path, body, field
):
    (a, a_ids), (b, b_ids) = world["alpha"], world["bravo"]
    ids = {**b_ids, "own_rule": a_ids["rule"], "own_account": a_ids["account"]}
    assert_foreign_reference_refused(app, browser_for, a, b, ids, method, path, body, field)
