"""The ``account`` connector: codes a supplier account of this shop uploaded
to its pool (``app.supply.pool``), sold at the source's cost. No HTTP: it
reads and claims the pool through the tenant guard, in the current shop.

- A SKU is the text of the linked product's id (``app.supply.sources``
  writes it into an account source's ``sku``); ``catalogue()`` lists the
  supplier's linked products with stock = its available codes and price =
  the source's cost.
- ``purchase(sku, qty, inputs, key)`` claims ``qty`` available codes (the
  oldest first; ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so two orders
  never wait on each other's codes; SQLite serialises writers), marks them
  sold under ``key``, credits the supplier's payable at cost in the ledger
  (``supply-payable:<key>``: ``supply:cost`` −cost,
  ``supplier:payable:<account>`` +cost) and commits, all at once. Asked
  again with the same key it answers the codes sold then and moves nothing.
  Too few codes: ``SupplyError("failed")`` with nothing claimed. Top-ups
  cannot come from a pool.
- A refund of an order supplied from a pool leaves the payable as it is:
  the supplier delivered its code; the shop takes the loss or settles with
  the supplier outside.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import func, select, text, update
from sqlalchemy.exc import IntegrityError

from app.catalog.models import KIND_CARD, Product
from app.core.crypto import get_cipher
from app.core.ids import parse_uuid
from app.extensions import db
from app.ledger import services as ledger
from app.ledger.models import LedgerTransaction
from app.supply.connectors.base import DELIVERED, Offer, Purchase, SupplyError
from app.supply.models import (
    CODE_AVAILABLE,
    CODE_SOLD,
    ProductSource,
    SupplierCode,
)

#: how often a claim races another one for the same codes before giving up
CLAIM_TRIES = 3


def _lock_key(key: str) -> None:
    """Hold a transaction-level lock on ``key`` (PostgreSQL advisory lock,
    released at commit or rollback)."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
            {"key": f"supply-account:{key}"},
        )


def payable_key(key: str) -> str:
    """The ledger transaction of the codes sold under routing's ``key``."""
    return f"supply-payable:{key}"[:120]


def _order_of(key: str) -> uuid.UUID | None:
    """The order routing's key names (``kameng:<shop>:<order id>``), if any."""
    return parse_uuid(key.rpartition(":")[2])


class AccountConnector:
    kind = "account"

    def __init__(self, supplier) -> None:
        if supplier.account_id is None:
            raise ValueError("the account supplier names no supplier account")
        self.supplier_id = supplier.id
        self.account_id = supplier.account_id

    # --- reading ----------------------------------------------------------------

    def _source(self, sku: str) -> ProductSource:
        product_id = parse_uuid(sku)
        match = (
            ProductSource.product_id == product_id
            if product_id is not None
            else ProductSource.sku == sku
        )
        source = db.session.scalar(
            select(ProductSource)
            .where(ProductSource.supplier_id == self.supplier_id, match)
            .order_by(ProductSource.created_at, ProductSource.id)
            .limit(1)
        )
        if source is None:
            raise SupplyError("failed", f"the supplier has no product {sku!r}")
        return source

    def _offers(self, sources: list[ProductSource]) -> list[Offer]:
        from tenants.models import current_shop_currency

        if not sources:
            return []
        product_ids = [s.product_id for s in sources]
        products = {
            p.id: p for p in db.session.scalars(select(Product).where(Product.id.in_(product_ids)))
        }
        stock = dict(
            db.session.execute(
                select(SupplierCode.product_id, func.count(SupplierCode.id))
                .where(
                    SupplierCode.supplier_id == self.supplier_id,
                    SupplierCode.product_id.in_(product_ids),
                    SupplierCode.status == CODE_AVAILABLE,
                )
                .group_by(SupplierCode.product_id)
            ).all()
        )
        currency = current_shop_currency()
        return [
            Offer(
                sku=str(s.product_id),
                name=products[s.product_id].name,
                kind=products[s.product_id].kind,
                price=s.cost,
                currency=currency,
                stock=int(stock.get(s.product_id, 0)),
            )
            for s in sources
            if s.product_id in products
        ]

    def catalogue(self) -> list[Offer]:
        """The supplier's linked products, with their available codes."""
        sources = db.session.scalars(
            select(ProductSource)
            .where(ProductSource.supplier_id == self.supplier_id)
            .order_by(ProductSource.created_at, ProductSource.id)
            .limit(500)
        ).all()
        return self._offers(list(sources))

    def offer(self, sku: str) -> Offer:
        """One linked product (``SupplyError("failed")`` for any other SKU)."""
        return self._offers([self._source(sku)])[0]

    def _sold_under(self, key: str) -> list[SupplierCode]:
        return list(
            db.session.scalars(
                select(SupplierCode)
                .where(SupplierCode.sold_key == key, SupplierCode.supplier_id == self.supplier_id)
                .order_by(SupplierCode.id)
            )
        )

    def _answer(self, sold: list[SupplierCode]) -> Purchase:
        cipher = get_cipher()
        codes = [cipher.decrypt(row.id, row.key_id, row.secret) for row in sold]
        return Purchase(
            DELIVERED,
            ref=str(sold[0].id),
            codes=codes,
            price=sum(int(row.cost or 0) for row in sold),
        )

    def status(self, key: str) -> Purchase:
        """The codes sold under ``key``, or ``SupplyError("failed")``."""
        sold = self._sold_under(key)
        db.session.commit()
        if not sold:
            raise SupplyError("failed", "no purchase under this key")
        return self._answer(sold)

    # --- selling ----------------------------------------------------------------

    def purchase(self, sku: str, quantity: int, inputs: dict, key: str) -> Purchase:
        """Sell ``quantity`` codes under ``key`` (see the module's doc). Commits."""
        sold = self._sold_under(key)
        if sold:
            db.session.commit()
            return self._answer(sold)
        source = self._source(sku)
        kind = db.session.scalar(select(Product.kind).where(Product.id == source.product_id))
        if kind != KIND_CARD:
            db.session.rollback()
            raise SupplyError("failed", "a supplier account supplies card codes only")
        if quantity < 1:
            db.session.rollback()
            raise SupplyError("failed", "nothing to buy")
        for _ in range(CLAIM_TRIES):
            claimed = self._claim(source, quantity, key)
            if claimed is not None:
                return self._answer(claimed)
        raise SupplyError("failed", "the supplier's codes were taken by other orders")

    def _claim(self, source: ProductSource, quantity: int, key: str) -> list[SupplierCode] | None:
        """Claim and sell the codes, post the payable, commit; None when
        another order took some of them first (nothing written). Asks under
        one key wait for each other (a transaction lock on the key, on
        PostgreSQL; SQLite serialises writers), so a second ask answers the
        first's codes instead of locking codes of its own."""
        _lock_key(key)
        already = self._sold_under(key)
        if already:
            db.session.commit()
            return already
        ids = list(
            db.session.scalars(
                select(SupplierCode.id)
                .where(
                    SupplierCode.supplier_id == self.supplier_id,
                    SupplierCode.product_id == source.product_id,
                    SupplierCode.status == CODE_AVAILABLE,
                )
                .order_by(SupplierCode.id)
                .limit(quantity)
                .with_for_update(skip_locked=True)
            )
        )
        if len(ids) < quantity:
            db.session.rollback()
            raise SupplyError(
                "failed", f"the supplier has {len(ids)} codes of this product, {quantity} asked"
            )
        cost, now = source.cost, datetime.now(UTC)
        moved = db.session.execute(
            update(SupplierCode)
            .where(SupplierCode.id.in_(ids), SupplierCode.status == CODE_AVAILABLE)
            .values(status=CODE_SOLD, sold_key=key, order_id=_order_of(key), cost=cost, sold_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        if moved != quantity:
            db.session.rollback()
            return None
        # Another worker that sold under the same key first wins: its codes
        # are the answer and ours go back.
        posted = db.session.scalar(
            select(LedgerTransaction.id).where(
                LedgerTransaction.idempotency_key == payable_key(key)
            )
        )
        if posted is not None:
            db.session.rollback()
            return self._sold_under(key) or None
        from tenants.models import current_shop_currency

        total = cost * quantity
        try:
            if total:
                ledger.post(
                    payable_key(key),
                    "supply_payable",
                    [
                        ledger.Line(ledger.SUPPLY_COST, -total),
                        ledger.Line(ledger.supplier_payable_code(self.account_id), total),
                    ],
                    current_shop_currency(),
                    memo=f"{quantity} codes sold from the supplier's pool",
                    order_id=_order_of(key),
                )
            db.session.commit()
        except IntegrityError:
            # A worker selling under the same key committed its posting
            # while ours waited on it: its codes are the answer, ours go back.
            db.session.rollback()
            return self._sold_under(key) or None
        db.session.expire_all()
        return self._sold_under(key)
