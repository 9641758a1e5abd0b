"""A product's sources (货源): which suppliers it is bought from, under
which supplier SKU, at what cost, in what order, switched on or off.

The API and the console call these same functions. Each works in the
current shop (another shop's products, sources and suppliers are not
found), names each bad field in a ``ValidationFailed`` (nothing written),
keeps a product within ``MAX_SOURCES_PER_PRODUCT``, refuses a blacklisted
supplier, and commits its change with its audit row.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.audit import services as audit
from app.catalog.models import KIND_CARD, Product, StockAlert
from app.core.errors import Conflict, NotFound, ValidationFailed
from app.extensions import db
from app.pricing import checks
from app.pricing.checks import INVALID, Refused
from app.supply.models import (
    KIND_ACCOUNT,
    MAX_SOURCES_PER_PRODUCT,
    SUPPLIER_BLACKLISTED,
    ProductSource,
    Supplier,
)
from app.supply.suppliers import supplier_choices

MAX_SKU = 120
MAX_PRIORITY = 1_000
FIELDS = ("supplier_id", "sku", "cost", "priority", "enabled")


def _product(product_id: uuid.UUID) -> Product:
    product = db.session.scalar(select(Product).where(Product.id == product_id))
    if product is None:
        raise NotFound("No such product.")
    return product


def list_sources(product_id: uuid.UUID) -> list[ProductSource]:
    """The product's sources (at most ``MAX_SOURCES_PER_PRODUCT``), highest
    priority first; ``NotFound`` for another shop's product."""
    _product(product_id)
    return list(
        db.session.scalars(
            select(ProductSource)
            .where(ProductSource.product_id == product_id)
            .order_by(ProductSource.priority.desc(), ProductSource.created_at, ProductSource.id)
        )
    )


def suppliers_of(sources: list[ProductSource]) -> dict[uuid.UUID, Supplier]:
    """The suppliers the sources name, by id (one query)."""
    ids = {s.supplier_id for s in sources}
    if not ids:
        return {}
    return {s.id: s for s in db.session.scalars(select(Supplier).where(Supplier.id.in_(ids)))}


def find_source(product_id: uuid.UUID, source_id: uuid.UUID) -> ProductSource:
    """One source of the product; ``NotFound`` for any other pair."""
    _product(product_id)
    source = db.session.scalar(
        select(ProductSource).where(
            ProductSource.id == source_id, ProductSource.product_id == product_id
        )
    )
    if source is None:
        raise NotFound("No such source.")
    return source


def _supplier(value: Any) -> uuid.UUID:
    ident = checks.row_id(value, Supplier, "supplier")
    if ident is None:
        raise Refused("Choose a supplier.")
    status = db.session.scalar(select(Supplier.status).where(Supplier.id == ident))
    if status == SUPPLIER_BLACKLISTED:
        raise Refused("The supplier is blacklisted.")
    return ident


def _sku(value: Any) -> str:
    if not isinstance(value, str):
        raise Refused("Must be text.")
    value = value.strip()
    if len(value) > MAX_SKU:
        raise Refused(f"At most {MAX_SKU} characters.")
    return value


CHECKS = {
    "supplier_id": _supplier,
    "sku": _sku,
    "cost": lambda v: checks.money(v),
    "priority": lambda v: checks.whole(v, 0, MAX_PRIORITY),
    "enabled": checks.flag,
}


def _clean(data: Mapping[str, Any], source: ProductSource | None) -> dict:
    errors: dict[str, list[str]] = checks.unknown_fields(data, FIELDS)
    values: dict[str, Any] = {}
    if source is None and "supplier_id" not in data:
        errors["supplier_id"] = ["Missing data for required field."]
    for key, check in CHECKS.items():
        if key in data:
            try:
                values[key] = check(data[key])
            except Refused as why:
                errors[key] = [str(why)]
    supplier_id = values.get("supplier_id", source.supplier_id if source else None)
    if supplier_id is not None and "supplier_id" not in errors:
        kind = db.session.scalar(select(Supplier.kind).where(Supplier.id == supplier_id))
        sku = values.get("sku", source.sku if source else "")
        if kind != KIND_ACCOUNT and not sku and "sku" not in errors:
            errors["sku"] = ["Give the supplier's product id (SKU)."]
    if errors:
        raise ValidationFailed(INVALID, errors=errors)
    return values


def _fit_account(product: Product, values: dict, source: ProductSource | None) -> None:
    """An account supplier's source: its SKU is the product's id (what the
    ``account`` connector sells under), and only a card product may have one
    (a supplier account uploads codes; it cannot top anything up)."""
    supplier_id = values.get("supplier_id", source.supplier_id if source else None)
    kind = db.session.scalar(select(Supplier.kind).where(Supplier.id == supplier_id))
    if kind != KIND_ACCOUNT:
        return
    if product.kind != KIND_CARD:
        raise ValidationFailed(
            INVALID,
            errors={
                "supplier_id": [
                    "A supplier account supplies card codes only: "
                    "link a supplier reached through its API."
                ]
            },
            message=_l(
                "A supplier account uploads codes, so it can only supply a card product. "
                "Link a supplier reached through its API instead."
            ),
        )
    values["sku"] = str(product.id)


def check_source(
    product_id: uuid.UUID, data: Mapping[str, Any], source_id: uuid.UUID | None = None
) -> None:
    """Judge ``data`` as ``add_source`` (or ``update_source``) would, writing
    nothing."""
    source = find_source(product_id, source_id) if source_id is not None else None
    product = _product(product_id)
    _fit_account(product, _clean(data, source), source)


def _taken() -> Conflict:
    return Conflict(
        "The product already has this supplier and SKU as a source.",
        errors={"sku": ["The product already has this supplier and SKU."]},
        message=_l("The product already has this supplier and SKU as a source."),
    )


def _check_free(product_id, supplier_id, sku, source_id) -> None:
    query = select(ProductSource.id).where(
        ProductSource.product_id == product_id,
        ProductSource.supplier_id == supplier_id,
        ProductSource.sku == sku,
    )
    if source_id is not None:
        query = query.where(ProductSource.id != source_id)
    if db.session.scalar(query) is not None:
        raise _taken()


def _detail(source: ProductSource) -> dict:
    return {
        "product_id": str(source.product_id),
        "supplier_id": str(source.supplier_id),
        "sku": source.sku,
        "cost": source.cost,
        "priority": source.priority,
        "enabled": source.enabled,
    }


def _commit() -> None:
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise _taken() from None


def add_source(product_id: uuid.UUID, data: Mapping[str, Any], *, actor: str) -> ProductSource:
    """Link the product to a supplier: ``supplier_id`` (not blacklisted; an
    account supplier only for a card product), ``sku`` (required unless the
    supplier is an account, whose SKU is the product's id), ``cost`` (minor
    units), ``priority`` (0..1000, higher tried first), ``enabled``.
    ``Conflict`` for a pair the product has, or a product holding
    ``MAX_SOURCES_PER_PRODUCT``. Audited; commits."""
    product = _product(product_id)
    values = _clean(data, None)
    _fit_account(product, values, None)
    held = db.session.scalar(
        select(func.count(ProductSource.id)).where(ProductSource.product_id == product.id)
    )
    if held >= MAX_SOURCES_PER_PRODUCT:
        raise Conflict(
            f"A product has at most {MAX_SOURCES_PER_PRODUCT} sources.",
            errors={"sources": [f"At most {MAX_SOURCES_PER_PRODUCT}."]},
            message=_l("A product has at most %(n)s sources.", n=MAX_SOURCES_PER_PRODUCT),
        )
    _check_free(product.id, values["supplier_id"], values.get("sku", ""), None)
    source = ProductSource(product_id=product.id, **{"sku": "", **values})
    db.session.add(source)
    db.session.flush()
    audit.record(actor, "source.added", f"product:{product.id}", **_detail(source))
    _commit()
    return source


def update_source(
    product_id: uuid.UUID, source_id: uuid.UUID, data: Mapping[str, Any], *, actor: str
) -> ProductSource:
    """Change the given fields of a source. A change that changes nothing
    writes nothing. Audited; commits."""
    source = find_source(product_id, source_id)
    values = _clean(data, source)
    _fit_account(_product(product_id), values, source)
    _check_free(
        product_id,
        values.get("supplier_id", source.supplier_id),
        values.get("sku", source.sku),
        source.id,
    )
    before = _detail(source)
    for key, value in values.items():
        setattr(source, key, value)
    after = _detail(source)
    changed = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
    if not changed:
        db.session.rollback()
        return find_source(product_id, source_id)
    if "supplier_id" in changed or "sku" in changed:
        source.stock, source.synced_at, source.next_sync_at = None, None, None
        source.sync_failures, source.last_error = 0, None
    audit.record(
        actor, "source.updated", f"product:{product_id}", source=str(source.id), changed=changed
    )
    _commit()
    return find_source(product_id, source_id)


def remove_source(product_id: uuid.UUID, source_id: uuid.UUID, *, actor: str) -> None:
    """Unlink a source from its product (its past supply attempts keep their
    record without it). Audited; commits."""
    source = find_source(product_id, source_id)
    audit.record(actor, "source.removed", f"product:{product_id}", **_detail(source))
    db.session.delete(source)
    db.session.commit()


@dataclass(frozen=True)
class SourcesPage:
    """What a product's sources page shows: the product, its sources with
    their suppliers, the suppliers a new source may name, and its latest
    unacknowledged stock alerts (at most 5)."""

    product: Product
    sources: list[ProductSource]
    suppliers: dict[uuid.UUID, Supplier]
    choices: list[Supplier]
    alerts: list[StockAlert]


def sources_page(product_id: uuid.UUID) -> SourcesPage:
    """The product's sources page (``NotFound`` for another shop's product)."""
    product = _product(product_id)
    rows = list_sources(product.id)
    alerts = db.session.scalars(
        select(StockAlert)
        .where(StockAlert.product_id == product.id, StockAlert.acknowledged_at.is_(None))
        .order_by(StockAlert.created_at.desc(), StockAlert.id.desc())
        .limit(5)
    ).all()
    return SourcesPage(product, rows, suppliers_of(rows), supplier_choices(), list(alerts))
