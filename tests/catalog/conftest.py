"""Fixtures of the card stock tests (import, stock, secrets, CLI).

Shops are opened through the real services and handed back as plain values
(``CardShop``: ids and keys), products are ORM rows inserted in the shop's
context (the products API is tested elsewhere), and codes go in through the
real import. Names start with ``card``/``cards`` so that they never shadow
the fixtures other catalogue tests import by name.
"""

from __future__ import annotations

import uuid
from contextlib import contextmanager
from dataclasses import dataclass

import pytest

from app.extensions import db
from tests.conftest import PASSWORD, end_outer_transaction


@dataclass(frozen=True)
class CardShop:
    tenant_id: uuid.UUID
    slug: str
    owner_email: str
    key: str  # an owner key
    staff_key: str

    @property
    def host(self) -> str:
        return f"{self.slug}.localhost"


class CardsClient:
    """A client on one shop's host sending one API key (or none)."""

    def __init__(self, browser, key: str | None) -> None:
        self.browser = browser
        self.headers = {"Authorization": f"Bearer {key}"} if key else {}

    def open(self, method: str, path: str, **kw):
        headers = {**self.headers, **kw.pop("headers", {})}
        return self.browser.open(method, path, headers=headers, **kw)

    def get(self, path, **kw):
        return self.open("GET", path, **kw)

    def post(self, path, **kw):
        return self.open("POST", path, **kw)

    def import_text(self, product_id, data: bytes | str, **kw):
        if isinstance(data, str):
            data = data.encode()
        return self.post(
            f"/api/v1/products/{product_id}/cards", data=data, content_type="text/plain", **kw
        )


def open_card_shop(app, slug: str) -> CardShop:
    from app.accounts import services, shops
    from tenants.context import tenant_context

    end_outer_transaction()
    with app.app_context():
        email = f"owner@{slug}.example.com"
        owner = services.create_platform_user(email, PASSWORD)
        tenant = shops.open_shop(slug, f"Shop {slug}", owner)
        tenant_id = tenant.id
        with tenant_context(tenant_id):
            _, key = services.create_api_key("owner key", None, "owner")
            _, staff_key = services.create_api_key("staff key", None, "staff")
        db.session.remove()
    return CardShop(tenant_id, slug, email, key, staff_key)


@pytest.fixture
def card_shop(app) -> CardShop:
    return open_card_shop(app, "cards")


@pytest.fixture
def other_card_shop(app) -> CardShop:
    return open_card_shop(app, "othercards")


def add_product(
    app, shop: CardShop, kind: str = "card", threshold: int = 0, name: str = "Game card ¥100"
) -> uuid.UUID:
    """A product row of ``shop`` (on sale), committed; its id."""
    from app.catalog.models import Product
    from tenants.context import tenant_context

    end_outer_transaction()
    with app.app_context(), tenant_context(shop.tenant_id):
        product = Product(
            kind=kind,
            name=name,
            price=10_000,
            cost=9_000,
            status="on_sale",
            low_stock_threshold=threshold,
        )
        db.session.add(product)
        db.session.commit()
        product_id = product.id
        db.session.remove()
    return product_id


@pytest.fixture
def card_product(app, card_shop) -> uuid.UUID:
    return add_product(app, card_shop)


@pytest.fixture
def cards_client(browser_for):
    """cards_client(shop, key=shop.key) -> CardsClient on the shop's host."""
    _unset = object()

    def make(shop: CardShop, key=_unset) -> CardsClient:
        return CardsClient(browser_for(shop.host), shop.key if key is _unset else key)

    return make


@pytest.fixture
def in_card_shop(app):
    """in_card_shop(shop): a context manager: app context + the shop's tenant context."""
    from tenants.context import tenant_context

    @contextmanager
    def enter(shop: CardShop):
        end_outer_transaction()
        with app.app_context(), tenant_context(shop.tenant_id):
            try:
                yield
            finally:
                db.session.remove()

    return enter


@pytest.fixture
def empty_imports_queue(app):
    """Jobs a test enqueues without a worker do not outlive it."""
    yield
    from app.core.queues import get_queue

    with app.app_context():
        get_queue("imports", app).empty()


def codes(n: int, prefix: str = "CARD") -> list[str]:
    """``n`` distinct ``number----password`` codes."""
    return [f"{prefix}{i:08d}----PW{i:08d}x" for i in range(n)]


def card_rows(app, tenant_id) -> list[dict]:
    """The shop's card rows as the database holds them (around the ORM)."""
    from sqlalchemy import select

    from app.catalog.models import Card

    table = Card.__table__
    with app.app_context(), db.engine.connect() as conn:
        rows = conn.execute(select(table).where(table.c.tenant_id == tenant_id)).mappings()
        return [dict(r) for r in rows]


def stock_counter(app, product_id) -> int:
    from sqlalchemy import select

    from app.catalog.models import Product

    table = Product.__table__
    with app.app_context(), db.engine.connect() as conn:
        return conn.execute(
            select(table.c.stock_available).where(table.c.id == product_id)
        ).scalar_one()


@pytest.fixture
def verbose_worker(app, app_config, tmp_path):
    """A real ``flask worker`` process like the shared ``worker`` fixture, but
    logging everything (every SQL statement with its parameters and result
    rows, through a ``sitecustomize`` that opens SQLAlchemy's loggers before
    SQLAlchemy is imported) to a file the test reads: ``(process, log path)``."""
    import os
    import subprocess
    import sys
    import time

    from rq import Worker

    from app.core.redisconn import get_redis
    from tests.conftest import CARD_HASH_KEY, CARD_KEY, ROOT, SECRET

    with app.app_context():
        redis_url = app.config["REDIS_URL"]
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": app_config["DATABASE_URL"],
            "INSTANCE_PATH": app_config["INSTANCE_PATH"],
            "SECRET_KEY": SECRET,
            "CARD_KEY": CARD_KEY,
            "CARD_HASH_KEY": CARD_HASH_KEY,
            "FLASK_DEBUG": "1",
        }
    )
    if redis_url:
        env["REDIS_URL"] = redis_url
    else:
        env.pop("REDIS_URL", None)  # the embedded server in INSTANCE_PATH
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(
        "import logging\n"
        "logging.getLogger('sqlalchemy').setLevel(logging.DEBUG)\n"
        "logging.getLogger('app').setLevel(logging.DEBUG)\n"
    )
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH")]))
    log_path = tmp_path / "worker.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "wsgi", "worker", "--queues", "imports"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 30
    with app.app_context():
        while not any(w.pid == proc.pid for w in Worker.all(connection=get_redis(app))):
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(log_path.read_text(errors="replace"))
            time.sleep(0.1)
    yield proc, log_path
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()


@contextmanager
def no_stored_codes(tenant_id):
    """Stands in for ``imports._fingerprint_lookup``: the shop seems to hold no
    codes, as when another import stores them between the check and the insert."""
    yield lambda fingerprints: set()
