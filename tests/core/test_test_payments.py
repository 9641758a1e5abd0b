"""Test payments (the sandbox provider) and the demo seed stay out of a
live platform: every shop page says when the sandbox is on, and the demo
accounts are never created in production."""

from __future__ import annotations

from app.accounts.models import PlatformUser
from tests.accounts.support import count


def test_every_shop_page_says_test_payments_are_on(app, make_shop, browser_for):
    shop = make_shop("alpha")
    browser = browser_for(shop.host)
    for path in ("/", "/account/login"):
        page = browser.get(path, headers={"Accept-Language": "en"})
        assert "test-payments-banner" in page.get_data(as_text=True), path


def test_no_banner_and_no_sandbox_when_the_sandbox_is_off(app, make_shop, browser_for, monkeypatch):
    from app.payments import registry

    monkeypatch.setitem(app.config, "SANDBOX_PAYMENTS", False)
    monkeypatch.setitem(app.config, "PAGE_CACHE_SECONDS", 0)
    shop = make_shop("alpha")
    page = browser_for(shop.host).get("/", headers={"Accept-Language": "en"})
    assert "test-payments-banner" not in page.get_data(as_text=True)
    with app.app_context():
        # Listed but not opted in (a config changed at run time): still off.
        assert "sandbox" in app.config["PAYMENT_PROVIDERS"]
        assert "sandbox" not in [a.name for a in registry.available()]


def test_the_platform_site_has_no_banner(platform):
    page = platform.get("/", headers={"Accept-Language": "en"})
    assert "test-payments-banner" not in page.get_data(as_text=True)


def test_demo_seed_refuses_to_run_in_production(app, monkeypatch):
    monkeypatch.setitem(app.config, "ENV", "production")
    result = app.test_cli_runner().invoke(args=["demo", "seed"])
    assert result.exit_code != 0
    assert "refused with ENV=production" in result.output
    assert count(app, PlatformUser) == 0
