"""The stock sync's rules: a failing source backs off (twice as long per
failure, capped) and is not asked again before it is due; a good answer
stores stock and cost; a product whose sources and own stock are all empty
goes off sale and comes back when a source refills, but only when the sync
was what took it off. Suspended suppliers are not synced.

A supplier reached over HTTP is pointed at a closed loopback port: the
sync must count the failure and back off, whichever way the call fails."""

from __future__ import annotations

import socket
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app.extensions import db
from tests.factories import run_in_shop
from tests.orders.conftest import _empty_queues, mail_server, rate_limits, worker  # noqa: F401
from tests.supply.support import make_source, make_supplier

pytestmark = pytest.mark.critical


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def alpha(make_shop):
    return make_shop("alpha")


def source_state(app, shop, source_id) -> dict:
    from app.supply.models import ProductSource

    def read():
        s = db.session.get(ProductSource, source_id)
        return {
            "stock": s.stock,
            "cost": s.cost,
            "failures": s.sync_failures,
            "next": s.next_sync_at,
            "error": s.last_error,
        }

    return run_in_shop(app, shop, read)


def product_status(app, shop, product_id) -> str:
    from app.catalog.models import Product

    return run_in_shop(app, shop, lambda: db.session.get(Product, product_id).status)


def test_back_off_doubles_per_failure_and_is_capped(app, alpha):
    from app.supply.sync import backoff_seconds

    waits = run_in_shop(app, alpha, lambda: [backoff_seconds(n) for n in (1, 2, 3, 4, 100)])
    interval = app.config.get("SUPPLY_SYNC_INTERVAL_SECONDS", 300)
    assert waits[:4] == [interval, 2 * interval, 4 * interval, 8 * interval]
    assert waits[4] == app.config.get("SUPPLY_SYNC_MAX_BACKOFF_SECONDS", 6 * 3600)


def test_a_source_that_cannot_be_reached_backs_off(app, alpha, make_product):
    from app.supply import sync

    product = make_product(alpha, kind="topup")
    supplier = make_supplier(
        app, alpha, base_url=f"http://127.0.0.1:{closed_port()}/supply/v1", status="active"
    )
    source = make_source(app, alpha, product, supplier)
    now = datetime.now(UTC)

    assert run_in_shop(app, alpha, lambda: sync.sync_due(now)) == 0
    first = source_state(app, alpha, source)
    assert first["failures"] == 1 and first["error"]
    interval = run_in_shop(app, alpha, lambda: sync.backoff_seconds(1))
    assert abs((first["next"] - now).total_seconds() - interval) < 1
    # not asked again before it is due
    assert run_in_shop(app, alpha, lambda: sync.due_sources(now + timedelta(seconds=1))) == []

    later = now + timedelta(seconds=interval + 1)
    run_in_shop(app, alpha, lambda: sync.sync_due(later))
    second = source_state(app, alpha, source)
    assert second["failures"] == 2
    assert abs((second["next"] - later).total_seconds() - 2 * interval) < 1


def test_suspended_and_switched_off_sources_are_not_synced(app, alpha, make_product):
    from app.supply import sync

    product = make_product(alpha, kind="topup")
    suspended = make_supplier(app, alpha, name="Suspended", status="suspended")
    active = make_supplier(app, alpha, name="Active", status="active")
    make_source(app, alpha, product, suspended)
    make_source(app, alpha, product, active, enabled=False)

    assert run_in_shop(app, alpha, lambda: sync.due_sources(datetime.now(UTC))) == []


def _answer(app, shop, source_id, stock, cost):
    from app.supply import sync
    from app.supply.models import ProductSource

    def write():
        source = db.session.get(ProductSource, source_id)
        sync.record_offer(source, stock, cost, datetime.now(UTC))
        product_id = source.product_id
        db.session.commit()
        return sync.follow_sources(product_id)

    return run_in_shop(app, shop, write)


def alerts_of(app, shop) -> list[tuple[str, int]]:
    from app.catalog.models import StockAlert

    return run_in_shop(
        app,
        shop,
        lambda: [
            (a.kind, a.stock)
            for a in db.session.scalars(select(StockAlert).order_by(StockAlert.created_at))
        ],
    )


def test_a_product_follows_its_sources_off_and_back_on_sale(app, alpha, make_product):
    product = make_product(alpha)  # a card product with no codes of its own
    supplier = make_supplier(app, alpha, status="active")
    source = make_source(app, alpha, product, supplier)

    assert _answer(app, alpha, source, 0, 800) == "off"
    assert product_status(app, alpha, product) == "off_sale"
    assert source_state(app, alpha, source)["cost"] == 800

    assert _answer(app, alpha, source, 25, 750) == "on"
    assert product_status(app, alpha, product) == "on_sale"
    assert alerts_of(app, alpha) == [("sold_out", 0), ("restocked", 25)]
    assert source_state(app, alpha, source) | {"next": None} == {
        "stock": 25,
        "cost": 750,
        "failures": 0,
        "next": None,
        "error": None,
    }


def test_a_product_with_its_own_stock_stays_on_sale(app, alpha, make_product):
    product = make_product(alpha, stock=["OWN-CODE-1"])
    source = make_source(app, alpha, product, make_supplier(app, alpha, status="active"))

    assert _answer(app, alpha, source, 0, 800) is None
    assert product_status(app, alpha, product) == "on_sale"


def test_a_product_the_operator_took_off_sale_stays_off(app, alpha, make_product):
    from app.supply.models import SyncPausedProduct

    product = make_product(alpha, status="off_sale")
    source = make_source(app, alpha, product, make_supplier(app, alpha, status="active"))

    assert _answer(app, alpha, source, 0, 800) is None
    assert _answer(app, alpha, source, 10, 800) is None
    assert product_status(app, alpha, product) == "off_sale"
    assert (
        run_in_shop(app, alpha, lambda: db.session.scalars(select(SyncPausedProduct)).all()) == []
    )


def test_the_periodic_job_syncs_every_shops_due_sources(app, shops, make_product):
    from app.core.queues import periodic_jobs
    from app.supply import jobs

    made = {}
    for slug, shop in shops.items():
        product = make_product(shop, kind="topup")
        supplier = make_supplier(
            app, shop, base_url=f"http://127.0.0.1:{closed_port()}/supply/v1", status="active"
        )
        made[slug] = (shop, make_source(app, shop, product, supplier))

    with app.app_context():
        assert jobs.sync_stock() == 0

    for shop, source in made.values():
        assert source_state(app, shop, source)["failures"] == 1
    assert ("app.supply.jobs.sync_stock", "sync") in {(j.path, j.queue) for j in periodic_jobs()}


def test_the_sources_page_shows_the_sync_alerts(app, alpha, browser_for, make_product):
    from tests.console.support import console, text_of

    product = make_product(alpha)
    source = make_source(app, alpha, product, make_supplier(app, alpha, status="active"))
    _answer(app, alpha, source, 0, 800)
    _answer(app, alpha, source, 3, 800)

    owner = console(browser_for, alpha.host, alpha.owner_email)
    page = text_of(owner.get(f"/console/products/{product}/sources"))
    assert "a source refilled (stock 3); the product is back on sale." in page
    assert "sold out; every source was empty or off." in page


def test_a_cost_change_reprices_by_the_suppliers_markup(app, alpha, make_product):
    from app.catalog.models import Product
    from app.supply import sync

    product = make_product(alpha, price=10_000)
    marked = make_supplier(app, alpha, name="Marked", status="active", markup_percent=20)
    plain = make_supplier(app, alpha, name="Plain", status="active")
    cheap = make_source(app, alpha, product, marked, sku="A", cost=900)
    make_source(app, alpha, product, plain, sku="B", cost=950)

    def reprice_after(cost):
        from app.supply.models import ProductSource

        source = db.session.get(ProductSource, cheap)
        sync.record_offer(source, 5, cost, datetime.now(UTC))
        price = sync.reprice(product)
        db.session.commit()
        row = db.session.get(Product, product)
        return price, row.price, row.cost

    # the cheapest source is the marked supplier's: its cost plus 20 %
    assert run_in_shop(app, alpha, lambda: reprice_after(800)) == (960, 960, 800)
    # now the plain supplier's (950) is cheapest: no rule applies, the price stays
    assert run_in_shop(app, alpha, lambda: reprice_after(1_999)) == (None, 960, 800)


def test_without_a_markup_rule_prices_stay(app, alpha, make_product):
    from app.catalog.models import Product
    from app.supply import sync

    product = make_product(alpha, price=10_000)
    source = make_source(app, alpha, product, make_supplier(app, alpha, status="active"))

    def change():
        from app.supply.models import ProductSource

        sync.record_offer(db.session.get(ProductSource, source), 5, 1, datetime.now(UTC))
        assert sync.reprice(product) is None
        db.session.commit()
        return db.session.get(Product, product).price

    assert run_in_shop(app, alpha, change) == 10_000


def test_the_owners_are_mailed_when_a_product_goes_off_and_back_on_sale(
    app,
    alpha,
    make_product,
    mail_server,  # noqa: F811
    worker,  # noqa: F811
):
    """The sync's off-sale and restock moves reach the shop's owners by mail
    (through the real worker and a real SMTP server), in the shop's
    language, with a link to the product's sources."""
    product = make_product(alpha, name="Steam 50")
    supplier = make_supplier(app, alpha, status="active")
    source = make_source(app, alpha, product, supplier)

    assert _answer(app, alpha, source, 0, 800) == "off"
    gone = mail_server.wait_for(alpha.owner_email)
    assert "Steam 50" in gone["Subject"]
    body = gone.get_body(preferencelist=("plain",)).get_content()
    assert f"/console/products/{product}/sources" in body

    assert _answer(app, alpha, source, 25, 750) == "on"
    deadline = datetime.now(UTC) + timedelta(seconds=30)
    while len(mail_server.to(alpha.owner_email)) < 2 and datetime.now(UTC) < deadline:
        time.sleep(0.05)
    back = mail_server.to(alpha.owner_email)[1]
    assert "Steam 50" in back["Subject"] and back["Subject"] != gone["Subject"]
    assert "25" in back.get_body(preferencelist=("plain",)).get_content()
