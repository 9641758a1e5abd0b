"""Suppliers' records from their own history (``SupplyAttempt`` rows): the
rolling success rate, median and p95 latency over the last ``WINDOW``
attempts, and the routing order they give. A supplier whose success rate is
under the shop's threshold (``SUPPLY_MIN_SUCCESS_BPS``, after at least
``MIN_ATTEMPTS`` attempts) is skipped by routing and flagged to the operator.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import select

from app.extensions import db
from app.supply.models import ATTEMPT_DELIVERED, ATTEMPT_PENDING, SupplyAttempt

WINDOW = 200
MIN_ATTEMPTS = 20


@dataclass(frozen=True)
class Score:
    supplier_id: uuid.UUID
    attempts: int
    success_bps: int  # 10,000 = every attempt succeeded (10,000 with no history)
    p50_ms: int
    p95_ms: int

    @property
    def flagged(self) -> bool:
        threshold = int(current_app.config.get("SUPPLY_MIN_SUCCESS_BPS", 5_000))
        return self.attempts >= MIN_ATTEMPTS and self.success_bps < threshold


def _percentile(values: list[int], q: float) -> int:
    if not values:
        return 0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * (len(ordered) - 1) + 0.5))]


def score_of(supplier_id: uuid.UUID) -> Score:
    """The supplier's record over its last ``WINDOW`` attempts."""
    rows = db.session.execute(
        select(SupplyAttempt.outcome, SupplyAttempt.latency_ms)
        .where(SupplyAttempt.supplier_id == supplier_id)
        .order_by(SupplyAttempt.created_at.desc())
        .limit(WINDOW)
    ).all()
    if not rows:
        return Score(supplier_id, 0, 10_000, 0, 0)
    good = sum(1 for outcome, _ in rows if outcome in (ATTEMPT_DELIVERED, ATTEMPT_PENDING))
    latencies = [int(ms) for _, ms in rows]
    return Score(
        supplier_id,
        len(rows),
        good * 10_000 // len(rows),
        _percentile(latencies, 0.5),
        _percentile(latencies, 0.95),
    )


def ranked(sources: list) -> list:
    """``sources`` (``ProductSource`` rows, enabled, of active suppliers) in
    the order routing tries them: priority (higher first), then success
    rate, then median latency, then cost; flagged suppliers left out."""
    scores = {s.supplier_id: score_of(s.supplier_id) for s in sources}
    usable = [s for s in sources if not scores[s.supplier_id].flagged]
    return sorted(
        usable,
        key=lambda s: (
            -s.priority,
            -scores[s.supplier_id].success_bps,
            scores[s.supplier_id].p50_ms,
            s.cost,
        ),
    )
