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

from dataclasses import dataclass

import pytest

from tests.api.support import csrf_header
from tests.console.support import console
from tests.factories import assert_problem, bearer, shop_rows
from tests.supply.support import make_source, make_supplier

pytestmark = pytest.mark.critical


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # {supplier}, {product}, {source} stand for the target shop's ids
    body: dict | None = None
    ok: int = 200

    def url(self, ids: dict) -> str:
        return self.path.format(**ids)

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


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
WITH_IDS = [e for e in ENDPOINTS if "{" in e.path]
RULES = {(e.method, e.path.replace("{", "<").replace("}", "_id>")) for e in ENDPOINTS}


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


def caller_for(kind: str, shop, browser_for):
    if kind == "api key":
        return browser_for(shop.host), bearer(shop.key)
    browser = console(browser_for, shop.host, shop.owner_email)
    return browser, csrf_header(browser)


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


@pytest.mark.parametrize("caller", ["api key", "operator session"])
@pytest.mark.parametrize("endpoint", WITH_IDS, ids=str)
def test_shop_b_ids_through_shop_a_are_not_found(app, world, browser_for, endpoint, caller):
    (a, a_ids), (b, b_ids) = world["alpha"], world["bravo"]
    client, headers = caller_for(caller, a, browser_for)
    before = shop_rows(app, b.id)

    response = call(client, headers, endpoint, b_ids)

    assert_problem(response, 404, "not-found")
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
    before_b = shop_rows(app, b.id)

    response = browser_for(a.host).open(
        method,
        path.format(**ids),
        json={k: v.format(**ids) for k, v in body.items()},
        headers=bearer(a.key),
    )

    problem = assert_problem(response, 422, "validation-failed")
    assert list(problem["errors"]) == [field]
    assert "No such" in problem["errors"][field][0]
    assert shop_rows(app, b.id) == before_b
