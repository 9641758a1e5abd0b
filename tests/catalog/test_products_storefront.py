"""The shop's pages: what is on sale, by category, with price and stock, and
a page per product."""

from __future__ import annotations

import re

from tests.catalog.support import (
    PNG_1X1,
    cards,
    category,
    product,
)


def text(response) -> str:
    assert response.status_code == 200, response.status_code
    return re.sub(r"\s+", " ", response.get_data(as_text=True))


def build_catalog():
    games = category("游戏点卡", sort=1)
    steam = category("Steam", parent_id=games)
    phone = category("话费充值", sort=2)
    category("Empty category", sort=3)
    wallet = product("Steam Wallet ¥100", price=1250, cost=999, category_id=str(steam))
    cards(wallet, 3)
    product("王者荣耀 60点券", price=600, category_id=str(games))  # no cards: sold out
    product("China Mobile ¥50", price=4_990, kind="topup", category_id=str(phone))
    product("Secret draft", price=1, status="draft", category_id=str(games))
    product("Loose item", price=100, kind="manual")
    return {"wallet": wallet}


def test_home_lists_products_on_sale_by_category_with_price_and_stock(shop, browser_for, in_shop):
    in_shop(shop, build_catalog)

    page = text(browser_for(shop.host).get("/?lang=en"))

    order = [
        page.index(name)
        for name in (
            "游戏点卡",
            "王者荣耀 60点券",
            "Steam",
            "Steam Wallet ¥100",
            "话费充值",
            "China Mobile ¥50",
            "Other products",
            "Loose item",
        )
    ]
    assert order == sorted(order)
    assert "¥12.50" in page and "¥6.00" in page and "¥49.90" in page
    assert "In stock: 3" in page
    assert page.count("Sold out") == 1
    assert "Secret draft" not in page and "Empty category" not in page
    assert "9.99" not in page  # the cost
    assert "This shop has no products on sale yet." not in page


def test_home_speaks_chinese_by_default(shop, browser_for, in_shop):
    in_shop(shop, build_catalog)

    page = text(browser_for(shop.host).get("/"))

    assert "已售罄" in page and "库存：3" in page


def test_a_shop_with_nothing_on_sale_says_so(shop, browser_for, in_shop):
    in_shop(shop, lambda: product("Draft only", status="draft"))

    page = text(browser_for(shop.host).get("/?lang=en"))

    assert "This shop has no products on sale yet." in page
    assert "Draft only" not in page


def test_product_page_shows_price_stock_description_and_images(shop, api, browser_for, in_shop):
    ids = in_shop(shop, build_catalog)
    api.patch(f"/api/v1/products/{ids['wallet']}", json={"description": "Redeem <b>now</b>"})
    image = api.upload(ids["wallet"], PNG_1X1).get_json()

    page = text(browser_for(shop.host).get(f"/p/{ids['wallet']}?lang=en"))

    assert "Steam Wallet ¥100" in page and "¥12.50" in page and "In stock: 3" in page
    assert "Redeem &lt;b&gt;now&lt;/b&gt;" in page
    assert f"/media/{image['id']}" in page
    assert "9.99" not in page


def test_a_draft_or_unknown_product_page_is_not_found(shop, browser_for, in_shop):
    draft = in_shop(shop, product, "Draft", status="draft")
    browser = browser_for(shop.host)

    assert browser.get(f"/p/{draft}").status_code == 404
    assert browser.get("/p/not-an-id").status_code == 404
    assert browser.get("/media/not-an-id").status_code == 404


def test_a_top_up_page_lists_what_the_buyer_will_be_asked(shop, browser_for, in_shop):
    fields = [
        {"name": "qq", "label": "QQ number"},
        {"name": "note", "label": "Note", "required": False},
    ]
    topup = in_shop(shop, product, "QQ coins", kind="topup", input_fields=fields)

    page = text(browser_for(shop.host).get(f"/p/{topup}?lang=en"))

    assert "QQ number" in page and "Note (optional)" in page
    assert "In stock" not in page and "Sold out" not in page
