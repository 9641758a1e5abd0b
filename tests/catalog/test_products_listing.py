"""Listing products: the public sees what is on sale without cost, operators
see everything; pages, category filter and name search; stock; a constant
number of queries per page."""

from __future__ import annotations

import uuid
from contextlib import contextmanager
from datetime import timedelta

from sqlalchemy import event

from app.catalog import stock
from app.extensions import db
from tests.catalog.support import (
    cards,
    category,
    product,
)


def names(response) -> list[str]:
    assert response.status_code == 200, response.get_data(as_text=True)
    return [item["name"] for item in response.get_json()["items"]]


# --- public and operator views ------------------------------------------------


def test_the_public_sees_products_on_sale_without_cost(shop, api, api_for, in_shop):
    def build():
        return {
            "on_sale": product("On sale", price=1250, cost=1000),
            "draft": product("Draft", status="draft", cost=1000),
            "off_sale": product("Off sale", status="off_sale", cost=1000),
        }

    ids = in_shop(shop, build)
    public = api_for(shop, key=None)

    listing = public.get("/api/v1/products")
    assert names(listing) == ["On sale"]
    assert listing.get_json()["total"] == 1
    item = listing.get_json()["items"][0]
    assert item["price"] == 1250 and item["stock"] == 0
    assert "cost" not in item and "status" not in item and "delivery_note" not in item
    assert '"cost"' not in listing.get_data(as_text=True)

    one = public.get(f"/api/v1/products/{ids['on_sale']}")
    assert one.status_code == 200 and "cost" not in one.get_json()
    for hidden in ("draft", "off_sale"):
        response = public.get(f"/api/v1/products/{ids[hidden]}")
        assert response.status_code == 404
        assert response.mimetype == "application/problem+json"


def test_a_status_filter_from_the_public_shows_nothing_more(shop, api_for, in_shop):
    in_shop(shop, lambda: (product("On sale"), product("Draft", status="draft")))

    assert names(api_for(shop, key=None).get("/api/v1/products?status=draft")) == ["On sale"]


def test_operators_see_every_product_with_cost(shop, api, in_shop):
    def build():
        return product("Draft", status="draft", cost=700), product("On sale", cost=800)

    draft, _ = in_shop(shop, build)

    listing = api.get("/api/v1/products").get_json()
    assert {i["name"]: i["cost"] for i in listing["items"]} == {"Draft": 700, "On sale": 800}
    assert names(api.get("/api/v1/products?status=draft")) == ["Draft"]
    one = api.get(f"/api/v1/products/{draft}").get_json()
    assert one["status"] == "draft" and one["cost"] == 700


def test_a_buyer_session_gets_the_public_view(shop, in_shop, browser_for, app):
    from app.accounts import services
    from tenants.context import tenant_context
    from tests.conftest import PASSWORD

    in_shop(shop, lambda: (product("On sale", cost=5), product("Draft", status="draft")))
    with app.app_context(), tenant_context(shop.tenant_id):
        services.create_shop_account("buyer@example.com", PASSWORD)
        db.session.remove()
    buyer = browser_for(shop.host)
    signed_in = buyer.submit("/account/login", {"email": "buyer@example.com", "password": PASSWORD})
    assert signed_in.status_code == 302

    listing = buyer.get("/api/v1/products")

    assert names(listing) == ["On sale"]
    assert "cost" not in listing.get_json()["items"][0]


# --- pages, filter, search ---------------------------------------------------


def test_pages_split_the_list_without_overlap(shop, api, in_shop):
    in_shop(shop, lambda: [product(f"Card {i:02d}", sort=i) for i in range(25)])

    pages = [api.get(f"/api/v1/products?per_page=10&page={n}").get_json() for n in (1, 2, 3, 4)]

    assert [p["total"] for p in pages] == [25, 25, 25, 25]
    assert [len(p["items"]) for p in pages] == [10, 10, 5, 0]
    seen = [i["name"] for p in pages for i in p["items"]]
    assert seen == [f"Card {i:02d}" for i in range(25)]


def test_page_size_is_bounded(api):
    response = api.get("/api/v1/products?per_page=1000")

    assert response.status_code == 422
    assert "per_page" in response.get_json()["errors"]


def test_a_top_category_includes_its_children(shop, api, in_shop):
    def build():
        games = category("Games")
        steam = category("Steam", parent_id=games)
        phone = category("Phone")
        product("Games gift", category_id=str(games))
        product("Steam ¥100", category_id=str(steam))
        product("China Mobile ¥50", category_id=str(phone))
        product("Uncategorised")
        return games, steam

    games, steam = in_shop(shop, build)

    assert sorted(names(api.get(f"/api/v1/products?category_id={games}"))) == [
        "Games gift",
        "Steam ¥100",
    ]
    assert names(api.get(f"/api/v1/products?category_id={steam}")) == ["Steam ¥100"]
    assert names(api.get(f"/api/v1/products?category_id={uuid.uuid4()}")) == []
    assert api.get("/api/v1/products?category_id=games").status_code == 422


def test_search_finds_chinese_and_english_names_in_any_case(shop, api_for, in_shop):
    def build():
        product("王者荣耀 60点券")
        product("和平精英 60UC")
        product("Steam Wallet ¥100")
        product("STEAMPUNK artbook")
        product("100% bonus pack")

    in_shop(shop, build)
    public = api_for(shop, key=None)

    assert names(public.get("/api/v1/products?q=荣耀")) == ["王者荣耀 60点券"]
    assert sorted(names(public.get("/api/v1/products?q=60"))) == [
        "和平精英 60UC",
        "王者荣耀 60点券",
    ]
    assert sorted(names(public.get("/api/v1/products?q=steam"))) == [
        "STEAMPUNK artbook",
        "Steam Wallet ¥100",
    ]
    assert names(public.get("/api/v1/products?q=uc")) == ["和平精英 60UC"]
    # LIKE wildcards in the query are plain characters.
    assert names(public.get("/api/v1/products?q=100%25")) == ["100% bonus pack"]
    assert names(public.get("/api/v1/products?q=_")) == []


# --- stock --------------------------------------------------------------------


def test_stock_counts_available_codes_and_expired_holds(shop, api_for, in_shop):
    def build():
        steam = product("Steam ¥100")
        cards(steam, 5)
        stock.reserve(steam, 2, uuid.uuid4(), hold=timedelta(minutes=15))  # held: not sellable
        stock.reserve(steam, 1, uuid.uuid4(), hold=timedelta(minutes=-1))  # hold lapsed: sellable
        db.session.commit()
        product("QQ coins", kind="topup")
        product("Empty card")

    in_shop(shop, build)

    listing = api_for(shop, key=None).get("/api/v1/products").get_json()["items"]
    assert {i["name"]: i["stock"] for i in listing} == {
        "Steam ¥100": 3,
        "QQ coins": None,
        "Empty card": 0,
    }


# --- queries per page ---------------------------------------------------------


@contextmanager
def counting_queries(app):
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_listing_takes_the_same_number_of_queries_for_5_or_50_products(
    app, shop, api, api_for, in_shop
):
    def build(count: int, offset: int):
        for i in range(count):
            pid = product(f"Card {offset + i}", category_id=str(category(f"C{offset + i}")))
            if i % 5 == 0:
                cards(pid, 1, prefix=f"P{offset + i}")

    def queries(client) -> int:
        client.get("/api/v1/products")  # warm: host cache, API key's last use
        with counting_queries(app) as statements:
            response = client.get("/api/v1/products?per_page=100")
        assert response.status_code == 200
        return len(statements)

    in_shop(shop, build, 5, 0)
    few = {"operator": queries(api), "public": queries(api_for(shop, key=None))}
    in_shop(shop, build, 45, 5)
    assert len(api.get("/api/v1/products?per_page=100").get_json()["items"]) == 50
    many = {"operator": queries(api), "public": queries(api_for(shop, key=None))}

    assert many == few
