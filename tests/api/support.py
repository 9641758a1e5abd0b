"""Helpers of the API tests: problem-document checks, bearer headers and a
shop's rows as the database holds them."""

from __future__ import annotations

from sqlalchemy import select

from app.extensions import db

PROBLEM_KEYS = {"type", "title", "status", "detail", "instance"}


def assert_problem(response, status: int, slug: str | None = None) -> dict:
    """``response`` is an RFC 9457 problem document with ``status`` (and ``type`` slug)."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert PROBLEM_KEYS <= set(body), body
    assert body["status"] == status
    assert body["type"].startswith("https://")
    if slug is not None:
        assert body["type"].rsplit("/", 1)[1] == slug, body
    assert body["title"] and body["detail"]
    assert body["instance"] == response.request.path
    return body


def bearer(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


def shop_rows(app, tenant_id) -> dict[str, list[dict]]:
    """Every tenant-owned row of one shop, table by table, read around the ORM."""
    snapshot: dict[str, list[dict]] = {}
    with app.app_context(), db.engine.connect() as conn:
        for table in db.metadata.sorted_tables:
            if "tenant_id" not in table.c:
                continue
            rows = conn.execute(select(table).where(table.c.tenant_id == tenant_id)).mappings()
            snapshot[table.name] = sorted((dict(r) for r in rows), key=lambda r: str(r["id"]))
    return snapshot


def api_key_rows(app, tenant_id) -> list[dict]:
    return shop_rows(app, tenant_id)["api_keys"]


def csrf_header(browser, page: str = "/console/login") -> dict:
    """The header a session caller's API writes carry; the token comes from a form page."""
    return {"X-CSRFToken": browser.csrf_token(page)}
