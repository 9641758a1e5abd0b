"""Paying with Stripe end to end, against localstripe: the PaymentIntent is
created on our side, the buyer's card is confirmed at "Stripe", Stripe's
signed webhook reaches the app over HTTP, the order is paid and the worker
delivers it. Replays, events out of order and forged signatures change
nothing; refunds go back to the card."""

from __future__ import annotations

import pytest

from app.extensions import db
from tests.factories import add_product, codes, open_shop, run_in_shop
from tests.payments.support import (
    deliveries,
    intent_dict,
    ledger_keys,
    order_status,
    pay,
    payment_of,
    place_order,
    post_webhook,
    sign,
    sold_cards,
    stored_events,
    stripe_event,
    wait_for,
)

pytestmark = pytest.mark.critical


def start_card_order(app, slug: str, price: int = 1999):
    shop = open_shop(app, slug)
    product = add_product(app, shop, price=price, stock=codes("CODE", 3))
    order = place_order(app, shop, product)
    started = pay(app, shop, order.id, "stripe")
    return shop, order, started


def pay_with_test_card(stripe_client, intent_id: str, card: str = "pm_card_visa"):
    """What Stripe.js does in the buyer's browser with the client secret."""
    stripe_client.v1.payment_intents.update(intent_id, params={"payment_method": card})
    return stripe_client.v1.payment_intents.confirm(intent_id)


def test_card_paid_with_stripe_is_delivered_once_however_often_the_webhook_comes(
    app, stripe_on, relay, worker
):
    shop, order, started = start_card_order(app, "stripe-card")
    assert started.status == "requires_action"
    intent_id = started.details["payment_intent"]
    assert started.details["client_secret"].startswith(intent_id)
    assert order_status(app, shop, order.id) == "pending_payment"

    intent = pay_with_test_card(stripe_on, intent_id)
    assert intent.status == "succeeded"

    assert wait_for(lambda: order_status(app, shop, order.id) == "delivered")
    delivery = relay.wait(intent_id, "payment_intent.succeeded")
    assert wait_for(lambda: relay.answers)
    assert relay.answers[0] == (
        200,
        {"received": True, "duplicate": False, "outcome": "order_paid"},
    )
    assert payment_of(app, shop, intent_id)["status"] == "succeeded"

    for _ in range(3):  # Stripe retries, an attacker replays: the same signed bytes
        assert relay.forward(delivery) == (
            200,
            {"received": True, "duplicate": True, "outcome": "order_paid"},
        )

    assert ledger_keys(app, shop) == [f"pay:{order.id}"]
    assert sold_cards(app, shop, order.id) == 1
    assert deliveries(app, shop, order.id) == 1
    assert order_status(app, shop, order.id) == "delivered"
    assert len(stored_events(app, event_id=delivery.event["id"])) == 1
    assert stored_events(app, event_id=delivery.event["id"])[0]["tenant_id"] == shop.id


def test_webhook_answers_on_a_shop_host_too(app, stripe_on, relay):
    relay.mode = "hold"
    shop, order, started = start_card_order(app, "stripe-host")
    intent_id = started.details["payment_intent"]
    pay_with_test_card(stripe_on, intent_id)
    delivery = relay.wait(intent_id, "payment_intent.succeeded")

    status, body = relay.forward(delivery, host=shop.host)
    assert (status, body["outcome"]) == (200, "order_paid")
    assert order_status(app, shop, order.id) == "paid"
    # The same event at the platform's address is the same event.
    assert relay.forward(delivery, host="localhost")[1]["duplicate"] is True
    # Hosts no shop answers at stay unanswered.
    assert relay.forward(delivery, host="nobody.localhost")[0] == 404


@pytest.mark.parametrize(
    "failure_first", [True, False], ids=["failed-then-succeeded", "succeeded-then-failed"]
)
def test_a_failure_and_a_success_in_any_order_leave_the_order_paid(
    app, stripe_on, relay, failure_first
):
    relay.mode = "hold"
    shop, order, started = start_card_order(app, f"stripe-fail-{int(failure_first)}")
    intent_id = started.details["payment_intent"]
    failed_view = intent_dict(stripe_on.v1.payment_intents.retrieve(intent_id))
    failed_view["last_payment_error"] = {"code": "card_declined", "message": "Declined."}
    failed = stripe_event("payment_intent.payment_failed", failed_view)
    pay_with_test_card(stripe_on, intent_id)
    succeeded = relay.wait(intent_id, "payment_intent.succeeded")

    if failure_first:
        assert (
            post_webhook(relay.live_server, failed, sign(failed))[1]["outcome"] == "payment_failed"
        )
        assert payment_of(app, shop, intent_id)["status"] == "failed"
        assert relay.forward(succeeded)[1]["outcome"] == "order_paid"
    else:
        assert relay.forward(succeeded)[1]["outcome"] == "order_paid"
        assert post_webhook(relay.live_server, failed, sign(failed))[1]["outcome"] == "unchanged"

    assert payment_of(app, shop, intent_id)["status"] == "succeeded"
    assert order_status(app, shop, order.id) == "paid"
    assert ledger_keys(app, shop) == [f"pay:{order.id}"]


def test_success_delivered_before_the_created_event_pays_once(app, stripe_on, relay):
    relay.mode = "hold"
    shop, order, started = start_card_order(app, "stripe-created")
    intent_id = started.details["payment_intent"]
    created = stripe_event(
        "payment_intent.created", intent_dict(stripe_on.v1.payment_intents.retrieve(intent_id))
    )
    pay_with_test_card(stripe_on, intent_id)
    succeeded = relay.wait(intent_id, "payment_intent.succeeded")

    assert relay.forward(succeeded)[1]["outcome"] == "order_paid"
    status, body = post_webhook(relay.live_server, created, sign(created))
    assert (status, body["outcome"]) == (200, "ignored")

    assert order_status(app, shop, order.id) == "paid"
    assert payment_of(app, shop, intent_id)["status"] == "succeeded"
    assert ledger_keys(app, shop) == [f"pay:{order.id}"]


def test_a_refund_made_at_stripe_before_the_success_arrives_pays_nothing(app, stripe_on, relay):
    relay.mode = "hold"
    shop, order, started = start_card_order(app, "stripe-early-refund")
    intent_id = started.details["payment_intent"]
    intent = pay_with_test_card(stripe_on, intent_id)
    stripe_on.v1.refunds.create(params={"payment_intent": intent_id})  # from the Dashboard
    charge = intent_dict(stripe_on.v1.charges.retrieve(_charge_id(intent)))
    assert charge["amount_refunded"] == order.total
    refunded = stripe_event("charge.refunded", charge)
    succeeded = relay.wait(intent_id, "payment_intent.succeeded")

    assert post_webhook(relay.live_server, refunded, sign(refunded))[1]["outcome"] == (
        "refunded_outside_kameng"
    )
    assert relay.forward(succeeded)[1]["outcome"] == "already_refunded"

    assert order_status(app, shop, order.id) == "pending_payment"
    assert payment_of(app, shop, intent_id)["status"] == "refunded"
    assert ledger_keys(app, shop) == []


@pytest.mark.parametrize(
    "forge",
    ["other-secret", "tampered-body", "no-header", "stale-timestamp", "not-json"],
)
def test_a_bad_signature_is_refused_and_nothing_is_recorded(app, stripe_on, relay, forge):
    relay.mode = "hold"
    shop, order, started = start_card_order(app, f"stripe-forged-{forge}")
    intent_id = started.details["payment_intent"]
    pay_with_test_card(stripe_on, intent_id)
    genuine = relay.wait(intent_id, "payment_intent.succeeded")
    body, signature = genuine.body, genuine.signature
    if forge == "other-secret":
        signature = sign(body, secret="whsec_someone_else")
    elif forge == "tampered-body":
        body = body.replace(b'"amount": 1999', b'"amount": 1')
        assert body != genuine.body
    elif forge == "no-header":
        signature = None
    elif forge == "stale-timestamp":
        signature = sign(body, timestamp=genuine.event["created"] - 3600)
    elif forge == "not-json":
        body = b"not json at all"
        signature = sign(body)

    status, problem = post_webhook(relay.live_server, body, signature)

    assert status == 400
    assert problem["type"].endswith("/webhook-signature-invalid")
    assert problem["status"] == 400 and problem["detail"]
    assert stored_events(app, event_id=genuine.event["id"]) == []
    assert order_status(app, shop, order.id) == "pending_payment"
    assert payment_of(app, shop, intent_id)["status"] == "pending"
    assert ledger_keys(app, shop) == []
    # The genuine delivery still works afterwards.
    assert relay.forward(genuine)[1]["outcome"] == "order_paid"


def test_an_event_for_a_payment_we_never_started_changes_nothing(app, stripe_on, relay):
    """Another Stripe account's PaymentIntent naming our shop and order in
    its metadata (signed: Connect forwards connected accounts' events)."""
    shop, order, started = start_card_order(app, "stripe-foreign")
    foreign = stripe_on.v1.payment_intents.create(
        params={
            "amount": order.total,
            "currency": "cny",
            "metadata": {"kameng_tenant_id": str(shop.id), "kameng_order_id": str(order.id)},
        }
    )
    event = stripe_event(
        "payment_intent.succeeded", intent_dict(foreign), account="acct_someone_else"
    )

    status, body = post_webhook(relay.live_server, event, sign(event))

    assert (status, body["outcome"]) == (200, "unknown_payment")
    assert order_status(app, shop, order.id) == "pending_payment"
    assert ledger_keys(app, shop) == []


def test_an_intent_on_the_shops_account_we_never_created_pays_nothing_and_opens_a_ticket(
    app, stripe_on, relay
):
    """Someone with access to the shop's Stripe account (or a second
    integration on it) makes and pays an intent whose metadata names one of
    the shop's orders: the money is real, but not a payment we started."""
    shop, order, _ = start_card_order(app, "stripe-stranger")
    relay.mode = "hold"
    stranger = stripe_on.v1.payment_intents.create(
        params={
            "amount": order.total,
            "currency": "cny",
            "payment_method_types": ["card"],
            "metadata": {
                "kameng_tenant_id": str(shop.id),
                "kameng_purpose": "order",
                "kameng_order_id": str(order.id),
            },
        }
    )
    pay_with_test_card(stripe_on, stranger.id)
    delivery = relay.wait(stranger.id, "payment_intent.succeeded")

    status, body = relay.forward(delivery)

    assert (status, body["outcome"]) == (200, "unverified_payment")
    assert order_status(app, shop, order.id) == "pending_payment"
    assert ledger_keys(app, shop) == []
    assert payment_of(app, shop, stranger.id) is None
    assert _ticket_reasons(app, shop, order.id) == ["unverified_payment"]
    [stored] = stored_events(app, event_id=delivery.event["id"])
    assert (stored["outcome"], stored["tenant_id"]) == ("unverified_payment", shop.id)
    # A replay opens no second ticket.
    assert relay.forward(delivery)[1]["duplicate"] is True
    assert _ticket_reasons(app, shop, order.id) == ["unverified_payment"]


def test_an_intent_whose_id_we_never_saved_still_pays_the_order(app, stripe_on, relay, worker):
    """Our process died between creating the intent and saving its id: the
    pending payment it recorded first is named in the intent, so Stripe's
    event still pays the order, once."""
    from sqlalchemy import update

    from app.payments.models import Payment
    from app.payments.services import pending_ref

    shop, order, started = start_card_order(app, "stripe-crashed")
    intent_id = started.details["payment_intent"]

    def lose_the_id():
        db.session.execute(
            update(Payment)
            .where(Payment.id == started.payment_id)
            .values(provider_ref=pending_ref(started.payment_id))
            .execution_options(synchronize_session=False)
        )
        db.session.commit()

    run_in_shop(app, shop, lose_the_id)
    assert payment_of(app, shop, intent_id) is None

    pay_with_test_card(stripe_on, intent_id)

    assert wait_for(lambda: order_status(app, shop, order.id) == "delivered")
    assert relay.answers[0] == (
        200,
        {"received": True, "duplicate": False, "outcome": "order_paid"},
    )
    assert payment_of(app, shop, intent_id)["status"] == "succeeded"
    assert ledger_keys(app, shop) == [f"pay:{order.id}"]
    assert _ticket_reasons(app, shop, order.id) == []


def _ticket_reasons(app, shop, order_id) -> list[str]:
    from sqlalchemy import select

    from app.orders.models import Ticket

    return run_in_shop(
        app,
        shop,
        lambda: list(db.session.scalars(select(Ticket.reason).where(Ticket.order_id == order_id))),
    )


def test_refund_to_the_card_goes_back_through_stripe(app, stripe_on, relay, worker):
    from app.orders import remedies
    from tenants.context import tenant_context

    shop, order, started = start_card_order(app, "stripe-refund")
    intent_id = started.details["payment_intent"]
    intent = pay_with_test_card(stripe_on, intent_id)
    assert wait_for(lambda: order_status(app, shop, order.id) == "delivered")

    with app.app_context(), tenant_context(shop.id):
        refunded = remedies.refund(order.id, to="original", actor="owner")
        assert refunded.status == "refunded"
        db.session.remove()

    at_stripe = stripe_on.v1.refunds.list(params={"payment_intent": intent_id}).data
    assert [(r.amount, r.status) for r in at_stripe] == [(order.total, "succeeded")]
    assert ledger_keys(app, shop) == sorted([f"pay:{order.id}", f"refund:{order.id}"])
    assert payment_of(app, shop, intent_id) | {"id": None} == {
        "id": None,
        "status": "refunded",
        "amount": order.total,
        "refunded": order.total,
    }
    # Stripe then reports the refund; it is already on record.
    charge = intent_dict(stripe_on.v1.charges.retrieve(_charge_id(intent)))
    event = stripe_event("charge.refunded", charge)
    assert post_webhook(relay.live_server, event, sign(event))[1]["outcome"] == "unchanged"
    voided = run_in_shop(app, shop, lambda: _card_statuses(order.id))
    assert voided == ["void"]


def _charge_id(intent) -> str:
    charge = intent.latest_charge
    return charge if isinstance(charge, str) else charge.id


def _card_statuses(order_id):
    from sqlalchemy import select

    from app.catalog.models import Card

    return list(db.session.scalars(select(Card.status).where(Card.order_id == order_id)))
