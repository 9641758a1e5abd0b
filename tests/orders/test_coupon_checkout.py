"""Coupons at checkout, through the API and the buy page: fixed and percent
coupons, a minimum spend, expiry, uses per code (given back when an order
expires) and per buyer, idempotent replays, another shop's code, and a
refusal that a buyer reads on the page without losing what they typed."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests.factories import add_product, assert_problem, codes, run_in_shop
from tests.orders.support import place, placed
from tests.pricing.support import add_coupon, order_row

STEAM_LINE = "Steam 钱包充值卡 ¥100"


@pytest.fixture
def guest(card_shop, browser_for):
    client = browser_for(card_shop.host)
    client.client.set_cookie("lang", "en", domain=card_shop.host)
    return client


def _refused(response, reason: str) -> dict:
    body = assert_problem(response, 422, "coupon-not-applicable")
    assert body["reason"] == reason, body
    assert body["errors"]["coupon"], body
    return body


def _uses(app, shop, coupon_id) -> int:
    from app.pricing import coupons

    return run_in_shop(app, shop, coupons.uses, coupon_id)


def _expire(app, shop, number: str) -> None:
    """Let the order's hold pass and the expiry job run."""
    from sqlalchemy import update

    from app.extensions import db
    from app.orders import fulfilment
    from app.orders.models import Order

    def age() -> None:
        past = datetime.now(UTC) - timedelta(minutes=1)
        db.session.execute(update(Order).where(Order.number == number).values(expires_at=past))
        db.session.commit()
        assert fulfilment.expire_due() == 1

    run_in_shop(app, shop, age)


# --- the API ----------------------------------------------------------------------------


def test_a_fixed_coupon_takes_its_amount_off_and_the_order_says_so(app, card_shop, guest):
    add_coupon(app, card_shop.shop, "SAVE5", amount=500)

    order = placed(guest, card_shop.product_id, 1, coupon=" save5 ")  # any case, any spaces

    assert order["total"] == 9_500 and order["unit_price"] == 10_000
    assert order["coupon"] == "SAVE5"
    assert order["lines"] == [
        {"kind": "items", "label": f"{STEAM_LINE} × 1", "amount": 10_000},
        {"kind": "coupon", "label": "Coupon SAVE5", "amount": -500},
    ]
    row = order_row(app, card_shop.shop, order["number"])
    assert row["total"] == 9_500 and row["quote"]["coupon_discount"] == 500


def test_a_percent_coupon_takes_its_share_of_the_subtotal(app, card_shop, guest):
    add_coupon(app, card_shop.shop, "QUARTER", kind="percent", amount=15)

    order = placed(guest, card_shop.product_id, 2, coupon="QUARTER")

    assert order["total"] == 17_000  # ¥200.00 less 15 %
    assert [line["amount"] for line in order["lines"]] == [20_000, -3_000]


def test_a_coupon_below_its_minimum_spend_is_refused_and_above_it_applies(app, card_shop, guest):
    add_coupon(app, card_shop.shop, "BIG", amount=1_000, min_spend=15_000)

    body = _refused(place(guest, card_shop.product_id, 1, coupon="BIG"), "min_spend")

    assert body["min_spend"] == 15_000
    assert placed(guest, card_shop.product_id, 2, coupon="BIG")["total"] == 19_000


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        pytest.param(
            {"expires_at": datetime.now(UTC) - timedelta(days=1)}, "expired", id="expired"
        ),
        pytest.param(
            {"starts_at": datetime.now(UTC) + timedelta(days=1)}, "not_started", id="not-started"
        ),
        pytest.param({"active": False}, "inactive", id="switched-off"),
    ],
)
def test_a_coupon_outside_its_time_or_switched_off_is_refused(
    app, card_shop, guest, fields, reason
):
    add_coupon(app, card_shop.shop, "WINTER", amount=500, **fields)

    _refused(place(guest, card_shop.product_id, 1, coupon="WINTER"), reason)

    counts = run_in_shop(app, card_shop.shop, _order_count)
    assert counts == 0  # nothing was placed, nothing reserved


def _order_count() -> int:
    from sqlalchemy import func, select

    from app.extensions import db
    from app.orders.models import Order

    return db.session.scalar(select(func.count(Order.id)))


def test_an_unknown_code_and_one_for_another_product_are_refused(app, card_shop, guest):
    other = add_product(app, card_shop.shop, name="Other card", stock=codes("O", 1))
    add_coupon(app, card_shop.shop, "ONLYOTHER", amount=500, product_id=other)

    _refused(place(guest, card_shop.product_id, 1, coupon="NOPE"), "unknown")
    _refused(place(guest, card_shop.product_id, 1, coupon="ONLYOTHER"), "scope")
    assert placed(guest, other, 1, coupon="ONLYOTHER")["total"] == 9_500


def test_a_code_longer_than_any_coupon_is_a_field_error(card_shop, guest):
    response = place(guest, card_shop.product_id, 1, coupon="X" * 33)

    body = assert_problem(response, 422)
    assert "coupon" in str(body["errors"])


def test_a_used_up_coupon_is_refused_until_the_order_that_used_it_expires(app, card_shop, guest):
    coupon = add_coupon(app, card_shop.shop, "ONCE", amount=500, max_uses=1)
    first = placed(guest, card_shop.product_id, 1, email="a@example.com", coupon="ONCE")

    _refused(place(guest, card_shop.product_id, 1, email="b@example.com", coupon="ONCE"), "used_up")
    assert _uses(app, card_shop.shop, coupon) == 1

    _expire(app, card_shop.shop, first["number"])

    assert _uses(app, card_shop.shop, coupon) == 0
    second = placed(guest, card_shop.product_id, 1, email="b@example.com", coupon="ONCE")
    assert second["total"] == 9_500


def test_a_buyer_uses_a_coupon_only_as_often_as_it_allows(app, card_shop, guest):
    add_coupon(app, card_shop.shop, "EACH", amount=500, max_uses_per_buyer=1)
    placed(guest, card_shop.product_id, 1, email="a@example.com", coupon="EACH")

    again = place(guest, card_shop.product_id, 1, email="A@Example.com", coupon="each")

    _refused(again, "used_by_you")
    other = placed(guest, card_shop.product_id, 1, email="b@example.com", coupon="EACH")
    assert other["total"] == 9_500


def test_replaying_an_order_with_its_coupon_gives_the_same_order_and_one_use(app, card_shop, guest):
    coupon = add_coupon(app, card_shop.shop, "REPLAY", amount=500, max_uses=1)
    key = uuid.uuid4().hex

    first = place(guest, card_shop.product_id, 1, key=key, coupon="REPLAY")
    again = place(guest, card_shop.product_id, 1, key=key, coupon="REPLAY")
    other_code = place(guest, card_shop.product_id, 1, key=key, coupon="OTHER")

    assert first.status_code == 201 and again.status_code == 200
    assert first.get_json()["number"] == again.get_json()["number"]
    assert again.get_json()["total"] == 9_500
    assert _uses(app, card_shop.shop, coupon) == 1
    assert_problem(other_code, 422, "idempotency-key-reused")


def test_a_coupon_of_one_shop_is_unknown_at_another(app, make_shop, browser_for):
    alpha = make_shop("alpha")
    bravo = make_shop("bravo")
    add_coupon(app, alpha, "ALPHA10", amount=1_000)
    product = add_product(app, bravo, stock=codes("B", 2))

    response = place(browser_for(bravo.host), product, 1, coupon="ALPHA10")

    _refused(response, "unknown")


# --- the buy page -------------------------------------------------------------------------


def _buy_page_key(html: str) -> str:
    return re.search(r'name="idempotency_key"[^>]*value="([^"]+)"', html)[1]


def test_a_refused_coupon_is_explained_on_the_buy_page_and_nothing_typed_is_lost(
    app, card_shop, guest
):
    qq = add_product(
        app,
        card_shop.shop,
        name="QQ 币直充",
        kind="topup",
        price=1_000,
        input_fields=[{"name": "qq", "label": "QQ number", "pattern": "[1-9][0-9]{4,11}"}],
    )
    add_coupon(app, card_shop.shop, "BIG", amount=100, min_spend=50_000)
    page = f"/buy/{qq}"
    key = _buy_page_key(guest.get(page).get_data(as_text=True))

    answer = guest.submit(
        page,
        {
            "quantity": "3",
            "email": "li@example.com",
            "input-qq": "123456789",
            "coupon": "big",
            "idempotency_key": key,
        },
    )

    assert answer.status_code == 200
    html = answer.get_data(as_text=True)
    assert "This order does not reach the coupon&#39;s minimum spend." in html
    assert 'value="3"' in html and 'value="li@example.com"' in html
    assert 'value="123456789"' in html and 'value="big"' in html
    assert run_in_shop(app, card_shop.shop, _order_count) == 0


def test_an_unknown_coupon_on_the_buy_page_says_so(app, card_shop, guest):
    page = f"/buy/{card_shop.product_id}"

    answer = guest.submit(page, {"quantity": "1", "email": "li@example.com", "coupon": "NOPE"})

    assert answer.status_code == 200
    assert "There is no such coupon in this shop." in answer.get_data(as_text=True)


def test_a_coupon_on_the_buy_page_shows_on_the_pay_and_order_pages(app, card_shop, guest):
    add_coupon(app, card_shop.shop, "SAVE5", amount=500)
    page = f"/buy/{card_shop.product_id}?coupon=SAVE5"
    assert 'value="SAVE5"' in guest.get(page).get_data(as_text=True)  # a shared link fills it

    placed_page = guest.submit(
        f"/buy/{card_shop.product_id}",
        {"quantity": "1", "email": "li@example.com", "coupon": "SAVE5"},
    )

    assert placed_page.status_code == 302
    pay = re.sub(r"\s+", " ", guest.get(placed_page.location).get_data(as_text=True))
    assert "Coupon SAVE5" in pay and "-¥5.00" in pay and "¥95.00" in pay
    number = re.search(r"/o/(\d+)/pay", placed_page.location)[1]
    order_page = re.sub(r"\s+", " ", guest.get(f"/o/{number}").get_data(as_text=True))
    assert "Coupon SAVE5" in order_page and "¥95.00" in order_page


def test_an_order_page_names_each_price_line_in_the_buyers_language(app, card_shop, guest):
    from tests.pricing.support import add_rule, add_tier, on_sale_now

    add_rule(app, card_shop.shop, **on_sale_now(percent_off=10))
    add_coupon(app, card_shop.shop, "SAVE5", amount=500)
    order = placed(guest, card_shop.product_id, 1, coupon="SAVE5")
    add_tier(app, card_shop.shop)  # a tier no one is in changes nothing

    opened = guest.get(f"/o/{order['number']}?t={order['lookup_token']}", follow_redirects=True)
    page = re.sub(r"\s+", " ", opened.get_data(as_text=True))

    assert "Sale price" in page and "-¥10.00" in page
    assert "Coupon SAVE5" in page and "¥85.00" in page
    assert [line["kind"] for line in order["lines"]] == ["items", "sale_price", "coupon"]


def test_a_code_too_long_for_any_coupon_is_a_field_error_on_the_buy_page(card_shop, guest):
    page = f"/buy/{card_shop.product_id}"

    answer = guest.submit(page, {"quantity": "1", "email": "li@example.com", "coupon": "Y" * 40})

    html = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert "A coupon code has at most 32 characters." in html and 'value="' + "Y" * 40 in html
