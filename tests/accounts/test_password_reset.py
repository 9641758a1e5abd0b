"""Forgot password, on the three sign-in pages (a shop's buyers, a shop's
console, the platform): the same answer for any address, a mailed link
through the real mail queue and a real SMTP server, single use, an hour
long, bound to its site; then signing in with the new password."""

from __future__ import annotations

import re

import pytest

from tests.accounts.support import in_english, text_of
from tests.conftest import PASSWORD
from tests.orders.conftest import _empty_queues, mail_server, rate_limits  # noqa: F401

NEW_PASSWORD = "a brand new passphrase"
LINK = re.compile(r"https?://[^\s\"<]+/reset/[\w.-]+")


def deliver_mail(app) -> None:
    """Run the mail queue's jobs with a real RQ worker (in this process,
    until the queue is empty)."""
    import signal

    from app.core.queues import run_worker

    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        run_worker(app, ["mail"], burst=True)
    finally:  # the worker installs its own handlers and leaves them
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def mailed_link(inbox, address: str) -> str:
    [message] = inbox.to(address)
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    link = LINK.search(text).group(0)
    assert link in html
    return link


def path_of(link: str) -> str:
    return "/" + link.split("/", 3)[3]


@pytest.fixture
def buyer(make_shop, make_account):
    shop = make_shop("alpha", "Alpha 游戏卡")
    make_account(shop, "buyer@example.com")
    return shop


# --- the link on every sign-in page -------------------------------------------


@pytest.mark.parametrize(
    "host, login, forgot",
    [
        ("alpha.localhost", "/account/login", "/account/forgot"),
        ("alpha.localhost", "/console/login", "/console/forgot"),
        ("localhost", "/login", "/forgot"),
    ],
)
def test_every_sign_in_page_links_to_forgot_password(make_shop, browser_for, host, login, forgot):
    make_shop("alpha")
    browser = in_english(browser_for(host))
    page = browser.get(login).get_data(as_text=True)
    assert f'href="{forgot}"' in page and "Forgot your password?" in page
    assert browser.get(forgot).status_code == 200


# --- a shop's buyer ---------------------------------------------------------------


def test_a_buyer_resets_their_password_by_mail_and_signs_in_with_it(
    app,
    buyer,
    browser_for,
    mail_server,  # noqa: F811
):
    shop = in_english(browser_for("alpha.localhost"))

    asked = shop.submit("/account/forgot", {"email": "buyer@example.com"})

    assert asked.status_code == 200
    assert "If buyer@example.com has an account here, a link" in text_of(asked)
    deliver_mail(app)
    [message] = mail_server.to("buyer@example.com")
    assert "Alpha 游戏卡" in message["Subject"]
    link = mailed_link(mail_server, "buyer@example.com")
    assert link.startswith("http://alpha.localhost/account/reset/")

    form = shop.get(path_of(link))
    assert form.status_code == 200 and form.headers["Cache-Control"] == "no-store"
    done = shop.submit(path_of(link), {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})

    assert done.status_code == 302 and done.location == "/account/login"
    assert "Your password is changed. Sign in with it." in text_of(shop.get("/account/login"))
    old = shop.submit("/account/login", {"email": "buyer@example.com", "password": PASSWORD})
    assert "Wrong email or password." in text_of(old)
    new = shop.submit("/account/login", {"email": "buyer@example.com", "password": NEW_PASSWORD})
    assert new.status_code == 302 and new.location == "/account/"


def test_the_link_works_once(app, buyer, browser_for, mail_server):  # noqa: F811
    shop = in_english(browser_for("alpha.localhost"))
    shop.submit("/account/forgot", {"email": "buyer@example.com"})
    deliver_mail(app)
    path = path_of(mailed_link(mail_server, "buyer@example.com"))
    shop.submit(path, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})

    again = shop.get(path)
    token = shop.csrf_token("/account/forgot")
    other = "yet another one!"
    reused = shop.post(path, data={"csrf_token": token, "password": other, "confirm": other})

    assert again.status_code == 400
    assert "This link has expired or was already used. Ask for a new one." in text_of(again)
    assert reused.status_code == 400
    signed = shop.submit("/account/login", {"email": "buyer@example.com", "password": NEW_PASSWORD})
    assert signed.status_code == 302


def test_an_expired_link_is_refused(app, buyer, browser_for, mail_server, monkeypatch):  # noqa: F811
    shop = in_english(browser_for("alpha.localhost"))
    shop.submit("/account/forgot", {"email": "buyer@example.com"})
    deliver_mail(app)
    path = path_of(mailed_link(mail_server, "buyer@example.com"))

    monkeypatch.setitem(app.config, "PASSWORD_RESET_SECONDS", -1)  # every link is past its hour

    refused = shop.get(path)
    assert refused.status_code == 400
    assert "expired" in text_of(refused)


def test_a_shop_accounts_link_does_nothing_at_another_shop(
    app,
    buyer,
    make_shop,
    make_account,
    browser_for,
    mail_server,  # noqa: F811
):
    bravo = make_shop("bravo")
    make_account(bravo, "buyer@example.com")  # the same email, another account
    alpha = in_english(browser_for("alpha.localhost"))
    alpha.submit("/account/forgot", {"email": "buyer@example.com"})
    deliver_mail(app)
    path = path_of(mailed_link(mail_server, "buyer@example.com"))

    elsewhere = in_english(browser_for("bravo.localhost"))
    assert elsewhere.get(path).status_code == 400
    assert browser_for("localhost").get(path.replace("/account", "")).status_code == 400


def test_the_answer_is_the_same_for_an_unknown_address_and_no_mail_goes(
    app,
    buyer,
    browser_for,
    mail_server,  # noqa: F811
):
    shop = in_english(browser_for("alpha.localhost"))

    known = text_of(shop.submit("/account/forgot", {"email": "buyer@example.com"}))
    unknown = text_of(shop.submit("/account/forgot", {"email": "nobody@example.com"}))
    deliver_mail(app)

    def answer(page: str, email: str) -> str:
        start = page.index("<h1>")
        return page[start : page.index("</form>", start)].replace(email, "EMAIL")

    assert answer(known, "buyer@example.com") == answer(unknown, "nobody@example.com")
    assert len(mail_server.to("buyer@example.com")) == 1
    assert mail_server.to("nobody@example.com") == []


def test_one_address_is_mailed_once_a_minute_however_often_it_is_asked(
    app,
    buyer,
    browser_for,
    mail_server,  # noqa: F811
):
    shop = in_english(browser_for("alpha.localhost"))
    for _ in range(3):
        assert shop.submit("/account/forgot", {"email": "buyer@example.com"}).status_code == 200
    deliver_mail(app)
    assert len(mail_server.to("buyer@example.com")) == 1


def test_a_bad_address_or_password_is_said_on_the_form(app, buyer, browser_for, mail_server):  # noqa: F811
    shop = in_english(browser_for("alpha.localhost"))
    bad = shop.submit("/account/forgot", {"email": "not-an-email"})
    assert bad.status_code == 200 and "Invalid email address." in text_of(bad)
    assert 'value="not-an-email"' in text_of(bad)

    shop.submit("/account/forgot", {"email": "buyer@example.com"})
    deliver_mail(app)
    path = path_of(mailed_link(mail_server, "buyer@example.com"))
    short = shop.submit(path, {"password": "short", "confirm": "short"})
    assert short.status_code == 200
    assert "Field must be between 8 and 256 characters long." in text_of(short)
    differ = shop.submit(path, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD + "!"})
    assert "Passwords differ." in text_of(differ)
    # The refused tries changed nothing: the link still works.
    done = shop.submit(path, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert done.status_code == 302


def test_asking_is_rate_limited_with_a_readable_page(
    app,
    buyer,
    browser_for,
    rate_limits,  # noqa: F811
    monkeypatch,
):
    monkeypatch.setitem(app.config, "PASSWORD_RESET_RATE_LIMIT", "2 per hour")
    shop = browser_for("alpha.localhost")
    answers = [
        shop.submit("/account/forgot", {"email": f"b{i}@example.com"}).status_code for i in range(3)
    ]
    limited = shop.submit("/account/forgot?lang=en", {"email": "b9@example.com"})
    chinese = shop.submit("/account/forgot?lang=zh_CN", {"email": "b9@example.com"})

    assert answers == [200, 200, 429]
    assert limited.status_code == 429 and "Retry-After" in limited.headers
    english = text_of(limited)
    assert "Too many tries in a short time. Wait a minute, then try again." in english
    assert "per 1 hour" not in english and "per 1 hour" not in text_of(chinese)
    assert "请求过于频繁" in text_of(chinese)


# --- the console and the platform: platform users ------------------------------


def test_a_shop_member_resets_from_the_console_and_signs_in_there(
    app,
    make_shop,
    browser_for,
    mail_server,  # noqa: F811
):
    make_shop("alpha")
    console = in_english(browser_for("alpha.localhost"))

    console.submit("/console/forgot", {"email": "owner@alpha.example.com"})
    deliver_mail(app)
    link = mailed_link(mail_server, "owner@alpha.example.com")

    assert link.startswith("http://alpha.localhost/console/reset/")
    done = console.submit(path_of(link), {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert done.status_code == 302 and done.location == "/console/login"
    signed = console.submit(
        "/console/login", {"email": "owner@alpha.example.com", "password": NEW_PASSWORD}
    )
    assert signed.status_code == 302 and signed.location == "/console/"
    # It is the platform password: the platform site takes it too.
    platform = browser_for("localhost")
    assert (
        platform.submit(
            "/login", {"email": "owner@alpha.example.com", "password": NEW_PASSWORD}
        ).status_code
        == 302
    )


def test_a_console_mails_no_link_to_someone_who_is_not_its_member(
    app,
    make_shop,
    browser_for,
    mail_server,  # noqa: F811
):
    make_shop("alpha")
    make_shop("bravo")
    console = in_english(browser_for("alpha.localhost"))

    answer = console.submit("/console/forgot", {"email": "owner@bravo.example.com"})
    deliver_mail(app)

    assert "If owner@bravo.example.com has an account here" in text_of(answer)
    assert mail_server.to("owner@bravo.example.com") == []


def test_a_platform_user_resets_on_the_platform_site(app, make_shop, platform, mail_server):  # noqa: F811
    make_shop("alpha")
    in_english(platform)

    platform.submit("/forgot", {"email": "owner@alpha.example.com"})
    deliver_mail(app)
    link = mailed_link(mail_server, "owner@alpha.example.com")

    assert link.startswith("http://localhost/reset/")
    done = platform.submit(path_of(link), {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert done.status_code == 302 and done.location == "/login"
    signed = platform.submit(
        "/login", {"email": "owner@alpha.example.com", "password": NEW_PASSWORD}
    )
    assert signed.status_code == 302
    # A platform link opens nothing on a shop's console.
    assert platform.on("alpha.localhost").get("/console" + path_of(link)).status_code == 400
