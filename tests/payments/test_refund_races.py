"""Refunds happen once: an order is claimed (``refunding``) before any
provider is asked, so two operators refunding at once — one to the card,
one to the wallet — make one refund; and a refund whose process died after
Stripe refunded is finished by the recovery job without a second refund.
Against localstripe, which counts the refunds."""

from __future__ import annotations

import pytest

from app.extensions import db
from tests.factories import add_account, add_product, codes, open_shop
from tests.payments.support import (
    ledger_keys,
    order_status,
    pay,
    payment_of,
    place_order,
    wait_for,
    wallet,
)

pytestmark = pytest.mark.critical


def paid_by_card(app, stripe_client, slug: str):
    """A delivered order of a signed-up buyer, paid by card through Stripe."""
    shop = open_shop(app, slug)
    buyer = add_account(app, shop, f"buyer@{slug}.example.com").id
    product = add_product(app, shop, price=1999, stock=codes("CODE", 3))
    order = place_order(app, shop, product, buyer_id=buyer)
    intent_id = pay(app, shop, order.id, "stripe").details["payment_intent"]
    stripe_client.v1.payment_intents.update(intent_id, params={"payment_method": "pm_card_visa"})
    stripe_client.v1.payment_intents.confirm(intent_id)
    assert wait_for(lambda: order_status(app, shop, order.id) == "delivered")
    return shop, buyer, order, intent_id


def refunds_at_stripe(stripe_client, intent_id: str) -> list[int]:
    return [
        r.amount for r in stripe_client.v1.refunds.list(params={"payment_intent": intent_id}).data
    ]


def count_refund_keys(monkeypatch) -> list[str]:
    """The idempotency key of every refund the app asks Stripe for."""
    from app.payments.adapters.stripe import StripeAdapter

    keys: list[str] = []
    real = StripeAdapter.refund

    def counted(self, **kw):
        keys.append(kw["key"])
        return real(self, **kw)

    monkeypatch.setattr(StripeAdapter, "refund", counted)
    return keys


def test_a_refund_to_the_card_and_one_to_the_wallet_at_once_refund_once(
    app, stripe_on, relay, worker, monkeypatch
):
    from app.core.errors import Conflict
    from app.orders import remedies
    from app.payments.adapters.stripe import StripeAdapter
    from tenants.context import tenant_context

    shop, buyer, order, intent_id = paid_by_card(app, stripe_on, "refund-race")
    real = StripeAdapter.refund
    second: list = []

    def refund_while_another_operator_clicks(self, **kw):
        # The second operator's click lands while Stripe is being asked.
        try:
            remedies.refund(order.id, to="wallet", actor="second operator")
            second.append("refunded")
        except Conflict as err:
            second.append(err.status)
        return real(self, **kw)

    monkeypatch.setattr(StripeAdapter, "refund", refund_while_another_operator_clicks)
    with app.app_context(), tenant_context(shop.id):
        refunded = remedies.refund(order.id, to="original", actor="first operator")
        assert refunded.status == "refunded"
        db.session.remove()

    assert second == [409]
    assert refunds_at_stripe(stripe_on, intent_id) == [order.total]
    assert wallet(app, shop, buyer) == 0
    assert ledger_keys(app, shop) == sorted([f"pay:{order.id}", f"refund:{order.id}"])
    assert payment_of(app, shop, intent_id)["status"] == "refunded"


def test_a_refund_of_an_order_being_refunded_is_a_conflict(app, stripe_on, relay, worker):
    from app.core.errors import Conflict
    from app.orders import remedies, state
    from tenants.context import tenant_context

    shop, buyer, order, intent_id = paid_by_card(app, stripe_on, "refund-claimed")
    with app.app_context(), tenant_context(shop.id):
        assert state.transition(order.id, "delivered", "refunding", actor="first operator")
        db.session.commit()
        with pytest.raises(Conflict) as refused:
            remedies.refund(order.id, to="wallet", actor="second operator")
        db.session.remove()

    assert refused.value.status == 409
    assert refunds_at_stripe(stripe_on, intent_id) == []
    assert wallet(app, shop, buyer) == 0
    assert ledger_keys(app, shop) == [f"pay:{order.id}"]


def test_a_refund_that_died_after_stripe_refunded_is_finished_by_the_job_without_a_second_refund(
    app, stripe_on, relay, worker, monkeypatch
):
    from app.orders import jobs, remedies
    from tenants.context import tenant_context

    shop, buyer, order, intent_id = paid_by_card(app, stripe_on, "refund-crash")
    keys = count_refund_keys(monkeypatch)
    real_finish = remedies.finish_refund
    crashes = []

    def finish_dies_once(*args, **kw):
        if not crashes:
            crashes.append(1)
            raise RuntimeError("the process died here")
        return real_finish(*args, **kw)

    monkeypatch.setattr(remedies, "finish_refund", finish_dies_once)
    with app.app_context(), tenant_context(shop.id):
        with pytest.raises(RuntimeError):
            remedies.refund(order.id, to="original", actor="owner")
        db.session.remove()

    assert order_status(app, shop, order.id) == "refunding"
    assert refunds_at_stripe(stripe_on, intent_id) == [order.total]
    assert ledger_keys(app, shop) == [f"pay:{order.id}"]

    with app.app_context():
        assert jobs.finish_stale_refunds() == 0  # claimed just now: not stale yet
    monkeypatch.setitem(app.config, "ORDER_REFUND_RECOVERY_SECONDS", 0)
    with app.app_context():
        assert jobs.finish_stale_refunds() == 1
        assert jobs.finish_stale_refunds() == 0  # a second run changes nothing

    assert order_status(app, shop, order.id) == "refunded"
    assert keys == [f"kameng-refund-{order.id}"] * 2  # asked again, with the same key
    assert refunds_at_stripe(stripe_on, intent_id) == [order.total]
    assert wallet(app, shop, buyer) == 0
    assert ledger_keys(app, shop) == sorted([f"pay:{order.id}", f"refund:{order.id}"])
    assert payment_of(app, shop, intent_id)["status"] == "refunded"


def test_a_wallet_refund_that_died_after_its_claim_is_finished_to_the_wallet(
    app, stripe_on, relay, worker, monkeypatch
):
    from app.orders import jobs, remedies
    from tenants.context import tenant_context

    shop, buyer, order, intent_id = paid_by_card(app, stripe_on, "refund-crash-wallet")
    keys = count_refund_keys(monkeypatch)
    monkeypatch.setattr(
        remedies, "finish_refund", lambda *a, **kw: (_ for _ in ()).throw(RuntimeError("died"))
    )
    with app.app_context(), tenant_context(shop.id):
        with pytest.raises(RuntimeError):
            remedies.refund(order.id, to="wallet", actor="owner")
        db.session.remove()
    monkeypatch.undo()
    monkeypatch.setitem(app.config, "ORDER_REFUND_RECOVERY_SECONDS", 0)

    with app.app_context():
        assert jobs.finish_stale_refunds() == 1

    assert order_status(app, shop, order.id) == "refunded"
    assert keys == []
    assert refunds_at_stripe(stripe_on, intent_id) == []
    assert wallet(app, shop, buyer) == order.total


def test_a_refund_the_provider_refuses_stays_claimed_opens_one_ticket_and_is_retried(
    app, stripe_on, relay, worker, monkeypatch
):
    from sqlalchemy import select, update

    from app.orders import jobs, remedies
    from app.orders.models import Order, Ticket
    from app.payments.adapters.base import ProviderError
    from tenants.context import tenant_context

    shop, buyer, order, intent_id = paid_by_card(app, stripe_on, "refund-refused")

    def point_order_at(ref: str) -> None:
        with app.app_context(), tenant_context(shop.id):
            db.session.execute(update(Order).where(Order.id == order.id).values(payment_ref=ref))
            db.session.commit()
            db.session.remove()

    def open_tickets() -> list[str]:
        with app.app_context(), tenant_context(shop.id):
            reasons = list(
                db.session.scalars(
                    select(Ticket.reason).where(
                        Ticket.order_id == order.id, Ticket.status == "open"
                    )
                )
            )
            db.session.remove()
        return reasons

    point_order_at("pi_that_stripe_never_made")  # Stripe answers: no such payment intent
    with app.app_context(), tenant_context(shop.id):
        with pytest.raises(ProviderError) as refused:
            remedies.refund(order.id, to="original", actor="owner")
        db.session.remove()
    assert refused.value.status == 502
    assert order_status(app, shop, order.id) == "refunding"  # still claimed: no second refund
    assert open_tickets() == ["refund_refused"]

    monkeypatch.setitem(app.config, "ORDER_REFUND_RECOVERY_SECONDS", 0)
    with app.app_context():
        assert jobs.finish_stale_refunds() == 0  # refused again: still one ticket
    assert open_tickets() == ["refund_refused"]
    assert order_status(app, shop, order.id) == "refunding"

    point_order_at(intent_id)  # the cause fixed: the next retry completes it
    with app.app_context():
        assert jobs.finish_stale_refunds() == 1
    assert order_status(app, shop, order.id) == "refunded"
    assert open_tickets() == []
    assert refunds_at_stripe(stripe_on, intent_id) == [order.total]
    assert ledger_keys(app, shop) == sorted([f"pay:{order.id}", f"refund:{order.id}"])
