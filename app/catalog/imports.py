"""Bulk card import (批量导入卡密): parse, deduplicate, encrypt, store — all
or nothing per upload.

- An upload with any invalid line (or bytes that are not text) imports
  nothing; it is *rejected* with every reason, the first 100 invalid lines
  listed with their numbers.
- Duplicates, within the upload or against any code the shop already holds
  in any product and status (compared by keyed fingerprint, never by
  decrypting), are skipped and reported (first 100 line numbers). A code
  that was sold or voided stays a duplicate: it is never sold again.
- The rest is stored in one transaction together with the product's stock
  counter (which moves last, so buyers wait on the product row only for a
  moment).

Uploads of up to ``CARD_IMPORT_SYNC_LIMIT`` lines are imported during the
request; larger ones become a job on the ``imports`` queue. The upload waits
for the job in the import row, encrypted under the card key (never in the
clear, and never as a job argument). Progress (done/total lines) is kept in
Redis while the import runs and on the row after. The CLI and the benchmark
run the same code in-process (``import_now``).

Work goes a batch (``BATCH`` lines) at a time: fingerprints, duplicates,
new ids and ciphertexts. How a batch is checked against the shop's codes
and stored is a ``card_store.CardStore``, picked in ``_card_store``: binary
COPY on PostgreSQL (``card_copy``), the session's INSERTs elsewhere.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.catalog import cardfile, stock
from app.catalog.card_copy import CopyCardStore
from app.catalog.card_reads import get_card_product
from app.catalog.card_store import CardStore, InsertCardStore, Lookup, NewCards, Write
from app.catalog.models import CardImport
from app.core.crypto import get_cipher
from app.core.errors import Conflict, NotFound, ValidationFailed
from app.core.ids import uuid7, uuid7_bytes
from app.core.redisconn import get_redis
from app.extensions import db
from tenants.context import current_tenant_id

log = logging.getLogger(__name__)

REPORT_LINES = 100
BATCH = 10_000
PROGRESS_TTL = 3600

QUEUED, RUNNING, DONE, REJECTED, FAILED = "queued", "running", "done", "rejected", "failed"
FINISHED = (DONE, REJECTED, FAILED)

#: on_progress(done, total): lines handled so far (the CLI's progress bar)
Progress = Callable[[int, int], None]


_LOST_RACE = (
    "Another import added some of these codes at the same time; nothing was imported. "
    "Upload the file again to import the rest."
)

_LOST_RACE_PAGE = _l(
    "Another import added some of these codes at the same time; nothing was imported. "
    "Upload the file again to import the rest."
)


class ImportConflict(Conflict):
    """Another import stored some of these codes first (title: ``Conflict``)."""

    slug = "import-conflict"


def _progress_key(import_id: uuid.UUID) -> str:
    return f"kameng:import:{import_id}"


def count_lines(raw: bytes) -> int:
    """Lines in an upload, whatever its line endings (an upper bound)."""
    return max(raw.count(b"\n"), raw.count(b"\r")) + 1


def _check_upload(product_id: uuid.UUID, raw: bytes) -> None:
    get_card_product(product_id)
    if not raw or not raw.strip():
        raise ValidationFailed(
            "The upload is empty.",
            errors={"file": ["No codes found."]},
            message=_l("There are no codes in the upload: paste some or choose a file."),
        )


def start_import(product_id: uuid.UUID, raw: bytes, filename: str | None, actor: str) -> CardImport:
    """Import ``raw`` into the product's stock of the current shop, now or as a job.

    Returns the import row, committed: ``done``, ``rejected`` (invalid lines;
    nothing stored) or ``failed`` for an upload of up to
    ``CARD_IMPORT_SYNC_LIMIT`` lines; ``queued`` for a larger one, whose job
    is on the ``imports`` queue. Raises ``NotFound``/``ValidationFailed``
    (not a card product, empty upload) before anything is written.
    """
    _check_upload(product_id, raw)
    if count_lines(raw) <= current_app.config["CARD_IMPORT_SYNC_LIMIT"]:
        return import_now(product_id, raw, filename, actor)
    record = CardImport(
        id=uuid7(), product_id=product_id, filename=filename, created_by=actor, status=QUEUED
    )
    record.payload = get_cipher().seal_blob(record.id, raw)
    record.total = count_lines(raw)
    db.session.add(record)
    db.session.commit()
    from app.core.queues import get_queue

    try:
        get_queue("imports").enqueue(
            "app.catalog.jobs.run_import",
            str(current_tenant_id()),
            str(record.id),
            job_timeout=3600,
            job_id=f"import-{record.id}",
        )
    except Exception:
        # Redis is down: no job will ever read this upload. Take it back, so
        # the operator's retry (after the 503) is the only copy.
        db.session.delete(record)
        db.session.commit()
        raise
    _progress(record.id, 0, record.total)
    return record


def import_now(
    product_id: uuid.UUID,
    raw: bytes,
    filename: str | None,
    actor: str,
    on_progress: Progress | None = None,
) -> CardImport:
    """Import ``raw`` in this process, whatever its size (the CLI and the
    benchmark; ``start_import`` for small uploads). Same guarantees and
    result as ``start_import``'s synchronous case; commits."""
    _check_upload(product_id, raw)
    record = CardImport(product_id=product_id, filename=filename, created_by=actor, status=RUNNING)
    db.session.add(record)
    db.session.flush()
    return _run(record, raw, on_progress)


def run_import_job(import_id: uuid.UUID) -> CardImport:
    """The job body: import a queued upload of the current shop. Safe to run
    twice: a finished import is returned as it is."""
    record = db.session.scalar(select(CardImport).where(CardImport.id == import_id))
    if record is None:
        raise NotFound("No such import.")
    if record.status in FINISHED:
        return record
    raw = get_cipher().open_blob(record.id, record.payload) if record.payload else b""
    record.status = RUNNING
    db.session.commit()
    return _run(record, raw)


def _run(record: CardImport, raw: bytes, on_progress: Progress | None = None) -> CardImport:
    """Parse, check and store; sets the record's counts, report and status,
    and commits. Returns the record (a fresh instance after a rollback)."""

    def progress(done: int, total: int) -> None:
        _progress(record_id, done, total)
        if on_progress is not None:
            on_progress(done, total)

    record_id = record.id
    try:
        parsed = cardfile.parse(raw)
    except cardfile.UndecodableFile as exc:
        return _finish(record, REJECTED, total=0, message=str(exc))
    total = parsed.total
    record.total = total
    progress(0, total)

    cipher = get_cipher()
    tenant_id = record.tenant_id or current_tenant_id()
    product_id = record.product_id
    try:
        with _fingerprint_lookup(tenant_id) as lookup:
            if parsed.invalid:  # nothing is stored; the report still names duplicates
                imported, duplicate_lines = _import_chunks(
                    parsed.entries, cipher, lookup, None, progress, total
                )
            else:
                new_cards = NewCards(
                    tenant_id, product_id, record_id, cipher.current_id, datetime.now(UTC)
                )
                with _card_store().card_writer(new_cards) as write:
                    imported, duplicate_lines = _import_chunks(
                        parsed.entries, cipher, lookup, write, progress, total
                    )
                stock.add_available(product_id, imported)
    except Exception as exc:
        if _is_unique_violation(exc):
            return _lost_race(record_id, total, exc)
        raise
    report = {
        "encoding": parsed.encoding,
        "duplicate_lines": duplicate_lines[:REPORT_LINES],
        "invalid_lines": [{"line": n, "reason": r} for n, r in parsed.invalid[:REPORT_LINES]],
    }
    record.duplicates = len(duplicate_lines)
    record.invalid = len(parsed.invalid)
    if parsed.invalid:
        return _finish(
            record,
            REJECTED,
            total=total,
            report=report,
            message="Nothing was imported: fix the invalid lines and upload again.",
        )
    record.imported = imported
    return _finish(record, DONE, total=total, report=report)


def _import_chunks(
    entries: list[tuple[int, str]],
    cipher,
    lookup: Lookup,
    write: Write | None,
    progress: Progress,
    total: int,
) -> tuple[int, list[int]]:
    """Deduplicate and (with ``write``) encrypt and write the entries, a
    batch at a time: fingerprints, duplicates within the upload (every
    earlier batch included) and against the shop (``lookup``), then new ids
    and ciphertexts for what is left. Returns (how many were new, the sorted
    line numbers of the duplicates)."""
    seen: set[bytes] = set()
    duplicate_lines: list[int] = []
    imported = 0
    for start in range(0, len(entries), BATCH):
        chunk = entries[start : start + BATCH]
        fingerprints = cipher.fingerprint_many([canonical for _, canonical in chunk])
        fresh: list[tuple[int, str, bytes]] = []
        for (line, canonical), fp in zip(chunk, fingerprints, strict=True):
            if fp in seen:
                duplicate_lines.append(line)
            else:
                seen.add(fp)
                fresh.append((line, canonical, fp))
        stored = lookup([fp for _, _, fp in fresh]) if fresh else set()
        if stored:
            duplicate_lines.extend(line for line, _, fp in fresh if fp in stored)
            fresh = [row for row in fresh if row[2] not in stored]
        if write is not None and fresh:
            raw_ids = uuid7_bytes(len(fresh))
            card_ids = [raw_ids[i : i + 16] for i in range(0, len(raw_ids), 16)]
            secrets = cipher.encrypt_many(card_ids, [canonical for _, canonical, _ in fresh])
            write(card_ids, secrets, [fp for _, _, fp in fresh])
        imported += len(fresh)
        progress(total - len(entries) + start + len(chunk), total)
    duplicate_lines.sort()
    return imported, duplicate_lines


def _is_unique_violation(exc: Exception) -> bool:
    """The cards' unique rule refused a row: from COPY (psycopg's own error,
    raised on the driver connection) or from an INSERT (SQLAlchemy's)."""
    import psycopg.errors

    if isinstance(exc, IntegrityError):
        exc = exc.orig
    if isinstance(exc, psycopg.errors.UniqueViolation):
        return True
    return "UNIQUE constraint failed: cards." in str(exc)


def _lost_race(record_id: uuid.UUID, total: int, exc: Exception) -> CardImport:
    """A concurrent import stored one of our codes between our duplicate check
    and our insert; the unique index refused, so nothing of ours was stored."""
    db.session.rollback()
    log.warning("import %s: lost a race with another import (%s)", record_id, type(exc).__name__)
    record = db.session.scalar(select(CardImport).where(CardImport.id == record_id))
    if record is None:  # a synchronous import: its row went with the rollback
        raise ImportConflict(_LOST_RACE, message=_LOST_RACE_PAGE) from None
    return _finish(record, FAILED, total=total, message=_LOST_RACE)


def _card_store() -> CardStore:
    """The one place that picks how an import checks and stores cards:
    binary COPY on PostgreSQL, the session's INSERTs elsewhere."""
    if db.session.get_bind().dialect.name == "postgresql":
        return CopyCardStore()
    return InsertCardStore()


def _fingerprint_lookup(tenant_id: uuid.UUID) -> AbstractContextManager[Lookup]:
    """``lookup(fingerprints)``: which of them the shop already holds."""
    return _card_store().fingerprint_lookup(tenant_id)


def _progress(import_id: uuid.UUID, done: int, total: int) -> None:
    try:
        r = get_redis()
        r.hset(_progress_key(import_id), mapping={"done": done, "total": total})
        r.expire(_progress_key(import_id), PROGRESS_TTL)
    except Exception:  # noqa: BLE001 - progress is a nicety; the import goes on
        log.warning("import %s: progress not recorded (Redis unavailable)", import_id)


def _finish(
    record: CardImport,
    status: str,
    *,
    total: int,
    report: dict | None = None,
    message: str | None = None,
) -> CardImport:
    report = dict(report or {"duplicate_lines": [], "invalid_lines": []})
    if message:
        report["message"] = message
    if status != DONE:
        record.imported = 0
    record.status = status
    record.total = total
    record.done = total
    record.report = report
    record.payload = None
    record.finished_at = datetime.now(UTC)
    db.session.commit()
    _progress(record.id, total, total)
    return record


def report_of(record: CardImport) -> dict:
    """The import's outcome in the API's names (counts, first 100 lines of
    each kind, the encoding the file was read in, and a message if any)."""
    report = record.report or {}
    body = {
        "imported": record.imported,
        "duplicates": record.duplicates,
        "invalid": record.invalid,
        "duplicate_lines": report.get("duplicate_lines", []),
        "invalid_lines": report.get("invalid_lines", []),
        "encoding": report.get("encoding"),
    }
    if report.get("message"):
        body["message"] = report["message"]
    return body


def get_import(import_id: uuid.UUID) -> dict:
    """The current shop's import: its row, live progress (done/total) while
    it runs, and its report once finished. Raises ``NotFound``."""
    record = db.session.scalar(select(CardImport).where(CardImport.id == import_id))
    if record is None:
        raise NotFound("No such import.")
    done, total = record.done, record.total
    if record.status not in FINISHED:
        try:
            live = get_redis().hgetall(_progress_key(record.id))
        except Exception:  # noqa: BLE001 - show the row's figures instead
            live = {}
        if live:
            done, total = int(live.get(b"done", 0)), int(live.get(b"total", total))
    return {
        "import": record,
        "done": done,
        "total": total,
        "report": report_of(record) if record.status in FINISHED else None,
    }
