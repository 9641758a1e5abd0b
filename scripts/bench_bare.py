"""The ceiling of the web benchmarks: a bare Flask app with no database, no
Redis, no extensions and no templates.

``scripts/bench storefront`` serves it with the same gunicorn settings as the
platform (``scripts/gunicorn.conf.py``: gthread, one process per core,
``WEB_THREADS`` threads each) and measures it with the same wrk load, so the
ratio says how much of the web server's and Flask's own throughput the
platform keeps once it resolves a shop, queries PostgreSQL and renders a page.

- ``GET /`` (any path): a small HTML page (about 1 KB, the response a
  minimal page view would send);
- ``GET /json``: a small JSON document.

Not a scenario itself: ``bench_run.py`` does not list it.
"""

from __future__ import annotations

from flask import Flask, jsonify

app = Flask(__name__)

PAGE = (
    "<!doctype html>\n<html lang=en><head><meta charset=utf-8>"
    "<title>Bare</title></head><body><main><h1>Bare Flask</h1>"
    + "".join(f"<p>Line {i} of a small page with no database behind it.</p>" for i in range(16))
    + "</main></body></html>\n"
)


@app.get("/")
@app.get("/<path:anything>")
def page(anything: str = ""):
    return PAGE


@app.get("/json")
def document():
    return jsonify(items=[{"id": i, "name": f"item {i}", "price": 100 + i} for i in range(5)])
