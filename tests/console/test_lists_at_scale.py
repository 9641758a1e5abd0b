"""The console's lists read a page at a time in the database, however big
the shop: the tickets page lists 50 tickets a page and says how many wait;
a deep page of products shows its own products with their stock. (What the
pages cost in a shop of 10,000 products and 100,000 orders is measured by
``scripts/bench console``, never asserted here.)"""

from __future__ import annotations

import html
import re
import uuid
from datetime import UTC, datetime, timedelta

from app.extensions import db
from tests.conftest import PASSWORD
from tests.factories import add_product, add_stock, codes, run_in_shop


def console_for(browser_for, shop):
    """The shop's owner signed in to its console, in English."""
    browser = browser_for(shop.host)
    browser.client.set_cookie("lang", "en", domain=shop.host)
    response = browser.submit("/console/login", {"email": shop.owner_email, "password": PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)
    return browser


def page_text(response) -> str:
    assert response.status_code == 200, response.status_code
    return re.sub(r"\s+", " ", html.unescape(response.get_data(as_text=True)))


def failed_orders_with_tickets(app, shop, product_id: uuid.UUID, n: int) -> list[str]:
    """``n`` paid orders of the product that failed, each with its open
    ticket, opened a minute apart (the oldest first); their numbers."""
    from app.orders import tickets
    from app.orders.models import Order

    def build() -> list[str]:
        start = datetime.now(UTC) - timedelta(hours=2)
        numbers = []
        for i in range(n):
            when = start + timedelta(minutes=i)
            order = Order(
                number=f"26{i:018d}",
                status="failed",
                product_id=product_id,
                product_kind="card",
                product_name="Steam",
                quantity=1,
                unit_price=100,
                total=100,
                currency="CNY",
                email=f"buyer{i}@example.com",
                expires_at=when + timedelta(minutes=15),
                paid_at=when,
                created_at=when,
            )
            db.session.add(order)
            db.session.flush()
            tickets.open_ticket(
                order.id, "out_of_stock", "0 of 1 codes available"
            ).created_at = when
            numbers.append(order.number)
        db.session.commit()
        return numbers

    return run_in_shop(app, shop, build)


def ticket_numbers(page: str) -> list[str]:
    """The order numbers a tickets page lists, in its order."""
    return re.findall(r'href="/console/orders/(\d{20})"', page)


def test_the_tickets_page_lists_50_at_a_time_newest_first_and_says_how_many_wait(
    app, make_shop, browser_for
):
    shop = make_shop("alpha")
    numbers = failed_orders_with_tickets(app, shop, add_product(app, shop), 53)
    console = console_for(browser_for, shop)

    first = page_text(console.get("/console/tickets"))
    second = page_text(console.get("/console/tickets?page=2"))

    assert "53 in all" in first
    assert ticket_numbers(first) == numbers[::-1][:50]
    assert ticket_numbers(second) == numbers[::-1][50:]
    assert "Page 1 of 2" in first and 'rel="next"' in first
    assert "Page 2 of 2" in second and 'rel="prev"' in second


def test_a_resolved_ticket_leaves_the_page_and_the_count(app, make_shop, browser_for):
    from sqlalchemy import select

    from app.orders import tickets
    from app.orders.models import Order

    shop = make_shop("alpha")
    numbers = failed_orders_with_tickets(app, shop, add_product(app, shop), 3)

    def resolve_oldest():
        order_id = db.session.scalar(select(Order.id).where(Order.number == numbers[0]))
        tickets.resolve_tickets(order_id, "refunded", "operator owner")
        db.session.commit()

    run_in_shop(app, shop, resolve_oldest)
    page = page_text(console_for(browser_for, shop).get("/console/tickets"))

    assert "2 in all" in page
    assert ticket_numbers(page) == [numbers[2], numbers[1]]
    assert "Page 1 of" not in page  # one page: no pager


def test_a_deep_products_page_shows_its_own_products_with_their_stock(app, make_shop, browser_for):
    from app.catalog import stock
    from app.catalog.models import Product

    shop = make_shop("alpha")

    def build() -> list[uuid.UUID]:
        rows = [
            Product(name=f"Card {i:02d}", kind="card", price=100, status="on_sale", sort=i)
            for i in range(53)
        ]
        db.session.add_all(rows)
        db.session.commit()
        return [row.id for row in rows]

    ids = run_in_shop(app, shop, build)
    add_stock(app, shop, ids[51], codes("D", 3))
    run_in_shop(
        app,
        shop,
        lambda: (
            stock.reserve(ids[51], 1, uuid.uuid4(), hold=timedelta(minutes=-1)),  # lapsed
            stock.reserve(ids[51], 1, uuid.uuid4(), hold=timedelta(minutes=15)),  # held
            db.session.commit(),
        ),
    )
    console = console_for(browser_for, shop)

    page = page_text(console.get("/console/products?page=2"))

    listed = re.findall(r">(Card \d\d)</a>", page)
    assert listed == ["Card 50", "Card 51", "Card 52"]
    assert "53 in all" in page and "Page 2 of 2" in page
    # Card 51: 3 codes, one held (not for sale), one whose hold lapsed (for sale again).
    row = re.search(r">Card 51</a>.*?</tr>", page).group(0)
    stock_cell = re.findall(r'<td class="num-cell">(.*?)</td>', row)[1]
    assert re.sub(r"<[^>]+>", "", stock_cell).strip() == "2"
