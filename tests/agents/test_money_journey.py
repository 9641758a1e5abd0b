"""The agents' money end to end, through the surfaces people and programs
use: an agent two levels down buys at its tier price through the API; both
uplines' pending commission shows on the console; after the window it
settles; a refund of another order before settling reverses its share; an
upline withdraws through the API and the owner pays it out; the day
reconciles to no difference, on the page and on the command line."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.agents.money_support import (
    PRICES,
    balance,
    build_chain,
    commissions_of,
    fill_wallet,
    set_shop,
    settle_all,
)
from tests.conftest import PASSWORD
from tests.console.support import console, text_of
from tests.factories import bearer

pytestmark = pytest.mark.critical


def test_an_agent_sale_earns_settles_withdraws_and_reconciles(app, shop, browser_for):
    set_shop(app, shop, withdraw_min=500, withdraw_fee_bps=100, timezone="UTC")
    chain = build_chain(app, shop)
    fill_wallet(app, shop, chain.c, 30_000)
    c = browser_for(shop.host)
    assert (
        c.submit("/account/login", {"email": chain.emails["c"], "password": PASSWORD}).status_code
        == 302
    )
    csrf = {"X-CSRFToken": c.csrf_token("/account/withdrawals")}

    def buy_through_api(key: str) -> str:
        placed = c.post(
            "/api/v1/orders",
            json={"product_id": str(chain.product), "quantity": 1, "email": chain.emails["c"]},
            headers={"Idempotency-Key": key, **csrf},
        )
        assert placed.status_code == 201, placed.get_data(as_text=True)
        assert placed.get_json()["total"] == PRICES["bronze"]
        number = placed.get_json()["number"]
        paid = c.post(f"/api/v1/orders/{number}/pay", json={"provider": "wallet"}, headers=csrf)
        assert paid.get_json()["order"]["status"] == "delivered", paid.get_json()
        return number

    kept, refunded = buy_through_api("journey-1"), buy_through_api("journey-2")

    # c is two levels below a: b earns 90 − 80, a earns 80 − 70, on each order.
    assert [(who, level, amount) for who, level, amount, _s in commissions_of(app, shop, kept)] == [
        (chain.b, 1, 1_000),
        (chain.a, 2, 1_000),
    ]
    owner = console(browser_for, shop.host, shop.owner_email)
    refund = owner.submit(
        f"/console/orders/{refunded}", {"to": "wallet"}, action=f"/console/orders/{refunded}/refund"
    )
    assert refund.status_code == 302
    assert {s for *_x, s in commissions_of(app, shop, refunded)} == {"reversed"}
    pending = text_of(owner.get("/console/commissions?status=pending"))
    assert "2 in all" in pending and chain.emails["a"] in pending and chain.emails["b"] in pending

    settle_all(app, shop)
    assert {s for *_x, s in commissions_of(app, shop, kept)} == {"settled"}
    assert balance(app, shop, chain.a) == balance(app, shop, chain.b) == 1_000

    b = browser_for(shop.host)
    b.submit("/account/login", {"email": chain.emails["b"], "password": PASSWORD})
    asked = b.post(
        "/api/v1/me/withdrawals",
        json={"amount": 1_000, "payout_account": "Alipay b"},
        headers={"X-CSRFToken": b.csrf_token("/account/withdrawals")},
    ).get_json()
    paid = owner.post(
        f"/api/v1/withdrawals/{asked['id']}/approve",
        json={"reference": "ALI-1"},
        headers=bearer(shop.key),
    ).get_json()
    assert (paid["status"], paid["fee"], paid["payout"]) == ("approved", 10, 990)
    assert balance(app, shop, chain.b) == 0

    page = text_of(owner.get("/console/reconciliation"))
    assert "No differences: the books agree." in page
    runner = app.test_cli_runner()
    today = datetime.now(UTC).date().isoformat()
    result = runner.invoke(args=["ledger", "reconcile", "alpha", "--date", today])
    assert result.exit_code == 0, result.output
