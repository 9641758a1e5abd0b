"""The storefront in a real Chromium, in every theme: a guest finds a card
product, buys it with a sandbox payment and sees the code the worker
delivers, with nothing refused by the Content-Security-Policy. At phone
width (390×844) a buyer signs up, finds that an empty balance cannot pay,
recharges from the pay page, comes back, pays from the balance and sees
the code, without the page ever scrolling sideways."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.factories import add_product, codes
from tests.orders.conftest import _empty_queues, mail_server  # noqa: F401
from tests.storefront.support import set_look, use_theme

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def worker(mail_server, worker):  # noqa: F811 - the shared worker, mailing to the SMTP server
    return worker


def _refusals(page) -> list[str]:
    refused: list[str] = []
    page.on(
        "console",
        lambda message: (
            refused.append(message.text)
            if "Content Security Policy" in message.text or "Refused to" in message.text
            else None
        ),
    )
    return refused


def _no_sideways_scroll(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], (page.url, width)


@pytest.mark.parametrize("theme", ["default", "classic", "grid"])
def test_a_guest_buys_a_card_and_sees_the_code_in_each_theme(
    page, live_server, app, make_shop, worker, theme, tmp_path
):
    slug = f"buy-{theme}"
    shop = make_shop(slug, f"Theme {theme}")
    stock = codes("GIFT", 3)
    add_product(app, shop, name="Apple Gift Card 100", price=9_900, stock=stock)
    use_theme(app, shop, theme)
    set_look(app, shop, announcement="Codes arrive in seconds")
    refused = _refusals(page)

    page.goto(live_server.url("/", slug=slug))
    expect(page.get_by_role("link", name="Order lookup")).to_be_visible()
    if theme != "default":  # default's look comes with the shop settings page
        expect(page.get_by_role("note").filter(has_text="Codes arrive in seconds")).to_be_visible()
    page.get_by_role("link", name="Apple Gift Card 100").first.click()

    expect(page.get_by_role("heading", name="Apple Gift Card 100")).to_be_visible()
    page.get_by_label("Quantity").fill("2")
    page.get_by_role("button", name="Buy now").click()

    expect(page.get_by_label("Quantity")).to_have_value("2")
    page.get_by_label("Email for delivery").fill("zhao@example.com")
    page.get_by_role("button", name="Continue to payment").click()

    expect(page.get_by_role("heading", name="Pay for your order")).to_be_visible()
    expect(page.locator(".order-summary")).to_contain_text("¥198.00")
    page.get_by_role("button", name="Pay (sandbox)").click()

    expect(page).to_have_url(re.compile(r"/o/\d+$"))
    delivered = page.locator("code.code")
    expect(delivered).to_have_count(2)  # the page refreshes until the worker delivered
    assert set(delivered.all_inner_texts()) <= set(stock)
    page.screenshot(path=tmp_path / f"{theme}-delivered.png", full_page=True)
    assert refused == []


def test_at_phone_width_a_buyer_recharges_from_the_pay_page_and_pays_from_the_balance(
    chromium, live_server, app, make_shop, tmp_path
):
    slug = "phone-grid"
    shop = make_shop(slug, "Phone Grid")
    stock = codes("PSN", 2)
    add_product(app, shop, name="PlayStation 50", price=5_000, stock=stock)
    use_theme(app, shop, "grid")
    context = chromium.new_context(
        locale="en-US", viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2
    )
    page = context.new_page()
    refused = _refusals(page)

    page.goto(live_server.url("/account/signup", slug=slug))
    page.get_by_label("Email").fill("chen@example.com")
    page.get_by_label("Password", exact=True).fill("a long enough password")
    page.get_by_label("Repeat password").fill("a long enough password")
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("heading", name="My account")).to_be_visible()
    _no_sideways_scroll(page)

    page.get_by_role("link", name="Phone Grid").click()
    page.get_by_role("searchbox").fill("playstation")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("heading", name="Results for “playstation”")).to_be_visible()
    _no_sideways_scroll(page)
    page.get_by_role("link", name="Buy PlayStation 50").tap()

    page.get_by_role("button", name="Continue to payment").tap()
    expect(page.get_by_role("heading", name="Pay for your order")).to_be_visible()
    expect(page.get_by_role("button", name="Pay from my balance")).to_have_count(0)
    expect(page.get_by_text("Your balance: ¥0.00")).to_be_visible()
    expect(page.get_by_text("That is ¥50.00 short of this order.")).to_be_visible()
    _no_sideways_scroll(page)
    page.screenshot(path=tmp_path / "phone-pay-short.png", full_page=True)
    page.get_by_role("link", name="Recharge to pay from my balance").tap()

    expect(page.get_by_label("Amount")).to_have_value("50.00")
    page.get_by_label("Amount").fill("60")
    page.get_by_role("button", name="Pay (sandbox)").tap()

    expect(page.get_by_text("¥60.00 added. Your balance is ¥60.00.")).to_be_visible()
    expect(page.get_by_role("heading", name="Pay for your order")).to_be_visible()
    page.get_by_role("button", name="Pay from my balance").tap()

    expect(page).to_have_url(re.compile(r"/o/\d+$"))
    expect(page.locator("code.code")).to_have_text(re.compile(r"^PSN-"))  # paid in the request
    assert page.locator("code.code").inner_text() in stock
    _no_sideways_scroll(page)
    page.screenshot(path=tmp_path / "phone-delivered.png", full_page=True)

    page.get_by_role("link", name="My account").tap()
    page.get_by_role("link", name="Balance", exact=True).tap()
    expect(page.locator(".wallet-balance")).to_contain_text("¥10.00")
    expect(page.locator(".wallet-entries")).to_contain_text("Order payment")
    expect(page.locator(".wallet-entries")).to_contain_text("Recharge")
    _no_sideways_scroll(page)
    assert refused == []
    context.close()
