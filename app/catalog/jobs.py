"""Catalog jobs (RQ). They take ids, enter the shop's context, and are safe
to run twice."""

from __future__ import annotations

import logging
import uuid

from sqlalchemy import update

from app.catalog import imports, stock
from app.catalog.models import CardImport
from app.core.queues import register_periodic
from app.extensions import db
from tenants.context import all_tenants, tenant_context

log = logging.getLogger(__name__)


def run_import(tenant_id: str, import_id: str) -> str:
    """Import a queued upload (``imports`` queue). Safe to run twice; on an
    unexpected error the import is marked failed (nothing stored) and the
    error goes to the worker's log without the upload's content."""
    with tenant_context(uuid.UUID(tenant_id)):
        try:
            record = imports.run_import_job(uuid.UUID(import_id))
            return record.status
        except Exception:
            db.session.rollback()
            db.session.execute(
                update(CardImport)
                .where(CardImport.id == uuid.UUID(import_id))
                .values(
                    status=imports.FAILED,
                    payload=None,
                    imported=0,
                    report={
                        "duplicate_lines": [],
                        "invalid_lines": [],
                        "message": "The import failed on our side; nothing was imported.",
                    },
                )
            )
            db.session.commit()
            log.exception("import %s failed", import_id)
            raise
        finally:
            db.session.remove()


def release_expired_holds() -> int:
    """Periodic tidy-up: expired card holds go back to stock in every shop."""
    with all_tenants():
        try:
            moved = stock.release_expired()
            db.session.commit()
            return moved
        finally:
            db.session.remove()


register_periodic(release_expired_holds, "default", "HOLD_RELEASE_INTERVAL_SECONDS")
