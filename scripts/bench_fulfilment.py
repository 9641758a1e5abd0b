"""``scripts/bench fulfilment``: paid → delivered through RQ, per worker,
against RQ's own rate for an empty job.

Set-up (not timed): a fresh, migrated database ``bench_fulfilment``
(``bench_common.app_env``: ``ENV=production``, PostgreSQL, Redis), a shop
with one card product and N + M codes (``imports.import_now``; N = 1,000
with ``--quick``, else 5,000, ``--codes`` overrides; M = N / 20, at least
100, for the latency phase), N + M guest orders of one card each
(``orders.checkout.create_order``, in this process, 4 threads), and a
local SMTP sink (``bench_common.smtp_sink``) that delivery mails really go
to.

Payments are confirmed the way a payment provider's webhook confirms them:
``orders.payment.confirm_payment`` (provider ``stripe``, from
``clearing:stripe``), which commits the order as paid and then enqueues its
fulfilment job. (The wallet path may deliver in the buyer's own request
instead; ``scripts/bench checkout`` measures that.)

Phase 1, throughput, one worker on a backlog. While no worker runs, the N
orders are confirmed (N ``fulfil_order`` jobs on the ``fulfilment`` queue)
and N jobs of ``app.core.queues.ping`` (an empty job: it returns a string)
are queued behind them on the same queue. Then one ``flask --app wsgi
worker --queues fulfilment`` starts (``bench_common.rq_worker``: the
production worker class, ``SimpleWorker``, jobs in-process) and drains
both. Each kind is timed from RQ's own records of its jobs (``started_at``,
stamped by the worker as it starts a job): jobs/s = (jobs − 1) ÷ (last
start − first start), one full job cycle (dequeue, run, record the result)
per interval, leaving out the first 10 jobs of each kind (warm-up: first
queries, compiled statements). The worker's start-up is outside every
window. **fulfilment jobs/s per worker** ÷ **empty RQ job jobs/s** is the
ratio: what a fulfilment costs beyond RQ's own cost per job.

Phase 2, latency, the same worker, idle. The M other orders are confirmed
from this process at a steady pace, open loop (each at its scheduled time,
whether or not earlier ones are delivered): a light load, a quarter of the
worker's measured fulfilment rate and at most 10/s, since on a small
machine each confirmation in this process costs about as much CPU as the
delivery it starts. paid → delivered per order = the fulfil job's
``ended_at`` (RQ stamps it once the job has returned, i.e. after the
delivery commit) − the order's ``paid_at`` (stamped by ``confirm_payment``
in this process just before it commits the payment, so the figure errs a
little high: it includes the payment's own commit); p50, p95, p99. Also
recorded: each job's queue wait (enqueued → started) and run time (started
→ ended), and the database's ``delivered_at − paid_at``.

The delivery mail is measured on its own: each delivery adds its order to
the list of pending mails (``fulfilment.notify_delivered``), which does not
gate delivery (the codes are on the order page and in the API from the
delivery commit on), and the worker above does not listen on ``mail``, as
in a deployment with a separate mail worker. After phase 2 a second worker
(``--queues mail``) starts and drains the N + M pending mails in batches
(render the mail, decrypt the codes, send it over SMTP to the sink); mails/s
is counted at the sink, from its ``WARM_UP``-th message to its last. The
row compares it with the same empty-job ceiling.

Checked afterwards (a failure makes the scenario fail): every timed job
finished, N + M orders delivered, one sold card per order, no card sold
twice, the ledger sums to 0 and cached balances match. The fulfilment
worker's peak RSS goes to the JSON as ``rq_worker_peak_mb``.
"""

from __future__ import annotations

import statistics
import time
from datetime import UTC, datetime

import bench_common as bc
from bench_checkout import check_database
from bench_common import Context, Outcome, Row

PRICE = 100
WARM_UP = 10
MAX_PACE = 10.0


def seed(app, codes: int) -> dict:
    from app.extensions import db
    from tenants.context import tenant_context

    with app.app_context():
        tenant_id = bc.open_shop("bench").id
        with tenant_context(tenant_id):
            product_id = bc.add_card_product(codes, price=PRICE)
        db.session.remove()
    return {"tenant_id": tenant_id, "product_id": product_id}


def in_threads(app, tenant_id, items: list, fn, threads: int = 4) -> list:
    """``fn(item)`` for each item, in the shop's context, on ``threads``
    threads (set-up only: it overlaps the database round trips)."""
    from concurrent.futures import ThreadPoolExecutor

    from app.extensions import db
    from tenants.context import tenant_context

    def part(chunk: list) -> list:
        with app.app_context(), tenant_context(tenant_id):
            try:
                return [fn(item) for item in chunk]
            finally:
                db.session.remove()

    chunks = [items[i::threads] for i in range(threads)]
    with ThreadPoolExecutor(max_workers=threads) as pool:
        return [r for done in pool.map(part, chunks) for r in done]


def create_orders(app, tenant_id, product_id, count: int, first: int = 0) -> list:
    """``count`` pending guest orders of one card each; their ids."""
    from app.orders import checkout

    def one(i: int):
        order, _ = checkout.create_order(
            product_id=product_id, quantity=1, email=f"buyer{i:06d}@bench.example.com"
        )
        return order.id

    return in_threads(app, tenant_id, list(range(first, first + count)), one)


def confirm(order_id, total: int = PRICE) -> None:
    """Confirm a payment as the Stripe webhook does (commits, then enqueues
    the fulfilment job). Runs in the shop's context."""
    from app.orders import payment

    paid = payment.confirm_payment(
        order_id,
        provider="stripe",
        provider_ref=f"pi_bench_{order_id.hex}",
        amount=total,
        actor="stripe webhook",
    )
    assert paid, order_id


def _utc(stamp: datetime) -> datetime:
    """A database timestamp as an aware UTC datetime (RQ's are aware)."""
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


def jobs_of(redis, ids: list[str]) -> list:
    from rq.job import Job

    jobs = []
    for at in range(0, len(ids), 1000):
        jobs.extend(Job.fetch_many(ids[at : at + 1000], connection=redis))
    return jobs


def wait_finished(
    redis, ids: list[str], worker: bc.Server, timeout: float, last: str | None = None
) -> list:
    """Wait until every job in ``ids`` has finished (or failed); the jobs.

    One worker takes a queue's jobs in order, so while it works only the
    status of ``last`` (the one queued last; default ``ids[-1]``) is read:
    a single HGET per poll, which costs the measured worker nothing."""
    from rq.job import JobStatus

    done = (JobStatus.FINISHED.value, JobStatus.FAILED.value)
    deadline = time.monotonic() + timeout
    last = last or ids[-1]
    while True:
        worker.check_alive()
        status = redis.hget(f"rq:job:{last}", "status")
        if status is not None and status.decode() in done:
            jobs = jobs_of(redis, ids)
            if all(job is not None and job.get_status(refresh=False) in done for job in jobs):
                return jobs
        if time.monotonic() > deadline:
            raise RuntimeError(f"jobs up to {last} not done after {timeout:.0f} s")
        time.sleep(0.1)


def drain_rate(jobs: list) -> dict:
    """Jobs/s of one kind from RQ's start stamps, after the warm-up."""
    starts = sorted(job.started_at for job in jobs if job.started_at)
    counted = starts[WARM_UP:] if len(starts) > WARM_UP + 1 else starts
    span = (counted[-1] - counted[0]).total_seconds()
    runs = [
        (job.ended_at - job.started_at).total_seconds()
        for job in jobs
        if job.started_at and job.ended_at
    ]
    return {
        "jobs": len(jobs),
        "failed": sum(1 for job in jobs if job.get_status(refresh=False) == "failed"),
        "counted": len(counted),
        "seconds": round(span, 3),
        "jobs_per_second": (len(counted) - 1) / span if span > 0 else float("nan"),
        "run_ms_p50": round(bc.percentile(runs, 0.5) * 1000, 2),
    }


def mail_rate(sink, total: int, worker, limit: float) -> dict:
    """Delivery mails per second as the SMTP sink takes them: from the
    ``WARM_UP``-th message to the last of ``total``, polled every 10 ms (the
    worker drains the pending list in batches of ``MAIL_BATCH``, so there
    is no job per mail to time)."""
    deadline = time.monotonic() + limit
    first = last = None
    while time.monotonic() < deadline:
        taken = sink.messages
        now = time.monotonic()
        if first is None and taken >= WARM_UP:
            first = (now, taken)
        if taken >= total:
            last = (now, taken)
            break
        worker.check_alive()
        time.sleep(0.01)
    if first is None or last is None:
        return {"mails": sink.messages, "counted": 0, "seconds": None, "mails_per_second": 0.0}
    span = last[0] - first[0]
    counted = last[1] - first[1]
    return {
        "mails": last[1],
        "counted": counted,
        "seconds": round(span, 3),
        "mails_per_second": counted / span if span > 0 else float("nan"),
    }


def ms(values: list[float]) -> dict:
    if not values:
        return {}
    return {
        "p50": round(bc.percentile(values, 0.50) * 1000, 1),
        "p95": round(bc.percentile(values, 0.95) * 1000, 1),
        "p99": round(bc.percentile(values, 0.99) * 1000, 1),
        "max": round(max(values) * 1000, 1),
        "mean": round(statistics.fmean(values) * 1000, 1),
    }


def run(ctx: Context) -> Outcome:
    from redis import Redis
    from rq import Queue

    n = int(ctx.options.get("codes") or (1_000 if ctx.quick else 5_000))
    m = max(100, n // 20)
    url = ctx.new_database("bench_fulfilment")
    ctx.flush_redis()
    redis = Redis.from_url(ctx.redis_url())

    with bc.smtp_sink() as sink:
        env = bc.app_env(ctx, url, MAIL_SERVER="127.0.0.1", MAIL_PORT=str(sink.port))
        with bc.migrated_app(env) as app:
            from app.extensions import db
            from app.orders.models import Order
            from tenants.context import tenant_context

            began = time.monotonic()
            print(f"==> seeding a shop with {n + m:,} codes and as many orders", flush=True)
            seeded = seed(app, n + m)
            tenant_id, product_id = seeded["tenant_id"], seeded["product_id"]
            backlog = create_orders(app, tenant_id, product_id, n)
            paced = create_orders(app, tenant_id, product_id, m, first=n)
            print(f"==> confirming {n:,} payments with no worker running", flush=True)
            in_threads(app, tenant_id, backlog, confirm)
            fulfilment = Queue("fulfilment", connection=redis)
            assert fulfilment.count == n, fulfilment.count
            fulfil_ids = [f"fulfil-{order_id}" for order_id in backlog]
            ping_ids = [f"ping-{i}" for i in range(n)]
            with redis.pipeline() as pipe:
                fulfilment.enqueue_many(
                    [
                        Queue.prepare_data(
                            "app.core.queues.ping", (str(i),), job_id=job_id, result_ttl=3600
                        )
                        for i, job_id in enumerate(ping_ids)
                    ],
                    pipeline=pipe,
                )
                pipe.execute()
            seed_seconds = time.monotonic() - began

            print(f"==> one worker drains {n:,} fulfil jobs, then {n:,} empty jobs", flush=True)
            with bc.rq_worker(
                env, ctx.work, name="fulfilment-worker", queues="fulfilment"
            ) as worker:
                limit = 120 + n / 5
                # The pings wait behind every fulfil job: the first one has
                # started only when the last fulfil job has finished.
                fulfil = drain_rate(
                    wait_finished(redis, fulfil_ids, worker, limit, last=ping_ids[0])
                )
                empty = drain_rate(wait_finished(redis, ping_ids, worker, limit))
                print(
                    f"    fulfil {fulfil['jobs_per_second']:,.1f} jobs/s,"
                    f" empty {empty['jobs_per_second']:,.1f} jobs/s",
                    flush=True,
                )

                pace = min(MAX_PACE, fulfil["jobs_per_second"] / 4)
                print(f"==> {m:,} payments at {pace:.1f}/s to the idle worker", flush=True)
                late = 0
                with app.app_context(), tenant_context(tenant_id):
                    start = time.monotonic()
                    for i, order_id in enumerate(paced):
                        wait = start + i / pace - time.monotonic()
                        if wait > 0:
                            time.sleep(wait)
                        elif wait < -0.010:
                            late += 1
                        confirm(order_id)
                    confirm_seconds = time.monotonic() - start
                    db.session.remove()
                paced_ids = [f"fulfil-{order_id}" for order_id in paced]
                paced_jobs = wait_finished(redis, paced_ids, worker, 120 + m / 5)
                rq_peak = bc.peak_rss_mb(worker.pid)
                worker.check_alive()

            print(f"==> a mail worker sends the {n + m:,} pending delivery mails", flush=True)
            pending = redis.llen("kameng:mail:pending")
            assert pending == n + m, pending
            with bc.rq_worker(env, ctx.work, name="mail-worker", queues="mail") as mailer:
                mail = mail_rate(sink, n + m, mailer, 120 + (n + m) / 5)
                mail_peak = bc.peak_rss_mb(mailer.pid)
            mails = sink.messages
            print(f"    mail {mail['mails_per_second']:,.1f} mails/s", flush=True)

            with app.app_context(), tenant_context(tenant_id):
                stamps = db.session.execute(
                    db.select(Order.id, Order.paid_at, Order.delivered_at).where(
                        Order.id.in_(paced)
                    )
                ).all()
                db.session.remove()
            paid_at = {order_id: _utc(paid) for order_id, paid, _ in stamps}
            stamped = [(d - p).total_seconds() for _, p, d in stamps if p and d]
            latencies, queue_waits, runs = [], [], []
            for order_id, job in zip(paced, paced_jobs, strict=True):
                if job.ended_at:
                    latencies.append((job.ended_at - paid_at[order_id]).total_seconds())
                    runs.append((job.ended_at - job.started_at).total_seconds())
                    queue_waits.append((job.started_at - job.enqueued_at).total_seconds())
            checks = check_database(app, tenant_id, product_id)

    failed = fulfil["failed"] + empty["failed"] + (n + m - mail["mails"])
    failed += sum(1 for job in paced_jobs if job.get_status(refresh=False) == "failed")
    ok = (
        failed == 0
        and len(latencies) == m
        and checks["orders_delivered"] == n + m
        and checks["oversold"] == 0
        and checks["orders_with_other_than_one_card"] == 0
        and checks["ledger_sum"] == 0
        and checks["cached_balances_match"]
    )
    f_rate, e_rate = (x["jobs_per_second"] for x in (fulfil, empty))
    m_rate = mail["mails_per_second"]
    lat = ms(latencies)
    rows = [
        Row(
            "fulfilment",
            "fulfilment jobs/s per worker",
            bc.fmt_rate(f_rate, "jobs/s"),
            f"empty RQ job {bc.fmt_rate(e_rate, 'jobs/s')}",
            f_rate / e_rate,
            "—",
        ),
        Row(
            "fulfilment",
            "delivery mails/s per worker",
            bc.fmt_rate(m_rate, "mails/s"),
            f"empty RQ job {bc.fmt_rate(e_rate, 'jobs/s')}",
            m_rate / e_rate,
            "—",
        ),
        Row(
            "fulfilment",
            "paid→delivered p50/p95/p99",
            f"p50 {lat['p50']:,.0f} ms, p95 {lat['p95']:,.0f} ms, p99 {lat['p99']:,.0f} ms",
            f"at {pace:.1f} orders/s, 1 idle worker",
            None,
            "—",
        ),
    ]
    if not ok:
        rows.append(
            Row(
                "fulfilment",
                "correctness",
                f"failed jobs {failed}, delivered {checks['orders_delivered']}/{n + m}",
                "",
                None,
                "all delivered",
                False,
            )
        )
    return Outcome(
        rows,
        {
            "orders_backlog": n,
            "orders_paced": m,
            "mails_timed": mail["counted"],
            "seed_seconds": round(seed_seconds, 1),
            "warm_up_jobs_skipped": WARM_UP,
            "fulfil": fulfil,
            "empty_job": empty,
            "mail": mail,
            "ratio_fulfil_to_empty": round(f_rate / e_rate, 4),
            "pace_orders_per_second": round(pace, 2),
            "pace_confirm_seconds": round(confirm_seconds, 2),
            "pace_late_by_over_10ms": late,
            "paid_to_delivered_ms": lat,
            "queue_wait_ms": ms(queue_waits),
            "job_run_ms": ms(runs),
            "db_delivered_at_minus_paid_at_ms": ms(stamped),
            "mails_received": mails,
            "database": checks,
            "rq_worker_peak_mb": round(rq_peak, 1),
            "mail_worker_peak_mb": round(mail_peak, 1),
        },
        ok=ok,
    )
