"""Fixtures and factories shared by the catalogue tests (no tests here; the
``test_`` name keeps it among the catalogue tests' files).

Test modules take the fixtures with ``from … import *`` (``__all__`` lists
exactly the fixtures; factories are imported by name): fixtures in scope
through a star import do not read to linters as names shadowed by test
arguments. Shops are made through the real services
and handed back as plain ``Shop`` values (ids and strings), so nothing
detached or expired leaks between sessions; data is made through the
catalogue services in the shop's context, as the API would.
"""

from __future__ import annotations

import io
import struct
import uuid
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from app.extensions import db
from tests.conftest import PASSWORD, end_outer_transaction

__all__ = ["api", "api_for", "console_api", "in_shop", "new_shop", "shop"]

# A real 1×1 PNG (signature, IHDR, IDAT, IEND).
PNG_1X1 = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00"
    b"\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N"
    b"\x00\x00\x00\x00IEND\xaeB`\x82"
)
JPEG_HEAD = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 64
GIF_1X1 = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;"
WEBP_HEAD = b"RIFF" + struct.pack("<I", 30) + b"WEBPVP8 " + b"\x00" * 22


@dataclass(frozen=True)
class Shop:
    tenant_id: uuid.UUID
    slug: str
    owner_email: str
    key: str

    @property
    def host(self) -> str:
        return f"{self.slug}.localhost"


class Api:
    """A client on one shop's host that sends one API key (or none)."""

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

    def patch(self, path, **kw):
        return self.open("PATCH", path, **kw)

    def delete(self, path, **kw):
        return self.open("DELETE", path, **kw)

    def upload(self, product_id, data: bytes, filename: str = "picture.png"):
        return self.post(
            f"/api/v1/products/{product_id}/images",
            data={"file": (io.BytesIO(data), filename)},
            content_type="multipart/form-data",
        )


@pytest.fixture
def new_shop(app):
    """new_shop(slug, role='owner') -> Shop with its owner and an API key of ``role``."""
    from app.accounts import services, shops
    from tenants.context import tenant_context

    made: list[Shop] = []

    def make(slug: str, role: str = "owner") -> Shop:
        end_outer_transaction()
        with app.app_context():
            email = f"owner@{slug}.example.com"
            owner = services.create_platform_user(email, PASSWORD)
            tenant = shops.open_shop(slug, f"Shop {slug}", owner)
            tenant_id = tenant.id
            with tenant_context(tenant_id):
                _, key = services.create_api_key("test key", None, role)
            db.session.remove()
        made.append(Shop(tenant_id, slug, email, key))
        return made[-1]

    yield make
    # The shared clean-up empties tables with one DELETE each; on SQLite a
    # category's RESTRICT self-reference refuses that while children remain.
    with app.app_context(), db.engine.begin() as conn:
        from app.catalog.models import Category

        table = Category.__table__
        conn.execute(table.delete().where(table.c.parent_id.is_not(None)))


@pytest.fixture
def shop(new_shop) -> Shop:
    return new_shop("alpha")


@pytest.fixture
def api_for(browser_for):
    """api_for(shop, key=shop.key) -> Api on the shop's host (key=None: anonymous)."""
    _unset = object()

    def make(shop: Shop, key=_unset) -> Api:
        return Api(browser_for(shop.host), shop.key if key is _unset else key)

    return make


@pytest.fixture
def api(api_for, shop) -> Api:
    return api_for(shop)


@pytest.fixture
def console_api(browser_for):
    """console_api(shop) -> Api of a browser signed in to the shop's console as
    its owner (a session, no key), sending the CSRF header API writes need."""

    def sign_in(shop: Shop) -> Api:
        browser = browser_for(shop.host)
        response = browser.submit(
            "/console/login", {"email": shop.owner_email, "password": PASSWORD}
        )
        assert response.status_code == 302, response.get_data(as_text=True)
        session = Api(browser, None)
        session.headers = {"X-CSRFToken": browser.csrf_token("/console/login")}
        return session

    return sign_in


@pytest.fixture
def in_shop(app):
    """in_shop(shop, fn, *args, **kw): run ``fn`` in the shop's context and
    return its result with plain values (ids, dicts) detached from the session."""
    from tenants.context import tenant_context

    def run(shop: Shop, fn, *args, **kw):
        end_outer_transaction()
        with app.app_context(), tenant_context(shop.tenant_id):
            result = fn(*args, **kw)
            db.session.remove()
            return result

    return run


def category(name: str, parent_id=None, sort: int = 0) -> uuid.UUID:
    """Make a category in the current shop; its id."""
    from app.catalog import categories

    return categories.create_category({"name": name, "parent_id": parent_id, "sort": sort}).id


def product(name: str = "Steam ¥100", price: int = 10_000, **fields) -> uuid.UUID:
    """Make a product in the current shop (on sale unless told); its id."""
    from app.catalog import services

    data = {"name": name, "price": price, "status": "on_sale", **fields}
    if data.get("kind") == "topup" and "input_fields" not in data:
        data["input_fields"] = [{"name": "account", "label": "Game account"}]
    return services.create_product(data).id


def cards(product_id: uuid.UUID, count: int, prefix: str = "CODE") -> str:
    """Load ``count`` codes into a card product through the real import; the
    import's status (``done``, or ``queued`` above ``CARD_IMPORT_SYNC_LIMIT``)."""
    from app.catalog import imports

    raw = "\n".join(f"{prefix}-{product_id.hex[:8]}-{i:06d}" for i in range(count)).encode()
    return imports.start_import(product_id, raw, "codes.txt", "test").status


def catalog_rows(app, tenant_id: uuid.UUID) -> dict[str, list[dict]]:
    """The shop's catalogue rows as the database holds them (around the ORM)."""
    from app.catalog.models import Card, Category, Product, ProductImage

    snapshot = {}
    with app.app_context(), db.engine.connect() as conn:
        for model in (Category, Product, ProductImage, Card):
            table = model.__table__
            rows = conn.execute(select(table).where(table.c.tenant_id == tenant_id)).mappings()
            snapshot[table.name] = sorted((dict(r) for r in rows), key=lambda r: str(r["id"]))
    return snapshot


def upload_files(app, tenant_id: uuid.UUID) -> list[str]:
    """Names of the shop's stored image files."""
    from pathlib import Path

    folder = Path(app.instance_path) / "uploads" / str(tenant_id)
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []
