"""An app under a real WSGI server on a loopback port, and plain HTTP
requests to it (for the tests that stop Redis or PostgreSQL under load)."""

from __future__ import annotations

import http.client
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlencode

from werkzeug.serving import make_server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serving(app) -> Iterator[int]:
    """Serve ``app`` (threaded) until the block ends; yields its port."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_port
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def send(port, method, path, *, host, form=None, body=None, headers=None, cookie=None):
    """One request; the answer with its text in ``.body``."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    all_headers = {"Host": host, "Accept-Language": "en", **(headers or {})}
    if form is not None:
        body = urlencode(form)
        all_headers["Content-Type"] = "application/x-www-form-urlencoded"
    if cookie:
        all_headers["Cookie"] = cookie
    try:
        conn.request(method, path, body=body, headers=all_headers)
        answer = conn.getresponse()
        answer.body = answer.read().decode("utf-8", "replace")
        return answer
    finally:
        conn.close()


def wait_until(predicate, timeout: float = 30.0) -> None:
    """Poll ``predicate`` until it holds; fail after ``timeout`` seconds (a
    bound for a loaded machine, not a measure)."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("the platform did not recover by itself")
