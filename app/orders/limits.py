"""The orders' rate limits, each shared by the API and the page that do the
same thing (one budget per client address and shop, whichever door is
used):

- the look-up, so guessing email + number pairs is slowed to a crawl;
- order creation (POST /api/v1/orders and the buy page), so a client cannot
  reserve a shop's stock by placing orders in a loop. API keys are the
  shop's own integrations and are exempt (one server places every order of
  an integration)."""

from __future__ import annotations

from flask import current_app, g, request

from app.core.ratelimits import fixed_window
from app.extensions import limiter


def lookup_rate_limit() -> str:
    return current_app.config.get("ORDER_LOOKUP_RATE_LIMIT", "10 per minute")


def create_rate_limit() -> str:
    return current_app.config.get("ORDER_CREATE_RATE_LIMIT", "10 per minute")


def _by_api_key() -> bool:
    from app.accounts.auth import current_principal

    return current_principal().kind == "api_key"


def client_and_shop() -> str:
    # Per client address and per shop (not per Host header, which the client
    # chooses).
    return f"{request.remote_addr or '-'}|{g.shop.id if g.get('shop') else '-'}"


#: Order look-up by email and number.
limit_lookup = limiter.shared_limit(
    lookup_rate_limit, scope="order-lookup", key_func=client_and_shop, methods=["POST"]
)

#: Placing an order (the API and the buy page): on the purchase path, so
#: counted in one Redis call (``app.core.ratelimits``), not by Flask-Limiter.
limit_create = fixed_window(
    "order-create", create_rate_limit, client_and_shop, exempt_when=_by_api_key
)
