"""``scripts/bench storefront``: what a buyer's browser and an API client get
from one shop with 10,000 products, against a same-shape app (the same SQL
and template without the platform's layers) and a bare Flask app on the
same web server.

Set-up (not timed; the seconds go to the JSON as ``seed_seconds``):

1. a fresh, migrated database ``bench_storefront``; one operator
   (``accounts.services.create_platform_user``) and one shop ``star``
   (``app.accounts.shops.open_shop``), so the shop answers at
   ``star.bench.localhost``;
2. six categories (three top categories, each with one child) and 10,000
   card products on sale (price > 0, spread round-robin over the six
   categories), inserted in one ORM bulk INSERT inside the shop's context
   (the tenant guard checks it like any other write);
3. card stock for 20 of them (``catalog.imports.import_now``, 25 codes
   each), so those pages show a stock count kept by the import path itself;
   the other products show 0 (sold out), which costs a page the same
   queries;
4. ``VACUUM ANALYZE``, as autovacuum would have by now in production
   (``scripts/bench`` runs PostgreSQL with autovacuum off).

Each load runs twice, on two gunicorns started fresh: as deployed (the
anonymous page cache on, ``app/storefront/pagecache.py``; wrk sends no cookie, so
every request may be served from it) and with ``PAGE_CACHE_SECONDS=0``, what
a request costs when nothing is cached. The cache starts empty each time:
the warm-up and the timed run fill it as buyers would, and a product page
picked at random from 10,000 is a miss the first time it is asked for in a
30-second window.

Measured, each with wrk (``--latency``, 2 threads, 32 connections,
``--seconds`` or 5 s with ``--quick``, 15 s otherwise), after a warm-up of
the same load (2 s quick, 5 s otherwise) that is not counted:

- **product page** ``GET /p/<id>``: every request picks one of the 10,000
  product pages at random (``scripts/wrk/spread.lua``);
- **products API** ``GET /api/v1/products`` as an anonymous client: the
  first page with default paging (20 products and the total);
- **products API, browsing**: the same endpoint over a mix of every page
  (1 to 500), each category (top categories include their children) and a
  few name searches, picked at random per request.

Two ceilings, each measured with the same wrk settings after the same
warm-up, on the same gunicorn settings (``scripts/gunicorn.conf.py``:
gthread workers, two per core, 4 threads each), while the platform's
gunicorn is stopped (the two never compete for the CPU):

- **same shape** (``scripts/bench_sameshape.py``), the ceiling of the
  uncached rows: a bare Flask app that runs, per request, the very SQL the
  platform runs for that page (captured from the platform itself before the
  load) through psycopg, and renders the same theme template
  (``product.html`` with its base) in a plain Jinja environment, or builds
  the same JSON by hand. The ratio says what the platform's own layers
  (tenant resolution and guard, ORM, session, pricing, Babel, the page
  cache's bookkeeping, visit counting) cost on top of the database and the
  template. Target: ``>= 50 %``.
- **bare Flask** (``scripts/bench_bare.py``), the ceiling of the cached
  rows (a cache hit reads no database and renders nothing, the shape of a
  bare endpoint), and a reference row: one route returning a small HTML
  page, no database. Target: ``>= 60 %``.

Also measured, outside the load: **a template render alone**, the
milliseconds of one render of ``product.html`` inside the platform
(``render_shop`` in a request context of the shop, the product read once),
beside the same template in the same-shape app's plain environment (mean
of ``RENDERS`` renders after a warm-up).

Both servers run with ``bench_common.app_env`` (``ENV=production``,
PostgreSQL, Redis). wrk counts any non-2xx/3xx answer or socket error as an
error; a run with errors makes the scenario fail. The peak RSS (VmHWM) of
each web worker after the load is recorded as ``web_worker_peak_mb`` (the
``memory`` scenario reports it).
"""

from __future__ import annotations

import json
import secrets
import time
import urllib.request
from pathlib import Path

import bench_common as bc

SCRIPTS = Path(__file__).resolve().parent
SPREAD = SCRIPTS / "wrk" / "spread.lua"
DATABASE = "bench_storefront"
SLUG = "star"
PRODUCTS = 10_000
STOCKED = 20
CODES_PER_PRODUCT = 25
CONNECTIONS = 32
TARGET = 0.60  # cached rows, against bare Flask
SAME_SHAPE_TARGET = 0.50  # uncached rows, against the same-shape app
RENDERS = 500
#: The platform as deployed (the anonymous page cache on, ``app/storefront/pagecache.py``),
#: then with it off: what a request costs when it is not cached.
MODES = (("on", {}), ("off", {"PAGE_CACHE_SECONDS": "0"}))


def host_of(slug: str) -> str:
    return f"{slug}.bench.localhost"


# --- seeding (also used by bench_tenants and bench_memory) ---------------------


def seed_shop(
    app,
    slug: str,
    *,
    products: int,
    stocked: int = STOCKED,
    codes: int = CODES_PER_PRODUCT,
    owner_email: str | None = None,
) -> dict:
    """Open shop ``slug`` with six categories and ``products`` card products
    on sale, ``stocked`` of them with ``codes`` codes each (through the import
    path). Returns the ids the load needs."""
    from sqlalchemy import insert

    from app.catalog import imports
    from app.catalog.models import KIND_CARD, STATUS_ON_SALE, Category, Product
    from app.core.ids import uuid7
    from app.extensions import db
    from tenants.context import tenant_context

    with app.app_context():
        tenant = bc.open_shop(slug, f"Bench shop {slug}", owner_email)
        tenant_id = tenant.id
        with tenant_context(tenant_id):
            tops, children = [], []
            for i, name in enumerate(
                ("Game cards 游戏点卡", "Gift cards 礼品卡", "Licences 激活码")
            ):
                top = Category(name=name, sort=i)
                db.session.add(top)
                db.session.flush()
                child = Category(name=f"{name} · more", sort=0, parent_id=top.id)
                db.session.add(child)
                db.session.flush()
                tops.append(top.id)
                children.append(child.id)
            categories = [c for pair in zip(tops, children, strict=True) for c in pair]
            rows = [
                {
                    "id": uuid7(),
                    "tenant_id": tenant_id,
                    "category_id": categories[i % len(categories)],
                    "kind": KIND_CARD,
                    "name": f"Card {i:05d} 点卡",
                    "description": f"Product number {i} of the benchmark shop.",
                    "price": 100 + (i * 37) % 9_900,
                    "status": STATUS_ON_SALE,
                    "input_fields": [],
                }
                for i in range(products)
            ]
            if rows:
                db.session.execute(insert(Product), rows)
            db.session.commit()
            product_ids = [r["id"] for r in rows]
            salt = secrets.token_hex(4)
            for n, product_id in enumerate(product_ids[:stocked]):
                raw = "\n".join(
                    f"{salt}-{n:04d}-{k:06d}----{secrets.token_hex(6)}" for k in range(codes)
                )
                record = imports.import_now(product_id, raw.encode(), "bench.txt", "bench")
                assert record.imported == codes, imports.report_of(record)
        db.session.remove()
    return {
        "tenant_id": tenant_id,
        "product_ids": product_ids,
        "top_categories": tops,
        "child_categories": children,
    }


def vacuum_analyze(ctx: bc.Context, database: str) -> None:
    """``VACUUM ANALYZE`` the freshly seeded database: what autovacuum would
    have done by now in production (``scripts/bench`` runs PostgreSQL with
    autovacuum off, and a bulk-loaded table without statistics gets plans
    no running shop would get)."""
    import psycopg

    with psycopg.connect(ctx.dsn(database), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


# --- load ---------------------------------------------------------------------


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def get(base: str, host: str, path: str) -> tuple[int, bytes]:
    """One request outside the timed load (a correctness check)."""
    request = urllib.request.Request(base + path, headers={"Host": host})
    with urllib.request.urlopen(request, timeout=30) as answer:
        return answer.status, answer.read()


def seconds_of(ctx: bc.Context) -> tuple[float, float]:
    """(timed seconds per wrk run, warm-up seconds)."""
    timed = float(ctx.options.get("seconds") or (5 if ctx.quick else 15))
    return timed, (2.0 if ctx.quick else 5.0)


def measure(
    base: str,
    host: str,
    timed: float,
    warm: float,
    *,
    path: str = "/",
    lines: Path | None = None,
) -> dict:
    """Warm up, then the timed wrk run; the result without wrk's raw text
    (kept under ``report``)."""
    script_args = [str(lines)] if lines else None
    url = base + path
    script = SPREAD if lines else None
    if warm > 0:
        bc.wrk(
            url,
            host=host,
            connections=CONNECTIONS,
            seconds=warm,
            script=script,
            script_args=script_args,
        )
    result = bc.wrk(
        url,
        host=host,
        connections=CONNECTIONS,
        seconds=timed,
        script=script,
        script_args=script_args,
    )
    result["report"] = result.pop("raw")
    return result


def describe(result: dict) -> str:
    text = f"{bc.fmt_rate(result['rps'], 'req/s')}, p99 {result['p99_ms']:,.0f} ms"
    if result["errors"]:
        text += f", {result['errors']:,} ERRORS"
    return text


def bare_ceiling(ctx: bc.Context, env: dict, timed: float, warm: float) -> dict:
    """The bare Flask app (``scripts/bench_bare.py``) under the same load."""
    with bc.gunicorn(env, ctx.work, app="bench_bare:app", name="bare", pythonpath=SCRIPTS) as (
        _server,
        base,
    ):
        return measure(base, "bare.bench.localhost", timed, warm, path="/")


def same_shape_ceiling(
    ctx: bc.Context, env: dict, timed: float, warm: float, lines: dict[str, Path], ids: list
) -> dict:
    """The same-shape app (``scripts/bench_sameshape.py``) under the loads
    of the uncached rows."""
    host = host_of(SLUG)
    with bc.gunicorn(
        env, ctx.work, app="bench_sameshape:make_app()", name="sameshape", pythonpath=SCRIPTS
    ) as (_server, base):
        status, body = get(base, host, f"/p/{ids[0]}")
        if status != 200 or b"Card 00000" not in body:
            raise RuntimeError(f"same-shape product page answered {status}")
        return {
            "product_page": measure(
                base, host, timed, warm, path=f"/p/{ids[0]}", lines=lines["pages"]
            ),
            "products_api": measure(base, host, timed, warm, path="/api/v1/products"),
            "products_api_browsing": measure(
                base, host, timed, warm, path="/api/v1/products", lines=lines["browse"]
            ),
            "product_page_bytes": len(get(base, host, f"/p/{ids[-1]}")[1]),
        }


def render_alone(app, product_id) -> dict:
    """Milliseconds of one render of ``product.html``: inside the platform
    (``render_shop`` in a request context of the shop, after its
    before-request hooks; the product read once) and in the same-shape
    app's plain Jinja environment with the same product."""
    import bench_sameshape
    from flask import g

    from app.catalog import browse
    from app.core.money import money_formatter
    from app.core.themes import render_shop

    def timed(render) -> float:
        for _ in range(20):
            render()
        began = time.perf_counter()
        for _ in range(RENDERS):
            render()
        return (time.perf_counter() - began) * 1000 / RENDERS

    with app.test_request_context(f"/p/{product_id}", headers={"Host": host_of(SLUG)}):
        app.preprocess_request()
        item = browse.product_page(product_id)
        money = money_formatter(g.shop.currency)
        platform_ms = timed(lambda: render_shop("product.html", item=item, money=money))
        html = render_shop("product.html", item=item, money=money)
        shop = {"name": g.shop.name, "theme": "default", "brand_color": None}
        shop.update(logo_file=None, announcement=None, is_suspended=False)
        from types import SimpleNamespace

        plain = bench_sameshape._environment().get_template("product.html")
        shown = SimpleNamespace(
            **{
                name: getattr(item, name)
                for name in ("id", "name", "description", "price", "compare_at", "stock")
                + ("sold_out", "min_quantity", "max_quantity", "input_fields", "images")
            }
        )
        context = {"item": shown, "money": bench_sameshape._money}
        context["shop"] = SimpleNamespace(**shop)
        plain_ms = timed(lambda: plain.render(**context))
        plain_html = plain.render(**context)
    return {
        "renders": RENDERS,
        "platform_ms": round(platform_ms, 3),
        "plain_jinja_ms": round(plain_ms, 3),
        "platform_bytes": len(html.encode()),
        "plain_bytes": len(plain_html.encode()),
    }


def run(ctx: bc.Context) -> bc.Outcome:
    timed, warm = seconds_of(ctx)
    url = ctx.new_database(DATABASE)
    env = bc.app_env(ctx, url)
    ctx.flush_redis()

    began = time.monotonic()
    with bc.migrated_app(env) as app:
        migrated = time.monotonic()
        seeded = seed_shop(app, SLUG, products=PRODUCTS)
        seed_seconds = time.monotonic() - migrated
        vacuum_analyze(ctx, DATABASE)
        import bench_sameshape

        ids = seeded["product_ids"]
        captured = bench_sameshape.capture(
            app,
            host_of(SLUG),
            {
                "product": f"/p/{ids[0]}",
                "list": "/api/v1/products",
                "list_category": f"/api/v1/products?category_id={seeded['top_categories'][0]}",
                "list_search": "/api/v1/products?q=0042",
            },
        )
        rendering = render_alone(app, ids[0])
    print(
        f"  migrated in {migrated - began:.1f} s; seeded {PRODUCTS:,} products "
        f"({STOCKED} with {CODES_PER_PRODUCT} codes) in {seed_seconds:.1f} s",
        flush=True,
    )
    spec = {
        "dsn": ctx.dsn(DATABASE),
        "shop": {
            "name": f"Bench shop {SLUG}",
            "theme": "default",
            "brand_color": None,
            "logo_file": None,
            "announcement": None,
            "is_suspended": False,
        },
        "product_id": str(ids[0]),
        "pages": captured,
    }
    spec_file = ctx.work / "storefront-sameshape.json"
    spec_file.write_text(json.dumps(spec, ensure_ascii=False, indent=1))
    print(
        "  captured the platform's SQL: "
        + ", ".join(f"{name} {len(page['statements'])}" for name, page in captured.items())
        + " statements",
        flush=True,
    )
    print(
        f"  a template render alone (product.html, mean of {RENDERS}): "
        f"platform {rendering['platform_ms']:.2f} ms ({rendering['platform_bytes']:,} bytes), "
        f"plain Jinja {rendering['plain_jinja_ms']:.2f} ms ({rendering['plain_bytes']:,} bytes)",
        flush=True,
    )

    host = host_of(SLUG)
    pages = write_lines(ctx.work / "storefront-product-pages.txt", [f"/p/{i}" for i in ids])
    browse = [f"/api/v1/products?page={n}" for n in range(1, PRODUCTS // 20 + 1)]
    browse += [
        f"/api/v1/products?category_id={c}"
        for c in seeded["top_categories"] + seeded["child_categories"]
    ]
    browse += [f"/api/v1/products?q={q}" for q in ("0042", "card%2001", "%E7%82%B9%E5%8D%A1")]
    browse_file = write_lines(ctx.work / "storefront-api-browse.txt", browse)

    data: dict = {
        "products": PRODUCTS,
        "stocked_products": STOCKED,
        "seed_seconds": round(seed_seconds, 1),
        "migrate_seconds": round(migrated - began, 1),
        "seconds_per_run": timed,
        "warm_up_seconds": warm,
        "connections": CONNECTIONS,
    }
    problems: list[str] = []
    measured: dict[str, dict] = {}
    peaks: list[float] = []
    for mode, extra in MODES:
        print(f"  -- page cache {mode}", flush=True)
        with bc.gunicorn({**env, **extra}, ctx.work, name=f"storefront-{mode}") as (server, base):
            # Correctness before load: a stocked product's page, and the API's total.
            status, body = get(base, host, f"/p/{ids[0]}")
            if status != 200 or b"Card 00000" not in body:
                problems.append(f"product page answered {status} without the product's name")
            status, body = get(base, host, "/api/v1/products")
            listing = json.loads(body)
            if status != 200 or listing.get("total") != PRODUCTS or len(listing["items"]) != 20:
                problems.append(f"products API answered {status}, total {listing.get('total')}")
            data["product_page_bytes"] = len(get(base, host, f"/p/{ids[-1]}")[1])
            data["products_api_bytes"] = len(body)

            results = {
                "product_page": measure(base, host, timed, warm, path=f"/p/{ids[0]}", lines=pages),
                "products_api": measure(base, host, timed, warm, path="/api/v1/products"),
                "products_api_browsing": measure(
                    base, host, timed, warm, path="/api/v1/products", lines=browse_file
                ),
            }
            for name, result in results.items():
                print(f"  {name.replace('_', ' ')}: {describe(result)}", flush=True)
            server.check_alive()
            peaks += bc.web_worker_peaks(server)
        measured[mode] = results

    bare = bare_ceiling(ctx, env, timed, warm)
    print(f"  bare Flask: {describe(bare)}", flush=True)
    same = same_shape_ceiling(
        ctx,
        {**env, "SAMESHAPE_SPEC": str(spec_file)},
        timed,
        warm,
        {"pages": pages, "browse": browse_file},
        ids,
    )
    data["sameshape_product_page_bytes"] = same.pop("product_page_bytes")
    for name, result in same.items():
        print(f"  same shape, {name.replace('_', ' ')}: {describe(result)}", flush=True)

    named = {f"{name}_cache_{mode}": r for mode, rs in measured.items() for name, r in rs.items()}
    data.update(
        {
            **named,
            "bare_flask": bare,
            **{f"sameshape_{name}": r for name, r in same.items()},
            "sameshape_statements": {
                name: [st["sql"] for st in page["statements"]] for name, page in captured.items()
            },
            "render_alone": rendering,
            "web_worker_peaks_mb": [round(p, 1) for p in peaks],
            "web_worker_peak_mb": round(max(peaks, default=0.0), 1),
        }
    )
    checked = [*named.items(), ("bare_flask", bare)]
    checked += [(f"sameshape_{name}", r) for name, r in same.items()]
    for key, result in checked:
        if result["errors"] or result["requests"] == 0:
            problems.append(f"{key}: {result['errors']:,} errors in {result['requests']:,}")
    data["problems"] = problems
    for problem in problems:
        print(f"  PROBLEM: {problem}", flush=True)

    def row(figure: str, result: dict, ceiling: dict, name: str, target: float) -> bc.Row:
        ratio = result["rps"] / ceiling["rps"] if ceiling["rps"] else None
        return bc.Row(
            "storefront",
            figure,
            describe(result),
            f"{name} {bc.fmt_rate(ceiling['rps'], 'req/s')}, p99 {ceiling['p99_ms']:,.0f} ms",
            ratio,
            f">= {target:.0%}".replace("%", " %"),
            None if ratio is None else ratio >= target,
        )

    labels = {
        "product_page": f"product page (random of {PRODUCTS:,})",
        "products_api": "GET /api/v1/products (page 1)",
        "products_api_browsing": "GET /api/v1/products (pages 1-500, filters)",
    }
    rows = [
        row(label, measured["on"][key], bare, "bare Flask", TARGET) for key, label in labels.items()
    ]
    rows += [
        row(
            f"{label}, page cache off",
            measured["off"][key],
            same[key],
            "same shape",
            SAME_SHAPE_TARGET,
        )
        for key, label in labels.items()
    ]
    rows.append(
        bc.Row(
            "storefront",
            "bare Flask (reference, no database)",
            describe(bare),
            "",
            None,
            "",
        )
    )
    rows.append(
        bc.Row(
            "storefront",
            "product.html render alone",
            f"{rendering['platform_ms']:.2f} ms ({rendering['platform_bytes']:,} bytes)",
            f"plain Jinja {rendering['plain_jinja_ms']:.2f} ms ({rendering['plain_bytes']:,} bytes)",
            rendering["plain_jinja_ms"] / rendering["platform_ms"]
            if rendering["platform_ms"]
            else None,
            "",
        )
    )
    return bc.Outcome(rows=rows, data=data, ok=not problems)
