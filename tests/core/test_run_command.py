"""The run command (``scripts/run``) and its embedded Redis, for real.

The run command is the embedded Redis's one owner: it starts it and, on
Ctrl-C, stops it only if it started it. App processes never start one. Each
run here has its own instance folder (SQLite, the Redis socket) and port,
and is stopped as a terminal's Ctrl-C would: SIGINT to its process group.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request

import pytest

from app import create_app
from app.core.redisconn import _answers, embedded_url, start_embedded_redis, stop_embedded_redis
from tests.conftest import ROOT
from tests.live import free_port


def _env(instance, port: int) -> dict:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "REDIS_URL", "MAIL_SERVER", "MAIL_PORT")
    }
    env.update({"INSTANCE_PATH": str(instance), "PORT": str(port), "HOST": "127.0.0.1"})
    return env


def _run(instance, port: int, log) -> subprocess.Popen:
    return subprocess.Popen(
        [str(ROOT / "scripts" / "run")],
        cwd=ROOT,
        env=_env(instance, port),
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, as a terminal's job
    )


def _get(port: int, path: str = "/healthz", host: str = "localhost") -> int:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Host": host})
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status
    except urllib.error.HTTPError as err:
        return err.code


def _wait_until_up(proc, port: int, log_path) -> None:
    deadline = time.monotonic() + 240  # a first run may install the pinned requirements
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the run command exited:\n{log_path.read_text()[-3000:]}")
        try:
            if _get(port) == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"the platform did not come up:\n{log_path.read_text()[-3000:]}")


def _ctrl_c(proc) -> float:
    """SIGINT to the run's process group; the seconds until every process
    of the group is gone."""
    started = time.monotonic()
    os.killpg(proc.pid, signal.SIGINT)
    try:
        proc.wait(timeout=60)
    finally:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                os.killpg(proc.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
        else:
            os.killpg(proc.pid, signal.SIGKILL)
            raise AssertionError("processes of the run outlived Ctrl-C")
    return time.monotonic() - started


@pytest.fixture
def instance(tmp_path_factory):
    path = tmp_path_factory.mktemp("run")  # short: a Unix socket path is limited
    yield path
    stop_embedded_redis(str(path))  # whatever a failed test left running


def test_an_app_process_never_starts_a_redis_server(instance):
    app = create_app(
        {
            "INSTANCE_PATH": str(instance),
            "TESTING": True,
            "REDIS_URL": "",  # the embedded default, whatever the suite runs on
            "DATABASE_URL": f"sqlite:///{instance / 'app.sqlite3'}",
        }
    )
    answer = app.test_client().get("/healthz")
    assert answer.status_code == 503
    assert answer.get_json()["redis"] == "down"
    assert not (instance / "redis.sock").exists()
    assert not _answers(embedded_url(str(instance)))


def test_a_run_leaves_another_runs_redis_alone(instance, tmp_path):
    assert start_embedded_redis(str(instance))  # "the other run" owns it
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    try:
        with open(tmp_path / "busy.log", "wb") as log:
            failed = _run(instance, busy.getsockname()[1], log)
            assert failed.wait(timeout=120) == 1
        assert "in use" in (tmp_path / "busy.log").read_text()
    finally:
        busy.close()
    assert _answers(embedded_url(str(instance)))

    port = free_port()
    log_path = tmp_path / "run.log"
    with open(log_path, "wb") as log:
        proc = _run(instance, port, log)
        _wait_until_up(proc, port, log_path)
        deadline = time.monotonic() + 30  # the banner follows the run's own health check
        while "Kameng is running" not in log_path.read_text() and time.monotonic() < deadline:
            time.sleep(0.2)
        _ctrl_c(proc)
    banner = log_path.read_text()
    assert "left to it" in banner
    assert _answers(embedded_url(str(instance))), "the run stopped a Redis it did not start"
    # No MAIL_SERVER: the banner says where the mail is caught.
    assert f"each message is a .eml file in {instance}/mail/" in banner


def test_ctrl_c_stops_everything_in_seconds_even_while_redis_is_gone(instance, tmp_path):
    import redis

    port = free_port()
    log_path = tmp_path / "run.log"
    with open(log_path, "wb") as log:
        proc = _run(instance, port, log)
        _wait_until_up(proc, port, log_path)
        assert _get(port, "/", host="demo.localhost") == 200

        gone = redis.Redis.from_url(embedded_url(str(instance)))
        gone.shutdown(nosave=True)
        time.sleep(1.5)
        assert _get(port) == 503  # /healthz names what is down
        # A shop page needs no Redis: still served, by the real web process.
        assert _get(port, "/", host="demo.localhost") == 200

        # Redis returns (empty, as after a crash): the worker takes jobs again
        # by itself, no restart.
        start_embedded_redis(str(instance))
        from rq import Queue

        job = Queue(
            "default", connection=redis.Redis.from_url(embedded_url(str(instance)))
        ).enqueue("app.core.queues.ping", "back")
        deadline = time.monotonic() + 90
        while job.get_status(refresh=True) != "finished":
            assert time.monotonic() < deadline, log_path.read_text()[-3000:]
            time.sleep(0.3)
        assert job.return_value() == "pong:back"

        gone.shutdown(nosave=True)
        time.sleep(1.5)
        seconds = _ctrl_c(proc)
    # A bound, not a measure: the run escalates to SIGKILL after 5 s.
    assert seconds < 20, log_path.read_text()[-3000:]
    assert not _answers(embedded_url(str(instance)))
