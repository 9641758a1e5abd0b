"""``scripts/bench tenants``: a shop's home page on a platform with one shop
against the same page on a platform with 10,000 shops (2,000 with
``--quick``: see below).

The figure is the many-shop throughput; its ceiling is the one-shop
throughput measured in the same run with the same settings and load. The
target (``>= 95 %``) says that the number of shops must not cost a request
anything noticeable: the Host header is resolved through a per-process
cache, and every query is led by ``tenant_id``.

Set-up (not timed; the seconds go to the JSON as ``seed_seconds``):

1. two fresh, migrated databases, ``bench_tenants_1`` and
   ``bench_tenants_10000`` (``_2000``); in each, shop ``shop00000``
   (``app.accounts.shops.open_shop``) with six categories and 20 card
   products on sale (``bench_storefront.seed_shop``), without card stock (a
   product without stock costs the page the same queries, and importing
   codes for 200,000 products would be set-up, not the question);
2. in the second database, 9,999 (1,999) more shops ``shop00001`` ..
   ``shop09999``, each a copy of the first: its tenant row, an owner of its
   own with an owner membership (what ``open_shop`` leaves), and copies
   of its six categories and 20 products, written with ``COPY`` in one
   transaction;
3. ``VACUUM ANALYZE`` of both (``scripts/bench`` runs PostgreSQL without
   autovacuum);
4. one gunicorn per database, started fresh, with the production settings
   (``scripts/gunicorn.conf.py``, ``bench_common.app_env``); both stay up,
   and only one is under load at a time;
5. warm-up: every host is resolved once *in each web worker* (an
   ``OPTIONS /`` per host on keep-alive connections that ``/proc`` shows to
   belong to that worker: ``OPTIONS`` runs the host resolution and no
   view), then 2 s (quick) or 5 s of the timed load on each platform.

So the many-shop platform is measured in steady state, where each worker
has met every shop within the host cache's lifetime (300 s): the cost of a
cache miss (one indexed query on ``tenants``, well under a millisecond) is
not in the figure, and neither is a fresh process's first pass.

``--quick`` uses 2,000 shops and says so in the row: seeding 10,000 takes
seconds, but the warm-up is two requests per shop (one per worker), 20,000
in all, which alone takes 10 to 45 s depending on what else the machine
runs; with 2,000 the quick scenario stays well under a minute.

Timed: wrk, 2 threads, 32 connections, ``GET /`` (the home page: products by
category with price and stock), each request with a Host header picked at
random from the platform's shop hosts (``scripts/wrk/spread.lua``: a list of
one, or of all of them). The platforms take turns, A B B A A B B A (A: one
shop, B: many), four rounds each of ``--seconds`` / 4 (5 s quick, 15 s
otherwise; at least 2 s a round), so a change in the machine's load during
the run (other work on a shared machine) weighs on both alike. Each figure
is the median of its platform's rounds (the mean is in the JSON), with the
worst round's p99.

The anonymous page cache (``app/storefront/pagecache.py``) is off on both
platforms (``PAGE_CACHE_SECONDS=0``): the question is what the number of
shops costs a request that does its work (host resolution, the shop's
queries); with the cache on, one shop's page would be a cache hit nearly
every time while 10,000 shops' pages mostly would not, and the ratio would
measure the cache, not tenancy.

Any non-2xx/3xx answer or socket error in wrk fails the scenario, and so
does a warm-up answer other than 200.
"""

from __future__ import annotations

import http.client
import os
import secrets
import statistics
import threading
import time
from contextlib import ExitStack
from pathlib import Path

import bench_common as bc
from bench_storefront import SPREAD, get, host_of, seconds_of, seed_shop, vacuum_analyze

DATABASE = "bench_tenants"
SHOPS = 10_000
QUICK_SHOPS = 2_000
PRODUCTS_PER_SHOP = 20
CONNECTIONS = 32
TARGET = 0.95
PASSWORD = "bench-owner-password"


def slug_of(n: int) -> str:
    return f"shop{n:05d}"


# --- seeding ------------------------------------------------------------------


def add_shops(
    ctx: bc.Context, database: str, template_id, first: int, count: int, password_hash: str
) -> dict:
    """Copy shop ``template_id`` (its tenant row, categories and products)
    into shops ``first`` .. ``first + count - 1``, each with an owner of its
    own, with ``COPY`` in one transaction. Returns row counts."""
    import psycopg

    from app.core.ids import uuid7

    with psycopg.connect(ctx.dsn(database)) as conn, conn.cursor() as cur:
        status, theme, locale, currency = cur.execute(
            "SELECT status, theme, locale, currency FROM tenants WHERE id = %s", (template_id,)
        ).fetchone()
        categories = cur.execute(
            "SELECT id, parent_id, name, sort FROM categories WHERE tenant_id = %s"
            " ORDER BY parent_id NULLS FIRST, sort, id",
            (template_id,),
        ).fetchall()
        product_columns = (
            "category_id, kind, name, description, price, cost, min_quantity, max_quantity,"
            " status, input_fields, delivery_note, low_stock_threshold, stock_available, sort"
        )
        products = cur.execute(
            f"SELECT {product_columns} FROM products WHERE tenant_id = %s ORDER BY id",
            (template_id,),
        ).fetchall()
        products = [(p[0], *p[1:9], _json_text(p[9]), *p[10:]) for p in products]

        shops = [(uuid7(), n) for n in range(first, first + count)]
        owners = [uuid7() for _ in shops]
        with cur.copy(
            "COPY tenants (id, slug, name, status, theme, locale, currency) FROM STDIN"
        ) as copy:
            for tenant_id, n in shops:
                name = f"Bench shop {slug_of(n)}"
                copy.write_row((tenant_id, slug_of(n), name, status, theme, locale, currency))
        with cur.copy(
            "COPY platform_users (id, email, password_hash, is_platform_admin, is_active)"
            " FROM STDIN"
        ) as copy:
            for owner_id, (_tenant_id, n) in zip(owners, shops, strict=True):
                copy.write_row(
                    (owner_id, f"owner@{slug_of(n)}.bench.example.com", password_hash, False, True)
                )
        with cur.copy("COPY memberships (id, tenant_id, user_id, role) FROM STDIN") as copy:
            for owner_id, (tenant_id, _n) in zip(owners, shops, strict=True):
                copy.write_row((uuid7(), tenant_id, owner_id, "owner"))
        product_rows = 0
        with cur.copy(
            "COPY categories (id, tenant_id, parent_id, name, sort) FROM STDIN"
        ) as cat_copy:
            category_maps = []
            for tenant_id, _n in shops:
                mapping: dict = {}
                for old_id, parent_id, name, sort in categories:
                    mapping[old_id] = uuid7()
                    cat_copy.write_row(
                        (mapping[old_id], tenant_id, mapping.get(parent_id), name, sort)
                    )
                category_maps.append(mapping)
        with cur.copy(f"COPY products (id, tenant_id, {product_columns}) FROM STDIN") as copy:
            for (tenant_id, _n), mapping in zip(shops, category_maps, strict=True):
                for p in products:
                    copy.write_row((uuid7(), tenant_id, mapping.get(p[0]), *p[1:]))
                    product_rows += 1
        conn.commit()
    return {
        "tenants": len(shops),
        "platform_users": len(owners),
        "memberships": len(shops),
        "categories": len(shops) * len(categories),
        "products": product_rows,
    }


def _json_text(value) -> str:
    import json

    return value if isinstance(value, str) else json.dumps(value)


# --- warming each worker's host cache -------------------------------------------


def _socket_owner(pids: list[int], server_port: int, client_port: int) -> int | None:
    """The process among ``pids`` that holds the server side of the loopback
    TCP connection from ``client_port``, found through ``/proc``."""
    inode = None
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            local, remote = parts[1], parts[2]
            if (
                int(local.rsplit(":", 1)[1], 16) == server_port
                and int(remote.rsplit(":", 1)[1], 16) == client_port
            ):
                inode = parts[9]
                break
        if inode:
            break
    if not inode or inode == "0":
        return None
    target = f"socket:[{inode}]"
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                    return pid
            except OSError:
                continue
    return None


def warm_host_caches(server: bc.Server, port: int, hosts: list[str], per_worker: int = 4) -> dict:
    """Resolve every host once in every web worker: open keep-alive
    connections until each worker holds ``per_worker`` of them, then send
    ``OPTIONS /`` for each host on each worker's connections (host
    resolution, no view). Returns the seconds taken and the requests sent."""
    began = time.monotonic()
    workers = bc.children(server.pid)
    if not workers:
        raise RuntimeError("gunicorn has no workers")
    owned: dict[int, list[http.client.HTTPConnection]] = {pid: [] for pid in workers}
    spare: list[http.client.HTTPConnection] = []
    for _ in range(per_worker * len(workers) * 16):
        if all(len(conns) >= per_worker for conns in owned.values()):
            break
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("GET", "/healthz")
        conn.getresponse().read()
        owner = _socket_owner(workers, port, conn.sock.getsockname()[1])
        if owner in owned and len(owned[owner]) < per_worker:
            owned[owner].append(conn)
        else:
            spare.append(conn)
    for conn in spare:
        conn.close()
    missing = [pid for pid, conns in owned.items() if not conns]
    if missing:
        raise RuntimeError(f"no connection reached web worker(s) {missing}")

    failures: list[str] = []
    sent = [0]
    lock = threading.Lock()

    def drive(conn: http.client.HTTPConnection, share: list[str]) -> None:
        done = 0
        try:
            for host in share:
                conn.request("OPTIONS", "/", headers={"Host": host})
                answer = conn.getresponse()
                answer.read()
                if answer.status != 200:
                    with lock:
                        failures.append(f"OPTIONS / on {host}: {answer.status}")
                    return
                done += 1
        except OSError as exc:
            with lock:
                failures.append(f"{type(exc).__name__}: {exc}")
        finally:
            conn.close()
            with lock:
                sent[0] += done

    threads = []
    for conns in owned.values():
        for i, conn in enumerate(conns):
            share = hosts[i :: len(conns)]
            threads.append(threading.Thread(target=drive, args=(conn, share)))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise RuntimeError(f"host cache warm-up failed: {failures[0]}")
    return {
        "seconds": round(time.monotonic() - began, 1),
        "requests": sent[0],
        "workers": len(workers),
    }


# --- the load -------------------------------------------------------------------


def describe(result: dict) -> str:
    text = f"{bc.fmt_rate(result['rps'], 'req/s')}, p99 {result['p99_ms']:,.0f} ms"
    if result["errors"]:
        text += f", {result['errors']:,} ERRORS"
    return text


def combine(runs: list[dict]) -> dict:
    """One figure from a platform's timed rounds: the median round's
    requests/s (a burst of other work on the machine moves one round, not
    the median), the worst round's p50 and p99, requests and errors summed."""
    return {
        "rps": statistics.median(r["rps"] for r in runs),
        "mean_rps": statistics.fmean(r["rps"] for r in runs),
        "requests": sum(r["requests"] for r in runs),
        "errors": sum(r["errors"] for r in runs),
        "p50_ms": max(r["p50_ms"] for r in runs),
        "p99_ms": max(r["p99_ms"] for r in runs),
        "rounds": [
            {k: r[k] for k in ("rps", "requests", "errors", "p50_ms", "p99_ms")} for r in runs
        ],
    }


def seed(ctx: bc.Context, database: str, shops: int) -> dict:
    """A migrated database with shop 0 (``seed_shop``) and, when ``shops``
    is more than one, its copies 1 .. ``shops - 1`` (``add_shops``)."""
    url = ctx.new_database(database)
    env = bc.app_env(ctx, url, PAGE_CACHE_SECONDS="0")
    began = time.monotonic()
    with bc.migrated_app(env) as app:
        first = seed_shop(app, slug_of(0), products=PRODUCTS_PER_SHOP, stocked=0)
        from app.core.security import hash_password

        password_hash = hash_password(PASSWORD + secrets.token_hex(4))
    counts = {"tenants": 1, "products": PRODUCTS_PER_SHOP}
    copied = time.monotonic()
    if shops > 1:
        added = add_shops(ctx, database, first["tenant_id"], 1, shops - 1, password_hash)
        counts = {k: v + counts.get(k, 0) for k, v in added.items()}
    vacuum_analyze(ctx, database)
    return {
        "env": env,
        "hosts": [host_of(slug_of(n)) for n in range(shops)],
        "rows": counts,
        "seconds": round(time.monotonic() - began, 1),
        "copy_seconds": round(time.monotonic() - copied, 1),
    }


def run(ctx: bc.Context) -> bc.Outcome:
    timed, warm = seconds_of(ctx)
    shops = QUICK_SHOPS if ctx.quick else SHOPS
    order = "ABBA" * 2
    round_seconds = max(2, round(timed / order.count("A")))
    ctx.flush_redis()

    platforms = {
        "A": {"label": "1 shop", "database": f"{DATABASE}_1", "shops": 1},
        "B": {"label": f"{shops:,} shops", "database": f"{DATABASE}_{shops}", "shops": shops},
    }
    for key, platform in platforms.items():
        platform.update(seed(ctx, platform["database"], platform["shops"]))
        print(
            f"  {platform['label']}: seeded in {platform['seconds']} s"
            + (f" (copies of the first shop: {platform['copy_seconds']} s)" if key == "B" else ""),
            flush=True,
        )

    with ExitStack() as servers:
        for key, platform in platforms.items():
            server, base = servers.enter_context(
                bc.gunicorn(platform["env"], ctx.work, name=f"tenants-{key}")
            )
            platform.update(server=server, base=base)
            lines = ctx.work / f"tenants-{key}-hosts.txt"
            lines.write_text("".join(f"{host}\t/\n" for host in platform["hosts"]))
            platform["lines"] = lines
            hosts = platform["hosts"]
            for host in (hosts[0], hosts[-1]):
                status, body = get(base, host, "/")
                if status != 200 or host.split(".", 1)[0].encode() not in body:
                    raise RuntimeError(f"{host}: home page answered {status} without its name")
        for platform in platforms.values():
            port = int(platform["base"].rsplit(":", 1)[1])
            platform["host_warm_up"] = warm_host_caches(platform["server"], port, platform["hosts"])
            print(
                f"  {platform['label']}: every worker resolved every host "
                f"({platform['host_warm_up']['requests']:,} requests in "
                f"{platform['host_warm_up']['seconds']} s)",
                flush=True,
            )

        def load(platform: dict, seconds: float) -> dict:
            return bc.wrk(
                platform["base"] + "/",
                connections=CONNECTIONS,
                seconds=seconds,
                script=SPREAD,
                script_args=[str(platform["lines"])],
            )

        for platform in platforms.values():
            load(platform, warm)
        runs: dict[str, list[dict]] = {"A": [], "B": []}
        for key in order:
            result = load(platforms[key], round_seconds)
            runs[key].append(result)
            print(f"  {platforms[key]['label']}: {describe(result)}", flush=True)
        for platform in platforms.values():
            platform["server"].check_alive()
            platform["peaks"] = bc.web_worker_peaks(platform["server"])

    one, many = combine(runs["A"]), combine(runs["B"])
    problems = [
        f"{platforms[key]['label']}: {r['errors']:,} errors in {r['requests']:,} requests"
        for key, r in (("A", one), ("B", many))
        if r["errors"] or r["requests"] == 0
    ]
    for problem in problems:
        print(f"  PROBLEM: {problem}", flush=True)
    ratio = many["rps"] / one["rps"] if one["rps"] else None
    peaks = platforms["A"]["peaks"] + platforms["B"]["peaks"]
    data = {
        "shops": shops,
        "products_per_shop": PRODUCTS_PER_SHOP,
        "order": order,
        "round_seconds": round_seconds,
        "warm_up_seconds": warm,
        "connections": CONNECTIONS,
        "seed_seconds": platforms["B"]["seconds"],
        "copy_seconds": platforms["B"]["copy_seconds"],
        "rows": platforms["B"]["rows"],
        "one_shop": {**one, "host_warm_up": platforms["A"]["host_warm_up"]},
        "many_shops": {**many, "host_warm_up": platforms["B"]["host_warm_up"]},
        "web_worker_peaks_mb": [round(p, 1) for p in peaks],
        "web_worker_peak_mb": round(max(peaks, default=0.0), 1),
        "problems": problems,
    }
    row = bc.Row(
        "tenants",
        f"home page, {shops:,} shops, random host"
        + (f" (quick; full run {SHOPS:,})" if shops != SHOPS else ""),
        describe(many),
        f"1 shop {describe(one)}",
        ratio,
        f">= {TARGET:.0%}".replace("%", " %"),
        None if ratio is None else ratio >= TARGET,
    )
    return bc.Outcome(rows=[row], data=data, ok=not problems)
