"""The buyer's pages through the Flask client: buy form, pay page, order
page and look-up, with readable errors (sold out, expired, bad quantity)."""

from __future__ import annotations

import re

import pytest

from tests.factories import add_product, run_in_shop
from tests.orders.support import order_id


@pytest.fixture
def guest(card_shop, browser_for):
    """A guest browser on the shop, in English."""
    client = browser_for(card_shop.host)
    client.client.set_cookie("lang", "en", domain=card_shop.host)
    return client


def _text(response) -> str:
    return response.get_data(as_text=True)


def _buy(client, product_id, **fields):
    page = f"/buy/{product_id}"
    html = _text(client.get(page))
    key = re.search(r'name="idempotency_key"[^>]*value="([^"]+)"', html)
    data = {"quantity": "1", "email": "li@example.com", **fields}
    if key and "idempotency_key" not in fields:
        data["idempotency_key"] = key.group(1)
    return client.submit(page, data)


def _deliver(app, card_shop, number: str) -> None:
    from app.orders import fulfilment

    run_in_shop(app, card_shop.shop, fulfilment.fulfil, order_id(app, card_shop.shop, number))


def test_a_guest_buys_through_the_pages_and_sees_the_code(app, card_shop, guest):
    product_page = _text(guest.get(f"/p/{card_shop.product_id}"))
    assert f'action="/buy/{card_shop.product_id}"' in product_page  # the buy box

    placed = _buy(guest, card_shop.product_id)
    assert placed.status_code == 302
    pay_url = placed.location
    number = re.search(r"/o/(\d+)/pay", pay_url).group(1)

    pay_page = _text(guest.get(pay_url))
    assert "Pay (sandbox)" in pay_page and "Pay from my balance" not in pay_page
    assert "¥100.00" in pay_page and number in pay_page

    paid = guest.submit(pay_url, {"provider": "sandbox"})
    assert paid.status_code == 302
    order_url = paid.location
    assert order_url.endswith(f"/o/{number}")  # the browser's session holds the token

    waiting = _text(guest.get(order_url))
    assert "Paid, delivering" in waiting and 'data-poll="/api/v1/orders/' in waiting

    _deliver(app, card_shop, number)
    done = _text(guest.get(order_url))

    assert "Delivered" in done and 'data-poll="' not in done
    codes = re.findall(r'<code class="code">([^<]+)</code>', done)
    assert len(codes) == 1 and codes[0] in card_shop.stock
    assert f'data-copy="{codes[0]}"' in done


def test_sending_the_buy_form_twice_places_one_order(app, card_shop, guest):
    page = f"/buy/{card_shop.product_id}"
    key = re.search(r'name="idempotency_key"[^>]*value="([^"]+)"', _text(guest.get(page)))[1]
    form = {"quantity": "2", "email": "li@example.com", "idempotency_key": key}

    first = guest.submit(page, form)
    second = guest.submit(page, form)

    assert first.location == second.location
    from tests.factories import card_statuses

    assert card_statuses(app, card_shop.shop, card_shop.product_id)["reserved"] == 2


def test_a_sold_out_product_says_so(app, card_shop, guest):
    empty = add_product(app, card_shop.shop, name="Xbox 礼品卡", stock=[])

    page = _text(guest.get(f"/buy/{empty}"))

    assert "Sorry, Xbox 礼品卡 is sold out." in page
    assert "Continue to payment" not in page


def test_asking_for_more_than_is_left_says_how_many_are(app, card_shop, guest):
    response = _buy(guest, card_shop.product_id, quantity="6")

    assert response.status_code == 200
    assert "Only 5 left. Choose fewer." in _text(response)


@pytest.mark.parametrize("quantity", ["0", "11", "two", ""])
def test_a_bad_quantity_is_explained_on_the_field(app, card_shop, guest, quantity):
    response = _buy(guest, card_shop.product_id, quantity=quantity)

    assert response.status_code == 200
    page = _text(response)
    assert re.search(r'class="field has-error">\s*<span>Quantity', page)
    assert 'aria-invalid="true"' in page


def test_a_top_up_asks_for_its_account(app, card_shop, guest):
    topup = add_product(
        app,
        card_shop.shop,
        name="QQ 币直充",
        kind="topup",
        price=1000,
        input_fields=[
            {
                "name": "account",
                "label": "QQ number",
                "required": True,
                "pattern": "[1-9][0-9]{4,11}",
            }
        ],
    )

    form = _text(guest.get(f"/buy/{topup}"))
    missing = _text(_buy(guest, topup))
    wrong = _text(_buy(guest, topup, **{"input-account": "abc"}))
    right = _buy(guest, topup, **{"input-account": "12345678"})

    assert "QQ number" in form and 'name="input-account"' in form
    assert "Please fill this in." in missing
    assert "This is not in the expected format." in wrong and 'value="abc"' in wrong
    assert right.status_code == 302


def test_an_expired_order_cannot_be_paid_on_its_page(app, card_shop, guest):
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import update

    from app.extensions import db
    from app.orders.models import Order

    pay_url = _buy(guest, card_shop.product_id).location
    number = re.search(r"/o/(\d+)/pay", pay_url).group(1)

    def expire():
        past = datetime.now(UTC) - timedelta(minutes=1)
        db.session.execute(update(Order).where(Order.number == number).values(expires_at=past))
        db.session.commit()

    run_in_shop(app, card_shop.shop, expire)

    page = _text(guest.get(pay_url))
    assert "This order expired before it was paid" in page and "Pay (sandbox)" not in page
    # A pay form left open in another tab, sent after the expiry:
    token = guest.csrf_token("/lookup")
    tried = guest.post(pay_url, data={"csrf_token": token, "provider": "sandbox"})
    assert tried.status_code == 200 and "This order expired before it was paid" in _text(tried)
    order_page = _text(guest.get(f"/o/{number}"))
    assert "Order again" in order_page


def test_an_order_page_without_its_token_is_not_found(app, card_shop, guest, browser_for):
    pay_url = _buy(guest, card_shop.product_id).location
    number = re.search(r"/o/(\d+)/pay", pay_url).group(1)
    stranger = browser_for(card_shop.host)

    assert stranger.get(f"/o/{number}").status_code == 404
    assert stranger.get(f"/o/{number}?t={'f' * 32}").status_code == 404
    assert stranger.get(f"/o/{number}/pay").status_code == 404
    # The browser that placed it remembers it.
    assert guest.get(f"/o/{number}").status_code == 200


def test_lookup_finds_an_order_by_email_and_number(app, card_shop, guest, browser_for):
    pay_url = _buy(guest, card_shop.product_id).location
    number = re.search(r"/o/(\d+)/pay", pay_url).group(1)
    elsewhere = browser_for(card_shop.host)
    elsewhere.client.set_cookie("lang", "en", domain=card_shop.host)

    wrong = elsewhere.submit("/lookup", {"email": "lu@example.com", "number": number})
    found = elsewhere.submit("/lookup", {"email": "LI@example.com", "number": number})

    assert "No order has this number and email." in _text(wrong)
    assert found.status_code == 302 and found.location.endswith(f"/o/{number}")
    listed = _text(elsewhere.get("/lookup"))
    assert number in listed and "Awaiting payment" in listed


def test_lookup_page_is_rate_limited(app, card_shop, guest, rate_limits):
    token = guest.csrf_token("/lookup")
    answers = [
        guest.post("/lookup", data={"csrf_token": token, "email": "a@example.com", "number": "1"})
        for _ in range(11)
    ]

    assert [a.status_code for a in answers[:10]] == [200] * 10
    assert answers[10].status_code == 429


def test_the_pages_speak_chinese_by_default(app, card_shop, browser_for):
    chinese = browser_for(card_shop.host)

    buy = _text(chinese.get(f"/buy/{card_shop.product_id}"))
    pay_url = _buy(chinese, card_shop.product_id).location
    pay = _text(chinese.get(pay_url))
    lookup = _text(chinese.get("/lookup"))

    assert "去付款" in buy
    assert "模拟支付" in pay
    assert "查询订单" in lookup


def test_a_link_with_the_token_opens_the_order_once_and_the_token_leaves_the_address(
    app, card_shop, guest, browser_for
):
    """The mail's link (``/o/<number>?t=<token>``) opened in another browser:
    that browser keeps the token in its session and lands on the page
    without it; every order page and answer is kept by no cache."""
    pay_url = _buy(guest, card_shop.product_id).location
    number = re.search(r"/o/(\d+)/pay", pay_url).group(1)
    from app.orders import lookups

    ident = order_id(app, card_shop.shop, number)
    token = run_in_shop(app, card_shop.shop, lookups.lookup_token, ident)
    phone = browser_for(card_shop.host)

    opened = phone.get(f"/o/{number}?t={token}")
    page = phone.get(f"/o/{number}")
    wrong = browser_for(card_shop.host).get(f"/o/{number}?t={'0' * 32}")

    assert opened.status_code == 303 and opened.location.endswith(f"/o/{number}")
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    assert f"?t={token}" not in _text(page) and f"token={token}" not in _text(page)
    assert wrong.status_code == 404
    api = phone.get(f"/api/v1/orders/{number}", headers={"X-Lookup-Token": token})
    assert api.status_code == 200 and api.headers["Cache-Control"] == "no-store"
