"""Docking end to end (对接, issue 14 "done when"): two shops served by one
real HTTP server on a loopback port, told apart by their Host header. The
downstream shop ``down`` docks a card product and a top-up from the
upstream shop ``up`` through a ``platform`` supplier at
``http://up.localhost:<port>/supply/v1`` (the signed supply API, never the
database). A guest buys at ``down`` through its API, pays with the sandbox
provider, and the real RQ worker fulfils the order by buying at ``up``:

- the guest receives the very code ``up`` sold (the same plaintext);
- ``up``'s order is delivered and paid from the partner's wallet at its
  tier price;
- the day's reconciliation shows no difference in either shop.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from app.extensions import db
from tests.agents.money_support import fill_wallet
from tests.factories import codes, run_in_shop
from tests.live import send
from tests.supply.support import open_supply, partner_of

TIER_CARD_PRICE = 800  # the partner's tier price at up (retail 1,000)
TIER_TOPUP_PRICE = 1_900  # (retail 2,000)
FLOAT = 50_000
PHONE = [{"name": "phone", "label": "Phone", "required": True}]
#: how long the worker may take (a bound for a loaded machine, not a measure)
DELIVERY_BOUND = 60


@dataclass
class Pair:
    port: int
    up: object
    down: object
    partner_id: uuid.UUID
    up_card: uuid.UUID
    up_topup: uuid.UUID
    up_codes: list[str]
    down_card: uuid.UUID
    down_topup: uuid.UUID


@pytest.fixture
def fast_poll(monkeypatch):
    """The worker started after this asks a pending upstream every second."""
    monkeypatch.setenv("SUPPLY_POLL_INTERVAL_SECONDS", "1")


def _tier_prices(app, shop, account_id, prices: dict) -> None:
    """An agent tier holding ``account_id``, with its price per product."""
    from app.accounts.models import ShopAccount
    from app.pricing.models import AgentTier, PriceRule

    def make():
        tier = AgentTier(name="对接商", rank=1, upgrade_kind="manual")
        db.session.add(tier)
        db.session.flush()
        for product_id, price in prices.items():
            db.session.add(PriceRule(product_id=product_id, tier_id=tier.id, price=price))
        db.session.get(ShopAccount, account_id).tier_id = tier.id
        db.session.commit()

    run_in_shop(app, shop, make)


def _platform_supplier(app, shop, base_url: str, key_id: str, secret: str) -> uuid.UUID:
    from app.supply import suppliers

    data = {
        "name": "Up 货源站",
        "kind": "platform",
        "status": "active",
        "base_url": base_url,
        "key_id": key_id,
        "secret": secret,
    }
    return run_in_shop(app, shop, lambda: suppliers.create_supplier(data, actor="test").id)


def _dock(app, shop, product_id, supplier_id, sku, cost) -> None:
    from app.supply import sources

    data = {"supplier_id": str(supplier_id), "sku": str(sku), "cost": cost, "priority": 100}
    run_in_shop(app, shop, lambda: sources.add_source(product_id, data, actor="test"))


@pytest.fixture
def pair(app, live, make_shop, make_account, make_product) -> Pair:
    up = make_shop("upper", "Up 货源站")
    down = make_shop("down", "Down 卡盟")
    up_codes = codes("UPCARD", 3)
    up_card = make_product(up, name="Steam 10", price=1_000, stock=up_codes)
    up_topup = make_product(up, name="Phone top-up", price=2_000, kind="topup", input_fields=PHONE)
    agent = make_account(up, "dock@down.example.com", "agent")
    _tier_prices(app, up, agent.id, {up_card: TIER_CARD_PRICE, up_topup: TIER_TOPUP_PRICE})
    fill_wallet(app, up, agent.id, FLOAT)
    open_supply(app, up)
    partner = partner_of(app, live, up, agent.email)

    supplier_id = _platform_supplier(
        app, down, f"http://upper.localhost:{live}/supply/v1", partner.key_id, partner.secret
    )
    down_card = make_product(down, name="Steam 10 (docked)", price=1_200)
    down_topup = make_product(
        down, name="Phone top-up (docked)", price=2_300, kind="topup", input_fields=PHONE
    )
    _dock(app, down, down_card, supplier_id, up_card, TIER_CARD_PRICE)
    _dock(app, down, down_topup, supplier_id, up_topup, TIER_TOPUP_PRICE)
    return Pair(live, up, down, agent.id, up_card, up_topup, up_codes, down_card, down_topup)


# --- the guest, over HTTP ---------------------------------------------------------


def _call(pair: Pair, method: str, path: str, payload=None, headers=None) -> tuple[int, dict]:
    body = json.dumps(payload).encode() if payload is not None else None
    answer = send(
        pair.port,
        method,
        path,
        host=pair.down.host,
        body=body,
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    return answer.status, json.loads(answer.body) if answer.body else {}


def _guest_buys(pair: Pair, product_id, inputs: dict | None = None) -> dict:
    status, order = _call(
        pair,
        "POST",
        "/api/v1/orders",
        {
            "product_id": str(product_id),
            "quantity": 1,
            "email": "guest@example.com",
            "inputs": inputs or {},
        },
        {"Idempotency-Key": uuid.uuid4().hex},
    )
    assert status == 201, order
    token = order["lookup_token"]
    status, paid = _call(
        pair, "POST", f"/api/v1/orders/{order['number']}/pay?token={token}", {"provider": "sandbox"}
    )
    assert status == 200, paid
    return order


def _guest_waits(pair: Pair, order: dict, status: str) -> dict:
    path = f"/api/v1/orders/{order['number']}?token={order['lookup_token']}"
    deadline = time.monotonic() + DELIVERY_BOUND
    seen: dict = {}
    while time.monotonic() < deadline:
        _, seen = _call(pair, "GET", path)
        if seen.get("status") == status:
            return seen
        time.sleep(0.1)
    raise AssertionError(f"order {order['number']} still {seen.get('status')!r}: {seen}")


# --- what each shop's books say -----------------------------------------------------


def _upstream_orders(app, pair: Pair) -> list[dict]:
    from app.orders import lookups
    from app.orders.models import Order
    from app.supply.models import SupplyPurchase

    def read():
        rows = db.session.execute(
            select(Order, SupplyPurchase.caller_key).join(
                SupplyPurchase, SupplyPurchase.order_id == Order.id
            )
        ).all()
        return [
            {
                "id": order.id,
                "status": order.status,
                "buyer_id": order.buyer_id,
                "total": order.total,
                "inputs": dict(order.inputs or {}),
                "key": key,
                "codes": [c["code"] for c in lookups.delivered_codes(order)],
            }
            for order, key in rows
        ]

    return run_in_shop(app, pair.up, read)


def _balance(app, shop, account_id) -> int:
    from app.ledger import services as ledger

    return run_in_shop(app, shop, ledger.wallet_balance, account_id)


def _differences(app, shop) -> list:
    from app.ledger.reconcile import reconcile
    from tenants.models import Tenant

    def check():
        tz = db.session.get(Tenant, shop.id).timezone
        today = datetime.now(UTC).date()
        return list(reconcile(today, tz).differences)

    return run_in_shop(app, shop, check)


def _down_attempts(app, pair: Pair) -> list[tuple[str, int | None]]:
    from app.supply.models import SupplyAttempt

    return run_in_shop(
        app,
        pair.down,
        lambda: [
            (a.outcome, a.cost)
            for a in db.session.scalars(
                select(SupplyAttempt).order_by(SupplyAttempt.created_at, SupplyAttempt.id)
            )
        ],
    )


# --- the journeys -------------------------------------------------------------------


def test_a_guest_buys_a_docked_card_and_receives_the_code_the_upstream_sold(
    app, pair, fast_poll, worker
):
    order = _guest_buys(pair, pair.down_card)

    seen = _guest_waits(pair, order, "delivered")

    [code] = [c["code"] for c in seen["codes"]]
    [bought] = _upstream_orders(app, pair)
    assert bought["status"] == "delivered" and bought["codes"] == [code]
    assert code in pair.up_codes  # the plaintext the upstream imported
    assert bought["buyer_id"] == pair.partner_id and bought["total"] == TIER_CARD_PRICE
    assert _balance(app, pair.up, pair.partner_id) == FLOAT - TIER_CARD_PRICE
    assert _down_attempts(app, pair) == [("delivered", TIER_CARD_PRICE)]
    assert _differences(app, pair.up) == []
    assert _differences(app, pair.down) == []


def test_a_docked_top_up_is_delivered_once_the_upstream_confirms_it(app, pair, fast_poll, worker):
    from app.orders import remedies

    order = _guest_buys(pair, pair.down_topup, {"phone": "13800138000"})

    _guest_waits(pair, order, "fulfilling")  # bought upstream, waiting for its operator
    deadline = time.monotonic() + DELIVERY_BOUND
    while not _upstream_orders(app, pair):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    [bought] = _upstream_orders(app, pair)
    assert bought["status"] == "paid" and bought["inputs"] == {"phone": "13800138000"}
    assert bought["total"] == TIER_TOPUP_PRICE
    assert _balance(app, pair.up, pair.partner_id) == FLOAT - TIER_TOPUP_PRICE

    run_in_shop(
        app, pair.up, remedies.deliver_manually, bought["id"], "carrier ref 7781", "owner@up"
    )
    seen = _guest_waits(pair, order, "delivered")

    assert seen["status"] == "delivered"
    [again] = _upstream_orders(app, pair)
    assert again["status"] == "delivered"
    outcomes = [outcome for outcome, _ in _down_attempts(app, pair)]
    assert outcomes[0] == "pending" and outcomes[-1] == "delivered"
    assert _balance(app, pair.up, pair.partner_id) == FLOAT - TIER_TOPUP_PRICE  # paid once
    assert _differences(app, pair.up) == []
    assert _differences(app, pair.down) == []
