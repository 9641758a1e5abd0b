"""The platform console in a real Chromium: a shop is suspended only after
the question is answered (a no-script confirmation with a reason), and the
console's pages load with nothing refused by the Content-Security-Policy."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


def test_suspending_a_shop_asks_first_and_needs_a_reason(page, live_server, app, make_shop):
    from app.accounts import services

    make_shop("ask-first", "Ask First Cards")
    with app.app_context():
        services.set_platform_admin("root@example.com", PASSWORD)
    refused: list[str] = []
    page.on(
        "console",
        lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None,
    )

    page.goto(live_server.url("/login?lang=en"))
    page.get_by_label("Email").fill("root@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto(live_server.url("/admin"))

    row = page.locator("tr", has_text="Ask First Cards")
    confirm = row.locator(".confirm-box button[type=submit]")
    expect(confirm).to_be_hidden()  # the question is closed until asked
    row.locator("summary", has_text="Suspend").click()
    expect(row.get_by_text("Suspend ask-first? Its pages and API close at once")).to_be_visible()
    row.get_by_label("Reason (kept in the audit log)").fill("chargebacks")
    confirm.click()

    expect(page.get_by_text("ask-first is suspended.")).to_be_visible()
    expect(page.locator("tr", has_text="Ask First Cards")).to_contain_text("chargebacks")
    for path in ("/admin/users", "/admin/queues", "/admin/audit"):
        page.goto(live_server.url(path))
    expect(page.get_by_text("shop.suspended")).to_be_visible()
    assert refused == []
