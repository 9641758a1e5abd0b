"""Card codes are never in the clear: not in any table, not in any log (ours
at DEBUG, and a real worker's), not in Redis, not in any operator answer.
Only the audited reveal and export show them.

Every code carries a marker made of letters that are not hex digits, so a
ciphertext or fingerprint printed in hex can never match it by chance.
"""

from __future__ import annotations

import io
import logging
import random
import time
import zlib

import pytest
from sqlalchemy import inspect, text

from app.catalog import imports
from app.extensions import db
from tests.catalog.support import no_stored_codes
from tests.factories import add_product

pytestmark = pytest.mark.critical

NOT_HEX = "ghjkmnpqrstvwxyz"


def marker() -> str:
    return "".join(random.choice(NOT_HEX) for _ in range(12))


def database_dump(app) -> list[tuple[str, object]]:
    """Every value of every row of every table in the database, read with SQL."""
    values = []
    with app.app_context(), db.engine.connect() as conn:
        for table in inspect(conn).get_table_names():
            for row in conn.execute(text(f'SELECT * FROM "{table}"')):
                values.extend((table, value) for value in row)
    return values


def found_in_database(app, needle: str) -> list[str]:
    raw = needle.encode()
    hits = []
    for table, value in database_dump(app):
        if isinstance(value, (bytes, bytearray, memoryview)):
            if raw in bytes(value):
                hits.append(table)
        elif needle in str(value):
            hits.append(table)
    return hits


def found_in_redis(app, needle: str) -> list[str]:
    """Keys whose value (RQ's compressed job data included) holds ``needle``."""
    from app.core.redisconn import get_redis

    raw = needle.encode()
    hits = []
    with app.app_context():
        r = get_redis(app)
        for key in r.scan_iter("*"):
            kind = r.type(key)
            if kind == b"string":
                blobs = [r.get(key)]
            elif kind == b"hash":
                blobs = list(r.hgetall(key).values())
            elif kind == b"list":
                blobs = r.lrange(key, 0, -1)
            elif kind == b"set":
                blobs = list(r.smembers(key))
            elif kind == b"zset":
                blobs = r.zrange(key, 0, -1)
            else:
                blobs = []
            for blob in blobs:
                try:
                    blob = blob + zlib.decompress(blob)
                except (zlib.error, TypeError):
                    pass
                if blob and raw in blob:
                    hits.append(key.decode(errors="replace"))
    return hits


def fill(rule: str, ids: dict) -> str:
    path = rule
    for name, value in ids.items():
        path = path.replace(f"<{name}>", str(value))
    return path


def test_codes_are_in_no_table_log_redis_or_operator_answer_only_in_audited_reveals(
    app, card_shop, card_product, api_for, caplog, monkeypatch, verbose_worker
):
    # Every logger at DEBUG (SQLAlchemy's own default is WARNING): each SQL
    # statement with its parameters and result rows is logged.
    caplog.set_level(logging.DEBUG)
    for name in list(logging.root.manager.loggerDict):
        caplog.set_level(logging.DEBUG, logger=name)
    secret = marker()
    control = marker()
    named = add_product(app, card_shop, name=f"CONTROL {control}")
    assert found_in_database(app, control) == ["products"]  # the dump does see the data

    codes = [f"{secret}N{i:05d}----{secret}P{i:05d}" for i in range(3_000)]
    api = api_for(card_shop)
    answers = []

    def keep(response):
        answers.append((response.request.path, response.get_data(as_text=True)))
        return response

    # Small uploads, in the request: text, a file, a rejected file, a lost race.
    assert keep(api.import_text(card_product, "\n".join(codes[:1000]))).status_code == 201
    keep(
        api.post(
            f"/api/v1/products/{named}/cards",
            data={"file": (io.BytesIO("\n".join(codes[1000:1500]).encode("gbk")), "f.txt")},
            content_type="multipart/form-data",
        )
    )
    rejected = keep(api.import_text(card_product, "\n".join([*codes[1500:1600], "a|b|c"])))
    assert rejected.status_code == 422
    keep(api.import_text(card_product, "\n".join(codes[:1000])))  # all duplicates
    with monkeypatch.context() as m:
        m.setattr(imports, "_fingerprint_lookup", no_stored_codes)
        assert keep(api.import_text(card_product, "\n".join(codes[:10]))).status_code == 409

    # A large upload through a real worker (logging every SQL statement).
    monkeypatch.setitem(app.config, "CARD_IMPORT_SYNC_LIMIT", 100)
    queued = keep(api.import_text(card_product, "\n".join(codes[1600:])))
    assert queued.status_code == 202
    deadline = time.monotonic() + 60
    while (state := api.get(queued.headers["Location"]).get_json())["status"] != "done":
        assert state["status"] in ("queued", "running") and time.monotonic() < deadline, state
        time.sleep(0.05)
    assert state["report"]["imported"] == 1_400

    # Every GET the API serves, aimed at this shop's real ids.
    cards = api.get(f"/api/v1/products/{card_product}/cards?per_page=500").get_json()["items"]
    api.post("/api/v1/cards/void", json={"ids": [cards[0]["id"]]})
    ids = {
        "product_id": card_product,
        "import_id": queued.get_json()["id"],
        "card_id": cards[1]["id"],
        "alert_id": "00000000-0000-7000-8000-000000000000",
    }
    gets = sorted(
        rule.rule
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/")
        and "GET" in rule.methods
        and not rule.rule.endswith(("openapi.json", "docs"))
    )
    for rule in gets:
        path = fill(rule, ids)
        if "<" not in path:
            keep(api.get(path))
    for path in (
        f"/api/v1/products/{card_product}/cards?status=void",
        f"/api/v1/products/{named}/cards",
        f"/api/v1/products/{card_product}/stock",
        "/api/v1/stock-alerts?include_acknowledged=true",
    ):
        keep(api.get(path))
    assert any("/cards" in path for path, _ in answers)
    for path, body in answers:
        assert secret not in body, f"a code in the answer to {path}"

    # The audited ways do show codes, and leave their audit rows.
    revealed = api.post(f"/api/v1/cards/{cards[1]['id']}/reveal").get_json()
    assert revealed["code"].startswith(secret)
    exported = api.post(f"/api/v1/products/{card_product}/cards/export").get_data(as_text=True)
    assert exported.count(secret) == 2 * 2_399  # 1,000 + 1,400 stored, one void

    assert found_in_database(app, secret) == [], "a code in the database"
    assert found_in_redis(app, secret) == [], "a code in Redis"
    actions = [v for t, v in database_dump(app) if t == "audit_events" and isinstance(v, str)]
    assert "card.reveal" in actions and "cards.export" in actions

    assert any(r.name.startswith("sqlalchemy.engine") for r in caplog.records)
    for record in caplog.records:
        assert secret not in record.getMessage(), f"a code logged by {record.name}"
    assert secret not in caplog.text

    process, log_path = verbose_worker
    process.terminate()
    process.wait(timeout=15)
    worker_log = log_path.read_text(errors="replace")
    assert "FROM card_imports" in worker_log  # SQL was logged
    assert secret not in worker_log, "a code in the worker's log"
