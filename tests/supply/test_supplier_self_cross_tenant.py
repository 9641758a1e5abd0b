"""A supplier account of shop A aimed at shop B's pool: never B's data,
never a code stored at B.

A's supplier session naming B's product on A's host is 404 (as if it did
not exist); presented to B's host it is not signed in; B's pool is read
again after each try and must be as before. ``RULES`` is what
``tests/api/test_cross_tenant.py`` reads to count these endpoints covered.
"""

from __future__ import annotations

import pytest

from app.supply.pool import pool_counts
from tests.agents.support import signed_in
from tests.factories import add_account, assert_problem, run_in_shop
from tests.supply.support import make_source, make_supplier

pytestmark = pytest.mark.critical

RULES = {("GET", "/api/v1/me/supply"), ("POST", "/api/v1/me/supply/codes")}


def _supplying_shop(app, make_shop, make_product, slug: str) -> dict:
    shop = make_shop(slug, key_role="owner")
    seller = add_account(app, shop, f"seller@{slug}.example.com", "supplier")
    supplier_id = make_supplier(
        app, shop, name="Seller", kind="account", account_id=str(seller.id), status="active"
    )
    product_id = make_product(shop, name=f"{slug} card", price=1_000)
    make_source(app, shop, product_id, supplier_id, cost=500)
    return {"shop": shop, "seller": seller, "supplier_id": supplier_id, "product_id": product_id}


def _pool(app, side: dict) -> tuple[int, int]:
    counts = run_in_shop(app, side["shop"], pool_counts, side["supplier_id"])
    return counts.available, counts.sold


def test_a_supplier_reaches_only_its_own_shops_pool(app, make_shop, make_product, browser_for):
    a = _supplying_shop(app, make_shop, make_product, "alpha")
    b = _supplying_shop(app, make_shop, make_product, "beta")
    browser, csrf = signed_in(browser_for, a["shop"], a["seller"].email)

    own = browser.get("/api/v1/me/supply").get_json()
    assert [p["name"] for p in own["products"]] == ["alpha card"]
    assert "beta" not in browser.get("/api/v1/me/supply").get_data(as_text=True)

    aimed = browser.post(
        "/api/v1/me/supply/codes",
        json={"product_id": str(b["product_id"]), "codes": ["B-1"]},
        headers=csrf,
    )
    assert_problem(aimed, 404)

    stolen = browser.on(b["shop"].host)
    assert stolen.get("/account/supply").status_code == 302
    assert stolen.get("/api/v1/me/supply").status_code in (401, 403)
    assert _pool(app, b) == (0, 0)

    works = browser.post(
        "/api/v1/me/supply/codes",
        json={"product_id": str(a["product_id"]), "codes": ["A-1"]},
        headers=csrf,
    )
    assert works.status_code == 201 and _pool(app, a) == (1, 0)
