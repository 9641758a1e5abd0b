"""Sub-shops (分站): an agent's storefront at ``/s/<code>`` on the shop's
host, in the shop's theme, under the sub-shop's title and notice, at the
sub-shop's prices; buying there makes the shop's order with the sub-shop on
it. A sub-shop that is not open — unknown, another shop's, its owner
switched off or no longer an agent — is the shop's 404 page."""

from __future__ import annotations

import re

import pytest

from tests.factories import add_product, codes, run_in_shop
from tests.pricing.support import (
    add_agent,
    add_rule,
    add_sub_shop,
    add_tier,
    order_row,
    set_account,
    shown_price,
    sign_in,
)
from tests.storefront.support import STEAM, build_catalogue, english, text, use_theme

THEMES = ("default", "classic", "grid")


@pytest.fixture
def sub_shop(app, shop):
    """The shop's catalogue (Steam ¥12.50 costs ¥9.99), a gold tier paying
    ¥11.00 for it, and the gold agent's sub-shop ``wang`` adding 20 %
    (Steam there: ¥13.20)."""
    catalogue = build_catalogue(app, shop)
    gold = add_tier(app, shop)
    add_rule(app, shop, product_id=catalogue.steam, tier_id=gold, price=1_100)
    owner = add_agent(app, shop, "wang@example.com", gold)
    add_sub_shop(app, shop, owner.id, "wang", "小王的分站", "周末九折", markups={"*": 20})
    return catalogue, owner


@pytest.fixture
def guest(shop, browser_for):
    return english(browser_for(shop.host), shop)


def _links(html: str) -> list[str]:
    return re.findall(r'(?:href|action)="([^"]+)"', html)


@pytest.mark.parametrize("theme", THEMES)
def test_a_sub_shop_wears_its_title_and_notice_and_its_links_stay_inside(
    app, shop, sub_shop, guest, theme
):
    catalogue, _ = sub_shop
    use_theme(app, shop, theme)

    home = guest.get("/s/wang")

    assert home.status_code == 200
    page = text(home)
    assert "小王的分站" in page and "周末九折" in page and shop.name not in page
    assert "¥13.20" in page and "¥12.50" not in page  # its price, nothing to compare
    links = _links(home.get_data(as_text=True))
    assert f"/s/wang/p/{catalogue.steam}" in links
    assert f"/s/wang/c/{catalogue.games}" in links
    assert "/s/wang" in links  # the brand leads home to the sub-shop
    storefront = [link for link in links if re.match(r"^/(p|c|buy|search)\b", link)]
    assert storefront == [], storefront
    if theme != "default":  # the rows and tiles have a buy button
        assert f"/s/wang/buy/{catalogue.steam}" in links


@pytest.mark.parametrize("theme", THEMES)
def test_a_sub_shops_product_category_and_search_pages_show_its_prices(
    app, shop, sub_shop, guest, theme
):
    catalogue, _ = sub_shop
    use_theme(app, shop, theme)

    product = guest.get(f"/s/wang/p/{catalogue.steam}")
    assert product.status_code == 200
    html = product.get_data(as_text=True)
    assert shown_price(html) == "¥13.20" and "小王的分站" in html
    assert f'action="/s/wang/buy/{catalogue.steam}"' in html
    assert "¥13.20" in text(guest.get(f"/s/wang/c/{catalogue.games}"))
    found = guest.get("/s/wang/search?q=steam")
    assert "¥13.20" in text(found) and 'action="/s/wang/search"' in text(found)


def test_markups_per_category_and_for_the_rest(app, shop, sub_shop, guest):
    catalogue, owner = sub_shop
    from app.agents.models import SubShop
    from app.extensions import db

    def per_category() -> None:
        row = db.session.query(SubShop).one()
        row.markups = {"*": 20, str(catalogue.phone): 5}
        db.session.commit()

    run_in_shop(app, shop, per_category)
    page = text(guest.get("/s/wang"))

    assert "¥13.20" in page  # Steam: ¥11.00 + 20 %
    assert "¥10.50" in page  # the QQ top-up (phone category): ¥10.00 + 5 %


def test_buying_in_a_sub_shop_makes_the_shops_order_at_its_price(app, shop, sub_shop, guest):
    catalogue, _ = sub_shop
    page = f"/s/wang/buy/{catalogue.steam}"
    buy_page = guest.get(page)
    assert buy_page.status_code == 200 and "¥13.20" in text(buy_page)
    assert "小王的分站" in text(buy_page)

    placed = guest.submit(page, {"quantity": "2", "email": "li@example.com"})

    assert placed.status_code == 302, text(placed)
    number = re.search(r"/o/(\d+)/pay", placed.location)[1]
    row = order_row(app, shop, number)
    assert row["total"] == 2_640 and row["unit_price"] == 1_320
    assert row["sub_shop_id"] is not None
    pay = text(guest.get(f"/o/{number}/pay"))
    assert "小王的分站" in pay and "¥26.40" in pay
    # its buyer sees the sub-shop's price, not how the agent made it
    assert "Agent price" not in pay and "Sub-shop markup" not in pay
    done = guest.submit(f"/o/{number}/pay", {"provider": "sandbox"})
    assert done.status_code == 302
    order_page = text(guest.get(f"/o/{number}"))
    assert "小王的分站" in order_page and 'href="/s/wang"' in order_page


def test_the_buyer_and_the_operator_see_a_sub_shop_orders_lines_differently(
    app, shop, sub_shop, browser_for
):
    catalogue, _ = sub_shop
    api = browser_for(shop.host)
    body = {
        "product_id": str(catalogue.steam),
        "quantity": 1,
        "email": "li@example.com",
        "sub_shop": "wang",
    }

    placed = api.post("/api/v1/orders", json=body, headers={"Idempotency-Key": "k" * 32})

    assert placed.status_code == 201, placed.get_json()
    order = placed.get_json()
    assert order["total"] == 1_320
    assert order["lines"] == [{"kind": "items", "label": f"{STEAM} × 1", "amount": 1_320}]
    operator = api.get(f"/api/v1/orders/{order['number']}", headers=shop.headers()).get_json()
    kinds = [line["kind"] for line in operator["lines"]]
    assert kinds == ["items", "tier_price", "sub_shop_markup"]
    assert [line["amount"] for line in operator["lines"]] == [1_250, -150, 220]
    assert sum(line["amount"] for line in operator["lines"]) == 1_320


def test_the_sub_shops_owner_buys_at_its_own_price_there(app, shop, sub_shop, browser_for):
    catalogue, owner = sub_shop
    browser = english(browser_for(shop.host), shop)
    sign_in(browser, owner.email)

    page = browser.get(f"/s/wang/p/{catalogue.steam}").get_data(as_text=True)

    assert shown_price(page) == "¥11.00"  # no markup on its own purchase


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"is_active": False}, id="owner-switched-off"),
        pytest.param({"role": "customer"}, id="owner-no-longer-an-agent"),
    ],
)
def test_a_sub_shop_whose_owner_cannot_sell_is_not_found(app, shop, sub_shop, guest, change):
    catalogue, owner = sub_shop
    assert guest.get("/s/wang").status_code == 200

    set_account(app, shop, owner.id, **change)

    for path in ("/s/wang", f"/s/wang/p/{catalogue.steam}", f"/s/wang/buy/{catalogue.steam}"):
        missing = guest.get(path)
        assert missing.status_code == 404, path
        assert "Page not found" in text(missing) and shop.name in text(missing)
    assert guest.get("/api/v1/products?sub_shop=wang").status_code == 404


def test_an_unknown_code_is_the_shops_404_page(app, shop, sub_shop, guest):
    for path in ("/s/nobody", "/s/" + "x" * 30, "/s/nobody/p/" + str(sub_shop[0].steam)):
        missing = guest.get(path)
        assert missing.status_code == 404
        assert "Page not found" in text(missing)


def test_a_product_not_on_sale_is_not_found_in_the_sub_shop(app, shop, sub_shop, guest):
    draft = add_product(app, shop, name="Draft", status="draft")

    missing = guest.get(f"/s/wang/p/{draft}")

    assert missing.status_code == 404 and "小王的分站" in text(missing)


def test_another_shops_sub_shop_code_is_not_found_here(app, shops, browser_for):
    alpha, bravo = shops["alpha"], shops["bravo"]
    owner = add_agent(app, alpha, "wang@example.com")
    add_sub_shop(app, alpha, owner.id, "wang")
    product = add_product(app, bravo, stock=codes("B", 1))
    at_bravo = browser_for(bravo.host)

    assert browser_for(alpha.host).get("/s/wang").status_code == 200
    assert at_bravo.get("/s/wang").status_code == 404
    assert at_bravo.get(f"/s/wang/p/{product}").status_code == 404
    assert at_bravo.get(f"/api/v1/products/{product}?sub_shop=wang").status_code == 404
    placed = at_bravo.post(
        "/api/v1/orders",
        json={"product_id": str(product), "quantity": 1, "email": "a@example.com",
              "sub_shop": "wang"},
        headers={"Idempotency-Key": "b" * 32},
    )  # fmt: skip
    assert placed.status_code == 404


def test_sub_shop_pages_are_never_cached_and_the_platform_has_none(
    app, shop, sub_shop, guest, platform
):
    for _ in range(3):
        assert "X-Cache" not in guest.get("/s/wang").headers

    assert platform.get("/s/wang").status_code == 404
