"""``scripts/bench checkout``: wallet checkout through gunicorn against a raw
PostgreSQL transaction of the same shape.

Run by ``scripts/bench`` with ``DATABASE_URL`` (a throwaway PostgreSQL) and
``REDIS_URL`` (a throwaway Redis) set. Steps:

1. migrate a fresh database, open a shop with a card product of N codes
   (``imports.import_now``) and N + 32 buyer accounts, each wallet funded
   for one card by a ledger recharge posting (the last 32 buyers meet an
   empty shelf: the sold-out path is exercised too);
2. start gunicorn (2 workers × 8 threads, ``wsgi:app``) and one RQ worker
   (``flask --app wsgi worker``), both on that database and Redis;
3. sign every buyer in through the shop's login form (setup, not timed);
4. timed: 32 buyer threads, each taking the next buyer: ``POST
   /api/v1/orders`` (session + CSRF token, ``Idempotency-Key``), ``POST
   /api/v1/orders/{number}/pay`` with ``wallet``, then ``GET`` the order
   (every 20 ms, backing off to 250 ms) until it is delivered;
   create→delivered per order;
5. check the database: cards sold, orders delivered, one sold card per
   delivered order (oversold must be 0), product counter, ledger balanced;
6. baseline: the same transaction shape written by hand with psycopg at 32
   threads on minimal tables (reserve 1 card ``FOR UPDATE SKIP LOCKED``,
   counter −1, insert order, debit the wallet row under its lock, insert a
   ledger transaction and its 2 entries, commit);
7. print the table and the ratio; write JSON to ``--results``.

Settings that differ from production, and why: ``PASSWORD_HASH_PROFILE=fast``
and a high ``LOGIN_RATE_LIMIT`` (all buyers sign in from 127.0.0.1 during
setup, which is not timed); ``ENV`` stays development (production refuses
plain-HTTP cookies; nothing timed depends on it).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from bench_import import _git, _machine  # noqa: E402

THREADS = 32
PRICE = 100
PASSWORD = "bench-password-1"
SLUG = "bench"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    at = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[at]


# --- seeding ------------------------------------------------------------------


def seed(app, n: int, buyers: int) -> dict:
    from flask_migrate import upgrade
    from sqlalchemy import text

    from app.accounts import services
    from app.catalog import imports
    from app.catalog.models import KIND_CARD, STATUS_ON_SALE, Product
    from app.extensions import db
    from app.ledger import services as ledger
    from tenants import provisioning
    from tenants.context import tenant_context

    with app.app_context():
        assert db.engine.dialect.name == "postgresql", "the benchmark runs on PostgreSQL"
        upgrade(directory=str(ROOT / "migrations"))
        server_version = db.session.execute(text("SHOW server_version")).scalar()
        owner = services.create_platform_user("bench@example.com", secrets.token_hex(12))
        tenant = provisioning.create_shop(SLUG, "Bench", owner)
        tenant_id, currency = tenant.id, tenant.currency
        with tenant_context(tenant_id):
            product = Product(kind=KIND_CARD, name="Bench card", price=PRICE, status=STATUS_ON_SALE)
            db.session.add(product)
            db.session.commit()
            product_id = product.id
            salt = secrets.token_hex(4)
            raw = "\n".join(f"{salt}{i:012d}----{secrets.token_hex(8)}" for i in range(n))
            record = imports.import_now(product_id, raw.encode(), "bench.txt", "bench")
            assert record.imported == n, imports.report_of(record)
            emails = []
            for i in range(buyers):
                email = f"buyer{i:06d}@bench.example.com"
                account = services.create_shop_account(email, PASSWORD)
                ledger.post(
                    f"bench-recharge:{account.id}",
                    "recharge",
                    [
                        ledger.Line(ledger.clearing_code("sandbox"), -PRICE),
                        ledger.Line(ledger.wallet_code(account.id), PRICE),
                    ],
                    currency,
                )
                emails.append(email)
                if i % 200 == 199:
                    db.session.commit()
            db.session.commit()
        db.session.remove()
    return {
        "tenant_id": tenant_id,
        "product_id": product_id,
        "emails": emails,
        "postgresql": server_version,
    }


# --- the servers --------------------------------------------------------------


def start_servers(env: dict, port: int, work: Path) -> list[subprocess.Popen]:
    venv_bin = Path(sys.executable).parent
    web = subprocess.Popen(
        [
            str(venv_bin / "gunicorn"),
            "--workers",
            "2",
            "--threads",
            "8",
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "wsgi:app",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(work / "gunicorn.log", "wb"),  # noqa: SIM115 - lives as long as the process
    )
    worker = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "worker"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(work / "worker.log", "wb"),  # noqa: SIM115
    )
    return [web, worker]


def wait_ready(base: str, host: str, procs: list[subprocess.Popen]) -> None:
    import requests

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for proc in procs:
            if proc.poll() is not None:
                raise RuntimeError(f"{proc.args[0]} exited with {proc.returncode}")
        try:
            answer = requests.get(f"{base}/healthz", headers={"Host": host}, timeout=2)
            if answer.status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError("gunicorn and the worker were not ready in 60 s")


# --- buyers -------------------------------------------------------------------


class Buyer:
    def __init__(self, base: str, host: str, email: str) -> None:
        import requests

        self.base, self.email = base, email
        self.http = requests.Session()
        self.http.headers["Host"] = host
        self.csrf = ""

    def sign_in(self) -> None:
        page = self.http.get(f"{self.base}/account/login", timeout=30).text
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
        answer = self.http.post(
            f"{self.base}/account/login",
            data={"csrf_token": token, "email": self.email, "password": PASSWORD},
            allow_redirects=False,
            timeout=30,
        )
        assert answer.status_code in (302, 303), (answer.status_code, answer.text[:300])
        page = self.http.get(f"{self.base}/account/", timeout=30).text
        self.csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)

    def buy(self, product_id: uuid.UUID) -> tuple[str, float | None, str]:
        """(outcome, create→delivered seconds, detail)."""
        headers = {"X-CSRFToken": self.csrf, "Idempotency-Key": uuid.uuid4().hex}
        started = time.perf_counter()
        created = self.http.post(
            f"{self.base}/api/v1/orders",
            json={"product_id": str(product_id), "quantity": 1, "email": self.email},
            headers=headers,
            timeout=60,
        )
        if created.status_code == 409 and "out-of-stock" in created.text:
            return "sold_out", None, created.json().get("detail", "")
        if created.status_code != 201:
            return "error", None, f"create {created.status_code} {created.text[:200]}"
        number = created.json()["number"]
        paid = self.http.post(
            f"{self.base}/api/v1/orders/{number}/pay",
            json={"provider": "wallet"},
            headers={"X-CSRFToken": self.csrf},
            timeout=60,
        )
        if paid.status_code != 200:
            return "error", None, f"pay {paid.status_code} {paid.text[:200]}"
        deadline = time.monotonic() + 120
        status = paid.json()["order"]["status"]
        pause = 0.02
        while status != "delivered":
            if status in ("failed", "refunded") or time.monotonic() > deadline:
                return "error", None, f"order {number} {status}"
            # Backing off (20 ms, x1.5, at most 250 ms): 32 buyers polling at a
            # fixed 10 ms would be most of the load the server sees.
            time.sleep(pause)
            pause = min(pause * 1.5, 0.25)
            status = self.http.get(f"{self.base}/api/v1/orders/{number}", timeout=60).json()[
                "status"
            ]
        return "delivered", time.perf_counter() - started, number


def run_buyers(base: str, host: str, product_id, emails: list[str]) -> dict:
    buyers = [Buyer(base, host, email) for email in emails]
    print(f"==> signing in {len(buyers):,} buyers (setup, not timed)")
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        list(pool.map(lambda b: b.sign_in(), buyers))

    print(f"==> {THREADS} buyers at a time buy with wallet until stock runs out")
    latencies: list[float] = []
    outcomes: dict[str, int] = {"delivered": 0, "sold_out": 0, "error": 0}
    errors: list[str] = []
    lock = threading.Lock()

    def one(buyer: Buyer) -> None:
        try:
            outcome, seconds, detail = buyer.buy(product_id)
        except Exception as exc:  # noqa: BLE001 - counted and shown
            outcome, seconds, detail = "error", None, f"{type(exc).__name__}: {exc}"
        with lock:
            outcomes[outcome] += 1
            if seconds is not None:
                latencies.append(seconds)
            if outcome == "error":
                errors.append(detail)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        list(pool.map(one, buyers))
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "latencies": latencies, "outcomes": outcomes, "errors": errors}


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
    """N purchases as hand-written transactions at 32 threads."""
    import psycopg

    product_id, sales_id = uuid.uuid4(), uuid.uuid4()
    wallets = [uuid.uuid4() for _ in range(n)]
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(BASELINE_SCHEMA)
        conn.execute("INSERT INTO raw_products VALUES (%s, %s)", (product_id, n))
        with conn.cursor() as cur:
            with cur.copy("COPY raw_cards (id, product_id, status, secret) FROM STDIN") as copy:
                for _ in range(n):
                    copy.write_row((uuid.uuid4(), product_id, "available", secrets.token_bytes(60)))
            with cur.copy("COPY raw_wallets (id, balance) FROM STDIN") as copy:
                for wallet in wallets:
                    copy.write_row((wallet, PRICE))
        conn.execute("VACUUM ANALYZE")
        conn.execute("CHECKPOINT")

    todo = list(wallets)
    lock = threading.Lock()
    done = [0]

    def loop() -> None:
        with psycopg.connect(dsn) as conn:
            while True:
                with lock:
                    if not todo:
                        return
                    wallet = todo.pop()
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

    print(f"==> raw PostgreSQL transaction of the same shape, {THREADS} threads")
    started = time.perf_counter()
    threads = [threading.Thread(target=loop) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    with psycopg.connect(dsn) as conn:
        sold = conn.execute("SELECT count(*) FROM raw_cards WHERE status = 'sold'").fetchone()[0]
    assert done[0] == n == sold, (done[0], n, sold)
    return {"transactions": done[0], "seconds": seconds}


# --- main -------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="500 codes instead of 5,000")
    parser.add_argument("--codes", type=int, help="how many codes (overrides --quick)")
    parser.add_argument("--results", default=str(ROOT / "bench-results"))
    args = parser.parse_args()
    n = args.codes or (500 if args.quick else 5_000)

    secrets_env = {
        "SECRET_KEY": os.environ.get("SECRET_KEY") or secrets.token_hex(32),
        "CARD_KEY": os.environ.get("CARD_KEY") or secrets.token_hex(32),
        "CARD_HASH_KEY": os.environ.get("CARD_HASH_KEY") or secrets.token_hex(32),
        "PASSWORD_HASH_PROFILE": "fast",
        "LOGIN_RATE_LIMIT": "1000000 per minute",
        "PAYMENT_PROVIDERS": "wallet,sandbox",
    }
    os.environ.update(secrets_env)
    work = Path(os.environ.get("INSTANCE_PATH") or "/tmp").parent

    from app import create_app

    app = create_app()
    print(f"==> seeding a shop with {n:,} codes and {n + THREADS:,} funded buyers")
    seeded = seed(app, n, n + THREADS)

    port = _free_port()
    host = f"{SLUG}.{app.config['PLATFORM_DOMAIN']}"
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ)
    print(f"==> gunicorn (2 workers x 8 threads) on {base} and one RQ worker")
    procs = start_servers(env, port, work)
    try:
        wait_ready(base, host, procs)
        run = run_buyers(base, host, seeded["product_id"], seeded["emails"])
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
    checks = check_database(app, seeded["tenant_id"], seeded["product_id"])

    dsn = os.environ["DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://")
    raw = baseline(dsn, n)

    machine = _machine()
    latencies = run["latencies"]
    delivered = run["outcomes"]["delivered"]
    order_rate = delivered / run["seconds"]
    raw_rate = raw["transactions"] / raw["seconds"]
    ratio = order_rate / raw_rate
    p50 = _percentile(latencies, 0.50) * 1000
    p99 = _percentile(latencies, 0.99) * 1000
    print()
    print(f"codes / buyers             {n:>10,} / {n + THREADS:,} ({THREADS} at a time)")
    print(f"delivered                  {delivered:>10,}")
    print(f"sold-out answers           {run['outcomes']['sold_out']:>10,}")
    print(f"errors                     {run['outcomes']['error']:>10,}")
    print(f"checkout (HTTP)            {order_rate:>10,.1f} orders/s   ({run['seconds']:.2f} s)")
    print(f"create->delivered p50      {p50:>10,.0f} ms")
    print(f"create->delivered p99      {p99:>10,.0f} ms")
    print(f"oversold                   {checks['oversold']:>10,}")
    print(
        f"cards sold / delivered     {checks['cards_sold']:>10,} / {checks['orders_delivered']:,}"
    )
    print(f"raw PostgreSQL tx          {raw_rate:>10,.1f} tx/s       ({raw['seconds']:.2f} s)")
    print(f"ratio checkout/raw         {ratio:>10.1%}")
    print(f"load average               {machine['load_average']} on {machine['cpus']} CPUs")
    for error in run["errors"][:5]:
        print(f"error: {error}")

    result = {
        "benchmark": "checkout",
        "codes": n,
        "buyers": n + THREADS,
        "concurrency": THREADS,
        "gunicorn": {"workers": 2, "threads": 8},
        "seconds": round(run["seconds"], 3),
        "orders_per_second": round(order_rate, 2),
        "create_to_delivered_ms": {
            "p50": round(p50, 1),
            "p99": round(p99, 1),
            "mean": round(statistics.fmean(latencies) * 1000, 1) if latencies else None,
        },
        "outcomes": run["outcomes"],
        "errors": run["errors"][:20],
        "database": checks,
        "raw_seconds": round(raw["seconds"], 3),
        "raw_transactions_per_second": round(raw_rate, 2),
        "ratio": round(ratio, 4),
        "git_commit": _git("rev-parse", "HEAD"),
        "git_dirty": bool(_git("status", "--porcelain", "--", "app", "scripts")),
        "postgresql": seeded["postgresql"],
        "machine": machine,
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    out = Path(args.results)
    out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = out / f"checkout-{n}-{stamp}-{uuid.uuid4().hex[:6]}.json"
    path.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"results: {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    ok = (
        checks["oversold"] == 0
        and run["outcomes"]["error"] == 0
        and delivered == n
        and checks["ledger_sum"] == 0
        and checks["cached_balances_match"]
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
