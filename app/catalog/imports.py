"""Bulk card import: parse, deduplicate, encrypt, store — all or nothing.

An upload with any invalid line imports nothing and reports every invalid
line (the first 100 of each kind are listed with line numbers). Duplicates,
within the upload or against codes the shop already holds (compared by
keyed fingerprint, never by decrypting), are skipped and reported. The rest
is stored in one transaction together with the product's stock counter.

Uploads up to ``CARD_IMPORT_SYNC_LIMIT`` lines are imported during the
request; larger ones become a job on the ``imports`` queue whose progress
(done/total) is kept in Redis while it runs and on the import row after.
On PostgreSQL rows go in through ``COPY``.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.catalog import cardfile, stock
from app.catalog.models import KIND_CARD, Card, CardImport, Product
from app.core.crypto import get_cipher
from app.core.errors import NotFound, ValidationFailed
from app.core.ids import uuid7
from app.core.redisconn import get_redis
from app.extensions import db
from tenants.context import current_tenant_id

log = logging.getLogger(__name__)

REPORT_LINES = 100
BATCH = 5_000
PROGRESS_TTL = 3600


def _progress_key(import_id: uuid.UUID) -> str:
    return f"kameng:import:{import_id}"


def get_card_product(product_id: uuid.UUID) -> Product:
    product = db.session.scalar(select(Product).where(Product.id == product_id))
    if product is None:
        raise NotFound("No such product.")
    if product.kind != KIND_CARD:
        raise ValidationFailed(
            "Only card products hold card stock.", errors={"kind": ["Not a card product."]}
        )
    return product


def start_import(product_id: uuid.UUID, raw: bytes, filename: str | None, actor: str) -> CardImport:
    """Import ``raw`` into the product's stock, now or as a job.

    Returns the import row: status ``done`` (with counts) or ``failed`` (with
    the report) for a small upload, ``queued`` for a large one. Commits.
    """
    get_card_product(product_id)
    if not raw or not raw.strip():
        raise ValidationFailed("The upload is empty.", errors={"file": ["No codes found."]})
    lines = raw.count(b"\n") + raw.count(b"\r") + 1
    record = CardImport(product_id=product_id, filename=filename, created_by=actor)
    db.session.add(record)
    if lines > current_app.config["CARD_IMPORT_SYNC_LIMIT"]:
        record.payload = raw
        record.total = lines
        db.session.commit()
        from app.core.queues import get_queue

        get_queue("imports").enqueue(
            "app.catalog.jobs.run_import",
            str(current_tenant_id()),
            str(record.id),
            job_timeout=3600,
            job_id=f"import-{record.id}",
        )
        return record
    db.session.flush()
    _run(record, raw)
    return record


def run_import_job(import_id: uuid.UUID) -> CardImport:
    """The job body: import a queued upload. Safe to run twice (a finished
    import is left as it is)."""
    record = db.session.scalar(select(CardImport).where(CardImport.id == import_id))
    if record is None:
        raise NotFound("No such import.")
    if record.status in ("done", "failed"):
        return record
    raw = record.payload or b""
    record.status = "running"
    db.session.commit()
    _run(record, raw)
    return record


def _run(record: CardImport, raw: bytes) -> None:
    """Parse and store; sets the record's counts and status and commits."""
    try:
        parsed = cardfile.parse(raw)
    except cardfile.UndecodableFile as exc:
        _fail(record, str(exc), total=0)
        return
    total = parsed.total
    record.total = total
    _progress(record.id, 0, total)
    if parsed.invalid:
        record.invalid = len(parsed.invalid)
        record.imported = 0
        record.report = {
            "encoding": parsed.encoding,
            "invalid": [{"line": n, "reason": r} for n, r in parsed.invalid[:REPORT_LINES]],
            "duplicates": [],
            "message": "Nothing was imported: fix the invalid lines and upload again.",
        }
        _finish(record, "failed")
        return

    cipher = get_cipher()
    seen: dict[bytes, int] = {}
    fresh: list[tuple[int, str, bytes]] = []
    duplicate_lines: list[int] = []
    for line, canonical in parsed.entries:
        fp = cipher.fingerprint(canonical)
        if fp in seen:
            duplicate_lines.append(line)
        else:
            seen[fp] = line
            fresh.append((line, canonical, fp))
    stored = _existing_fingerprints([fp for _, _, fp in fresh])
    if stored:
        duplicate_lines.extend(line for line, _, fp in fresh if fp in stored)
        fresh = [row for row in fresh if row[2] not in stored]
    duplicate_lines.sort()

    try:
        _store(record, fresh, cipher, total, len(parsed.entries) - len(fresh))
        stock.add_available(record.product_id, len(fresh))
        record.imported = len(fresh)
        record.duplicates = len(duplicate_lines)
        record.invalid = 0
        record.report = {
            "encoding": parsed.encoding,
            "invalid": [],
            "duplicates": duplicate_lines[:REPORT_LINES],
        }
        _finish(record, "done")
    except IntegrityError:
        db.session.rollback()
        record = db.session.merge(record)
        _fail(
            record,
            "Another import added some of these codes at the same time; nothing was "
            "imported. Upload the file again to import the rest.",
            total=total,
        )


def _existing_fingerprints(fingerprints: list[bytes]) -> set[bytes]:
    found: set[bytes] = set()
    for start in range(0, len(fingerprints), 1000):
        chunk = fingerprints[start : start + 1000]
        found.update(
            bytes(fp)
            for fp in db.session.scalars(
                select(Card.fingerprint).where(Card.fingerprint.in_(chunk))
            )
        )
    return found


def _store(record: CardImport, fresh, cipher, total: int, already_done: int) -> None:
    tenant_id = current_tenant_id()
    now = datetime.now(UTC)
    kid = cipher.current_id
    done = already_done
    dialect = db.session.get_bind().dialect.name
    for start in range(0, len(fresh), BATCH):
        chunk = fresh[start : start + BATCH]
        rows = []
        for _, canonical, fp in chunk:
            card_id = uuid7()
            rows.append((card_id, cipher.encrypt(card_id, canonical), fp))
        if dialect == "postgresql":
            _copy_rows(rows, tenant_id, record, kid, now)
        else:
            db.session.execute(
                Card.__table__.insert(),
                [
                    {
                        "id": card_id,
                        "tenant_id": tenant_id,
                        "product_id": record.product_id,
                        "import_id": record.id,
                        "status": "available",
                        "key_id": kid,
                        "secret": secret,
                        "fingerprint": fp,
                        "created_at": now,
                    }
                    for card_id, secret, fp in rows
                ],
            )
        done += len(chunk)
        _progress(record.id, done, total)


def _copy_rows(rows, tenant_id, record: CardImport, kid: str, now: datetime) -> None:
    """COPY a batch into ``cards`` on the session's own connection (same transaction)."""
    raw = db.session.connection().connection.driver_connection
    columns = (
        "id, tenant_id, product_id, import_id, status, key_id, secret, fingerprint, created_at"
    )
    with raw.cursor() as cur, cur.copy(f"COPY cards ({columns}) FROM STDIN") as copy:
        for card_id, secret, fp in rows:
            copy.write_row(
                (
                    card_id,
                    tenant_id,
                    record.product_id,
                    record.id,
                    "available",
                    kid,
                    secret,
                    fp,
                    now,
                )
            )


def _progress(import_id: uuid.UUID, done: int, total: int) -> None:
    try:
        get_redis().hset(_progress_key(import_id), mapping={"done": done, "total": total})
        get_redis().expire(_progress_key(import_id), PROGRESS_TTL)
    except Exception:  # noqa: BLE001 - progress is a nicety; the import goes on
        log.warning("import %s: progress not recorded (Redis unavailable)", import_id)


def _finish(record: CardImport, status: str) -> None:
    record.status = status
    record.done = record.total
    record.payload = None
    record.finished_at = datetime.now(UTC)
    db.session.commit()
    _progress(record.id, record.total, record.total)


def _fail(record: CardImport, message: str, total: int) -> None:
    record.total = total
    record.imported = 0
    record.report = {"invalid": [], "duplicates": [], "message": message}
    _finish(record, "failed")


def get_import(import_id: uuid.UUID) -> dict:
    """The import's state, with live progress while it runs."""
    record = db.session.scalar(select(CardImport).where(CardImport.id == import_id))
    if record is None:
        raise NotFound("No such import.")
    done, total = record.done, record.total
    if record.status in ("queued", "running"):
        try:
            live = get_redis().hgetall(_progress_key(record.id))
        except Exception:  # noqa: BLE001
            live = {}
        if live:
            done, total = int(live.get(b"done", 0)), int(live.get(b"total", total))
    return {"import": record, "done": done, "total": total}
