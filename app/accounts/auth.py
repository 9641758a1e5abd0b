"""Who the request comes from: sessions (Flask-Login), API keys, and the
``require`` decorator that every protected view and endpoint uses.

Sessions are bound to the site they were made on: the cookie is host-only,
and the user id Flask-Login keeps (in the session and in the "keep me signed
in" cookie) names the shop id (or ``platform``) it was made for; an id
presented on another site loads no user.

API keys authenticate ``/api/`` requests only. Pages ignore the
``Authorization`` header: it may carry a proxy's Basic credentials, and a key
must not open the console, whose forms rely on a session and its CSRF token.
"""

from __future__ import annotations

import functools
import uuid

from flask import current_app, g, request, session
from flask_login import current_user, login_user, logout_user

from app.accounts import services
from app.accounts.models import PlatformUser, ShopAccount
from app.accounts.permissions import ANONYMOUS, Principal, authorize
from app.core.errors import NotFound, Unauthorized
from app.extensions import csrf, limiter, login_manager


def _sign_in_limit_key() -> str:
    # Per client address and per *site*, not per Host header: the header is
    # the client's to choose, and "alpha.localhost:8080" or "www." must not
    # buy a fresh budget of password guesses.
    return f"{request.remote_addr or '-'}|{_site_marker()}"


#: Decorator for every form that checks a password: LOGIN_RATE_LIMIT (POSTs
#: only) per client address and site; the 11th try in a minute gets a 429.
limit_sign_in = limiter.limit(
    lambda: current_app.config["LOGIN_RATE_LIMIT"],
    methods=["POST"],
    key_func=_sign_in_limit_key,
)


def _site_marker() -> str:
    shop = getattr(g, "shop", None)
    if shop is not None:
        return str(shop.id)
    # Pages of unknown hosts (error pages) are no site: no session loads there.
    return "platform" if g.get("site") == "platform" else "nowhere"


class SessionUser:
    """What Flask-Login keeps for the request: a principal plus its row."""

    is_active = True
    is_authenticated = True
    is_anonymous = False

    def __init__(self, principal: Principal, row) -> None:
        self.principal = principal
        self.row = row

    def get_id(self) -> str:
        """``<kind>:<site>:<id>``: the site makes the id worthless anywhere else."""
        prefix = "p" if self.principal.kind == "platform_user" else "s"
        return f"{prefix}:{_site_marker()}:{self.principal.id}"


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
    kind, site, raw = ((user_id or "").split(":", 2) + ["", ""])[:3]
    if site != _site_marker():
        return None
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
        except NotFound:  # the account is gone
            return None
        if not account.is_active:
            return None
        return SessionUser(principal_for_shop_account(account), account)
    return None


def sign_in(principal: Principal, row, remember: bool = False) -> None:
    """Start a session for ``principal`` on this site (shop or platform)."""
    session.clear()
    login_user(SessionUser(principal, row), remember=remember)


def sign_out() -> None:
    logout_user()
    session.clear()


def current_principal() -> Principal:
    """The request's principal, computed once: API key first, then session."""
    if "principal" in g:
        return g.principal
    principal = ANONYMOUS
    header = request.headers.get("Authorization", "") if request.path.startswith("/api/") else ""
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


def authenticate_api_request() -> Principal:
    """Authenticate an ``/api/`` request before any endpoint runs.

    A key that is not valid for this shop is refused (401) on every endpoint,
    public ones included. A session caller's writes must carry the CSRF token
    (``X-CSRFToken``), as forms do; API keys need none.
    """
    principal = current_principal()
    if (
        principal.is_authenticated
        and principal.via == "session"
        and request.method not in ("GET", "HEAD", "OPTIONS")
    ):
        csrf.protect()
    return principal


def require(permission: str):
    """Decorator: the view runs only for a principal holding ``permission``."""

    def decorate(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            authorize(current_principal(), permission)
            return view(*args, **kwargs)

        wrapper.required_permission = permission
        return wrapper

    return decorate
