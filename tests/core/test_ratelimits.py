"""``app.core.ratelimits``: the purchase path's fixed-window limit, counted in
one Redis call, refuses past its limit with when to come back, never lets a
counter live forever, and keeps one budget per scope and key."""

from __future__ import annotations

import pytest

from app.core.ratelimits import RateLimited, count
from app.core.redisconn import get_redis


def test_the_limit_refuses_past_its_count_and_says_when_to_come_back(app_ctx):
    for _ in range(2):
        count("test-scope", "2 per minute", "client-a")

    with pytest.raises(RateLimited) as refused:
        count("test-scope", "2 per minute", "client-a")

    headers = refused.value.limit_headers
    assert refused.value.code == 429
    assert 1 <= int(headers["Retry-After"]) <= 60
    assert headers["X-RateLimit-Limit"] == "2" and headers["X-RateLimit-Remaining"] == "0"
    # Another key and another scope have budgets of their own.
    count("test-scope", "2 per minute", "client-b")
    count("other-scope", "2 per minute", "client-a")
    assert 0 < get_redis().ttl("kameng:rl:test-scope:client-a") <= 60


def test_a_counter_that_lost_its_expiry_gets_one_again(app_ctx):
    redis = get_redis()
    redis.set("kameng:rl:test-scope:stuck", 5)  # no expiry: would refuse forever

    count("test-scope", "10 per hour", "stuck")

    assert 0 < redis.ttl("kameng:rl:test-scope:stuck") <= 3600
