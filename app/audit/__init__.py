"""The append-only audit log of privileged actions (a card reveal, an
export, a key rotation): ``from app.audit import services as audit`` and
``audit.record(actor, action, subject, **detail)``."""
