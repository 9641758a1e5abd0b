"""Who the request comes from: sessions (Flask-Login), API keys, and the
``require`` decorator that every protected view and endpoint uses.

Sessions are bound to the site they were made on: the cookie is host-only,
and the user id Flask-Login keeps (in the session and in the "keep me signed
in" cookie) names the shop id (or ``platform``) it was made for; an id
presented on another site loads no user. The id also carries a random
sign-in id, recorded in Redis at sign-out: the session cookies are signed,
not stored, so without that a copy taken before sign-out would still work.

API keys authenticate ``/api/`` requests only. Pages ignore the
``Authorization`` header: it may carry a proxy's Basic credentials, and a key
must not open the console, whose forms rely on a session and its CSRF token.
"""

from __future__ import annotations

import functools
import logging
import secrets
import uuid
from datetime import timedelta

from flask import current_app, g, request, session
from flask_login import current_user, login_user, logout_user

from app.accounts import services
from app.accounts.models import PlatformUser, ShopAccount
from app.accounts.permissions import ANONYMOUS, Principal, authorize, member_grants
from app.core.errors import Forbidden, Unauthorized
from app.extensions import csrf, limiter, login_manager

log = logging.getLogger(__name__)
SIGNED_OUT_KEY = "kameng:signed-out:{}"


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


#: Decorator for the "forgot password" forms: PASSWORD_RESET_RATE_LIMIT
#: (POSTs only) per client address and site, so nobody mails a flood of
#: reset links from one address (one address is also mailed at most once a
#: minute: ``app.accounts.resets``).
limit_reset_request = limiter.limit(
    lambda: current_app.config["PASSWORD_RESET_RATE_LIMIT"],
    methods=["POST"],
    key_func=_sign_in_limit_key,
    scope="password-reset",
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

    def __init__(self, principal: Principal, row, sign_in_id: str) -> None:
        self.principal = principal
        self.row = row
        self.sign_in_id = sign_in_id

    def get_id(self) -> str:
        """``<kind>:<site>:<id>:<sign-in id>``: worthless on another site or
        after sign-out."""
        prefix = "p" if self.principal.kind == "platform_user" else "s"
        return f"{prefix}:{_site_marker()}:{self.principal.id}:{self.sign_in_id}"


def principal_for_platform_user(user: PlatformUser) -> Principal:
    """The user as the current site knows them: in a shop, their membership's
    role and the owner's grants to them as they stand now (read on every
    request, so a revoked grant ends with the next one)."""
    roles: set[str] = set()
    grants: frozenset[str] = frozenset()
    shop = getattr(g, "shop", None)
    if shop is None:
        roles.add("operator")
        if user.is_platform_admin:
            roles.add("platform_admin")
    else:
        member = services.membership_of(user.id)
        if member is not None:
            roles.add(member.role)
            grants = member_grants(member.role, can_view_codes=member.can_view_codes)
    return Principal("platform_user", user.id, frozenset(roles), user.email, grants=grants)


def principal_for_shop_account(account: ShopAccount | services.SessionAccount) -> Principal:
    return Principal("shop_account", account.id, frozenset({account.role}), account.email)


@login_manager.user_loader
def _load_user(user_id: str) -> SessionUser | None:
    if g.get("kameng_sessions_unverifiable"):
        return None  # Redis went down during this request (see _signed_out)
    kind, site, raw, sign_in_id = ((user_id or "").split(":", 3) + ["", "", ""])[:4]
    if site != _site_marker() or not sign_in_id or _signed_out(sign_in_id):
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
        return SessionUser(principal, user, sign_in_id)
    if kind == "s" and shop is not None:
        account = services.session_account(ident)
        if account is None or not account.is_active:  # gone, or switched off
            return None
        return SessionUser(principal_for_shop_account(account), account, sign_in_id)
    return None


def _signed_out(sign_in_id: str) -> bool:
    """Whether this sign-in was ended. Fails closed: while Redis cannot be
    asked, the Redis error reaches the error edge and the request is
    answered 503 (a stolen copy of a signed-out session must not work
    because Redis is down, and a person still signed in should be told to
    wait, not be shown as signed out). Pages rendered after that, such as
    the 503 page itself, see an anonymous visitor."""
    from app.core.redisconn import get_redis

    return bool(get_redis().exists(SIGNED_OUT_KEY.format(sign_in_id)))


def sign_in(principal: Principal, row, remember: bool = False) -> None:
    """Start a session for ``principal`` on this site (shop or platform)."""
    session.clear()
    login_user(SessionUser(principal, row, secrets.token_urlsafe(12)), remember=remember)


def sign_out() -> None:
    """End the session here and make every copy of its cookies worthless."""
    from app.core.redisconn import get_redis

    if current_user.is_authenticated:
        # Remembered as long as any copy of the cookies could still be valid.
        config = current_app.config
        lifetimes = [
            config.get("REMEMBER_COOKIE_DURATION") or timedelta(days=365),
            config["PERMANENT_SESSION_LIFETIME"],
        ]
        seconds = max(
            t.total_seconds() if isinstance(t, timedelta) else float(t) for t in lifetimes
        )
        # Unrecorded, the other copies of the cookies would outlive it: with
        # Redis down this raises, the answer is 503 and the person is still
        # signed in here too, to try again.
        get_redis().set(SIGNED_OUT_KEY.format(current_user.sign_in_id), "1", ex=int(seconds))
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
        found = services.authenticate_api_key(token.strip())
        if found is None:
            raise Unauthorized("The API key is not valid for this shop, or was revoked.")
        if found.account_id is not None:
            # An agent's own key acts as the agent, in the role it holds
            # now: its prices, its wallet, its Idempotency-Keys; never as
            # the shop.
            principal = Principal(
                "shop_account",
                found.account_id,
                frozenset({found.account_role}),
                found.account_email,
                via="api_key",
            )
        else:
            key = found.key
            principal = Principal(
                "api_key", key.id, frozenset({key.role}), None, via="api_key", grants=found.grants
            )
    elif current_user.is_authenticated:
        principal = current_user.principal
    g.principal = principal
    return principal


def wallet_owner() -> uuid.UUID:
    """The shop account whose wallet this request may use; ``Forbidden``
    for anyone else (an operator, an API key, a guest)."""
    account_id = current_principal().shop_account_id
    if account_id is None:
        raise Forbidden("Only a shop account has a wallet.")
    return account_id


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
