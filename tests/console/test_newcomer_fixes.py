"""What a newcomer tripped on, each fixed at its cause: mail caught in files
in development and the order page claiming only a mail that went; the
money-moving and destructive actions asking first; no markup inside a
translation; error and sign-up pages without English or framework text in
Chinese; quantity limits stated as they are; order numbers pasted with
spaces; the order look-up in the shop header."""

from __future__ import annotations

import email
import email.policy
import html
import re
from pathlib import Path

import pytest

from tests.conftest import PASSWORD
from tests.factories import add_product, codes, run_in_shop
from tests.orders.conftest import _empty_queues, card_shop, rate_limits  # noqa: F401
from tests.orders.support import order_id, pay, placed

ROOT = Path(__file__).resolve().parents[2]
WERKZEUG_404 = "The requested URL was not found on the server"


def text_of(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def english(browser):
    browser.client.set_cookie("lang", "en", domain=browser.host)
    return browser


def delivered(app, card_shop, browser_for) -> dict:  # noqa: F811
    """A guest's card order, paid and delivered (its mail not sent yet)."""
    from app.orders import fulfilment

    guest = browser_for(card_shop.host)
    order = placed(guest, card_shop.product_id, email="li@example.com")
    pay(guest, order)
    ident = order_id(app, card_shop.shop, order["number"])
    assert run_in_shop(app, card_shop.shop, fulfilment.fulfil, ident) == "delivered"
    return {**order, "id": ident}


def order_page(browser_for, card_shop, order: dict) -> str:  # noqa: F811
    buyer = english(browser_for(card_shop.host))
    return text_of(
        buyer.get(f"/o/{order['number']}?t={order['lookup_token']}", follow_redirects=True)
    )


# --- 2. mail in development, and what the order page claims ------------------------


def test_without_a_mail_server_mail_is_written_to_the_mail_folder(app, app_config):
    from app.core.mail import send_mail

    with app.app_context():
        assert app.config["MAIL_SERVER"] == ""
        where = Path(send_mail("li@example.com", "Hello 你好", "Your codes: X-1", "<p>X-1</p>"))

    assert where.parent == Path(app_config["INSTANCE_PATH"]) / "mail"
    assert where.suffix == ".eml"
    message = email.message_from_bytes(where.read_bytes(), policy=email.policy.default)
    assert message["To"] == "li@example.com" and message["Subject"] == "Hello 你好"
    assert "Your codes: X-1" in message.get_body(preferencelist=("plain",)).get_content()
    where.unlink()


def test_production_refuses_to_start_without_a_mail_server(tmp_path):
    from app.config import load_config
    from app.core.errors import ConfigurationError

    production = {
        "ENV": "production",
        "SECRET_KEY": "s",
        "CARD_KEY": "11" * 32,
        "CARD_HASH_KEY": "22" * 32,
        "DATABASE_URL": "postgresql+psycopg://k@db/k",
        "REDIS_URL": "redis://r:6379/0",
        "PASSWORD_HASH_PROFILE": "default",
        "SANDBOX_PAYMENTS": "off",
        "PAYMENT_PROVIDERS": "wallet",
        "MAIL_SERVER": "",
    }
    with pytest.raises(ConfigurationError, match="MAIL_SERVER must be set"):
        load_config(str(tmp_path), production)
    assert load_config(str(tmp_path), {**production, "MAIL_SERVER": "smtp.internal"})


def test_the_order_page_claims_a_mailed_copy_only_once_it_was_mailed(
    app,
    card_shop,  # noqa: F811
    browser_for,
):
    from app.orders import jobs

    order = delivered(app, card_shop, browser_for)

    before = order_page(browser_for, card_shop, order)
    assert "Your codes" in before
    assert "A copy was sent to" not in before
    assert "Keep this page address or your order number" in before

    with app.app_context():
        assert jobs.mail_delivery(str(card_shop.shop.id), str(order["id"])) == "sent"

    after = order_page(browser_for, card_shop, order)
    assert "A copy was sent to li@example.com." in after
    seen = browser_for(card_shop.host).get(
        f"/api/v1/orders/{order['number']}?token={order['lookup_token']}"
    )
    assert seen.get_json()["mailed_at"]


def test_a_mail_the_server_refused_is_not_claimed_and_the_shop_sees_why(
    app,
    card_shop,  # noqa: F811
    browser_for,
    monkeypatch,
):
    from app.orders import jobs
    from tests.live import free_port

    order = delivered(app, card_shop, browser_for)
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", free_port())  # nothing listens there

    with app.app_context(), pytest.raises(OSError):
        jobs.mail_delivery(str(card_shop.shop.id), str(order["id"]))

    page = order_page(browser_for, card_shop, order)
    assert "A copy was sent" not in page
    assert "We could not email a copy to li@example.com." in page
    owner = english(browser_for(card_shop.host))
    owner.submit("/console/login", {"email": card_shop.shop.owner_email, "password": PASSWORD})
    api = owner.get(f"/api/v1/orders/{order['number']}").get_json()
    assert api["mailed_at"] is None and "ConnectionRefusedError" in api["mail_error"]


# --- 3. money-moving and destructive actions ask first -------------------------------


@pytest.fixture
def console(card_shop, browser_for):  # noqa: F811
    browser = english(browser_for(card_shop.host))
    response = browser.submit(
        "/console/login", {"email": card_shop.shop.owner_email, "password": PASSWORD}
    )
    assert response.status_code == 302
    return browser


def confirm_boxes(page: str) -> list[str]:
    return re.findall(r'<details class="confirm">.*?</details>', page, flags=re.S)


def test_refund_and_deliver_by_hand_ask_first_without_script(
    app,
    card_shop,  # noqa: F811
    browser_for,
    console,
):
    guest = browser_for(card_shop.host)
    order = placed(guest, card_shop.product_id)
    pay(guest, order)  # paid, delivery queued: refund and deliver by hand apply

    page = console.get(f"/console/orders/{order['number']}").get_data(as_text=True)
    boxes = confirm_boxes(page)

    deliver = [b for b in boxes if "/deliver" in b]
    refund = [b for b in boxes if "/refund" in b]
    assert len(deliver) == 1 and '<textarea name="content"' in deliver[0]
    assert len(refund) == 1 and 'name="to" value="original"' in refund[0]
    assert "Send ¥100.00 back through" in html.unescape(refund[0])
    # No bare form outside a confirmation moves money or delivers.
    outside = re.sub(r'<details class="confirm">.*?</details>', "", page, flags=re.S)
    assert "/refund" not in outside and "/deliver" not in outside


def test_retry_asks_first_without_script(app, card_shop, browser_for, console):  # noqa: F811
    from sqlalchemy import update

    from app.catalog.models import Card
    from app.extensions import db
    from app.orders import fulfilment

    guest = browser_for(card_shop.host)
    order = placed(guest, card_shop.product_id)
    pay(guest, order)
    ident = order_id(app, card_shop.shop, order["number"])

    def lose_and_fulfil():
        db.session.execute(
            update(Card).where(Card.order_id == ident).values(status="void", order_id=None)
        )
        db.session.commit()
        return fulfilment.fulfil(ident)

    assert run_in_shop(app, card_shop.shop, lose_and_fulfil) == "failed"

    page = console.get(f"/console/orders/{order['number']}").get_data(as_text=True)
    retry = [b for b in confirm_boxes(page) if "/retry" in b]
    assert len(retry) == 1
    assert f"Try to deliver order {order['number']} again from stock?" in html.unescape(retry[0])


# --- 4. no markup inside a translation ------------------------------------------------


def test_no_translatable_string_holds_markup():
    from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
    from babel.messages.frontend import parse_mapping_cfg

    with open(ROOT / "babel.cfg") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    keywords = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None}
    found = extract_from_dir(ROOT, method_map, options_map, keywords=keywords)
    marked = [
        (filename, message)
        for filename, _line, message, *_ in found
        for text in (message if isinstance(message, tuple) else (message,))
        if text and re.search(r"<[a-zA-Z/!]", text)
    ]
    assert marked == []


def test_no_template_builds_markup_by_joining_a_translation():
    """``'<input …' ~ _('Reason') ~ '…'`` is escaped whole and shows as text;
    extra fields go in a call block instead."""
    joined = re.compile(r"""['"][^'"]*<[a-zA-Z][^'"]*['"]\s*~|~\s*['"][^'"]*<[a-zA-Z]""")
    offenders = [
        str(path.relative_to(ROOT))
        for folder in (ROOT / "app" / "templates", ROOT / "themes")
        for path in folder.rglob("*.html")
        if joined.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


# --- 5. error and sign-up pages in the reader's language --------------------------------


@pytest.mark.parametrize("host", ["localhost", "alpha.localhost", "ghost.localhost"])
def test_a_missing_page_shows_no_framework_text(make_shop, browser_for, host):
    make_shop("alpha")
    browser = browser_for(host)

    chinese = text_of(browser.get("/no-such-page"))
    english_page = text_of(browser.get("/no-such-page?lang=en"))

    assert WERKZEUG_404 not in chinese and WERKZEUG_404 not in english_page
    assert "<title>Not Found" not in chinese  # the title is translated too


def test_the_platform_404_says_our_sentence(platform):
    page = text_of(platform.get("/no-such-page?lang=en"))
    assert "There is nothing at this address. Check it, or start again from the home page." in page
    assert "页面不存在" in text_of(platform.get("/no-such-page?lang=zh_CN"))


def test_a_rate_limited_page_is_ours_not_the_limiters(
    make_shop,
    browser_for,
    rate_limits,  # noqa: F811
    app,
    monkeypatch,
):
    make_shop("alpha")
    monkeypatch.setitem(app.config, "LOGIN_RATE_LIMIT", "2 per minute")
    shop = browser_for("alpha.localhost")
    for _ in range(2):
        shop.submit("/account/login", {"email": "a@example.com", "password": "x"})

    limited = shop.submit("/account/login?lang=zh_CN", {"email": "a@example.com", "password": "x"})
    limited_en = shop.submit("/account/login?lang=en", {"email": "a@example.com", "password": "x"})

    assert limited.status_code == 429 and limited_en.status_code == 429
    chinese = text_of(limited)
    assert "请求过于频繁" in chinese
    assert "<title>请求过于频繁" in chinese
    assert "per 1 minute" not in chinese and "Too Many Requests" not in chinese
    assert "Too many tries in a short time. Wait a minute, then try again." in text_of(limited_en)


def test_an_expired_form_page_shows_no_english_detail_in_chinese(platform):
    response = platform.post("/login", data={"email": "a@example.com", "password": "x"})
    assert response.status_code == 400
    assert "The CSRF token is missing" not in text_of(response)


def test_sign_up_errors_speak_the_readers_language_not_the_apis(
    make_shop, make_account, browser_for
):
    shop = make_shop("alpha")
    make_account(shop, "taken@example.com")
    browser = browser_for("alpha.localhost")
    form = {"email": "taken@example.com", "password": PASSWORD, "confirm": PASSWORD}

    chinese = text_of(browser.submit("/account/signup", form))
    english_page = text_of(english(browser).submit("/account/signup", form))

    assert "注册账号" in chinese and "邮箱" in chinese
    assert "Already registered." not in chinese and "Already registered." not in english_page
    assert "An account with this email already exists in this shop." in english_page
    assert 'value="taken@example.com"' in english_page  # nothing typed is lost


def test_platform_sign_up_errors_say_why_in_words(make_shop, platform):
    make_shop("bravo")
    english(platform)
    page = text_of(
        platform.submit(
            "/signup",
            {
                "shop_name": "Mine",
                "slug": "bravo",
                "email": "me@example.com",
                "password": PASSWORD,
                "confirm": PASSWORD,
            },
        )
    )
    assert "The shop address bravo is taken; choose another." in page
    assert "Already taken." not in page
    assert 'value="Mine"' in page and 'value="me@example.com"' in page


# --- 6. quantity limits ------------------------------------------------------------------


@pytest.mark.parametrize("quantity", ["0", "6", "-1"])
def test_a_quantity_outside_the_limits_names_the_real_limits(app, make_shop, browser_for, quantity):
    shop = make_shop("alpha")
    product = add_product(app, shop, stock=codes("Q", 8), min_quantity=2, max_quantity=5)
    buyer = english(browser_for("alpha.localhost"))

    page = text_of(
        buyer.submit(f"/buy/{product}", {"quantity": quantity, "email": "q@example.com"})
    )

    assert "Enter a quantity from 2 to 5." in page
    assert "greater than" not in page and "at least 1" not in page
    assert 'value="q@example.com"' in page


def test_the_chinese_buy_form_does_not_say_greater_than_one(app, make_shop, browser_for):
    shop = make_shop("alpha")
    product = add_product(app, shop, stock=codes("Q", 3))
    page = text_of(
        browser_for("alpha.localhost").submit(
            f"/buy/{product}", {"quantity": "0", "email": "q@example.com"}
        )
    )
    assert "大于 1" not in page and "大于1" not in page


def test_the_api_names_the_real_limits(app, make_shop, browser_for):
    shop = make_shop("alpha")
    product = add_product(app, shop, stock=codes("Q", 8), min_quantity=2, max_quantity=5)
    api = browser_for("alpha.localhost")

    response = api.post(
        "/api/v1/orders",
        json={"product_id": str(product), "quantity": 0, "email": "q@example.com"},
        headers={"Idempotency-Key": "k" * 40},
    )

    assert response.status_code == 422
    body = response.get_json()
    assert body["errors"]["quantity"] == ["Must be from 2 to 5."]
    assert "from 2 to 5" in body["detail"]


# --- 7. order numbers pasted with spaces ------------------------------------------------


def spaced(number: str) -> str:
    return f"  {number[:6]} {number[6:13]}\u3000{number[13:]} \n"


def test_the_lookup_page_finds_a_number_pasted_with_spaces(app, card_shop, browser_for):  # noqa: F811
    order = placed(browser_for(card_shop.host), card_shop.product_id, email="li@example.com")
    someone = english(browser_for(card_shop.host))

    found = someone.submit(
        "/lookup", {"email": "li@example.com", "number": spaced(order["number"])}
    )

    assert found.status_code == 302 and found.location == f"/o/{order['number']}"


def test_the_api_finds_a_number_with_spaces(app, card_shop, browser_for):  # noqa: F811
    client = browser_for(card_shop.host)
    order = placed(client, card_shop.product_id, email="li@example.com")

    looked_up = client.post(
        "/api/v1/orders/lookup", json={"email": "li@example.com", "number": spaced(order["number"])}
    )
    by_path = client.get(
        f"/api/v1/orders/{order['number'][:6]}%20{order['number'][6:]}",
        headers={"X-Lookup-Token": order["lookup_token"]},
    )

    assert looked_up.status_code == 200 and looked_up.get_json()["number"] == order["number"]
    assert by_path.status_code == 200 and by_path.get_json()["number"] == order["number"]


# --- 8. the order look-up in the shop header ---------------------------------------------


def test_the_shop_header_links_to_the_order_lookup(make_shop, browser_for):
    make_shop("alpha")
    chinese = browser_for("alpha.localhost").get("/").get_data(as_text=True)
    header = chinese[chinese.index('<header class="topbar">') : chinese.index("</header>")]
    assert '<a class="lookup-link" href="/lookup">查单</a>' in header
