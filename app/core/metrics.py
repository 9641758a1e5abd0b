"""``GET /metrics``: the platform's figures in the Prometheus text format.

What it shows:

- ``kameng_http_request_seconds`` (histogram): how long each request took,
  by endpoint, method and status class; ``kameng_http_requests_total``;
- at scrape time: ``kameng_database_up``, ``kameng_redis_up``,
  ``kameng_queue_jobs`` and ``kameng_queue_failed_jobs`` by queue, and
  whatever the domains register with ``register_collector`` (orders by
  state, payments by provider and outcome), read across every shop.

Who may read it: a client on the platform's own network (``METRICS_ALLOW``,
loopback by default) or one sending ``Authorization: Bearer
<METRICS_TOKEN>``; anyone else gets a 404, as if it were not there. A
request relayed by a proxy the app does not trust (``TRUSTED_PROXIES``)
counts as from outside, whatever address it arrives from.

Under gunicorn each worker process counts its own requests;
``PROMETHEUS_MULTIPROC_DIR`` (set by ``scripts/gunicorn.conf.py``) makes
the scrape add them up across processes (prometheus_client's
multiprocess mode), whichever worker answers.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
import time
from collections.abc import Callable, Iterable

from flask import Blueprint, Flask, Response, abort, current_app, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily

log = logging.getLogger(__name__)
bp = Blueprint("metrics", __name__)

REQUEST_SECONDS = Histogram(
    "kameng_http_request_seconds",
    "Time to answer a request",
    ("endpoint", "method", "status"),
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
REQUESTS = Counter("kameng_http_requests", "Requests answered", ("endpoint", "method", "status"))

#: Scrape-time figures the domains add: functions yielding metric families.
_COLLECTORS: list[Callable[[], Iterable[GaugeMetricFamily]]] = []


def register_collector(collect: Callable[[], Iterable[GaugeMetricFamily]]) -> None:
    """Add a domain's scrape-time figures (called once, at import)."""
    if collect not in _COLLECTORS:
        _COLLECTORS.append(collect)


def install_metrics(app: Flask) -> None:
    """Time every request Flask answers and serve ``/metrics``."""

    @app.before_request
    def _start() -> None:
        g.metrics_started = time.perf_counter()

    @app.after_request
    def _observe(response):
        started = g.get("metrics_started")
        if started is not None:
            labels = (
                request.endpoint or "unmatched",
                request.method,
                f"{response.status_code // 100}xx",
            )
            REQUEST_SECONDS.labels(*labels).observe(time.perf_counter() - started)
            REQUESTS.labels(*labels).inc()
        return response

    app.register_blueprint(bp)


def _allowed() -> bool:
    token = current_app.config.get("METRICS_TOKEN") or ""
    given = request.headers.get("Authorization", "")
    if token and hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return True
    if not current_app.config.get("TRUSTED_PROXIES") and (
        "X-Forwarded-For" in request.headers or "Forwarded" in request.headers
    ):
        # Relayed by a proxy the app was not told to trust (a local nginx
        # makes every visitor look like 127.0.0.1): only the token opens it.
        return False
    try:
        client = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        return False
    return any(client in network for network in _networks())


def _networks() -> list:
    spec = current_app.config.get("METRICS_ALLOW") or ""
    networks = []
    for part in spec.split(","):
        if part.strip():
            networks.append(ipaddress.ip_network(part.strip(), strict=False))
    return networks


class _ScrapeTime:
    """The figures read when scraped: health, queues, the domains' own."""

    def collect(self):
        yield from _health()
        yield from _queues()
        for collect in _COLLECTORS:
            try:
                yield from collect()
            except Exception as exc:  # noqa: BLE001 - one broken figure must not hide the rest
                log.warning("metrics: %s failed: %s", collect.__qualname__, type(exc).__name__)


def _health():
    from sqlalchemy import text

    from app.core.redisconn import get_redis
    from app.extensions import db

    database = GaugeMetricFamily("kameng_database_up", "The database answers")
    try:
        db.session.execute(text("SELECT 1"))
        database.add_metric([], 1)
    except Exception:  # noqa: BLE001 - down is a value here
        database.add_metric([], 0)
    finally:
        db.session.rollback()
    yield database
    redis_up = GaugeMetricFamily("kameng_redis_up", "Redis answers")
    try:
        get_redis().ping()
        redis_up.add_metric([], 1)
    except Exception:  # noqa: BLE001
        redis_up.add_metric([], 0)
    yield redis_up


def _queues():
    from rq.registry import FailedJobRegistry

    from app.core.queues import QUEUE_NAMES, get_queue

    waiting = GaugeMetricFamily("kameng_queue_jobs", "Jobs waiting", labels=["queue"])
    failed = GaugeMetricFamily("kameng_queue_failed_jobs", "Jobs that failed", labels=["queue"])
    try:
        for name in QUEUE_NAMES:
            queue = get_queue(name)
            waiting.add_metric([name], queue.count)
            failed.add_metric([name], FailedJobRegistry(queue=queue).count)
    except Exception as exc:  # noqa: BLE001 - Redis down: kameng_redis_up says so
        log.warning("metrics: queues unreadable: %s", type(exc).__name__)
        return
    yield waiting
    yield failed


@bp.get("/metrics")
def metrics():
    if not _allowed():
        abort(404)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        counted = CollectorRegistry()
        multiprocess.MultiProcessCollector(counted)
    else:
        from prometheus_client import REGISTRY as counted
    scraped = CollectorRegistry()
    scraped.register(_ScrapeTime())
    return Response(
        generate_latest(counted) + generate_latest(scraped),
        content_type=CONTENT_TYPE_LATEST,
        headers={"Cache-Control": "no-store"},
    )
