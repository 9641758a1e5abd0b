"""A real Redis stopped and restarted under load.

The app runs under a real WSGI server on a Redis server of its own (so the
rest of the suite keeps its Redis), with the page cache on. Anonymous
visitors keep browsing the whole time. While Redis is down:

- pages that need no Redis keep serving (the page cache and the tenant
  cache step aside; nothing waits on Redis: the breaker fails fast);
- what cannot be done safely without it fails closed with a clear 503: a
  rate-limited sign-in or order, a signed-in session (its sign-out marker
  cannot be read);
- ``/healthz`` answers 503 and names Redis.

When Redis returns, everything recovers by itself: health, sign-in, the
same session, and the page cache.
"""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from collections import Counter

import pytest

from app import create_app
from app.core.redisconn import redis_is_down, redis_server_binary
from tests.conftest import PASSWORD
from tests.factories import add_account, add_product, codes
from tests.live import free_port, send, serving, wait_until


class RedisServer:
    """A redis-server process on a fixed loopback port: stop and start it."""

    def __init__(self, directory) -> None:
        self.port = free_port()
        self.directory = directory
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                redis_server_binary(),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
            ],  # fmt: skip
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()  # as a crash would: no goodbye to the clients
            self.proc.wait(10)
            self.proc = None


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


class Visitors:
    """Anonymous visitors browsing a shop until told to stop; every answer
    is recorded with the phase it was sent in."""

    def __init__(self, port: int, host: str, paths: list[str], threads: int = 3) -> None:
        self.port, self.host, self.paths = port, host, paths
        self.phase = "up"
        self.answers: Counter = Counter()
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._browse, daemon=True) for _ in range(threads)]

    def _browse(self) -> None:
        i = 0
        while not self._stop.is_set():
            path = self.paths[i % len(self.paths)]
            i += 1
            phase = self.phase
            try:
                answer = send(self.port, "GET", path, host=self.host)
                self.answers[(phase, answer.status)] += 1
            except Exception as exc:  # noqa: BLE001 - recorded, the test fails on it
                self.errors.append(f"{phase} {path}: {exc!r}")

    def __enter__(self):
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)


def test_a_redis_outage_under_load_fails_closed_where_it_must_and_recovers(
    app, app_config, shop, redis_server
):
    product_id = add_product(app, shop, stock=codes("OUT", 5))
    add_account(app, shop, "buyer@example.com")
    served = create_app(
        {
            **app_config,
            "REDIS_URL": redis_server.url,
            "WTF_CSRF_ENABLED": False,
            "PAGE_CACHE_SECONDS": 30,
            "REDIS_BREAKER_SECONDS": 0.5,
        }
    )
    sign_in_form = {"email": "buyer@example.com", "password": PASSWORD}
    host = shop.host
    with serving(served) as port:
        signed_in = send(port, "POST", "/account/login", host=host, form=sign_in_form)
        assert signed_in.status == 302, signed_in.body[:300]
        cookie = signed_in.getheader("Set-Cookie").split(";", 1)[0]
        assert send(port, "GET", "/account/", host=host, cookie=cookie).status == 200
        with Visitors(port, host, ["/", f"/p/{product_id}"]) as visitors:
            time.sleep(0.5)

            visitors.phase = "down"
            redis_server.stop()
            time.sleep(1.0)

            health = send(port, "GET", "/healthz", host="localhost")
            assert health.status == 503
            assert '"redis":"down"' in health.body.replace(" ", "")
            assert '"database":"ok"' in health.body.replace(" ", "")
            assert redis_is_down(served)

            # Rate-limited: refused with a readable page, not let through unlimited.
            refused = send(port, "POST", "/account/login", host=host, form=sign_in_form)
            assert refused.status == 503
            assert refused.getheader("Retry-After")
            assert "unavailable for a moment" in refused.body
            order = send(
                port,
                "POST",
                "/api/v1/orders",
                host=host,
                headers={"Content-Type": "application/json", "Idempotency-Key": "k" * 40},
            )
            assert order.status == 503
            assert order.getheader("Content-Type") == "application/problem+json"
            assert '"type":"https://kameng.dev/problems/unavailable"' in order.body.replace(" ", "")
            # A signed-in session cannot be checked against its sign-out: 503.
            assert send(port, "GET", "/account/", host=host, cookie=cookie).status == 503
            time.sleep(0.5)

            visitors.phase = "back"
            redis_server.start()
            wait_until(lambda: send(port, "GET", "/healthz", host="localhost").status == 200)
            assert not redis_is_down(served)
            time.sleep(0.5)

        assert visitors.errors == []
        statuses = {phase: status for (phase, status) in visitors.answers}
        assert set(statuses) == {"up", "down", "back"}, visitors.answers
        assert {status for (_, status) in visitors.answers} == {200}, visitors.answers

        # Recovered by itself: the same session, a new sign-in, the page cache.
        assert send(port, "GET", "/account/", host=host, cookie=cookie).status == 200
        again = send(port, "POST", "/account/login", host=host, form=sign_in_form)
        assert again.status == 302
        send(port, "GET", f"/p/{product_id}", host=host)
        cached = send(port, "GET", f"/p/{product_id}", host=host)
        assert cached.status == 200
        assert cached.getheader("X-Cache") == "hit"
