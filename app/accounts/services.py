"""Sign-up, sign-in and API keys. The only place account rows change.

Platform users are platform-level rows; shop accounts and API keys are
tenant-owned and so only reachable inside the current shop's context.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime
from typing import NamedTuple, TypeVar

from email_validator import EmailNotValidError, validate_email
from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, func, select, update

from app.accounts.models import (
    MEMBER_ROLES,
    ROLE_CUSTOMER,
    ROLE_OWNER,
    ROLE_STAFF,
    SHOP_ROLES,
    ApiKey,
    Membership,
    PlatformUser,
    ShopAccount,
)
from app.accounts.permissions import member_grants
from app.billing import limits
from app.core.errors import Conflict, NotFound, ValidationFailed
from app.core.pagination import offset_of
from app.core.prepared import Prepared
from app.core.security import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    digests_equal,
    hash_password,
    needs_rehash,
    token_digest,
    verify_password,
)
from app.extensions import db
from tenants.context import all_tenants, current_tenant_id

API_KEY_PREFIX = "km_"
_Credentialed = TypeVar("_Credentialed", PlatformUser, ShopAccount)


def normalize_email(email: str) -> str:
    """Validate syntax (no DNS) and return the address with its domain lower-cased."""
    try:
        info = validate_email((email or "").strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValidationFailed(
            "That email address is not valid.",
            errors={"email": [str(exc)]},
            message=_l("That email address is not valid."),
        ) from exc
    return info.normalized.lower()


def check_password(password: str) -> str:
    if not password or len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(
            f"The password must be at least {MIN_PASSWORD_LENGTH} characters long.",
            errors={"password": [f"At least {MIN_PASSWORD_LENGTH} characters."]},
            message=_l(
                "The password must be at least %(min)s characters long.", min=MIN_PASSWORD_LENGTH
            ),
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValidationFailed(
            "The password is too long.",
            errors={"password": [f"At most {MAX_PASSWORD_LENGTH} characters."]},
            message=_l(
                "The password may be at most %(max)s characters long.", max=MAX_PASSWORD_LENGTH
            ),
        )
    return password


# --- platform users -------------------------------------------------------


def create_platform_user(
    email: str, password: str, *, platform_admin: bool = False, display_name: str | None = None
) -> PlatformUser:
    """Create an operator (or the platform owner). Commits; ``Conflict`` if the email exists."""
    email = normalize_email(email)
    check_password(password)
    if db.session.scalar(select(PlatformUser.id).where(PlatformUser.email == email)):
        raise Conflict(
            "An account with this email already exists.",
            errors={"email": ["Already registered."]},
            message=_l("An account with this email already exists."),
        )
    user = PlatformUser(
        email=email,
        password_hash=hash_password(password),
        is_platform_admin=platform_admin,
        display_name=display_name,
    )
    db.session.add(user)
    db.session.commit()
    return user


def sign_up_operator(email: str, password: str, *, shop_slug: str, shop_name: str):
    """Create an operator and their first shop in one transaction: both or
    neither. Returns ``(PlatformUser, Tenant)``; the shop answers on its host
    at once. ``ValidationFailed`` for bad input, ``Conflict`` when the email or
    the shop address is taken; nothing is written in either case.
    """
    from app.accounts.shops import open_shop
    from tenants import provisioning, slugs

    slug = slugs.validate_slug(shop_slug)
    provisioning.validate_shop_name(shop_name)
    email = normalize_email(email)
    check_password(password)
    slugs.ensure_slug_free(slug)
    if db.session.scalar(select(PlatformUser.id).where(PlatformUser.email == email)):
        raise Conflict(
            "An account with this email already exists; sign in to open another shop.",
            errors={"email": ["Already registered."]},
            message=_l("An account with this email already exists; sign in to open another shop."),
        )
    user = PlatformUser(email=email, password_hash=hash_password(password))
    try:
        db.session.add(user)
        db.session.flush()
        tenant = open_shop(slug, shop_name, user)  # commits user and shop
    except Exception:
        db.session.rollback()
        raise
    return user, tenant


def set_platform_admin(email: str, password: str | None) -> PlatformUser:
    """Make ``email`` a platform owner, creating the user when needed. Idempotent."""
    email = normalize_email(email)
    user = db.session.scalar(select(PlatformUser).where(PlatformUser.email == email))
    if user is None:
        if password is None:
            raise ValidationFailed("A password is needed for a new user.")
        return create_platform_user(email, password, platform_admin=True)
    user.is_platform_admin = True
    if password is not None:
        user.password_hash = hash_password(check_password(password))
    db.session.commit()
    return user


def authenticate_platform_user(email: str, password: str) -> PlatformUser | None:
    """The active user with this email and password, else ``None`` (same cost either way)."""
    return _authenticate(PlatformUser, email, password)


def _authenticate(model: type[_Credentialed], email: str, password: str) -> _Credentialed | None:
    """The one sign-in rule: the active row of ``model`` with this email and
    password, else ``None``, costing one password hash either way (no email
    probing by timing). On success the hash is upgraded to the current
    parameters and the sign-in time stamped; commits."""
    try:
        email = normalize_email(email)
    except ValidationFailed:
        verify_password(None, password or "")
        return None
    row = db.session.scalar(select(model).where(model.email == email))
    if not verify_password(row.password_hash if row else None, password or ""):
        return None
    if not row.is_active:
        return None
    if needs_rehash(row.password_hash):
        row.password_hash = hash_password(password)
    row.last_login_at = datetime.now(UTC)
    db.session.commit()
    return row


def get_platform_user(user_id: uuid.UUID) -> PlatformUser | None:
    return db.session.get(PlatformUser, user_id)


def membership_of(user_id: uuid.UUID) -> Membership | None:
    """The user's membership of the current shop, if any."""
    return db.session.scalar(select(Membership).where(Membership.user_id == user_id))


def shops_of(user_id: uuid.UUID) -> list[tuple[Membership, object]]:
    """Every shop the user belongs to, across shops (platform site)."""
    from tenants.models import Tenant

    with all_tenants():
        rows = db.session.execute(
            select(Membership, Tenant)
            .join(Tenant, Tenant.id == Membership.tenant_id)
            .where(Membership.user_id == user_id)
            .order_by(Tenant.created_at)
        ).all()
    return [(m, t) for m, t in rows]


def add_member(user: PlatformUser, role: str) -> Membership:
    """Add a platform user to the current shop. Commits."""
    if role not in MEMBER_ROLES:
        raise ValidationFailed(f"Role must be one of {', '.join(MEMBER_ROLES)}.")
    if membership_of(user.id):
        raise Conflict("That user is already a member of this shop.")
    if role == ROLE_STAFF:
        limits.check("staff")
    member = Membership(user_id=user.id, role=role)
    db.session.add(member)
    db.session.commit()
    return member


# --- shop accounts --------------------------------------------------------


def create_shop_account(
    email: str,
    password: str,
    *,
    role: str = ROLE_CUSTOMER,
    display_name: str | None = None,
    upline_id: uuid.UUID | None = None,
) -> ShopAccount:
    """Create a buyer/agent/supplier in the current shop. Commits.

    ``Conflict`` when the email already has an account in this shop (the
    same email at another shop is another account). ``upline_id``: the
    agent who recruited it (an invite link, ``app.agents.invites``).
    """
    if role not in SHOP_ROLES:
        raise ValidationFailed(
            f"Role must be one of {', '.join(SHOP_ROLES)}.", errors={"role": ["Unknown role."]}
        )
    email = normalize_email(email)
    check_password(password)
    if db.session.scalar(select(ShopAccount.id).where(ShopAccount.email == email)):
        raise Conflict(
            "An account with this email already exists in this shop.",
            errors={"email": ["Already registered."]},
            message=_l("An account with this email already exists in this shop."),
        )
    account = ShopAccount(
        email=email,
        password_hash=hash_password(password),
        role=role,
        display_name=display_name,
        upline_id=upline_id,
    )
    db.session.add(account)
    db.session.commit()
    return account


def authenticate_shop_account(email: str, password: str) -> ShopAccount | None:
    """The current shop's active account with these credentials, else ``None``
    (same cost either way)."""
    return _authenticate(ShopAccount, email, password)


def get_shop_account(account_id: uuid.UUID) -> ShopAccount:
    """An account of the current shop; ``NotFound`` for any other id."""
    account = db.session.scalar(select(ShopAccount).where(ShopAccount.id == account_id))
    if account is None:
        raise NotFound("No such account.")
    return account


class SessionAccount(NamedTuple):
    """What a signed-in shop account's session needs of its row, read on
    every request: who, in which role, whether it may still sign in."""

    id: uuid.UUID
    role: str
    email: str
    is_active: bool


_shop_accounts = ShopAccount.__table__
#: Prepared once (``app.core.prepared``): a Core read of four columns costs a
#: fraction of loading the ORM row, and every signed-in buyer's request makes it. The shop is bound
#: by hand (the ORM tenant guard does not see Core statements).
_SESSION_ACCOUNT = Prepared(
    select(
        _shop_accounts.c.id,
        _shop_accounts.c.role,
        _shop_accounts.c.email,
        _shop_accounts.c.is_active,
    ).where(
        _shop_accounts.c.tenant_id == bindparam("tenant_id"),
        _shop_accounts.c.id == bindparam("account_id"),
    )
)


def session_account(account_id: uuid.UUID) -> SessionAccount | None:
    """The current shop's account ``account_id`` as its session needs it
    (``None`` when the shop has no such account)."""
    tenant_id = current_tenant_id()
    if tenant_id is None:
        raise RuntimeError("a shop account is read in its shop's context")
    row = _SESSION_ACCOUNT.run(
        db.session.connection(), {"tenant_id": tenant_id, "account_id": account_id}
    ).first()
    return SessionAccount(*row) if row is not None else None


def list_shop_accounts(
    *, role: str | None = None, page: int = 1, per_page: int = 50
) -> tuple[list[ShopAccount], int]:
    query = select(ShopAccount)
    if role:
        query = query.where(ShopAccount.role == role)
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    rows = db.session.scalars(
        query.order_by(ShopAccount.created_at.desc(), ShopAccount.id.desc())
        .limit(per_page)
        .offset(offset_of(page, per_page))
    ).all()
    return list(rows), int(total or 0)


def update_shop_account(account_id: uuid.UUID, *, actor: str, **fields) -> ShopAccount:
    """Change an account of the current shop: its role, tier, upline, name
    or active flag (the rules are ``app.accounts.standing.update_account``).
    Audited; commits."""
    from app.accounts.standing import update_account

    return update_account(account_id, fields, actor=actor)


# --- API keys -------------------------------------------------------------


def create_api_key(name: str, created_by: uuid.UUID | None, role: str = ROLE_OWNER):
    """Create an operator API key for the current shop.

    Returns ``(ApiKey, plaintext)``; the plaintext is never stored and
    cannot be shown again.
    """
    name = (name or "").strip() or "API key"
    if len(name) > 80:
        raise ValidationFailed(
            "The key name is too long.",
            errors={"name": ["At most 80."]},
            message=_l("The key name may be at most 80 characters long."),
        )
    if role not in MEMBER_ROLES:
        raise ValidationFailed("Unknown role.", errors={"role": ["Unknown role."]})
    limits.check("api")
    prefix = secrets.token_hex(4)
    plaintext = f"{API_KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey(
        name=name,
        prefix=prefix,
        key_hash=token_digest(plaintext),
        role=role,
        created_by_id=created_by,
    )
    db.session.add(key)
    db.session.commit()
    return key, plaintext


def _role_covers(maker_role: str | None, key_role: str) -> bool:
    """Whether a member with ``maker_role`` may hold a key of ``key_role``."""
    if maker_role is None:
        return False
    return maker_role == ROLE_OWNER or maker_role == key_role


def list_api_keys() -> list[ApiKey]:
    """The shop's operator keys, newest first (agents' own keys are theirs:
    ``app.accounts.agent_keys``)."""
    return list(
        db.session.scalars(
            select(ApiKey)
            .where(ApiKey.shop_account_id.is_(None))
            .order_by(ApiKey.created_at.desc())
        ).all()
    )


def revoke_api_key(key_id: uuid.UUID) -> ApiKey:
    """Revoke an operator key of the current shop. Idempotent; an agent's
    own key is ``NotFound`` here."""
    key = db.session.scalar(
        select(ApiKey).where(ApiKey.id == key_id, ApiKey.shop_account_id.is_(None))
    )
    if key is None:
        raise NotFound("No such API key.")
    if key.revoked_at is None:
        key.revoked_at = datetime.now(UTC)
        db.session.commit()
    return key


class KeyHolder(NamedTuple):
    """What an API key authenticates as: the key, the grants it holds from
    its maker (operator keys), and for an agent's own key the shop account
    it acts as, read when the key was checked (``account_id`` is ``None``
    for an operator key)."""

    key: ApiKey
    grants: frozenset[str]
    account_id: uuid.UUID | None = None
    account_role: str | None = None
    account_email: str | None = None


def authenticate_api_key(plaintext: str) -> KeyHolder | None:
    """The live key of the current shop matching ``plaintext``, else ``None``.

    A key of another shop never matches: the lookup runs under the guard. A
    staff key holds what its maker's membership is granted now (see
    ``permissions.member_grants``): a key made by an owner or from the
    command line holds none; its role decides the rest. An agent's own key
    (``shop_account_id``) acts as that account while it is active; a key
    of an account that is gone or deactivated is refused.
    """
    if current_tenant_id() is None or not plaintext.startswith(API_KEY_PREFIX):
        return None
    try:
        prefix = plaintext[len(API_KEY_PREFIX) :].split("_", 1)[0]
    except IndexError:
        return None
    # The key and, for a key an operator made, that operator's role and
    # grants here now, or for an agent's key the agent: one query. A key
    # dies with its maker's membership, and an owner's key with their
    # demotion (keys made from the command line have no maker).
    row = db.session.execute(
        select(ApiKey, Membership.role, Membership.can_view_codes, ShopAccount)
        .outerjoin(Membership, Membership.user_id == ApiKey.created_by_id)
        .outerjoin(ShopAccount, ShopAccount.id == ApiKey.shop_account_id)
        .where(ApiKey.prefix == prefix)
    ).first()
    if row is None:
        return None
    key, maker_role, maker_sees_codes, account = row
    if key.revoked_at is not None or not digests_equal(key.key_hash, token_digest(plaintext)):
        return None
    holder = KeyHolder(key, member_grants(maker_role, can_view_codes=bool(maker_sees_codes)))
    if key.shop_account_id is not None:
        if account is None or not account.is_active:
            return None
        holder = KeyHolder(key, frozenset(), account.id, account.role, account.email)
    elif key.created_by_id is not None and not _role_covers(maker_role, key.role):
        return None
    now = datetime.now(UTC)
    last = key.last_used_at
    if last is None or (now - last).total_seconds() > 60:
        db.session.execute(update(ApiKey).where(ApiKey.id == key.id).values(last_used_at=now))
        db.session.commit()
    return holder
