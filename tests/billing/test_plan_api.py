"""``GET /api/v1/shop/plan``: the shop's plan, its limits and its usage, to
the shop's owner and staff only, and only the shop's own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.extensions import db
from tests.billing.support import free_pro_business, put_on_plan
from tests.factories import assert_problem, bearer, run_in_shop


def test_a_shop_without_a_plan_answers_no_plan_and_no_limits(shop, browser_for):
    body = browser_for(shop.host).get("/api/v1/shop/plan", headers=bearer(shop.key)).get_json()

    assert body["plan"] is None and body["source"] == "none" and body["status"] is None
    assert body["limits"] == {
        "products": None,
        "staff": None,
        "domains": None,
        "orders_month": None,
        "api": True,
        "sub_shops": True,
    }
    assert body["usage"]["api"] == 1  # the shop's own key


def test_the_plan_its_limits_and_the_usage_are_answered(
    app, make_shop, make_product, make_member, browser_for
):
    from app.orders.models import Order

    shop = make_shop("alpha", key_role="owner", staff_key=True)
    free_pro_business(app)
    put_on_plan(app, shop, "pro")
    make_product(shop, name="One", stock=["A-1", "A-2"])
    make_product(shop, name="Two")
    make_member(shop, "staff@example.com")
    api = browser_for(shop.host)
    for n in range(2):
        placed = api.post(
            "/api/v1/orders",
            json={"product_id": str(make_product(shop, name=f"P{n}", stock=[f"C{n}"])),
                  "quantity": 1, "email": f"b{n}@example.com"},
            headers=bearer(shop.key),
        )  # fmt: skip
        assert placed.status_code == 201

    def last_month_order():  # placed before this month began: not counted
        order = db.session.query(Order).first()
        order.created_at = datetime.now(UTC) - timedelta(days=40)
        db.session.commit()

    run_in_shop(app, shop, last_month_order)

    response = api.get("/api/v1/shop/plan", headers=bearer(shop.staff_key))

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["plan"]["code"] == "pro" and body["plan"]["price"] == 9_900
    assert body["plan"]["commission_bps"] == 100 and body["plan"]["interval"] == "month"
    assert body["source"] == "subscription" and body["status"] == "active"
    assert body["launch_offer_ends_at"] is not None
    assert body["limits"]["products"] == 5 and body["limits"]["sub_shops"] is False
    assert body["usage"] == {
        "products": 4,
        "staff": 1,
        "domains": 0,
        "orders_month": 1,
        "api": 2,
        "sub_shops": 0,
    }


def test_a_stranger_and_a_buyer_are_refused(shop, browser_for, make_account):
    from tests.conftest import PASSWORD

    api = browser_for(shop.host)
    assert_problem(api.get("/api/v1/shop/plan"), 401, "unauthorized")
    buyer = make_account(shop, "buyer@alpha.example.com")
    signed = api.submit("/account/login", {"email": buyer.email, "password": PASSWORD})
    assert signed.status_code == 302
    assert_problem(api.get("/api/v1/shop/plan"), 403, "forbidden")
