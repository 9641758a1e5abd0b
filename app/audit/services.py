"""Recording privileged actions, and reading them back for the shop's owner."""

from __future__ import annotations

from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.core.pagination import offset_of
from app.extensions import db


def record(actor: str, action: str, subject: str, **detail) -> AuditEvent:
    """Add an audit row to the current shop's session (committed by the caller's
    transaction, so the record and the action stand or fall together)."""
    event = AuditEvent(actor=actor, action=action, subject=subject, detail=detail)
    db.session.add(event)
    return event


def list_events(
    *,
    actor_part: str | None = None,
    action: str | None = None,
    page: int = 1,
    per_page: int = 50,
) -> tuple[list[AuditEvent], int]:
    """A page of the current shop's audit log, newest first, and how many
    rows match in all. ``actor_part`` matches part of who acted (an email,
    ``api key``, ``cli``), any case; ``action`` one action exactly."""
    conditions = []
    if actor_part and actor_part.strip():
        conditions.append(
            func.lower(AuditEvent.actor).contains(actor_part.strip().lower(), autoescape=True)
        )
    if action:
        conditions.append(AuditEvent.action == action)
    total = db.session.scalar(select(func.count(AuditEvent.id)).where(*conditions)) or 0
    rows = db.session.scalars(
        select(AuditEvent)
        .where(*conditions)
        .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
        .limit(per_page)
        .offset(offset_of(page, per_page))
    ).all()
    return list(rows), int(total)
