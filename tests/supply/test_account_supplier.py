"""Account suppliers (供货商账号): a supplier account uploads codes to its
pool, the ``account`` connector sells them to orders exactly once and
credits the supplier's payable at cost, the supplier withdraws its payable,
and the day's reconciliation accounts for it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from app.core.errors import NotFound, ValidationFailed
from app.extensions import db
from tests.factories import Shop, end_outer_transaction, run_in_shop
from tests.supply.conftest import fulfil_now, order_row
from tests.supply.support import make_source, make_supplier

COST = 600


@dataclass
class Pool:
    shop: Shop
    seller: object  # the supplier account (ShopAccount row)
    supplier_id: uuid.UUID
    product_id: uuid.UUID
    source_id: uuid.UUID


@pytest.fixture
def pool(app, make_shop, make_account, make_product) -> Pool:
    """Shop ``alpha`` with a card product (10.00, no own stock) whose only
    source is the active account supplier ``seller`` at cost 6.00."""
    shop = make_shop("alpha", key_role="owner")
    seller = make_account(shop, "seller@alpha.example.com", "supplier")
    supplier_id = make_supplier(
        app, shop, name="Seller", kind="account", account_id=str(seller.id), status="active"
    )
    product_id = make_product(shop, name="Steam 10", price=1_000)
    source_id = make_source(app, shop, product_id, supplier_id, cost=COST)
    return Pool(shop, seller, supplier_id, product_id, source_id)


def upload(app, pool: Pool, text: str, *, account_id=None, product_id=None):
    from app.supply import pool as pools

    return run_in_shop(
        app,
        pool.shop,
        pools.upload_codes,
        account_id or pool.seller.id,
        product_id or pool.product_id,
        text,
        actor="test",
    )


def pool_statuses(app, pool: Pool) -> dict[str, int]:
    from app.supply.pool import pool_counts

    counts = run_in_shop(app, pool.shop, pool_counts, pool.supplier_id)
    return {"available": counts.available, "sold": counts.sold}


def connector(app, pool: Pool, method: str, *args):
    from app.supply.connectors.registry import connector_for
    from app.supply.models import Supplier

    def call():
        return getattr(connector_for(db.session.get(Supplier, pool.supplier_id)), method)(*args)

    end_outer_transaction()
    return run_in_shop(app, pool.shop, call)


def payable(app, pool: Pool) -> int:
    from app.supply.pool import payable_of

    return run_in_shop(app, pool.shop, payable_of, pool.seller.id)


# --- the pool ------------------------------------------------------------------------


def test_an_upload_stores_new_codes_and_counts_duplicates_and_bad_lines(app, pool):
    text = "AAA-1\nAAA-2\n\nAAA-1\n" + "X" * 300 + "\nBBB----pin1\n"

    result = upload(app, pool, text)

    assert (result.added, result.duplicates, result.invalid) == (3, 1, 1)
    assert pool_statuses(app, pool) == {"available": 3, "sold": 0}
    again = upload(app, pool, "AAA-2\nBBB,pin1\nCCC-3")  # BBB,pin1 is BBB----pin1
    assert (again.added, again.duplicates, again.invalid) == (1, 2, 0)
    assert pool_statuses(app, pool) == {"available": 4, "sold": 0}


def test_a_code_the_shop_holds_as_a_card_is_refused(app, pool):
    from tests.factories import add_stock

    add_stock(app, pool.shop, pool.product_id, ["OWN-1"])

    result = upload(app, pool, "OWN-1\nNEW-1")

    assert (result.added, result.duplicates) == (1, 1)


def test_an_upload_over_the_bound_stores_nothing(app, pool):
    from app.supply.pool import MAX_UPLOAD

    with pytest.raises(ValidationFailed) as refused:
        upload(app, pool, "\n".join(f"C-{n}" for n in range(MAX_UPLOAD + 1)))

    assert "codes" in refused.value.errors
    assert pool_statuses(app, pool) == {"available": 0, "sold": 0}


def test_a_product_the_account_does_not_supply_is_refused(app, pool, make_product):
    other = make_product(pool.shop, name="Other", price=500)

    with pytest.raises(NotFound):
        upload(app, pool, "Z-1", product_id=other)


def test_an_account_that_is_not_a_supplier_cannot_upload(app, pool, make_account):
    from app.core.errors import Forbidden

    buyer = make_account(pool.shop, "buyer@alpha.example.com", "customer")

    with pytest.raises(Forbidden):
        upload(app, pool, "Z-1", account_id=buyer.id)


def test_another_shops_supplier_reaches_nothing_here(app, pool, make_shop, make_account):
    beta = make_shop("beta")
    stranger = make_account(beta, "seller@beta.example.com", "supplier")

    with pytest.raises(Exception) as refused:  # its account is not found in alpha
        upload(app, pool, "Z-1", account_id=stranger.id)

    assert type(refused.value).__name__ in ("Forbidden", "NotFound")
    assert pool_statuses(app, pool) == {"available": 0, "sold": 0}


def test_a_top_up_product_cannot_have_an_account_source(app, pool, make_product):
    topup = make_product(pool.shop, name="Top-up", price=2_000, kind="topup")

    with pytest.raises(ValidationFailed) as refused:
        make_source(app, pool.shop, topup, pool.supplier_id, cost=100)

    assert "supplier_id" in refused.value.errors


# --- the connector ---------------------------------------------------------------------


def test_the_connector_offers_the_pool_at_cost(app, pool):
    upload(app, pool, "A-1\nA-2")

    [offer] = connector(app, pool, "catalogue")

    assert (offer.sku, offer.price, offer.stock) == (str(pool.product_id), COST, 2)
    assert offer.kind == "card"
    assert connector(app, pool, "offer", str(pool.product_id)).stock == 2


def test_a_purchase_sells_codes_once_per_key_and_credits_the_payable(app, pool):
    upload(app, pool, "A-1\nA-2\nA-3")

    first = connector(app, pool, "purchase", str(pool.product_id), 2, {}, "key-1")
    again = connector(app, pool, "purchase", str(pool.product_id), 2, {}, "key-1")

    assert first.status == "delivered" and sorted(first.codes) == ["A-1", "A-2"]
    assert again.codes == first.codes and again.ref == first.ref
    assert connector(app, pool, "status", "key-1").codes == first.codes
    assert pool_statuses(app, pool) == {"available": 1, "sold": 2}
    assert payable(app, pool) == 2 * COST


def test_parallel_purchases_sell_each_code_once_and_each_key_once(app, pool):
    from concurrent.futures import ThreadPoolExecutor

    upload(app, pool, "\n".join(f"C-{i}" for i in range(6)))

    def buy(n):  # eight asks, two per key, all at once
        return connector(app, pool, "purchase", str(pool.product_id), 1, {}, f"k-{n % 4}").codes

    with ThreadPoolExecutor(8) as workers:
        answers = list(workers.map(buy, range(8)))

    by_key = {}
    for n, codes in enumerate(answers):
        by_key.setdefault(n % 4, set()).add(tuple(codes))
    assert all(len(answered) == 1 for answered in by_key.values())  # one answer per key
    sold = [code for answered in by_key.values() for (code,) in answered]
    assert len(set(sold)) == 4  # no code sold to two keys
    assert pool_statuses(app, pool) == {"available": 2, "sold": 4}
    assert payable(app, pool) == 4 * COST


def test_too_few_codes_fail_with_nothing_claimed(app, pool):
    from app.supply.connectors.base import SupplyError

    upload(app, pool, "A-1")

    with pytest.raises(SupplyError) as failed:
        connector(app, pool, "purchase", str(pool.product_id), 2, {}, "key-2")

    assert failed.value.outcome == "failed"
    assert pool_statuses(app, pool) == {"available": 1, "sold": 0}
    assert payable(app, pool) == 0
    with pytest.raises(SupplyError):
        connector(app, pool, "status", "key-2")


def test_the_stock_sync_follows_the_pool(app, pool):
    from app.supply import sync
    from app.supply.models import ProductSource

    upload(app, pool, "A-1\nA-2")

    assert run_in_shop(app, pool.shop, sync.sync_source, pool.source_id) is True

    def stock():
        return db.session.scalar(
            select(ProductSource.stock).where(ProductSource.id == pool.source_id)
        )

    assert run_in_shop(app, pool.shop, stock) == 2


# --- an order routed to the pool ----------------------------------------------------------


def paid_card_order(app, pool: Pool, email: str = "late@example.com") -> uuid.UUID:
    """A paid card order for one code whose hold ran out while the shop's
    only own code went to another buyer (掉单): fulfilment must buy it from
    the sources. Returns the order id."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import update

    from app.catalog.models import Card
    from app.orders import checkout, payment
    from app.orders.models import Order
    from tests.factories import add_stock
    from tests.supply.conftest import paid_order

    add_stock(app, pool.shop, pool.product_id, ["OWN-CODE-0001"])

    def late_order():
        order, _ = checkout.create_order(
            product_id=pool.product_id, quantity=1, email=email, inputs={}
        )
        past = datetime.now(UTC) - timedelta(minutes=1)
        db.session.execute(update(Card).values(reserved_until=past))  # the hold ran out
        db.session.commit()
        return order.id

    late = run_in_shop(app, pool.shop, late_order)
    other = paid_order(app, pool.shop, pool.product_id, email="other@example.com")
    assert fulfil_now(app, pool.shop, other) == "delivered"  # took the shop's only code

    def pay_late():
        payment.pay_order(db.session.get(Order, late), "sandbox", buyer_id=None, actor="buyer")

    run_in_shop(app, pool.shop, pay_late)
    return late


def delivered_codes(app, pool: Pool, order_id) -> list[str]:
    from app.orders import lookups
    from app.orders.models import Order

    return run_in_shop(
        app,
        pool.shop,
        lambda: [c["code"] for c in lookups.delivered_codes(db.session.get(Order, order_id))],
    )


def test_a_paid_order_is_delivered_a_supplier_code_exactly_once(app, pool):
    upload(app, pool, "SUP-1\nSUP-2")
    order_id = paid_card_order(app, pool)

    assert fulfil_now(app, pool.shop, order_id) == "delivered"
    assert fulfil_now(app, pool.shop, order_id) == "delivered"  # a repeat changes nothing

    assert delivered_codes(app, pool, order_id) == ["SUP-1"]
    assert pool_statuses(app, pool) == {"available": 1, "sold": 1}
    assert payable(app, pool) == COST
    key = f"kameng:{pool.shop.id}:{order_id}"
    again = connector(app, pool, "purchase", str(pool.product_id), 1, {}, key)
    assert again.codes == ["SUP-1"]  # routing asking twice gets the same code
    assert payable(app, pool) == COST
    assert order_row(app, pool.shop, order_id)["status"] == "delivered"


# --- the supplier's portal and its API --------------------------------------------------


def test_the_portal_shows_the_products_and_takes_an_upload(app, pool, browser_for):
    from tests.agents.support import page_text, signed_in

    browser, _ = signed_in(browser_for, pool.shop, pool.seller.email)
    page = browser.get("/account/supply")
    assert page.status_code == 200
    assert "Steam 10" in page_text(page) and "¥6.00" in page_text(page)

    done = browser.submit(
        "/account/supply", {"product_id": str(pool.product_id), "codes": "P-1\nP-2\nP-1"}
    )

    assert done.status_code == 302
    shown = page_text(browser.get("/account/supply"))
    assert "Added 2 codes" in shown and "Held already, not added again: 1" in shown
    assert pool_statuses(app, pool) == {"available": 2, "sold": 0}


def test_a_txt_file_is_read_too(app, pool, browser_for):
    import io

    from tests.agents.support import signed_in

    browser, _ = signed_in(browser_for, pool.shop, pool.seller.email)
    data = {
        "product_id": str(pool.product_id),
        "codes": "",
        "file": (io.BytesIO("F-1\r\nF-2\r\n".encode("gb18030")), "codes.txt"),
    }

    done = browser.submit("/account/supply", data, content_type="multipart/form-data")

    assert done.status_code == 302
    assert pool_statuses(app, pool) == {"available": 2, "sold": 0}


def test_a_refused_upload_says_why_and_keeps_what_was_typed(app, pool, browser_for):
    from app.supply.pool import MAX_UPLOAD
    from tests.agents.support import page_text, signed_in

    browser, _ = signed_in(browser_for, pool.shop, pool.seller.email)
    typed = "\n".join(f"T-{n}" for n in range(MAX_UPLOAD + 1))

    refused = browser.submit(
        "/account/supply", {"product_id": str(pool.product_id), "codes": typed}
    )

    assert refused.status_code == 422
    shown = page_text(refused)
    assert "An upload holds at most 10000 codes" in shown.replace(",", "")
    assert "T-10000" in shown  # the text is still in the box
    assert pool_statuses(app, pool) == {"available": 0, "sold": 0}


def test_the_portal_is_for_supplier_accounts_only(app, pool, browser_for, make_account):
    from tests.agents.support import signed_in

    stranger = browser_for(pool.shop.host).get("/account/supply")
    assert stranger.status_code == 302 and "/account/login" in stranger.headers["Location"]

    make_account(pool.shop, "buyer@alpha.example.com", "customer")
    buyer, _ = signed_in(browser_for, pool.shop, "buyer@alpha.example.com")
    assert buyer.get("/account/supply").status_code == 403


def test_another_shops_supplier_cannot_use_this_shops_portal(app, pool, browser_for, make_shop):
    from tests.agents.support import signed_in

    beta = make_shop("beta")
    make_account = __import__("tests.factories", fromlist=["add_account"]).add_account
    make_account(app, beta, "seller@beta.example.com", "supplier")
    browser, csrf = signed_in(browser_for, beta, "seller@beta.example.com")

    # Signed in at beta; alpha's host does not know the session.
    other = browser.on(pool.shop.host)
    assert other.get("/account/supply").status_code == 302
    answer = browser.post(
        "/api/v1/me/supply/codes",
        json={"product_id": str(pool.product_id), "codes": ["X-1"]},
        headers=csrf,
    )
    assert answer.status_code == 404  # alpha's product is not found at beta
    assert pool_statuses(app, pool) == {"available": 0, "sold": 0}


def test_the_api_lists_the_pool_and_takes_codes(app, pool, browser_for):
    from tests.agents.support import signed_in
    from tests.factories import assert_problem

    browser, csrf = signed_in(browser_for, pool.shop, pool.seller.email)

    made = browser.post(
        "/api/v1/me/supply/codes",
        json={"product_id": str(pool.product_id), "codes": ["A-1", "A-2", "A-1", "bad\nline"]},
        headers=csrf,
    )
    assert made.status_code == 201, made.get_data(as_text=True)
    assert made.get_json() == {"added": 2, "duplicates": 1, "invalid": 1}

    mine = browser.get("/api/v1/me/supply").get_json()
    assert mine["payable"] == 0 and mine["currency"] == "CNY"
    [product] = mine["products"]
    assert (product["product_id"], product["available"], product["cost"]) == (
        str(pool.product_id),
        2,
        COST,
    )

    assert_problem(
        browser.post("/api/v1/me/supply/codes", json={"codes": ["A"]}, headers=csrf), 422
    )
    assert_problem(
        browser.post(
            "/api/v1/me/supply/codes",
            json={"product_id": str(uuid.uuid4()), "codes": ["Z"]},
            headers=csrf,
        ),
        404,
    )


def test_the_api_refuses_an_account_that_is_not_a_supplier(app, pool, browser_for, make_account):
    from tests.agents.support import signed_in
    from tests.factories import assert_problem

    make_account(pool.shop, "buyer@alpha.example.com", "customer")
    browser, _ = signed_in(browser_for, pool.shop, "buyer@alpha.example.com")

    assert_problem(browser.get("/api/v1/me/supply"), 403)


# --- settlement ----------------------------------------------------------------------------


def sell(app, pool: Pool, n: int = 2) -> None:
    upload(app, pool, "\n".join(f"S-{i}" for i in range(n)))
    for i in range(n):
        connector(app, pool, "purchase", str(pool.product_id), 1, {}, f"key-{i}")


def test_a_supplier_withdraws_its_payable_and_the_owner_approves(app, pool, browser_for):
    from app.agents import withdrawals
    from tests.agents.money_support import set_shop
    from tests.agents.support import page_text, signed_in
    from tests.console.support import console

    set_shop(app, pool.shop, withdraw_min=100, withdraw_fee_bps=0)
    sell(app, pool, 2)
    assert payable(app, pool) == 2 * COST

    browser, _ = signed_in(browser_for, pool.shop, pool.seller.email)
    page = browser.get("/account/withdrawals")
    assert "Owed to you for codes sold" in page_text(page) and 'name="amount"' in page_text(page)
    asked = browser.submit(
        "/account/withdrawals", {"amount": "10.00", "payout_account": "alipay s@e.cn"}
    )
    assert asked.status_code == 302
    assert payable(app, pool) == 2 * COST - 1_000

    owner = console(browser_for, pool.shop.host, pool.shop.owner_email)
    listed = page_text(owner.get("/console/withdrawals"))
    assert pool.seller.email in listed and "Supplier" in listed

    [row], _ = run_in_shop(app, pool.shop, withdrawals.list_withdrawals)
    assert row.role == "supplier"
    run_in_shop(app, pool.shop, withdrawals.approve, row.withdrawal.id, "ALI-1", "owner")
    assert payable(app, pool) == 2 * COST - 1_000


def test_a_rejected_supplier_withdrawal_returns_to_the_payable(app, pool):
    from app.agents import withdrawals
    from tests.agents.money_support import ask_withdrawal, set_shop

    set_shop(app, pool.shop, withdraw_min=100, withdraw_fee_bps=0)
    sell(app, pool, 1)
    ident = ask_withdrawal(app, pool.shop, pool.seller.id, COST)
    assert payable(app, pool) == 0

    run_in_shop(app, pool.shop, withdrawals.reject, ident, "wrong account", "owner")

    assert payable(app, pool) == COST


def test_a_supplier_cannot_withdraw_more_than_it_is_owed(app, pool):
    from app.ledger.services import InsufficientFunds
    from tests.agents.money_support import ask_withdrawal, set_shop

    set_shop(app, pool.shop, withdraw_min=100, withdraw_fee_bps=0)
    sell(app, pool, 1)

    with pytest.raises(InsufficientFunds):
        ask_withdrawal(app, pool.shop, pool.seller.id, COST + 1)
    assert payable(app, pool) == COST


# --- the operator's side ------------------------------------------------------------------


def test_the_supplier_page_shows_the_pool_sales_and_payable(app, pool, browser_for):
    from tests.agents.support import page_text
    from tests.console.support import console

    sell(app, pool, 2)
    upload(app, pool, "LEFT-1")
    owner = console(browser_for, pool.shop.host, pool.shop.owner_email)

    shown = page_text(owner.get(f"/console/suppliers/{pool.supplier_id}"))

    assert "Codes the supplier uploaded" in shown and pool.seller.email in shown
    assert "¥12.00" in shown  # owed: two codes at 6.00
    assert shown.count("Steam 10") >= 2  # one row per sale
    assert "S-0" not in shown and "LEFT-1" not in shown  # never a code


def test_another_shops_owner_does_not_see_the_supplier(app, pool, browser_for, make_shop):
    from tests.console.support import console

    beta = make_shop("beta")
    intruder = console(browser_for, beta.host, beta.owner_email)

    assert intruder.get(f"/console/suppliers/{pool.supplier_id}").status_code == 404


def deposit_balance(app, pool: Pool) -> int:
    from app.ledger import services as ledger
    from app.supply.suppliers import find_supplier

    def read():
        code = ledger.supplier_deposit_code(find_supplier(pool.supplier_id).id)
        return ledger.trial_balance().get(code, 0)

    return run_in_shop(app, pool.shop, read)


def test_a_deposit_is_held_in_the_ledger_and_audited(app, pool):
    from app.supply import suppliers
    from tests.console.support import audit_trail

    def set_deposit(amount):
        return run_in_shop(
            app,
            pool.shop,
            lambda: suppliers.update_supplier(pool.supplier_id, {"deposit": amount}, actor="o"),
        )

    set_deposit(50_000)
    assert deposit_balance(app, pool) == 50_000
    set_deposit(30_000)
    assert deposit_balance(app, pool) == 30_000
    set_deposit(30_000)  # no change, nothing posted
    assert deposit_balance(app, pool) == 30_000
    trail = audit_trail(app, pool.shop)
    deposits = [d["changed"]["deposit"] for _, a, _, d in trail if a == "supplier.updated"]
    assert deposits == [[0, 50_000], [50_000, 30_000]]


# --- reconciliation ---------------------------------------------------------------------------


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()

    def run(*args: str):
        result = runner.invoke(args=list(args))
        with app.app_context():
            db.session.remove()
        return result

    return run


def test_the_day_with_supplier_sales_and_payouts_reconciles_and_a_tampered_payable_is_named(
    app, pool, cli
):
    from datetime import UTC, datetime

    from app.agents import withdrawals
    from app.ledger import services as ledger
    from app.supply import suppliers
    from tests.agents.money_support import ask_withdrawal, set_shop

    set_shop(app, pool.shop, timezone="UTC", withdraw_min=100, withdraw_fee_bps=100)
    upload(app, pool, "R-1\nR-2\nR-3")
    order_id = paid_card_order(app, pool)
    assert fulfil_now(app, pool.shop, order_id) == "delivered"
    connector(app, pool, "purchase", str(pool.product_id), 2, {}, "direct-key")
    paid = ask_withdrawal(app, pool.shop, pool.seller.id, 1_000)
    run_in_shop(app, pool.shop, withdrawals.approve, paid, "BANK-1", "owner")
    ask_withdrawal(app, pool.shop, pool.seller.id, 500)  # waiting
    run_in_shop(
        app,
        pool.shop,
        lambda: suppliers.update_supplier(pool.supplier_id, {"deposit": 20_000}, actor="o"),
    )
    today = datetime.now(UTC).date().isoformat()

    clean = cli("ledger", "reconcile", "alpha", "--date", today)

    assert clean.exit_code == 0, clean.output
    assert "Supplier codes sold (payable)" in clean.output
    assert "Supplier withdrawals paid" in clean.output and "Supplier deposit" in clean.output
    assert payable(app, pool) == 3 * COST - 1_500

    def tamper():
        ledger.post(
            "tamper",
            "adjustment",
            [
                ledger.Line(ledger.supplier_payable_code(pool.seller.id), 999),
                ledger.Line(ledger.SUPPLY_COST, -999),
            ],
            "CNY",
        )
        db.session.commit()

    run_in_shop(app, pool.shop, tamper)
    tampered = cli("ledger", "reconcile", "alpha", "--date", today)

    assert tampered.exit_code == 1, tampered.output
    assert "supplier_payable_balance" in tampered.output
    assert pool.seller.email in tampered.output


def test_a_deposit_changed_outside_the_ledger_is_named(app, pool):
    from sqlalchemy import update

    from app.supply import suppliers
    from app.supply.models import Supplier
    from tests.agents.money_support import differences

    run_in_shop(
        app,
        pool.shop,
        lambda: suppliers.update_supplier(pool.supplier_id, {"deposit": 10_000}, actor="o"),
    )
    assert differences(app, pool.shop) == []

    def tamper():
        db.session.execute(
            update(Supplier).where(Supplier.id == pool.supplier_id).values(deposit=1)
        )
        db.session.commit()

    run_in_shop(app, pool.shop, tamper)

    [found] = differences(app, pool.shop)
    assert (found.code, found.subject, found.expected, found.actual) == (
        "supplier_deposit_balance",
        "Seller",
        1,
        10_000,
    )


def test_the_worker_delivers_a_supplier_code_to_a_paid_order(app, pool, worker):
    import time

    upload(app, pool, "W-1\nW-2")
    order_id = paid_card_order(app, pool)

    deadline = time.monotonic() + 30
    while order_row(app, pool.shop, order_id)["status"] != "delivered":
        assert time.monotonic() < deadline, order_row(app, pool.shop, order_id)
        time.sleep(0.1)

    assert delivered_codes(app, pool, order_id) == ["W-1"]
    assert pool_statuses(app, pool) == {"available": 1, "sold": 1}
    assert payable(app, pool) == COST


def test_staff_read_the_supplier_pool_but_cannot_change_the_supplier(app, pool, browser_for):
    from tests.agents.support import page_text
    from tests.console.support import console
    from tests.factories import add_member

    sell(app, pool, 1)
    add_member(app, pool.shop, "staff@alpha.example.com", "staff")
    staff = console(browser_for, pool.shop.host, "staff@alpha.example.com")

    page = staff.get(f"/console/suppliers/{pool.supplier_id}")

    assert page.status_code == 200
    shown = page_text(page)
    assert "Codes the supplier uploaded" in shown and "¥6.00" in shown
    assert "/console/withdrawals" not in page.get_data(as_text=True)
    changed = staff.submit(
        f"/console/suppliers/{pool.supplier_id}", {"name": "Taken", "deposit": "1.00"}
    )
    assert changed.status_code == 403


def test_a_supplier_takes_back_its_unsold_codes_and_may_upload_them_again(app, pool, browser_for):
    from tests.agents.support import page_text, signed_in

    upload(app, pool, "B-1\nB-2\nB-3")
    connector(app, pool, "purchase", str(pool.product_id), 1, {}, "key-b")
    browser, _ = signed_in(browser_for, pool.shop, pool.seller.email)
    assert "Take back my unsold codes" in page_text(browser.get("/account/supply"))

    done = browser.submit(
        "/account/supply", {}, action=f"/account/supply/{pool.product_id}/take-back"
    )

    assert done.status_code == 302
    assert "Took back 2 unsold codes" in page_text(browser.get("/account/supply"))
    assert pool_statuses(app, pool) == {"available": 0, "sold": 1}
    assert connector(app, pool, "offer", str(pool.product_id)).stock == 0
    again = upload(app, pool, "B-1\nB-2\nB-3")  # B-1 was sold: held, not added
    assert (again.added, again.duplicates) == (2, 1)
    assert pool_statuses(app, pool) == {"available": 2, "sold": 1}


def test_a_product_off_sale_for_want_of_codes_comes_back_when_the_supplier_uploads(app, pool):
    from app.catalog.models import Product
    from app.supply import sync

    run_in_shop(app, pool.shop, sync.sync_source, pool.source_id)

    def status():
        return db.session.get(Product, pool.product_id).status

    assert run_in_shop(app, pool.shop, status) == "off_sale"  # no own stock, an empty pool

    upload(app, pool, "BACK-1")

    assert run_in_shop(app, pool.shop, status) == "on_sale"


def test_an_upload_for_a_product_not_supplied_is_refused_readably(
    app, pool, browser_for, make_product
):
    from tests.agents.support import page_text, signed_in

    other = make_product(pool.shop, name="Other", price=500)
    browser, _ = signed_in(browser_for, pool.shop, pool.seller.email)

    refused = browser.submit("/account/supply", {"product_id": str(other), "codes": "Q-1"})

    assert refused.status_code == 422
    assert "You do not supply this product" in page_text(refused)
    assert pool_statuses(app, pool) == {"available": 0, "sold": 0}


def test_the_reconciliation_page_shows_supplier_payables(app, pool, browser_for):
    from datetime import UTC, datetime

    from tests.agents.money_support import set_shop
    from tests.agents.support import page_text
    from tests.console.support import console

    set_shop(app, pool.shop, timezone="UTC")
    sell(app, pool, 2)
    owner = console(browser_for, pool.shop.host, pool.shop.owner_email)

    page = owner.get(f"/console/reconciliation?day={datetime.now(UTC).date().isoformat()}")

    shown = page_text(page)
    assert page.status_code == 200
    assert "Supplier codes sold (payable)" in shown and "¥12.00" in shown
    assert "Supplier withdrawals paid" in shown and "No differences" in shown
