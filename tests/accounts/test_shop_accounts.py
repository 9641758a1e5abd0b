"""Buyers' accounts on a shop's own host: one shop, one account."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.accounts.models import ShopAccount
from app.extensions import db
from tenants.context import all_tenants
from tests.accounts.support import count, in_english, signed_in_as, text_of
from tests.conftest import PASSWORD


def sign_up(browser, email: str, password: str = PASSWORD, confirm: str | None = None):
    in_english(browser)
    return browser.submit(
        "/account/signup",
        {"email": email, "password": password, "confirm": confirm or password},
    )


def sign_in(browser, email: str, password: str = PASSWORD, **extra):
    in_english(browser)
    return browser.submit("/account/login", {"email": email, "password": password, **extra})


def accounts_with(app, email: str) -> list[ShopAccount]:
    with app.app_context(), all_tenants():
        rows = db.session.scalars(select(ShopAccount).where(ShopAccount.email == email)).all()
        db.session.expunge_all()
        return list(rows)


def test_a_buyer_signs_up_and_sees_their_account(app, make_shop, browser_for):
    tenant = make_shop("alpha")
    browser = browser_for("alpha.localhost")

    response = sign_up(browser, "Buyer@Example.com")

    assert response.status_code == 302 and response.location == "/account/"
    page = browser.get("/account/")
    assert page.status_code == 200
    assert "buyer@example.com" in text_of(page)
    assert "Welcome! Your account is ready." in text_of(page)
    [account] = accounts_with(app, "buyer@example.com")
    assert account.tenant_id == tenant.id
    assert account.role == "customer"


def test_shop_account_passwords_are_argon2id_hashes(app, make_shop, browser_for):
    make_shop("alpha")
    sign_up(browser_for("alpha.localhost"), "buyer@example.com")
    [account] = accounts_with(app, "buyer@example.com")
    assert account.password_hash.startswith("$argon2id$")
    assert PASSWORD not in account.password_hash


@pytest.mark.parametrize(
    "email,password,confirm,message",
    [
        ("not-an-email", PASSWORD, None, "Invalid email address"),
        ("buyer@example.com", "short", None, "between 8 and 256 characters"),
        ("buyer@example.com", PASSWORD, PASSWORD + "x", "Passwords differ"),
        ("taken@example.com", PASSWORD, None, "already exists in this shop"),
    ],
    ids=["bad-email", "short-password", "mismatched-confirm", "taken-email"],
)
def test_bad_shop_sign_up_shows_why_and_creates_nothing(
    app, make_shop, make_account, browser_for, email, password, confirm, message
):
    tenant = make_shop("alpha")
    make_account(tenant, "taken@example.com")
    browser = browser_for("alpha.localhost")

    response = sign_up(browser, email, password, confirm)

    assert response.status_code == 200
    assert message in text_of(response)
    assert count(app, ShopAccount) == 1
    assert browser.get("/account/").status_code == 302


@pytest.mark.critical
def test_the_same_email_at_two_shops_is_two_accounts(app, make_shop, browser_for):
    make_shop("alpha")
    make_shop("bravo")
    at_alpha, at_bravo = browser_for("alpha.localhost"), browser_for("bravo.localhost")

    assert sign_up(at_alpha, "same@example.com", "alpha-password").status_code == 302
    assert sign_up(at_bravo, "same@example.com", "bravo-password").status_code == 302

    accounts = accounts_with(app, "same@example.com")
    assert len(accounts) == 2
    assert len({a.tenant_id for a in accounts}) == 2
    # Each shop knows only its own account, with its own password.
    for browser, mine, theirs in [
        (browser_for("alpha.localhost"), "alpha-password", "bravo-password"),
        (browser_for("bravo.localhost"), "bravo-password", "alpha-password"),
    ]:
        refused = sign_in(browser, "same@example.com", theirs)
        assert "Wrong email or password." in text_of(refused)
        assert sign_in(browser, "same@example.com", mine).status_code == 302


@pytest.mark.critical
def test_a_session_on_shop_a_is_not_a_session_on_shop_b(app, make_shop, make_account, browser_for):
    tenant_a = make_shop("alpha")
    tenant_b = make_shop("bravo")
    make_account(tenant_a, "buyer@example.com")
    make_account(tenant_b, "buyer@example.com")  # the same person, also a buyer at bravo
    at_alpha = browser_for("alpha.localhost")
    assert sign_in(at_alpha, "buyer@example.com", remember="y").status_code == 302
    assert signed_in_as(at_alpha) == "buyer@example.com"

    at_bravo = at_alpha.on("bravo.localhost")  # the same browser
    assert at_bravo.get("/account/").location.startswith("/account/login")
    assert signed_in_as(at_bravo) is None

    # Alpha's cookies, carried to bravo by hand, do not sign anyone in there either.
    for name in ("kameng_session", "remember_token"):
        cookie = at_alpha.client.get_cookie(name, domain="alpha.localhost")
        at_bravo.client.set_cookie(name, cookie.value, domain="bravo.localhost")
    assert signed_in_as(at_bravo) is None
    assert at_bravo.get("/account/").status_code == 302
    # ... nor on the platform site.
    at_platform = at_alpha.on("localhost")
    cookie = at_alpha.client.get_cookie("kameng_session", domain="alpha.localhost")
    at_platform.client.set_cookie("kameng_session", cookie.value, domain="localhost")
    assert at_platform.get("/shops").status_code == 302


def test_a_buyer_signs_in_and_out(make_shop, make_account, browser_for):
    tenant = make_shop("alpha")
    make_account(tenant, "buyer@example.com")
    browser = browser_for("alpha.localhost")

    wrong = sign_in(browser, "buyer@example.com", "wrong-password")
    assert wrong.status_code == 200
    assert "Wrong email or password." in text_of(wrong)
    unknown = sign_in(browser, "nobody@example.com")
    assert "Wrong email or password." in text_of(unknown)

    response = browser.submit(
        "/account/login?next=/account/",
        {"email": "BUYER@example.com", "password": PASSWORD},
    )
    assert response.status_code == 302 and response.location == "/account/"
    assert "buyer@example.com" in text_of(browser.get("/account/"))

    browser.submit("/account/login", {}, action="/account/logout")
    assert browser.get("/account/").status_code == 302
    assert signed_in_as(browser) is None


def test_keep_me_signed_in_on_a_shop_outlives_the_session_cookie(
    make_shop, make_account, browser_for
):
    tenant = make_shop("alpha")
    make_account(tenant, "buyer@example.com")
    browser = browser_for("alpha.localhost")
    sign_in(browser, "buyer@example.com", remember="y")
    browser.client.delete_cookie("kameng_session", domain="alpha.localhost")

    assert signed_in_as(browser) == "buyer@example.com"


def test_an_operator_password_does_not_open_a_buyer_account(make_shop, browser_for):
    make_shop("alpha")
    browser = browser_for("alpha.localhost")
    refused = sign_in(browser, "owner@alpha.example.com")
    assert "Wrong email or password." in text_of(refused)
    assert signed_in_as(browser) is None


def test_a_deactivated_account_is_signed_out_and_cannot_sign_in(
    make_shop, make_account, make_api_key, browser_for
):
    tenant = make_shop("alpha")
    account = make_account(tenant, "buyer@example.com")
    key = make_api_key(tenant)
    browser = browser_for("alpha.localhost")
    sign_in(browser, "buyer@example.com")

    response = browser_for("alpha.localhost").patch(
        f"/api/v1/accounts/{account.id}",
        json={"is_active": False},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert response.status_code == 200 and response.get_json()["is_active"] is False

    assert signed_in_as(browser) is None
    refused = sign_in(browser, "buyer@example.com")
    assert "Wrong email or password." in text_of(refused)


def test_shop_account_pages_do_not_exist_on_the_platform_site(platform):
    assert platform.get("/account/login").status_code == 404
    assert platform.get("/account/signup").status_code == 404


RATE_LIMITED_FORMS = [
    ("alpha.localhost", "/account/login"),
    ("alpha.localhost", "/account/signup"),
    ("alpha.localhost", "/console/login"),
    ("localhost", "/login"),
    ("localhost", "/signup"),
]


def failing_form(browser, path: str) -> dict:
    return {
        "csrf_token": browser.csrf_token(path),
        "email": "nobody@example.com",
        "password": "wrong-password",
        "confirm": "other-password",
        "shop_name": "Nope",
        "slug": "x",
    }


@pytest.mark.parametrize("host,path", RATE_LIMITED_FORMS)
def test_sign_in_forms_answer_429_after_ten_tries_a_minute(make_shop, browser_for, host, path):
    make_shop("alpha")
    browser = in_english(browser_for(host))
    form = failing_form(browser, path)
    for _ in range(10):  # LOGIN_RATE_LIMIT: 10 per minute
        assert browser.post(path, data=form).status_code == 200

    limited = browser.post(path, data=form)

    assert limited.status_code == 429
    assert "Too Many Requests" in text_of(limited)
    assert browser.get(path).status_code == 200  # reading the form is not limited


@pytest.mark.parametrize("host,path", RATE_LIMITED_FORMS)
def test_the_sign_in_limit_holds_whatever_port_or_alias_the_host_header_names(
    make_shop, browser_for, host, path
):
    make_shop("alpha")
    browser = browser_for(host)
    form = failing_form(browser, path)
    for _ in range(10):
        browser.post(path, data=form)
    aliases = [f"{host}:8080", f"{host.upper()}:1"]
    if host == "localhost":
        aliases.append("www.localhost")
    for alias in aliases:
        elsewhere = browser.on(alias)
        assert elsewhere.post(path, data=failing_form(elsewhere, path)).status_code == 429, alias


def test_one_shops_sign_in_limit_does_not_lock_out_another_shop(make_shop, browser_for):
    make_shop("alpha")
    make_shop("bravo")
    at_alpha = browser_for("alpha.localhost")
    form = failing_form(at_alpha, "/account/login")
    for _ in range(11):
        at_alpha.post("/account/login", data=form)
    assert at_alpha.post("/account/login", data=form).status_code == 429

    at_bravo = browser_for("bravo.localhost")
    assert (
        at_bravo.post("/account/login", data=failing_form(at_bravo, "/account/login")).status_code
        == 200
    )
    assert platform_login_answers(browser_for("localhost")) == 200


def platform_login_answers(browser) -> int:
    return browser.post("/login", data=failing_form(browser, "/login")).status_code


def test_signing_out_of_a_shop_makes_copies_of_the_cookies_worthless(
    make_shop, make_account, browser_for
):
    tenant = make_shop("alpha")
    make_account(tenant, "buyer@example.com")
    browser = browser_for("alpha.localhost")
    sign_in(browser, "buyer@example.com", remember="y")
    stolen = {
        name: browser.client.get_cookie(name, domain="alpha.localhost").value
        for name in ("kameng_session", "remember_token")
    }

    browser.submit("/account/login", {}, action="/account/logout")

    replay = browser_for("alpha.localhost")
    for name, value in stolen.items():
        replay.client.set_cookie(name, value, domain="alpha.localhost")
    assert signed_in_as(replay) is None
    assert replay.get("/account/").status_code == 302
