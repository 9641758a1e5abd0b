"""GET /healthz on any host."""

from __future__ import annotations

import time

import pytest


@pytest.mark.parametrize("host", ["localhost", "alpha.localhost", "nosuch.localhost", "127.0.0.1"])
def test_healthz_answers_on_any_host(browser_for, make_shop, host):
    make_shop("alpha")
    response = browser_for(host).get("/healthz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok"
    assert body["database"] == "ok"
    assert body["redis"] == "ok"
    assert isinstance(body["workers"], int)


def test_healthz_counts_a_live_worker_and_the_worker_runs_jobs(app, platform, worker):
    from app.core.queues import get_queue

    body = platform.get("/healthz").get_json()
    assert body["workers"] >= 1
    with app.app_context():
        job = get_queue("default").enqueue("app.core.queues.ping", "hello")
        deadline = time.monotonic() + 20
        while job.get_status(refresh=True) != "finished" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert job.return_value() == "pong:hello"


def test_healthz_is_503_naming_redis_when_redis_is_down(app, platform, monkeypatch):
    import redis

    from app.core import redisconn

    dead = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    monkeypatch.setitem(app.extensions, "kameng_redis", dead)
    monkeypatch.setattr(redisconn, "get_redis", lambda app=None: dead)
    response = platform.get("/healthz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["redis"] == "down"
    assert body["database"] == "ok"
    assert body["status"] == "down"


def test_an_eviction_policy_that_can_drop_security_state_is_named(app):
    from app.core.redisconn import eviction_risk, get_redis

    with app.app_context():
        redis = get_redis(app)
        before = redis.config_get("maxmemory-policy")["maxmemory-policy"]
        try:
            redis.config_set("maxmemory-policy", "allkeys-lru")
            assert "allkeys-lru" in eviction_risk(redis)
            assert "noeviction" in eviction_risk(redis)
            redis.config_set("maxmemory-policy", "noeviction")
            assert eviction_risk(redis) is None
        finally:
            redis.config_set("maxmemory-policy", before)
