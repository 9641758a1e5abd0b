"""Getting into a shop's console: the platform's one-time hand-off, or the
console's own sign-in, and only for the shop's owner and staff."""

from __future__ import annotations

import re

import pytest

from app.extensions import db
from tests.accounts.support import in_english, text_of
from tests.conftest import PASSWORD

pytestmark = pytest.mark.critical


def sign_in_on_platform(platform, email: str):
    response = platform.submit("/login", {"email": email, "password": PASSWORD})
    assert response.status_code == 302
    return platform


def hand_off(platform, slug: str):
    """Press "Open console" for ``slug`` on "My shops"; returns the response."""
    return platform.post(
        f"/shops/{slug}/console", data={"csrf_token": platform.csrf_token("/shops")}
    )


def path_of(location: str, host: str) -> str:
    prefix = f"http://{host}"
    assert location.startswith(prefix), location
    return location[len(prefix) :]


def add_member(app, tenant, email: str, role: str):
    """A platform user ``email`` with ``role`` in ``tenant`` (created when new)."""
    from sqlalchemy import select

    from app.accounts import services
    from app.accounts.models import PlatformUser
    from tenants.context import tenant_context

    with app.app_context():
        user = db.session.scalar(select(PlatformUser).where(PlatformUser.email == email))
        user = user or services.create_platform_user(email, PASSWORD)
        with tenant_context(tenant):
            services.add_member(user, role)
        db.session.remove()


def test_open_console_hands_the_operator_over_once(app, platform, make_shop, browser_for):
    make_shop("alpha")
    sign_in_on_platform(platform, "owner@alpha.example.com")

    response = hand_off(platform, "alpha")
    assert response.status_code == 302
    link = path_of(response.location, "alpha.localhost")
    assert link.startswith("/console/handoff?token=")

    at_shop = in_english(platform.on("alpha.localhost"))
    arrived = at_shop.get(link)
    assert arrived.status_code == 302 and arrived.location == "/console/"
    dashboard = at_shop.get("/console/")
    assert dashboard.status_code == 200
    assert "Shop alpha" in text_of(dashboard)

    # The same link again, from any browser, is spent.
    for browser in (browser_for("alpha.localhost"), at_shop):
        again = in_english(browser).get(link)
        assert again.status_code == 302 and again.location == "/console/login"
    thief = in_english(browser_for("alpha.localhost"))
    thief.get(link)
    assert thief.get("/console/").location.startswith("/console/login")
    assert "That sign-in link has expired" in text_of(thief.get("/console/login"))


def test_a_hand_off_link_is_only_good_at_its_own_shop(app, platform, make_shop, browser_for):
    alpha = make_shop("alpha")
    bravo = make_shop("bravo")
    add_member(app, bravo, alpha.owner_email, "owner")  # a member of both shops
    sign_in_on_platform(platform, alpha.owner_email)

    link = path_of(hand_off(platform, "alpha").location, "alpha.localhost")
    at_bravo = browser_for("bravo.localhost")
    refused = at_bravo.get(link)
    assert refused.status_code == 302 and refused.location == "/console/login"
    assert at_bravo.get("/console/").location.startswith("/console/login")
    # Refused at bravo, the link still works once at alpha.
    at_alpha = browser_for("alpha.localhost")
    assert at_alpha.get(link).location == "/console/"
    assert at_alpha.get("/console/").status_code == 200


def test_an_operator_gets_no_hand_off_to_a_shop_they_are_not_a_member_of(platform, make_shop):
    make_shop("alpha")
    make_shop("bravo")
    sign_in_on_platform(platform, "owner@alpha.example.com")
    assert hand_off(platform, "bravo").status_code == 404
    assert hand_off(platform, "nosuch").status_code == 404
    # The same browser at bravo's host is not in bravo's console.
    assert platform.on("bravo.localhost").get("/console/").location.startswith("/console/login")


def test_a_forged_or_tampered_hand_off_token_is_refused(platform, make_shop, browser_for):
    make_shop("alpha")
    sign_in_on_platform(platform, "owner@alpha.example.com")
    link = path_of(hand_off(platform, "alpha").location, "alpha.localhost")
    token = link.split("token=", 1)[1]
    browser = browser_for("alpha.localhost")
    for bad in (token[:-2] + ("AA" if not token.endswith("AA") else "BB"), "nonsense", ""):
        response = browser.get(f"/console/handoff?token={bad}")
        assert response.location == "/console/login"
    assert browser.get("/console/").location.startswith("/console/login")


def test_hand_off_needs_a_signed_in_operator_and_a_post(platform, make_shop):
    make_shop("alpha")
    assert platform.get("/shops/alpha/console").status_code == 405
    anonymous = platform.post(
        "/shops/alpha/console", data={"csrf_token": platform.csrf_token("/login")}
    )
    assert anonymous.status_code == 302 and anonymous.location.startswith("/login")


def test_a_deactivated_operator_cannot_use_a_hand_off_link(app, platform, make_shop, browser_for):
    from sqlalchemy import update

    from app.accounts.models import PlatformUser

    make_shop("alpha")
    sign_in_on_platform(platform, "owner@alpha.example.com")
    link = path_of(hand_off(platform, "alpha").location, "alpha.localhost")
    with app.app_context():
        db.session.execute(update(PlatformUser).values(is_active=False))
        db.session.commit()
    browser = browser_for("alpha.localhost")
    assert browser.get(link).location == "/console/login"
    assert browser.get("/console/").location.startswith("/console/login")


def console_sign_in(browser, email: str, password: str = PASSWORD):
    in_english(browser)
    return browser.submit("/console/login", {"email": email, "password": password})


def test_the_owner_signs_in_to_the_console_directly(make_shop, browser_for):
    make_shop("alpha")
    browser = browser_for("alpha.localhost")
    response = console_sign_in(browser, "owner@alpha.example.com")
    assert response.status_code == 302 and response.location == "/console/"
    page = text_of(browser.get("/console/"))
    assert "Shop alpha" in page and "owner" in page

    browser.submit("/console/login", {}, action="/console/logout")
    assert browser.get("/console/").location.startswith("/console/login")


def test_the_console_refuses_a_platform_user_who_is_not_a_member(make_shop, browser_for):
    make_shop("alpha")
    make_shop("bravo")
    browser = browser_for("bravo.localhost")

    response = console_sign_in(browser, "owner@alpha.example.com")

    assert response.status_code == 200
    assert "not a member of this shop" in text_of(response)
    assert browser.get("/console/").location.startswith("/console/login")
    assert browser.get("/api/v1/me").status_code == 401


def test_the_console_refuses_a_wrong_password_and_a_buyer(make_shop, make_account, browser_for):
    tenant = make_shop("alpha")
    make_account(tenant, "buyer@example.com")
    browser = browser_for("alpha.localhost")
    for email, password in [
        ("owner@alpha.example.com", "wrong-password"),
        ("buyer@example.com", PASSWORD),
    ]:
        response = console_sign_in(browser, email, password)
        assert response.status_code == 200
        assert "Wrong email or password" in text_of(response)
    assert browser.get("/console/").location.startswith("/console/login")


def test_a_buyer_session_does_not_open_the_console(
    make_shop, make_account, make_api_key, browser_for
):
    tenant = make_shop("alpha")
    make_account(tenant, "buyer@example.com")
    key = make_api_key(tenant)
    browser = browser_for("alpha.localhost")
    browser.submit("/account/login", {"email": "buyer@example.com", "password": PASSWORD})
    dashboard = browser.get("/console/")
    keys_page = browser.get("/console/api-keys")
    assert dashboard.status_code == 403
    assert keys_page.status_code == 403
    # Nothing of the console reaches the buyer: no key's name or prefix.
    assert "test key" not in text_of(keys_page)
    assert key.split("_")[1] not in text_of(keys_page)
    # The buyer is still signed in as the buyer, not turned away from the shop.
    assert browser.get("/api/v1/me").get_json()["email"] == "buyer@example.com"


def test_staff_see_accounts_but_not_api_keys(app, make_shop, make_account, browser_for):
    tenant = make_shop("alpha")
    make_account(tenant, "buyer@example.com")
    add_member(app, tenant, "staff@example.com", "staff")
    browser = browser_for("alpha.localhost")

    assert console_sign_in(browser, "staff@example.com").location == "/console/"
    dashboard = text_of(browser.get("/console/"))
    assert "staff" in dashboard
    assert "/console/api-keys" not in dashboard  # no link to what they may not open
    accounts = browser.get("/console/customers")
    assert accounts.status_code == 200
    assert "buyer@example.com" in text_of(accounts)
    assert browser.get("/console/api-keys").status_code == 403
    me = browser.get("/api/v1/me").get_json()
    assert me["roles"] == ["staff"] and "apikeys.manage" not in me["permissions"]


def test_the_console_lists_only_its_own_shops_accounts(make_shop, make_account, browser_for):
    alpha = make_shop("alpha")
    bravo = make_shop("bravo")
    make_account(alpha, "mine@example.com")
    make_account(bravo, "theirs@example.com")
    browser = browser_for("alpha.localhost")
    console_sign_in(browser, "owner@alpha.example.com")

    page = text_of(browser.get("/console/customers"))
    assert "mine@example.com" in page
    assert "theirs@example.com" not in page
    assert "1 in all" in page


def test_a_removed_member_loses_the_console_at_once(app, make_shop, browser_for):
    from sqlalchemy import delete

    from app.accounts.models import Membership
    from tenants.context import tenant_context

    tenant = make_shop("alpha")
    add_member(app, tenant, "staff@example.com", "staff")
    browser = browser_for("alpha.localhost")
    console_sign_in(browser, "staff@example.com")
    assert browser.get("/console/").status_code == 200

    with app.app_context(), tenant_context(tenant):
        db.session.execute(delete(Membership).where(Membership.role == "staff"))
        db.session.commit()

    assert browser.get("/console/").location.startswith("/console/login")


def test_console_pages_do_not_exist_on_the_platform_site(platform):
    assert platform.get("/console/").status_code == 404
    assert platform.get("/console/login").status_code == 404


def test_the_dashboard_links_to_the_api_documentation(make_shop, browser_for):
    make_shop("alpha")
    browser = browser_for("alpha.localhost")
    console_sign_in(browser, "owner@alpha.example.com")
    page = browser.get("/console/").get_data(as_text=True)
    docs = re.search(r'href="([^"]*/api/v1/docs)"', page)
    assert docs, page
    assert browser.get(docs.group(1)).status_code == 200


def test_signing_out_of_the_console_makes_a_copied_session_worthless(make_shop, browser_for):
    make_shop("alpha")
    browser = browser_for("alpha.localhost")
    console_sign_in(browser, "owner@alpha.example.com")
    stolen = browser.client.get_cookie("kameng_session", domain="alpha.localhost").value

    browser.submit("/console/login", {}, action="/console/logout")

    replay = browser_for("alpha.localhost")
    replay.client.set_cookie("kameng_session", stolen, domain="alpha.localhost")
    assert replay.get("/console/").location.startswith("/console/login")
    assert replay.get("/api/v1/me").status_code == 401
