"""``scripts/bench checkout``: wallet purchases end to end over HTTP (one
request creates, pays and delivers, through gunicorn; the RQ worker sends
the delivery mails) against a raw PostgreSQL transaction of the same shape
written by hand.

Set-up (not timed):

1. a fresh, migrated database ``bench_checkout`` (``bench_common.app_env``:
   ``ENV=production``, PostgreSQL, Redis, ``PAYMENT_PROVIDERS=wallet``), a
   shop ``bench`` with one card product of N codes (``imports.import_now``;
   N = 500 with ``--quick``, else 5,000, ``--codes`` overrides) and 32 buyer
   accounts, each wallet funded for N cards (one ledger recharge posting of
   price × N), so no buyer ever runs out of money, whoever buys the most;
2. a local SMTP sink (``bench_common.smtp_sink``: standard library, in this
   process) so each delivery mail the worker sends is really sent, to
   ``MAIL_SERVER=127.0.0.1 MAIL_PORT=<its port>``;
3. gunicorn with the production settings (``bench_common.gunicorn``:
   ``scripts/gunicorn.conf.py``) and one RQ worker (``flask --app wsgi
   worker``, every queue), both on that database and Redis;
4. each buyer signs in through the shop's login form with its CSRF token
   (``requests``); its session cookie and the CSRF token of its session go
   to one line of a file for wrk.

Measured: wrk ``-t 32 -c 32`` (one connection per wrk thread, so each
thread is one buyer) runs ``scripts/wrk/checkout.lua``. Each buyer loops:
``POST /api/v1/orders`` with ``"pay": "wallet"`` (quantity 1, session
cookie, ``X-CSRFToken``, a fresh ``Idempotency-Key``), whose answer is the
delivered order with its code (``app.orders.wallet_purchase``); only if an
answer were not delivered would it ask ``GET /api/v1/orders/<number>``
(again after 20 ms, ×1.5 each time, at most 250 ms). A purchase answered
409 ``out-of-stock`` ends that buyer (``wrk.thread:stop()``);
when all 32 have ended this process interrupts wrk, whose ``-d`` is only an
upper bound.

- **create→delivered** per order: CLOCK_MONOTONIC (LuaJIT ffi) from
  building the create request to reading the answer that says
  ``delivered``; p50 and p99 over all delivered orders. Target: p99 < 100 ms.
- **orders/s** = delivered orders ÷ the window from the first create request
  of any buyer to the last delivery of any buyer (the same monotonic clock
  across wrk threads). The tail in which buyers only meet the empty shelf,
  and wrk's own start and stop, are outside the window.
- **ceiling**: 32 threads of psycopg running, per purchase, the same
  transaction shape on minimal tables (reserve 1 card ``FOR UPDATE SKIP
  LOCKED``, stock counter −1, insert the order, lock and debit the wallet
  row, insert a ledger transaction and its two entries, commit): tx/s until
  N cards are sold. Target: checkout ≥ 50 % of it.

Checked afterwards (a failure makes the scenario fail): every code sold
exactly once (oversold 0, one sold card per delivered order), N orders
delivered, no errors, the ledger sums to 0 and every cached wallet balance
matches its entries. Peak RSS of the RQ worker and of the web workers go to
the JSON (``rq_worker_peak_mb``; ``web_worker_peak_mb``, the largest, and
``web_worker_peaks_mb``, each), where ``scripts/bench memory`` finds them.
"""

from __future__ import annotations

import re
import secrets
import signal
import statistics
import subprocess
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import bench_common as bc
from bench_common import Context, Outcome, Row

SCRIPT = Path(__file__).resolve().parent / "wrk" / "checkout.lua"
BUYERS = 32
PRICE = 100
PASSWORD = "bench-password-1"
SLUG = "bench"
HOST = f"{SLUG}.bench.localhost"
#: Sent at sign-in and by wrk: the app's "strong" session protection drops a
#: session whose User-Agent changed.
USER_AGENT = "kameng-bench"
RATIO_TARGET = 0.50
P99_TARGET_MS = 100.0


# --- seeding ------------------------------------------------------------------


def seed(app, n: int, buyers: int, *, agents: bool = False) -> dict:
    """A shop with one card product of ``n`` codes and ``buyers`` accounts,
    each wallet funded for ``n`` cards. ``agents``: the buyers are agents in
    chains of three (gold ← silver ← bronze, tier prices 70 / 80 / 90 % of
    retail as price rules), so every purchase reads the rules and most
    deliveries accrue one or two levels of commission."""
    from sqlalchemy import text

    from app.accounts import services
    from app.extensions import db
    from app.ledger import services as ledger
    from tenants.context import tenant_context

    with app.app_context():
        server_version = db.session.execute(text("SHOW server_version")).scalar()
        tenant = bc.open_shop(SLUG)
        tenant_id, currency = tenant.id, tenant.currency
        with tenant_context(tenant_id):
            product_id = bc.add_card_product(n, price=PRICE)
            emails = []
            for i in range(buyers):
                email = f"buyer{i:03d}@bench.example.com"
                account = services.create_shop_account(email, PASSWORD)
                ledger.post(
                    f"bench-recharge:{account.id}",
                    "recharge",
                    [
                        ledger.Line(ledger.clearing_code("sandbox"), -PRICE * n),
                        ledger.Line(ledger.wallet_code(account.id), PRICE * n),
                    ],
                    currency,
                )
                emails.append(email)
            if agents:
                _make_agents(product_id, emails)
            db.session.commit()
        db.session.remove()
    return {
        "tenant_id": tenant_id,
        "product_id": product_id,
        "emails": emails,
        "postgresql": server_version,
    }


def _make_agents(product_id, emails: list[str]) -> None:
    from sqlalchemy import select, update

    from app.accounts.models import ShopAccount
    from app.extensions import db
    from app.pricing.models import AgentTier, PriceRule

    tiers = []
    for rank, (name, percent) in enumerate((("Gold", 70), ("Silver", 80), ("Bronze", 90))):
        tier = AgentTier(name=name, rank=3 - rank)
        db.session.add(tier)
        db.session.flush()
        db.session.add(
            PriceRule(product_id=product_id, tier_id=tier.id, price=PRICE * percent // 100)
        )
        tiers.append(tier.id)
    ids = dict(db.session.execute(select(ShopAccount.email, ShopAccount.id)).all())
    for i, email in enumerate(emails):
        level = i % 3
        db.session.execute(
            update(ShopAccount)
            .where(ShopAccount.id == ids[email])
            .values(
                role="agent",
                tier_id=tiers[level],
                upline_id=ids[emails[i - 1]] if level else None,
            )
        )


# --- buyers -------------------------------------------------------------------

_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def sign_in(base: str, email: str) -> tuple[str, str]:
    """Sign ``email`` in through the shop's login form; its ``Cookie`` header
    and the CSRF token of its session."""
    import requests

    http = requests.Session()
    http.headers["Host"] = HOST
    http.headers["User-Agent"] = USER_AGENT
    page = http.get(f"{base}/account/login", timeout=30).text
    answer = http.post(
        f"{base}/account/login",
        data={"csrf_token": _CSRF.search(page).group(1), "email": email, "password": PASSWORD},
        allow_redirects=False,
        timeout=30,
    )
    assert answer.status_code in (302, 303), (answer.status_code, answer.text[:300])
    page = http.get(f"{base}/account/", timeout=30).text
    csrf = _CSRF.search(page).group(1)
    cookie = "; ".join(f"{c.name}={c.value}" for c in http.cookies)
    assert "kameng_session=" in cookie, cookie
    return cookie, csrf


def run_wrk(base: str, buyers_file: Path, out: Path, product_id, n: int) -> dict:
    """wrk with one buyer per thread until every buyer has met the empty
    shelf (or given up after errors); returns wrk's report and how long it
    ran. ``-d`` is an upper bound: this process interrupts wrk (SIGINT: it
    stops, reports and runs ``done()``) once all thread files are there."""
    limit = 60 + n // 4
    args = [
        bc.wrk_binary(),
        "--latency",
        "-t",
        str(BUYERS),
        "-c",
        str(BUYERS),
        "-d",
        f"{limit}s",
        "--timeout",
        "30s",
        "-H",
        f"Host: {HOST}",
        "-H",
        f"User-Agent: {USER_AGENT}",
        "-s",
        str(SCRIPT),
        base,
        "--",
        str(buyers_file),
        str(out),
        str(product_id),
    ]
    started = time.monotonic()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    output: dict = {}
    reader = threading.Thread(
        target=lambda: output.update(zip(("stdout", "stderr"), proc.communicate(), strict=True))
    )
    reader.start()
    interrupted = False
    while proc.poll() is None:
        if len(list(out.glob("thread-*.txt"))) >= BUYERS:
            proc.send_signal(signal.SIGINT)
            interrupted = True
            break
        time.sleep(0.1)
    reader.join(timeout=limit + 60)
    if proc.returncode not in (0, None) and not interrupted:
        raise RuntimeError(f"wrk exited with {proc.returncode}: {output.get('stderr', '')[-500:]}")
    report = bc.parse_wrk(output.get("stdout", ""))
    report["stderr"] = output.get("stderr", "")[-2000:]
    report["wall_seconds"] = round(time.monotonic() - started, 2)
    report["duration_limit_s"] = limit
    return report


def read_threads(out: Path) -> dict:
    """The per-thread files of ``checkout.lua``, merged."""
    starts, done_at, latencies, errors, ends = [], [], [], [], []
    counts = {"delivered": 0, "sold_out": 0, "errors": 0}
    files = sorted(out.glob("thread-*.txt"))
    for path in files:
        for line in path.read_text().splitlines():
            kind, _, rest = line.partition(" ")
            if kind == "start":
                if float(rest) > 0:
                    starts.append(float(rest))
            elif kind == "order":
                t, seconds = rest.split()
                done_at.append(float(t))
                latencies.append(float(seconds))
            elif kind == "error":
                errors.append(rest)
            elif kind == "counts":
                delivered, sold_out, errs = (int(x) for x in rest.split())
                counts["delivered"] += delivered
                counts["sold_out"] += sold_out
                counts["errors"] += errs
            elif kind == "end":
                ends.append(rest)
    assert counts["delivered"] == len(latencies), (counts, len(latencies))
    return {
        "threads": len(files),
        "window": (min(starts), max(done_at)) if starts and done_at else None,
        "latencies": latencies,
        "counts": counts,
        "errors": errors,
        "ends": {reason: ends.count(reason) for reason in set(ends)},
    }


def check_database(app, tenant_id, product_id) -> dict:
    from sqlalchemy import func, select

    from app.catalog.models import Card, Product
    from app.extensions import db
    from app.ledger import services as ledger
    from app.orders.models import Order
    from tenants.context import tenant_context

    with app.app_context(), tenant_context(tenant_id):
        delivered = db.session.scalar(
            select(func.count()).select_from(Order).where(Order.status == "delivered")
        )
        statuses = dict(
            db.session.execute(select(Order.status, func.count()).group_by(Order.status)).all()
        )
        sold = db.session.scalar(
            select(func.count()).where(Card.product_id == product_id, Card.status == "sold")
        )
        per_order = db.session.execute(
            select(Card.order_id, func.count())
            .where(Card.product_id == product_id, Card.status == "sold")
            .group_by(Card.order_id)
        ).all()
        cards = db.session.scalar(select(func.count()).where(Card.product_id == product_id))
        counter = db.session.scalar(select(Product.stock_available).where(Product.id == product_id))
        balances = ledger.trial_balance()
        result = {
            "orders_delivered": int(delivered),
            "orders_by_status": {k: int(v) for k, v in statuses.items()},
            "cards_sold": int(sold),
            "cards": int(cards),
            "orders_with_other_than_one_card": sum(1 for _, c in per_order if c != 1),
            # More sold than the shelf held, or a delivered order without its card.
            "oversold": max(0, int(sold) - int(cards)) + max(0, int(delivered) - len(per_order)),
            "stock_counter": int(counter),
            "ledger_sum": sum(balances.values()),
            "sales": balances.get(ledger.SALES, 0),
            "cached_balances_match": ledger.cached_balances_match(),
        }
        db.session.remove()
    return result


# --- the raw PostgreSQL baseline ----------------------------------------------

BASELINE_SCHEMA = """
DROP TABLE IF EXISTS raw_entries, raw_transactions, raw_orders, raw_cards, raw_wallets,
    raw_products;
CREATE TABLE raw_products (id uuid PRIMARY KEY, stock_available integer NOT NULL);
CREATE TABLE raw_cards (
    id uuid PRIMARY KEY, product_id uuid NOT NULL REFERENCES raw_products (id),
    status text NOT NULL, order_id uuid, secret bytea NOT NULL, sold_at timestamptz);
CREATE INDEX ON raw_cards (product_id, status, id);
CREATE TABLE raw_wallets (id uuid PRIMARY KEY, balance bigint NOT NULL CHECK (balance >= 0));
CREATE TABLE raw_orders (
    id uuid PRIMARY KEY, number text NOT NULL UNIQUE, product_id uuid NOT NULL,
    buyer_id uuid NOT NULL, total bigint NOT NULL, status text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE raw_transactions (
    id uuid PRIMARY KEY, idempotency_key text NOT NULL UNIQUE, order_id uuid NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE raw_entries (
    id uuid PRIMARY KEY, transaction_id uuid NOT NULL REFERENCES raw_transactions (id),
    account_id uuid NOT NULL, amount bigint NOT NULL);
"""


def baseline(dsn: str, n: int) -> dict:
    """N purchases as hand-written transactions, 32 threads (one wallet each,
    funded for N cards, as the buyers are), until the N cards are sold."""
    import psycopg

    product_id, sales_id = uuid.uuid4(), uuid.uuid4()
    wallets = [uuid.uuid4() for _ in range(BUYERS)]
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(BASELINE_SCHEMA)
        conn.execute("INSERT INTO raw_products VALUES (%s, %s)", (product_id, n))
        with conn.cursor() as cur:
            with cur.copy("COPY raw_cards (id, product_id, status, secret) FROM STDIN") as copy:
                for _ in range(n):
                    copy.write_row((uuid.uuid4(), product_id, "available", secrets.token_bytes(60)))
            with cur.copy("COPY raw_wallets (id, balance) FROM STDIN") as copy:
                for wallet in wallets:
                    copy.write_row((wallet, PRICE * n))
        conn.execute("VACUUM ANALYZE")
        conn.execute("CHECKPOINT")

    lock = threading.Lock()
    done = [0]

    def loop(wallet: uuid.UUID) -> None:
        with psycopg.connect(dsn) as conn:
            while True:
                order_id = uuid.uuid4()
                with conn.transaction():
                    card = conn.execute(
                        "SELECT id FROM raw_cards WHERE product_id = %s AND status = 'available'"
                        " ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED",
                        (product_id,),
                    ).fetchone()
                    if card is None:
                        return
                    conn.execute(
                        "UPDATE raw_cards SET status = 'sold', order_id = %s, sold_at = now()"
                        " WHERE id = %s AND status = 'available'",
                        (order_id, card[0]),
                    )
                    conn.execute(
                        "UPDATE raw_products SET stock_available = stock_available - 1"
                        " WHERE id = %s",
                        (product_id,),
                    )
                    conn.execute(
                        "INSERT INTO raw_orders (id, number, product_id, buyer_id, total, status)"
                        " VALUES (%s, %s, %s, %s, %s, 'paid')",
                        (order_id, order_id.hex[:14], product_id, wallet, PRICE),
                    )
                    conn.execute("SELECT 1 FROM raw_wallets WHERE id = %s FOR UPDATE", (wallet,))
                    moved = conn.execute(
                        "UPDATE raw_wallets SET balance = balance - %s"
                        " WHERE id = %s AND balance >= %s",
                        (PRICE, wallet, PRICE),
                    ).rowcount
                    assert moved == 1
                    tx_id = uuid.uuid4()
                    conn.execute(
                        "INSERT INTO raw_transactions (id, idempotency_key, order_id)"
                        " VALUES (%s, %s, %s)",
                        (tx_id, f"pay:{order_id}", order_id),
                    )
                    conn.execute(
                        "INSERT INTO raw_entries (id, transaction_id, account_id, amount)"
                        " VALUES (%s, %s, %s, %s), (%s, %s, %s, %s)",
                        (uuid.uuid4(), tx_id, wallet, -PRICE, uuid.uuid4(), tx_id, sales_id, PRICE),
                    )
                with lock:
                    done[0] += 1

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=BUYERS) as pool:
        list(pool.map(loop, wallets))
    seconds = time.perf_counter() - started
    with psycopg.connect(dsn) as conn:
        sold = conn.execute("SELECT count(*) FROM raw_cards WHERE status = 'sold'").fetchone()[0]
        conn.execute(
            "DROP TABLE raw_entries, raw_transactions, raw_orders, raw_cards, raw_wallets,"
            " raw_products"
        )
    assert done[0] == n == sold, (done[0], n, sold)
    return {"transactions": done[0], "seconds": seconds}


# --- the scenario -------------------------------------------------------------


def run(ctx: Context) -> Outcome:
    from redis import Redis
    from rq import Queue

    n = int(ctx.options.get("codes") or (500 if ctx.quick else 5_000))
    agents = bool(ctx.options.get("agents"))
    scenario = "checkout-agents" if agents else "checkout"
    url = ctx.new_database("bench_checkout")
    ctx.flush_redis()
    out = ctx.work / "checkout-wrk"
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.iterdir():
        stale.unlink()

    with bc.smtp_sink() as sink:
        env = bc.app_env(ctx, url, MAIL_SERVER="127.0.0.1", MAIL_PORT=str(sink.port))
        with bc.migrated_app(env) as app:
            began = time.monotonic()
            print(f"==> seeding a shop with {n:,} codes and {BUYERS} funded buyers", flush=True)
            seeded = seed(app, n, BUYERS, agents=agents)
            seed_seconds = time.monotonic() - began

            with (
                bc.gunicorn(env, ctx.work) as (server, base),
                bc.rq_worker(env, ctx.work) as worker,
            ):
                print(f"==> signing in {BUYERS} buyers (setup, not timed)", flush=True)
                with ThreadPoolExecutor(max_workers=8) as pool:
                    sessions = list(pool.map(lambda e: sign_in(base, e), seeded["emails"]))
                buyers_file = ctx.work / "checkout-buyers.tsv"
                buyers_file.write_text(
                    "".join(
                        f"{cookie}\t{csrf}\t{email}\n"
                        for (cookie, csrf), email in zip(sessions, seeded["emails"], strict=True)
                    )
                )
                worker.check_alive()
                print(f"==> wrk: {BUYERS} buyers buy with wallet until the shelf is empty")
                report = run_wrk(base, buyers_file, out, seeded["product_id"], n)
                # Deliveries the buyers stopped waiting for (none, normally)
                # finish before the database is checked.
                fulfilment = Queue("fulfilment", connection=Redis.from_url(ctx.redis_url()))
                deadline = time.monotonic() + 30
                while fulfilment.count and time.monotonic() < deadline:
                    time.sleep(0.2)
                rq_peak = bc.peak_rss_mb(worker.pid)
                web_peaks = bc.web_worker_peaks(server)
                server.check_alive()
                worker.check_alive()
            mails = sink.messages
            checks = check_database(app, seeded["tenant_id"], seeded["product_id"])

    print("==> raw PostgreSQL transaction of the same shape, 32 threads", flush=True)
    raw = baseline(ctx.dsn("bench_checkout"), n)

    threads = read_threads(out)
    counts, latencies = threads["counts"], threads["latencies"]
    delivered = counts["delivered"]
    if threads["window"]:
        first, last = threads["window"]
        window = last - first
    else:
        window = float("nan")
    order_rate = delivered / window if delivered else 0.0
    raw_rate = raw["transactions"] / raw["seconds"]
    ratio = order_rate / raw_rate
    p50 = bc.percentile(latencies, 0.50) * 1000
    p99 = bc.percentile(latencies, 0.99) * 1000
    for error in threads["errors"][:5]:
        print(f"error: {error}")

    ok = (
        threads["threads"] == BUYERS
        and delivered == n
        and counts["errors"] == 0
        and checks["oversold"] == 0
        and checks["orders_with_other_than_one_card"] == 0
        and checks["orders_delivered"] == n
        and checks["ledger_sum"] == 0
        and checks["cached_balances_match"]
    )
    rows = [
        Row(
            scenario,
            f"wallet checkout, {BUYERS} {'agents at tier prices' if agents else 'buyers'}",
            bc.fmt_rate(order_rate, "orders/s"),
            f"raw psycopg {bc.fmt_rate(raw_rate, 'tx/s')}",
            ratio,
            f">= {RATIO_TARGET:.0%}",
            ratio >= RATIO_TARGET,
        ),
        Row(
            scenario,
            "create→delivered p50 / p99",
            f"p50 {p50:,.0f} ms, p99 {p99:,.0f} ms",
            "",
            None,
            f"p99 < {P99_TARGET_MS:.0f} ms",
            p99 < P99_TARGET_MS,
        ),
    ]
    if not ok:
        rows.append(
            Row(
                scenario,
                "correctness",
                f"delivered {delivered}/{n}, errors {counts['errors']},"
                f" oversold {checks['oversold']}",
                "",
                None,
                "all delivered, 0 errors",
                False,
            )
        )
    wrk_report = {k: v for k, v in report.items() if k != "raw"}
    return Outcome(
        rows,
        {
            "codes": n,
            "buyers": BUYERS,
            "seed_seconds": round(seed_seconds, 1),
            "window_seconds": round(window, 3),
            "orders_per_second": round(order_rate, 2),
            "create_to_delivered_ms": {
                "p50": round(p50, 1),
                "p90": round(bc.percentile(latencies, 0.90) * 1000, 1),
                "p99": round(p99, 1),
                "max": round(max(latencies) * 1000, 1) if latencies else None,
                "mean": round(statistics.fmean(latencies) * 1000, 1) if latencies else None,
            },
            "outcomes": counts,
            "thread_ends": threads["ends"],
            "errors": threads["errors"][:20],
            "wrk": wrk_report,
            "wrk_output": report.get("raw", ""),
            "mails_received": mails,
            "database": checks,
            "raw_seconds": round(raw["seconds"], 3),
            "raw_transactions_per_second": round(raw_rate, 2),
            "ratio": round(ratio, 4),
            "rq_worker_peak_mb": round(rq_peak, 1),
            "web_worker_peaks_mb": [round(x, 1) for x in web_peaks],
            "web_worker_peak_mb": round(max(web_peaks, default=0.0), 1),
            "postgresql": seeded["postgresql"],
        },
        ok=ok,
    )
