"""The order look-up's rate limit, shared by the API and the look-up page
(one budget per client address and shop, so guessing email + number pairs
is slowed to a crawl whichever door is used)."""

from __future__ import annotations

from flask import current_app, g, request

from app.extensions import limiter


def lookup_rate_limit() -> str:
    return current_app.config.get("ORDER_LOOKUP_RATE_LIMIT", "10 per minute")


def lookup_limit_key() -> str:
    # Per client address and per shop (not per Host header, which the client
    # chooses).
    return f"{request.remote_addr or '-'}|{g.shop.id if g.get('shop') else '-'}"


#: Order look-up by email and number.
limit_lookup = limiter.shared_limit(
    lookup_rate_limit, scope="order-lookup", key_func=lookup_limit_key, methods=["POST"]
)
