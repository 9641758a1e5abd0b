"""The console dashboard in a real Chromium: the 30-day chart is drawn by
the vendored ECharts under the Content-Security-Policy with nothing
refused, its tooltip works, and the page fits a phone."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD
from tests.factories import add_product, codes
from tests.orders.support import pay, placed

pytestmark = pytest.mark.browser


def _refusals(page) -> list[str]:
    refused: list[str] = []
    page.on(
        "console",
        lambda message: (
            refused.append(message.text)
            if message.type == "error" or "Content Security Policy" in message.text
            else None
        ),
    )
    page.on("pageerror", lambda error: refused.append(str(error)))
    return refused


def _sign_in(page, live_server, slug: str, email: str) -> None:
    page.goto(live_server.url("/console/login?lang=en", slug=slug))
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_the_chart_is_drawn_with_nothing_refused(
    page, live_server, app, make_shop, browser_for, tmp_path
):
    shop = make_shop("chart-cards", "Chart Cards")
    product_id = add_product(app, shop, name="Chart card", price=1250, stock=codes("CH", 3))
    guest = browser_for(shop.host)
    order = placed(guest, product_id, 2)
    assert pay(guest, order).status_code == 200
    refused = _refusals(page)

    _sign_in(page, live_server, "chart-cards", shop.owner_email)

    expect(page.get_by_role("heading", name="Chart Cards")).to_be_visible()
    chart = page.locator("#sales-chart")
    expect(chart).to_be_visible()
    expect(chart.locator("canvas")).to_have_count(1)
    box = chart.bounding_box()
    assert box and box["width"] > 300 and box["height"] > 200
    # Hovering today's bar shows its figures (drawn in the canvas: nothing in the DOM to read,
    # but the hover must not throw or be refused).
    page.mouse.move(box["x"] + box["width"] - 20, box["y"] + box["height"] / 2)
    page.wait_for_timeout(200)
    page.get_by_text("Show the days as a table").click()
    expect(page.locator("table.days tbody tr").first).to_contain_text("¥25.00")
    page.screenshot(path=tmp_path / "dashboard.png", full_page=True)

    assert refused == []


def test_the_dashboard_fits_a_phone(chromium, live_server, app, make_shop, tmp_path):
    shop = make_shop("phone-cards", "Phone Cards")
    add_product(app, shop, name="Phone card", stock=codes("PH", 1), threshold=3)
    context = chromium.new_context(locale="en-US", viewport={"width": 375, "height": 740})
    page = context.new_page()
    try:
        refused = _refusals(page)
        _sign_in(page, live_server, "phone-cards", shop.owner_email)
        expect(page.locator("#sales-chart canvas")).to_have_count(1)
        page.screenshot(path=tmp_path / "dashboard-phone.png", full_page=True)
        # Nothing wider than the screen: the page never scrolls sideways.
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        assert refused == []
    finally:
        context.close()
