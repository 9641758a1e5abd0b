"""``flask --app wsgi cards import`` and ``cards rotate-key``."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.core import crypto
from app.extensions import db
from tests.catalog.support import card_rows, codes, stock_counter
from tests.conftest import end_outer_transaction
from tests.factories import add_product

NEW_KEY = "11" * 32


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()

    def invoke(*args):
        end_outer_transaction()
        return runner.invoke(args=list(args))

    return invoke


def test_cli_imports_a_large_file_in_process_with_a_progress_bar(
    app, card_shop, card_product, cli, tmp_path, monkeypatch
):
    monkeypatch.setitem(app.config, "CARD_IMPORT_SYNC_LIMIT", 10)  # no job, whatever the size
    path = tmp_path / "codes.txt"
    path.write_bytes(("\r\n".join(codes(12_000, "点卡")) + "\r\n").encode("gbk"))

    result = cli("cards", "import", card_shop.slug, str(card_product), str(path))

    assert result.exit_code == 0, result.output
    assert "importing codes.txt" in result.output
    assert "done: 12000 imported, 0 duplicates, 0 invalid (gb18030)" in result.output
    assert stock_counter(app, card_product) == 12_000

    again = cli("cards", "import", card_shop.slug, str(card_product), str(path))
    assert "done: 0 imported, 12000 duplicates, 0 invalid" in again.output


def test_cli_lists_invalid_lines_imports_nothing_and_fails(
    app, card_shop, card_product, cli, tmp_path
):
    path = tmp_path / "bad.txt"
    path.write_text("GOOD\nA|B|C\nGOOD2\n")
    result = cli("cards", "import", card_shop.slug, str(card_product), str(path))
    assert result.exit_code == 1
    assert "rejected: 0 imported, 0 duplicates, 1 invalid" in result.stdout
    assert "line 2: 3 fields" in result.stderr
    assert "Nothing was imported" in result.stderr
    assert card_rows(app, card_shop.tenant_id) == []


@pytest.mark.parametrize(
    ("slug", "product", "file", "message"),
    [
        ("nosuchshop", "{product}", "{file}", "No shop"),
        ("{slug}", "not-an-id", "{file}", "is not a product id"),
        ("{slug}", "01900000-0000-7000-8000-000000000000", "{file}", "No such product"),
        ("{slug}", "{other}", "{file}", "No such product"),
        ("{slug}", "{topup}", "{file}", "Only card products hold card stock"),
        ("{slug}", "{product}", "{missing}", "cannot read"),
    ],
    ids=["slug", "product-id", "unknown-product", "other-shops-product", "topup", "file"],
)
def test_cli_bad_input_is_one_line_and_a_non_zero_exit(
    app, card_shop, other_card_shop, card_product, cli, tmp_path, slug, product, file, message
):
    path = tmp_path / "ok.txt"
    path.write_text("C1\n")
    values = {
        "slug": card_shop.slug,
        "product": card_product,
        "other": add_product(app, other_card_shop),
        "topup": add_product(app, card_shop, kind="topup"),
        "file": path,
        "missing": tmp_path / "missing.txt",
    }
    result = cli(
        "cards", "import", slug.format(**values), product.format(**values), file.format(**values)
    )
    assert result.exit_code != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message.lower() in lines[0].lower(), result.stderr
    assert card_rows(app, card_shop.tenant_id) == []


def _rotate_to_new_key(app, monkeypatch, old_keys: str) -> str:
    monkeypatch.setitem(app.config, "CARD_KEY", NEW_KEY)
    monkeypatch.setitem(app.config, "CARD_KEYS_OLD", old_keys)
    monkeypatch.delitem(app.extensions, "kameng_cipher", raising=False)
    return crypto.key_id(bytes.fromhex(NEW_KEY))


def audit_of(app, tenant_id, action: str) -> list[AuditEvent]:
    from tenants.context import tenant_context

    with app.app_context(), tenant_context(tenant_id):
        rows = db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)).all()
        db.session.expunge_all()
        return list(rows)


def test_rotate_key_re_encrypts_in_resumable_batches_and_audits_each_shop(
    app,
    card_shop,
    other_card_shop,
    card_product,
    api_for,
    cli,
    monkeypatch,
    empty_imports_queue,
):
    from tests.conftest import CARD_KEY

    old_id = crypto.key_id(bytes.fromhex(CARD_KEY))
    theirs = add_product(app, other_card_shop)
    api_for(card_shop).import_text(card_product, "\n".join(codes(30, "MINE")))
    api_for(other_card_shop).import_text(theirs, "\n".join(codes(20, "THEIRS")))
    # An upload waiting for its job is sealed with the card key too.
    monkeypatch.setitem(app.config, "CARD_IMPORT_SYNC_LIMIT", 5)
    queued = api_for(card_shop).import_text(card_product, "\n".join(codes(8, "LATER")))
    assert queued.status_code == 202
    assert {r["key_id"] for r in card_rows(app, card_shop.tenant_id)} == {old_id}

    new_id = _rotate_to_new_key(app, monkeypatch, CARD_KEY)

    # The first run dies after two batches: what it did stays done and audited.
    real_batch = crypto.rotate_batch
    calls = []

    def dying_batch(tenant_id, limit):
        if len(calls) == 2:
            raise RuntimeError("power cut")
        calls.append(tenant_id)
        return real_batch(tenant_id, limit)

    monkeypatch.setattr(crypto, "rotate_batch", dying_batch)
    first = cli("cards", "rotate-key", "--batch", "7")
    assert first.exit_code != 0 and "re-encrypting 51 values in 2 shops" in first.output
    monkeypatch.setattr(crypto, "rotate_batch", real_batch)
    kids = [r["key_id"] for r in card_rows(app, card_shop.tenant_id)]
    assert kids.count(new_id) == 14 and kids.count(old_id) == 16
    [partial] = audit_of(app, card_shop.tenant_id, "cards.rotate_key")
    assert partial.detail == {"count": 14, "from_keys": [old_id], "to_key": new_id}

    second = cli("cards", "rotate-key", "--batch", "7")
    assert second.exit_code == 0, second.output
    assert "re-encrypting 37 values in 2 shops" in second.output
    assert "done: 37 values re-encrypted" in second.output
    for shop in (card_shop, other_card_shop):
        assert {r["key_id"] for r in card_rows(app, shop.tenant_id)} == {new_id}
    assert [a.detail["count"] for a in audit_of(app, card_shop.tenant_id, "cards.rotate_key")] in (
        [14, 17],
        [17, 14],
    )
    [theirs_audit] = audit_of(app, other_card_shop.tenant_id, "cards.rotate_key")
    assert theirs_audit.detail["count"] == 20 and theirs_audit.subject == "shop:othercards"

    assert cli("cards", "rotate-key").output.startswith("nothing to do")

    # The old key can go: codes still open, the waiting upload still imports,
    # and fingerprints (their own key) still catch duplicates.
    _rotate_to_new_key(app, monkeypatch, "")
    api = api_for(card_shop)
    card = api.get(f"/api/v1/products/{card_product}/cards").get_json()["items"][0]
    assert api.post(f"/api/v1/cards/{card['id']}/reveal").get_json()["code"].startswith("MINE")
    from app.catalog import jobs

    with app.app_context():
        assert jobs.run_import(str(card_shop.tenant_id), queued.get_json()["id"]) == "done"
    monkeypatch.setitem(app.config, "CARD_IMPORT_SYNC_LIMIT", 5_000)
    again = api.import_text(card_product, "\n".join(codes(30, "MINE"))).get_json()
    assert (again["imported"], again["duplicates"]) == (0, 30)


def test_rotate_key_without_the_old_key_stops_with_one_line(
    app, card_shop, card_product, api_for, cli, monkeypatch
):
    api_for(card_shop).import_text(card_product, "R1\nR2\n")
    _rotate_to_new_key(app, monkeypatch, "")
    result = cli("cards", "rotate-key")
    assert result.exit_code == 1
    assert "add it to CARD_KEYS_OLD" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
