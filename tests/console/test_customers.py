"""The console's customers: the list with balances (searched, filtered and
paged in the database, the balances in one query), one customer's balance
history in words, and the owner's manual adjustment: asked, confirmed,
one balanced ledger transaction on the audit record, never twice for one
form, refused readably with what was typed kept."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import event, select

from app.extensions import db
from tests.console.support import audit_trail, balance_of, console, credit, text_of
from tests.factories import run_in_shop

pytestmark = pytest.mark.critical


@pytest.fixture
def alpha(make_shop):
    return make_shop("alpha")


@pytest.fixture
def owner(alpha, browser_for):
    return console(browser_for, alpha.host, alpha.owner_email)


@pytest.fixture
def buyer(app, alpha, make_account):
    account = make_account(alpha, "alice@example.com")
    credit(app, alpha, account.id, 2_000)
    return account


def page_of(owner, account) -> str:
    return text_of(owner.get(f"/console/customers/{account.id}"))


def form_key(page: str) -> str:
    return re.search(r'name="form_key" type="hidden" value="([0-9a-f]+)"', page)[1]


def adjust(owner, account, amount: str, reason: str, key: str | None = None, confirm=True):
    """Review an adjustment, then (``confirm``) confirm it from the review."""
    path = f"/console/customers/{account.id}"
    key = key or form_key(page_of(owner, account))
    data = {"amount": amount, "reason": reason, "form_key": key}
    review = owner.submit(path, data)
    if not confirm:
        return review
    return owner.submit(path, {**data, "confirmed": "1"})


def adjustments(app, shop) -> list[tuple[str, int, str]]:
    """The shop's adjustment transactions: (memo, wallet's amount, balanced?)."""
    from sqlalchemy import func

    from app.ledger.models import LedgerAccount, LedgerEntry, LedgerTransaction

    def read():
        found = []
        for tx in db.session.scalars(
            select(LedgerTransaction).where(LedgerTransaction.kind == "adjustment")
        ):
            wallet = db.session.scalar(
                select(LedgerEntry.amount)
                .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
                .where(LedgerEntry.transaction_id == tx.id, LedgerAccount.kind == "wallet")
            )
            total = db.session.scalar(
                select(func.sum(LedgerEntry.amount)).where(LedgerEntry.transaction_id == tx.id)
            )
            found.append((tx.memo, int(wallet), int(total)))
        return found

    return run_in_shop(app, shop, read)


# --- the list -------------------------------------------------------------------


def test_the_owner_sees_customers_with_their_balances(app, alpha, owner, buyer, make_account):
    make_account(alpha, "bob-agent@example.com", "agent")

    page = text_of(owner.get("/console/customers"))

    assert "alice@example.com" in page and "bob-agent@example.com" in page
    assert "¥20.00" in page and "¥0.00" in page
    assert "2 in all" in page
    assert 'href="/console/customers"' in text_of(owner.get("/console/"))


def test_customers_are_searched_by_email_and_filtered_by_role(app, alpha, owner, make_account):
    make_account(alpha, "alice@example.com")
    make_account(alpha, "alina@shop.example.com", "agent")
    make_account(alpha, "carol@example.com", "supplier")

    by_part = text_of(owner.get("/console/customers?q=ALI"))
    agents = text_of(owner.get("/console/customers?role=agent"))
    both = text_of(owner.get("/console/customers?q=ali&role=customer"))
    nothing = text_of(owner.get("/console/customers?q=zed"))

    assert "alice@example.com" in by_part and "alina@shop.example.com" in by_part
    assert "carol@example.com" not in by_part
    assert 'value="ALI"' in by_part  # the search is kept in its box
    assert "alina@shop.example.com" in agents and "alice@example.com" not in agents
    assert "alice@example.com" in both and "alina@shop.example.com" not in both
    assert "No customer matches." in nothing


def test_the_list_is_paged_and_keeps_its_filters(app, alpha, owner, make_account):
    for i in range(53):
        make_account(alpha, f"buyer{i:02d}@example.com")
    make_account(alpha, "agent@example.com", "agent")

    first = text_of(owner.get("/console/customers?role=customer"))
    second = text_of(owner.get("/console/customers?role=customer&page=2"))

    assert "53 in all" in first and "Page 1 of 2" in first
    assert first.count("@example.com</a>") == 50
    assert second.count("@example.com</a>") == 3
    assert "/console/customers?page=2&amp;role=customer" in owner.get(
        "/console/customers?role=customer"
    ).get_data(as_text=True)
    assert "agent@example.com" not in first + second


def test_the_balances_of_a_page_cost_the_same_queries_for_3_or_30_customers(
    app, alpha, owner, make_account
):
    def statements(path: str) -> int:
        seen = []

        def count(conn, cursor, statement, *args):
            seen.append(statement)

        event.listen(db.engine, "before_cursor_execute", count)
        try:
            assert owner.get(path).status_code == 200
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        return len(seen)

    accounts = [make_account(alpha, f"few{i}@example.com") for i in range(3)]
    for account in accounts:
        credit(app, alpha, account.id, 100)
    with app.app_context():
        few = statements("/console/customers")
    more = [make_account(alpha, f"many{i}@example.com") for i in range(27)]
    for account in more:
        credit(app, alpha, account.id, 100)
    with app.app_context():
        many = statements("/console/customers")

    assert many == few


def test_the_old_accounts_page_leads_to_the_customers(owner):
    response = owner.get("/console/accounts?role=agent")

    assert response.status_code == 302
    assert response.location == "/console/customers?role=agent"


# --- one customer ---------------------------------------------------------------


def test_a_customers_history_speaks_in_words_not_codes(app, alpha, owner, buyer, make_product):
    from app.orders import checkout, payment
    from app.orders.models import Order

    product = make_product(alpha, name="Steam 100", price=500, stock=["CODE-1"])

    def buy():
        order, _ = checkout.create_order(
            product_id=product, quantity=1, email=buyer.email, buyer_id=buyer.id
        )
        db.session.commit()
        payment.pay_order(order, "wallet", buyer_id=buyer.id, actor=f"buyer {buyer.email}")
        return db.session.scalar(select(Order.number).where(Order.id == order.id))

    number = run_in_shop(app, alpha, buy)
    page = page_of(owner, buyer)

    assert "¥15.00" in page  # 20.00 topped up, 5.00 paid
    assert "Top-up" in page and "Order payment" in page
    assert f"Order {number}" in page and f'href="/console/orders/{number}"' in page
    assert "wallet:" not in page and "recharge via" not in page and "order_payment" not in page


def test_another_shops_customer_is_not_found(app, make_shop, browser_for, buyer, alpha):
    bravo = make_shop("bravo")
    theirs = console(browser_for, bravo.host, bravo.owner_email)

    listed = text_of(theirs.get("/console/customers"))
    opened = theirs.get(f"/console/customers/{buyer.id}")
    posted = theirs.submit(
        "/console/customers",
        {"amount": "100", "reason": "x", "form_key": "k" * 32, "confirmed": "1"},
        action=f"/console/customers/{buyer.id}",
    )

    assert "alice@example.com" not in listed
    assert opened.status_code == 404 and posted.status_code == 404
    assert balance_of(app, alpha, buyer.id) == 2_000
    assert theirs.get("/console/customers/not-an-id").status_code == 404


def test_a_stranger_is_sent_to_sign_in(alpha, browser_for, buyer):
    stranger = browser_for(alpha.host)

    for path in ("/console/customers", f"/console/customers/{buyer.id}"):
        response = stranger.get(path)
        assert response.status_code == 302 and "/console/login" in response.location


def test_staff_see_customers_but_cannot_change_a_balance(
    app, alpha, make_member, browser_for, buyer
):
    make_member(alpha, "staff@example.com", "staff")
    staff = console(browser_for, alpha.host, "staff@example.com")

    listed = text_of(staff.get("/console/customers"))
    detail = text_of(staff.get(f"/console/customers/{buyer.id}"))
    refused = staff.submit(
        f"/console/customers/{buyer.id}",
        {"amount": "100", "reason": "x", "form_key": "k" * 32, "confirmed": "1"},
        action=f"/console/customers/{buyer.id}",
    )

    assert "alice@example.com" in listed and "¥20.00" in detail
    assert "Adjust the balance" not in detail
    assert refused.status_code == 403
    assert balance_of(app, alpha, buyer.id) == 2_000
    assert audit_trail(app, alpha) == []


# --- adjusting a balance ------------------------------------------------------


def test_an_adjustment_is_reviewed_then_made_once_on_the_record(app, alpha, owner, buyer):
    key = form_key(page_of(owner, buyer))

    review = text_of(adjust(owner, buyer, "12.50", "Late delivery", key, confirm=False))
    untouched = balance_of(app, alpha, buyer.id)
    done = adjust(owner, buyer, "12.50", "Late delivery", key)
    after = text_of(owner.get(done.location))
    again = adjust(owner, buyer, "12.50", "Late delivery", key)
    after_again = text_of(owner.get(again.location))

    assert "Add ¥12.50 to the balance of alice@example.com?" in review
    assert "The balance goes from ¥20.00 to ¥32.50." in review
    assert untouched == 2_000
    assert done.status_code == 302
    assert "Balance changed by ¥12.50. It is now ¥32.50." in after
    assert "Balance adjustment" in after and "Late delivery" in after
    assert "That change was made already; nothing more was done." in after_again
    assert balance_of(app, alpha, buyer.id) == 3_250
    assert adjustments(app, alpha) == [("Late delivery", 1_250, 0)]
    assert audit_trail(app, alpha) == [
        (
            f"operator {alpha.owner_email}",
            "wallet.adjusted",
            f"account:{buyer.id}",
            {
                "email": "alice@example.com",
                "amount": 1_250,
                "currency": "CNY",
                "reason": "Late delivery",
            },
        )
    ]


def test_money_is_taken_back_with_a_minus(app, alpha, owner, buyer):
    review = text_of(adjust(owner, buyer, "-3", "Mistaken top-up", confirm=False))
    adjust(owner, buyer, "-3", "Mistaken top-up")

    assert "Take ¥3.00 from the balance of alice@example.com?" in review
    assert balance_of(app, alpha, buyer.id) == 1_700
    assert adjustments(app, alpha) == [("Mistaken top-up", -300, 0)]


@pytest.mark.parametrize(
    "amount, reason, message",
    [
        ("abc", "Goodwill", "Type an amount such as 12.50 or -3."),
        ("12.345", "Goodwill", "This currency has at most 2 decimal places."),
        ("0", "Goodwill", "Type an amount other than zero."),
        ("5", "", "Give a reason: it is kept with the change and shown to the customer."),
    ],
)
def test_a_bad_adjustment_says_why_and_keeps_what_was_typed(
    app, alpha, owner, buyer, amount, reason, message
):
    page = text_of(adjust(owner, buyer, amount, reason, confirm=True))

    assert message in page
    assert f'value="{amount}"' in page
    if reason:
        assert f'value="{reason}"' in page
    assert balance_of(app, alpha, buyer.id) == 2_000
    assert adjustments(app, alpha) == [] and audit_trail(app, alpha) == []


def test_a_balance_cannot_be_taken_below_zero(app, alpha, owner, buyer):
    review = text_of(adjust(owner, buyer, "-25", "Chargeback", confirm=False))
    forced = text_of(adjust(owner, buyer, "-25", "Chargeback"))

    assert "would leave the balance at -¥5.00" in review
    assert "Yes, change the balance" not in review
    assert "The balance is ¥20.00; it cannot go below zero." in forced
    assert 'value="-25"' in forced and 'value="Chargeback"' in forced
    assert balance_of(app, alpha, buyer.id) == 2_000
    assert adjustments(app, alpha) == [] and audit_trail(app, alpha) == []


def test_a_wallet_never_used_can_be_credited(app, alpha, owner, make_account):
    fresh = make_account(alpha, "fresh@example.com")

    adjust(owner, fresh, "¥8", "Welcome gift")

    assert balance_of(app, alpha, fresh.id) == 800
    assert "¥8.00" in text_of(owner.get("/console/customers"))


def test_a_used_form_cannot_make_a_different_change(app, alpha, owner, buyer):
    key = form_key(page_of(owner, buyer))
    adjust(owner, buyer, "1", "First", key)

    page = text_of(adjust(owner, buyer, "5", "Second", key))

    assert "This form was used for another change already. Reload the page." in page
    assert balance_of(app, alpha, buyer.id) == 2_100
    assert [memo for memo, _, _ in adjustments(app, alpha)] == ["First"]
