"""``GET /healthz`` on any host: database, Redis and live workers."""

from __future__ import annotations

import logging

from flask import Blueprint, jsonify
from sqlalchemy import text

from app.extensions import db

log = logging.getLogger(__name__)
bp = Blueprint("health", __name__)


def check_health() -> tuple[dict, bool]:
    """Return the report and whether everything needed is up."""
    from app.core.queues import worker_count
    from app.core.redisconn import get_redis

    report: dict = {"status": "ok", "database": "ok", "redis": "ok", "workers": 0}
    healthy = True
    try:
        db.session.execute(text("SELECT 1"))
        db.session.rollback()
    except Exception as exc:  # noqa: BLE001 - any failure is "down"
        db.session.rollback()
        log.warning("healthz: database down: %s", type(exc).__name__)
        report["database"] = "down"
        healthy = False
    try:
        get_redis().ping()
        report["workers"] = worker_count()
    except Exception as exc:  # noqa: BLE001
        log.warning("healthz: redis down: %s", type(exc).__name__)
        report["redis"] = "down"
        healthy = False
    if not healthy:
        report["status"] = "down"
    return report, healthy


@bp.get("/healthz")
def healthz():
    report, healthy = check_health()
    response = jsonify(report)
    response.status_code = 200 if healthy else 503
    response.headers["Cache-Control"] = "no-store"
    return response
