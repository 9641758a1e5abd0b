"""Forgotten passwords: a mailed, single-use, expiring link to set a new one.

Two realms: ``platform`` (platform users: operators and the platform
owner, from the platform site or a shop's console) and ``shop`` (a shop's
buyers, agents and suppliers, in the current shop only).

- Asking answers the same whether or not the email has an account, and
  costs the same: one look-up, one job on the ``mail`` queue either way
  (for an unknown address the job sends nothing). One address is mailed at
  most once a minute (``RESET_COOLDOWN_SECONDS``), whoever asks; the pages
  are rate-limited per client too (``PASSWORD_RESET_RATE_LIMIT``).
- The link carries a token signed with ``SECRET_KEY`` (itsdangerous) that
  names the account, its realm and shop, and a fingerprint of the
  account's password hash: setting a password changes the hash, so the
  link works once. It expires after ``PASSWORD_RESET_SECONDS`` (an hour).
- The mail is rendered and sent by ``app.accounts.jobs.mail_password_reset``
  in the language the person asked in.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Callable

from flask import current_app
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select

from app.accounts.models import Membership, PlatformUser, ShopAccount
from app.accounts.services import check_password, normalize_email
from app.core.errors import KamengError
from app.core.queues import get_queue
from app.core.redisconn import get_redis
from app.core.security import hash_password
from app.extensions import db
from tenants.context import current_tenant_id

PLATFORM = "platform"
SHOP = "shop"
REALMS = (PLATFORM, SHOP)
RESET_COOLDOWN_SECONDS = 60
MAIL_JOB = "app.accounts.jobs.mail_password_reset"
_SALT = "kameng.password-reset"


class ResetLinkInvalid(KamengError):
    status = 400
    slug = "reset-link-invalid"
    title = "This password link has expired or was used"


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=_SALT)


def _fingerprint(password_hash: str) -> str:
    """A keyed digest of the password hash: it changes with the password,
    and the link shows nothing of the hash itself."""
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, password_hash.encode(), hashlib.sha256).hexdigest()[:24]


def _site() -> str:
    tenant_id = current_tenant_id()
    return str(tenant_id) if tenant_id is not None else PLATFORM


def _account(realm: str, email: str) -> PlatformUser | ShopAccount | None:
    model = PlatformUser if realm == PLATFORM else ShopAccount
    row = db.session.scalar(select(model).where(model.email == email))
    return row if row is not None and row.is_active else None


def reset_token(realm: str, row: PlatformUser | ShopAccount) -> str:
    """A signed link token for ``row`` on this site (a shop account's only in
    its shop); valid until the password changes or it expires."""
    return _serializer().dumps(
        {"r": realm, "i": str(row.id), "s": _site(), "h": _fingerprint(row.password_hash)}
    )


def request_reset(
    realm: str,
    email: str,
    link_for: Callable[[str], str],
    *,
    locale: str,
    site_name: str,
    members_only: bool = False,
) -> None:
    """Mail a reset link to ``email`` if it has an active account in
    ``realm`` (a shop account: in the current shop; ``members_only``: a
    platform user who is a member of the current shop, for its console).
    ``link_for(token)`` builds the link; the mail names ``site_name`` and is
    written in ``locale``. The same answer and the same work
    whatever the address: nothing tells a caller whether it has an account.
    A malformed address is refused (``ValidationFailed``) before anything."""
    if realm not in REALMS:
        raise ValueError(f"unknown realm {realm!r}")
    email = normalize_email(email)
    cooldown = f"kameng:reset:{_site()}:{realm}:{hashlib.sha256(email.encode()).hexdigest()}"
    if not get_redis().set(cooldown, "1", nx=True, ex=RESET_COOLDOWN_SECONDS):
        return  # mailed a moment ago: one is on its way
    row = _account(realm, email)
    if row is not None and members_only:
        member = db.session.scalar(select(Membership.id).where(Membership.user_id == row.id))
        row = row if member is not None else None
    link = link_for(reset_token(realm, row)) if row is not None else None
    get_queue("mail").enqueue(MAIL_JOB, email, link, locale, site_name, result_ttl=0)


def account_for_token(realm: str, token: str) -> PlatformUser | ShopAccount:
    """The active account a reset token was made for, on this site, while its
    password is the one the token was made with and it has not expired;
    ``ResetLinkInvalid`` otherwise (a forged, expired, used or foreign link)."""
    invalid = ResetLinkInvalid(
        "The link is not valid: it expired, was used, or belongs elsewhere.",
        message=_l("This link has expired or was already used. Ask for a new one."),
    )
    try:
        data = _serializer().loads(
            token or "", max_age=int(current_app.config["PASSWORD_RESET_SECONDS"])
        )
    except BadSignature:
        raise invalid from None
    if not isinstance(data, dict) or data.get("r") != realm or data.get("s") != _site():
        raise invalid
    try:
        ident = uuid.UUID(str(data.get("i")))
    except ValueError:
        raise invalid from None
    model = PlatformUser if realm == PLATFORM else ShopAccount
    row = db.session.scalar(select(model).where(model.id == ident))
    if row is None or not row.is_active:
        raise invalid
    if not hmac.compare_digest(_fingerprint(row.password_hash), str(data.get("h", ""))):
        raise invalid  # the password changed since: the link was used
    return row


def reset_password(realm: str, token: str, password: str) -> PlatformUser | ShopAccount:
    """Set a new password through a reset link. The link dies with it (the
    password hash it was bound to is gone). ``ResetLinkInvalid`` for a bad
    link, ``ValidationFailed`` for a password the rules refuse; nothing
    changes then. Commits."""
    row = account_for_token(realm, token)
    check_password(password)
    row.password_hash = hash_password(password)
    db.session.commit()
    return row
