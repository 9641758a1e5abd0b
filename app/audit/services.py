"""Recording privileged actions."""

from __future__ import annotations

from app.audit.models import AuditEvent
from app.extensions import db


def record(actor: str, action: str, subject: str, **detail) -> AuditEvent:
    """Add an audit row to the current shop's session (committed by the caller's
    transaction, so the record and the action stand or fall together)."""
    event = AuditEvent(actor=actor, action=action, subject=subject, detail=detail)
    db.session.add(event)
    return event
