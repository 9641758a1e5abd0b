"""Every console page, three ways: the shop's owner gets it (200), a
stranger is sent to sign in (302 to /console/login), and another shop's
owner gets nothing of this shop: their own console answers 404 for this
shop's products, orders and customers, and this shop's console refuses
their sign-in. The list of pages is the console's navigation plus the
pages under it, so a page added later without a line here fails
``test_the_matrix_covers_every_console_page``."""

from __future__ import annotations

import pytest
from flask import url_for

from tests.conftest import PASSWORD
from tests.console.support import console as console_session
from tests.factories import add_product, codes
from tests.orders.support import pay, placed

# Pages whose address holds one of the shop's own rows: {kind} is filled in.
PAGES = (
    "/console/",
    "/console/products",
    "/console/products/new",
    "/console/products/{product}",
    "/console/products/{product}/cards",
    "/console/categories",
    "/console/orders",
    "/console/orders/{order}",
    "/console/tickets",
    "/console/customers",
    "/console/customers/{customer}",
    "/console/settings",
    "/console/staff",
    "/console/api-keys",
    "/console/audit",
    "/console/agent-tiers",
    "/console/price-rules",
    "/console/coupons",
    "/console/agent-settings",
    "/console/agents",
    "/console/agents/{agent}",
    "/console/commissions",
    "/console/withdrawals",
    "/console/reconciliation",
    "/console/suppliers",
    "/console/suppliers/new",
    "/console/products/{product}/sources",
    "/console/supply/credentials",
    "/console/plan",
    "/console/billing/statements",
    "/console/settings/card-payments",
)
OWN_ROWS = ("{product}", "{order}", "{customer}", "{agent}")


@pytest.fixture
def world(app, two_shops, browser_for):
    rows = {}
    for slug, data in two_shops.items():
        shop = data["shop"]
        product = add_product(app, shop, stock=codes(slug.upper(), 3))
        buyer = data["buyer"]
        guest = browser_for(shop.host)
        order = placed(guest, product, email=f"guest@{slug}.example.com")
        assert pay(guest, order).status_code == 200
        rows[slug] = {
            "product": product,
            "order": order["number"],
            "customer": buyer.id,
            "agent": data["agent"].id,
        }
    return two_shops, rows


def _fill(page: str, rows: dict) -> str:
    return page.format(**rows)


def test_the_matrix_covers_every_console_page(app):
    """Every page in the console's navigation is in PAGES."""
    from app.console.nav import NAV

    with app.test_request_context("/", base_url="http://alpha.localhost"):
        linked = {url_for(entry.endpoint) for entry in NAV if entry.endpoint in app.view_functions}
    assert linked <= set(PAGES), linked - set(PAGES)


@pytest.mark.parametrize("page", PAGES)
def test_the_owner_gets_each_page(app, world, browser_for, page):
    shops, rows = world
    owner = console_session(browser_for, shops["alpha"]["shop"].host, shops["alpha"]["owner_email"])
    answer = owner.get(_fill(page, rows["alpha"]))
    assert answer.status_code == 200, (page, answer.status_code)


@pytest.mark.parametrize("page", PAGES)
def test_a_stranger_is_sent_to_sign_in(app, world, browser_for, page):
    shops, rows = world
    stranger = browser_for(shops["alpha"]["shop"].host)
    answer = stranger.get(_fill(page, rows["alpha"]))
    assert answer.status_code == 302, (page, answer.status_code)
    assert "/console/login" in answer.headers["Location"]


@pytest.mark.parametrize("page", [p for p in PAGES if any(r in p for r in OWN_ROWS)])
def test_another_shops_owner_finds_none_of_this_shops_rows(app, world, browser_for, page):
    """Bravo's owner, in bravo's console, asks for alpha's rows: 404."""
    shops, rows = world
    bravo = console_session(browser_for, shops["bravo"]["shop"].host, shops["bravo"]["owner_email"])
    assert bravo.get(_fill(page, rows["bravo"])).status_code == 200  # their own: fine
    answer = bravo.get(_fill(page, rows["alpha"]))
    assert answer.status_code == 404, (page, answer.status_code)


def test_another_shops_owner_cannot_sign_in_to_this_console(app, world, browser_for):
    shops, _rows = world
    alpha = browser_for(shops["alpha"]["shop"].host)
    answer = alpha.submit(
        "/console/login", {"email": shops["bravo"]["owner_email"], "password": PASSWORD}
    )
    assert answer.status_code == 200  # the form again, with the reason
    assert alpha.get("/console/").status_code == 302


def test_the_platform_console_is_for_platform_admins_only(app, world, platform):
    shops, _rows = world
    assert platform.get("/admin").status_code == 302
    signed = platform.submit(
        "/login", {"email": shops["alpha"]["owner_email"], "password": PASSWORD}
    )
    assert signed.status_code == 302
    assert platform.get("/admin").status_code == 403
