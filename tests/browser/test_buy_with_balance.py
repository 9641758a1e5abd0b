"""A signed-in buyer pays from their balance on the buy form in a real
Chromium: one click places, pays and delivers the order, and the code is on
the order page that follows; a balance too small is said on the form, which
keeps what was typed. Nothing is refused by the Content-Security-Policy."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.support import watch_refusals
from tests.factories import PASSWORD, add_account, add_product, codes
from tests.orders.support import fund_wallet

pytestmark = pytest.mark.browser


def _signed_in(page, live_server, slug: str, email: str) -> None:
    page.goto(live_server.url("/account/login", slug=slug))
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("link", name="My account")).to_be_visible()


def test_a_buyer_pays_from_the_balance_in_one_click(page, live_server, app, make_shop):
    shop = make_shop("balance-cards", "Balance Cards")
    stock = codes("GIFT", 3)
    product_id = add_product(app, shop, price=5_000, stock=stock)
    buyer = add_account(app, shop, "wen@example.com")
    fund_wallet(app, shop, buyer.id, 7_500)
    refused = watch_refusals(page)
    _signed_in(page, live_server, "balance-cards", buyer.email)

    page.goto(live_server.url(f"/buy/{product_id}", slug="balance-cards"))
    expect(page.get_by_text("Your balance: ¥75.00")).to_be_visible()
    page.get_by_role("button", name="Pay from my balance").click()

    expect(page).to_have_url(re.compile(r"/o/\d+$"))
    expect(page.locator("code.code")).to_have_text(re.compile(r"^GIFT-"))
    assert page.locator("code.code").inner_text() in stock

    # ¥25.00 left: a second one is refused on the form, which keeps the quantity.
    page.goto(live_server.url(f"/buy/{product_id}", slug="balance-cards"))
    page.get_by_label("Quantity").fill("1")
    page.get_by_role("button", name="Pay from my balance").click()
    expect(page.get_by_role("alert")).to_contain_text("Your balance is too low for this order.")
    expect(page.get_by_label("Quantity")).to_have_value("1")
    expect(page.get_by_label("Email for delivery")).to_have_value(buyer.email)
    assert refused == []
