"""The platform's billing page and a shop's statement in a real Chromium:
the commission chart is drawn by the vendored ECharts under the
Content-Security-Policy with nothing refused, and the console's statement
page loads with nothing refused and fits a phone."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect

from tests.billing.support import accrue, on_plan_past_offer
from tests.billing.test_platform_commission import _wallet_sale
from tests.conftest import PASSWORD
from tests.factories import open_shop

pytestmark = pytest.mark.browser


def _refusals(page) -> list[str]:
    refused: list[str] = []
    page.on(
        "console",
        lambda m: (
            refused.append(m.text)
            if m.type == "error" or "Content Security Policy" in m.text
            else None
        ),
    )
    page.on("pageerror", lambda error: refused.append(str(error)))
    return refused


def test_the_commission_chart_is_drawn_with_nothing_refused(page, live_server, app, tmp_path):
    from app.accounts import services

    shop = open_shop(app, "chart-billing")
    on_plan_past_offer(app, shop, "free", 300)
    _wallet_sale(app, shop, 5000)
    accrue(app, shop, now=datetime.now(UTC))
    with app.app_context():
        services.set_platform_admin("root@example.com", PASSWORD)
    refused = _refusals(page)

    page.goto(live_server.url("/login?lang=en"))
    page.get_by_label("Email").fill("root@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto(live_server.url("/admin/billing"))

    chart = page.locator("#commission-chart")
    expect(chart).to_be_visible()
    expect(chart.locator("canvas")).to_have_count(1)
    box = chart.bounding_box()
    assert box and box["width"] > 300 and box["height"] > 200
    page.mouse.move(box["x"] + box["width"] - 20, box["y"] + box["height"] / 2)
    page.wait_for_timeout(200)
    expect(page.locator("table.months tbody tr").first).to_contain_text("¥1.50")
    page.get_by_role("link", name=shop.name).click()
    expect(page.get_by_text("The statement matches the ledger.")).to_be_visible()
    page.screenshot(path=tmp_path / "billing.png", full_page=True)

    assert refused == []


def test_the_statement_page_fits_a_phone(chromium, live_server, app, tmp_path):
    shop = open_shop(app, "phone-statement")
    on_plan_past_offer(app, shop, "free", 300)
    _wallet_sale(app, shop, 1999)
    accrue(app, shop, now=datetime.now(UTC))
    context = chromium.new_context(locale="en-US", viewport={"width": 375, "height": 740})
    page = context.new_page()
    try:
        refused = _refusals(page)
        page.goto(live_server.url("/console/login?lang=en", slug="phone-statement"))
        page.get_by_label("Email").fill(shop.owner_email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.goto(live_server.url("/console/billing/statements", slug="phone-statement"))
        expect(page.get_by_text("Commission accrued")).to_be_visible()
        page.screenshot(path=tmp_path / "statement-phone.png", full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        # The fees' amounts are in view, not scrolled off in a frame.
        amount = page.locator("table.statement-fees td").first.bounding_box()
        assert amount and amount["x"] + amount["width"] <= 375
        assert refused == []
    finally:
        context.close()


def test_the_platform_billing_page_fits_a_phone(chromium, live_server, app):
    """The chart and the months' table stay inside a phone's width: the
    table scrolls in its own frame, the page does not scroll sideways."""
    from app.accounts import services

    shop = open_shop(app, "phone-billing")
    on_plan_past_offer(app, shop, "free", 300)
    _wallet_sale(app, shop, 2500)
    accrue(app, shop, now=datetime.now(UTC))
    with app.app_context():
        services.set_platform_admin("phone-root@example.com", PASSWORD)
    context = chromium.new_context(locale="en-US", viewport={"width": 375, "height": 740})
    page = context.new_page()
    try:
        page.goto(live_server.url("/login?lang=en"))
        page.get_by_label("Email").fill("phone-root@example.com")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.goto(live_server.url("/admin/billing"))
        expect(page.locator("#commission-chart canvas")).to_have_count(1)
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
    finally:
        context.close()
