"""What each buyer is shown and charged: the caller's price on the product
pages of every theme, in the product answers of the API, in the order's
snapshot and in the ledger, for a guest, a customer, an agent of a tier and
a buyer in an agent's sub-shop (分站). The cached storefront never serves
one buyer's price to another."""

from __future__ import annotations

import re

import pytest

from app.core.money import format_money
from tests.factories import add_product, codes, run_in_shop
from tests.pricing.support import (
    add_agent,
    add_rule,
    add_sub_shop,
    add_tier,
    on_sale_now,
    order_row,
    sales_posted,
    shown_price,
    sign_in,
)
from tests.storefront.support import english, text, use_theme

LIST_PRICE = 10_000
COST = 5_000
THEMES = ("default", "classic", "grid")
# The list price is ¥100.00. Everyone gets 10 % off in a sale; the gold tier
# pays ¥80.00 before the sale; the silver tier ¥95.00; the sub-shop "wang"
# of a gold agent adds 20 % on top of its owner's price.
EXPECTED = {
    "anonymous": 9_000,
    "customer": 9_000,
    "agent": 7_200,
    "sub_shop_buyer": 8_640,
}
ROLES = tuple(EXPECTED)


def cny(minor: int) -> str:
    return format_money(minor, "CNY")


@pytest.fixture
def priced_shop(app, shop):
    """``shop`` selling one card product at ¥100.00 with a gold and a silver
    tier, a sale for everyone, a gold agent's sub-shop ``wang`` and one
    signed-in account of every role."""
    product_id = add_product(app, shop, price=LIST_PRICE, cost=COST, stock=codes("GOLD", 5))
    gold = add_tier(app, shop, "金牌代理", 3)
    silver = add_tier(app, shop, "银牌代理", 2)
    add_rule(app, shop, product_id=product_id, tier_id=gold, price=8_000)
    add_rule(app, shop, product_id=product_id, tier_id=silver, price=9_500)
    add_rule(app, shop, **on_sale_now(percent_off=10))
    owner = add_agent(app, shop, "wang@example.com", gold)
    add_sub_shop(app, shop, owner.id, "wang", "小王的分站", markups={"*": 20})
    accounts = {
        "customer": add_agent(app, shop, "li@example.com", role="customer"),
        "agent": add_agent(app, shop, "gold@example.com", gold),
        "sub_shop_buyer": add_agent(app, shop, "silver@example.com", silver),
    }
    return shop, product_id, accounts


def _lookup_token(app, shop, order_id) -> str:
    from app.orders import lookups

    return run_in_shop(app, shop, lookups.lookup_token, order_id)


@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("role", ROLES)
def test_a_buyers_price_is_the_same_on_the_page_in_the_api_in_the_snapshot_and_in_the_ledger(
    app, browser_for, priced_shop, role, theme
):
    shop, product_id, accounts = priced_shop
    use_theme(app, shop, theme)
    expected = EXPECTED[role]
    browser = english(browser_for(shop.host), shop)
    if role != "anonymous":
        sign_in(browser, accounts[role].email)
    in_sub_shop = role == "sub_shop_buyer"
    prefix = "/s/wang" if in_sub_shop else ""
    query = "?sub_shop=wang" if in_sub_shop else ""

    # the pages: the product's own, and the home page's list
    product_page = browser.get(f"{prefix}/p/{product_id}")
    assert product_page.status_code == 200
    assert shown_price(product_page.get_data(as_text=True)) == cny(expected)
    assert cny(expected) in text(browser.get(prefix or "/"))

    # the API: one product and the list
    one = browser.get(f"/api/v1/products/{product_id}{query}").get_json()
    listed = browser.get(f"/api/v1/products{query}").get_json()["items"]
    assert one["price"] == expected and listed[0]["price"] == expected
    assert one["retail_price"] == LIST_PRICE == listed[0]["retail_price"]

    # the buy page and the order it places
    buy_page = f"{prefix}/buy/{product_id}"
    assert cny(expected) in text(browser.get(buy_page))
    key = re.search(r'name="idempotency_key"[^>]*value="([^"]+)"', text(browser.get(buy_page)))[1]
    placed = browser.submit(
        buy_page, {"quantity": "1", "email": "buyer@example.com", "idempotency_key": key}
    )
    assert placed.status_code == 302, text(placed)
    number = re.search(r"/o/(\d+)/pay", placed.location)[1]
    row = order_row(app, shop, number)
    assert row["unit_price"] == row["total"] == expected
    assert row["quote"]["unit_price"] == row["quote"]["total"] == expected
    assert sum(line["amount"] for line in row["quote"]["lines"]) == expected
    assert (row["sub_shop_id"] is not None) is in_sub_shop

    token = _lookup_token(app, shop, row["id"])
    answer = browser.get(f"/api/v1/orders/{number}?token={token}").get_json()
    assert answer["unit_price"] == answer["total"] == expected
    assert sum(line["amount"] for line in answer["lines"]) == expected

    # paid: the ledger's sale is the same amount
    pay_page = f"/o/{number}/pay"
    assert cny(expected) in text(browser.get(pay_page))
    paid = browser.submit(pay_page, {"provider": "sandbox"})
    assert paid.status_code == 302, text(paid)
    assert sales_posted(app, shop, row["id"]) == expected


def test_an_agent_sees_the_list_price_struck_through_beside_its_own(app, browser_for, priced_shop):
    shop, product_id, accounts = priced_shop
    browser = english(browser_for(shop.host), shop)
    sign_in(browser, accounts["agent"].email)

    for theme in THEMES:
        use_theme(app, shop, theme)
        page = text(browser.get(f"/p/{product_id}"))
        assert "<s>¥100.00</s>" in page and "Retail" in page, theme
        assert "<s>¥100.00</s>" in text(browser.get("/")), theme


def test_a_guest_sees_the_sale_price_and_a_price_without_rules_stands_alone(app, browser_for, shop):
    plain = add_product(app, shop, name="Plain card", price=3_000, stock=codes("P", 2))
    browser = english(browser_for(shop.host), shop)

    page = text(browser.get(f"/p/{plain}"))

    assert "¥30.00" in page and "retail-price" not in page
    answer = browser.get(f"/api/v1/products/{plain}").get_json()
    assert answer["price"] == answer["retail_price"] == 3_000


def test_an_agents_own_api_principal_sees_its_tier_price(app, browser_for, priced_shop):
    """An agent's own API key acts as its shop account; so does its
    session, which is how this test signs it in."""
    shop, product_id, accounts = priced_shop
    browser = browser_for(shop.host)
    sign_in(browser, accounts["agent"].email)

    answer = browser.get(f"/api/v1/products/{product_id}").get_json()

    assert answer["price"] == 7_200 and answer["retail_price"] == LIST_PRICE
    assert "cost" not in answer


def test_operator_keys_see_the_list_price(app, browser_for, priced_shop):
    shop, product_id, _ = priced_shop
    api = browser_for(shop.host)

    one = api.get(f"/api/v1/products/{product_id}", headers=shop.headers()).get_json()
    listed = api.get("/api/v1/products", headers=shop.headers()).get_json()["items"]

    assert one["price"] == one["retail_price"] == LIST_PRICE and one["cost"] == COST
    assert listed[0]["price"] == LIST_PRICE


def test_a_signed_in_buyers_pages_are_kept_private(app, browser_for, priced_shop):
    shop, product_id, accounts = priced_shop
    browser = browser_for(shop.host)
    sign_in(browser, accounts["agent"].email)

    for path in (f"/p/{product_id}", "/", f"/api/v1/products/{product_id}", "/api/v1/products"):
        assert browser.get(path).headers["Cache-Control"] == "private", path
    guest = browser_for(shop.host)
    assert "Cache-Control" not in guest.get(f"/p/{product_id}").headers


# --- the page cache ------------------------------------------------------------------------


def _warm(browser, path: str):
    """Visit until the answer comes from the page cache (at most three visits)."""
    answers = [browser.get(path)]
    while answers[-1].headers.get("X-Cache") != "hit":
        assert len(answers) < 3, [a.headers.get("X-Cache") for a in answers]
        answers.append(browser.get(path))
    return answers[-1]


def test_an_agent_and_a_guest_on_one_cached_page_each_see_their_own_price(
    app, browser_for, priced_shop
):
    shop, product_id, accounts = priced_shop
    guest = english(browser_for(shop.host), shop)
    agent = english(browser_for(shop.host), shop)
    sign_in(agent, accounts["agent"].email)

    for path in (f"/p/{product_id}", "/"):
        kept = _warm(guest, path)
        assert cny(9_000) in text(kept) and "<s>" in text(kept)  # the sale, for everyone
        mine = agent.get(path)
        assert "X-Cache" not in mine.headers  # never from, nor into, the cache
        assert cny(7_200) in text(mine) and cny(9_000) not in text(mine)
        again = guest.get(path)
        assert again.headers["X-Cache"] == "hit" and cny(7_200) not in text(again)

    kept = _warm(guest, f"/api/v1/products/{product_id}")
    assert kept.get_json()["price"] == 9_000
    assert agent.get(f"/api/v1/products/{product_id}").get_json()["price"] == 7_200
    assert guest.get(f"/api/v1/products/{product_id}").get_json()["price"] == 9_000


def test_a_new_price_rule_shows_to_guests_on_the_next_visit(app, browser_for, priced_shop):
    shop, product_id, _ = priced_shop
    guest = english(browser_for(shop.host), shop)
    _warm(guest, f"/p/{product_id}")
    _warm(guest, f"/api/v1/products/{product_id}")

    add_rule(app, shop, product_id=product_id, price=6_000)  # for everyone

    page = guest.get(f"/p/{product_id}")
    assert page.headers["X-Cache"] == "miss" and cny(5_400) in text(page)  # ¥60 less the sale
    assert guest.get(f"/api/v1/products/{product_id}").get_json()["price"] == 5_400


def test_a_sub_shops_prices_in_the_api_are_never_cached(app, browser_for, priced_shop):
    shop, product_id, _ = priced_shop
    guest = browser_for(shop.host)
    _warm(guest, f"/api/v1/products/{product_id}")

    for _ in range(3):
        answer = guest.get(f"/api/v1/products/{product_id}?sub_shop=wang")
        assert "X-Cache" not in answer.headers and answer.get_json()["price"] == 8_640
        listed = guest.get("/api/v1/products?sub_shop=wang")
        assert "X-Cache" not in listed.headers
        assert listed.get_json()["items"][0]["price"] == 8_640


# --- one batch per list ----------------------------------------------------------------------


def _statements_per_answer(app, browser, paths) -> dict[str, int]:
    from sqlalchemy import event

    from app.extensions import db

    with app.app_context():
        engine = db.engine
    found = {}
    for path in paths:
        browser.get(path)  # warm the host cache
        seen: list[str] = []

        def count(conn, cursor, statement, *args, seen=seen):
            seen.append(statement)

        event.listen(engine, "before_cursor_execute", count)
        try:
            assert browser.get(path).status_code == 200, path
        finally:
            event.remove(engine, "before_cursor_execute", count)
        found[path] = len(seen)
    return found


def test_an_agents_lists_are_priced_in_one_batch_however_many_products(
    app, browser_for, priced_shop, monkeypatch
):
    from app.catalog import categories, services

    shop, _, accounts = priced_shop
    monkeypatch.setitem(app.config, "PAGE_CACHE_SECONDS", 0)
    cards = run_in_shop(app, shop, lambda: categories.create_category({"name": "月卡"}).id)
    add_rule(app, shop, category_id=cards, percent_off=5)  # a category rule reads the tree

    def add(start: int, count: int) -> None:
        def make() -> None:
            for n in range(start, start + count):
                services.create_product(
                    {"name": f"VIP 月卡 {n:03d}", "price": 1_000 + n, "kind": "manual",
                     "status": "on_sale", "category_id": str(cards)}
                )  # fmt: skip

        run_in_shop(app, shop, make)

    agent = english(browser_for(shop.host), shop)
    sign_in(agent, accounts["agent"].email)
    paths = ("/", f"/c/{cards}", "/search?q=VIP", "/api/v1/products?per_page=100")
    add(0, 3)
    few = _statements_per_answer(app, agent, paths)
    add(3, 40)
    many = _statements_per_answer(app, agent, paths)

    assert many == few
    listed = agent.get("/api/v1/products?per_page=100").get_json()["items"]
    prices = {item["name"]: item["price"] for item in listed if item["name"].startswith("VIP")}
    assert len(prices) == 43
    assert prices["VIP 月卡 000"] == 855  # ¥10.00 less 5 % (its category), less 10 % (the sale)
