"""Bulk card import through the API: every format, all or nothing, duplicates
reported, large files as a job with progress."""

from __future__ import annotations

import io
import time

import pytest
from sqlalchemy import select

from app.catalog import imports
from app.catalog.models import CardImport
from app.extensions import db
from tests.catalog.support import card_rows, codes, no_stored_codes, stock_counter
from tests.factories import add_product, assert_problem


def test_same_10000_line_gbk_file_twice_imports_then_reports_duplicates(
    app, card_shop, card_product, api_for, monkeypatch
):
    monkeypatch.setitem(app.config, "CARD_IMPORT_SYNC_LIMIT", 20_000)
    lines = [f"点卡{i:06d}----密码{i:06d}" for i in range(10_000)]
    raw = "\r\n".join(lines).encode("gbk") + b"\r\n"
    api = api_for(card_shop)

    first = api.import_text(card_product, raw)
    assert first.status_code == 201, first.get_data(as_text=True)
    body = first.get_json()
    assert (body["imported"], body["duplicates"], body["invalid"]) == (10_000, 0, 0)
    assert body["encoding"] == "gb18030"
    assert body["duplicate_lines"] == [] and body["invalid_lines"] == []
    assert first.headers["Location"] == body["url"] == f"/api/v1/card-imports/{body['id']}"

    second = api.import_text(card_product, raw)
    assert second.status_code == 200, second.get_data(as_text=True)
    again = second.get_json()
    assert (again["imported"], again["duplicates"], again["invalid"]) == (0, 10_000, 0)
    assert again["duplicate_lines"] == list(range(1, 101))  # the first 100

    assert len(card_rows(app, card_shop.tenant_id)) == 10_000
    assert stock_counter(app, card_product) == 10_000
    stock = api.get(f"/api/v1/products/{card_product}/stock").get_json()
    assert stock["available"] == stock["sellable"] == stock["stock_available"] == 10_000


def test_malformed_file_gets_line_numbers_and_imports_nothing(
    app, card_shop, card_product, api_for
):
    text = "GOOD-1\nA|B|C\nGOOD-2\n\nGOOD-1\n" + "X" * 300 + "\nGOOD-3\n"
    response = api_for(card_shop).import_text(card_product, text)

    body = assert_problem(response, 422, "invalid-card-file")
    assert body["imported"] == 0
    assert body["invalid"] == 2
    assert body["invalid_lines"] == [
        {"line": 2, "reason": "3 fields; expected a code or number and password"},
        {"line": 6, "reason": "longer than 255 characters"},
    ]
    assert body["duplicates"] == 1 and body["duplicate_lines"] == [5]
    assert "Nothing was imported" in body["detail"]
    assert card_rows(app, card_shop.tenant_id) == []
    assert stock_counter(app, card_product) == 0
    job = api_for(card_shop).get(body["url"]).get_json()
    assert job["status"] == "rejected" and job["report"]["invalid"] == 2


def test_report_lists_only_the_first_100_of_each_kind(app, card_shop, card_product, api_for):
    text = "\n".join(["A|B|C"] * 150) + "\n"
    body = assert_problem(
        api_for(card_shop).import_text(card_product, text), 422, "invalid-card-file"
    )
    assert body["invalid"] == 150
    assert [i["line"] for i in body["invalid_lines"]] == list(range(1, 101))


@pytest.mark.parametrize(
    ("raw", "encoding"),
    [
        ("\ufeffK1----P1\r\nK2----P2\r\n".encode(), "utf-8-sig"),
        (b"K1----P1\rK2----P2\r", "utf-8"),
        (b"K1\tP1\nK2\tP2\n", "utf-8"),
        (b"K1|P1\nK2|P2", "utf-8"),
        (b"card,password\r\nK1,P1\r\nK2,P2\r\n", "utf-8"),
        ("卡号,密码\nK1,P1\nK2,P2\n".encode("gbk"), "gb18030"),
    ],
    ids=["utf8-bom-crlf", "cr-only", "tabs", "bar", "csv-header", "gbk-csv"],
)
def test_every_format_imports_the_same_two_cards(
    app, card_shop, card_product, api_for, raw, encoding
):
    api = api_for(card_shop)
    body = api.import_text(card_product, raw).get_json()
    assert (body["imported"], body["encoding"]) == (2, encoding)
    # The same two cards written another way are duplicates, not new stock.
    again = api.import_text(card_product, "K1, P1\n  K2 ---- P2  \n").get_json()
    assert (again["imported"], again["duplicates"]) == (0, 2)


def test_upload_as_a_multipart_file_keeps_its_name(app, card_shop, card_product, api_for):
    response = api_for(card_shop).post(
        f"/api/v1/products/{card_product}/cards",
        data={"file": (io.BytesIO(b"F1\nF2\nF1\n"), "supplier.txt")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.get_json()
    assert (body["imported"], body["duplicates"], body["duplicate_lines"]) == (2, 1, [3])
    with app.app_context(), db.engine.connect() as conn:
        table = CardImport.__table__
        assert conn.execute(select(table.c.filename)).scalar() == "supplier.txt"


def test_codes_already_in_another_product_of_the_shop_are_duplicates(
    app, card_shop, card_product, api_for
):
    second = add_product(app, card_shop, name="Other card")
    api = api_for(card_shop)
    api.import_text(card_product, "SHARED\nONLY-A\n")
    body = api.import_text(second, "SHARED\nONLY-B\n").get_json()
    assert (body["imported"], body["duplicates"]) == (1, 1)


def test_another_shop_may_hold_the_same_codes(
    app, card_shop, other_card_shop, card_product, api_for
):
    theirs = add_product(app, other_card_shop)
    api_for(card_shop).import_text(card_product, "SAME-1\nSAME-2\n")
    body = api_for(other_card_shop).import_text(theirs, "SAME-1\nSAME-2\n").get_json()
    assert body["imported"] == 2


def test_a_product_that_is_not_a_card_product_takes_no_codes(app, card_shop, api_for):
    topup = add_product(app, card_shop, kind="topup")
    body = assert_problem(api_for(card_shop).import_text(topup, "X1\n"), 422, "validation-failed")
    assert body["errors"] == {"kind": ["Not a card product."]}


def test_unknown_or_other_shops_product_is_not_found(app, card_shop, other_card_shop, api_for):
    theirs = add_product(app, other_card_shop)
    api = api_for(card_shop)
    assert_problem(api.import_text(theirs, "X1\n"), 404, "not-found")
    assert_problem(api.import_text("not-an-id", "X1\n"), 404, "not-found")
    assert card_rows(app, other_card_shop.tenant_id) == []


def test_empty_upload_is_refused(card_shop, card_product, api_for):
    body = assert_problem(
        api_for(card_shop).import_text(card_product, "\n \n"), 422, "validation-failed"
    )
    assert body["errors"] == {"file": ["No codes found."]}


def test_json_is_not_an_upload_format(card_shop, card_product, api_for):
    response = api_for(card_shop).post(
        f"/api/v1/products/{card_product}/cards", json={"codes": ["A"]}
    )
    assert_problem(response, 415, "unsupported-media-type")


def test_bytes_that_are_not_text_are_rejected_whole(app, card_shop, card_product, api_for):
    body = assert_problem(
        api_for(card_shop).import_text(card_product, b"\xff\xfe\x00\x81\n"),
        422,
        "invalid-card-file",
    )
    assert "neither UTF-8 nor GB18030" in body["detail"]
    assert card_rows(app, card_shop.tenant_id) == []


def test_an_upload_over_the_size_limit_is_a_413_problem(
    app, card_shop, card_product, api_for, monkeypatch
):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 1024)
    api = api_for(card_shop)
    body = assert_problem(api.import_text(card_product, "C" * 2048), 413, "payload-too-large")
    assert body["detail"].startswith("Uploads are limited to 1,024 bytes;")
    assert body["limit"] == 1024
    multipart = api.post(
        f"/api/v1/products/{card_product}/cards",
        data={"file": (io.BytesIO(b"C" * 4096), "big.txt")},
        content_type="multipart/form-data",
    )
    assert_problem(multipart, 413, "payload-too-large")
    assert card_rows(app, card_shop.tenant_id) == []


def test_staff_may_import(app, card_shop, card_product, api_for):
    response = api_for(card_shop, card_shop.staff_key).import_text(card_product, "S1\n")
    assert response.status_code == 201
    assert response.get_json()["imported"] == 1
    [card] = card_rows(app, card_shop.tenant_id)
    assert (card["product_id"], card["status"]) == (card_product, "available")
    assert stock_counter(app, card_product) == 1


def test_import_needs_an_operator(card_shop, card_product, api_for):
    assert_problem(api_for(card_shop, None).import_text(card_product, "S1\n"), 401, "unauthorized")


def test_a_lost_race_with_another_import_stores_nothing(
    app, card_shop, card_product, api_for, monkeypatch
):
    api = api_for(card_shop)
    api.import_text(card_product, "RACE-1\n")
    # As if another import stored RACE-1 between our duplicate check and our insert.
    monkeypatch.setattr(imports, "_fingerprint_lookup", no_stored_codes)
    body = assert_problem(
        api.import_text(card_product, "RACE-0\nRACE-1\nRACE-2\n"), 409, "import-conflict"
    )
    assert "nothing was imported" in body["detail"]
    assert len(card_rows(app, card_shop.tenant_id)) == 1
    assert stock_counter(app, card_product) == 1


def test_large_upload_waits_encrypted_and_its_job_imports_it(
    app, card_shop, card_product, api_for, monkeypatch, in_card_shop, empty_imports_queue
):
    from app.catalog import jobs

    monkeypatch.setitem(app.config, "CARD_IMPORT_SYNC_LIMIT", 10)
    raw = "\n".join(codes(50)).encode()
    api = api_for(card_shop)
    response = api.import_text(card_product, raw)
    assert response.status_code == 202, response.get_data(as_text=True)
    body = response.get_json()
    assert body["status"] == "queued" and response.headers["Location"] == body["url"]
    with app.app_context(), db.engine.connect() as conn:
        payload = conn.execute(select(CardImport.__table__.c.payload)).scalar()
    assert payload and b"CARD00000001" not in payload and b"PW00000001" not in payload
    queued = api.get(body["url"]).get_json()
    assert queued["status"] == "queued" and queued["report"] is None

    with app.app_context():
        assert jobs.run_import(str(card_shop.tenant_id), body["id"]) == "done"
        assert jobs.run_import(str(card_shop.tenant_id), body["id"]) == "done"  # twice: harmless

    done = api.get(body["url"]).get_json()
    assert done["status"] == "done" and (done["done"], done["total"]) == (50, 50)
    assert done["report"]["imported"] == 50
    assert stock_counter(app, card_product) == 50
    with app.app_context(), db.engine.connect() as conn:
        assert conn.execute(select(CardImport.__table__.c.payload)).scalar() is None


def test_async_import_through_a_real_worker_reports_progress_to_done(
    app, card_shop, card_product, api_for, monkeypatch, worker
):
    monkeypatch.setitem(app.config, "CARD_IMPORT_SYNC_LIMIT", 1_000)
    n = 25_000
    raw = ("\n".join(codes(n, "ASYNC")) + "\n").encode()
    api = api_for(card_shop)
    response = api.import_text(card_product, raw)
    assert response.status_code == 202, response.get_data(as_text=True)
    url = response.headers["Location"]

    seen = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        state = api.get(url).get_json()
        seen.append((state["status"], state["done"], state["total"]))
        if state["status"] in ("done", "rejected", "failed"):
            break
        time.sleep(0.05)
    assert state["status"] == "done", (state, seen)
    assert (state["done"], state["total"]) == (n, n)
    assert state["report"]["imported"] == n and state["report"]["duplicates"] == 0
    dones = [done for _, done, _ in seen]
    assert dones == sorted(dones), seen  # progress only moves forward
    assert stock_counter(app, card_product) == n
    assert len(card_rows(app, card_shop.tenant_id)) == n
