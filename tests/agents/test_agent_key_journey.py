"""The issue's "done when", through agents' own API keys only: an agent two
levels down buys at its tier price with its key; both uplines read their
pending commission with theirs; after the window it settles; a refund
before it reverses it; the day reconciles to zero difference on the
command line. The same price shows in the product answer, the order, its
snapshot and the ledger."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.agents.money_support import (
    PRICES,
    balance,
    build_chain,
    fill_wallet,
    set_shop,
    settle_all,
)
from tests.conftest import PASSWORD
from tests.factories import bearer, run_in_shop

pytestmark = pytest.mark.critical


def own_key(browser_for, shop, email: str) -> str:
    """The agent signs in on the shop and makes its own key (shown once)."""
    client = browser_for(shop.host)
    assert (
        client.submit("/account/login", {"email": email, "password": PASSWORD}).status_code == 302
    )
    made = client.post(
        "/api/v1/me/api-keys",
        json={"name": "my reseller bot"},
        headers={"X-CSRFToken": client.csrf_token("/account/agent/api-keys")},
    )
    assert made.status_code == 201, made.get_data(as_text=True)
    return made.get_json()["key"]


def test_an_agent_buys_with_its_key_and_the_chain_earns_settles_and_reconciles(
    app, shop, browser_for
):
    set_shop(app, shop, timezone="UTC")
    chain = build_chain(app, shop)
    fill_wallet(app, shop, chain.c, 50_000)
    keys = {who: own_key(browser_for, shop, chain.emails[who]) for who in ("a", "b", "c")}
    api = browser_for(shop.host)

    def call(who, method, path, **kw):
        kw.setdefault("headers", {}).update(bearer(keys[who]))
        return getattr(api, method)(path, **kw)

    # The product answer names the caller's price: each agent its tier's.
    for who, tier in (("a", "gold"), ("b", "silver"), ("c", "bronze")):
        product = call(who, "get", f"/api/v1/products/{chain.product}").get_json()
        assert product["price"] == PRICES[tier], (who, product)
    assert api.get(f"/api/v1/products/{chain.product}").get_json()["price"] == 10_000

    def buy(key: str) -> dict:
        placed = call(
            "c",
            "post",
            "/api/v1/orders",
            json={"product_id": str(chain.product), "quantity": 1, "email": chain.emails["c"]},
            headers={"Idempotency-Key": key},
        )
        assert placed.status_code == 201, placed.get_data(as_text=True)
        order = placed.get_json()
        assert order["total"] == PRICES["bronze"]
        paid = call(
            "c", "post", f"/api/v1/orders/{order['number']}/pay", json={"provider": "wallet"}
        )
        assert paid.status_code == 200, paid.get_data(as_text=True)
        assert paid.get_json()["order"]["status"] == "delivered"
        return order

    kept, refunded = buy("key-journey-1"), buy("key-journey-2")
    assert balance(app, shop, chain.c) == 50_000 - 2 * PRICES["bronze"]

    def snapshot_and_ledger(number: str) -> tuple[int, int]:
        from sqlalchemy import func, select

        from app.extensions import db
        from app.ledger.models import LedgerAccount, LedgerEntry, LedgerTransaction
        from app.orders.models import Order

        def read():
            row = db.session.scalar(select(Order).where(Order.number == number))
            paid = db.session.scalar(
                select(func.sum(LedgerEntry.amount))
                .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
                .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
                .where(LedgerTransaction.idempotency_key == f"pay:{row.id}")
                .where(LedgerAccount.code == "sales")
            )
            return row.quote["total"], int(paid)

        return run_in_shop(app, shop, read)

    assert snapshot_and_ledger(kept["number"]) == (PRICES["bronze"], PRICES["bronze"])

    # Both uplines see their pending share of each order with their own keys.
    for who, spread in (
        ("b", PRICES["bronze"] - PRICES["silver"]),
        ("a", PRICES["silver"] - PRICES["gold"]),
    ):
        mine = call(who, "get", "/api/v1/me/commissions?status=pending").get_json()
        assert mine["totals"]["pending"] == 2 * spread, (who, mine)
        assert {row["order_number"] for row in mine["items"]} == {
            kept["number"],
            refunded["number"],
        }

    # A refund before the window ends reverses its share.
    owner = browser_for(shop.host)
    undone = owner.post(
        f"/api/v1/orders/{refunded['number']}/refund",
        json={"to": "wallet"},
        headers=bearer(shop.key),
    )
    assert undone.status_code == 200, undone.get_data(as_text=True)
    mine = call("b", "get", "/api/v1/me/commissions").get_json()
    assert mine["totals"] == {"pending": 1_000, "settled": 0, "reversed": 1_000, "clawed_back": 0}

    # After the window, the rest settles into the uplines' wallets.
    assert settle_all(app, shop) == 2
    assert balance(app, shop, chain.b) == balance(app, shop, chain.a) == 1_000
    assert call("a", "get", "/api/v1/me/commissions").get_json()["totals"]["settled"] == 1_000

    # The day reconciles to zero difference.
    runner = app.test_cli_runner()
    today = datetime.now(UTC).date().isoformat()
    result = runner.invoke(args=["ledger", "reconcile", shop.slug, "--date", today])
    assert result.exit_code == 0, result.output
