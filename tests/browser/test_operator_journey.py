"""The whole journey in a real Chromium, driven by what a person reads on
the pages (labels, roles, link names): a newcomer opens a shop on the
platform's sign-up page and is handed over to the shop's console, creates
a category and a card product, imports a GBK file large enough to be a
background job and watches the progress bar reach the end, puts the
product on sale, then switches the shop's theme on the settings page; in
each of the three themes a guest (a fresh browser at a phone's width)
buys a code with the sandbox payment and sees it, and no page of the
purchase scrolls sideways. Nothing is refused by the
Content-Security-Policy on the way."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.support import PHONE, sideways_overflow, watch_refusals
from tests.browser.test_open_shop import fill_signup

pytestmark = pytest.mark.browser

SLUG = "journey-cards"
PRODUCT = "Steam 钱包卡 ¥100"
#: lines in the imported file: above CARD_IMPORT_SYNC_LIMIT (so a job) and
#: three of the import's batches
LINES = 25_000
#: the themes in the order the operator switches to them (a new shop shows
#: "default"); a guest buys in each
THEMES = ("classic", "grid", "default")


def test_an_operator_opens_stocks_and_dresses_a_shop_and_guests_buy_in_every_theme(
    page, chromium, live_server, app, worker_later
):
    assert LINES > app.config["CARD_IMPORT_SYNC_LIMIT"]
    refused = watch_refusals(page)
    console = page.get_by_role("navigation", name="Console")

    # -- a newcomer opens a shop and is handed over to its console ---------
    page.goto(live_server.url("/?lang=en"))
    page.get_by_role("link", name="Open a shop").first.click()
    fill_signup(page, shop_name="Journey Cards", slug=SLUG, email="zhou@example.com")
    expect(page.get_by_role("status")).to_contain_text("Your shop Journey Cards is open.")
    shop = page.get_by_role("listitem").filter(has_text="Journey Cards")
    shop.get_by_role("button", name="Open console").click()
    expect(page).to_have_url(live_server.url("/console/", slug=SLUG))
    expect(page.get_by_role("heading", name="Journey Cards")).to_be_visible()

    # -- a category and a card product, through the forms ----------------
    console.get_by_role("link", name="Categories").click()
    page.get_by_label("Name").fill("游戏点卡")
    page.get_by_role("button", name="Add category").click()
    expect(page.get_by_role("status").first).to_contain_text("Category 游戏点卡 added.")

    console.get_by_role("link", name="Products").click()
    page.get_by_role("link", name="New product").click()
    page.get_by_label("Name").fill(PRODUCT)
    page.get_by_label("Kind").select_option("card")
    page.get_by_label("Category").select_option(label="游戏点卡")
    page.get_by_label("Price").fill("12.50")
    page.get_by_role("button", name="Create product").click()
    expect(page.get_by_role("status").first).to_contain_text(f"Product {PRODUCT} created.")
    expect(page.get_by_label("Status")).to_have_value("draft")
    product_page = page.url

    # -- a GBK file, imported in the background, the bar followed to the end
    page.get_by_role("link", name=re.compile(r"^Card codes")).click()
    gbk = "\r\n".join(f"点卡{i:06d}----密码{i:06d}" for i in range(1, LINES + 1)).encode("gbk")
    page.get_by_label("Or choose a file, or drop it here").set_input_files(
        {"name": "点卡.txt", "mimeType": "text/plain", "buffer": gbk}
    )
    page.get_by_role("button", name="Import", exact=True).click()
    bar = page.locator("#import-progress progress")
    expect(bar).to_be_visible()
    expect(page.locator("#import-progress")).to_contain_text(f"0 / {LINES} lines")
    # No worker is running yet: the job waits and the bar stands at 0. Now
    # the worker starts, and the page's script moves the bar to the end.
    assert bar.evaluate("(bar) => [bar.value, bar.max]") == [0, LINES]
    worker_later()
    page.wait_for_function(
        "(lines) => { const bar = document.querySelector('#import-progress progress');"
        " return bar && bar.max === lines && bar.value === lines; }",
        arg=LINES,
        polling="raf",
        timeout=120_000,
    )
    report = page.locator("#import-report")  # the page reloads itself to show it
    expect(report).to_contain_text(f"New codes: {LINES}.", timeout=30_000)
    expect(report).to_contain_text("GBK / GB18030")

    # -- on sale ------------------------------------------------------------
    page.goto(product_page)
    page.get_by_label("Status").select_option(label="On sale")
    page.get_by_role("button", name="Save product").click()
    expect(page.get_by_label("Status")).to_have_value("on_sale")
    console.get_by_role("link", name="Products").click()
    row = page.get_by_role("row", name=re.compile(re.escape(PRODUCT)))
    expect(row).to_contain_text("On sale")
    expect(row).to_contain_text(f"{LINES}")

    # -- each theme in turn, and a guest buys in it -------------------------
    delivered: list[str] = []
    for theme in THEMES:
        console.get_by_role("link", name="Settings", exact=True).click()
        section = page.locator("#theme")
        # the script shows the chosen theme's settings at once (the page reloads)
        section.get_by_label("Theme").select_option(value=theme)
        expect(section.get_by_role("button", name="Save and use this theme")).to_be_visible()
        section.get_by_role("button", name="Save and use this theme").click()
        expect(page.get_by_role("status").first).to_contain_text("Theme saved.")
        expect(section.get_by_label("Theme").locator("option:checked")).to_contain_text("(in use)")
        delivered.append(_a_guest_buys(chromium, live_server, theme))

    assert len(set(delivered)) == len(THEMES)  # three different codes, one each
    console.get_by_role("link", name="Orders").click()
    expect(page.get_by_role("row").filter(has_text="Delivered")).to_have_count(len(THEMES))
    assert refused == []


def _a_guest_buys(chromium, live_server, theme: str) -> str:
    """A guest in a fresh phone-sized browser buys one code of ``PRODUCT``
    in the shop's current theme with the sandbox payment; the code shown."""
    context = chromium.new_context(locale="en-US", viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    refused = watch_refusals(page)
    wide: list[str] = []

    def fits(step: str) -> None:
        if extra := sideways_overflow(page):
            wide.append(f"{theme} {step}: {extra}px")

    try:
        page.goto(live_server.url("/", slug=SLUG))
        if theme == "default":
            expect(page.locator("body")).not_to_have_class(re.compile(r"\btheme-"))
        else:
            expect(page.locator("body")).to_have_class(re.compile(rf"\btheme-{theme}\b"))
        fits("home")
        page.get_by_role("link", name=PRODUCT).first.click()
        expect(page.get_by_role("heading", name=PRODUCT)).to_be_visible()
        fits("product")
        page.get_by_role("button", name="Buy now").click()
        page.get_by_label("Email for delivery").fill(f"guest-{theme}@example.com")
        fits("buy")
        page.get_by_role("button", name="Continue to payment").click()
        expect(page.get_by_role("heading", name="Pay for your order")).to_be_visible()
        expect(page.locator(".order-summary")).to_contain_text("¥12.50")
        fits("pay")
        page.get_by_role("button", name="Pay (sandbox)").click()
        expect(page).to_have_url(re.compile(r"/o/\d+$"))
        code = page.locator("code.code")
        expect(code).to_have_text(re.compile(r"点卡\d{6}"), timeout=30_000)  # the worker delivers
        fits("order")
        assert refused == [], refused
        assert wide == [], wide
        return code.inner_text()
    finally:
        context.close()
