"""The payments' figures on ``/metrics``: payments by provider and outcome,
across every shop (read when scraped)."""

from __future__ import annotations

from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, select

from app.core.metrics import register_collector
from app.extensions import db
from app.payments.models import Payment
from tenants.context import all_tenants


def payments_by_outcome():
    family = GaugeMetricFamily(
        "kameng_payments", "Payments by provider and outcome", labels=["provider", "outcome"]
    )
    with all_tenants():
        rows = db.session.execute(
            select(Payment.provider, Payment.status, func.count()).group_by(
                Payment.provider, Payment.status
            )
        ).all()
    for provider, status, count in rows:
        family.add_metric([provider, status], count)
    yield family


register_collector(payments_by_outcome)
