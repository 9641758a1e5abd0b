"""Agents' prices in a real Chromium: in every theme a signed-in agent sees
its tier price on the product page with the list price struck through,
types a coupon and buys at that price; at phone width the price and its
struck list price fit without sideways scrolling; and a guest buys in an
agent's sub-shop (分站) at the sub-shop's price under the sub-shop's
title. Nothing is refused by the Content-Security-Policy."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.support import watch_refusals
from tests.factories import PASSWORD, add_product, codes
from tests.pricing.support import add_agent, add_coupon, add_rule, add_sub_shop, add_tier
from tests.storefront.support import use_theme

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


def _agent_shop(app, make_shop, slug: str):
    """A shop selling a ¥99.00 gift card, whose gold agents pay ¥80.00, with
    a gold agent and a ¥5.00 coupon."""
    shop = make_shop(slug, f"Agents {slug}")
    product = add_product(app, shop, name="Apple Gift Card 100", price=9_900, stock=codes("A", 3))
    gold = add_tier(app, shop, "金牌代理")
    add_rule(app, shop, product_id=product, tier_id=gold, price=8_000)
    agent = add_agent(app, shop, "gold@example.com", gold)
    add_coupon(app, shop, "AGENT5", amount=500)
    return shop, product, agent


def _sign_in(page, url: str, email: str) -> None:
    page.goto(url)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("link", name="My account")).to_be_visible()


@pytest.mark.parametrize("theme", ["default", "classic", "grid"])
def test_an_agent_sees_its_tier_price_and_buys_at_it_in_each_theme(
    page, live_server, app, make_shop, theme, tmp_path
):
    slug = f"agents-{theme}"
    shop, product, agent = _agent_shop(app, make_shop, slug)
    use_theme(app, shop, theme)
    refused = watch_refusals(page)
    _sign_in(page, live_server.url("/account/login", slug=slug), agent.email)

    page.goto(live_server.url(f"/p/{product}", slug=slug))
    price = page.locator(".price, .big-price").first
    expect(price).to_contain_text("¥80.00")
    expect(price.locator(".retail-price s")).to_have_text("¥99.00")
    page.screenshot(path=tmp_path / f"{theme}-agent-product.png", full_page=True)
    page.get_by_role("button", name="Buy now").click()

    expect(page.locator(".price").first).to_contain_text("¥80.00")
    page.get_by_label("Quantity").fill("2")
    page.get_by_label("Coupon code (optional)").fill("agent5")
    page.get_by_role("button", name="Continue to payment").click()

    expect(page.get_by_role("heading", name="Pay for your order")).to_be_visible()
    summary = page.locator(".order-summary")
    expect(summary).to_contain_text("Agent price")
    expect(summary).to_contain_text("Coupon AGENT5")
    expect(summary).to_contain_text("¥155.00")  # 2 × ¥80.00 less ¥5.00
    page.get_by_role("button", name="Pay (sandbox)").click()

    expect(page).to_have_url(re.compile(r"/o/\d+$"))
    expect(page.locator(".order-summary")).to_contain_text("¥155.00")
    assert refused == []


def test_a_refused_coupon_is_explained_in_the_browser_and_the_form_kept(
    page, live_server, app, make_shop
):
    shop, product, agent = _agent_shop(app, make_shop, "agents-refusal")
    _sign_in(page, live_server.url("/account/login", slug="agents-refusal"), agent.email)

    page.goto(live_server.url(f"/buy/{product}", slug="agents-refusal"))
    page.get_by_label("Quantity").fill("3")
    page.get_by_label("Coupon code (optional)").fill("NOSUCH")
    page.get_by_role("button", name="Continue to payment").click()

    expect(page.get_by_text("There is no such coupon in this shop.")).to_be_visible()
    expect(page.get_by_label("Quantity")).to_have_value("3")
    expect(page.get_by_label("Coupon code (optional)")).to_have_value("NOSUCH")
    expect(page.get_by_label("Email for delivery")).to_have_value(agent.email)


def test_at_phone_width_the_struck_list_price_fits(chromium, live_server, app, make_shop):
    shop, product, agent = _agent_shop(app, make_shop, "agents-phone")
    use_theme(app, shop, "classic")
    context = chromium.new_context(
        locale="en-US", viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2
    )
    page = context.new_page()
    _sign_in(page, live_server.url("/account/login", slug="agents-phone"), agent.email)

    for path in ("/", f"/p/{product}"):
        page.goto(live_server.url(path, slug="agents-phone"))
        expect(page.locator(".retail-price").first).to_be_visible()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], (path, width)
    context.close()


def test_a_guest_buys_in_a_sub_shop_at_its_price(page, live_server, app, make_shop):
    shop, product, agent = _agent_shop(app, make_shop, "agents-sub")
    add_sub_shop(app, shop, agent.id, "gold", "金牌小站", "新人立减", markups={"*": 10})
    refused = watch_refusals(page)

    page.goto(live_server.url("/s/gold", slug="agents-sub"))
    expect(page.get_by_role("heading", name="金牌小站")).to_be_visible()
    expect(page.get_by_text("新人立减")).to_be_visible()
    page.get_by_role("link", name="Apple Gift Card 100").first.click()

    expect(page).to_have_url(re.compile(r"/s/gold/p/"))
    expect(page.locator(".price").first).to_contain_text("¥88.00")  # ¥80.00 + 10 %
    page.get_by_role("button", name="Buy now").click()

    expect(page).to_have_url(re.compile(r"/s/gold/buy/"))
    page.get_by_label("Email for delivery").fill("zhao@example.com")
    page.get_by_role("button", name="Continue to payment").click()

    expect(page.get_by_role("heading", name="Pay for your order")).to_be_visible()
    expect(page.locator(".order-summary")).to_contain_text("¥88.00")
    expect(page.locator(".order-summary")).not_to_contain_text("Agent price")
    expect(page.get_by_role("link", name="金牌小站")).to_be_visible()
    assert refused == []
