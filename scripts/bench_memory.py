"""``scripts/bench memory``: the peak resident memory (VmHWM from
``/proc/<pid>/status``) of one gunicorn web worker and of one RQ worker.

Where the figures come from:

- **from this run**: scenarios that ran before this one and recorded
  ``web_worker_peak_mb`` or ``rq_worker_peak_mb`` in their data
  (``storefront`` and ``tenants`` read every web worker's peak after their
  load, before stopping gunicorn); the largest value is reported, with the
  scenarios it came from;
- **otherwise its own load**, for whichever of the two is missing: a fresh,
  migrated database ``bench_memory`` with one shop of 200 card products on
  sale (``bench_storefront.seed_shop``, 5 of them with 25 codes each, then
  ``VACUUM ANALYZE``), one gunicorn with the production settings
  (``scripts/gunicorn.conf.py``, ``bench_common.app_env``) and one RQ worker
  (``flask --app wsgi worker``, all queues, jobs in-process); then wrk
  (2 threads, 32 connections, 5 s with ``--quick``, 10 s otherwise, or
  ``--seconds``) over the shop's product pages and product list pages
  (``GET /p/<id>`` and ``GET /api/v1/products?page=N``, picked at random per
  request by ``scripts/wrk/spread.lua``), while 300 ``app.core.queues.ping``
  jobs go through the ``default`` queue and are waited for. The peaks are
  read after both loads, before the processes stop (the resident set at
  that moment, VmRSS, goes to the JSON beside them).

The web worker is held to ``< 120 MB``; the RQ worker has no target. There is
no ceiling to compare with (ratio and ceiling are empty). Peaks are per
process: a gunicorn deployment uses one such worker per core, plus the
small arbiter.
"""

from __future__ import annotations

import time

import bench_common as bc
from bench_storefront import SPREAD, get, host_of, seed_shop, vacuum_analyze, write_lines

DATABASE = "bench_memory"
SLUG = "memory"
PRODUCTS = 200
JOBS = 300
CONNECTIONS = 32
WEB_TARGET_MB = 120.0


def earlier_peaks(ctx: bc.Context, key: str) -> tuple[float, list[str]]:
    """The largest ``key`` recorded by scenarios before this one, and which."""
    best, sources = 0.0, []
    for name, outcome in (ctx.options.get("outcomes") or {}).items():
        value = (getattr(outcome, "data", None) or {}).get(key)
        if isinstance(value, (int, float)) and value > 0:
            sources.append(name)
            best = max(best, float(value))
    return best, sources


def own_load(ctx: bc.Context, *, web: bool, rq: bool) -> dict:
    """Start what is needed, load it, and read the peaks (MiB)."""
    import redis
    from rq import Queue

    seconds = float(ctx.options.get("seconds") or (5 if ctx.quick else 10))
    url = ctx.new_database(DATABASE)
    env = bc.app_env(ctx, url)
    ctx.flush_redis()
    with bc.migrated_app(env) as app:
        seeded = seed_shop(app, SLUG, products=PRODUCTS, stocked=5)
    vacuum_analyze(ctx, DATABASE)
    host = host_of(SLUG)
    result: dict = {"seconds": seconds, "jobs": JOBS if rq else 0}

    with bc.rq_worker(env, ctx.work, name="memory-worker") as worker:
        queue = Queue("default", connection=redis.Redis.from_url(ctx.redis_url()))
        jobs = [queue.enqueue("app.core.queues.ping", f"m{i}") for i in range(JOBS)] if rq else []
        if web:
            lines = [f"/p/{i}" for i in seeded["product_ids"]]
            lines += [f"/api/v1/products?page={n}" for n in range(1, PRODUCTS // 20 + 1)]
            spread = write_lines(ctx.work / "memory-requests.txt", lines)
            with bc.gunicorn(env, ctx.work, name="memory-web") as (server, base):
                status, _body = get(base, host, f"/p/{seeded['product_ids'][0]}")
                if status != 200:
                    raise RuntimeError(f"product page answered {status}")
                load = bc.wrk(
                    base + "/",
                    host=host,
                    connections=CONNECTIONS,
                    seconds=seconds,
                    script=SPREAD,
                    script_args=[str(spread)],
                )
                server.check_alive()
                peaks = bc.web_worker_peaks(server)
                now = [bc.rss_mb(pid) for pid in bc.children(server.pid)]
            load.pop("raw")
            result["wrk"] = load
            result["web_worker_peaks_mb"] = [round(p, 1) for p in peaks]
            result["web_worker_peak_mb"] = round(max(peaks, default=0.0), 1)
            result["web_worker_rss_after_mb"] = [round(r, 1) for r in now]
        if rq:
            deadline = time.monotonic() + 120
            pending = list(jobs)
            while pending and time.monotonic() < deadline:
                worker.check_alive()
                for job in pending:
                    job.refresh()
                pending = [j for j in pending if not (j.is_finished or j.is_failed)]
                if pending:
                    time.sleep(0.2)
            failed = sum(1 for j in jobs if j.is_failed)
            if pending or failed:
                raise RuntimeError(f"ping jobs: {len(pending)} not done, {failed} failed")
            if any(j.return_value() != f"pong:m{i}" for i, j in enumerate(jobs)):
                raise RuntimeError("a ping job returned the wrong value")
            worker.check_alive()
            pids = [worker.pid, *bc.children(worker.pid)]
            result["rq_worker_peak_mb"] = round(max(bc.peak_rss_mb(p) for p in pids), 1)
            result["rq_worker_rss_after_mb"] = round(max(bc.rss_mb(p) for p in pids), 1)
    return result


def run(ctx: bc.Context) -> bc.Outcome:
    web_mb, web_from = earlier_peaks(ctx, "web_worker_peak_mb")
    rq_mb, rq_from = earlier_peaks(ctx, "rq_worker_peak_mb")
    data: dict = {}
    need_web, need_rq = not web_from, not rq_from
    if need_web or need_rq:
        own = own_load(ctx, web=need_web, rq=need_rq)
        data["own_load"] = own
        if need_web:
            web_mb, web_from = own["web_worker_peak_mb"], ["own load"]
        if need_rq:
            rq_mb, rq_from = own["rq_worker_peak_mb"], ["own load"]
        if need_web and own["wrk"]["errors"]:
            data["problems"] = [f"wrk: {own['wrk']['errors']:,} errors"]
    data.update(
        {
            "web_worker_peak_mb": round(web_mb, 1),
            "web_worker_peak_from": web_from,
            "rq_worker_peak_mb": round(rq_mb, 1),
            "rq_worker_peak_from": rq_from,
        }
    )
    print(
        f"  web worker peak {web_mb:.1f} MB ({', '.join(web_from)}); "
        f"RQ worker peak {rq_mb:.1f} MB ({', '.join(rq_from)})",
        flush=True,
    )
    rows = [
        bc.Row(
            "memory",
            "web worker peak RSS",
            f"{web_mb:,.1f} MB ({', '.join(web_from)})",
            "—",
            None,
            f"< {WEB_TARGET_MB:.0f} MB",
            web_mb < WEB_TARGET_MB,
        ),
        bc.Row(
            "memory",
            "RQ worker peak RSS",
            f"{rq_mb:,.1f} MB ({', '.join(rq_from)})",
            "—",
            None,
            "—",
            None,
        ),
    ]
    return bc.Outcome(rows=rows, data=data, ok=not data.get("problems"))
