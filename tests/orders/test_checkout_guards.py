"""Checkout's guards: an Idempotency-Key belongs to its caller and stands for
24 hours, and nobody holds a shop's stock without paying (unpaid orders
capped per buyer, email and client address; order creation rate-limited; a
short hold until a payment starts)."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from app.catalog.models import Card
from app.extensions import db
from app.orders import checkout
from app.orders.models import Order
from tests.conftest import PASSWORD
from tests.factories import add_product, assert_problem, bearer, card_statuses, codes, run_in_shop
from tests.orders.support import order_body, pay

pytestmark = pytest.mark.critical


def _from(address: str) -> dict:
    """Keyword arguments of ``_post`` for a request from ``address``."""
    return {"address": address}


def _signed_in(browser_for, make_account, shop, email: str):
    """A browser signed in as the shop account ``email``, and its CSRF header."""
    make_account(shop.shop, email)
    browser = browser_for(shop.host)
    browser.submit("/account/login", {"email": email, "password": PASSWORD})
    return browser, {"X-CSRFToken": browser.csrf_token("/account/")}


def _post(
    client,
    product_id,
    key: str | None = None,
    headers: dict | None = None,
    *,
    quantity: int = 1,
    address: str = "127.0.0.1",
    **body,
):
    """POST /api/v1/orders from ``address`` (a fresh guest-sized key unless given)."""
    return client.post(
        "/api/v1/orders",
        json=order_body(product_id, quantity, **body),
        headers={"Idempotency-Key": key or uuid.uuid4().hex, **(headers or {})},
        environ_base={"REMOTE_ADDR": address},
    )


def _numbers(app, shop) -> list[str]:
    return run_in_shop(app, shop, lambda: list(db.session.scalars(select(Order.number))))


# --- the Idempotency-Key is its caller's ----------------------------------------


def test_another_buyer_replaying_a_buyers_key_gets_an_order_of_their_own(
    app, card_shop, browser_for, make_account
):
    mei, mei_csrf = _signed_in(browser_for, make_account, card_shop, "mei@example.com")
    lei, lei_csrf = _signed_in(browser_for, make_account, card_shop, "lei@example.com")
    body = {"email": "shared@example.com"}

    first = _post(mei, card_shop.product_id, "1001", mei_csrf, **body)
    other = _post(lei, card_shop.product_id, "1001", lei_csrf, **body)

    assert first.status_code == 201 and other.status_code == 201, other.get_data(as_text=True)
    assert other.get_json()["number"] != first.get_json()["number"]
    assert other.get_json()["lookup_token"] != first.get_json()["lookup_token"]
    assert card_statuses(app, card_shop.shop, card_shop.product_id)["reserved"] == 2


def test_a_guest_replaying_an_api_keys_key_never_sees_its_order(
    app, card_shop, browser_for, make_api_key
):
    key = make_api_key(card_shop.shop)
    integration = browser_for(card_shop.host)
    guest = browser_for(card_shop.host)
    order_no = "erp-order-000000000000000000001001"  # an integrator's own number, 34 chars

    first = _post(integration, card_shop.product_id, order_no, bearer(key))
    replay = _post(guest, card_shop.product_id, order_no)

    assert first.status_code == 201 and replay.status_code == 201
    stolen = first.get_json()
    mine = replay.get_json()
    assert mine["number"] != stolen["number"]
    assert mine["lookup_token"] != stolen["lookup_token"]
    assert stolen["number"] not in replay.get_data(as_text=True)
    assert "codes" not in mine


def test_an_api_key_and_a_buyer_each_keep_their_own_orders_under_one_key(
    app, card_shop, browser_for, make_api_key, make_account
):
    api = browser_for(card_shop.host)
    headers = bearer(make_api_key(card_shop.shop))
    mei, csrf = _signed_in(browser_for, make_account, card_shop, "mei@example.com")
    guest = browser_for(card_shop.host)
    key = uuid.uuid4().hex

    by_guest = _post(guest, card_shop.product_id, key)
    by_mei = _post(mei, card_shop.product_id, key, csrf)
    by_api = _post(api, card_shop.product_id, key, headers)
    again = [
        _post(guest, card_shop.product_id, key),
        _post(mei, card_shop.product_id, key, csrf),
        _post(api, card_shop.product_id, key, headers),
    ]

    firsts = [by_guest, by_mei, by_api]
    assert [r.status_code for r in firsts] == [201, 201, 201]
    assert len({r.get_json()["number"] for r in firsts}) == 3
    assert [r.status_code for r in again] == [200, 200, 200]
    assert [r.get_json()["number"] for r in again] == [r.get_json()["number"] for r in firsts]
    assert [r.get_json()["lookup_token"] for r in again] == [
        r.get_json()["lookup_token"] for r in firsts
    ]


def test_a_signed_in_buyers_short_key_replays_their_own_order(
    app, card_shop, browser_for, make_account
):
    mei, csrf = _signed_in(browser_for, make_account, card_shop, "mei@example.com")

    first = _post(mei, card_shop.product_id, "1", csrf)
    again = _post(mei, card_shop.product_id, "1", csrf)

    assert first.status_code == 201 and again.status_code == 200
    assert again.get_json()["number"] == first.get_json()["number"]
    assert card_statuses(app, card_shop.shop, card_shop.product_id)["reserved"] == 1


def test_a_key_older_than_a_day_places_a_new_order(app, card_shop, browser_for):
    guest = browser_for(card_shop.host)
    key = uuid.uuid4().hex
    first = _post(guest, card_shop.product_id, key).get_json()

    def age():
        db.session.execute(
            update(Order)
            .where(Order.number == first["number"])
            .values(created_at=datetime.now(UTC) - timedelta(hours=24, minutes=1))
        )
        db.session.commit()

    run_in_shop(app, card_shop.shop, age)
    later = _post(guest, card_shop.product_id, key)
    replay = _post(guest, card_shop.product_id, key)

    assert later.status_code == 201, later.get_data(as_text=True)
    assert later.get_json()["number"] != first["number"]
    assert replay.status_code == 200 and replay.get_json()["number"] == later.get_json()["number"]
    assert sorted(_numbers(app, card_shop.shop)) == sorted(
        [first["number"], later.get_json()["number"]]
    )


def test_a_guests_short_key_is_refused_and_reserves_nothing(app, card_shop, browser_for):
    response = _post(browser_for(card_shop.host), card_shop.product_id, "1001")

    body = assert_problem(response, 422, "idempotency-key-too-short")
    assert "32" in body["detail"] and body["min_length"] == 32
    assert card_statuses(app, card_shop.shop, card_shop.product_id)["reserved"] == 0
    assert _numbers(app, card_shop.shop) == []


def test_a_guests_uuid_hex_key_is_accepted(app, card_shop, browser_for):
    key = uuid.uuid4().hex  # what the buy page sends
    assert len(key) == 32

    assert _post(browser_for(card_shop.host), card_shop.product_id, key).status_code == 201


# --- nobody holds the stock without paying ---------------------------------------


@pytest.fixture
def big_stock(app, card_shop):
    """A product with 12 codes in ``card_shop``'s shop; its id."""
    return add_product(app, card_shop.shop, name="Big", stock=codes("BIG", 12))


def test_a_hoarder_is_capped_and_another_buyer_can_still_buy(
    app, card_shop, big_stock, browser_for, monkeypatch
):
    monkeypatch.setitem(app.config, "ORDER_UNPAID_PER_ADDRESS", 5)
    hoarder = browser_for(card_shop.host)
    answers = []
    for i in range(8):
        answers.append(
            _post(hoarder, big_stock, quantity=2, email=f"h{i}@example.com", address="203.0.113.9")
        )
        if answers[-1].status_code != 201:
            break

    assert [a.status_code for a in answers[:5]] == [201] * 5
    refused = assert_problem(answers[5], 409, "too-many-unpaid-orders")
    assert refused["limit"] == 5
    assert card_statuses(app, card_shop.shop, big_stock)["reserved"] == 10

    buyer = browser_for(card_shop.host)
    bought = _post(buyer, big_stock, quantity=2, email="li@example.com", **_from("198.51.100.7"))
    assert bought.status_code == 201, bought.get_data(as_text=True)
    paid = pay(buyer, bought.get_json())
    assert paid.status_code == 200 and paid.get_json()["status"] == "succeeded"


def test_a_paid_order_no_longer_counts_against_the_cap(
    app, card_shop, big_stock, browser_for, monkeypatch
):
    monkeypatch.setitem(app.config, "ORDER_UNPAID_PER_ADDRESS", 2)
    guest = browser_for(card_shop.host)
    first = _post(guest, big_stock, quantity=1, email="a@example.com", **_from("203.0.113.9"))
    _post(guest, big_stock, quantity=1, email="b@example.com", **_from("203.0.113.9"))
    capped = _post(guest, big_stock, quantity=1, email="c@example.com", **_from("203.0.113.9"))
    assert_problem(capped, 409, "too-many-unpaid-orders")

    assert pay(guest, first.get_json()).status_code == 200
    again = _post(guest, big_stock, quantity=1, email="c@example.com", **_from("203.0.113.9"))

    assert again.status_code == 201, again.get_data(as_text=True)


def test_unpaid_orders_are_capped_per_email_and_per_buyer(
    app, card_shop, big_stock, browser_for, make_account, monkeypatch
):
    monkeypatch.setitem(app.config, "ORDER_UNPAID_PER_EMAIL", 2)
    monkeypatch.setitem(app.config, "ORDER_UNPAID_PER_BUYER", 2)
    guest = browser_for(card_shop.host)
    by_email = [
        _post(guest, big_stock, quantity=1, email="same@example.com", **_from(f"192.0.2.{i}"))
        for i in range(3)
    ]
    mei, csrf = _signed_in(browser_for, make_account, card_shop, "mei@example.com")
    by_buyer = [
        _post(mei, big_stock, f"mei-{i}", csrf, email=f"m{i}@example.com") for i in range(3)
    ]

    assert [r.status_code for r in by_email[:2]] == [201, 201]
    assert_problem(by_email[2], 409, "too-many-unpaid-orders")
    assert [r.status_code for r in by_buyer[:2]] == [201, 201], by_buyer[0].get_json()
    assert_problem(by_buyer[2], 409, "too-many-unpaid-orders")


def test_an_api_key_is_not_capped(
    app, card_shop, big_stock, browser_for, make_api_key, monkeypatch
):
    monkeypatch.setitem(app.config, "ORDER_UNPAID_PER_ADDRESS", 1)
    monkeypatch.setitem(app.config, "ORDER_UNPAID_PER_EMAIL", 1)
    api = browser_for(card_shop.host)
    headers = bearer(make_api_key(card_shop.shop))

    answers = [_post(api, big_stock, uuid.uuid4().hex, headers) for _ in range(3)]

    assert [a.status_code for a in answers] == [201, 201, 201]


def test_the_buy_page_says_why_a_hoarder_is_refused(
    app, card_shop, big_stock, browser_for, monkeypatch
):
    monkeypatch.setitem(app.config, "ORDER_UNPAID_PER_ADDRESS", 1)
    guest = browser_for(card_shop.host)
    page = f"/buy/{big_stock}"
    en = {"Accept-Language": "en"}

    def buy(email: str):
        html = guest.get(page, headers=en).get_data(as_text=True)
        key = re.search(r'name="idempotency_key"[^>]*value="([^"]+)"', html)[1]
        return guest.submit(
            page,
            {"quantity": "1", "email": email, "idempotency_key": key},
            headers=en,
        )

    assert buy("a@example.com").status_code == 302
    refused = buy("b@example.com")

    assert refused.status_code == 200
    assert "too many unpaid orders" in refused.get_data(as_text=True)


def test_order_creation_is_rate_limited_per_client_address_across_api_and_buy_page(
    app, card_shop, big_stock, browser_for, make_api_key, rate_limits, monkeypatch
):
    for name in ("ORDER_UNPAID_PER_ADDRESS", "ORDER_UNPAID_PER_EMAIL"):
        monkeypatch.setitem(app.config, name, 0)
    monkeypatch.setitem(app.config, "ORDER_CREATE_RATE_LIMIT", "3 per minute")
    client = browser_for(card_shop.host)
    here = _from("203.0.113.9")

    answers = [_post(client, big_stock, **here) for _ in range(4)]
    page = client.submit(
        f"/buy/{big_stock}",
        {"quantity": "1", "email": "a@example.com"},
        environ_base={"REMOTE_ADDR": "203.0.113.9"},
    )
    elsewhere = _post(browser_for(card_shop.host), big_stock, **_from("198.51.100.7"))
    integration = _post(
        client, big_stock, uuid.uuid4().hex, bearer(make_api_key(card_shop.shop)), **here
    )

    assert [a.status_code for a in answers[:3]] == [201] * 3
    assert_problem(answers[3], 429, "rate-limited")
    assert page.status_code == 429
    assert elsewhere.status_code == 201
    assert integration.status_code == 201
    # Only a refusal says when to try again and what the limit is; an
    # allowed request asks Redis nothing beyond its count.
    for refused in (answers[3], page):
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        assert refused.headers["X-RateLimit-Limit"] == "3"
        assert refused.headers["X-RateLimit-Remaining"] == "0"
    assert "X-RateLimit-Limit" not in answers[0].headers
    assert "Retry-After" not in answers[0].headers


# --- the short hold until a payment starts ------------------------------------------


def test_a_new_order_holds_its_stock_briefly_and_a_started_payment_extends_the_hold(
    app, card_shop, monkeypatch
):
    monkeypatch.setitem(app.config, "ORDER_INITIAL_HOLD_MINUTES", 3)
    monkeypatch.setitem(app.config, "ORDER_HOLD_MINUTES", 15)

    def holds(order_id):
        order = db.session.get(Order, order_id)
        cards = db.session.scalars(select(Card.reserved_until).where(Card.order_id == order_id))
        return order.expires_at, list(cards)

    def scenario():
        before = datetime.now(UTC)
        order, _ = checkout.create_order(
            product_id=card_shop.product_id, quantity=2, email="a@example.com"
        )
        after = datetime.now(UTC)
        expires, cards = holds(order.id)
        assert before + timedelta(minutes=3) <= expires <= after + timedelta(minutes=3)
        assert len(cards) == 2
        assert all(
            before + timedelta(minutes=3) <= c <= after + timedelta(minutes=3) for c in cards
        )

        start = datetime.now(UTC)
        checkout.extend_hold(order)
        db.session.commit()
        end = datetime.now(UTC)
        expires, cards = holds(order.id)
        assert start + timedelta(minutes=15) <= expires <= end + timedelta(minutes=15)
        assert order.expires_at == expires
        assert all(start + timedelta(minutes=15) <= c <= end + timedelta(minutes=15) for c in cards)

        checkout.extend_hold(order)  # never shortens, a repeat moves nothing forward by much
        db.session.commit()
        assert holds(order.id)[0] >= expires

    run_in_shop(app, card_shop.shop, scenario)


def test_paying_starts_with_extending_the_hold(app, card_shop, browser_for, monkeypatch):
    from app.orders import payment

    extended = []
    monkeypatch.setattr(payment.checkout, "extend_hold", lambda order: extended.append(order.id))
    guest = browser_for(card_shop.host)
    order = _post(guest, card_shop.product_id).get_json()

    assert pay(guest, order).status_code == 200
    assert len(extended) == 1
