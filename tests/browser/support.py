"""Helpers of the browser tests: where artefacts go, signing in to a shop's
console, the vendored axe-core run on a page, and whether a page scrolls
sideways.

axe-core is loaded into a page from the site's own ``/vendor/`` path (a
``<script src>`` from the same origin), which the Content-Security-Policy
allows: the pages are checked exactly as a visitor gets them, policy and
all, with no ``bypass_csp``.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import expect

from tests.factories import PASSWORD, add_account, run_in_shop
from tests.storefront.support import Catalogue, build_catalogue, paid_from_wallet, recharge

ROOT = Path(__file__).resolve().parents[2]
#: the vendored release (themes/vendor/axe-core/), served on every host
AXE = "/vendor/axe-core/4.14.1/axe.min.js"
#: what the checks refuse; "moderate" and "minor" findings are not failures
REFUSED_IMPACTS = ("serious", "critical")
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def artefacts(*parts: str) -> Path:
    """A folder for files a run leaves behind (screenshots), created when
    missing: under ``$KAMENG_ARTIFACTS`` when set (``scripts/test`` sets it
    outside its temporary folder), else ``<repo>/test-artifacts/``."""
    base = Path(os.environ.get("KAMENG_ARTIFACTS") or ROOT / "test-artifacts")
    path = base.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def watch_refusals(page) -> list[str]:
    """A list that fills with every message of ``page`` saying the
    Content-Security-Policy refused something, and every uncaught error."""
    refused: list[str] = []
    page.on(
        "console",
        lambda message: (
            refused.append(message.text)
            if "Content Security Policy" in message.text or "Refused to" in message.text
            else None
        ),
    )
    page.on("pageerror", lambda error: refused.append(str(error)))
    return refused


def sign_in_to_console(page, url: str, email: str, password: str = PASSWORD) -> None:
    """Sign in on the console's sign-in page at ``url`` in whichever
    language it speaks: the fields are found by their names, the button as
    the form's only one."""
    page.goto(url)
    page.locator("input[name=email]").fill(email)
    page.locator("input[name=password]").fill(password)
    page.locator("main form button[type=submit]").click()
    expect(page.locator("nav.console-nav")).to_be_visible()


def console_nav_links(page) -> list[str]:
    """The addresses of the console navigation's entries on this page: every
    page the signed-in member may open from it (``app/console/nav.py``)."""
    return page.locator("nav.console-nav a").evaluate_all("(links) => links.map((a) => a.href)")


def stocked_shop(app, shop) -> tuple[Catalogue, str]:
    """Give ``shop`` something on every console page: the storefront tests'
    catalogue, a buyer who paid an order from the wallet (delivered) and an
    open ticket on that order; the catalogue and the order's number."""
    from sqlalchemy import select

    from app.extensions import db
    from app.orders import tickets
    from app.orders.models import Order

    catalogue = build_catalogue(app, shop)
    # a long address, as real ones are: it must not push a phone's page wider
    buyer = add_account(app, shop, "li.xiaolong.customer-service@shenzhen-game-cards.example.com")
    recharge(app, shop, buyer.id, 5_000)
    number = paid_from_wallet(app, shop, buyer, catalogue.steam)

    def open_ticket() -> None:
        order = db.session.scalar(select(Order).where(Order.number == number))
        tickets.open_ticket(order.id, "supplier_failed", "The supplier did not answer.")
        db.session.commit()

    run_in_shop(app, shop, open_ticket)
    return catalogue, number


def console_pages(page, app, url, *, product_id, order_number) -> list[tuple[str, str]]:
    """Every console page a signed-in owner reaches, as (name, address):
    each entry of the navigation on ``page`` (pages that arrive later
    included), a new product's form, the product ``product_id`` and its
    cards, the order ``order_number``, and the pages not (yet) in the
    navigation that exist. ``url(path)`` makes an address on the shop."""
    pages = []
    for link in console_nav_links(page):
        path = urlsplit(link).path.removeprefix("/console").strip("/")
        pages.append((path.replace("/", "-") or "overview", link))
    pages += [
        ("products-new", url("/console/products/new")),
        ("product", url(f"/console/products/{product_id}")),
        ("product-cards", url(f"/console/products/{product_id}/cards")),
        ("order", url(f"/console/orders/{order_number}")),
    ]
    listed = {address for _, address in pages}
    for endpoint, name in (("console.members", "members"), ("console.accounts", "accounts")):
        address = url(f"/console/{name}")
        if endpoint in app.view_functions and address not in listed:
            pages.append((name, address))
    return pages


def axe_findings(page, name: str) -> list[str]:
    """axe-core's serious and critical findings on the page as it stands,
    one readable line per rule and element: ``name``, the rule, the element
    and axe's own words on what is wrong (for contrast, both colours)."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.add_script_tag(url=AXE)
    results = page.evaluate("() => axe.run(document, { resultTypes: ['violations'] })")
    found = []
    for violation in results["violations"]:
        if violation["impact"] not in REFUSED_IMPACTS:
            continue
        for node in violation["nodes"]:
            checks = node["any"] + node["all"] + node["none"]
            why = "; ".join(check["message"] for check in checks if check.get("message"))
            found.append(
                f"{name}: {violation['id']} [{violation['impact']}] "
                f"{' '.join(map(str, node['target']))}: {why or violation['help']}"
            )
    return found


def summary(findings: list[str]) -> str:
    """``findings`` as one report, the same finding on many pages said once
    with the pages' names."""
    pages: dict[str, list[str]] = {}
    for line in findings:
        name, finding = line.split(": ", 1)
        pages.setdefault(finding, []).append(name)
    return "\n".join(f"{finding}\n    on: {', '.join(names)}" for finding, names in pages.items())


def sideways_overflow(page) -> int:
    """How many CSS pixels the page scrolls sideways (0 when it fits).

    Measured against the layout viewport (``clientWidth``), not
    ``window.innerWidth``: a phone (``is_mobile``) zooms out to show a page
    wider than the screen, and ``innerWidth`` grows with it."""
    return page.evaluate(
        "() => Math.max(0, document.scrollingElement.scrollWidth"
        " - document.documentElement.clientWidth - 1)"
    )
