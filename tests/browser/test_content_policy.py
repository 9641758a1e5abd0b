"""Pages run under a Content-Security-Policy that allows only the site's
own scripts and styles (and inline ones carrying the answer's nonce): in a
real Chromium, the shop's pages, the console and the API docs work with
nothing refused, while a script injected without the nonce does not run."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.factories import add_api_key, add_product, codes

pytestmark = pytest.mark.browser


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


def test_the_buying_pages_console_and_docs_run_with_nothing_refused(
    page, live_server, app, make_shop
):
    shop = make_shop("csp-cards", "CSP Cards")
    product_id = add_product(app, shop, stock=codes("CSP", 2))
    add_api_key(app, shop)
    refused = _refusals(page)

    page.goto(live_server.url("/", slug="csp-cards"))
    page.goto(live_server.url(f"/p/{product_id}", slug="csp-cards"))
    page.get_by_role("button", name="Buy now").click()
    page.get_by_label("Email for delivery").fill("csp@example.com")
    page.get_by_role("button", name="Continue to payment").click()
    page.get_by_role("button", name="Pay (sandbox)").click()
    # The order page's inline script (copy buttons, polling) runs: it fetches
    # the order's status from the API while the order waits for delivery.
    with page.expect_response(lambda r: "/api/v1/orders/" in r.url, timeout=10_000):
        pass
    page.goto(live_server.url("/console/login", slug="csp-cards"))
    page.goto(live_server.url("/api/v1/docs", slug="csp-cards"))
    expect(page.locator(".swagger-ui .info")).to_be_visible()  # Swagger UI's scripts ran

    assert refused == []


def test_an_injected_inline_script_does_not_run(page, live_server, app, make_shop):
    make_shop("csp-guard", "CSP Guard")
    refused = _refusals(page)
    page.goto(live_server.url("/", slug="csp-guard"))

    page.evaluate(
        """() => {
            const s = document.createElement('script');
            s.textContent = 'window.injected = true';
            document.body.appendChild(s);
        }"""
    )

    assert page.evaluate("window.injected === true") is False
    assert any("script" in text.lower() for text in refused)
