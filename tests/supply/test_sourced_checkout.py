"""Checkout of a card product supplied by sources (货源): an order the
shop's own cards cannot cover is taken when the sources' last synced stock
can supply the rest, holds what own stock there is, and fulfilment buys the
rest; the storefront shows own stock plus the sources' and says "sold out"
only when both are empty."""

from __future__ import annotations

import pytest

from app.extensions import db
from tests.factories import add_stock, assert_problem, run_in_shop
from tests.supply.conftest import fulfil_now, paid_order, tickets_of


def _key(docked, order_id) -> str:
    return f"kameng:{docked.shop.id}:{order_id}"


def _codes(app, shop, order_id) -> list[str]:
    from app.orders import lookups
    from app.orders.models import Order

    return run_in_shop(
        app,
        shop,
        lambda: sorted(c["code"] for c in lookups.delivered_codes(db.session.get(Order, order_id))),
    )


def _set_source_stock(app, docked, stock: int | None) -> None:
    from app.supply.models import ProductSource

    def write():
        for source in db.session.query(ProductSource).all():
            source.stock = stock
        db.session.commit()

    run_in_shop(app, docked.shop, write)


def test_a_card_product_with_no_own_cards_is_bought_from_its_source(app, docked):
    shop = docked({}, kind="card")

    order_id = paid_order(app, shop.shop, shop.product_id)
    assert fulfil_now(app, shop.shop, order_id) == "delivered"

    [upstream] = shop.upstreams
    assert _codes(app, shop.shop, order_id) == ["UP-U000001-0"]
    assert upstream.bought == {_key(shop, order_id): 1}
    assert tickets_of(app, shop.shop, order_id) == []


def test_one_own_card_and_one_from_the_source_make_an_order_of_two(app, docked):
    shop = docked({}, kind="card")
    add_stock(app, shop.shop, shop.product_id, ["OWN-CODE-0001"])

    order_id = paid_order(app, shop.shop, shop.product_id, quantity=2)
    assert fulfil_now(app, shop.shop, order_id) == "delivered"

    [upstream] = shop.upstreams
    assert _codes(app, shop.shop, order_id) == ["OWN-CODE-0001", "UP-U000001-0"]
    assert upstream.bought == {_key(shop, order_id): 1}  # the shortfall only


def test_the_order_holds_the_own_cards_it_can_and_no_more(app, docked):
    from app.catalog import stock
    from app.orders import checkout

    shop = docked({}, kind="card")
    add_stock(app, shop.shop, shop.product_id, ["OWN-CODE-0001"])

    def create():
        order, _ = checkout.create_order(
            product_id=shop.product_id, quantity=3, email="b@example.com", inputs={}
        )
        return stock.counts(shop.product_id)

    counts = run_in_shop(app, shop.shop, create)
    assert (counts["reserved"], counts["available"]) == (1, 0)


@pytest.mark.parametrize(
    ("source_stock", "quantity", "own"),
    [(0, 1, 0), (1, 3, 1), (2, 4, 1)],
    ids=["source-empty", "too-few-with-one-own", "two-plus-one-short-of-four"],
)
def test_an_order_neither_own_stock_nor_the_sources_can_cover_is_refused(
    app, docked, source_stock, quantity, own
):
    from app.catalog import stock
    from app.catalog.stock import OutOfStock
    from app.orders import checkout

    shop = docked({}, kind="card")
    if own:
        add_stock(app, shop.shop, shop.product_id, [f"OWN-{n}" for n in range(own)])
    _set_source_stock(app, shop, source_stock)

    def create():
        checkout.create_order(
            product_id=shop.product_id, quantity=quantity, email="b@example.com", inputs={}
        )

    with pytest.raises(OutOfStock):
        run_in_shop(app, shop.shop, create)
    counts = run_in_shop(app, shop.shop, stock.counts, shop.product_id)
    assert counts["available"] == own and counts["reserved"] == 0  # nothing held


def test_a_card_product_without_sources_is_sold_out_as_before(app, make_shop, make_product):
    from app.catalog.stock import OutOfStock
    from app.orders import checkout

    shop = make_shop("alpha")
    product_id = make_product(shop, name="Bare", price=500)

    def create():
        checkout.create_order(product_id=product_id, quantity=1, email="b@example.com")

    with pytest.raises(OutOfStock, match="Bare is sold out"):
        run_in_shop(app, shop, create)


def test_a_suspended_supplier_supplies_nothing_at_checkout(app, docked):
    from app.catalog.stock import OutOfStock
    from app.orders import checkout
    from app.supply.models import Supplier

    shop = docked({}, kind="card")

    def suspend():
        db.session.get(Supplier, shop.supplier_ids[0]).status = "suspended"
        db.session.commit()

    run_in_shop(app, shop.shop, suspend)
    with pytest.raises(OutOfStock):
        run_in_shop(
            app,
            shop.shop,
            lambda: checkout.create_order(
                product_id=shop.product_id, quantity=1, email="b@example.com"
            ),
        )


def test_the_api_counts_own_and_source_stock_and_sold_out_only_when_both_are_empty(
    app, docked, browser_for, monkeypatch
):
    monkeypatch.setitem(app.config, "PAGE_CACHE_SECONDS", 0)  # each answer read afresh
    shop = docked({}, kind="card")
    add_stock(app, shop.shop, shop.product_id, ["OWN-CODE-0001", "OWN-CODE-0002"])
    api = browser_for(shop.shop.host)

    def listed():
        [item] = api.get("/api/v1/products").get_json()["items"]
        one = api.get(f"/api/v1/products/{shop.product_id}").get_json()
        assert one["stock"] == item["stock"]
        return item["stock"]

    assert listed() is None  # the source has not said: not counted, not sold out
    _set_source_stock(app, shop, 5)
    assert listed() == 7
    _set_source_stock(app, shop, 0)
    assert listed() == 2

    def sell_own():
        from sqlalchemy import update

        from app.catalog.models import Card, Product

        db.session.execute(update(Card).values(status="void"))
        db.session.execute(update(Product).values(stock_available=0))
        db.session.commit()

    run_in_shop(app, shop.shop, sell_own)
    assert listed() == 0
    page = api.get(f"/p/{shop.product_id}").get_data(as_text=True)
    assert "Sold out" in page or "售罄" in page


def test_a_guest_buys_a_sourced_card_through_the_api_and_sees_an_honest_error_when_empty(
    app, docked, browser_for
):
    shop = docked({}, kind="card")
    api = browser_for(shop.shop.host)
    body = {"product_id": str(shop.product_id), "quantity": 1, "email": "g@example.com"}

    made = api.post("/api/v1/orders", json=body)
    assert made.status_code == 201, made.get_json()
    assert _order_id(app, shop.shop, made.get_json()["number"]) is not None

    _set_source_stock(app, shop, 0)
    refused = api.post("/api/v1/orders", json={**body, "email": "h@example.com"})
    assert_problem(refused, 409, "out-of-stock")


def _order_id(app, shop, number):
    from sqlalchemy import select

    from app.orders.models import Order

    return run_in_shop(
        app, shop, lambda: db.session.scalar(select(Order.id).where(Order.number == number))
    )


def test_the_dashboard_asks_to_restock_a_docked_product_only_when_its_sources_are_empty(
    app, docked
):
    from app.catalog.stock_levels import stock_watch

    shop = docked({}, kind="card")

    def sold_out():
        return [line.product_id for line in stock_watch().sold_out]

    assert run_in_shop(app, shop.shop, sold_out) == []  # the source has not said
    _set_source_stock(app, shop, 4)
    assert run_in_shop(app, shop.shop, sold_out) == []
    _set_source_stock(app, shop, 0)
    assert run_in_shop(app, shop.shop, sold_out) == [shop.product_id]
