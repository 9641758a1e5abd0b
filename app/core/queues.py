"""RQ queues, the worker and periodic jobs.

Queues, highest priority first: ``fulfilment``, ``default``, ``imports``,
``sync``, ``mail``. A worker listens on all of them in that order.

The worker runs jobs in its own process (no fork per job): a fork costs
milliseconds and a card shop promises codes within a second. Each worker
builds the Flask app once and keeps its app context; jobs take ids and a
tenant id and enter the tenant context themselves.

Periodic jobs: each domain's ``jobs`` module declares its own with
:func:`register_periodic` (the function, its queue, and the name of the
setting that holds its interval in seconds), and the app assembly lists
those modules (``app.JOB_MODULES``), which :func:`build_cron` imports. RQ's own ``CronScheduler`` enqueues
them (``flask --app wsgi cron``: one per deployment; ``worker --cron``
starts it as a child process beside the worker). It runs in its own process
because it installs signal handlers, which only a main thread may.
"""

from __future__ import annotations

import gc
import logging
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import redis
from flask import Flask, current_app
from rq import Queue, SimpleWorker
from rq.cron import CronScheduler
from rq.exceptions import StopRequested

from app.core.redisconn import eviction_risk, get_redis

log = logging.getLogger(__name__)

QUEUE_NAMES = ("fulfilment", "default", "imports", "sync", "mail")
HEARTBEAT_KEY = "kameng:cron:heartbeat"
ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class PeriodicJob:
    """A job the scheduler enqueues every ``app.config[interval_setting]`` seconds."""

    path: str  # dotted path of the function
    queue: str
    interval_setting: str


_PERIODIC: dict[str, PeriodicJob] = {}


def register_periodic(func: Callable | str, queue: str, interval_setting: str) -> None:
    """Declare a periodic job: ``func`` (or its dotted path) is enqueued on
    ``queue`` every ``app.config[interval_setting]`` seconds. Idempotent:
    registering the same function again replaces its entry."""
    if queue not in QUEUE_NAMES:
        raise ValueError(f"unknown queue {queue!r}")
    path = func if isinstance(func, str) else f"{func.__module__}.{func.__qualname__}"
    _PERIODIC[path] = PeriodicJob(path, queue, interval_setting)


def periodic_jobs() -> tuple[PeriodicJob, ...]:
    """Every periodic job registered so far, in registration order."""
    return tuple(_PERIODIC.values())


def get_queue(name: str = "default", app: Flask | None = None) -> Queue:
    if name not in QUEUE_NAMES:
        raise ValueError(f"unknown queue {name!r}")
    return Queue(name, connection=get_redis(app))


def heartbeat() -> float:
    """Periodic job: records that the scheduler and a worker are alive."""
    now = time.time()
    get_redis().set(HEARTBEAT_KEY, str(now), ex=600)
    return now


register_periodic(heartbeat, "default", "HEARTBEAT_INTERVAL_SECONDS")


def ping(value: str) -> str:
    """A job that proves the round trip web → Redis → worker → result."""
    return f"pong:{value}"


def _import(path: str):
    module, _, name = path.rpartition(".")
    mod = __import__(module, fromlist=[name])
    return getattr(mod, name)


def build_cron(app: Flask) -> CronScheduler:
    """The scheduler with every periodic job, at the intervals the app's
    settings name. It first imports the job modules the app assembly lists
    (``app.extensions["kameng_job_modules"]``): each registers its own jobs."""
    import importlib

    for module in app.extensions.get("kameng_job_modules", ()):
        importlib.import_module(module)
    cron = CronScheduler(connection=get_redis(app), logging_level=logging.WARNING)
    for job in periodic_jobs():
        interval = int(app.config[job.interval_setting])
        cron.register(_import(job.path), job.queue, interval=interval)
    return cron


class _Stop:
    """SIGINT/SIGTERM while no RQ loop owns the signals (between runs)."""

    def __init__(self) -> None:
        self.event = threading.Event()

    def install(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._handle)

    def _handle(self, signum, frame) -> None:
        self.event.set()

    @property
    def asked(self) -> bool:
        return self.event.is_set()


def wait_for_redis(app: Flask, stop: _Stop, who: str) -> bool:
    """Block until Redis answers (``True``) or a stop is asked (``False``);
    one log line when waiting starts, one when it ends."""
    waited = False
    while not stop.asked:
        try:
            get_redis(app).ping()
        except (redis.ConnectionError, redis.TimeoutError):
            if not waited:
                log.warning("%s: waiting for Redis", who)
                waited = True
            stop.event.wait(1.0)
            continue
        if waited:
            log.warning("%s: Redis is back; resuming", who)
        return True
    return False


def run_worker(app: Flask, queues: list[str], with_cron: bool = False, burst: bool = False) -> None:
    """Run a worker until stopped (SIGINT/SIGTERM) or, with ``burst``, until idle.

    Supervised: RQ's loop quits on some Redis errors (a timeout, an error
    outside its dequeue), and a worker cannot start without Redis. Here the
    worker waits for Redis and starts again, so a Redis restart never needs a
    person; only a signal (or ``burst``) ends it. The scheduler child
    (``with_cron``) supervises itself the same way (:func:`run_cron`).
    """
    # What start-up built is never garbage: out of the collector's view, it
    # costs nothing per job and nothing at exit (a full collection of it held
    # the process for seconds after Ctrl-C).
    gc.freeze()
    cron_process = None
    if with_cron:
        cron_process = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "wsgi", "cron"], cwd=ROOT
        )
    stop = _Stop()
    try:
        with app.app_context():
            while True:
                stop.install()  # RQ installs its own while it runs, and leaves them
                if not wait_for_redis(app, stop, "worker"):
                    break
                connection = get_redis(app)
                risk = eviction_risk(connection)
                if risk:
                    log.warning("worker: %s", risk)
                worker = None
                try:
                    worker = SimpleWorker(
                        [Queue(q, connection=connection) for q in queues], connection=connection
                    )
                    # RQ backs off up to a minute between reconnects; a
                    # Redis back after a restart is used within 2 s.
                    worker.max_connection_wait_time = 2.0
                    worker.work(burst=burst, with_scheduler=True, logging_level="WARNING")
                except (redis.ConnectionError, redis.TimeoutError) as exc:
                    log.warning("worker: lost Redis (%s)", type(exc).__name__)
                asked = worker is not None and worker._shutdown_requested_date is not None
                if burst or asked or stop.asked:
                    break
                stop.event.wait(1.0)  # RQ quit on an error it logged: start again
    finally:
        if cron_process is not None:
            cron_process.terminate()
            try:
                cron_process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                cron_process.kill()


def run_cron(app: Flask) -> None:
    """Run the periodic-job scheduler until SIGINT/SIGTERM, through Redis
    outages (RQ's scheduler stops on the first Redis error)."""
    gc.freeze()  # as in run_worker
    stop = _Stop()
    while True:
        stop.install()
        if not wait_for_redis(app, stop, "scheduler"):
            return
        try:
            build_cron(app).start()  # returns when a signal asks it to stop
            return
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            log.warning("scheduler: lost Redis (%s)", type(exc).__name__)
        except StopRequested:
            return


def worker_count() -> int:
    from rq import Worker

    return len(Worker.all(connection=get_redis(current_app)))


@dataclass(frozen=True)
class QueueState:
    """One queue now: jobs waiting, running, failed (kept for a day by RQ)
    and scheduled for later."""

    name: str
    waiting: int
    running: int
    failed: int
    scheduled: int


@dataclass(frozen=True)
class WorkerState:
    """One registered worker: its name, ``busy``/``idle``/…, the queues it
    listens on, its last heartbeat (aware UTC) and the job it runs."""

    name: str
    state: str
    queues: tuple[str, ...]
    last_heartbeat: object  # datetime | None
    current_job: str | None


@dataclass(frozen=True)
class QueueReport:
    queues: tuple[QueueState, ...]
    workers: tuple[WorkerState, ...]
    #: when the scheduler last ran ``heartbeat`` (aware UTC), or None
    scheduler_seen: object
    #: seconds after which a missing scheduler heartbeat is late
    scheduler_late_after: int


def queue_report(app: Flask | None = None) -> QueueReport:
    """The queues' depths and the workers' and scheduler's health, read from
    Redis (the same figures ``/metrics`` gives a monitor). Raises the Redis
    error while Redis is down: the caller's page says so (503)."""
    from datetime import UTC, datetime

    from rq import Worker
    from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry

    app = app or current_app._get_current_object()
    connection = get_redis(app)
    queues = []
    for name in QUEUE_NAMES:
        queue = Queue(name, connection=connection)
        queues.append(
            QueueState(
                name=name,
                waiting=queue.count,
                running=StartedJobRegistry(queue=queue).count,
                failed=FailedJobRegistry(queue=queue).count,
                scheduled=ScheduledJobRegistry(queue=queue).count,
            )
        )

    def aware(moment):
        if moment is not None and moment.tzinfo is None:
            return moment.replace(tzinfo=UTC)
        return moment

    workers = tuple(
        WorkerState(
            name=w.name,
            state=str(w.get_state()),
            queues=tuple(w.queue_names()),
            last_heartbeat=aware(w.last_heartbeat),
            current_job=w.get_current_job_id(),
        )
        for w in sorted(Worker.all(connection=connection), key=lambda w: w.name)
    )
    beat = connection.get(HEARTBEAT_KEY)
    seen = datetime.fromtimestamp(float(beat), UTC) if beat else None
    late_after = 3 * int(app.config.get("HEARTBEAT_INTERVAL_SECONDS", 30))
    return QueueReport(tuple(queues), workers, seen, late_after)
