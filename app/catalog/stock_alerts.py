"""Stock alerts (库存预警): when a product's stock is worth the operator's
attention, and the operator's list of alerts.

- ``record_crossing`` is called by the stock moves (``catalog.stock``) each
  time a product's available counter moves, in their transaction: going
  down across the low-stock threshold records one ``low`` alert, reaching
  zero one ``sold_out`` alert (sold out wins when both happen); a move up
  records nothing. It adds the row and never commits.
- ``list_alerts`` and ``acknowledge_alert`` are the operator's, in the
  current shop.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import func, select

from app.catalog.models import StockAlert
from app.core.errors import NotFound
from app.core.pagination import offset_of
from app.extensions import db


def record_crossing(
    tenant_id: uuid.UUID, product_id: uuid.UUID, before: int, after: int, threshold: int
) -> None:
    """Add the alert, if any, for the product's counter going from ``before``
    to ``after`` (in the caller's transaction; the caller commits)."""
    if after >= before:
        return
    if after == 0 and before > 0:
        kind, shown = "sold_out", 0
    elif threshold and after <= threshold < before:
        kind, shown = "low", after
    else:
        return
    db.session.add(
        StockAlert(
            tenant_id=tenant_id, product_id=product_id, kind=kind, stock=shown, threshold=threshold
        )
    )


def list_alerts(
    include_acknowledged: bool = False, page: int = 1, per_page: int = 50
) -> tuple[list[StockAlert], int]:
    """The current shop's stock alerts, newest first, with their total."""
    where = [] if include_acknowledged else [StockAlert.acknowledged_at.is_(None)]
    total = db.session.scalar(select(func.count()).select_from(StockAlert).where(*where)) or 0
    rows = db.session.scalars(
        select(StockAlert)
        .where(*where)
        .order_by(StockAlert.created_at.desc(), StockAlert.id.desc())
        .limit(per_page)
        .offset(offset_of(page, per_page))
    ).all()
    return list(rows), total


def acknowledge_alert(alert_id: uuid.UUID) -> StockAlert:
    """Mark an alert seen. Idempotent (the first time is kept); commits.
    Raises ``NotFound`` (no such alert in this shop)."""
    alert = db.session.scalar(select(StockAlert).where(StockAlert.id == alert_id))
    if alert is None:
        raise NotFound("No such alert.")
    if alert.acknowledged_at is None:
        alert.acknowledged_at = datetime.now(UTC)
    db.session.commit()
    return alert
