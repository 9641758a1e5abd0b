"""The orders' figures on ``/metrics``: how many orders are in each state,
across every shop (read when scraped)."""

from __future__ import annotations

from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, select

from app.core.metrics import register_collector
from app.extensions import db
from app.orders.models import Order
from tenants.context import all_tenants


def orders_by_state():
    family = GaugeMetricFamily("kameng_orders", "Orders by state", labels=["state"])
    with all_tenants():
        rows = db.session.execute(select(Order.status, func.count()).group_by(Order.status)).all()
    for status, count in rows:
        family.add_metric([status], count)
    yield family


register_collector(orders_by_state)
