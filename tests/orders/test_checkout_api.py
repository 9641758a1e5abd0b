"""Buying through the API: checkout with an idempotency key, payment,
delivery by the real worker, the buyer's view and look-up."""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import PASSWORD
from tests.factories import add_product, assert_problem, bearer, card_statuses
from tests.orders.support import ledger_state, order_body, pay, place, placed, view, wait_for_status

pytestmark = pytest.mark.critical


def test_guest_buys_a_card_with_sandbox_and_sees_the_code_on_the_order_and_in_mail(
    app, card_shop, browser_for, worker, mail_server
):
    guest = browser_for(card_shop.host)

    order = placed(guest, card_shop.product_id, 1, email="Li.Lei@Example.com")
    assert order["status"] == "pending_payment"
    assert order["total"] == 10000 and order["currency"] == "CNY"
    assert "sandbox" in order["payment_options"] and "wallet" not in order["payment_options"]

    paid = pay(guest, order)
    assert paid.status_code == 200, paid.get_data(as_text=True)
    assert paid.get_json()["status"] == "succeeded"
    assert paid.get_json()["order"]["status"] in ("paid", "fulfilling", "delivered")

    delivered = wait_for_status(guest, order, {"delivered"})
    [code] = delivered["codes"]
    assert code["code"] in card_shop.stock and code["void"] is False
    assert [h["status"] for h in delivered["history"]][:2] == ["pending_payment", "paid"]
    assert delivered["history"][-1]["status"] == "delivered"

    mail = mail_server.wait_for("Li.Lei@example.com")
    body = mail.get_body(preferencelist=("plain",)).get_content()
    assert code["code"] in body and order["number"] in body
    assert order["number"] in mail["Subject"]
    assert card_statuses(app, card_shop.shop, card_shop.product_id)["sold"] == 1


def test_checkout_answers_with_number_token_expiry_and_payment_options(app, card_shop, browser_for):
    response = place(browser_for(card_shop.host), card_shop.product_id, 2)

    assert response.status_code == 201
    body = response.get_json()
    assert len(body["number"]) >= 10 and body["number"].isdigit()
    assert body["total"] == 20000 and body["unit_price"] == 10000
    assert isinstance(body["total"], int)
    assert body["lookup_token"] and body["expires_at"]
    assert body["payment_options"] == ["sandbox"]
    assert body["lines"] == [
        {"kind": "items", "label": "Steam 钱包充值卡 ¥100 × 2", "amount": 20000}
    ]
    assert body["coupon"] is None
    assert body["links"]["page"].endswith(f"/o/{body['number']}?t={body['lookup_token']}")
    assert "codes" not in body
    counts = card_statuses(app, card_shop.shop, card_shop.product_id)
    assert counts["reserved"] == 2 and counts["sellable"] == 3


def test_same_key_and_body_returns_the_same_order_without_reserving_again(
    app, card_shop, browser_for
):
    guest = browser_for(card_shop.host)
    key = str(uuid.uuid4())

    first = place(guest, card_shop.product_id, 2, key=key)
    again = place(guest, card_shop.product_id, 2, key=key)

    assert first.status_code == 201 and again.status_code == 200
    assert again.get_json()["number"] == first.get_json()["number"]
    assert again.get_json()["lookup_token"] == first.get_json()["lookup_token"]
    assert card_statuses(app, card_shop.shop, card_shop.product_id)["reserved"] == 2


def test_same_key_with_another_body_is_refused(app, card_shop, browser_for):
    guest = browser_for(card_shop.host)
    key = str(uuid.uuid4())
    place(guest, card_shop.product_id, 1, key=key)

    response = place(guest, card_shop.product_id, 2, key=key)

    assert_problem(response, 422, "idempotency-key-reused")
    assert card_statuses(app, card_shop.shop, card_shop.product_id)["reserved"] == 1


def test_sold_out_is_a_clear_409_and_reserves_nothing(app, card_shop, browser_for):
    guest = browser_for(card_shop.host)

    too_many = place(guest, card_shop.product_id, 6)
    body = assert_problem(too_many, 409, "out-of-stock")
    assert body["detail"] == "Only 5 of Steam 钱包充值卡 ¥100 left; you asked for 6."
    assert body["available"] == 5

    placed(guest, card_shop.product_id, 5)
    gone = assert_problem(place(guest, card_shop.product_id, 1), 409, "out-of-stock")
    assert gone["detail"] == "Steam 钱包充值卡 ¥100 is sold out."
    counts = card_statuses(app, card_shop.shop, card_shop.product_id)
    assert counts["reserved"] == 5 and counts["available"] == 0


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"quantity": 11}, "quantity"),
        ({"quantity": 0}, "quantity"),
        ({"quantity": "2"}, "quantity"),
        ({"email": "not an email"}, "email"),
        ({"inputs": {"account": "123"}}, "account"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_checkout_fields_are_422_with_field_errors(app, card_shop, browser_for, change, field):
    body = {**order_body(card_shop.product_id), **change}

    response = browser_for(card_shop.host).post(
        "/api/v1/orders", json=body, headers={"Idempotency-Key": uuid.uuid4().hex}
    )

    problem = assert_problem(response, 422, "validation-failed")
    assert field in problem["errors"], problem
    assert card_statuses(app, card_shop.shop, card_shop.product_id)["reserved"] == 0


def test_top_up_needs_its_inputs(app, card_shop, browser_for):
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
    guest = browser_for(card_shop.host)

    missing = place(guest, topup, 1)
    wrong = place(guest, topup, 1, inputs={"account": "0abc"})
    right = place(guest, topup, 1, inputs={"account": " 12345678 "})

    assert assert_problem(missing, 422, "validation-failed")["errors"] == {
        "account": ["QQ number is required."]
    }
    assert "account" in assert_problem(wrong, 422)["errors"]
    assert right.status_code == 201
    assert right.get_json()["inputs"] == {"account": "12345678"}


def test_a_product_not_on_sale_cannot_be_ordered(app, card_shop, browser_for):
    draft = add_product(app, card_shop.shop, name="Draft", status="draft", stock=["D-1"])

    assert_problem(place(browser_for(card_shop.host), draft, 1), 404, "not-found")
    assert_problem(place(browser_for(card_shop.host), uuid.uuid4(), 1), 404, "not-found")


# --- seeing an order ---------------------------------------------------------


def test_the_order_answers_to_its_token_in_the_query_or_header_only(app, card_shop, browser_for):
    guest = browser_for(card_shop.host)
    order = placed(guest, card_shop.product_id)
    number = order["number"]
    stranger = browser_for(card_shop.host)

    assert view(stranger, order).status_code == 200
    by_header = stranger.get(
        f"/api/v1/orders/{number}", headers={"X-Lookup-Token": order["lookup_token"]}
    )
    assert by_header.status_code == 200 and by_header.get_json()["number"] == number
    assert_problem(stranger.get(f"/api/v1/orders/{number}"), 404, "not-found")
    assert_problem(stranger.get(f"/api/v1/orders/{number}?token={'0' * 32}"), 404, "not-found")
    other = placed(guest, card_shop.product_id)
    wrong = stranger.get(f"/api/v1/orders/{number}?token={other['lookup_token']}")
    assert_problem(wrong, 404, "not-found")


def test_a_signed_in_buyer_sees_their_orders_without_a_token(
    app, card_shop, browser_for, make_account
):
    make_account(card_shop.shop, "mei@example.com")
    make_account(card_shop.shop, "other@example.com")
    mei = browser_for(card_shop.host)
    mei.submit("/account/login", {"email": "mei@example.com", "password": PASSWORD})
    csrf = {"X-CSRFToken": mei.csrf_token("/account/")}
    created = mei.post(
        "/api/v1/orders",
        json=order_body(card_shop.product_id, email="mei@example.com"),
        headers={"Idempotency-Key": "mei-1", **csrf},
    )
    assert created.status_code == 201, created.get_data(as_text=True)
    number = created.get_json()["number"]
    assert created.get_json()["payment_options"] == ["wallet", "sandbox"]

    assert mei.get(f"/api/v1/orders/{number}").status_code == 200
    other = browser_for(card_shop.host)
    other.submit("/account/login", {"email": "other@example.com", "password": PASSWORD})
    assert_problem(other.get(f"/api/v1/orders/{number}"), 404, "not-found")


def test_an_operator_sees_history_with_actors_and_the_codes_on_the_record(
    app, card_shop, browser_for, make_api_key
):
    from sqlalchemy import select

    from app.audit.models import AuditEvent
    from app.extensions import db
    from tenants.context import tenant_context

    guest = browser_for(card_shop.host)
    order = placed(guest, card_shop.product_id)
    pay(guest, order)
    _deliver_now(app, card_shop, order)
    key = make_api_key(card_shop.shop)

    response = browser_for(card_shop.host).get(
        f"/api/v1/orders/{order['number']}", headers=bearer(key)
    )

    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "delivered" and len(body["codes"]) == 1
    assert [(h["previous"], h["status"], h["actor"]) for h in body["history"]][:2] == [
        (None, "pending_payment", "guest"),
        ("pending_payment", "paid", "sandbox"),
    ]
    assert body["payment_ref"].startswith("sb_") and body["tickets"] == []
    with app.app_context(), tenant_context(card_shop.shop):
        audit = db.session.scalars(select(AuditEvent)).all()
        assert [(a.action, a.subject) for a in audit] == [
            ("order.codes_viewed", f"order:{order['number']}")
        ]
        db.session.remove()


def _deliver_now(app, card_shop, order):
    """Run the fulfilment job body in this process, as the worker would."""
    from app.orders import jobs
    from tests.orders.support import order_id

    ident = order_id(app, card_shop.shop, order["number"])
    with app.app_context():
        assert jobs.fulfil_order(str(card_shop.shop.id), str(ident)) == "delivered"


# --- paying -------------------------------------------------------------------


def test_paying_twice_posts_to_the_ledger_once(app, card_shop, browser_for):
    guest = browser_for(card_shop.host)
    order = placed(guest, card_shop.product_id)

    first = pay(guest, order)
    second = pay(guest, order)
    third = pay(guest, order)

    assert first.status_code == 200
    for replay in (second, third):
        body = assert_problem(replay, 409, "order-not-payable")
        assert body["detail"] == "This order is paid."
    state = ledger_state(app, card_shop.shop)
    assert state["postings"] == {"order_payment": 1}
    assert state["balances"] == {"clearing:sandbox": -10000, "sales": 10000}
    assert state["sum"] == 0 and state["cached_match"]


def test_paying_needs_the_token(app, card_shop, browser_for):
    guest = browser_for(card_shop.host)
    order = placed(guest, card_shop.product_id)

    response = browser_for(card_shop.host).post(
        f"/api/v1/orders/{order['number']}/pay", json={"provider": "sandbox"}
    )

    assert_problem(response, 404, "not-found")
    assert view(guest, order).get_json()["status"] == "pending_payment"


def test_a_guest_cannot_pay_from_a_wallet_and_stripe_needs_configuring(app, card_shop, browser_for):
    guest = browser_for(card_shop.host)
    order = placed(guest, card_shop.product_id)

    wallet = pay(guest, order, "wallet")
    assert assert_problem(wallet, 422, "validation-failed")["errors"] == {
        "provider": ["Needs an account."]
    }
    assert_problem(pay(guest, order, "stripe"), 422, "payment-provider-unavailable")
    assert_problem(pay(guest, order, "cash"), 422, "validation-failed")
    assert view(guest, order).get_json()["status"] == "pending_payment"


def test_a_buyer_pays_from_their_wallet_once(app, card_shop, browser_for, make_account):
    from tests.orders.support import fund_wallet

    buyer = make_account(card_shop.shop, "mei@example.com")
    fund_wallet(app, card_shop.shop, buyer.id, 25000)
    mei = browser_for(card_shop.host)
    mei.submit("/account/login", {"email": "mei@example.com", "password": PASSWORD})
    csrf = {"X-CSRFToken": mei.csrf_token("/account/")}
    order = mei.post(
        "/api/v1/orders",
        json=order_body(card_shop.product_id, 2, email="mei@example.com"),
        headers={"Idempotency-Key": "w1", **csrf},
    ).get_json()

    paid = mei.post(
        f"/api/v1/orders/{order['number']}/pay", json={"provider": "wallet"}, headers=csrf
    )
    again = mei.post(
        f"/api/v1/orders/{order['number']}/pay", json={"provider": "wallet"}, headers=csrf
    )

    assert paid.status_code == 200 and paid.get_json()["provider"] == "wallet"
    assert_problem(again, 409, "order-not-payable")
    state = ledger_state(app, card_shop.shop)
    assert state["balances"][f"wallet:{buyer.id}"] == 5000
    assert state["sum"] == 0 and state["cached_match"]

    poorer = mei.post(
        "/api/v1/orders",
        json=order_body(card_shop.product_id, 1, email="mei@example.com"),
        headers={"Idempotency-Key": "w2", **csrf},
    ).get_json()
    short = mei.post(
        f"/api/v1/orders/{poorer['number']}/pay", json={"provider": "wallet"}, headers=csrf
    )
    assert_problem(short, 402, "insufficient-funds")
    assert mei.get(f"/api/v1/orders/{poorer['number']}").get_json()["status"] == ("pending_payment")
    assert ledger_state(app, card_shop.shop)["balances"][f"wallet:{buyer.id}"] == 5000


def test_an_expired_order_cannot_be_paid(app, card_shop, browser_for):
    from tests.factories import run_in_shop

    guest = browser_for(card_shop.host)
    order = placed(guest, card_shop.product_id)
    _age(app, card_shop.shop, order["number"])
    from app.orders import fulfilment

    response = pay(guest, order)
    assert_problem(response, 409, "order-not-payable")
    assert run_in_shop(app, card_shop.shop, fulfilment.expire_due) == 1
    assert_problem(pay(guest, order), 409, "order-not-payable")
    assert view(guest, order).get_json()["status"] == "expired"


def _age(app, tenant, number: str) -> None:
    """Move the order's hold into the past, as if its 15 minutes had passed."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import update

    from app.catalog.models import Card
    from app.extensions import db
    from app.orders.models import Order
    from tests.factories import run_in_shop

    def age():
        past = datetime.now(UTC) - timedelta(minutes=1)
        order = db.session.scalar(db.select(Order).where(Order.number == number))
        db.session.execute(update(Order).where(Order.id == order.id).values(expires_at=past))
        db.session.execute(
            update(Card).where(Card.order_id == order.id).values(reserved_until=past)
        )
        db.session.commit()

    run_in_shop(app, tenant, age)


# --- look-up ------------------------------------------------------------------


def test_lookup_by_email_and_number_gives_the_order_and_its_token(app, card_shop, browser_for):
    order = placed(browser_for(card_shop.host), card_shop.product_id, email="li@example.com")
    someone = browser_for(card_shop.host)

    found = someone.post(
        "/api/v1/orders/lookup", json={"email": "LI@example.com", "number": order["number"]}
    )
    wrong_email = someone.post(
        "/api/v1/orders/lookup", json={"email": "lu@example.com", "number": order["number"]}
    )
    wrong_number = someone.post(
        "/api/v1/orders/lookup", json={"email": "li@example.com", "number": "2601019999999"}
    )

    assert found.status_code == 200
    assert found.get_json()["lookup_token"] == order["lookup_token"]
    assert_problem(wrong_email, 404, "not-found")
    assert_problem(wrong_number, 404, "not-found")


def test_lookup_is_rate_limited(app, card_shop, browser_for, rate_limits):
    someone = browser_for(card_shop.host)
    guesses = [
        someone.post(
            "/api/v1/orders/lookup", json={"email": "li@example.com", "number": f"26010100{i:05d}"}
        )
        for i in range(11)
    ]

    assert [g.status_code for g in guesses[:10]] == [404] * 10
    assert_problem(guesses[10], 429, "rate-limited")
