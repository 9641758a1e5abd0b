"""Who the request comes from: sessions (Flask-Login), API keys, and the
``require`` decorator that every protected view and endpoint uses.

Sessions are bound to the site they were made on: the cookie is host-only,
and the session also records the shop id (or ``platform``) at sign-in; a
session presented elsewhere loads no user.
"""

from __future__ import annotations

import functools
import uuid

from flask import g, request, session
from flask_login import current_user, login_user, logout_user

from app.accounts import services
from app.accounts.models import PlatformUser, ShopAccount
from app.accounts.permissions import ANONYMOUS, Principal, authorize
from app.core.errors import Unauthorized
from app.extensions import csrf, login_manager

SITE_KEY = "_site"


def _site_marker() -> str:
    shop = getattr(g, "shop", None)
    return str(shop.id) if shop else "platform"


class SessionUser:
    """What Flask-Login keeps for the request: a principal plus its row."""

    is_active = True
    is_authenticated = True
    is_anonymous = False

    def __init__(self, principal: Principal, row) -> None:
        self.principal = principal
        self.row = row

    def get_id(self) -> str:
        prefix = "p" if self.principal.kind == "platform_user" else "s"
        return f"{prefix}:{self.principal.id}"


def principal_for_platform_user(user: PlatformUser) -> Principal:
    roles: set[str] = set()
    shop = getattr(g, "shop", None)
    if shop is None:
        roles.add("operator")
        if user.is_platform_admin:
            roles.add("platform_admin")
    else:
        member = services.membership_of(user.id)
        if member is not None:
            roles.add(member.role)
    return Principal("platform_user", user.id, frozenset(roles), user.email)


def principal_for_shop_account(account: ShopAccount) -> Principal:
    return Principal("shop_account", account.id, frozenset({account.role}), account.email)


@login_manager.user_loader
def _load_user(user_id: str) -> SessionUser | None:
    if session.get(SITE_KEY) != _site_marker():
        return None
    kind, _, raw = (user_id or "").partition(":")
    try:
        ident = uuid.UUID(raw)
    except ValueError:
        return None
    shop = getattr(g, "shop", None)
    if kind == "p":
        user = services.get_platform_user(ident)
        if user is None or not user.is_active:
            return None
        principal = principal_for_platform_user(user)
        if shop is not None and not principal.roles:
            return None  # no longer a member of this shop
        return SessionUser(principal, user)
    if kind == "s" and shop is not None:
        try:
            account = services.get_shop_account(ident)
        except Exception:  # noqa: BLE001 - NotFound: the account is gone
            return None
        if not account.is_active:
            return None
        return SessionUser(principal_for_shop_account(account), account)
    return None


def sign_in(principal: Principal, row, remember: bool = False) -> None:
    """Start a session for ``principal`` on this site (shop or platform)."""
    session.clear()
    session[SITE_KEY] = _site_marker()
    login_user(SessionUser(principal, row), remember=remember)


def sign_out() -> None:
    logout_user()
    session.clear()


def current_principal() -> Principal:
    """The request's principal, computed once: API key first, then session."""
    if "principal" in g:
        return g.principal
    principal = ANONYMOUS
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("Use 'Authorization: Bearer <API key>'.")
        key = services.authenticate_api_key(token.strip())
        if key is None:
            raise Unauthorized("The API key is not valid for this shop, or was revoked.")
        principal = Principal("api_key", key.id, frozenset({key.role}), None, via="api_key")
    elif current_user.is_authenticated:
        principal = current_user.principal
    g.principal = principal
    return principal


def require(permission: str):
    """Decorator: the view runs only for a principal holding ``permission``.

    For session-authenticated writes to the API, the CSRF token is checked
    too (forms are checked by CSRFProtect already; API keys need none).
    """

    def decorate(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            principal = current_principal()
            authorize(principal, permission)
            if (
                principal.via == "session"
                and request.method not in ("GET", "HEAD", "OPTIONS")
                and request.path.startswith("/api/")
            ):
                csrf.protect()
            return view(*args, **kwargs)

        wrapper.required_permission = permission
        return wrapper

    return decorate
