"""Shop A's session, ids and Stripe account aimed at shop B, for the wallet
endpoints and the Stripe webhook: never B's data, never a write to B.

``COVERED`` tells ``tests/api/test_cross_tenant.py`` which endpoints this
module answers for. The webhook is not a shop endpoint (it answers on every
host and authenticates by signature); its cross-tenant rule is that an
event reaches only the shop whose payment it is, whatever host it arrives
on and whatever its metadata claims.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.extensions import db
from tests.factories import add_account, add_product, assert_problem, codes, open_shop, run_in_shop
from tests.payments.support import (
    WEBHOOK_SECRET,
    ledger_keys,
    order_status,
    place_order,
    post_webhook,
    sign,
    signed_in,
    stripe_event,
)

pytestmark = pytest.mark.critical

COVERED = {
    ("GET", "/api/v1/me/wallet"),
    ("POST", "/api/v1/me/wallet/recharge"),
    ("GET", "/api/v1/me/wallet/recharges/<payment_id>"),
    ("POST", "/api/v1/webhooks/<provider>"),
}


@pytest.fixture
def two(app, browser_for):
    """Shops A and B, each with a buyer who recharged once by sandbox."""
    shops = {}
    for slug in ("wallet-a", "wallet-b"):
        shop = open_shop(app, slug)
        email = f"buyer@{slug}.example.com"
        buyer = add_account(app, shop, email).id
        browser, csrf = signed_in(browser_for, shop, email)
        recharge = browser.post(
            "/api/v1/me/wallet/recharge",
            json={"amount": 700 if slug.endswith("a") else 300, "provider": "sandbox"},
            headers=csrf,
        ).get_json()
        shops[slug[-1]] = {
            "shop": shop,
            "buyer": buyer,
            "browser": browser,
            "csrf": csrf,
            "recharge": recharge["id"],
            "markers": [str(shop.id), str(buyer), recharge["id"], email],
        }
    return shops["a"], shops["b"]


def rows_of(app, shop) -> dict:
    from app.ledger.models import LedgerAccount, LedgerEntry, LedgerTransaction
    from app.payments.models import Payment

    def read():
        return {
            model.__tablename__: sorted(str(r.id) for r in db.session.scalars(select(model)))
            for model in (Payment, LedgerAccount, LedgerTransaction, LedgerEntry)
        } | {"balances": sorted(db.session.scalars(select(LedgerAccount.balance)))}

    return run_in_shop(app, shop, read)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/api/v1/me/wallet", None),
        ("POST", "/api/v1/me/wallet/recharge", {"amount": 999, "provider": "sandbox"}),
        ("GET", "/api/v1/me/wallet/recharges/{a_recharge}", None),
    ],
)
def test_shop_a_session_on_shop_b_host_is_not_signed_in(app, browser_for, two, method, path, body):
    a, b = two
    at_b = browser_for(b["shop"].host)
    cookie = a["browser"].client.get_cookie("kameng_session", domain=a["shop"].host)
    at_b.client.set_cookie("kameng_session", cookie.value, domain=b["shop"].host)
    before = rows_of(app, b["shop"]), rows_of(app, a["shop"])

    response = at_b.open(
        method, path.format(a_recharge=a["recharge"]), json=body, headers=a["csrf"]
    )

    assert_problem(response, 401, "unauthorized")
    text = response.get_data(as_text=True).replace(response.request.path, "")
    for marker in a["markers"] + b["markers"]:
        assert marker not in text
    assert (rows_of(app, b["shop"]), rows_of(app, a["shop"])) == before


def test_another_shops_recharge_id_is_not_found(app, two):
    a, b = two

    response = b["browser"].get(f"/api/v1/me/wallet/recharges/{a['recharge']}")

    assert_problem(response, 404, "not-found")
    assert a["recharge"] not in response.get_data(as_text=True).replace(response.request.path, "")


def test_another_accounts_recharge_id_is_not_found(app, browser_for, two):
    a, _ = two
    add_account(app, a["shop"], "agent@wallet-a.example.com", role="agent")
    agent, _ = signed_in(browser_for, a["shop"], "agent@wallet-a.example.com")

    assert_problem(agent.get(f"/api/v1/me/wallet/recharges/{a['recharge']}"), 404, "not-found")
    assert agent.get("/api/v1/me/wallet").get_json()["balance"] == 0
    assert agent.get("/api/v1/me/wallet/recharges/not-an-id").status_code == 404


def test_each_shop_sees_only_its_own_wallet(two):
    a, b = two

    seen_a = a["browser"].get("/api/v1/me/wallet")
    seen_b = b["browser"].get("/api/v1/me/wallet")

    assert (seen_a.get_json()["balance"], seen_b.get_json()["balance"]) == (700, 300)
    for marker in a["markers"]:
        assert marker not in seen_b.get_data(as_text=True)
    for marker in b["markers"]:
        assert marker not in seen_a.get_data(as_text=True)


# --- the webhook ---------------------------------------------------------------


@pytest.fixture
def connected(app, monkeypatch):
    """Shops A and B on their own connected Stripe accounts, each with an
    order paid by a PaymentIntent we recorded (no Stripe call is needed:
    the intents are recorded as if created)."""
    from app.orders.lookups import get_order_by_id
    from app.payments import services as payments
    from tenants.context import tenant_context

    monkeypatch.setitem(app.config, "STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET)
    shops = []
    for slug in ("hook-a", "hook-b"):
        shop = open_shop(app, slug, stripe_account=f"acct_{slug.replace('-', '_')}")
        order = place_order(app, shop, add_product(app, shop, price=1500, stock=codes("CODE", 5)))
        intent_id = f"pi_{slug.replace('-', '_')}_order"
        with app.app_context(), tenant_context(shop.id):
            placed = get_order_by_id(order.id)
            payments.record_payment(
                purpose="order",
                order_id=placed.id,
                provider="stripe",
                provider_ref=intent_id,
                amount=placed.total,
                currency=placed.currency,
            )
            db.session.commit()
            db.session.remove()
        shops.append({"shop": shop, "order": order, "intent": intent_id})
    return shops


def succeeded(intent_id: str, shop, order, *, account: str, amount: int = 1500) -> bytes:
    return stripe_event(
        "payment_intent.succeeded",
        {
            "id": intent_id,
            "object": "payment_intent",
            "amount": amount,
            "currency": "cny",
            "metadata": {"kameng_tenant_id": str(shop.id), "kameng_order_id": str(order.id)},
        },
        account=account,
    )


def test_shop_a_account_claiming_shop_b_order_changes_nothing(app, live_server, connected):
    a, b = connected
    before_b = rows_of(app, b["shop"])
    # A's operator makes a PaymentIntent on A's own Stripe account whose
    # metadata names B's shop and order; Stripe signs its event for us.
    event = succeeded("pi_made_by_a", b["shop"], b["order"], account="acct_hook_a")

    status, body = post_webhook(live_server, event, sign(event), host=b["shop"].host)

    assert (status, body["outcome"]) == (200, "unknown_payment")
    assert order_status(app, b["shop"], b["order"].id) == "pending_payment"
    assert rows_of(app, b["shop"]) == before_b


def test_an_event_reaches_only_the_shop_whose_payment_it_is(app, live_server, connected):
    a, b = connected
    before_b = rows_of(app, b["shop"])
    # A's real payment, its metadata claiming B's shop and order (edited on
    # A's Stripe account), delivered on B's host: it pays A's order.
    event = succeeded(a["intent"], b["shop"], b["order"], account="acct_hook_a")

    status, body = post_webhook(live_server, event, sign(event), host=b["shop"].host)

    assert (status, body["outcome"]) == (200, "order_paid")
    assert order_status(app, a["shop"], a["order"].id) == "paid"
    assert order_status(app, b["shop"], b["order"].id) == "pending_payment"
    assert rows_of(app, b["shop"]) == before_b


def test_a_webhook_on_a_shop_host_pays_only_that_payments_shop(app, live_server, connected):
    a, b = connected
    before_b = rows_of(app, b["shop"])
    event = succeeded(a["intent"], a["shop"], a["order"], account="acct_hook_a")

    status, body = post_webhook(live_server, event, sign(event), host=b["shop"].host)

    assert (status, body["outcome"]) == (200, "order_paid")
    assert order_status(app, a["shop"], a["order"].id) == "paid"
    assert ledger_keys(app, a["shop"]) == [f"pay:{a['order'].id}"]
    assert rows_of(app, b["shop"]) == before_b
