"""The test suite's one set of factories and helpers.

Every function here takes the session ``app`` first, does its work in a
fresh app context (in the shop's tenant context where it makes shop data),
commits, and hands back plain values: a ``Shop`` (ids and strings), a
product id, a detached account with every column loaded. Nothing expired or
bound to a session leaks between tests. ``tests/conftest.py`` turns them
into fixtures (``make_shop``, ``make_account``, ``make_api_key``,
``make_member``, ``make_product``, ``shop``, ``shops``); test folders build
what is specific to them on top of these and import the helpers by name.

Data goes in through the real services (provisioning, API keys, the card
import, order creation), except the password hash: users and accounts get
one argon2id hash of ``PASSWORD`` computed once per run, so sign-in still
verifies against a real hash without paying for one per row.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from app.extensions import db

PASSWORD = "correct horse battery"
PROBLEM_KEYS = {"type", "title", "status", "detail", "instance"}
STEAM = "Steam 钱包充值卡 ¥100"
T = TypeVar("T")


def end_outer_transaction() -> None:
    """Commit the test's own session (if any) before work in another session.

    On SQLite every transaction begins with BEGIN IMMEDIATE (see
    ``app.extensions.configure_sqlite``), so a test holding a transaction
    open in its app context would block the request it is about to make.
    """
    from flask import has_app_context

    if has_app_context():
        db.session.commit()


@functools.cache
def password_hash() -> str:
    """One argon2id hash of ``PASSWORD`` (the suite's cheap parameters)."""
    from app.core.security import hash_password

    return hash_password(PASSWORD)


def _detach_loaded(*rows) -> None:
    for row in rows:
        db.session.refresh(row)
    db.session.expunge_all()


# --- shops -------------------------------------------------------------------


@dataclass(frozen=True)
class Shop:
    """A shop as the tests need it: its ids, its host, its owner's sign-in
    and the API keys made with it (``None`` when none was asked for).

    ``id`` is the tenant id, so a ``Shop`` goes wherever a tenant does
    (``tenant_context(shop)``)."""

    id: uuid.UUID
    slug: str
    name: str
    currency: str
    owner_id: uuid.UUID
    owner_email: str
    key: str | None = None  # an API key of the role asked for (``key_role``)
    staff_key: str | None = None

    @property
    def tenant_id(self) -> uuid.UUID:
        return self.id

    @property
    def host(self) -> str:
        return f"{self.slug}.localhost"

    def headers(self, key: str | None = None) -> dict:
        """The ``Authorization`` header of ``key`` (the shop's own key by default)."""
        return bearer(key or self.key)


def open_shop(
    app,
    slug: str,
    name: str | None = None,
    *,
    owner_email: str | None = None,
    currency: str | None = None,
    stripe_account: str | None = None,
    key_role: str | None = None,
    staff_key: bool = False,
) -> Shop:
    """Open the shop ``slug`` through provisioning, owned by a new platform
    user who signs in with ``PASSWORD``; with ``key_role`` an operator API
    key of that role (``Shop.key``), with ``staff_key`` a staff key too."""
    from app.accounts import services, shops
    from app.accounts.models import PlatformUser
    from tenants.context import tenant_context

    end_outer_transaction()
    with app.app_context():
        owner = PlatformUser(
            email=owner_email or f"owner@{slug}.example.com", password_hash=password_hash()
        )
        db.session.add(owner)
        db.session.flush()
        tenant = shops.open_shop(slug, name or f"Shop {slug}", owner)
        if currency is not None or stripe_account is not None:
            from tenants.models import Tenant

            tenant = db.session.get(Tenant, tenant.id)
            if currency is not None:
                tenant.currency = currency
            tenant.stripe_account_id = stripe_account
            db.session.commit()
        keys = {}
        with tenant_context(tenant.id):
            if key_role:
                _, keys["key"] = services.create_api_key("test key", None, key_role)
            if staff_key:
                _, keys["staff_key"] = services.create_api_key("staff key", None, "staff")
        db.session.refresh(tenant)
        shop = Shop(tenant.id, slug, tenant.name, tenant.currency, owner.id, owner.email, **keys)
        db.session.remove()
    return shop


def add_account(app, shop, email: str, role: str = "customer"):
    """A shop account (``customer``, ``agent`` or a staff role) that signs in
    with ``PASSWORD``; the row, detached with every column loaded."""
    from app.accounts.models import ShopAccount
    from tenants.context import tenant_context

    end_outer_transaction()
    with app.app_context(), tenant_context(shop):
        account = ShopAccount(email=email, password_hash=password_hash(), role=role)
        db.session.add(account)
        db.session.commit()
        _detach_loaded(account)
        return account


@dataclass(frozen=True)
class Member:
    """A platform user's membership of a shop: its id, the user's id and email."""

    id: uuid.UUID
    user_id: uuid.UUID
    email: str


def add_member(app, shop, email: str, role: str = "staff") -> Member:
    """A platform user ``email`` (created when new, signs in with ``PASSWORD``)
    made a member of ``shop`` with ``role`` through the real service."""
    from sqlalchemy import select

    from app.accounts import services
    from app.accounts.models import PlatformUser
    from tenants.context import tenant_context

    end_outer_transaction()
    with app.app_context():
        user = db.session.scalar(select(PlatformUser).where(PlatformUser.email == email))
        if user is None:
            user = PlatformUser(email=email, password_hash=password_hash())
            db.session.add(user)
            db.session.commit()
        with tenant_context(shop):
            member = services.add_member(user, role)
            found = Member(member.id, user.id, user.email)
        db.session.remove()
    return found


def add_api_key(
    app, shop, role: str = "owner", name: str = "test key", made_by: uuid.UUID | None = None
) -> str:
    """A new operator API key of ``role`` in ``shop``, made by the platform
    user ``made_by`` (none: as from the command line); its plaintext (shown once)."""
    from app.accounts import services
    from tenants.context import tenant_context

    end_outer_transaction()
    with app.app_context(), tenant_context(shop):
        _, plaintext = services.create_api_key(name, made_by, role)
        db.session.remove()
        return plaintext


# --- products, cards, orders ---------------------------------------------------


def codes(prefix: str, n: int) -> list[str]:
    """``n`` distinct card codes starting with ``prefix``."""
    return [f"{prefix}-{i:04d}-{uuid.uuid4().hex[:8].upper()}" for i in range(1, n + 1)]


def add_product(
    app,
    shop,
    *,
    name: str = STEAM,
    price: int = 10_000,
    cost: int | None = None,
    kind: str = "card",
    stock: list[str] | None = None,
    min_quantity: int = 1,
    max_quantity: int = 10,
    input_fields: list[dict] | None = None,
    status: str = "on_sale",
    threshold: int = 0,
) -> uuid.UUID:
    """A product of ``shop`` (on sale unless told), with ``stock`` loaded as
    cards through the real import; its id. ``threshold`` is the low-stock
    alert threshold."""
    from app.catalog import imports
    from app.catalog.models import Product
    from tenants.context import tenant_context

    end_outer_transaction()
    with app.app_context(), tenant_context(shop):
        product = Product(
            name=name,
            kind=kind,
            price=price,
            min_quantity=min_quantity,
            max_quantity=max_quantity,
            status=status,
            input_fields=input_fields or [],
            low_stock_threshold=threshold,
        )
        if cost is not None:
            product.cost = cost
        db.session.add(product)
        db.session.commit()
        product_id = product.id
        if stock:
            record = imports.import_now(product_id, "\n".join(stock).encode(), "codes.txt", "test")
            assert record.imported == len(stock), record.report
        db.session.remove()
    return product_id


def add_stock(app, shop, product_id: uuid.UUID, stock: list[str]) -> None:
    """Load more codes into a card product through the real import."""
    from app.catalog import imports
    from tenants.context import tenant_context

    end_outer_transaction()
    with app.app_context(), tenant_context(shop):
        imports.import_now(product_id, "\n".join(stock).encode(), "more.txt", "test")
        db.session.remove()


def run_in_shop(app, shop, fn: Callable[..., T], *args, **kwargs) -> T:
    """Call ``fn`` in the shop's context in a fresh session, as a job would;
    its result (read plain values inside ``fn``: the session is gone after)."""
    from tenants.context import tenant_context

    end_outer_transaction()
    with app.app_context(), tenant_context(shop):
        try:
            return fn(*args, **kwargs)
        finally:
            db.session.remove()


def card_statuses(app, shop, product_id) -> dict[str, int]:
    """The product's cards by status, as ``catalog.stock.counts`` reports them."""
    from app.catalog import stock

    return run_in_shop(app, shop, stock.counts, product_id)


def shop_rows(app, tenant_id) -> dict[str, list[dict]]:
    """Every tenant-owned row of one shop, table by table, read around the ORM."""
    from sqlalchemy import select

    snapshot: dict[str, list[dict]] = {}
    with app.app_context(), db.engine.connect() as conn:
        for table in db.metadata.sorted_tables:
            if "tenant_id" not in table.c:
                continue
            rows = conn.execute(select(table).where(table.c.tenant_id == tenant_id)).mappings()
            snapshot[table.name] = sorted((dict(r) for r in rows), key=lambda r: str(r["id"]))
    return snapshot


# --- answers -------------------------------------------------------------------


def bearer(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


def assert_problem(response, status: int, type_slug: str | None = None) -> dict:
    """``response`` is an RFC 9457 problem document with ``status`` (and the
    ``type`` slug, when given); its body."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert PROBLEM_KEYS <= set(body), body
    assert body["status"] == status
    assert body["type"].startswith("https://")
    if type_slug is not None:
        assert body["type"].rsplit("/", 1)[1] == type_slug, body
    assert body["title"] and body["detail"]
    assert body["instance"] == response.request.path
    return body


class HttpVerbs:
    """``get``/``post``/``patch``/``delete``/``put`` for a test client class
    that defines ``open(method, path, **kw)``."""

    def get(self, path, **kw):
        return self.open("GET", path, **kw)

    def post(self, path, **kw):
        return self.open("POST", path, **kw)

    def patch(self, path, **kw):
        return self.open("PATCH", path, **kw)

    def delete(self, path, **kw):
        return self.open("DELETE", path, **kw)

    def put(self, path, **kw):
        return self.open("PUT", path, **kw)
