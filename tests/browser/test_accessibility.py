"""The key pages pass axe-core (the vendored release, run in a real
Chromium) with no serious or critical finding: the storefront's buying and
account pages in each of the three themes, the console's pages (every
entry of its navigation, so pages that arrive later are covered too, plus a
product, its cards and an order) and the platform's own pages.

axe-core is loaded from the site's ``/vendor/`` path, which the pages'
Content-Security-Policy allows, so no policy is bypassed. Each test checks
every page and then reports every finding at once."""

from __future__ import annotations

import pytest

from tests.browser.support import (
    axe_findings,
    console_pages,
    sign_in_to_console,
    stocked_shop,
    summary,
)
from tests.factories import PASSWORD, add_account
from tests.storefront.support import (
    build_catalogue,
    paid_from_wallet,
    recharge,
    unpaid,
    use_theme,
)

pytestmark = pytest.mark.browser

THEMES = ("default", "classic", "grid")


def _check(page, url: str, name: str, findings: list[str]) -> None:
    response = page.goto(url)
    assert response is not None and response.ok, (name, url, response and response.status)
    findings.extend(axe_findings(page, name))


def test_the_storefront_pages_have_no_serious_findings_in_any_theme(
    chromium, live_server, app, make_shop
):
    slug = "a11y-shop"
    shop = make_shop(slug, "Accessible Cards")
    catalogue = build_catalogue(app, shop)
    buyer = add_account(app, shop, "wang@example.com")
    recharge(app, shop, buyer.id, 5_000)
    delivered = paid_from_wallet(app, shop, buyer, catalogue.steam)
    waiting = unpaid(app, shop, buyer, catalogue.steam)
    context = chromium.new_context(locale="en-US")
    page = context.new_page()
    findings: list[str] = []

    def url(path: str) -> str:
        return live_server.url(path, slug=slug)

    try:
        for theme in THEMES:  # a guest's pages
            use_theme(app, shop, theme)
            for name, path in (
                ("home", "/"),
                ("category", f"/c/{catalogue.games}"),
                ("search", "/search?q=steam"),
                ("product", f"/p/{catalogue.steam}"),
                ("top-up product", f"/p/{catalogue.qq}"),
                ("buy", f"/buy/{catalogue.steam}"),
                ("look-up", "/lookup"),
                ("sign-up", "/account/signup"),
                ("sign-in", "/account/login"),
            ):
                _check(page, url(path), f"{theme} {name}", findings)
        page.get_by_label("Email").fill(buyer.email)
        page.get_by_label("Password").fill(PASSWORD)
        page.locator("main form button[type=submit]").click()
        page.wait_for_url(url("/account/"))
        for theme in THEMES:  # a signed-in buyer's
            use_theme(app, shop, theme)
            for name, path in (
                ("account", "/account/"),
                ("orders", "/account/orders"),
                ("wallet", "/account/wallet"),
                ("recharge", "/account/recharge"),
                ("pay", f"/o/{waiting}/pay"),
                ("order", f"/o/{delivered}"),
            ):
                _check(page, url(path), f"{theme} {name}", findings)
    finally:
        context.close()
    assert not findings, "\n" + summary(findings)


def test_the_console_pages_have_no_serious_findings(chromium, live_server, app, make_shop):
    slug = "a11y-console"
    shop = make_shop(slug, "Accessible Console")
    catalogue, number = stocked_shop(app, shop)
    context = chromium.new_context(locale="en-US")
    page = context.new_page()
    findings: list[str] = []

    def url(path: str) -> str:
        return live_server.url(path, slug=slug)

    try:
        _check(page, url("/console/login"), "console sign-in", findings)
        sign_in_to_console(page, url("/console/login"), shop.owner_email)
        pages = console_pages(page, app, url, product_id=catalogue.steam, order_number=number)
        assert len(pages) >= 12, pages
        for name, address in pages:
            _check(page, address, f"console {name}", findings)
    finally:
        context.close()
    assert not findings, "\n" + summary(findings)


def test_the_platform_pages_have_no_serious_findings(chromium, live_server, app, make_shop):
    from app.accounts import services

    make_shop("a11y-listed", "Listed Cards")
    with app.app_context():
        services.set_platform_admin("root@example.com", PASSWORD)
    context = chromium.new_context(locale="en-US")
    page = context.new_page()
    findings: list[str] = []
    try:
        for name, path in (
            ("landing", "/"),
            ("sign-up", "/signup"),
            ("forgotten password", "/forgot"),
            ("sign-in", "/login"),
        ):
            _check(page, live_server.url(path), f"platform {name}", findings)
        page.get_by_label("Email").fill("root@example.com")
        page.get_by_label("Password").fill(PASSWORD)
        page.locator("main form button[type=submit]").click()
        page.wait_for_url(lambda address: not address.endswith("/login"))
        for name, path in (
            ("my shops", "/shops"),
            ("admin shops", "/admin"),
            ("admin users", "/admin/users"),
            ("admin queues", "/admin/queues"),
            ("admin audit", "/admin/audit"),
        ):
            _check(page, live_server.url(path), name, findings)
    finally:
        context.close()
    assert not findings, "\n" + summary(findings)
