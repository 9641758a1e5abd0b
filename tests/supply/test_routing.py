"""Fulfilment from sources (``app.supply.routing``) against test upstreams on
loopback ports: failover, a silent source asked again with the same key and
never bought from twice, garbage, pending purchases polled to delivery, no
source → a failed order with a ticket, and the real worker."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from tests.factories import run_in_shop
from tests.supply.conftest import (
    READ_TIMEOUT,
    attempts_of,
    fulfil_now,
    order_row,
    paid_order,
    tickets_of,
)


def _key(docked, order_id) -> str:
    return f"kameng:{docked.shop.id}:{order_id}"


def _history(app, docked, order_id) -> list[tuple[int, str]]:
    """(which upstream: 1, 2…, outcome) of each attempt."""
    rank = {str(s): n + 1 for n, s in enumerate(docked.supplier_ids)}
    return [(rank[s], outcome) for s, outcome, _ in attempts_of(app, docked.shop, order_id)]


def test_a_paid_top_up_waits_for_the_worker_then_is_bought_once(app, docked):
    shop = docked({})
    order_id = paid_order(app, shop.shop, shop.product_id)

    assert order_row(app, shop.shop, order_id)["status"] == "paid"  # not in the buyer's request
    assert fulfil_now(app, shop.shop, order_id) == "delivered"
    assert fulfil_now(app, shop.shop, order_id) == "delivered"  # a repeat changes nothing

    [upstream] = shop.upstreams
    key = _key(shop, order_id)
    assert upstream.bought == {key: 1} and upstream.asked[key] == 1
    [(supplier, outcome, used_key)] = attempts_of(app, shop.shop, order_id)
    assert (outcome, used_key) == ("delivered", key)


def test_a_refusing_source_fails_over_to_the_next(app, docked):
    shop = docked({"fail": True}, {})
    order_id = paid_order(app, shop.shop, shop.product_id)

    assert fulfil_now(app, shop.shop, order_id) == "delivered"

    first, second = shop.upstreams
    key = _key(shop, order_id)
    assert _history(app, shop, order_id) == [(1, "failed"), (2, "delivered")]
    assert not first.bought and second.bought == {key: 1}
    assert {k for _, _, k in attempts_of(app, shop.shop, order_id)} == {key}


def test_a_source_that_answers_late_is_asked_again_with_the_same_key_and_never_double_buys(
    app, docked
):
    shop = docked({"late": 1, "hang_seconds": READ_TIMEOUT * 3}, {})
    order_id = paid_order(app, shop.shop, shop.product_id)

    assert fulfil_now(app, shop.shop, order_id) == "delivered"

    first, second = shop.upstreams
    key = _key(shop, order_id)
    assert _history(app, shop, order_id) == [(1, "timeout"), (1, "delivered")]
    assert first.bought == {key: 1} and first.status_asked[key] == 1
    assert not second.asked  # the first may have bought: the second was never asked


def test_a_silent_source_keeps_the_order_until_it_answers_and_no_other_source_buys(app, docked):
    shop = docked({"hang": True, "hang_seconds": READ_TIMEOUT * 2}, {})
    first, second = shop.upstreams
    order_id = paid_order(app, shop.shop, shop.product_id)

    assert fulfil_now(app, shop.shop, order_id) == "fulfilling"
    row = order_row(app, shop.shop, order_id)
    assert "no answer in time" in row["last_error"]
    assert [o for _, o in _history(app, shop, order_id)] == ["timeout"] * 4  # 1 + 3 retries
    assert not second.asked

    from app.supply import routing

    assert run_in_shop(app, shop.shop, routing.waiting_orders) == [order_id]

    first.hang = False  # it comes back: it knows no purchase under the key, so it buys now
    assert fulfil_now(app, shop.shop, order_id) == "delivered"
    key = _key(shop, order_id)
    assert first.bought == {key: 1} and not second.asked
    assert _history(app, shop, order_id)[-2:] == [(1, "failed"), (1, "delivered")]
    assert run_in_shop(app, shop.shop, routing.waiting_orders) == []


def test_garbage_is_asked_again_and_bought_once(app, docked):
    shop = docked({"garbage": 1}, {})
    order_id = paid_order(app, shop.shop, shop.product_id)

    assert fulfil_now(app, shop.shop, order_id) == "delivered"

    first, second = shop.upstreams
    assert _history(app, shop, order_id) == [(1, "garbage"), (1, "delivered")]
    assert first.bought == {_key(shop, order_id): 1} and not second.asked


def test_a_pending_purchase_is_polled_to_delivery(app, docked):
    from app.supply import routing

    shop = docked({"pending": 2})
    order_id = paid_order(app, shop.shop, shop.product_id)

    assert fulfil_now(app, shop.shop, order_id) == "fulfilling"
    assert run_in_shop(app, shop.shop, routing.waiting_orders) == [order_id]
    assert fulfil_now(app, shop.shop, order_id) == "fulfilling"  # still pending upstream
    assert fulfil_now(app, shop.shop, order_id) == "delivered"

    [upstream] = shop.upstreams
    key = _key(shop, order_id)
    assert upstream.bought == {key: 1} and upstream.asked[key] == 1
    assert upstream.status_asked[key] == 2
    assert [o for _, o in _history(app, shop, order_id)] == ["pending", "pending", "delivered"]


def test_no_source_fails_the_order_with_a_ticket_and_a_retry_delivers(app, docked):
    from app.orders import remedies

    shop = docked({"fail": True}, {"fail": True})
    order_id = paid_order(app, shop.shop, shop.product_id)

    assert fulfil_now(app, shop.shop, order_id) == "failed"
    row = order_row(app, shop.shop, order_id)
    assert "Sold out upstream" in row["last_error"]
    assert tickets_of(app, shop.shop, order_id) == ["supply_failed"]
    assert fulfil_now(app, shop.shop, order_id) == "failed"  # nothing asked again by itself

    shop.upstreams[1].fail = False
    assert run_in_shop(app, shop.shop, remedies.retry, order_id, "owner@alpha") == "delivered"
    assert shop.upstreams[1].bought == {_key(shop, order_id): 1}


def test_a_suspended_supplier_or_disabled_source_is_not_asked(app, docked):
    from app.extensions import db
    from app.supply.models import ProductSource, Supplier

    shop = docked({}, {}, {})

    def switch_off():
        db.session.get(Supplier, shop.supplier_ids[0]).status = "suspended"
        source = db.session.query(ProductSource).filter_by(supplier_id=shop.supplier_ids[1]).one()
        source.enabled = False
        db.session.commit()

    run_in_shop(app, shop.shop, switch_off)
    order_id = paid_order(app, shop.shop, shop.product_id)

    assert fulfil_now(app, shop.shop, order_id) == "delivered"
    assert _history(app, shop, order_id) == [(3, "delivered")]


def test_a_top_up_without_sources_waits_for_the_operator(app, docked):
    shop = docked()
    order_id = paid_order(app, shop.shop, shop.product_id)

    assert fulfil_now(app, shop.shop, order_id) == "paid"
    assert attempts_of(app, shop.shop, order_id) == []


def test_the_worker_delivers_a_paid_top_up_through_its_sources(app, docked, worker):
    shop = docked({"fail": True}, {"delay": 0.2})
    order_id = paid_order(app, shop.shop, shop.product_id)

    deadline = time.monotonic() + 30
    while order_row(app, shop.shop, order_id)["status"] != "delivered":
        assert time.monotonic() < deadline, order_row(app, shop.shop, order_id)
        time.sleep(0.1)

    assert shop.upstreams[1].bought == {_key(shop, order_id): 1}
    assert _history(app, shop, order_id) == [(1, "failed"), (2, "delivered")]


def test_the_operator_sees_the_supply_ticket_and_retries_from_the_console(app, docked, browser_for):
    from app.extensions import db
    from app.orders.models import Order
    from tests.factories import PASSWORD

    shop = docked({"fail": True})
    order_id = paid_order(app, shop.shop, shop.product_id)
    assert fulfil_now(app, shop.shop, order_id) == "failed"
    number = run_in_shop(app, shop.shop, lambda: db.session.get(Order, order_id).number)

    console = browser_for(shop.shop.host)
    console.client.set_cookie("lang", "en", domain=shop.shop.host)
    signed_in = console.submit(
        "/console/login", {"email": shop.shop.owner_email, "password": PASSWORD}
    )
    assert signed_in.status_code == 302
    tickets = console.get("/console/tickets").get_data(as_text=True)
    assert number in tickets and "No source could supply it" in tickets
    assert "Sold out upstream" in tickets

    shop.upstreams[0].fail = False
    page = f"/console/orders/{number}"
    done = console.submit(page, {}, action=f"{page}/retry")

    assert done.status_code == 302
    assert order_row(app, shop.shop, order_id)["status"] == "delivered"
    assert shop.upstreams[0].bought == {_key(shop, order_id): 1}


def _late_card_order(app, shop, own_code: str):
    """A payment that arrives after the hold ran out and the shop's only
    code (``own_code``) went to another buyer (掉单). Returns (late order
    id, other order id), both paid; the other one delivered."""
    from sqlalchemy import update

    from app.catalog.models import Card
    from app.extensions import db
    from app.orders import checkout, payment
    from app.orders.models import Order
    from tests.factories import add_stock

    add_stock(app, shop.shop, shop.product_id, [own_code])

    def late_order():
        order, _ = checkout.create_order(
            product_id=shop.product_id, quantity=1, email="late@example.com", inputs={}
        )
        past = datetime.now(UTC) - timedelta(minutes=1)
        db.session.execute(update(Card).values(reserved_until=past))  # the hold ran out
        db.session.commit()
        return order.id

    late = run_in_shop(app, shop.shop, late_order)
    other = paid_order(app, shop.shop, shop.product_id, email="other@example.com")
    assert fulfil_now(app, shop.shop, other) == "delivered"  # took the shop's only code

    def pay_late():
        payment.pay_order(db.session.get(Order, late), "sandbox", buyer_id=None, actor="buyer")

    run_in_shop(app, shop.shop, pay_late)
    return late, other


def _codes(app, shop, order_id) -> list[str]:
    from app.extensions import db
    from app.orders import lookups
    from app.orders.models import Order

    return run_in_shop(
        app,
        shop.shop,
        lambda: [c["code"] for c in lookups.delivered_codes(db.session.get(Order, order_id))],
    )


def test_a_card_order_its_stock_cannot_cover_gets_its_code_from_the_source(app, docked):
    shop = docked({}, kind="card")
    late, other = _late_card_order(app, shop, "OWN-CODE-0001")

    assert fulfil_now(app, shop.shop, late) == "delivered"

    [upstream] = shop.upstreams
    assert _codes(app, shop, other) == ["OWN-CODE-0001"]
    assert _codes(app, shop, late) == ["UP-U000001-0"]  # stored encrypted as its sold card
    assert upstream.bought == {_key(shop, late): 1}
    assert tickets_of(app, shop.shop, late) == []


def test_codes_the_shop_already_holds_fail_the_order_without_buying_elsewhere(app, docked):
    shop = docked({}, {}, kind="card")
    late, _ = _late_card_order(app, shop, "UP-U000001-0")  # what the first source answers

    assert fulfil_now(app, shop.shop, late) == "failed"

    first, second = shop.upstreams
    assert first.bought == {_key(shop, late): 1} and not second.asked
    assert _codes(app, shop, late) == []
    assert tickets_of(app, shop.shop, late) == ["supply_failed"]
    assert "could not be used (U000001)" in order_row(app, shop.shop, late)["last_error"]


def test_a_paid_top_up_whose_job_was_lost_is_picked_up_by_the_poll(app, docked):
    from sqlalchemy import update

    from app.extensions import db
    from app.orders.models import Order
    from app.supply import routing

    shop = docked({})
    order_id = paid_order(app, shop.shop, shop.product_id)
    assert run_in_shop(app, shop.shop, routing.waiting_orders) == []  # its job is on its way

    def paid_a_minute_ago():
        past = datetime.now(UTC) - timedelta(minutes=1)
        db.session.execute(update(Order).where(Order.id == order_id).values(paid_at=past))
        db.session.commit()

    run_in_shop(app, shop.shop, paid_a_minute_ago)
    assert run_in_shop(app, shop.shop, routing.waiting_orders) == [order_id]
    assert fulfil_now(app, shop.shop, order_id) == "delivered"
    assert run_in_shop(app, shop.shop, routing.waiting_orders) == []


def test_the_worker_polls_a_pending_purchase_to_delivery(app, docked, worker):
    shop = docked({"pending": 3})
    order_id = paid_order(app, shop.shop, shop.product_id)

    deadline = time.monotonic() + 30
    while order_row(app, shop.shop, order_id)["status"] != "delivered":
        assert time.monotonic() < deadline, order_row(app, shop.shop, order_id)
        time.sleep(0.2)

    [upstream] = shop.upstreams
    key = _key(shop, order_id)
    assert upstream.bought == {key: 1} and upstream.asked[key] == 1
    assert upstream.status_asked[key] == 3


def test_a_source_silent_past_the_deadline_fails_the_order_and_switching_source_buys_once(
    app, docked, browser_for, monkeypatch
):
    """A source that stays silent is not waited on for ever: past
    ``SUPPLY_GIVE_UP_SECONDS`` the order fails with a ``supply_silent``
    ticket; retry asks the silent source again, and "switch source" (the
    operator's call, on the order page) buys from the next one, once."""
    from app.extensions import db
    from app.orders.models import Order
    from tests.factories import PASSWORD

    monkeypatch.setitem(app.config, "SUPPLY_GIVE_UP_SECONDS", 0)
    monkeypatch.setitem(app.config, "SUPPLY_RETRIES", 0)
    shop = docked({"hang": True, "hang_seconds": READ_TIMEOUT * 2}, {})
    first, second = shop.upstreams
    order_id = paid_order(app, shop.shop, shop.product_id)

    assert fulfil_now(app, shop.shop, order_id) == "failed"
    assert tickets_of(app, shop.shop, order_id) == ["supply_silent"]
    assert "stayed silent" in order_row(app, shop.shop, order_id)["last_error"]
    assert not second.asked
    number = run_in_shop(app, shop.shop, lambda: db.session.get(Order, order_id).number)

    console = browser_for(shop.shop.host)
    console.client.set_cookie("lang", "en", domain=shop.shop.host)
    console.submit("/console/login", {"email": shop.shop.owner_email, "password": PASSWORD})
    assert "The supplier stayed silent" in console.get("/console/tickets").get_data(as_text=True)
    page = f"/console/orders/{number}"
    assert "Switch source" in console.get(page).get_data(as_text=True)

    # Retry first: the silent source is asked for its status again, and
    # stays silent, so the order fails again and nothing else is bought.
    console.submit(page, {}, action=f"{page}/retry")
    assert order_row(app, shop.shop, order_id)["status"] == "failed"
    assert not second.asked

    done = console.submit(page, {}, action=f"{page}/switch-source")
    assert done.status_code == 302
    assert order_row(app, shop.shop, order_id)["status"] == "delivered"
    key = _key(shop, order_id)
    assert second.bought == {key: 1}
    assert [o for _, o in _history(app, shop, order_id)][-2:] == ["abandoned", "delivered"]
    history = console.get(page).get_data(as_text=True)
    assert "Stopped waiting on the silent supplier" in history


def test_switch_source_is_refused_when_no_source_holds_the_order(app, docked, make_api_key):
    """The API's switch-source answers 409 for an order no source is
    holding (a refusal everywhere): retry is the remedy there."""
    from app.extensions import db
    from app.orders.models import Order

    shop = docked({"fail": True})
    order_id = paid_order(app, shop.shop, shop.product_id)
    assert fulfil_now(app, shop.shop, order_id) == "failed"
    number = run_in_shop(app, shop.shop, lambda: db.session.get(Order, order_id).number)
    key = make_api_key(shop.shop)
    client = app.test_client()
    answer = client.post(
        f"/api/v1/orders/{number}/switch-source",
        headers={"Host": shop.shop.host, "Authorization": f"Bearer {key}"},
    )
    assert answer.status_code == 409
    assert answer.json["type"].endswith("conflict")
    assert order_row(app, shop.shop, order_id)["status"] == "failed"
