"""The platform owner's console on the platform site: only for platform
admins; suspends and resumes shops."""

from __future__ import annotations

import pytest

from tests.accounts.support import in_english, text_of
from tests.conftest import PASSWORD


@pytest.fixture
def platform_admin(app):
    from app.accounts import services

    with app.app_context():
        services.set_platform_admin("root@example.com", PASSWORD)
    return "root@example.com"


def sign_in(platform, email: str):
    in_english(platform)
    response = platform.submit("/login", {"email": email, "password": PASSWORD})
    assert response.status_code == 302
    return platform


def admin_action(platform, slug: str, action: str, **form):
    token = platform.csrf_token("/admin")
    return platform.post(f"/admin/shops/{slug}/{action}", data={"csrf_token": token, **form})


def test_the_platform_admin_sees_every_shop(platform, platform_admin, make_shop):
    make_shop("alpha", name="Alpha Cards")
    make_shop("bravo", name="Bravo Keys")
    sign_in(platform, platform_admin)

    page = platform.get("/admin")

    assert page.status_code == 200
    text = text_of(page)
    assert "Alpha Cards" in text and "Bravo Keys" in text
    assert "2 shops in all." in text
    found = text_of(platform.get("/admin?q=bravo"))
    assert "Bravo Keys" in found and "Alpha Cards" not in found


def test_an_operator_is_refused_the_platform_console(platform, make_shop):
    make_shop("alpha")
    sign_in(platform, "owner@alpha.example.com")
    assert platform.get("/admin").status_code == 403
    assert "/admin" not in platform.get("/shops").get_data(as_text=True)
    token = platform.csrf_token("/shops")
    refused = platform.post("/admin/shops/alpha/suspend", data={"csrf_token": token})
    assert refused.status_code == 403


def test_anonymous_visitors_are_sent_to_sign_in(platform):
    response = platform.get("/admin")
    assert response.status_code == 302
    assert response.location == "/login?next=/admin"


@pytest.mark.critical
def test_the_platform_console_is_not_on_shop_hosts(platform_admin, make_shop, browser_for):
    make_shop("alpha")
    at_shop = browser_for("alpha.localhost")
    assert at_shop.get("/admin").status_code == 404
    token = at_shop.csrf_token("/account/login")
    response = at_shop.post("/admin/shops/alpha/suspend", data={"csrf_token": token})
    assert response.status_code == 404
    assert at_shop.get("/").status_code == 200


@pytest.mark.critical
def test_suspending_a_shop_from_the_page_closes_it_and_resuming_opens_it(
    platform, platform_admin, make_shop, make_api_key, browser_for
):
    tenant = make_shop("alpha", name="Alpha Cards")
    key = make_api_key(tenant)
    sign_in(platform, platform_admin)
    shop = in_english(browser_for("alpha.localhost"))
    assert shop.get("/").status_code == 200

    response = admin_action(platform, "alpha", "suspend", reason="unpaid invoice")

    assert response.status_code == 302 and response.location == "/admin"
    listing = text_of(platform.get("/admin"))
    assert "alpha is suspended." in listing
    assert "unpaid invoice" in listing
    closed = shop.get("/")
    assert closed.status_code == 403
    assert "suspended" in text_of(closed)
    api = shop.get("/api/v1/me", headers={"Authorization": f"Bearer {key}"})
    assert api.status_code == 403
    assert api.get_json()["type"].endswith("/shop-suspended")

    response = admin_action(platform, "alpha", "resume", reason="invoice paid")

    assert response.status_code == 302
    assert "alpha is live again." in text_of(platform.get("/admin"))
    assert shop.get("/").status_code == 200
    assert shop.get("/api/v1/me", headers={"Authorization": f"Bearer {key}"}).status_code == 200


def test_unknown_shops_and_actions_are_404(platform, platform_admin, make_shop):
    make_shop("alpha")
    sign_in(platform, platform_admin)
    assert admin_action(platform, "nosuch", "suspend").status_code == 404
    assert admin_action(platform, "alpha", "delete").status_code == 404


def test_suspend_without_the_csrf_token_is_refused(
    platform, platform_admin, make_shop, browser_for
):
    make_shop("alpha")
    sign_in(platform, platform_admin)
    assert platform.post("/admin/shops/alpha/suspend").status_code == 400
    assert browser_for("alpha.localhost").get("/").status_code == 200
