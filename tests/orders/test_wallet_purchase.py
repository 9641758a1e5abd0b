"""Buying with the balance in one request: ``POST /api/v1/orders`` with
``"pay": "wallet"`` (and the buy page's "Pay from my balance") creates,
pays and delivers in one transaction, on a handful of statements, in one
shop only, and keeps nothing when it cannot finish."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest
from sqlalchemy import event, func, select

from app.extensions import db
from tenants.context import tenant_context
from tests.factories import (
    PASSWORD,
    add_product,
    assert_problem,
    bearer,
    card_statuses,
    codes,
    end_outer_transaction,
    run_in_shop,
)
from tests.orders.support import fund_wallet, ledger_state, order_body

pytestmark = pytest.mark.critical

PRICE = 10_000  # add_product's price, minor units


def signed_in(browser_for, shop, email: str):
    browser = browser_for(shop.host)
    browser.client.set_cookie("lang", "en", domain=shop.host)
    response = browser.submit("/account/login", {"email": email, "password": PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)
    return browser, {"X-CSRFToken": browser.csrf_token("/account/")}


def buy(browser, product_id, quantity: int = 1, *, email: str, key: str | None = None, **kw):
    headers = {"Idempotency-Key": key or uuid.uuid4().hex, **kw.pop("headers", {})}
    return browser.post(
        "/api/v1/orders",
        json=order_body(product_id, quantity, email=email, pay="wallet", **kw),
        headers=headers,
    )


@pytest.fixture
def buyer(app, card_shop, browser_for, make_account):
    """Mei, a signed-in buyer of ``alpha`` with 500.00 in her wallet (five
    codes' worth)."""
    account = make_account(card_shop.shop, "mei@example.com")
    fund_wallet(app, card_shop.shop, account.id, 5 * PRICE)
    browser, csrf = signed_in(browser_for, card_shop.shop, account.email)
    return account, browser, csrf


def orders_of(app, shop) -> list[tuple[str, int]]:
    from app.orders.models import Order

    return run_in_shop(
        app,
        shop,
        lambda: sorted((o.status, o.quantity) for o in db.session.scalars(select(Order))),
    )


def stock_of(app, shop, product_id) -> tuple[int, int, int]:
    """(available, sold, the product's counter)."""
    from app.catalog.models import Product

    statuses = card_statuses(app, shop, product_id)
    counter = run_in_shop(
        app,
        shop,
        lambda: db.session.scalar(select(Product.stock_available).where(Product.id == product_id)),
    )
    assert statuses["reserved"] == 0
    return statuses["available"], statuses["sold"], counter


# --- the request ----------------------------------------------------------------


def test_one_request_creates_pays_and_delivers_with_the_codes(app, card_shop, buyer):
    account, browser, csrf = buyer

    response = buy(browser, card_shop.product_id, 2, email=account.email, headers=csrf)

    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.get_json()
    assert body["status"] == "delivered" and body["payment_provider"] == "wallet"
    assert sorted(c["code"] for c in body["codes"]) == sorted(card_shop.stock[:2])
    assert [h["status"] for h in body["history"]] == ["pending_payment", "paid", "delivered"]
    assert body["total"] == 2 * PRICE and body["lookup_token"] and body["paid_at"]
    # The same body the order's own address gives its buyer.
    again = browser.get(f"/api/v1/orders/{body['number']}").get_json()
    assert again == body
    assert stock_of(app, card_shop.shop, card_shop.product_id) == (3, 2, 3)
    state = ledger_state(app, card_shop.shop)
    assert state["balances"][f"wallet:{account.id}"] == 3 * PRICE
    assert state["balances"]["sales"] == 2 * PRICE
    assert state["sum"] == 0 and state["cached_match"]


def test_the_delivery_mail_is_queued_after_the_purchase(app, card_shop, buyer):
    from rq.job import Job

    from app.core.queues import get_queue
    from app.core.redisconn import get_redis
    from app.orders.fulfilment import DRAIN_JOB, MAIL_PENDING_KEY

    account, browser, csrf = buyer
    first = buy(browser, card_shop.product_id, email=account.email, headers=csrf).get_json()
    second = buy(browser, card_shop.product_id, email=account.email, headers=csrf).get_json()

    with app.app_context():
        queue = get_queue("mail")
        queued = [Job.fetch(i, connection=queue.connection) for i in queue.get_job_ids()]
        pending = [e.decode() for e in get_redis().lrange(MAIL_PENDING_KEY, 0, -1)]
        ids = run_in_shop(
            app,
            card_shop.shop,
            lambda: [
                __import__("app.orders.lookups", fromlist=["x"]).get_order(b["number"]).id
                for b in (first, second)
            ],
        )
    # Both wait in the list; the first purchase queued the one job that drains it.
    assert pending == [f"{card_shop.shop.id}:{i}" for i in ids]
    assert [job.func_name for job in queued] == [DRAIN_JOB]


def test_a_replay_answers_the_same_order_and_another_body_is_refused(app, card_shop, buyer):
    account, browser, csrf = buyer

    first = buy(browser, card_shop.product_id, email=account.email, key="k-1", headers=csrf)
    replay = buy(browser, card_shop.product_id, email=account.email, key="k-1", headers=csrf)
    other = buy(browser, card_shop.product_id, 2, email=account.email, key="k-1", headers=csrf)

    assert first.status_code == 201
    assert replay.status_code == 200
    assert replay.get_json()["number"] == first.get_json()["number"]
    assert replay.get_json()["codes"] == first.get_json()["codes"]
    assert_problem(other, 422, "idempotency-key-reused")
    assert orders_of(app, card_shop.shop) == [("delivered", 1)]
    assert ledger_state(app, card_shop.shop)["balances"][f"wallet:{account.id}"] == 4 * PRICE


def test_an_order_made_unpaid_under_the_key_is_paid_by_the_purchase(app, card_shop, buyer):
    account, browser, csrf = buyer
    made = browser.post(
        "/api/v1/orders",
        json=order_body(card_shop.product_id, 1, email=account.email),
        headers={"Idempotency-Key": "k-3", **csrf},
    )
    assert made.get_json()["status"] == "pending_payment"

    paid = buy(browser, card_shop.product_id, email=account.email, key="k-3", headers=csrf)

    assert paid.status_code == 200, paid.get_data(as_text=True)
    assert paid.get_json()["number"] == made.get_json()["number"]
    assert paid.get_json()["status"] == "delivered" and len(paid.get_json()["codes"]) == 1
    assert orders_of(app, card_shop.shop) == [("delivered", 1)]


def test_a_balance_too_low_is_402_and_keeps_nothing(app, card_shop, buyer):
    account, browser, csrf = buyer
    fund_wallet(app, card_shop.shop, account.id, -4 * PRICE)  # 100.00 left

    short = buy(browser, card_shop.product_id, 2, email=account.email, key="k-2", headers=csrf)

    assert_problem(short, 402, "insufficient-funds")
    assert orders_of(app, card_shop.shop) == []
    assert stock_of(app, card_shop.shop, card_shop.product_id) == (5, 0, 5)
    state = ledger_state(app, card_shop.shop)
    assert state["balances"][f"wallet:{account.id}"] == PRICE
    assert "order_payment" not in state["postings"]
    # Nothing holds the key either: after a recharge the same request buys.
    fund_wallet(app, card_shop.shop, account.id, PRICE)
    again = buy(browser, card_shop.product_id, 2, email=account.email, key="k-2", headers=csrf)
    assert again.status_code == 201 and again.get_json()["status"] == "delivered"


def test_sold_out_is_409_out_of_stock_and_keeps_nothing(app, card_shop, buyer):
    account, browser, csrf = buyer
    fund_wallet(app, card_shop.shop, account.id, 5 * PRICE)

    too_many = buy(browser, card_shop.product_id, 6, email=account.email, headers=csrf)

    assert assert_problem(too_many, 409, "out-of-stock")["available"] == 5
    assert orders_of(app, card_shop.shop) == []
    assert stock_of(app, card_shop.shop, card_shop.product_id) == (5, 0, 5)
    assert ledger_state(app, card_shop.shop)["balances"][f"wallet:{account.id}"] == 10 * PRICE


def test_a_guest_is_told_to_sign_in_and_nothing_is_made(app, card_shop, browser_for):
    guest = browser_for(card_shop.host)

    refused = buy(guest, card_shop.product_id, email="guest@example.com", key=uuid.uuid4().hex)

    assert assert_problem(refused, 422, "validation-failed")["errors"] == {
        "pay": ["Needs an account."]
    }
    assert orders_of(app, card_shop.shop) == []


def test_a_shop_that_turned_the_balance_off_refuses_it(app, card_shop, buyer):
    from tenants.models import Tenant

    account, browser, csrf = buyer

    def turn_off():
        db.session.get(Tenant, card_shop.shop.id).disabled_payment_providers = ["wallet"]
        db.session.commit()

    run_in_shop(app, card_shop.shop, turn_off)
    refused = buy(browser, card_shop.product_id, email=account.email, headers=csrf)

    assert_problem(refused, 422, "payment-provider-unavailable")
    assert orders_of(app, card_shop.shop) == []


def test_a_coupon_takes_the_two_step_path_in_the_same_request(app, card_shop, buyer):
    from app.pricing.models import Coupon

    account, browser, csrf = buyer

    def add_coupon():
        db.session.add(Coupon(code="TEN", kind="fixed", amount=1_000))
        db.session.commit()

    run_in_shop(app, card_shop.shop, add_coupon)
    body = buy(browser, card_shop.product_id, email=account.email, coupon="ten", headers=csrf)

    assert body.status_code == 201, body.get_data(as_text=True)
    assert body.get_json()["status"] == "delivered" and body.get_json()["total"] == PRICE - 1_000
    assert body.get_json()["codes"]
    assert (
        ledger_state(app, card_shop.shop)["balances"][f"wallet:{account.id}"] == 4 * PRICE + 1_000
    )


# --- one shop only ----------------------------------------------------------------


def test_a_buyer_of_one_shop_cannot_buy_another_shops_product(
    app, card_shop, buyer, make_shop, make_account
):
    account, browser, csrf = buyer
    beta = make_shop("beta", "Beta")
    beta_product = add_product(app, beta, stock=codes("BETA", 3))

    here = buy(browser, beta_product, email=account.email, headers=csrf)

    assert_problem(here, 404)
    assert stock_of(app, beta, beta_product) == (3, 0, 3)
    assert orders_of(app, beta) == [] and orders_of(app, card_shop.shop) == []

    # Nor as a buyer id of another shop, straight through the service.
    from app.core.errors import ValidationFailed
    from app.orders.wallet_purchase import buy_with_wallet

    end_outer_transaction()
    with app.app_context(), tenant_context(beta):
        with pytest.raises(ValidationFailed):
            buy_with_wallet(
                product_id=beta_product, quantity=1, email=account.email, buyer_id=account.id
            )
        db.session.remove()
    assert stock_of(app, beta, beta_product) == (3, 0, 3)
    assert ledger_state(app, card_shop.shop)["balances"][f"wallet:{account.id}"] == 5 * PRICE


def test_an_agents_key_buys_in_its_shop_and_is_refused_in_another(
    app, card_shop, browser_for, make_account, make_shop
):
    agent = make_account(card_shop.shop, "agent@alpha.example.com", "agent")
    fund_wallet(app, card_shop.shop, agent.id, 2 * PRICE)
    browser, csrf = signed_in(browser_for, card_shop.shop, agent.email)
    key = browser.post("/api/v1/me/api-keys", json={"name": "script"}, headers=csrf)
    key = key.get_json()["key"]
    beta = make_shop("beta", "Beta")
    beta_product = add_product(app, beta, stock=codes("BETA", 3))

    script = browser_for(card_shop.host)
    bought = buy(script, card_shop.product_id, email=agent.email, headers=bearer(key))
    elsewhere = buy(browser_for(beta.host), beta_product, email=agent.email, headers=bearer(key))

    assert bought.status_code == 201, bought.get_data(as_text=True)
    assert bought.get_json()["status"] == "delivered" and len(bought.get_json()["codes"]) == 1
    assert_problem(elsewhere, 401)
    assert stock_of(app, beta, beta_product) == (3, 0, 3)
    assert ledger_state(app, card_shop.shop)["balances"][f"wallet:{agent.id}"] == PRICE


# --- the database's share -------------------------------------------------------


@contextmanager
def counted_statements(app):
    """Every round trip to the database, BEGIN and COMMIT included (on
    PostgreSQL psycopg sends BEGIN itself; on SQLite ``BEGIN IMMEDIATE`` is a
    statement of its own)."""
    seen: list[str] = []
    with app.app_context():
        engine = db.engine
    sqlite = engine.dialect.name == "sqlite"

    def statement(conn, cursor, text, *args):
        seen.append(text)

    def begin(conn):
        if not sqlite:
            seen.append("BEGIN")

    def commit(conn):
        seen.append("COMMIT")

    hooks = (("before_cursor_execute", statement), ("begin", begin), ("commit", commit))
    for name, fn in hooks:
        event.listen(engine, name, fn)
    try:
        yield seen
    finally:
        for name, fn in hooks:
            event.remove(engine, name, fn)


def _purchase(app, shop, product_id, buyer_id, email):
    from app.orders.wallet_purchase import buy_with_wallet

    end_outer_transaction()
    with app.app_context(), tenant_context(shop):
        bought = buy_with_wallet(
            product_id=product_id, quantity=1, email=email, buyer_id=buyer_id, actor="test"
        )
        db.session.remove()
    return bought


def test_a_plain_wallet_purchase_takes_at_most_8_statements(app, card_shop, make_account):
    buyer = make_account(card_shop.shop, "count@example.com")
    fund_wallet(app, card_shop.shop, buyer.id, 5 * PRICE)
    _purchase(app, card_shop.shop, card_shop.product_id, buyer.id, buyer.email)  # the shop's first

    with counted_statements(app) as seen:
        bought = _purchase(app, card_shop.shop, card_shop.product_id, buyer.id, buyer.email)

    assert bought.created and bought.order.status == "delivered" and len(bought.codes) == 1
    with app.app_context():
        dialect = db.engine.dialect.name
    # SQLite has no data-modifying CTEs: the order's history and the ledger
    # rows take three statements more there (the embedded default only).
    limit = 8 if dialect == "postgresql" else 10
    assert len(seen) <= limit, "\n".join(seen)
    assert seen[0].startswith("BEGIN") and seen[-1] == "COMMIT"
    # Every statement is heard, the prepared ones (app.core.prepared) too.
    sent = "\n".join(seen)
    for part in ("INSERT INTO orders", "UPDATE cards", "UPDATE products", "ledger_entries"):
        assert part in sent, sent
    # The shop is in every statement, by construction.
    for text in seen[1:-1]:
        assert "tenant_id" in text, text


def test_the_purchase_statements_are_compiled_once():
    """Each statement can be prepared once for PostgreSQL (no parameter list
    that changes its SQL), and has a cache key for SQLite, where SQLAlchemy
    compiles it once per process, not once per purchase."""
    from sqlalchemy.dialects.postgresql.psycopg import dialect

    from app.core.prepared import _Plan
    from app.orders.wallet_purchase import STATEMENTS

    postgresql = dialect()
    for statement in STATEMENTS:
        assert statement._generate_cache_key() is not None, statement
        assert "tenant_id" in _Plan(statement, postgresql).sql


def test_purchases_at_once_never_sell_a_code_twice(app, make_shop, make_account):
    from app.catalog.models import Card
    from app.catalog.stock import OutOfStock
    from app.orders.models import Order
    from app.orders.wallet_purchase import buy_with_wallet

    shop = make_shop("rush", "Rush")
    product_id = add_product(app, shop, stock=codes("RUSH", 8), threshold=3)
    buyers = [make_account(shop, f"b{i}@example.com") for i in range(6)]
    for account in buyers:
        fund_wallet(app, shop, account.id, 10 * PRICE)
    end_outer_transaction()
    outcomes: list[str] = []
    lock = threading.Lock()

    def attempt(n: int) -> None:
        account = buyers[n % len(buyers)]
        with app.app_context(), tenant_context(shop):
            try:
                buy_with_wallet(
                    product_id=product_id,
                    quantity=1,
                    email=account.email,
                    buyer_id=account.id,
                    idempotency_key=f"rush-{n}",
                    caller=__import__("app.orders.checkout", fromlist=["x"]).Caller(
                        "shop_account", account.id
                    ),
                )
                outcome = "delivered"
            except OutOfStock:
                outcome = "sold out"
            finally:
                db.session.remove()
        with lock:
            outcomes.append(outcome)

    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(attempt, range(14)))

    assert sorted(outcomes).count("delivered") == 8
    assert outcomes.count("sold out") == 6
    assert stock_of(app, shop, product_id) == (0, 8, 0)

    def check():
        per_order = db.session.execute(
            select(Card.order_id, func.count()).where(Card.status == "sold").group_by(Card.order_id)
        ).all()
        delivered = db.session.scalar(
            select(func.count()).select_from(Order).where(Order.status == "delivered")
        )
        return len(per_order), {count for _, count in per_order}, delivered

    assert run_in_shop(app, shop, check) == (8, {1}, 8)
    state = ledger_state(app, shop)
    assert state["sum"] == 0 and state["cached_match"] and state["balances"]["sales"] == 8 * PRICE


def test_the_days_books_reconcile_after_purchases(app, card_shop, buyer):
    from app.ledger.reconcile import reconcile

    account, browser, csrf = buyer
    for quantity in (1, 2):
        assert buy(browser, card_shop.product_id, quantity, email=account.email, headers=csrf)

    found = run_in_shop(
        app,
        card_shop.shop,
        lambda: reconcile(datetime.now(UTC).date(), "UTC"),
    )
    assert found.balanced and found.differences == []


def test_a_low_stock_crossing_records_its_alert(app, make_shop, make_account):
    from app.catalog.models import StockAlert

    shop = make_shop("lowly", "Lowly")
    product_id = add_product(app, shop, stock=codes("LOW", 3), threshold=2)
    account = make_account(shop, "low@example.com")
    fund_wallet(app, shop, account.id, 5 * PRICE)

    for _ in range(3):
        _purchase(app, shop, product_id, account.id, account.email)

    kinds = run_in_shop(
        app,
        shop,
        lambda: sorted(a.kind for a in db.session.scalars(select(StockAlert))),
    )
    assert kinds == ["low", "sold_out"]


def test_an_agents_purchase_accrues_its_uplines_commission(app, make_shop, make_account):
    from app.agents.models import Commission
    from tests.agents.support import add_agent, add_rule, add_tier

    shop = make_shop("agents", "Agents")
    product_id = add_product(app, shop, stock=codes("AG", 3), cost=5_000)
    gold, silver = add_tier(app, shop, "Gold", 2), add_tier(app, shop, "Silver", 1)
    add_rule(app, shop, tier_id=gold, product_id=product_id, price=7_000)
    add_rule(app, shop, tier_id=silver, product_id=product_id, price=8_000)
    upline = add_agent(app, shop, "up@example.com", tier_id=gold)
    agent = add_agent(app, shop, "down@example.com", upline=upline, tier_id=silver)
    fund_wallet(app, shop, agent, 5 * PRICE)

    bought = _purchase(app, shop, product_id, agent, "down@example.com")

    assert bought.order.total == 8_000  # the agent's tier price
    rows = run_in_shop(
        app,
        shop,
        lambda: [
            (c.account_id, c.amount, c.status) for c in db.session.scalars(select(Commission))
        ],
    )
    assert rows == [(upline, 1_000, "pending")]
    state = ledger_state(app, shop)
    assert state["balances"]["commission:pending"] == 1_000
    assert state["sum"] == 0 and state["cached_match"]


# --- the buy page ---------------------------------------------------------------


def test_the_buy_page_pays_from_the_balance_in_one_step(app, card_shop, buyer):
    account, browser, csrf = buyer
    page = browser.get(f"/buy/{card_shop.product_id}")
    assert "Pay from my balance" in page.get_data(as_text=True)
    assert "Your balance: ¥500.00" in page.get_data(as_text=True)

    sent = browser.submit(
        f"/buy/{card_shop.product_id}",
        {"quantity": "1", "email": account.email, "coupon": "", "pay": "wallet"},
    )

    assert sent.status_code == 302 and "/pay" not in sent.headers["Location"]
    order_page = browser.get(sent.headers["Location"])
    text = order_page.get_data(as_text=True)
    assert card_shop.stock[0] in text
    assert ledger_state(app, card_shop.shop)["balances"][f"wallet:{account.id}"] == 4 * PRICE


def test_the_buy_page_says_when_the_balance_is_short_and_keeps_the_form(app, card_shop, buyer):
    account, browser, csrf = buyer

    fund_wallet(app, card_shop.shop, account.id, -PRICE * 9 // 2)  # 50.00 left

    short = browser.submit(
        f"/buy/{card_shop.product_id}",
        {"quantity": "1", "email": account.email, "coupon": "", "pay": "wallet"},
    )

    assert short.status_code == 200
    text = short.get_data(as_text=True)
    assert "Your balance is too low for this order. Choose another way to pay." in text
    assert 'value="1"' in text and account.email in text
    assert orders_of(app, card_shop.shop) == []


def test_a_guest_sees_no_balance_button(app, card_shop, browser_for):
    page = browser_for(card_shop.host).get(f"/buy/{card_shop.product_id}")
    assert page.status_code == 200
    assert 'name="pay"' not in page.get_data(as_text=True)


def test_a_plan_that_caps_orders_a_month_holds_the_one_request_purchase(app, card_shop, buyer):
    """The one-request path reads the plan's monthly cap with the purchase
    (no statement of its own) and, when the plan caps orders, refuses the
    order past it like checkout does, keeping nothing."""
    from tests.billing.support import free_pro_business, make_plan, put_on_plan

    account, browser, csrf = buyer
    free_pro_business(app)
    make_plan(app, "two", max_orders_month=2)
    put_on_plan(app, card_shop.shop, "two")

    placed = [buy(browser, card_shop.product_id, email=account.email, headers=csrf) for _ in "ab"]
    refused = buy(browser, card_shop.product_id, email=account.email, headers=csrf)

    assert [r.status_code for r in placed] == [201, 201]
    body = assert_problem(refused, 403, "plan-limit")
    assert body["limit"] == "orders_month"
    assert len(orders_of(app, card_shop.shop)) == 2
