"""Supply credentials (对接密钥): who may buy from this shop through its
supply API (``/supply/v1/``), and whether that API is open at all.

A credential acts as one shop account of this shop (typically an agent: it
buys at that account's tier price and pays from that account's wallet). Its
key id (``ks_…``) is public and unique platform-wide; its secret is shown
once when issued and kept sealed with the card key (``app.supply.secrets``).
A revoked credential stays on record (its purchases still name it) but is
unknown to the API from then on.

Every function works in the current shop; changes are audited and commit.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update

from app.accounts.models import ShopAccount
from app.audit import services as audit
from app.core.crypto import get_cipher
from app.core.errors import Conflict, NotFound, ValidationFailed
from app.core.ids import uuid7
from app.core.pagination import offset_of
from app.extensions import db
from app.supply.models import MAX_CREDENTIALS, SupplyCredential
from tenants.context import current_tenant_id
from tenants.models import Tenant
from tenants.resolve import invalidate_resolution

KEY_PREFIX = "ks_"
MAX_NAME = 80
MAX_CALLBACK_URL = 300
#: hosts a callback may reach over plain http (a partner testing on its own machine)
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")
#: how stale ``last_used_at`` may be
LAST_USED_STEP = timedelta(minutes=1)


class TooManyCredentials(Conflict):
    slug = "too-many-supply-credentials"
    title = "This shop holds as many supply credentials as it may"


@dataclass(frozen=True)
class Issued:
    """A new credential and its secret, which is never shown again."""

    credential: SupplyCredential
    secret: str
    email: str


@dataclass(frozen=True)
class CredentialRow:
    """A credential as listed: the row and its account's email."""

    credential: SupplyCredential
    email: str

    @property
    def revoked(self) -> bool:
        return self.credential.revoked_at is not None


def supply_open() -> bool:
    """Whether the current shop's supply API answers (the stored value)."""
    return bool(
        db.session.scalar(select(Tenant.supply_open).where(Tenant.id == current_tenant_id()))
    )


def set_supply_open(is_open: bool, *, actor: str) -> bool:
    """Open or close the current shop's supply API. Audited when it changes;
    returns the new state. Closed, every signed request is refused with 403
    ``supply-closed`` (credentials are kept)."""
    tenant = db.session.get(Tenant, current_tenant_id())
    if tenant is None:
        raise NotFound("No such shop.")
    if bool(tenant.supply_open) == bool(is_open):
        db.session.rollback()
        return bool(is_open)
    tenant.supply_open = bool(is_open)
    audit.record(actor, "supply.opened" if is_open else "supply.closed", f"shop:{tenant.slug}")
    db.session.commit()
    invalidate_resolution()
    return bool(is_open)


def clean_callback_url(value: str | None) -> str | None:
    """``None`` for no callback; else an https URL (or http to a local host)
    of at most ``MAX_CALLBACK_URL`` characters (``ValidationFailed``)."""
    text = (value or "").strip()
    if not text:
        return None

    def refuse(detail: str, message) -> ValidationFailed:
        return ValidationFailed(detail, errors={"callback_url": [detail]}, message=message)

    if len(text) > MAX_CALLBACK_URL:
        raise refuse(
            f"At most {MAX_CALLBACK_URL} characters.",
            _l("The callback URL may be at most %(max)s characters.", max=MAX_CALLBACK_URL),
        )
    try:
        parts = urlsplit(text)
        host = parts.hostname or ""
    except ValueError:
        parts, host = None, ""
    local_http = parts is not None and parts.scheme == "http" and host in LOCAL_HOSTS
    if parts is None or not host or not (parts.scheme == "https" or local_http):
        raise refuse(
            "Must be an https:// URL (http:// only for localhost).",
            _l("The callback URL must start with https:// (http:// only for localhost)."),
        )
    if any(ch.isspace() for ch in text) or parts.username or parts.password:
        raise refuse(
            "Must be a plain URL without spaces or user info.",
            _l("The callback URL must not contain spaces or a user name."),
        )
    return text


def _account_by_email(email: str) -> ShopAccount:
    from app.accounts.services import normalize_email

    account = db.session.scalar(
        select(ShopAccount).where(
            ShopAccount.email == normalize_email(email), ShopAccount.is_active.is_(True)
        )
    )
    if account is None:
        raise ValidationFailed(
            "No active account of this shop has that email.",
            errors={"email": ["No active account of this shop has that email."]},
            message=_l("No active account of this shop has that email."),
        )
    return account


def issue_credential(
    *, email: str, name: str, callback_url: str | None = None, actor: str
) -> Issued:
    """Issue a credential acting as the shop's account with ``email``.
    Returns it with its secret (shown once). ``ValidationFailed`` for an
    unknown account, an empty or long name or a bad callback URL;
    ``TooManyCredentials`` (409) past ``MAX_CREDENTIALS`` unrevoked ones.
    Audited; commits."""
    label = (name or "").strip()
    if not label or len(label) > MAX_NAME:
        raise ValidationFailed(
            f"A name of 1 to {MAX_NAME} characters is required.",
            errors={"name": [f"1 to {MAX_NAME} characters."]},
            message=_l("Give the credential a name of 1 to %(max)s characters.", max=MAX_NAME),
        )
    callback = clean_callback_url(callback_url)
    account = _account_by_email(email)
    live = db.session.scalar(
        select(func.count())
        .select_from(SupplyCredential)
        .where(SupplyCredential.revoked_at.is_(None))
    )
    if (live or 0) >= MAX_CREDENTIALS:
        raise TooManyCredentials(
            f"A shop may hold {MAX_CREDENTIALS} supply credentials; revoke one first.",
            message=_l(
                "A shop may hold %(max)s supply credentials; revoke one first.",
                max=MAX_CREDENTIALS,
            ),
        )
    secret = secrets.token_urlsafe(32)
    cipher = get_cipher()
    credential = SupplyCredential(
        id=uuid7(),
        account_id=account.id,
        name=label,
        key_id=KEY_PREFIX + secrets.token_urlsafe(18),
        callback_url=callback,
        secret_key_id=cipher.current_id,
    )
    credential.secret = cipher.encrypt(credential.id, secret)
    db.session.add(credential)
    audit.record(
        actor,
        "supply_credential.issued",
        f"supply_credential:{credential.id}",
        key_id=credential.key_id,
        account=account.email,
    )
    db.session.commit()
    return Issued(credential, secret, account.email)


def list_credentials(*, page: int = 1, per_page: int = 50) -> tuple[list[CredentialRow], int]:
    """A page of the shop's credentials (newest first, revoked ones too) with
    their accounts' emails, and the total."""
    total = db.session.scalar(select(func.count()).select_from(SupplyCredential)) or 0
    rows = db.session.execute(
        select(SupplyCredential, ShopAccount.email)
        .join(ShopAccount, ShopAccount.id == SupplyCredential.account_id)
        .order_by(SupplyCredential.created_at.desc(), SupplyCredential.id.desc())
        .limit(per_page)
        .offset(offset_of(page, per_page))
    ).all()
    return [CredentialRow(c, email) for c, email in rows], total


def get_credential(credential_id: uuid.UUID) -> CredentialRow:
    """One of the shop's credentials (``NotFound`` for another shop's)."""
    row = db.session.execute(
        select(SupplyCredential, ShopAccount.email)
        .join(ShopAccount, ShopAccount.id == SupplyCredential.account_id)
        .where(SupplyCredential.id == credential_id)
    ).first()
    if row is None:
        raise NotFound("No such supply credential.")
    return CredentialRow(row[0], row[1])


def revoke_credential(credential_id: uuid.UUID, *, actor: str) -> CredentialRow:
    """Revoke a credential: from now on its key is unknown to the supply API.
    Revoking a revoked one changes nothing. Audited; commits."""
    row = get_credential(credential_id)
    if row.credential.revoked_at is not None:
        db.session.rollback()
        return row
    db.session.execute(
        update(SupplyCredential)
        .where(SupplyCredential.id == credential_id, SupplyCredential.revoked_at.is_(None))
        .values(revoked_at=datetime.now(UTC))
        .execution_options(synchronize_session=False)
    )
    audit.record(
        actor,
        "supply_credential.revoked",
        f"supply_credential:{credential_id}",
        key_id=row.credential.key_id,
    )
    db.session.commit()
    return get_credential(credential_id)


def set_callback_url(credential_id: uuid.UUID, url: str | None, *, actor: str) -> CredentialRow:
    """Set (or with an empty value clear) where a credential's status
    callbacks go (``clean_callback_url``). Audited; commits."""
    callback = clean_callback_url(url)
    row = get_credential(credential_id)
    if row.credential.callback_url == callback:
        db.session.rollback()
        return row
    row.credential.callback_url = callback
    audit.record(
        actor,
        "supply_credential.callback",
        f"supply_credential:{credential_id}",
        callback_url=callback,
    )
    db.session.commit()
    return get_credential(credential_id)


def credential_for_key(key_id: str) -> SupplyCredential | None:
    """The current shop's unrevoked credential with ``key_id`` (a key of
    another shop, or a revoked one, is ``None``)."""
    return db.session.scalar(
        select(SupplyCredential).where(
            SupplyCredential.key_id == key_id, SupplyCredential.revoked_at.is_(None)
        )
    )


def credential_and_open(key_id: str) -> tuple[SupplyCredential | None, bool]:
    """``credential_for_key`` and whether the current shop's supply API is
    open (``supply_open``), in one read: what the supply API's gate asks of
    every request. ``(None, False)`` for an unknown or revoked key."""
    row = db.session.execute(
        select(SupplyCredential, Tenant.supply_open)
        .join(Tenant, Tenant.id == SupplyCredential.tenant_id)
        .where(SupplyCredential.key_id == key_id, SupplyCredential.revoked_at.is_(None))
    ).first()
    if row is None:
        return None, False
    return row[0], bool(row[1])


def touch(credential: SupplyCredential) -> None:
    """Note that the credential was used now (at most once a minute, so a
    busy partner costs no write per request). Commits."""
    now = datetime.now(UTC)
    last = credential.last_used_at
    if last is not None and now - last < LAST_USED_STEP:
        return
    db.session.execute(
        update(SupplyCredential)
        .where(SupplyCredential.id == credential.id)
        .values(last_used_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def secret_of(credential: SupplyCredential) -> str:
    """The credential's secret, unsealed (for signing and verifying only;
    never shown or logged)."""
    return get_cipher().decrypt(credential.id, credential.secret_key_id, credential.secret)
