"""The same-shape ceiling of the storefront benchmark: a bare Flask app that
runs, for each request, THE SAME SQL the platform runs for that page,
through psycopg, and renders THE SAME theme template, with none of the
platform's layers (no tenant guard, no ORM, no session, no CSRF, no rate
limiter, no Babel, no page cache, no visit counting).

How it is the same:

- **SQL.** ``capture`` asks the platform itself (its own app, in the bench
  driver's process, page cache off) for each page once, and records every
  statement it sends to PostgreSQL with its parameters
  (``before_cursor_execute``: the text psycopg receives). The app replays
  those texts verbatim with psycopg (one connection per thread, a
  transaction per request as the platform's session has, rolled back at the
  end), changing only the parameters a request changes: the product's id,
  the moment (``now``, for expired holds), the page's LIMIT/OFFSET, the
  category and the search pattern (the names of the platform's bind
  parameters: ``app/catalog/shelf.py``).
- **Template.** ``GET /p/<id>`` renders ``themes/default/templates/
  product.html`` with its ``base.html``, ``storefront_macros.html`` and
  ``app/templates/macros/forms.html``, in a plain ``jinja2.Environment``
  (compiled once, no auto-reload), with stubs for what the template calls:
  ``_`` formats its text as given, ``url_for`` builds the same paths by
  hand, ``money`` formats minor units, ``csp_nonce`` is fixed. The page is
  about the platform's size (``capture`` records both; the bench prints
  them).
- **JSON.** ``GET /api/v1/products`` answers the public list's shape
  (``items`` with the same fields, ``total``, ``page``, ``per_page``)
  built from the rows by hand and ``json.dumps``.

Served by the same gunicorn settings as the platform
(``bench_common.gunicorn`` with ``bench_sameshape:make_app()``), so the
ratio platform / same-shape says what the platform's own layers cost on
top of the database and the template. ``SAMESHAPE_SPEC`` names the JSON
file ``capture`` wrote.

Not a scenario itself: ``bench_storefront.py`` uses it.
"""

from __future__ import annotations

import json
import os
import re
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent


# --- capture (in the bench driver, with the platform's app) -------------------


def _encode(value):
    if isinstance(value, uuid.UUID):
        return {"uuid": str(value)}
    if isinstance(value, datetime):
        return {"now": True}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    return value


def _decode(value, now: datetime):
    if isinstance(value, dict):
        if "uuid" in value:
            return uuid.UUID(value["uuid"])
        if "now" in value:
            return now
    if isinstance(value, list):
        return [_decode(v, now) for v in value]
    return value


def capture(app, host: str, paths: dict[str, str]) -> dict:
    """Each of ``paths`` (name → path) asked of the platform once, page
    cache off: the statements it sent, in order, with their parameters, and
    the size of its answer."""
    from sqlalchemy import event

    from app.extensions import db

    with app.app_context():
        engine = db.engine
    app.config["PAGE_CACHE_SECONDS"] = 0
    client = app.test_client()
    found: dict = {}
    for name, path in paths.items():
        client.get(path, headers={"Host": host})  # first use: caches filled
        seen: list = []

        def record(conn, cursor, statement, parameters, context, executemany, seen=seen):
            seen.append({"sql": statement, "params": _encode(dict(parameters or {}))})

        event.listen(engine, "before_cursor_execute", record)
        try:
            answer = client.get(path, headers={"Host": host})
        finally:
            event.remove(engine, "before_cursor_execute", record)
        assert answer.status_code == 200, (path, answer.status_code)
        found[name] = {"path": path, "statements": seen, "bytes": len(answer.data)}
    return found


# --- the app -----------------------------------------------------------------


def _money(minor: int) -> str:
    sign = "-" if minor < 0 else ""
    whole, cents = divmod(abs(int(minor)), 100)
    return f"{sign}¥{whole:,}.{cents:02d}"


def _gettext(text: str, **values) -> str:
    return text % values if values else text


_PATHS = {
    "index": "/",
    "storefront.search": "/search",
    "orders_pages.lookup": "/lookup",
    "accounts.login": "/account/login",
    "accounts.signup": "/account/signup",
}


def _url_for(endpoint: str, **values) -> str:
    if endpoint == "storefront.media":
        return f"/media/{values['image_id']}"
    if endpoint == "orders_pages.buy":
        return f"/buy/{values['product_id']}"
    if endpoint == "theme_static":
        return f"/theme/{values['theme']}/{values['filename']}"
    return _PATHS.get(endpoint, "/")


def _environment():
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    env = Environment(
        loader=FileSystemLoader(
            [str(ROOT / "themes" / "default" / "templates"), str(ROOT / "app" / "templates")]
        ),
        autoescape=select_autoescape(["html"]),
        auto_reload=False,
    )
    locale = SimpleNamespace(language="en")
    env.globals.update(
        _=_gettext,
        url_for=_url_for,
        get_locale=lambda: locale,
        csp_nonce=lambda: "sameshape",
        csrf_token=lambda: "",
        get_flashed_messages=lambda **_: [],
        current_user=SimpleNamespace(is_authenticated=False),
        brand_palette=lambda _color: {
            "accent": "#e4572e",
            "accent_dark": "#b64524",
            "on_accent": "#000000",
        },
        shop_image_url=lambda _kind: None,
        theme_setting=lambda _name, default=None: default,
        platform_name="Kameng",
        sandbox_payments=False,
    )
    return env


class _Columns:
    """Where the platform's statement puts what the page shows, by the
    column names psycopg reports (checked once: a changed statement fails
    loudly here rather than measuring something else)."""

    def __init__(self, description) -> None:
        names = [c.name for c in description]
        first = {}
        for i, name in enumerate(names):
            first.setdefault(name, i)
        self.at = first
        tenant = first["tenant_id"]  # the product's last column; its stock follows
        self.expired, self.sourced = tenant + 1, tenant + 2
        self.image = first.get("id_1")
        self.total = first.get("total")


def _products(rows, cols: _Columns) -> list[SimpleNamespace]:
    """The rows as products: a row per image, the product's stock beside it."""
    at = cols.at
    products: dict = {}
    for row in rows:
        pid = row[at["id"]]
        if pid is None:  # a page past the last: the total's row alone
            continue
        item = products.get(pid)
        if item is None:
            sourced = row[cols.sourced]
            stock = None
            if row[at["kind"]] == "card" and sourced is not None:
                stock = row[at["stock_available"]] + (row[cols.expired] or 0) + sourced
            item = products[pid] = SimpleNamespace(
                id=pid,
                name=row[at["name"]],
                kind=row[at["kind"]],
                category_id=row[at["category_id"]],
                description=row[at["description"]],
                price=row[at["price"]],
                compare_at=None,
                min_quantity=row[at["min_quantity"]],
                max_quantity=row[at["max_quantity"]],
                input_fields=row[at["input_fields"]] or [],
                stock=stock,
                sold_out=stock is not None and stock <= 0,
                images=[],
            )
        if cols.image is not None and row[cols.image] is not None:
            item.images.append(
                SimpleNamespace(
                    id=row[cols.image],
                    content_type=row[at["content_type"]],
                    size=row[at["size"]],
                )
            )
    return list(products.values())


def _public(item) -> dict:
    return {
        "id": str(item.id),
        "name": item.name,
        "kind": item.kind,
        "category_id": None if item.category_id is None else str(item.category_id),
        "description": item.description,
        "price": item.price,
        "retail_price": item.price,
        "stock": item.stock,
        "min_quantity": item.min_quantity,
        "max_quantity": item.max_quantity,
        "input_fields": item.input_fields,
        "images": [
            {
                "id": str(i.id),
                "url": f"http://localhost/media/{i.id}",
                "content_type": i.content_type,
                "size": i.size,
            }
            for i in item.images
        ],
    }


def make_app():
    """The same-shape app for the spec in ``SAMESHAPE_SPEC``."""
    import psycopg
    from flask import Flask, Response, abort, request

    spec = json.loads(Path(os.environ["SAMESHAPE_SPEC"]).read_text())
    dsn = spec["dsn"]
    shop = SimpleNamespace(**spec["shop"])
    pages = spec["pages"]
    product_id = spec["product_id"]
    env = _environment()
    template = env.get_template("product.html")
    local = threading.local()

    def connection():
        conn = getattr(local, "conn", None)
        if conn is None or conn.closed:
            conn = local.conn = psycopg.connect(dsn)
        return conn

    def replay(statements: list[dict], change) -> list:
        """Every statement of the page with the request's parameters; the
        rows and columns of the one that reads products."""
        now = datetime.now(UTC)
        conn = connection()
        found = ([], None)
        try:
            with conn.cursor() as cur:
                for statement in statements:
                    params = {k: _decode(v, now) for k, v in statement["params"].items()}
                    change(params)
                    cur.execute(statement["sql"], params)
                    if cur.description is not None:
                        rows = cur.fetchall()
                        if "FROM products" in statement["sql"] and found[1] is None:
                            found = (rows, _Columns(cur.description))
        finally:
            conn.rollback()
        return found

    app = Flask("sameshape")
    uuid_text = re.compile(r"[0-9a-fA-F-]{32,36}")

    @app.get("/")
    def alive():
        return "ok"

    @app.get("/p/<ident>")
    def product(ident: str):
        if not uuid_text.fullmatch(ident):
            abort(404)
        wanted = uuid.UUID(ident)
        old = uuid.UUID(product_id)

        def change(params):
            for key, value in params.items():
                if value == old:
                    params[key] = wanted

        rows, cols = replay(pages["product"]["statements"], change)
        if not rows:
            abort(404)
        item = _products(rows, cols)[0]
        html = template.render(item=item, money=_money, shop=shop)
        return Response(html, mimetype="text/html")

    @app.get("/api/v1/products")
    def products():
        page = max(1, request.args.get("page", 1, type=int))
        per_page = request.args.get("per_page", 20, type=int)
        category = request.args.get("category_id")
        text = (request.args.get("q") or "").strip()
        shape = "list_category" if category else "list_search" if text else "list"
        needle = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"

        def change(params):
            params["limit"] = per_page
            params["offset"] = (page - 1) * per_page
            if category:
                params["category_id"] = uuid.UUID(category)
            if text:
                params["needle"] = needle

        rows, cols = replay(pages[shape]["statements"], change)
        items = _products(rows, cols) if rows else []
        total = rows[0][cols.total] if rows else 0
        body = {
            "items": [_public(i) for i in items],
            "total": total,
            "page": page,
            "per_page": per_page,
        }
        return Response(json.dumps(body, ensure_ascii=False), mimetype="application/json")

    return app
