"""``/metrics``: request timings and the platform's figures in the
Prometheus text format, for the platform's own network or a token holder,
added up across gunicorn's worker processes."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.factories import add_product, codes

ROOT = Path(__file__).resolve().parents[2]


def _metrics(app, **kw):
    return app.test_client().get(
        "/metrics", headers={"Host": "localhost", **kw.pop("headers", {})}, **kw
    )


def test_metrics_show_requests_orders_queues_and_health(app, make_shop, browser_for):
    shop = make_shop("metered")
    add_product(app, shop, stock=codes("MTR", 2))
    browser_for("metered.localhost").get("/")

    response = _metrics(app)
    text = response.get_data(as_text=True)

    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    assert re.search(
        r'kameng_http_requests_total\{endpoint="index",method="GET",status="2xx"\} [1-9]', text
    )
    assert "kameng_http_request_seconds_bucket" in text
    assert "kameng_database_up 1.0" in text and "kameng_redis_up 1.0" in text
    assert 'kameng_queue_jobs{queue="fulfilment"}' in text
    assert "# TYPE kameng_orders gauge" in text and "# TYPE kameng_payments gauge" in text


def test_metrics_are_hidden_from_the_internet_unless_the_token_is_sent(app, monkeypatch):
    outside = {"environ_base": {"REMOTE_ADDR": "203.0.113.9"}}
    monkeypatch.setitem(app.config, "METRICS_TOKEN", "scrape-secret-123")

    hidden = _metrics(app, **outside)
    wrong = _metrics(app, headers={"Authorization": "Bearer nope"}, **outside)
    token = _metrics(app, headers={"Authorization": "Bearer scrape-secret-123"}, **outside)

    assert hidden.status_code == 404 and wrong.status_code == 404
    assert token.status_code == 200 and "kameng_database_up" in token.get_data(as_text=True)


def test_a_request_relayed_by_an_untrusted_proxy_is_not_local(app):
    relayed = _metrics(app, headers={"X-Forwarded-For": "198.51.100.7"})
    assert relayed.status_code == 404


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_under_gunicorn_every_workers_requests_are_counted(app_config, tmp_path):
    """Two gunicorn workers answer 40 requests between them; one scrape,
    whichever worker answers it, counts all 40."""
    port = _free_port()
    env = {
        **os.environ,
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "2",
        "WEB_THREADS": "2",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
        "DATABASE_URL": app_config["DATABASE_URL"],
        "INSTANCE_PATH": app_config["INSTANCE_PATH"],
        "SECRET_KEY": app_config["SECRET_KEY"],
        "CARD_KEY": app_config["CARD_KEY"],
        "CARD_HASH_KEY": app_config["CARD_HASH_KEY"],
    }
    if app_config["REDIS_URL"]:
        env["REDIS_URL"] = app_config["REDIS_URL"]
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "scripts/gunicorn.conf.py", "wsgi:app"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(base + "/metrics", timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    pytest.fail("gunicorn did not start")
                time.sleep(0.2)
        for _ in range(40):
            request = urllib.request.Request(base + "/", headers={"Host": "localhost"})
            urllib.request.urlopen(request, timeout=10).read()
        scrape = urllib.request.urlopen(base + "/metrics", timeout=10).read().decode()
    finally:
        server.terminate()
        server.wait(timeout=20)

    served = re.search(
        r'kameng_http_requests_total\{endpoint="index",method="GET",status="2xx"\} (\d+)',
        scrape,
    )
    assert served and int(served.group(1)) >= 40, scrape[:2000]
    pids = set(re.findall(r'pid="(\d+)"', scrape))
    assert len(pids) <= 2  # the counts were added up, not shown per process
