"""The operator's reads of card stock (卡密库存): which product holds cards,
a page of its cards, and its counts. Current shop only; read-only (nothing
here commits or changes a row); no answer ever holds a code, and listings
never load a secret from the database.
"""

from __future__ import annotations

import re
import uuid

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select

from app.catalog import cardfile, stock
from app.catalog.models import CARD_STATUSES, KIND_CARD, Card, Product
from app.core.crypto import get_cipher
from app.core.errors import NotFound, ValidationFailed
from app.core.pagination import offset_of
from app.extensions import db


def get_card_product(product_id: uuid.UUID) -> Product:
    """The current shop's product, which must be of kind ``card``.

    Raises ``NotFound`` (no such product in this shop) or ``ValidationFailed``.
    """
    product = db.session.scalar(select(Product).where(Product.id == product_id))
    if product is None:
        raise NotFound("No such product.")
    if product.kind != KIND_CARD:
        raise ValidationFailed(
            "Only card products hold card stock.",
            errors={"kind": ["Not a card product."]},
            message=_l("Only card products hold card stock."),
        )
    return product


def short_fingerprint(fingerprint: bytes) -> str:
    """8 hex digits of the keyed hash: enough to tell cards apart on screen
    and to match a line of an export, useless for recovering a code."""
    return bytes(fingerprint[:4]).hex()


_SHORT_FINGERPRINT = re.compile(r"[0-9a-fA-F]{8}")


def _matching(search: str):
    """The condition for cards a search names: the code itself (as an
    import line: ``number`` or ``number----password``, compared by its keyed
    fingerprint, so nothing is decrypted), or the 8 hex digits a listing
    shows. A search that is neither matches nothing."""
    search = search.strip()
    parsed = cardfile.parse(search.encode("utf-8")) if "\n" not in search else None
    conditions = []
    if parsed is not None and len(parsed.entries) == 1 and not parsed.invalid:
        conditions.append(Card.fingerprint == get_cipher().fingerprint(parsed.entries[0][1]))
    if _SHORT_FINGERPRINT.fullmatch(search):
        conditions.append(func.substr(Card.fingerprint, 1, 4) == bytes.fromhex(search))
    return or_(*conditions) if conditions else Card.id.is_(None)


def list_cards(
    product_id: uuid.UUID,
    status: str | None = None,
    page: int = 1,
    per_page: int = 50,
    search: str | None = None,
) -> tuple[list[dict], int]:
    """A page of the product's cards, newest first, with their total. Never
    loads a secret: only ids, status, times, order and a short fingerprint.
    ``search`` finds a card by its code or its short fingerprint."""
    get_card_product(product_id)
    if status is not None and status not in CARD_STATUSES:
        raise ValidationFailed("Unknown card status.", errors={"status": list(CARD_STATUSES)})
    where = [Card.product_id == product_id]
    if status is not None:
        where.append(Card.status == status)
    if search and search.strip():
        where.append(_matching(search))
    total = db.session.scalar(select(func.count()).select_from(Card).where(*where)) or 0
    rows = db.session.execute(
        select(
            Card.id,
            Card.status,
            Card.created_at,
            Card.sold_at,
            Card.order_id,
            Card.reserved_until,
            Card.import_id,
            Card.fingerprint,
        )
        .where(*where)
        .order_by(Card.id.desc())
        .limit(per_page)
        .offset(offset_of(page, per_page))
    ).all()
    items = [
        {
            "id": r.id,
            "status": r.status,
            "created_at": r.created_at,
            "sold_at": r.sold_at,
            "order_id": r.order_id,
            "reserved_until": r.reserved_until,
            "import_id": r.import_id,
            "fingerprint": short_fingerprint(r.fingerprint),
        }
        for r in rows
    ]
    return items, total


def stock_of(product_id: uuid.UUID) -> dict:
    """The product's cards by status, what a buyer can have now
    (``sellable``), the counter, the threshold and whether it is sold out."""
    product = get_card_product(product_id)
    result = stock.counts(product_id)
    return {
        "product_id": product.id,
        **result,
        "stock_available": product.stock_available,
        "low_stock_threshold": product.low_stock_threshold,
        "sold_out": result["sellable"] == 0,
        "low": 0 < result["sellable"] <= product.low_stock_threshold,
    }
