"""Helpers of the catalogue tests: an API client bound to one shop and key,
catalogue data made through the catalogue services in the current shop
(``category``, ``product``, ``cards``), card codes in the import's format,
and a shop's catalogue rows and files as the database and disk hold them.
Shops come from the shared factories (``tests/factories.py``); the
fixtures are in ``tests/catalog/conftest.py``.
"""

from __future__ import annotations

import io
import struct
import uuid
from contextlib import contextmanager

from sqlalchemy import select

from app.extensions import db
from tests.factories import HttpVerbs

# A real 1×1 PNG (signature, IHDR, IDAT, IEND).
PNG_1X1 = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00"
    b"\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N"
    b"\x00\x00\x00\x00IEND\xaeB`\x82"
)
JPEG_HEAD = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 64
GIF_1X1 = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;"
WEBP_HEAD = b"RIFF" + struct.pack("<I", 30) + b"WEBPVP8 " + b"\x00" * 22


class Api(HttpVerbs):
    """A client on one shop's host that sends one API key (or none)."""

    def __init__(self, browser, key: str | None) -> None:
        self.browser = browser
        self.headers = {"Authorization": f"Bearer {key}"} if key else {}

    def open(self, method: str, path: str, **kw):
        headers = {**self.headers, **kw.pop("headers", {})}
        return self.browser.open(method, path, headers=headers, **kw)

    def import_text(self, product_id, data: bytes | str, **kw):
        if isinstance(data, str):
            data = data.encode()
        return self.post(
            f"/api/v1/products/{product_id}/cards", data=data, content_type="text/plain", **kw
        )

    def upload(self, product_id, data: bytes, filename: str = "picture.png"):
        return self.post(
            f"/api/v1/products/{product_id}/images",
            data={"file": (io.BytesIO(data), filename)},
            content_type="multipart/form-data",
        )


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


@contextmanager
def no_stored_codes(tenant_id):
    """Stands in for ``imports._fingerprint_lookup``: the shop seems to hold no
    codes, as when another import stores them between the check and the insert."""
    yield lambda fingerprints: set()
