"""One-time sign-in hand-off from the platform site to a shop's console.

Session cookies are host-only, so an operator signed in on the platform site
is not signed in on ``<slug>.<domain>``. The platform issues a signed token
(60 seconds, one shop, one use: its nonce lives in Redis and is deleted on
redemption); the shop's console redeems it and starts its own session.
"""

from __future__ import annotations

import secrets
import uuid

from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer

from app.core.redisconn import get_redis

MAX_AGE = 60
_SALT = "kameng.console-handoff"


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=_SALT)


def issue_handoff(user_id: uuid.UUID, tenant_id: uuid.UUID) -> str:
    nonce = secrets.token_urlsafe(16)
    get_redis().set(f"kameng:handoff:{nonce}", "1", ex=MAX_AGE)
    return _serializer().dumps({"u": str(user_id), "t": str(tenant_id), "n": nonce})


def redeem_handoff(token: str, tenant_id: uuid.UUID) -> uuid.UUID | None:
    """The user id of a valid, unused token for this shop; ``None`` otherwise."""
    try:
        data = _serializer().loads(token or "", max_age=MAX_AGE)
    except BadSignature:
        return None
    if not isinstance(data, dict) or data.get("t") != str(tenant_id):
        return None
    if get_redis().delete(f"kameng:handoff:{data.get('n')}") != 1:
        return None  # already used or expired
    try:
        return uuid.UUID(data["u"])
    except (KeyError, ValueError):
        return None
