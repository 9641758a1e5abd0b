"""The operator console's order pages: list, one order, tickets and the
actions on them, each recorded in the order's history."""

from __future__ import annotations

import re

import pytest

from tests.conftest import PASSWORD
from tests.factories import add_stock, codes, run_in_shop
from tests.orders.support import order_id, pay, placed


@pytest.fixture
def console(card_shop, browser_for):
    """The shop's owner signed in to its console, in English."""
    browser = browser_for(card_shop.host)
    browser.client.set_cookie("lang", "en", domain=card_shop.host)
    response = browser.submit(
        "/console/login", {"email": card_shop.shop.owner_email, "password": PASSWORD}
    )
    assert response.status_code == 302
    return browser


def _text(response) -> str:
    return response.get_data(as_text=True)


def _failed(app, card_shop, browser_for) -> dict:
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
    return order


def test_the_console_lists_orders_and_flags_tickets(app, card_shop, browser_for, console):
    order = _failed(app, card_shop, browser_for)
    placed(browser_for(card_shop.host), card_shop.product_id, email="other@example.com")

    page = _text(console.get("/console/orders"))
    failed_only = _text(console.get("/console/orders?status=failed"))
    tickets = _text(console.get("/console/tickets"))

    assert 'href="/console/orders"' in _text(console.get("/console/"))
    assert order["number"] in page and "other@example.com" in page
    assert "1 orders need you" in page
    assert order["number"] in failed_only and "other@example.com" not in failed_only
    assert order["number"] in tickets and "Out of stock" in tickets


def test_an_operator_retries_a_failed_order_from_its_page(app, card_shop, browser_for, console):
    order = _failed(app, card_shop, browser_for)
    page = f"/console/orders/{order['number']}"
    assert "Retry delivery" in _text(console.get(page))

    add_stock(app, card_shop.shop, card_shop.product_id, codes("MORE", 1))
    done = console.submit(page, {}, action=f"{page}/retry")

    assert done.status_code == 302
    after = _text(console.get(page))
    assert "Delivery tried again." in after and "Delivered" in after
    assert re.search(r"<td>owner@alpha\.example\.com</td><td>Delivery tried again</td>", after)


def test_an_operator_delivers_by_hand_and_refunds(app, card_shop, browser_for, console):
    order = _failed(app, card_shop, browser_for)
    page = f"/console/orders/{order['number']}"

    console.submit(page, {"content": "HAND-123"}, action=f"{page}/deliver")
    delivered = _text(console.get(page))
    console.submit(page, {"to": "original"}, action=f"{page}/refund")
    refunded = _text(console.get(page))

    assert "Delivered by hand." in delivered
    assert "Refunded." in refunded and "Refunded to the original payment" in refunded
    seen = browser_for(card_shop.host).get(
        f"/api/v1/orders/{order['number']}?token={order['lookup_token']}"
    )
    assert seen.get_json()["status"] == "refunded"


def test_codes_are_shown_to_an_operator_only_on_request_and_on_the_record(
    app, card_shop, browser_for, console
):
    from sqlalchemy import select

    from app.audit.models import AuditEvent
    from app.extensions import db
    from app.orders import fulfilment
    from tenants.context import tenant_context

    guest = browser_for(card_shop.host)
    order = placed(guest, card_shop.product_id)
    pay(guest, order)
    run_in_shop(
        app, card_shop.shop, fulfilment.fulfil, order_id(app, card_shop.shop, order["number"])
    )
    page = f"/console/orders/{order['number']}"

    hidden = _text(console.get(page))
    shown = _text(console.submit(page, {}, action=f"{page}/codes"))

    assert not any(code in hidden for code in card_shop.stock)
    assert sum(code in shown for code in card_shop.stock) == 1
    with app.app_context(), tenant_context(card_shop.shop):
        assert [a.action for a in db.session.scalars(select(AuditEvent))] == ["order.codes_viewed"]
        db.session.remove()


def test_a_buyer_cannot_open_the_console_orders(app, card_shop, browser_for):
    guest = browser_for(card_shop.host)

    response = guest.get("/console/orders")

    assert response.status_code == 302 and "/console/login" in response.location


def test_a_refused_action_is_explained_in_the_operators_language(
    app, card_shop, browser_for, console
):
    """A guest order cannot be refunded to a wallet: the console says so in
    Chinese to a Chinese-speaking operator, and the order stays as it was."""
    order = _failed(app, card_shop, browser_for)
    page = f"/console/orders/{order['number']}"
    console.client.set_cookie("lang", "zh_CN", domain=card_shop.host)

    console.submit(page, {"to": "wallet"}, action=f"{page}/refund")
    shown = _text(console.get(page))

    assert "访客订单只能退回原支付方式" in shown
    assert "A guest order" not in shown
    guest = browser_for(card_shop.host)
    seen = guest.get(f"/api/v1/orders/{order['number']}?token={order['lookup_token']}")
    assert seen.get_json()["status"] == "failed"
