"""The console's orders list: filtered by status, product and days (the
shop's days, in its time zone), searched by order number (spaces anywhere
ignored) or buyer email, paged in the database, exported as a streamed CSV
in the reader's words; and one order's history in words, its refunds
asked first."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest

from tests.console.support import audit_trail, console, credit, make_order, text_of
from tests.factories import run_in_shop

# 2024-05-01 17:30 UTC is 2024-05-02 01:30 in Beijing, the shop's time zone.
LATE_EVENING_UTC = datetime(2024, 5, 1, 17, 30, tzinfo=UTC)


@pytest.fixture
def alpha(make_shop):
    return make_shop("alpha")


@pytest.fixture
def owner(alpha, browser_for):
    return console(browser_for, alpha.host, alpha.owner_email)


@pytest.fixture
def manual(alpha, make_product):
    """A hand-fulfilled product: orders of it need no stock."""
    return make_product(alpha, name="Netflix 月卡", kind="manual", price=3_000)


def numbers_on(page: str) -> list[str]:
    import re

    return re.findall(r'href="/console/orders/(\d+)"', page)


def test_orders_are_found_by_number_with_spaces_anywhere(app, alpha, owner, manual):
    number = make_order(app, alpha, manual, "alice@example.com")
    make_order(app, alpha, manual, "bob@example.com")
    spaced = " ".join(number[i : i + 4] for i in range(0, len(number), 4))

    pasted = text_of(owner.get("/console/orders", query_string={"q": f"  {spaced}\u3000"}))
    exact = text_of(owner.get("/console/orders", query_string={"q": number}))

    assert numbers_on(pasted) == [number] and numbers_on(exact) == [number]
    assert "1 in all" in pasted


def test_orders_are_found_by_buyer_email_whole_or_part(app, alpha, owner, manual):
    alice = make_order(app, alpha, manual, "alice@example.com")
    alina = make_order(app, alpha, manual, "alina@example.org")
    make_order(app, alpha, manual, "bob@example.com")

    whole = text_of(owner.get("/console/orders?q=Alice@Example.com"))
    part = text_of(owner.get("/console/orders?q=ali"))

    assert numbers_on(whole) == [alice]
    assert sorted(numbers_on(part)) == sorted([alice, alina])


def test_orders_are_filtered_by_status_and_product(app, alpha, owner, manual, make_product):
    other = make_product(alpha, name="Steam 100", kind="manual", price=100)
    netflix = make_order(app, alpha, manual, "a@example.com")
    steam = make_order(app, alpha, other, "b@example.com")
    run_in_shop(app, alpha, _cancel, steam)

    by_name = text_of(owner.get("/console/orders?product=netflix"))
    by_id = text_of(owner.get(f"/console/orders?product={other}"))
    cancelled = text_of(owner.get("/console/orders?status=cancelled"))
    nothing = text_of(owner.get("/console/orders?status=cancelled&product=netflix"))

    assert numbers_on(by_name) == [netflix]
    assert numbers_on(by_id) == [steam]
    assert numbers_on(cancelled) == [steam]
    assert "No order matches." in nothing


def _cancel(number: str) -> None:
    from app.extensions import db
    from app.orders import lookups, state
    from app.orders.models import CANCELLED, PENDING

    state.transition(lookups.get_order(number).id, PENDING, CANCELLED, actor="test")
    db.session.commit()


def test_days_are_the_shops_days(app, alpha, owner, manual):
    """The shop keeps Beijing time: an order placed at 17:30 UTC on 1 May
    was placed on 2 May there."""
    late = make_order(app, alpha, manual, "a@example.com", at=LATE_EVENING_UTC)
    earlier = make_order(
        app, alpha, manual, "b@example.com", at=LATE_EVENING_UTC - timedelta(hours=10)
    )
    make_order(app, alpha, manual, "c@example.com", at=LATE_EVENING_UTC + timedelta(days=2))

    may_2 = text_of(owner.get("/console/orders?start=2024-05-02&end=2024-05-02"))
    may_1 = text_of(owner.get("/console/orders?start=2024-05-01&end=2024-05-01"))
    until_2 = text_of(owner.get("/console/orders?end=2024-05-02"))

    assert numbers_on(may_2) == [late]
    assert numbers_on(may_1) == [earlier]
    assert sorted(numbers_on(until_2)) == sorted([late, earlier])
    assert "2024-05-02 01:30" in may_2


@pytest.mark.parametrize(
    "query, field, message",
    [
        ({"start": "2024-13-40"}, "start", "Use a date like 2024-05-01."),
        (
            {"start": "2024-05-03", "end": "2024-05-01"},
            "end",
            "The end date is before the start date.",
        ),
    ],
)
def test_a_bad_date_is_explained_and_kept(app, alpha, owner, manual, query, field, message):
    make_order(app, alpha, manual, "a@example.com")

    page = text_of(owner.get("/console/orders", query_string={**query, "q": "a@example.com"}))

    assert message in page
    assert f'value="{query[field]}"' in page and 'value="a@example.com"' in page
    assert numbers_on(page) == []
    assert "Correct the dates to see the orders." in page


def test_the_list_is_paged_and_the_pages_keep_the_filters(app, alpha, owner, manual):
    for i in range(52):
        make_order(app, alpha, manual, f"buyer{i}@example.com")
    make_order(app, alpha, manual, "other@example.org")

    first = owner.get("/console/orders?q=example.com").get_data(as_text=True)
    second = text_of(owner.get("/console/orders?q=example.com&page=2"))

    assert "53 in all" in text_of(owner.get("/console/orders"))
    assert len(numbers_on(first)) == 50 and len(numbers_on(second)) == 2
    assert "/console/orders?page=2&amp;q=example.com" in first
    assert "other@example.org" not in first + second


def test_the_export_streams_the_filtered_orders_in_words(app, alpha, owner, manual, make_product):
    netflix = make_order(app, alpha, manual, "=cmd@example.com", quantity=2)
    other = make_product(alpha, name="Steam 100", kind="manual", price=100)
    make_order(app, alpha, other, "b@example.com")

    response = owner.get("/console/orders/export.csv?product=netflix", buffered=False)
    streamed = response.is_streamed
    body = response.get_data(as_text=True)
    lines = list(csv.reader(io.StringIO(body.lstrip("\ufeff"))))

    assert response.status_code == 200 and streamed
    assert response.mimetype == "text/csv" and body.startswith("\ufeff")
    assert "attachment" in response.headers["Content-Disposition"]
    assert lines[0][:4] == ["Order number", "Placed", "Status", "Product"]
    assert len(lines) == 2
    row = dict(zip(lines[0], lines[1], strict=True))
    assert row["Order number"] == netflix and row["Status"] == "Awaiting payment"
    assert row["Total"] == "60.00" and row["Unit price"] == "30.00" and row["Quantity"] == "2"
    assert row["Buyer email"] == "'=cmd@example.com"  # never run as a formula
    assert audit_trail(app, alpha)[-1][1:3] == ("orders.exported", "orders")
    assert audit_trail(app, alpha)[-1][3] == {"filters": {"product": "netflix"}}


def test_the_export_speaks_the_readers_language(app, alpha, browser_for, manual):
    make_order(app, alpha, manual, "a@example.com")
    chinese = console(browser_for, alpha.host, alpha.owner_email, lang="zh_CN")

    body = chinese.get("/console/orders/export.csv").get_data(as_text=True)
    header = next(csv.reader(io.StringIO(body.lstrip("\ufeff"))))

    assert header[0] == "订单号" and "Order number" not in header


def test_the_export_of_every_order_is_read_in_batches(app, alpha, owner, manual):
    """More orders than one batch: each appears once, newest first."""
    from app.orders import lookups

    numbers = [make_order(app, alpha, manual, f"b{i}@example.com") for i in range(7)]

    def read():
        return [r.number for r in lookups.iter_orders(lookups.OrderFilter(), batch=3)]

    streamed = run_in_shop(app, alpha, read)
    exported = owner.get("/console/orders/export.csv").get_data(as_text=True)

    assert streamed == list(reversed(numbers))
    assert all(n in exported for n in numbers)


def test_a_bad_filter_sends_the_export_back_to_the_list(owner):
    response = owner.get("/console/orders/export.csv?start=yesterday")

    assert response.status_code == 302
    assert response.location == "/console/orders?start=yesterday"


def test_another_shops_orders_stay_out_of_sight(
    app, alpha, make_shop, make_product, browser_for, manual
):
    number = make_order(app, alpha, manual, "alpha-buyer@example.com")
    bravo = make_shop("bravo")
    theirs = console(browser_for, bravo.host, bravo.owner_email)

    listed = text_of(theirs.get(f"/console/orders?q={number}"))
    exported = theirs.get("/console/orders/export.csv").get_data(as_text=True)
    opened = theirs.get(f"/console/orders/{number}")

    assert numbers_on(listed) == [] and number not in exported
    assert "alpha-buyer@example.com" not in exported
    assert opened.status_code == 404


def test_strangers_sign_in_and_staff_may_list_and_export(
    app, alpha, make_member, browser_for, manual
):
    number = make_order(app, alpha, manual, "a@example.com")
    make_member(alpha, "staff@example.com", "staff")
    staff = console(browser_for, alpha.host, "staff@example.com")
    stranger = browser_for(alpha.host)

    for path in ("/console/orders", "/console/orders/export.csv", f"/console/orders/{number}"):
        response = stranger.get(path)
        assert response.status_code == 302 and "/console/login" in response.location
    assert numbers_on(text_of(staff.get("/console/orders"))) == [number]
    assert number in staff.get("/console/orders/export.csv").get_data(as_text=True)


# --- one order --------------------------------------------------------------------


def test_an_orders_history_names_people_and_payments_in_words(
    app, alpha, owner, make_account, make_product
):
    from app.extensions import db
    from app.orders import checkout, payment

    buyer = make_account(alpha, "alice@example.com")
    credit(app, alpha, buyer.id, 10_000)
    product = make_product(alpha, name="Steam 100", price=500, stock=["CODE-1"])

    def buy():
        order, _ = checkout.create_order(
            product_id=product,
            quantity=1,
            email=buyer.email,
            buyer_id=buyer.id,
            actor=f"buyer {buyer.email}",
        )
        db.session.commit()
        payment.pay_order(order, "wallet", buyer_id=buyer.id, actor=f"buyer {buyer.email}")
        return order.number

    number = run_in_shop(app, alpha, buy)
    page = text_of(owner.get(f"/console/orders/{number}"))
    history = page.split('<table class="table history">')[1]

    assert "Paid from the buyer's balance" in history
    assert "Buyer alice@example.com" in history and "Automatic delivery" in history
    assert "wallet:" not in page and ">checkout<" not in history
    assert "<dd>Balance</dd>" in page  # how it was paid, without the internal reference


def test_refunds_ask_first(app, alpha, owner, make_account, make_product):
    from app.extensions import db
    from app.orders import checkout, payment

    buyer = make_account(alpha, "alice@example.com")
    credit(app, alpha, buyer.id, 10_000)
    product = make_product(alpha, name="Steam 100", price=500, stock=["CODE-1"])

    def buy():
        order, _ = checkout.create_order(
            product_id=product, quantity=1, email=buyer.email, buyer_id=buyer.id
        )
        db.session.commit()
        payment.pay_order(order, "wallet", buyer_id=buyer.id, actor=f"buyer {buyer.email}")
        return order.number

    number = run_in_shop(app, alpha, buy)
    page = text_of(owner.get(f"/console/orders/{number}"))
    refund_forms = page.split('<div class="refunds">')[1].split('<section class="card codes">')[0]

    assert refund_forms.count('<details class="confirm">') == 2
    assert "Refund ¥5.00 to the balance of alice@example.com?" in refund_forms
    assert "Send ¥5.00 back through Balance to alice@example.com?" in refund_forms
    # Nothing but the confirmation posts a refund.
    assert refund_forms.count('type="submit"') == 2
    assert refund_forms.count("<summary") == 2
