"""``scripts/bench docking``: card purchases docked (对接) from another shop
through the signed supply API, against the same purchase from the shop's
own stock.

Set-up (not timed): a fresh, migrated database ``bench_docking``
(``bench_common.app_env``: ``ENV=production``, PostgreSQL, Redis), and two
shops on it served by one gunicorn (``bench_common.gunicorn``, the
production settings):

- ``upstream``: one card product of N + M codes (``imports.import_now``;
  N = 100 with ``--quick``, else 500, ``--codes`` overrides; M = 20 with
  ``--quick``, else N / 10 and at least 50, for the latency phase), its
  supply API open, and a docking partner: an agent account on a tier
  whose price rule is 0.80 (retail 0.90), its wallet funded for N + M
  cards, holding a supply credential;
- ``bench``: a card product of N + M codes of its own (the one-shop
  purchase), and a docked card product with no codes whose one source is a
  ``platform`` supplier at ``http://upstream.bench.localhost:<port>/supply/v1``
  (the same gunicorn, reached on loopback with the shop's name in
  ``Host``; ``OUTBOUND_PRIVATE_ALLOWED=true`` lets the production
  settings reach it) holding the partner's credential; both sell at 1.00.

Every order is a guest order of one card (``orders.checkout.create_order``,
in this process, 4 threads) whose payment is confirmed as a provider's
webhook confirms it (``orders.payment.confirm_payment``: it commits the
order as paid, then queues its fulfilment job), as ``scripts/bench
fulfilment`` does. One RQ worker (``flask --app wsgi worker --queues
fulfilment``, the production worker) delivers: an own-stock order by
selling its reserved card; a docked order by buying the card upstream
(``app.supply.routing``: one signed ``POST /supply/v1/purchases``, in which
the upstream creates its order, pays it from the partner's wallet at the
tier price and delivers the code, in one transaction) and storing that code as the order's
sold card. The JSON also has each purchase's round trip as routing timed
it (``upstream_purchase_ms``, from the supply attempts).

Phase 1, throughput. With no worker running, the N own-stock orders'
payments are confirmed, then the N docked orders'; then the worker starts
and drains both backlogs in that order. Each kind's rate comes from RQ's
own start stamps (``bench_fulfilment.drain_rate``: jobs/s after a warm-up
of 10 jobs). **docked purchases/s per worker** ÷ **one-shop orders/s per
worker** is the ratio: what the round trip to the other shop and the
upstream's own purchase cost. One worker asks one upstream at a time, so
the docked rate is about 1 ÷ the purchase's latency; more workers scale it.

Phase 2, latency, the same worker, idle. M docked orders, then M own-stock
orders, are confirmed from this process at a steady pace (open loop; a
third of the worker's docked rate, at most 5/s). paid → delivered per
order = the fulfil job's ``ended_at`` − the order's ``paid_at``; p50, p95,
p99, for each kind.

Checked afterwards (a failure makes the scenario fail): every timed job
finished; every order of both kinds delivered with exactly one sold card;
the upstream delivered N + M orders, all to the partner at the tier price,
whose wallet went down by exactly that; the codes the docked orders hold
are the very codes the upstream sold (their fingerprints, one each: none
bought twice); every supply attempt delivered; each shop's ledger sums to
0 and its cached balances match.
"""

from __future__ import annotations

import secrets
import time

import bench_common as bc
from bench_common import Context, Outcome, Row
from bench_fulfilment import _utc, confirm, create_orders, drain_rate, in_threads, ms, wait_finished

PRICE = 100
UPSTREAM_RETAIL = 90
TIER_PRICE = 80
MAX_PACE = 5.0
UPSTREAM = "upstream"
DOWNSTREAM = "bench"


def seed(app, codes: int, port: int) -> dict:
    """The two shops (see the module's docstring); their ids."""
    from app.accounts import services
    from app.catalog.models import KIND_CARD, STATUS_ON_SALE, Product
    from app.core.crypto import get_cipher
    from app.core.ids import uuid7
    from app.extensions import db
    from app.ledger import services as ledger
    from app.pricing.models import AgentTier, PriceRule
    from app.supply import credentials
    from app.supply.models import ProductSource, Supplier
    from tenants.context import tenant_context

    with app.app_context():
        up = bc.open_shop(UPSTREAM, "Upstream")
        up_id, currency = up.id, up.currency
        with tenant_context(up_id):
            up_product = bc.add_card_product(codes, price=UPSTREAM_RETAIL, name="Upstream card")
            credentials.set_supply_open(True, actor="bench")
            email = "partner@bench.example.com"
            partner = services.create_shop_account(email, secrets.token_hex(12), role="agent")
            partner_id = partner.id
            tier = AgentTier(name="Docking", rank=1)
            db.session.add(tier)
            db.session.flush()
            db.session.add(PriceRule(product_id=up_product, tier_id=tier.id, price=TIER_PRICE))
            partner.tier_id = tier.id
            ledger.post(
                f"bench-recharge:{partner_id}",
                "recharge",
                [
                    ledger.Line(ledger.clearing_code("sandbox"), -TIER_PRICE * codes),
                    ledger.Line(ledger.wallet_code(partner_id), TIER_PRICE * codes),
                ],
                currency,
            )
            db.session.commit()
            issued = credentials.issue_credential(email=email, name="bench", actor="bench")
            key_id, secret = issued.credential.key_id, issued.secret
        down_id = bc.open_shop(DOWNSTREAM).id
        with tenant_context(down_id):
            own = bc.add_card_product(codes, price=PRICE, name="Own card")
            docked = Product(kind=KIND_CARD, name="Docked card", price=PRICE, status=STATUS_ON_SALE)
            # Written as rows: the supplier service refuses http:// under
            # ENV=production, and the bench speaks plain HTTP on loopback.
            cipher = get_cipher()
            supplier = Supplier(
                id=uuid7(),
                name="Upstream",
                kind="platform",
                status="active",
                base_url=f"http://{UPSTREAM}.bench.localhost:{port}/supply/v1",
                key_id=key_id,
                secret_key_id=cipher.current_id,
            )
            supplier.secret = cipher.encrypt(supplier.id, secret)
            db.session.add_all([docked, supplier])
            db.session.flush()
            db.session.add(
                ProductSource(
                    product_id=docked.id,
                    supplier_id=supplier.id,
                    sku=str(up_product),
                    cost=TIER_PRICE,
                    priority=100,
                )
            )
            db.session.commit()
            docked_id = docked.id
        db.session.remove()
    return {
        "up": up_id,
        "down": down_id,
        "up_product": up_product,
        "own": own,
        "docked": docked_id,
        "partner": partner_id,
        "funded": TIER_PRICE * codes,
    }


def check(app, seeded: dict, per_kind: int) -> dict:
    """What both shops' books say after the run."""
    from sqlalchemy import func, select

    from app.catalog.models import Card
    from app.extensions import db
    from app.ledger import services as ledger
    from app.orders.models import Order
    from app.supply.models import SupplyAttempt
    from tenants.context import tenant_context

    def books() -> dict:
        balances = ledger.trial_balance()
        return {
            "ledger_sum": sum(balances.values()),
            "cached_balances_match": ledger.cached_balances_match(),
        }

    def sold(product_id) -> tuple[int, int, set]:
        rows = db.session.execute(
            select(Card.order_id, Card.fingerprint).where(
                Card.product_id == product_id, Card.status == "sold"
            )
        ).all()
        per_order: dict = {}
        for order_id, _ in rows:
            per_order[order_id] = per_order.get(order_id, 0) + 1
        odd = sum(1 for n in per_order.values() if n != 1)
        return len(rows), odd, {fingerprint for _, fingerprint in rows}

    with app.app_context():
        with tenant_context(seeded["down"]):
            delivered = dict(
                db.session.execute(
                    select(Order.product_id, func.count())
                    .where(Order.status == "delivered")
                    .group_by(Order.product_id)
                ).all()
            )
            own_sold, own_odd, _ = sold(seeded["own"])
            docked_sold, docked_odd, docked_prints = sold(seeded["docked"])
            attempts = dict(
                db.session.execute(
                    select(SupplyAttempt.outcome, func.count()).group_by(SupplyAttempt.outcome)
                ).all()
            )
            asked_ms = [
                ms_ / 1000 for ms_ in db.session.scalars(select(SupplyAttempt.latency_ms)).all()
            ]
            down = books()
        with tenant_context(seeded["up"]):
            up_orders = db.session.execute(
                select(func.count(), func.coalesce(func.sum(Order.total), 0)).where(
                    Order.status == "delivered", Order.buyer_id == seeded["partner"]
                )
            ).one()
            up_sold, up_odd, up_prints = sold(seeded["up_product"])
            wallet = ledger.wallet_balance(seeded["partner"])
            up = books()
        db.session.remove()
    return {
        "own_delivered": int(delivered.get(seeded["own"], 0)),
        "docked_delivered": int(delivered.get(seeded["docked"], 0)),
        "own_cards_sold": own_sold,
        "docked_cards_stored": docked_sold,
        "orders_with_other_than_one_card": own_odd + docked_odd + up_odd,
        "supply_attempts": {k: int(v) for k, v in attempts.items()},
        # each purchase's round trip as routing timed it (request → answer)
        "upstream_purchase_ms": ms(asked_ms),
        "upstream_orders_delivered": int(up_orders[0]),
        "upstream_paid_by_partner": int(up_orders[1]),
        "upstream_cards_sold": up_sold,
        "partner_wallet_spent": seeded["funded"] - wallet,
        "docked_codes_are_the_upstreams": docked_prints == up_prints
        and len(docked_prints) == docked_sold,
        "expected_per_kind": per_kind,
        "downstream_books": down,
        "upstream_books": up,
    }


def _confirm_paced(app, tenant_id, order_ids: list, pace: float) -> int:
    """Confirm the payments at ``pace``/s (open loop); how many ran late."""
    from app.extensions import db
    from tenants.context import tenant_context

    late = 0
    with app.app_context(), tenant_context(tenant_id):
        start = time.monotonic()
        for i, order_id in enumerate(order_ids):
            wait = start + i / pace - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            elif wait < -0.010:
                late += 1
            confirm(order_id, PRICE)
        db.session.remove()
    return late


def _latencies(app, tenant_id, order_ids: list, jobs: list) -> list[float]:
    from app.extensions import db
    from app.orders.models import Order
    from tenants.context import tenant_context

    with app.app_context(), tenant_context(tenant_id):
        paid = dict(
            db.session.execute(
                db.select(Order.id, Order.paid_at).where(Order.id.in_(order_ids))
            ).all()
        )
        db.session.remove()
    return [
        (job.ended_at - _utc(paid[order_id])).total_seconds()
        for order_id, job in zip(order_ids, jobs, strict=True)
        if job.ended_at and paid.get(order_id)
    ]


def run(ctx: Context) -> Outcome:
    from redis import Redis

    n = int(ctx.options.get("codes") or (100 if ctx.quick else 500))
    m = 20 if ctx.quick else max(50, n // 10)
    url = ctx.new_database("bench_docking")
    ctx.flush_redis()
    redis = Redis.from_url(ctx.redis_url())
    port = bc.free_port()

    # The upstream is the same gunicorn on loopback, an address production
    # refuses to reach by default (``app.core.outbound``).
    env = bc.app_env(ctx, url, OUTBOUND_PRIVATE_ALLOWED="true")
    with bc.migrated_app(env) as app:
        began = time.monotonic()
        print(f"==> seeding an upstream and a docking shop, {n + m:,} codes each", flush=True)
        seeded = seed(app, n + m, port)
        down = seeded["down"]
        own = create_orders(app, down, seeded["own"], n)
        docked = create_orders(app, down, seeded["docked"], n, first=n)
        own_paced = create_orders(app, down, seeded["own"], m, first=2 * n)
        docked_paced = create_orders(app, down, seeded["docked"], m, first=2 * n + m)
        print(f"==> confirming {n:,} own-stock then {n:,} docked payments, no worker", flush=True)
        in_threads(app, down, own, lambda order_id: confirm(order_id, PRICE))
        in_threads(app, down, docked, lambda order_id: confirm(order_id, PRICE))
        seed_seconds = time.monotonic() - began

        with (
            bc.gunicorn(env, ctx.work, port=port) as (server, _base),
            bc.rq_worker(env, ctx.work, name="docking-worker", queues="fulfilment") as worker,
        ):
            print("==> one worker drains both backlogs (own stock first)", flush=True)
            own_ids = [f"fulfil-{order_id}" for order_id in own]
            docked_ids = [f"fulfil-{order_id}" for order_id in docked]
            limit = 120 + n / 2
            own_rate = drain_rate(wait_finished(redis, own_ids, worker, limit, last=docked_ids[0]))
            docked_rate = drain_rate(wait_finished(redis, docked_ids, worker, limit))
            print(
                f"    one shop {own_rate['jobs_per_second']:,.1f} orders/s,"
                f" docked {docked_rate['jobs_per_second']:,.1f} purchases/s",
                flush=True,
            )

            pace = min(MAX_PACE, docked_rate["jobs_per_second"] / 3)
            print(f"==> {m} docked, then {m} own-stock payments at {pace:.1f}/s", flush=True)
            late = _confirm_paced(app, down, docked_paced, pace)
            docked_jobs = wait_finished(
                redis, [f"fulfil-{i}" for i in docked_paced], worker, 120 + m
            )
            late += _confirm_paced(app, down, own_paced, pace)
            own_jobs = wait_finished(redis, [f"fulfil-{i}" for i in own_paced], worker, 120 + m)
            rq_peak = bc.peak_rss_mb(worker.pid)
            server.check_alive()
            worker.check_alive()

        docked_lat = _latencies(app, down, docked_paced, docked_jobs)
        own_lat = _latencies(app, down, own_paced, own_jobs)
        checks = check(app, seeded, n + m)

    failed = own_rate["failed"] + docked_rate["failed"]
    failed += sum(1 for job in docked_jobs + own_jobs if job.get_status(refresh=False) == "failed")
    spent = TIER_PRICE * (n + m)
    ok = (
        failed == 0
        and len(docked_lat) == m
        and len(own_lat) == m
        and checks["own_delivered"] == n + m
        and checks["docked_delivered"] == n + m
        and checks["docked_cards_stored"] == n + m
        and checks["orders_with_other_than_one_card"] == 0
        and checks["upstream_orders_delivered"] == n + m
        and checks["upstream_paid_by_partner"] == spent
        and checks["partner_wallet_spent"] == spent
        and checks["docked_codes_are_the_upstreams"]
        and checks["supply_attempts"] == {"delivered": n + m}
        and all(
            books["ledger_sum"] == 0 and books["cached_balances_match"]
            for books in (checks["downstream_books"], checks["upstream_books"])
        )
    )
    d_rate, o_rate = docked_rate["jobs_per_second"], own_rate["jobs_per_second"]
    d_ms, o_ms = ms(docked_lat), ms(own_lat)
    rows = [
        Row(
            "docking",
            "docked card purchases/s per worker (two shops over HTTP)",
            bc.fmt_rate(d_rate, "purchases/s"),
            f"one shop, own stock {bc.fmt_rate(o_rate, 'orders/s')}",
            d_rate / o_rate if o_rate else None,
            "—",
        ),
        Row(
            "docking",
            "paid→delivered p50 / p99, docked",
            f"p50 {d_ms.get('p50', 0):,.0f} ms, p99 {d_ms.get('p99', 0):,.0f} ms",
            f"one shop p50 {o_ms.get('p50', 0):,.0f} ms, p99 {o_ms.get('p99', 0):,.0f} ms"
            f" (at {pace:.1f} orders/s)",
            None,
            "—",
        ),
    ]
    if not ok:
        rows.append(
            Row(
                "docking",
                "correctness",
                f"failed jobs {failed}, docked delivered {checks['docked_delivered']}/{n + m},"
                f" upstream {checks['upstream_orders_delivered']}",
                "",
                None,
                "all delivered once",
                False,
            )
        )
    return Outcome(
        rows,
        {
            "orders_backlog_per_kind": n,
            "orders_paced_per_kind": m,
            "seed_seconds": round(seed_seconds, 1),
            "one_shop": own_rate,
            "docked": docked_rate,
            "ratio_docked_to_one_shop": round(d_rate / o_rate, 4) if o_rate else None,
            "pace_orders_per_second": round(pace, 2),
            "pace_late_by_over_10ms": late,
            "paid_to_delivered_ms_docked": d_ms,
            "paid_to_delivered_ms_one_shop": o_ms,
            "database": checks,
            "rq_worker_peak_mb": round(rq_peak, 1),
        },
        ok=ok,
    )
