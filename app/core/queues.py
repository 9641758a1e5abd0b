"""RQ queues, the worker and periodic jobs.

Queues, highest priority first: ``fulfilment``, ``default``, ``imports``,
``sync``, ``mail``. A worker listens on all of them in that order.

The worker runs jobs in its own process (no fork per job): a fork costs
milliseconds and a card shop promises codes within a second. Each worker
builds the Flask app once and keeps its app context; jobs take ids and a
tenant id and enter the tenant context themselves.

Periodic jobs are declared in ``PERIODIC`` and enqueued by RQ's own
``CronScheduler`` (``flask --app wsgi cron``: one per deployment; ``worker
--cron`` starts it as a child process beside the worker). It runs in its own
process because it installs signal handlers, which only a main thread may.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from pathlib import Path

from flask import Flask, current_app
from rq import Queue, SimpleWorker
from rq.cron import CronScheduler

from app.core.redisconn import get_redis

log = logging.getLogger(__name__)

QUEUE_NAMES = ("fulfilment", "default", "imports", "sync", "mail")
HEARTBEAT_KEY = "kameng:cron:heartbeat"
ROOT = Path(__file__).resolve().parents[2]

# (dotted function path, queue, interval in seconds)
PERIODIC: list[tuple[str, str, int]] = [
    ("app.core.queues.heartbeat", "default", 30),
    ("app.catalog.jobs.release_expired_holds", "default", 60),
    ("app.orders.jobs.expire_orders", "default", 30),
    ("app.orders.jobs.sweep_orders", "fulfilment", 15),
]


def get_queue(name: str = "default", app: Flask | None = None) -> Queue:
    if name not in QUEUE_NAMES:
        raise ValueError(f"unknown queue {name!r}")
    return Queue(name, connection=get_redis(app))


def heartbeat() -> float:
    """Periodic job: records that the scheduler and a worker are alive."""
    now = time.time()
    get_redis().set(HEARTBEAT_KEY, str(now), ex=600)
    return now


def ping(value: str) -> str:
    """A job that proves the round trip web → Redis → worker → result."""
    return f"pong:{value}"


def _import(path: str):
    module, _, name = path.rpartition(".")
    mod = __import__(module, fromlist=[name])
    return getattr(mod, name)


def build_cron(app: Flask) -> CronScheduler:
    cron = CronScheduler(connection=get_redis(app), logging_level=logging.WARNING)
    for path, queue, interval in PERIODIC:
        cron.register(_import(path), queue, interval=interval)
    return cron


def run_worker(app: Flask, queues: list[str], with_cron: bool = False, burst: bool = False) -> None:
    """Run a worker until stopped (SIGINT/SIGTERM) or, with ``burst``, until idle."""
    cron_process = None
    if with_cron:
        cron_process = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "wsgi", "cron"], cwd=ROOT
        )
    try:
        with app.app_context():
            connection = get_redis(app)
            worker = SimpleWorker(
                [Queue(q, connection=connection) for q in queues], connection=connection
            )
            worker.work(burst=burst, with_scheduler=True, logging_level="WARNING")
    finally:
        if cron_process is not None:
            cron_process.terminate()
            try:
                cron_process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                cron_process.kill()


def worker_count() -> int:
    from rq import Worker

    return len(Worker.all(connection=get_redis(current_app)))
