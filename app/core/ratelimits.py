"""A fixed-window rate limit in one Redis round trip, for the hot paths.

Flask-Limiter serves the platform's other limits. On the purchase path its
own bookkeeping per request (which limits apply, exemption scopes, its
context; the check runs once before the view and once around it) cost
about as much CPU as the purchase's SQL round trips. ``fixed_window`` counts
with one Lua call instead (``INCR``; ``EXPIRE`` on a window's first hit;
the window's TTL back) and keeps the rest of the behaviour:

- the same limit strings (``"10 per minute"``), read from the settings on
  every request and parsed once per string (``limits.parse``);
- one budget per ``scope`` and key, whichever view counts against it (the
  API and the buy page share ``order-create``);
- a refusal is 429 with ``Retry-After`` and ``X-RateLimit-*``
  (``app.core.problems``);
- fail closed: while Redis cannot be asked the request is answered 503
  (the Redis error reaches the error edge), never served unlimited;
- ``RATELIMIT_ENABLED`` off (tests only; production refuses it) switches
  it off like Flask-Limiter's limits.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable

from flask import current_app, request
from limits import parse
from werkzeug.exceptions import TooManyRequests

_COUNT = """
local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('TTL', KEYS[1])
if n == 1 or ttl < 0 then
  redis.call('EXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl}
"""


class RateLimited(TooManyRequests):
    """A request over its limit, with the headers that say when to come back."""

    def __init__(self, amount: int, retry_after: int) -> None:
        super().__init__(f"{amount} per window; try again in {retry_after} s")
        self.limit_headers = {
            "Retry-After": str(retry_after),
            "X-RateLimit-Limit": str(amount),
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": str(int(time.time()) + retry_after),
        }


@functools.lru_cache(maxsize=64)
def _parsed(text: str) -> tuple[int, int]:
    item = parse(text)
    return item.amount, item.get_expiry()


def fixed_window(
    scope: str,
    limit: Callable[[], str],
    key: Callable[[], str],
    *,
    methods: tuple[str, ...] = ("POST",),
    exempt_when: Callable[[], bool] | None = None,
):
    """Decorator: count each ``methods`` request against ``limit()`` (a limit
    string) per ``scope`` and ``key()``; over it, ``RateLimited`` (429)."""

    def decorate(view):
        @functools.wraps(view)
        def limited(*args, **kwargs):
            if (
                request.method in methods
                and current_app.config.get("RATELIMIT_ENABLED", True)
                and not (exempt_when is not None and exempt_when())
            ):
                count(scope, limit(), key())
            return view(*args, **kwargs)

        return limited

    return decorate


def count(scope: str, limit: str, key: str) -> None:
    """Count one hit of ``key`` in ``scope``'s window; ``RateLimited`` past
    ``limit``."""
    from app.core.redisconn import get_redis

    amount, seconds = _parsed(limit)
    redis = get_redis()
    script = _script(redis)
    hits, ttl = script(keys=[f"kameng:rl:{scope}:{key}"], args=[seconds])
    if int(hits) > amount:
        raise RateLimited(amount, max(1, int(ttl)))


def _script(redis):
    """The counting script, registered once per client (kept on it)."""
    found = getattr(redis, "kameng_rate_script", None)
    if found is None:
        found = redis.kameng_rate_script = redis.register_script(_COUNT)
    return found
