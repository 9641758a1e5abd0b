"""A guest buys a card code in a real Chromium: product page, buy form,
sandbox payment, and the code on the order page, delivered by the real
worker while the page waits for it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.factories import add_product, codes
from tests.orders.conftest import _empty_queues, mail_server  # noqa: F401

pytestmark = pytest.mark.browser


@pytest.fixture
def inbox(mail_server):  # noqa: F811 - the SMTP server of tests/orders
    return mail_server


@pytest.fixture
def worker(inbox, worker):
    """The shared worker, started after the SMTP server so it mails there."""
    return worker


def test_a_guest_buys_a_card_with_sandbox_and_sees_the_code(
    page, live_server, app, make_shop, worker, inbox, tmp_path
):
    shop = make_shop("star-cards", "Star Game Cards")
    stock = codes("STEAM", 3)
    product_id = add_product(app, shop, stock=stock)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])

    page.goto(live_server.url(f"/p/{product_id}", slug="star-cards"))
    page.get_by_role("button", name="Buy now").click()

    expect(page.get_by_role("heading", name="Steam 钱包充值卡 ¥100")).to_be_visible()
    page.get_by_label("Quantity").fill("1")
    page.get_by_label("Email for delivery").fill("li@example.com")
    page.get_by_role("button", name="Continue to payment").click()

    expect(page.get_by_role("heading", name="Pay for your order")).to_be_visible()
    expect(page.locator(".order-summary")).to_contain_text("¥100.00")
    page.get_by_role("button", name="Pay (sandbox)").click()

    expect(page).to_have_url(re.compile(r"/o/\d+$"))  # the token is in the session, not the address
    code = page.locator("code.code")
    expect(code).to_have_text(re.compile(r"^STEAM-"))  # the page refreshes until delivered
    expect(page.get_by_role("status").first).to_contain_text("Delivered")
    delivered = code.inner_text()
    assert delivered in stock
    copy = page.locator("button.copy")  # by class: its name changes to "Copied"
    expect(copy).to_have_text("Copy")
    copy.click()
    expect(copy).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == delivered
    page.screenshot(path=tmp_path / "order-delivered.png", full_page=True)

    mail = inbox.wait_for("li@example.com")
    assert delivered in mail.get_body(preferencelist=("plain",)).get_content()


def test_a_guest_finds_the_order_again_by_email_and_number(page, live_server, app, make_shop):
    shop = make_shop("moon-cards", "Moon Cards")
    product_id = add_product(app, shop, stock=codes("XBOX", 2))
    page.goto(live_server.url(f"/buy/{product_id}", slug="moon-cards"))
    page.get_by_label("Email for delivery").fill("mei@example.com")
    page.get_by_role("button", name="Continue to payment").click()
    number = re.search(r"/o/(\d+)/pay", page.url).group(1)

    other = page.context.browser.new_context(locale="en-US").new_page()
    other.goto(live_server.url("/lookup", slug="moon-cards"))
    other.get_by_label("Email").fill("mei@example.com")
    other.get_by_label("Order number").fill(number)
    other.get_by_role("button", name="Find order").click()

    expect(other.get_by_role("heading", name=f"Order {number}")).to_be_visible()
    expect(other.get_by_role("link", name="Pay now")).to_be_visible()
    other.context.close()
