"""Stripe Connect as Stripe documents it: a shop's PaymentIntents and refunds
are made on its connected account (the ``Stripe-Account`` header), with the
platform's fee as ``application_fee_amount``.

localstripe refuses Connect's parameters, so these tests point
``STRIPE_API_BASE`` at a small real HTTP server that records each request
the real ``stripe`` library sends and answers a minimal object.
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest

from app.extensions import db
from tests.factories import add_account, add_product, codes, open_shop
from tests.payments.support import (
    WEBHOOK_SECRET,
    ledger_keys,
    order_status,
    pay,
    place_order,
    post_webhook,
    sign,
    stored_events,
    stripe_event,
)

ACCOUNT = "acct_1KamengConnected"


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict
    form: dict


@dataclass
class StripeRecorder:
    url: str = ""
    requests: list[Recorded] = field(default_factory=list)

    def answer(self, path: str, form: dict) -> dict:
        n = len(self.requests)
        if path == "/v1/payment_intents":
            intent_id = f"pi_recorded_{n}"
            return {
                "id": intent_id,
                "object": "payment_intent",
                "amount": int(form["amount"]),
                "currency": form["currency"],
                "client_secret": f"{intent_id}_secret_recorded",
                "status": "requires_payment_method",
            }
        if path == "/v1/refunds":
            return {"id": f"re_recorded_{n}", "object": "refund", "status": "succeeded"}
        return {"error": {"type": "invalid_request_error", "message": "not recorded"}}


@pytest.fixture
def recorder(app, monkeypatch):
    recorder = StripeRecorder()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
            form = {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}
            body = recorder.answer(self.path, form)
            recorder.requests.append(Recorded("POST", self.path, dict(self.headers), form))
            payload = json.dumps(body).encode()
            self.send_response(400 if "error" in body else 200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self):  # noqa: N802 - http.server's name
            recorder.requests.append(Recorded("GET", self.path, dict(self.headers), {}))
            payload = json.dumps({"object": "list", "data": [], "has_more": False}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, name="stripe-recorder", daemon=True)
    thread.start()
    recorder.url = f"http://127.0.0.1:{server.server_port}"
    monkeypatch.setitem(app.config, "STRIPE_SECRET_KEY", "sk_test_recorded")
    monkeypatch.setitem(app.config, "STRIPE_API_BASE", recorder.url)
    monkeypatch.setitem(app.config, "STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET)
    monkeypatch.setitem(app.config, "STRIPE_PAYMENT_METHODS", ["card", "alipay", "wechat_pay"])
    monkeypatch.setitem(app.config, "PLATFORM_FEE_BPS", 300)
    yield recorder
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()


def test_a_connected_shop_is_paid_on_its_account_with_the_platform_fee(app, recorder):
    shop = open_shop(app, "connected", stripe_account=ACCOUNT)
    order = place_order(app, shop, add_product(app, shop, price=1999, stock=codes("CODE", 5)))

    started = pay(app, shop, order.id, "stripe")

    [sent] = recorder.requests
    assert (sent.method, sent.path) == ("POST", "/v1/payment_intents")
    assert sent.headers["Stripe-Account"] == ACCOUNT
    payment_id = sent.form["metadata[kameng_payment_id]"]
    assert sent.headers["Idempotency-Key"] == f"kameng-order-{payment_id}"
    assert started.payment_id == uuid.UUID(payment_id)
    assert sent.headers["Authorization"] == "Bearer sk_test_recorded"
    assert sent.form["amount"] == "1999"
    assert sent.form["currency"] == "cny"
    assert sent.form["application_fee_amount"] == "60"  # 3% of 19.99 = 0.5997, rounded once
    assert [sent.form[f"payment_method_types[{i}]"] for i in range(3)] == [
        "card",
        "alipay",
        "wechat_pay",
    ]
    assert sent.form["metadata[kameng_tenant_id]"] == str(shop.id)
    assert sent.form["metadata[kameng_order_id]"] == str(order.id)
    assert started.details == {
        "payment_intent": "pi_recorded_0",
        "client_secret": "pi_recorded_0_secret_recorded",
    }


def test_a_connected_shops_event_pays_the_order_and_the_refund_returns_the_fee(
    app, recorder, live_server
):
    from app.orders import remedies
    from tenants.context import tenant_context

    shop = open_shop(app, "connected-refund", stripe_account=ACCOUNT)
    order = place_order(app, shop, add_product(app, shop, price=2500, stock=codes("CODE", 5)))
    intent_id = pay(app, shop, order.id, "stripe").details["payment_intent"]
    intent = {
        "id": intent_id,
        "object": "payment_intent",
        "amount": 2500,
        "amount_received": 2500,
        "currency": "cny",
        "status": "succeeded",
        "metadata": {"kameng_tenant_id": str(shop.id), "kameng_order_id": str(order.id)},
    }
    event = stripe_event("payment_intent.succeeded", intent, account=ACCOUNT)
    assert post_webhook(live_server, event, sign(event))[1]["outcome"] == "order_paid"
    assert order_status(app, shop, order.id) == "paid"

    with app.app_context(), tenant_context(shop.id):
        remedies.refund(order.id, to="original", actor="owner")
        db.session.remove()

    looked, refund = recorder.requests[-2:]
    assert (looked.method, looked.path.split("?")[0]) == ("GET", "/v1/refunds")
    assert looked.headers["Stripe-Account"] == ACCOUNT
    assert refund.path == "/v1/refunds"
    assert refund.headers["Stripe-Account"] == ACCOUNT
    assert refund.headers["Idempotency-Key"] == f"kameng-refund-{order.id}"
    assert refund.form == {"payment_intent": intent_id, "refund_application_fee": "true"}
    assert ledger_keys(app, shop) == sorted([f"pay:{order.id}", f"refund:{order.id}"])


def test_a_shop_without_a_connected_account_is_paid_on_the_platforms_account(app, recorder):
    shop = open_shop(app, "unconnected")
    order = place_order(app, shop, add_product(app, shop, price=1999, stock=codes("CODE", 5)))

    pay(app, shop, order.id, "stripe")

    [sent] = recorder.requests
    assert "Stripe-Account" not in sent.headers
    assert "application_fee_amount" not in sent.form


def test_a_recharge_on_a_connected_shop_carries_the_fee_too(app, recorder):
    from app.payments import recharges
    from tenants.context import tenant_context

    shop = open_shop(app, "connected-recharge", stripe_account=ACCOUNT)
    buyer = add_account(app, shop, "buyer@connected-recharge.example.com").id
    with app.app_context(), tenant_context(shop.id):
        payment, started = recharges.start_recharge(buyer, 5000, "stripe", actor="test")
        payment_id = payment.id
        db.session.remove()

    [sent] = recorder.requests
    assert sent.headers["Stripe-Account"] == ACCOUNT
    assert sent.headers["Idempotency-Key"] == f"kameng-recharge-{payment_id}"
    assert sent.form["application_fee_amount"] == "150"
    assert sent.form["metadata[kameng_purpose]"] == "recharge"
    assert uuid.UUID(sent.form["metadata[kameng_payment_id]"]) == payment_id
    assert started.details["payment_intent"] == "pi_recorded_0"


def _lose_the_intent_id(app, shop, payment_id) -> None:
    """What a crash between creating the intent and saving its id leaves:
    our payment row, still pending, with no reference from Stripe."""
    from sqlalchemy import update

    from app.payments.models import Payment
    from app.payments.services import pending_ref
    from tenants.context import tenant_context

    with app.app_context(), tenant_context(shop.id):
        db.session.execute(
            update(Payment)
            .where(Payment.id == payment_id)
            .values(provider_ref=pending_ref(payment_id))
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
        db.session.remove()


def _tickets(app, shop, order_id) -> list[tuple[str, str]]:
    from sqlalchemy import select

    from app.orders.models import Ticket
    from tests.factories import run_in_shop

    return run_in_shop(
        app,
        shop,
        lambda: [
            (t.reason, t.status)
            for t in db.session.scalars(select(Ticket).where(Ticket.order_id == order_id))
        ],
    )


@pytest.mark.parametrize(
    ("forge", "outcome", "status"),
    [
        (None, "order_paid", "paid"),
        ("another-account", "unknown_payment", "pending_payment"),
        ("no-payment-of-ours", "unverified_payment", "pending_payment"),
        ("another-payment-id", "unverified_payment", "pending_payment"),
        ("less-money", "unverified_payment", "pending_payment"),
        ("other-currency", "unverified_payment", "pending_payment"),
        ("no-fee", "unverified_payment", "pending_payment"),
        ("smaller-fee", "unverified_payment", "pending_payment"),
        ("livemode", "unverified_payment", "pending_payment"),
    ],
)
def test_a_payment_whose_record_was_lost_is_adopted_only_as_we_started_it(
    app, recorder, live_server, forge, outcome, status
):
    """The PaymentIntent was created but our process died before saving its
    id: the event is adopted only when it names our pending payment for the
    order, with its amount, currency and the platform's fee, from the shop's
    account and in our live mode. Otherwise the order is not paid, and when
    the money landed on the shop's account the operator gets a ticket."""
    shop = open_shop(app, f"lost-{forge or 'ours'}", stripe_account=ACCOUNT)
    order = place_order(app, shop, add_product(app, shop, price=800, stock=codes("CODE", 5)))
    started = pay(app, shop, order.id, "stripe")
    _lose_the_intent_id(app, shop, started.payment_id)
    intent = {
        "id": started.details["payment_intent"],
        "object": "payment_intent",
        "amount": 800,
        "amount_received": 800,
        "currency": "cny",
        "application_fee_amount": 24,  # 3% of 8.00
        "metadata": {
            "kameng_tenant_id": str(shop.id),
            "kameng_purpose": "order",
            "kameng_order_id": str(order.id),
            "kameng_payment_id": str(started.payment_id),
        },
    }
    sender, livemode = ACCOUNT, False
    if forge == "another-account":
        sender = "acct_someone_else"
    elif forge == "no-payment-of-ours":
        intent["id"] = "pi_made_in_the_dashboard"
        del intent["metadata"]["kameng_payment_id"]
    elif forge == "another-payment-id":
        intent["metadata"]["kameng_payment_id"] = str(uuid.uuid4())
    elif forge == "less-money":
        intent["amount"] = intent["amount_received"] = 1
    elif forge == "other-currency":
        intent["currency"] = "usd"
    elif forge == "no-fee":
        del intent["application_fee_amount"]
    elif forge == "smaller-fee":
        intent["application_fee_amount"] = 1
    elif forge == "livemode":
        livemode = True
    event = stripe_event("payment_intent.succeeded", intent, account=sender, livemode=livemode)

    assert post_webhook(live_server, event, sign(event))[1]["outcome"] == outcome
    assert order_status(app, shop, order.id) == status
    if status == "paid":
        assert ledger_keys(app, shop) == [f"pay:{order.id}"]
        assert _tickets(app, shop, order.id) == []
    else:
        assert ledger_keys(app, shop) == []
    if outcome == "unverified_payment":
        assert _tickets(app, shop, order.id) == [("unverified_payment", "open")]
        events = stored_events(app, event_id=json.loads(event)["id"])
        assert [(e["outcome"], e["tenant_id"]) for e in events] == [(outcome, shop.id)]
    if forge == "another-account":
        assert _tickets(app, shop, order.id) == []


def test_a_retried_payment_after_a_crash_asks_stripe_with_the_same_key(app, recorder):
    """The buyer presses pay again after our process died before saving the
    intent's id: the same pending payment, hence the same idempotency key,
    so Stripe answers the intent it already made rather than a second one."""
    shop = open_shop(app, "connected-retry", stripe_account=ACCOUNT)
    order = place_order(app, shop, add_product(app, shop, price=800, stock=codes("CODE", 5)))
    first = pay(app, shop, order.id, "stripe")
    _lose_the_intent_id(app, shop, first.payment_id)

    second = pay(app, shop, order.id, "stripe")

    assert second.payment_id == first.payment_id
    keys = [r.headers["Idempotency-Key"] for r in recorder.requests]
    assert keys == [f"kameng-order-{first.payment_id}"] * 2
