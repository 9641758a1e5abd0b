"""The console's customers, staff, audit log and orders in a real Chromium,
on a phone's screen: the confirmation steps work without script, nothing
is refused by the Content-Security-Policy, and no page scrolls sideways
(wide tables scroll inside their frame)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD
from tests.console.support import credit, make_order
from tests.factories import add_account, add_member, add_product

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def phone(chromium, live_server):
    context = chromium.new_context(locale="en-US", viewport=PHONE)
    context.set_default_timeout(15_000)
    tab = context.new_page()
    refused: list[str] = []
    tab.on(
        "console",
        lambda m: (
            refused.append(m.text)
            if "Content Security Policy" in m.text or "Refused to" in m.text
            else None
        ),
    )
    tab.refused = refused
    yield tab
    context.close()


def fits_the_screen(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_an_owner_runs_customers_staff_orders_and_the_log_from_a_phone(
    phone, live_server, app, make_shop
):
    shop = make_shop("people-cards", "People Cards")
    buyer = add_account(app, shop, "alice@example.com")
    credit(app, shop, buyer.id, 2_000)
    add_member(app, shop, "staff@example.com", "staff")
    product = add_product(app, shop, name="Netflix 月卡", kind="manual", price=3_000)
    number = make_order(app, shop, product, "alice@example.com")
    url = lambda path: live_server.url(path, slug="people-cards")  # noqa: E731

    phone.goto(url("/console/login?lang=en"))
    phone.get_by_label("Email").fill(shop.owner_email)
    phone.get_by_label("Password").fill(PASSWORD)
    phone.get_by_role("button", name="Sign in").click()
    expect(phone.get_by_role("link", name="Customers")).to_be_visible()

    # A balance adjustment: reviewed, then confirmed.
    phone.goto(url("/console/customers"))
    assert fits_the_screen(phone)
    phone.get_by_role("link", name="alice@example.com").click()
    phone.get_by_label("Amount").fill("12.50")
    phone.get_by_label("Reason").fill("Late delivery")
    phone.get_by_role("button", name="Review the change").click()
    expect(phone.get_by_text("The balance goes from ¥20.00 to ¥32.50.")).to_be_visible()
    phone.get_by_role("button", name="Yes, change the balance").click()
    expect(phone.get_by_text("Balance changed by ¥12.50. It is now ¥32.50.")).to_be_visible()
    assert fits_the_screen(phone)

    # Removing a staff member asks first, without script.
    phone.goto(url("/console/staff"))
    assert fits_the_screen(phone)
    phone.get_by_role("button", name="Remove").click()
    expect(phone.get_by_text("Remove staff@example.com from the staff?")).to_be_visible()
    phone.get_by_role("button", name="Yes, remove").click()
    expect(phone.get_by_text("staff@example.com is no longer staff")).to_be_visible()

    # The orders list finds a number pasted in groups.
    phone.goto(url("/console/orders"))
    phone.get_by_label("Order number or buyer email").fill(f" {number[:6]} {number[6:]} ")
    phone.get_by_role("button", name="Filter").click()
    expect(phone.get_by_role("link", name=number)).to_be_visible()
    assert fits_the_screen(phone)
    phone.get_by_role("link", name=number).click()
    expect(phone.get_by_role("heading", name=f"Order {number}")).to_be_visible()
    assert fits_the_screen(phone)  # a 20-digit number wraps rather than widening the page

    # The log says what happened, in words.
    phone.goto(url("/console/audit"))
    expect(phone.get_by_role("cell", name="Adjusted a customer's balance")).to_be_visible()
    expect(phone.get_by_role("cell", name="Removed a staff member")).to_be_visible()
    assert fits_the_screen(phone)

    assert phone.refused == []
