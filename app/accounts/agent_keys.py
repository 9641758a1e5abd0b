"""An agent's own API keys (``POST /api/v1/me/api-keys``, the agent centre).

An agent key is an ``ApiKey`` with ``shop_account_id`` set to the agent and
role ``agent``: it authenticates as that shop account (its tier prices, its
wallet, its Idempotency-Keys; ``app.accounts.auth.current_principal``),
never as the shop, so operator endpoints refuse it (403) and the operator's
key list neither shows nor revokes it. The key itself is shown once, at
creation; only its prefix and an HMAC are stored, as for operator keys.

An agent holds at most ``MAX_LIVE_KEYS`` live keys. Functions work in the
current shop's context and commit their own transaction.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from app.accounts.models import ROLE_AGENT, ApiKey, ShopAccount
from app.accounts.services import API_KEY_PREFIX
from app.billing import limits
from app.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from app.core.security import token_digest
from app.extensions import db

MAX_LIVE_KEYS = 5
MAX_NAME = 80


class TooManyKeys(Conflict):
    slug = "too-many-api-keys"


def _agent(account_id: uuid.UUID, *, lock: bool = False) -> ShopAccount:
    query = select(ShopAccount).where(ShopAccount.id == account_id)
    if lock:
        query = query.with_for_update()
    account = db.session.scalar(query)
    if account is None or not account.is_active:
        raise NotFound("No such account.")
    if account.role != ROLE_AGENT:
        raise Forbidden(
            "Only agents have API keys of their own.",
            message=_l("Only agents have API keys of their own."),
        )
    return account


def _live(account_id: uuid.UUID):
    return select(ApiKey).where(ApiKey.shop_account_id == account_id, ApiKey.revoked_at.is_(None))


def create_agent_key(account_id: uuid.UUID, name: str) -> tuple[ApiKey, str]:
    """A new key acting as the agent ``account_id``: ``(ApiKey, plaintext)``;
    the plaintext is never stored and cannot be shown again. Commits.

    ``Forbidden`` for an account that is not an agent, ``ValidationFailed``
    for a name over ``MAX_NAME`` characters, ``TooManyKeys`` (409) when the
    agent already holds ``MAX_LIVE_KEYS`` live keys (the account row is
    locked while they are counted, so two requests cannot both make the
    sixth)."""
    name = (name or "").strip() or "API key"
    if len(name) > MAX_NAME:
        raise ValidationFailed(
            "The key name is too long.",
            errors={"name": [f"At most {MAX_NAME}."]},
            message=_l("The key name may be at most 80 characters long."),
        )
    account = _agent(account_id, lock=True)
    limits.check("api")
    live = db.session.scalar(select(func.count()).select_from(_live(account.id).subquery())) or 0
    if live >= MAX_LIVE_KEYS:
        db.session.rollback()
        raise TooManyKeys(
            f"An agent holds at most {MAX_LIVE_KEYS} live API keys; revoke one first.",
            message=_l(
                "You already have %(count)s API keys. Revoke one before making another.",
                count=MAX_LIVE_KEYS,
            ),
        )
    prefix = secrets.token_hex(4)
    plaintext = f"{API_KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey(
        name=name,
        prefix=prefix,
        key_hash=token_digest(plaintext),
        role=ROLE_AGENT,
        shop_account_id=account.id,
    )
    db.session.add(key)
    db.session.commit()
    return key, plaintext


def list_agent_keys(account_id: uuid.UUID) -> list[ApiKey]:
    """The agent's live keys, newest first (at most ``MAX_LIVE_KEYS``)."""
    return list(
        db.session.scalars(
            _live(account_id).order_by(ApiKey.created_at.desc(), ApiKey.id.desc())
        ).all()
    )


def revoke_agent_key(account_id: uuid.UUID, key_id: uuid.UUID) -> ApiKey:
    """Revoke one of the agent's own keys; it stops working at once.
    Idempotent. Another account's key (or an operator's) is ``NotFound``."""
    key = db.session.scalar(
        select(ApiKey).where(ApiKey.id == key_id, ApiKey.shop_account_id == account_id)
    )
    if key is None:
        raise NotFound("No such API key.")
    if key.revoked_at is None:
        key.revoked_at = datetime.now(UTC)
        db.session.commit()
    return key
