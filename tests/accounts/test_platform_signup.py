"""Operators on the platform site: open a shop, sign in, sign out."""

from __future__ import annotations

import pytest

from app.accounts.models import Membership, PlatformUser
from tenants.models import Tenant
from tests.accounts.support import count, in_english, text_of
from tests.conftest import PASSWORD

GOOD = {
    "shop_name": "Star Game Cards",
    "slug": "star-cards",
    "email": "Op@Example.COM",
    "password": PASSWORD,
    "confirm": PASSWORD,
}


def sign_up(platform, **changes):
    in_english(platform)
    return platform.submit("/signup", {**GOOD, **changes})


def test_sign_up_opens_the_shop_at_once_and_signs_the_operator_in(app, platform, browser_for):
    response = sign_up(platform)

    assert response.status_code == 302
    assert response.location == "/shops?created=star-cards"
    shops = platform.get("/shops")
    assert shops.status_code == 200
    assert "Your shop Star Game Cards is open." in text_of(shops)
    assert "http://star-cards.localhost/" in text_of(shops)
    home = browser_for("star-cards.localhost").get("/")
    assert home.status_code == 200
    assert "Star Game Cards" in text_of(home)

    assert count(app, PlatformUser, PlatformUser.email == "op@example.com") == 1
    assert count(app, Membership, Membership.role == "owner") == 1


@pytest.mark.critical
def test_the_new_owner_reaches_only_their_own_shop_console(app, platform, make_shop):
    make_shop("bravo")
    sign_up(platform)
    token = platform.csrf_token("/shops")

    mine = platform.post("/shops/star-cards/console", data={"csrf_token": token})
    assert mine.status_code == 302
    assert mine.location.startswith("http://star-cards.localhost/console/handoff?token=")
    other = platform.post("/shops/bravo/console", data={"csrf_token": token})
    assert other.status_code == 404


@pytest.mark.parametrize(
    "changes,message",
    [
        ({"slug": "-bad-"}, "Use lowercase letters, digits and single hyphens"),
        ({"slug": "Bad_Slug!"}, "Use lowercase letters, digits and single hyphens"),
        ({"slug": "ab"}, "between 3 and 32 characters"),
        ({"slug": "admin"}, "admin is reserved; choose another shop address."),
        ({"slug": "www"}, "www is reserved; choose another shop address."),
        ({"slug": "bravo"}, "The shop address bravo is taken; choose another."),
        ({"email": "not-an-email"}, "Invalid email address"),
        ({"email": "owner@bravo.example.com"}, "sign in to open another shop"),
        ({"password": "short", "confirm": "short"}, "between 8 and 256 characters"),
        ({"confirm": PASSWORD + "!"}, "Passwords differ"),
        ({"shop_name": ""}, "This field is required"),
    ],
    ids=lambda v: v if isinstance(v, str) else "-".join(v),
)
def test_bad_sign_up_shows_why_and_creates_nothing(app, platform, make_shop, changes, message):
    make_shop("bravo")
    users, shops = count(app, PlatformUser), count(app, Tenant)

    response = sign_up(platform, **changes)

    assert response.status_code == 200  # the form again, with the reason on it
    assert message in text_of(response)
    assert 'aria-invalid="true"' in text_of(response) or "flash error" in text_of(response)
    assert count(app, PlatformUser) == users
    assert count(app, Tenant) == shops
    assert platform.get("/shops").status_code == 302  # not signed in


def test_sign_up_without_the_csrf_token_is_refused(app, platform):
    response = platform.post("/signup", data=GOOD)
    assert response.status_code == 400
    assert count(app, PlatformUser) == 0


def test_passwords_are_stored_as_argon2id_hashes(app, platform):
    sign_up(platform)
    with app.app_context():
        from app.extensions import db

        user = db.session.query(PlatformUser).one()
        assert user.password_hash.startswith("$argon2id$")
        assert PASSWORD not in user.password_hash


def test_operator_signs_in_and_out(platform, make_shop):
    make_shop("alpha")
    in_english(platform)
    assert platform.get("/shops").location == "/login?next=/shops"

    wrong = platform.submit("/login", {"email": "owner@alpha.example.com", "password": "nope!"})
    assert wrong.status_code == 200
    assert "Wrong email or password." in text_of(wrong)
    assert platform.get("/shops").status_code == 302

    right = platform.submit(
        "/login?next=/shops", {"email": "OWNER@alpha.example.com", "password": PASSWORD}
    )
    assert right.status_code == 302 and right.location == "/shops"
    page = platform.get("/shops")
    assert page.status_code == 200
    assert "Shop alpha" in text_of(page)

    out = platform.submit("/shops", {}, action="/logout")
    assert out.status_code == 302
    assert platform.get("/shops").status_code == 302


def test_sign_in_never_redirects_off_site(platform, make_shop):
    make_shop("alpha")
    response = platform.submit(
        "/login?next=//evil.example.com/x",
        {"email": "owner@alpha.example.com", "password": PASSWORD},
    )
    assert response.status_code == 302
    assert response.location == "/shops"


def test_keep_me_signed_in_outlives_the_session_cookie(platform, make_shop):
    make_shop("alpha")
    platform.submit(
        "/login", {"email": "owner@alpha.example.com", "password": PASSWORD, "remember": "y"}
    )
    platform.client.delete_cookie("kameng_session", domain="localhost")  # browser restarted

    assert platform.get("/shops").status_code == 200


def test_without_keep_me_signed_in_a_new_browser_session_is_signed_out(platform, make_shop):
    make_shop("alpha")
    platform.submit("/login", {"email": "owner@alpha.example.com", "password": PASSWORD})
    platform.client.delete_cookie("kameng_session", domain="localhost")

    assert platform.get("/shops").status_code == 302


@pytest.mark.critical
def test_a_platform_session_is_not_a_session_on_a_shop(platform, make_shop):
    make_shop("alpha")
    platform.submit(
        "/login", {"email": "owner@alpha.example.com", "password": PASSWORD, "remember": "y"}
    )
    at_shop = platform.on("alpha.localhost")
    assert at_shop.get("/console/").location.startswith("/console/login")
    # Even the cookies copied over by hand do not sign anyone in there.
    for name in ("kameng_session", "remember_token"):
        cookie = platform.client.get_cookie(name, domain="localhost")
        at_shop.client.set_cookie(name, cookie.value, domain="alpha.localhost")
    assert at_shop.get("/console/").location.startswith("/console/login")
    assert at_shop.get("/api/v1/me").status_code == 401


def test_an_operator_opens_a_second_shop_from_my_shops(app, platform, browser_for, make_shop):
    make_shop("alpha")
    platform.submit("/login", {"email": "owner@alpha.example.com", "password": PASSWORD})
    in_english(platform)

    response = platform.submit("/shops", {"shop_name": "Second", "slug": "second"})
    assert response.status_code == 302
    page = text_of(platform.get("/shops"))
    assert "Shop alpha" in page and "Second" in page
    assert browser_for("second.localhost").get("/").status_code == 200

    taken = platform.submit("/shops", {"shop_name": "Again", "slug": "second"})
    assert taken.status_code == 200
    assert "The shop address second is taken; choose another." in text_of(taken)
    assert count(app, Tenant) == 2


def test_signing_out_makes_copies_of_the_cookies_worthless(platform, browser_for, make_shop):
    make_shop("alpha")
    platform.submit(
        "/login", {"email": "owner@alpha.example.com", "password": PASSWORD, "remember": "y"}
    )
    stolen = {
        name: platform.client.get_cookie(name, domain="localhost").value
        for name in ("kameng_session", "remember_token")
    }

    platform.submit("/shops", {}, action="/logout")

    replay = browser_for("localhost")
    for name, value in stolen.items():
        replay.client.set_cookie(name, value, domain="localhost")
    assert replay.get("/shops").status_code == 302
    # Signing in again starts a new, working session.
    platform.submit("/login", {"email": "owner@alpha.example.com", "password": PASSWORD})
    assert platform.get("/shops").status_code == 200
