"""After sign-in, ``?next=`` sends the browser to a page of this host only."""

from __future__ import annotations

import pytest

from app.core.redirects import MAX_TARGET_LENGTH, safe_local_target
from tests.conftest import PASSWORD

HOME = "/home"


@pytest.mark.parametrize(
    "target",
    [
        "/%09/evil.example",
        "/\t/evil.example",
        "/%0d%0aLocation:%20https://evil.example",
        "//evil.example",
        "/\\evil.example",
        "/%5Cevil.example",
        "https://evil.example",
        "https:/evil.example",
        "/%2F%2Fevil.example",
        "/%2F/evil.example",
        "/%252F%252Fevil.example",
        "/%25252F%25252F%25252F%25252F%25252F%25252Fevil.example",
        "javascript:alert(1)",
        "evil.example",
        "",
        None,
        "/" + "a" * MAX_TARGET_LENGTH,
    ],
)
def test_a_target_off_this_host_falls_back_to_the_default(target):
    assert safe_local_target(target, HOME) == HOME


@pytest.mark.parametrize(
    "target",
    ["/ok/path?x=1", "/shops", "/account/", "/search?q=100%25", "/login?next=%2Fshops"],
)
def test_a_path_on_this_host_is_followed_as_given(target):
    assert safe_local_target(target, HOME) == target


@pytest.mark.parametrize(
    "target", ["/%09/evil.example", "//evil.example", "/%2F%2Fevil.example", "/\\evil.example"]
)
def test_shop_sign_in_never_redirects_off_site(make_shop, make_account, browser_for, target):
    shop = make_shop("alpha")
    make_account(shop, "buyer@example.com")
    browser = browser_for("alpha.localhost")
    response = browser.submit(
        "/account/login?" + "next=" + target.replace("\\", "%5C").replace("/", "%2F"),
        {"email": "buyer@example.com", "password": PASSWORD},
    )
    assert response.status_code == 302
    assert response.location == "/account/"


def test_console_sign_in_returns_to_the_page_that_asked_for_it(make_shop, browser_for):
    make_shop("alpha")
    browser = browser_for("alpha.localhost")
    asked = browser.get("/console/orders")
    assert asked.status_code == 302
    response = browser.submit(
        asked.location, {"email": "owner@alpha.example.com", "password": PASSWORD}
    )
    assert response.status_code == 302
    assert response.location == "/console/orders"


def test_console_sign_in_never_redirects_off_site(make_shop, browser_for):
    make_shop("alpha")
    browser = browser_for("alpha.localhost")
    response = browser.submit(
        "/console/login?next=%2F%09%2Fevil.example",
        {"email": "owner@alpha.example.com", "password": PASSWORD},
    )
    assert response.status_code == 302
    assert response.location == "/console/"
