"""Shop A aimed at shop B's suppliers and product sources: never B's data,
never a change to B.

Each endpoint is tried with A's key or A's operator session and B's ids on
A's host (404, as if they did not exist; the same call with A's own ids
works), with A's key on B's host (401), and with bodies that name B's
supplier or account (refused as naming nothing). After each try B's rows
are read again and must be exactly as before. ``RULES`` is what
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
from tests.supply.support import make_source, make_supplier

pytestmark = pytest.mark.critical


ENDPOINTS = [
    Endpoint("GET", "/api/v1/suppliers"),
    Endpoint(
        "POST",
        "/api/v1/suppliers",
        {
            "name": "Intruder",
            "kind": "http",
            "base_url": "https://x.example.com",
            "key_id": "k",
            "secret": "s",
        },
        ok=201,
    ),
    Endpoint("GET", "/api/v1/suppliers/{supplier}"),
    Endpoint("PATCH", "/api/v1/suppliers/{supplier}", {"status": "blacklisted"}),
    Endpoint("DELETE", "/api/v1/suppliers/{supplier}", ok=204),
    Endpoint("GET", "/api/v1/products/{product}/sources"),
    Endpoint("POST", "/api/v1/products/{product}/sources", {"sku": "NEW"}, ok=201),
    Endpoint("PATCH", "/api/v1/products/{product}/sources/{source}", {"cost": 1}),
    Endpoint("DELETE", "/api/v1/products/{product}/sources/{source}", ok=204),
]
RULES = rules_of(ENDPOINTS)


@pytest.fixture
def world(app, shops, make_account, make_product):
    """Alpha and bravo, each with a supplier account, an http supplier, a
    product and a source linking them."""
    made = {}
    for slug, shop in shops.items():
        seller = make_account(shop, f"seller@{slug}.example.com", "supplier")
        supplier = make_supplier(app, shop)
        product = make_product(shop, price=1000)
        source = make_source(app, shop, product, supplier)
        ids = {"supplier": supplier, "product": product, "source": source, "seller": seller.id}
        made[slug] = (shop, {k: str(v) for k, v in ids.items()})
    return made


def call(client, headers, endpoint: Endpoint, ids: dict):
    body = endpoint.body
    if body is not None and endpoint.path.endswith("/sources"):
        body = {**body, "supplier_id": ids["supplier"]}
    return client.open(endpoint.method, endpoint.url(ids), json=body, headers=headers)


def test_every_supply_endpoint_has_a_case(app):
    served = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("suppliers_api."):
            served |= {(m, rule.rule) for m in rule.methods - {"HEAD", "OPTIONS"}}

    assert served == RULES


(
    test_shop_b_ids_through_shop_a_are_not_found,
    test_shop_a_key_on_shop_b_host_is_not_valid_there,
    test_shop_a_lists_hold_none_of_shop_b,
) = table_tests(ENDPOINTS, call)


FOREIGN_REFERENCES = [
    (
        "POST",
        "/api/v1/products/{own_product}/sources",
        {"supplier_id": "{supplier}", "sku": "X"},
        "supplier_id",
    ),
    (
        "PATCH",
        "/api/v1/products/{own_product}/sources/{own_source}",
        {"supplier_id": "{supplier}"},
        "supplier_id",
    ),
    (
        "POST",
        "/api/v1/suppliers",
        {"name": "B's", "kind": "account", "account_id": "{seller}"},
        "account_id",
    ),
]


@pytest.mark.parametrize(("method", "path", "body", "field"), FOREIGN_REFERENCES)
def test_a_body_naming_shop_b_rows_is_refused_at_the_field(
    app, world, browser_for, method, path, body, field
):
    (a, a_ids), (b, b_ids) = world["alpha"], world["bravo"]
    ids = {**b_ids, "own_product": a_ids["product"], "own_source": a_ids["source"]}
    assert_foreign_reference_refused(app, browser_for, a, b, ids, method, path, body, field)
