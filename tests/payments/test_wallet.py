"""The wallet (余额) of a shop account through the API: its balance and
history, recharges through sandbox and Stripe, amounts that are refused,
another shop's session and ids, and a balance that never goes negative."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.extensions import db
from tests.factories import add_account, add_product, assert_problem, codes, run_in_shop
from tests.payments.support import (
    ledger_keys,
    order_status,
    pay,
    place_order,
    signed_in,
    wait_for,
    wallet,
)

pytestmark = pytest.mark.critical

MAX = 10_000_000


@pytest.fixture
def buyer(app, shop):
    return add_account(app, shop, "buyer@wallets.example.com").id


@pytest.fixture
def session(browser_for, shop, buyer):
    return signed_in(browser_for, shop, "buyer@wallets.example.com")


def payments_count(app, shop) -> int:
    from app.payments.models import Payment

    return run_in_shop(app, shop, lambda: db.session.scalar(select(func.count(Payment.id))))


def test_a_new_wallet_is_empty(session, shop):
    browser, _ = session

    response = browser.get("/api/v1/me/wallet")

    assert response.status_code == 200
    assert response.get_json() == {
        "balance": 0,
        "currency": "CNY",
        "entries": [],
        "total": 0,
        "page": 1,
        "per_page": 50,
    }


def test_a_sandbox_recharge_credits_the_wallet_at_once(app, session, shop, buyer):
    browser, csrf = session

    response = browser.post(
        "/api/v1/me/wallet/recharge", json={"amount": 5000, "provider": "sandbox"}, headers=csrf
    )

    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.get_json()
    assert body["status"] == "succeeded"
    assert (body["amount"], body["currency"], body["balance"]) == (5000, "CNY", 5000)
    assert body["client_secret"] is None
    assert ledger_keys(app, shop) == [f"recharge:{body['id']}"]
    seen = browser.get("/api/v1/me/wallet").get_json()
    assert seen["balance"] == 5000 and seen["total"] == 1
    [entry] = seen["entries"]
    assert (entry["amount"], entry["kind"]) == (5000, "recharge")
    assert browser.get(f"/api/v1/me/wallet/recharges/{body['id']}").get_json()["status"] == (
        "succeeded"
    )


def test_the_history_pages_newest_first(session):
    browser, csrf = session
    for amount in (100, 200, 300):
        response = browser.post(
            "/api/v1/me/wallet/recharge",
            json={"amount": amount, "provider": "sandbox"},
            headers=csrf,
        )
        assert response.status_code == 201

    first = browser.get("/api/v1/me/wallet?per_page=2").get_json()
    second = browser.get("/api/v1/me/wallet?per_page=2&page=2").get_json()

    assert first["balance"] == 600 and first["total"] == 3
    assert [e["amount"] for e in first["entries"]] == [300, 200]
    assert [e["amount"] for e in second["entries"]] == [100]
    assert all(isinstance(e["amount"], int) for e in first["entries"] + second["entries"])


def test_a_stripe_recharge_is_credited_by_the_webhook_once(
    app, session, shop, buyer, stripe_on, relay
):
    browser, csrf = session

    response = browser.post(
        "/api/v1/me/wallet/recharge", json={"amount": 8800, "provider": "stripe"}, headers=csrf
    )

    assert response.status_code == 201, response.get_data(as_text=True)
    started = response.get_json()
    assert started["status"] == "pending" and started["balance"] == 0
    intent_id = started["payment_intent"]
    assert started["client_secret"].startswith(intent_id)
    # Stripe.js in the buyer's browser
    stripe_on.v1.payment_intents.update(intent_id, params={"payment_method": "pm_card_visa"})
    stripe_on.v1.payment_intents.confirm(intent_id)

    assert wait_for(lambda: wallet(app, shop, buyer) == 8800)
    delivery = relay.wait(intent_id, "payment_intent.succeeded")
    for _ in range(3):
        assert relay.forward(delivery)[1]["duplicate"] is True
    status = browser.get(f"/api/v1/me/wallet/recharges/{started['id']}").get_json()
    assert (status["status"], status["balance"], status["payment_intent"]) == (
        "succeeded",
        8800,
        intent_id,
    )
    assert "client_secret" not in status or status["client_secret"] is None
    assert wallet(app, shop, buyer) == 8800
    assert ledger_keys(app, shop) == [f"recharge:{started['id']}"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"amount": 0, "provider": "sandbox"}, "amount"),
        ({"amount": -500, "provider": "sandbox"}, "amount"),
        ({"amount": 12.5, "provider": "sandbox"}, "amount"),
        ({"amount": "5000", "provider": "sandbox"}, "amount"),
        ({"amount": True, "provider": "sandbox"}, "amount"),
        ({"amount": None, "provider": "sandbox"}, "amount"),
        ({"provider": "sandbox"}, "amount"),
        ({"amount": MAX + 1, "provider": "sandbox"}, "amount"),
        ({"amount": 5000, "provider": "wallet"}, "provider"),
        ({"amount": 5000, "provider": "paypal"}, "provider"),
        ({"amount": 5000}, "provider"),
    ],
)
def test_a_recharge_that_is_not_a_positive_whole_amount_is_refused(
    app, session, shop, buyer, body, field
):
    browser, csrf = session

    response = browser.post("/api/v1/me/wallet/recharge", json=body, headers=csrf)

    problem = assert_problem(response, 422, "validation-failed")
    assert field in problem["errors"]
    assert payments_count(app, shop) == 0
    assert wallet(app, shop, buyer) == 0


def test_the_largest_recharge_is_accepted(app, session, shop, buyer):
    browser, csrf = session

    response = browser.post(
        "/api/v1/me/wallet/recharge", json={"amount": MAX, "provider": "sandbox"}, headers=csrf
    )

    assert response.status_code == 201
    assert wallet(app, shop, buyer) == MAX


def test_a_provider_that_is_not_set_up_is_refused(app, session, shop, monkeypatch):
    browser, csrf = session
    monkeypatch.setitem(app.config, "STRIPE_SECRET_KEY", "")
    monkeypatch.setitem(app.config, "PAYMENT_PROVIDERS", ["wallet", "stripe"])

    for provider in ("stripe", "sandbox"):
        response = browser.post(
            "/api/v1/me/wallet/recharge",
            json={"amount": 100, "provider": provider},
            headers=csrf,
        )
        assert_problem(response, 422, "payment-provider-unavailable")
    assert payments_count(app, shop) == 0


def test_only_a_signed_in_shop_account_has_a_wallet(app, browser_for, shop, session):
    from app.accounts import services
    from tenants.context import tenant_context

    anonymous = browser_for(shop.host)
    assert_problem(anonymous.get("/api/v1/me/wallet"), 401, "unauthorized")
    assert_problem(
        anonymous.post("/api/v1/me/wallet/recharge", json={"amount": 1, "provider": "sandbox"}),
        401,
        "unauthorized",
    )
    with app.app_context(), tenant_context(shop.id):
        _, key = services.create_api_key("operator", None)
        db.session.remove()
    operator = {"Authorization": f"Bearer {key}"}
    assert_problem(anonymous.get("/api/v1/me/wallet", headers=operator), 403, "forbidden")
    # A session's write without its CSRF token is refused.
    browser, _ = session
    response = browser.post(
        "/api/v1/me/wallet/recharge", json={"amount": 100, "provider": "sandbox"}
    )
    assert_problem(response, 400, "csrf-failed")
    assert payments_count(app, shop) == 0


def test_paying_more_than_the_balance_is_refused_and_writes_nothing(app, session, shop, buyer):
    from app.ledger.services import InsufficientFunds

    browser, csrf = session
    browser.post(
        "/api/v1/me/wallet/recharge", json={"amount": 500, "provider": "sandbox"}, headers=csrf
    )
    order = place_order(
        app, shop, add_product(app, shop, price=1000, stock=codes("CODE", 5)), buyer_id=buyer
    )
    keys_before = ledger_keys(app, shop)

    with pytest.raises(InsufficientFunds) as refused:
        pay(app, shop, order.id, "wallet", buyer_id=buyer)

    problem = refused.value.to_problem()
    assert (problem["status"], problem["type"].rsplit("/", 1)[1]) == (402, "insufficient-funds")
    assert wallet(app, shop, buyer) == 500
    assert ledger_keys(app, shop) == keys_before
    assert order_status(app, shop, order.id) == "pending_payment"


def test_a_wallet_payment_answers_with_the_codes_and_queues_only_the_mail(
    app, session, shop, buyer
):
    from app.core.queues import get_queue

    browser, csrf = session
    browser.post(
        "/api/v1/me/wallet/recharge", json={"amount": 5000, "provider": "sandbox"}, headers=csrf
    )
    product = add_product(app, shop, price=1200, stock=codes("CODE", 3))
    order = browser.post(
        "/api/v1/orders",
        json={"product_id": str(product), "quantity": 2, "email": "buyer@wallets.example.com"},
        headers={**csrf, "Idempotency-Key": "wallet-codes"},
    ).get_json()
    with app.app_context():
        for name in ("fulfilment", "mail"):
            get_queue(name, app).empty()

    paid = browser.post(
        f"/api/v1/orders/{order['number']}/pay", json={"provider": "wallet"}, headers=csrf
    )

    assert paid.status_code == 200, paid.get_data(as_text=True)
    body = paid.get_json()["order"]
    assert body["status"] == "delivered"
    assert len(body["codes"]) == 2 and all(c["void"] is False for c in body["codes"])
    assert [h["status"] for h in body["history"]] == [
        "pending_payment",
        "paid",
        "fulfilling",
        "delivered",
    ]
    assert wallet(app, shop, buyer) == 5000 - 2400
    with app.app_context():
        assert get_queue("fulfilment", app).count == 0  # nothing left for the worker
        assert get_queue("mail", app).count == 1  # the delivery mail


def test_paying_from_the_wallet_spends_exactly_the_total(app, session, shop, buyer):
    browser, csrf = session
    browser.post(
        "/api/v1/me/wallet/recharge", json={"amount": 3000, "provider": "sandbox"}, headers=csrf
    )
    order = place_order(
        app, shop, add_product(app, shop, price=1999, stock=codes("CODE", 5)), buyer_id=buyer
    )

    assert pay(app, shop, order.id, "wallet", buyer_id=buyer).status == "succeeded"

    assert wallet(app, shop, buyer) == 1001
    # The buyer waits on the wallet payment itself: the card is delivered in it.
    assert order_status(app, shop, order.id) == "delivered"
    entries = browser.get("/api/v1/me/wallet").get_json()["entries"]
    assert [(e["kind"], e["amount"]) for e in entries] == [
        ("order_payment", -1999),
        ("recharge", 3000),
    ]
    assert entries[0]["order_id"] == str(order.id)


def test_paying_more_than_the_balance_through_the_api_is_a_402_problem(app, session, shop, buyer):
    if not any(r.rule == "/api/v1/orders/<number>/pay" for r in app.url_map.iter_rules()):
        pytest.skip("the orders API is not served")
    browser, csrf = session
    browser.post(
        "/api/v1/me/wallet/recharge", json={"amount": 500, "provider": "sandbox"}, headers=csrf
    )
    product = add_product(app, shop, price=1000, stock=codes("CODE", 5))
    placed = browser.post(
        "/api/v1/orders",
        json={"product_id": str(product), "quantity": 1, "email": "buyer@wallets.example.com"},
        headers=csrf,
    )
    assert placed.status_code == 201, placed.get_data(as_text=True)
    number = placed.get_json()["number"]
    keys_before = ledger_keys(app, shop)

    response = browser.post(
        f"/api/v1/orders/{number}/pay", json={"provider": "wallet"}, headers=csrf
    )

    assert_problem(response, 402, "insufficient-funds")
    assert wallet(app, shop, buyer) == 500
    assert ledger_keys(app, shop) == keys_before
    assert browser.get(f"/api/v1/orders/{number}").get_json()["status"] == "pending_payment"
    assert browser.get("/api/v1/me/wallet").get_json()["total"] == 1
