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

from dataclasses import dataclass

import pytest

from tests.api.support import csrf_header
from tests.console.support import console
from tests.factories import assert_problem, bearer, shop_rows
from tests.pricing.support import make_category, make_coupon, make_rule, make_tier

pytestmark = pytest.mark.critical


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # {tier}, {rule}, {coupon}, {account} stand for the target shop's ids
    body: dict | None = None
    ok: int = 200

    def url(self, ids: dict) -> str:
        return self.path.format(**ids)

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


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
WITH_IDS = [e for e in ENDPOINTS if "{" in e.path]
RULES = {(e.method, e.path.replace("{", "<").replace("}", "_id>")) for e in ENDPOINTS}


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


def caller_for(kind: str, shop, browser_for):
    """A client on ``shop``'s host and the headers its writes carry."""
    if kind == "api key":
        return browser_for(shop.host), bearer(shop.key)
    browser = console(browser_for, shop.host, shop.owner_email)
    return browser, csrf_header(browser)


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


@pytest.mark.parametrize("caller", ["api key", "operator session"])
@pytest.mark.parametrize("endpoint", WITH_IDS, ids=str)
def test_shop_b_ids_through_shop_a_are_not_found(app, world, browser_for, endpoint, caller):
    (a, a_ids), (b, b_ids) = world["alpha"], world["bravo"]
    client, headers = caller_for(caller, a, browser_for)
    before = shop_rows(app, b.id)

    response = call(client, headers, endpoint, b_ids)

    assert_problem(response, 404, "not-found")
    assert b_ids[endpoint.path.split("{")[1].split("}")[0]] in response.request.path
    assert shop_rows(app, b.id) == before
    own = call(client, headers, endpoint, a_ids)
    assert own.status_code == endpoint.ok, own.get_data(as_text=True)
    assert shop_rows(app, b.id) == before


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_shop_a_key_on_shop_b_host_is_not_valid_there(app, world, browser_for, endpoint):
    (a, _a_ids), (b, b_ids) = world["alpha"], world["bravo"]
    before = shop_rows(app, b.id)

    response = call(browser_for(b.host), bearer(a.key), endpoint, b_ids)

    assert_problem(response, 401, "unauthorized")
    assert shop_rows(app, b.id) == before


@pytest.mark.parametrize("endpoint", [e for e in ENDPOINTS if e.method == "GET"], ids=str)
def test_shop_a_lists_hold_none_of_shop_b(app, world, browser_for, endpoint):
    (a, a_ids), (_b, b_ids) = world["alpha"], world["bravo"]

    response = call(browser_for(a.host), bearer(a.key), endpoint, a_ids)

    assert response.status_code == 200
    text = response.get_data(as_text=True)
    for name, value in b_ids.items():
        assert value not in text, f"bravo's {name} leaked"


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
    before_a, before_b = shop_rows(app, a.id), shop_rows(app, b.id)

    response = browser_for(a.host).open(
        method,
        path.format(**ids),
        json={k: v.format(**ids) if isinstance(v, str) else v for k, v in body.items()},
        headers=bearer(a.key),
    )

    problem = assert_problem(response, 422, "validation-failed")
    assert list(problem["errors"]) == [field]
    assert "No such" in problem["errors"][field][0]
    assert written(shop_rows(app, a.id)) == written(before_a)  # nothing, but the key's use
    assert shop_rows(app, b.id) == before_b


def written(rows: dict) -> dict:
    return {table: found for table, found in rows.items() if table != "api_keys"}
