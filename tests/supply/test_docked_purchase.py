"""A docked purchase at the upstream (``POST /supply/v1/purchases``): a card
from the shop's own stock is created, paid from the partner's wallet at its
price and delivered in one transaction, with the partner's key recorded in
it, on a bounded number of statements; what that path does not make (a
top-up) keeps its two steps. The partner's rules hold on both: a replay
answers the same purchase, another body under the key is refused, a short
balance is 402 and a sold-out product 409."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from app.extensions import db
from tests.factories import card_statuses
from tests.orders.support import fund_wallet
from tests.orders.test_wallet_purchase import counted_statements
from tests.supply.support import assert_problem, balance, order_count

#: the docking fixture's card price (minor units)
PRICE = 1_000


def buy(partner, sku, quantity: int = 1, *, key: str, **fields):
    return partner.post(
        "/supply/v1/purchases", {"sku": str(sku), "quantity": quantity, "key": key, **fields}
    )


def test_a_docked_card_purchase_is_one_transaction_of_a_bounded_number_of_statements(app, docking):
    partner, shop = docking["partner"], docking["shop"]
    # The shop's first sale opens its sales account, and the credential's
    # first request notes its use: both once, not per purchase.
    assert buy(partner, docking["card"], key="warm-up-0001").status == 201

    with counted_statements(app) as seen:
        bought = buy(partner, docking["card"], 2, key="counted-0001")

    assert bought.status == 201, bought.body
    assert bought.json["status"] == "delivered" and len(bought.json["codes"]) == 2
    with app.app_context():
        dialect = db.engine.dialect.name
    # The signed request's gate (the credential and whether the shop's
    # supply API is open: one read), the partner's account with any earlier purchase under
    # the key, then the purchase (one read, the order with its history, the
    # cards, the debit with its ledger rows, the stock counter) and the
    # key's record, in one transaction. SQLite has no data-modifying CTEs:
    # three statements more there.
    limit = 10 if dialect == "postgresql" else 13
    assert len(seen) <= limit, "\n".join(seen)
    assert seen.count("COMMIT") == 1, "\n".join(seen)
    assert seen[-1] == "COMMIT"
    assert balance(app, shop, partner.account_id) == 50_000 - 3 * PRICE
    by_key = partner.get("/supply/v1/purchases?key=counted-0001")
    assert by_key.status == 200 and by_key.json == bought.json


def test_a_replay_answers_the_purchase_even_once_the_wallet_and_stock_are_gone(app, docking):
    partner, shop = docking["partner"], docking["shop"]
    first = buy(partner, docking["card"], 5, key="all-of-it-01")
    assert first.status == 201 and len(first.json["codes"]) == 5
    fund_wallet(app, shop, partner.account_id, -(50_000 - 5 * PRICE))
    assert balance(app, shop, partner.account_id) == 0

    again = buy(partner, docking["card"], 5, key="all-of-it-01")

    assert again.status == 200, again.body
    assert again.json == first.json
    assert order_count(app, shop) == 1


def test_another_body_under_a_used_key_is_refused_and_buys_nothing(app, docking):
    partner, shop = docking["partner"], docking["shop"]
    first = buy(partner, docking["card"], key="used-key-0001")
    assert first.status == 201

    for other in (
        {"quantity": 2},
        {"sku": str(docking["topup"]), "inputs": {"phone": "13800138000"}},
    ):
        body = {"sku": str(docking["card"]), "quantity": 1, "key": "used-key-0001", **other}
        assert_problem(partner.post("/supply/v1/purchases", body), 409, "idempotency-key-reused")

    assert order_count(app, shop) == 1
    assert balance(app, shop, partner.account_id) == 50_000 - PRICE
    assert card_statuses(app, shop, docking["card"])["sold"] == 1


def test_sold_out_is_409_and_keeps_nothing_so_the_key_buys_after_a_refill(
    app, docking, make_product
):
    partner, shop = docking["partner"], docking["shop"]

    too_many = buy(partner, docking["card"], 6, key="too-many-0001")

    assert_problem(too_many, 409, "out-of-stock")
    assert order_count(app, shop) == 0
    cards = card_statuses(app, shop, docking["card"])
    assert (cards["available"], cards["reserved"], cards["sold"]) == (5, 0, 0)
    assert balance(app, shop, partner.account_id) == 50_000
    assert partner.get("/supply/v1/purchases?key=too-many-0001").status == 404
    fewer = buy(partner, docking["card"], 5, key="too-many-0002")
    assert fewer.status == 201 and len(fewer.json["codes"]) == 5


def test_a_top_up_short_of_balance_waits_under_its_key_and_is_paid_when_asked_again(app, docking):
    """What the one-transaction path does not make keeps its two steps: the
    order is made with the key's record, and a payment that failed is made
    when the same key is asked again."""
    partner, shop = docking["partner"], docking["shop"]
    fund_wallet(app, shop, partner.account_id, -(50_000 - 1_500))
    topup = {"inputs": {"phone": "13800138000"}}

    short = buy(partner, docking["topup"], key="topup-short-01", **topup)

    assert_problem(short, 402, "insufficient-funds")
    assert balance(app, shop, partner.account_id) == 1_500
    waiting = partner.get("/supply/v1/purchases?key=topup-short-01")
    assert waiting.status == 200 and waiting.json["status"] == "pending"
    fund_wallet(app, shop, partner.account_id, 500)
    paid = buy(partner, docking["topup"], key="topup-short-01", **topup)
    assert paid.status == 200, paid.body
    assert paid.json["ref"] == waiting.json["ref"] and paid.json["status"] == "pending"
    assert balance(app, shop, partner.account_id) == 0
    assert order_count(app, shop) == 1


def test_the_same_key_sent_at_once_buys_once(app, docking):
    partner, shop = docking["partner"], docking["shop"]

    with ThreadPoolExecutor(4) as pool:
        answers = list(
            pool.map(lambda _: buy(partner, docking["card"], key="twins-0001"), range(4))
        )

    assert sorted(a.status for a in answers) == [200, 200, 200, 201], [a.body for a in answers]
    assert len({a.json["ref"] for a in answers}) == 1
    assert len({str(a.json["codes"]) for a in answers}) == 1
    assert order_count(app, shop) == 1
    assert balance(app, shop, partner.account_id) == 50_000 - PRICE
    assert card_statuses(app, shop, docking["card"])["sold"] == 1
