"""The console dashboard (数据统计): sales figures, the funnel from visit to
payment, the 30-day chart, best sellers, stock to refill, open tickets and
the getting-started checklist; and the storefront visits it counts,
page-cache hits included. Orders are placed and paid through the real API;
only their timestamps are moved, to put them on chosen days."""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update

from app.extensions import db
from app.storefront import visits
from tests.conftest import PASSWORD
from tests.factories import add_member, add_product, add_stock, codes, run_in_shop
from tests.orders.support import order_id, pay, placed

BEIJING = ZoneInfo("Asia/Shanghai")
EN = {"Accept-Language": "en"}


@pytest.fixture(autouse=True)
def no_stray_visits(app):
    """Views other tests counted and this process has not flushed yet are
    not this test's (a shop of the same name may have been theirs)."""
    visits.discard(app)
    yield
    visits.discard(app)


def console_for(browser_for, shop, email: str | None = None):
    """``email`` (the shop's owner by default) signed in to the shop's console, in English."""
    browser = browser_for(shop.host)
    browser.client.set_cookie("lang", "en", domain=shop.host)
    response = browser.submit(
        "/console/login", {"email": email or shop.owner_email, "password": PASSWORD}
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    return browser


def page_text(response) -> str:
    assert response.status_code == 200, response.status_code
    return re.sub(r"\s+", " ", html.unescape(response.get_data(as_text=True)))


def period_card(page: str, days: int) -> str:
    found = re.search(rf'<article class="card period" data-days="{days}">(.*?)</article>', page)
    assert found, f"no card for {days} days"
    return found.group(1)


def figure(card: str, name: str) -> str:
    found = re.search(rf'<dd class="{name}">([^<]*)</dd>', card)
    assert found, name
    return found.group(1).strip()


def revenue_of(card: str) -> str:
    return re.search(r'<span class="num">([^<]*)</span>', card).group(1)


def funnel_row(page: str, row: str) -> list[str]:
    found = re.search(rf'<tr class="{row}">(.*?)</tr>', page)
    assert found, row
    cells = re.findall(r'<td class="num-cell">(.*?)</td>', found.group(1))
    return [re.sub(r"<[^>]+>", " ", c).split()[0] for c in cells]


def chart_of(page: str) -> dict:
    found = re.search(r'<script type="application/json" id="sales-chart-data">(.*?)</script>', page)
    assert found
    return json.loads(found.group(1))


def paid_order(app, shop, browser, product_id, quantity: int = 1, **body) -> dict:
    order = placed(browser, product_id, quantity, **body)
    assert pay(browser, order).status_code == 200
    return order


def move_order(app, shop, number: str, at: datetime) -> None:
    """Put the order on another instant: placed (and, if paid, paid) at ``at``."""
    from app.orders.models import Order

    ident = order_id(app, shop, number)

    def move():
        db.session.execute(update(Order).where(Order.id == ident).values(created_at=at))
        db.session.execute(
            update(Order)
            .where(Order.id == ident, Order.paid_at.is_not(None))
            .values(paid_at=at + timedelta(minutes=1))
        )
        db.session.commit()

    run_in_shop(app, shop, move)


def overview_at(app, shop, now: datetime, timezone: str = "Asia/Shanghai"):
    from app.stats.dashboard import shop_overview

    return run_in_shop(app, shop, shop_overview, shop.id, timezone, shop.currency, now=now)


def beijing_midnight(days_ago: int = 0) -> datetime:
    today = datetime.now(BEIJING).date() - timedelta(days=days_ago)
    return datetime(today.year, today.month, today.day, tzinfo=BEIJING)


# --- who may open it ------------------------------------------------------------


def test_the_owner_sees_the_dashboard_and_a_stranger_is_sent_to_sign_in(make_shop, browser_for):
    alpha = make_shop("alpha")
    stranger = browser_for(alpha.host)
    refused = stranger.get("/console/")
    assert refused.status_code == 302 and refused.location.startswith("/console/login")

    page = page_text(console_for(browser_for, alpha).get("/console/"))

    assert "Shop alpha" in page and "owner" in page
    assert "Today" in page and "Last 7 days" in page and "Last 30 days" in page
    assert "No paid orders in the last 30 days." in page


def test_another_shops_owner_gets_nothing_of_this_shop(make_shop, browser_for):
    alpha = make_shop("alpha")
    bravo = make_shop("bravo")
    at_bravo = console_for(browser_for, bravo)

    # Signing in at alpha's console is refused: not a member there.
    at_alpha = browser_for(alpha.host)
    at_alpha.client.set_cookie("lang", "en", domain=alpha.host)
    refused = at_alpha.submit("/console/login", {"email": bravo.owner_email, "password": PASSWORD})
    assert refused.status_code == 200 and "not a member of this shop" in page_text(refused)
    assert at_alpha.get("/console/").status_code == 302

    # bravo's own session, carried to alpha's host, is no session there:
    # bravo's owner is a stranger at alpha and is asked to sign in.
    session = at_bravo.client.get_cookie("kameng_session", domain=bravo.host).value
    carried = browser_for(alpha.host)
    carried.client.set_cookie("kameng_session", session, domain=alpha.host)
    answer = carried.get("/console/")
    assert answer.status_code == 302 and answer.location.startswith("/console/login")
    assert at_bravo.get("/console/").status_code == 200  # still signed in at bravo


def test_a_buyer_of_the_shop_is_refused(make_shop, make_account, browser_for):
    alpha = make_shop("alpha")
    make_account(alpha, "buyer@example.com")
    buyer = browser_for(alpha.host)
    buyer.submit("/account/login", {"email": "buyer@example.com", "password": PASSWORD})

    assert buyer.get("/console/").status_code == 403


def test_staff_see_sales_and_stock_with_links_only_to_what_they_may_open(
    app, make_shop, browser_for
):
    alpha = make_shop("alpha")
    add_member(app, alpha, "staff@example.com", "staff")
    add_product(app, alpha, name="Low card", stock=codes("LOW", 2), threshold=5)

    page = page_text(console_for(browser_for, alpha, "staff@example.com").get("/console/"))

    assert "staff" in page
    assert "Sales" in page and "Stock to refill" in page and "Low card" in page
    assert "/console/api-keys" not in page


# --- the figures ----------------------------------------------------------------


def test_paid_orders_revenue_average_and_refunds_add_up(app, make_shop, browser_for):
    from app.orders import remedies

    alpha = make_shop("alpha")
    product_id = add_product(app, alpha, name="Steam ¥12.50", price=1250, stock=codes("S", 10))
    guest = browser_for(alpha.host)
    paid_order(app, alpha, guest, product_id, 2)  # ¥25.00
    paid_order(app, alpha, guest, product_id)  # ¥12.50
    refunded = paid_order(app, alpha, guest, product_id)  # ¥12.50, refunded below
    placed(guest, product_id)  # never paid
    run_in_shop(
        app,
        alpha,
        lambda: remedies.refund(
            order_id(app, alpha, refunded["number"]), to="original", actor="test"
        ),
    )

    page = page_text(console_for(browser_for, alpha).get("/console/"))

    for days in (1, 7, 30):
        card = period_card(page, days)
        assert revenue_of(card) == "¥50.00"
        assert figure(card, "paid") == "3"
        assert figure(card, "average") == "¥16.67"  # 5000 / 3, rounded half up
        assert figure(card, "refunded") == "¥12.50"
    assert funnel_row(page, "created") == ["4", "4", "4"]
    assert funnel_row(page, "paid") == ["3", "3", "3"]
    best = re.search(r'<table class="table top-products">(.*?)</table>', page).group(1)
    assert "Steam ¥12.50" in best and "¥50.00" in best


def test_an_order_at_2330_beijing_time_counts_on_that_beijing_day(app, make_shop, browser_for):
    alpha = make_shop("alpha")  # a Chinese shop: its days are Beijing's
    product_id = add_product(app, alpha, price=1000, stock=codes("TZ", 5))
    guest = browser_for(alpha.host)
    late = paid_order(app, alpha, guest, product_id)
    early = paid_order(app, alpha, guest, product_id, 2)
    # 23:30 yesterday and 00:10 today in Beijing: the same UTC date (15:30
    # and 16:10 UTC yesterday), two different days of the shop.
    move_order(app, alpha, late["number"], beijing_midnight(1) + timedelta(hours=23, minutes=30))
    move_order(app, alpha, early["number"], beijing_midnight() + timedelta(minutes=10))

    page = page_text(console_for(browser_for, alpha).get("/console/"))

    assert revenue_of(period_card(page, 1)) == "¥20.00"
    assert figure(period_card(page, 1), "paid") == "1"
    assert revenue_of(period_card(page, 7)) == "¥30.00"
    chart = chart_of(page)
    assert chart["revenue"][-2:] == [1000, 2000]
    assert chart["paid"][-2:] == [1, 1]
    assert chart["revenueText"][-1] == "¥20.00" and len(chart["revenue"]) == 30
    yesterday = (beijing_midnight(1)).date().isoformat()
    row = re.search(rf'<tr data-day="{yesterday}">(.*?)</tr>', page).group(1)
    assert "¥10.00" in row


def test_days_follow_the_shops_zone_at_their_edges(app, make_shop, browser_for):
    alpha = make_shop("alpha")
    product_id = add_product(app, alpha, price=500, stock=codes("EDGE", 5))
    guest = browser_for(alpha.host)
    numbers = [paid_order(app, alpha, guest, product_id)["number"] for _ in range(3)]
    day = datetime(2026, 3, 10, tzinfo=BEIJING)
    move_order(app, alpha, numbers[0], day - timedelta(seconds=1))  # 23:59:59 on the 9th
    move_order(app, alpha, numbers[1], day)  # midnight: the 10th
    move_order(app, alpha, numbers[2], day + timedelta(hours=23, minutes=30))  # 23:30 on the 10th
    now = day + timedelta(hours=23, minutes=45)

    beijing = overview_at(app, alpha, now)
    utc = overview_at(app, alpha, now, timezone="UTC")

    assert [p.paid for p in beijing.periods] == [2, 3, 3]
    assert beijing.chart[-1].day.isoformat() == "2026-03-10"
    assert [d.revenue for d in beijing.chart[-2:]] == [500, 1000]
    # The same orders on UTC days: 15:59:59 and 16:00 UTC on the 9th, 15:30
    # UTC on the 10th.
    assert [d.paid for d in utc.chart[-2:]] == [2, 1]
    assert [p.paid for p in utc.periods] == [1, 3, 3]


def test_older_orders_leave_the_periods_as_they_age(app, make_shop, browser_for):
    alpha = make_shop("alpha")
    product_id = add_product(app, alpha, price=100, stock=codes("AGE", 5))
    guest = browser_for(alpha.host)
    now = datetime(2026, 6, 30, 12, tzinfo=BEIJING)
    for days_ago in (0, 6, 7, 29, 30):
        number = paid_order(app, alpha, guest, product_id)["number"]
        move_order(app, alpha, number, now - timedelta(days=days_ago))

    overview = overview_at(app, alpha, now)

    assert [p.paid for p in overview.periods] == [1, 2, 4]
    assert sum(d.paid for d in overview.chart) == 4


def test_another_shops_orders_and_visits_never_appear(app, make_shop, browser_for):
    alpha = make_shop("alpha")
    bravo = make_shop("bravo")
    mine = add_product(app, alpha, name="Alpha card", price=700, stock=codes("A", 3))
    theirs = add_product(app, bravo, name="Bravo card", price=90_000, stock=codes("B", 3))
    paid_order(app, alpha, browser_for(alpha.host), mine)
    paid_order(app, bravo, browser_for(bravo.host), theirs)
    for _ in range(4):
        browser_for(bravo.host).get("/", headers=EN)
    browser_for(alpha.host).get("/", headers=EN)
    visits.flush(app)

    page = page_text(console_for(browser_for, alpha).get("/console/"))

    assert revenue_of(period_card(page, 30)) == "¥7.00"
    assert "Bravo card" not in page and "¥900.00" not in page
    assert funnel_row(page, "visits") == ["1", "1", "1"]
    assert chart_of(page)["visits"][-1] == 1


# --- visits -----------------------------------------------------------------------


def visits_today(app, shop) -> dict[str, int]:
    from app.core.redisconn import get_redis

    key = visits.visits_key(shop.id, datetime.now(BEIJING).date())
    with app.app_context():
        return {k.decode(): int(v) for k, v in get_redis(app).hgetall(key).items()}


def test_page_views_are_counted_page_cache_hits_included(app, make_shop, browser_for):
    alpha = make_shop("alpha")
    product_id = add_product(app, alpha, stock=codes("V", 2))
    visitor = browser_for(alpha.host)
    answers = [visitor.get("/", headers=EN) for _ in range(4)]
    answers += [visitor.get(f"/p/{product_id}", headers=EN) for _ in range(3)]
    assert {a.status_code for a in answers} == {200}
    assert "hit" in {a.headers.get("X-Cache") for a in answers}  # some never reached Flask
    # Not page views: the API, images, the console, a HEAD, a form post.
    visitor.get("/api/v1/products")
    visitor.get(f"/api/v1/products/{product_id}")
    visitor.get("/console/login")
    visitor.open("HEAD", "/")
    visitor.post("/", data={})
    visitor.get("/vendor/echarts/6.1.0/echarts.min.js")

    visits.flush(app)  # the background thread may have flushed some already: the same
    assert visits_today(app, alpha) == {"home": 4, "product": 3}
    visits.flush(app)
    assert visits_today(app, alpha) == {"home": 4, "product": 3}  # written once, not twice


def test_a_signed_in_buyers_views_count_once(app, make_shop, make_account, browser_for):
    alpha = make_shop("alpha")
    make_account(alpha, "buyer@example.com")
    product_id = add_product(app, alpha, stock=codes("B", 2))
    buyer = browser_for(alpha.host)
    buyer.submit("/account/login", {"email": "buyer@example.com", "password": PASSWORD})
    visits.discard(app)  # the sign-in page is no page view; start from here

    for path in ("/", f"/p/{product_id}", f"/p/{product_id}"):
        answer = buyer.get(path, headers=EN)
        assert answer.status_code == 200 and "X-Cache" not in answer.headers
    missing = buyer.get("/p/0190d1c4-0000-7000-8000-000000000000", headers=EN)
    assert missing.status_code == 404

    visits.flush(app)
    assert visits_today(app, alpha) == {"home": 1, "product": 2}


def test_the_background_thread_flushes_by_itself(app, make_shop, browser_for):
    import time

    alpha = make_shop("alpha")
    for _ in range(2):
        browser_for(alpha.host).get("/", headers=EN)

    deadline = time.monotonic() + visits.FLUSH_SECONDS * 4
    while visits_today(app, alpha) != {"home": 2} and time.monotonic() < deadline:
        time.sleep(0.2)
    assert visits_today(app, alpha) == {"home": 2}


def test_a_visit_lands_on_the_shops_day_and_its_key_expires(app, make_shop):
    from app.core.redisconn import get_redis

    alpha = make_shop("alpha")
    tally = visits.tally_of(app)
    # 23:30 on 1 March in Beijing is 15:30 UTC: still 1 March in Beijing.
    minute = int(datetime(2026, 3, 1, 15, 30, tzinfo=UTC).timestamp() // 60)
    with tally.lock:
        tally.by_shop[(str(alpha.id), "Asia/Shanghai", "home", minute)] = 3
        tally.by_shop[(str(alpha.id), "Asia/Shanghai", "home", minute + 31)] = 1  # 00:01 on 2 March

    visits.flush(app)

    with app.app_context():
        redis = get_redis(app)
        first = visits.visits_key(alpha.id, datetime(2026, 3, 1).date())
        second = visits.visits_key(alpha.id, datetime(2026, 3, 2).date())
        assert redis.hgetall(first) == {b"home": b"3"}
        assert redis.hgetall(second) == {b"home": b"1"}
        assert 39 * 86_400 < redis.ttl(first) <= visits.KEEP_DAYS * 86_400


def test_a_redis_outage_costs_only_the_counts_of_that_flush(
    app, app_config, make_shop, tmp_path, caplog
):
    import logging
    import time

    from app import create_app
    from app.core.redisconn import get_redis
    from tests.core.test_redis_outage import RedisServer

    alpha = make_shop("alpha")
    server = RedisServer(tmp_path)
    server.start()
    try:
        served = create_app({**app_config, "REDIS_URL": server.url, "REDIS_BREAKER_SECONDS": 0.2})
        visitor = served.test_client()

        def browse(n: int) -> None:
            for _ in range(n):
                answer = visitor.get("/", base_url=f"http://{alpha.host}", headers=EN)
                assert answer.status_code == 200

        def counted() -> dict:
            key = visits.visits_key(alpha.id, datetime.now(BEIJING).date())
            with served.app_context():
                return get_redis(served).hgetall(key)

        browse(2)
        visits.flush(served)
        assert counted() == {b"home": b"2"}
        server.stop()
        with caplog.at_level(logging.WARNING, logger="app.storefront.visits"):
            browse(3)  # pages are still served while Redis is gone
            visits.flush(served)
            browse(2)
            visits.flush(served)
        assert len([r for r in caplog.records if r.name == "app.storefront.visits"]) <= 1
        server.start()  # empty: it kept nothing
        time.sleep(0.3)  # past the breaker's pause: the next call finds Redis again
        browse(1)
        visits.flush(served)
        # What was counted during the outage was dropped, not written late.
        assert counted() == {b"home": b"1"}
    finally:
        server.stop()


def test_visits_are_unknown_not_zero_while_redis_is_away(app, app_config, make_shop, tmp_path):
    from app import create_app
    from tests.core.test_redis_outage import RedisServer

    alpha = make_shop("alpha")
    server = RedisServer(tmp_path)
    served = create_app({**app_config, "REDIS_URL": server.url})  # never started
    today = datetime.now(BEIJING).date()

    with served.app_context():
        assert visits.daily_visits(alpha.id, [today]) is None
        from app.stats.dashboard import shop_overview
        from tenants.context import tenant_context

        with tenant_context(alpha):
            overview = shop_overview(alpha.id, "Asia/Shanghai", "CNY")
        db.session.remove()
    assert not overview.visits_known
    assert [p.visits for p in overview.periods] == [None, None, None]
    assert overview.chart[-1].visits is None


# --- the getting-started checklist ------------------------------------------------


def checklist_of(page: str) -> dict[str, str] | None:
    """step → "done" or "todo", or None when the page shows no checklist."""
    if "Get your shop ready to sell" not in page:
        return None
    return dict(
        (step, state)
        for state, step in re.findall(r'<li class="(done|todo)" data-step="(\w+)">', page)
    )


def test_the_checklist_shows_what_is_left_until_the_shop_can_sell(
    app, make_shop, browser_for, monkeypatch
):
    alpha = make_shop("alpha")
    console = console_for(browser_for, alpha)

    def checklist():
        return checklist_of(page_text(console.get("/console/")))

    monkeypatch.setitem(app.config, "PAYMENT_PROVIDERS", ["wallet"])  # no way to bring money in
    assert checklist() == {"product": "todo", "stock": "todo", "payment": "todo"}
    monkeypatch.setitem(app.config, "PAYMENT_PROVIDERS", ["sandbox", "wallet"])
    assert checklist() == {"product": "todo", "stock": "todo", "payment": "done"}

    add_product(app, alpha, name="Draft", status="draft", stock=codes("D", 1))
    card = add_product(app, alpha, name="Empty card")
    assert checklist() == {"product": "done", "stock": "todo", "payment": "done"}

    add_stock(app, alpha, card, codes("C", 1))
    assert checklist() is None  # all done: the list is gone


def test_a_top_up_needs_no_stock_to_be_ready(app, make_shop, browser_for):
    alpha = make_shop("alpha")
    add_product(
        app,
        alpha,
        name="Game top-up",
        kind="topup",
        input_fields=[{"name": "account", "label": "Game account"}],
    )

    assert checklist_of(page_text(console_for(browser_for, alpha).get("/console/"))) is None


def test_checklist_steps_link_to_the_pages_that_do_them(make_shop, browser_for):
    alpha = make_shop("alpha")
    page = page_text(console_for(browser_for, alpha).get("/console/"))
    assert '<a href="/console/products/new">Put a product on sale</a>' in page
    assert re.search(r'<a href="/console/products">Give it something to deliver', page)


# --- stock and tickets ---------------------------------------------------------------


def test_low_and_sold_out_products_are_listed_for_restocking(app, make_shop, browser_for):
    alpha = make_shop("alpha")
    add_product(app, alpha, name="Plenty", stock=codes("P", 8), threshold=5)
    add_product(app, alpha, name="Nearly gone", stock=codes("N", 2), threshold=5)
    add_product(app, alpha, name="At the line", stock=codes("L", 5), threshold=5)
    add_product(app, alpha, name="No warning asked", stock=codes("W", 1))
    add_product(app, alpha, name="Empty card")
    add_product(app, alpha, name="Not for sale", status="off_sale")
    add_product(
        app,
        alpha,
        name="Top-up",
        kind="topup",
        input_fields=[{"name": "account", "label": "Game account"}],
    )

    page = page_text(console_for(browser_for, alpha).get("/console/"))
    low = re.search(r'<ul class="stock-list low">(.*?)</ul>', page).group(1)
    sold_out = re.search(r'<ul class="stock-list sold-out">(.*?)</ul>', page).group(1)

    assert "Nearly gone" in low and "2 left (warning at 5)" in low and "At the line" in low
    assert "Plenty" not in low and "No warning asked" not in low
    assert "Empty card" in sold_out
    for elsewhere in ("Not for sale", "Top-up", "Plenty"):
        assert elsewhere not in sold_out


def test_a_product_that_sells_out_joins_the_sold_out_list(app, make_shop, browser_for):
    alpha = make_shop("alpha")
    product_id = add_product(app, alpha, name="Last one", price=300, stock=codes("ONE", 1))
    console = console_for(browser_for, alpha)
    assert 'class="stock-list sold-out"' not in page_text(console.get("/console/"))

    paid_order(app, alpha, browser_for(alpha.host), product_id)

    page = page_text(console.get("/console/"))
    assert "Last one" in re.search(r'<ul class="stock-list sold-out">(.*?)</ul>', page).group(1)


def test_open_tickets_are_counted_with_a_way_to_them(app, make_shop, browser_for):
    from app.orders import tickets

    alpha = make_shop("alpha")
    product_id = add_product(app, alpha, price=300, stock=codes("T", 3))
    guest = browser_for(alpha.host)
    for _ in range(2):
        number = paid_order(app, alpha, guest, product_id)["number"]
        ident = order_id(app, alpha, number)
        run_in_shop(
            app, alpha, lambda i=ident: (tickets.open_ticket(i, "test", ""), db.session.commit())
        )
    console = console_for(browser_for, alpha)

    page = page_text(console.get("/console/"))

    assert "Tickets open: 2" in page
    assert '<a class="button small" href="/console/tickets">Open the tickets</a>' in page
    assert console.get("/console/tickets").status_code == 200
