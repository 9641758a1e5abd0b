"""Behind a reverse proxy (``TRUSTED_PROXIES``): the app runs under a real
WSGI server on a loopback port, a small real HTTP proxy in front of it adds
X-Forwarded-For (the address it saw) and X-Forwarded-Proto, and clients
connect to the proxy from different loopback addresses (127.0.0.2, .3, ...).

With one trusted hop every client has its own rate-limit budget and links
say https when the proxy does; with none (the default) X-Forwarded-* is
ignored, so a client cannot choose its address or scheme.
"""

from __future__ import annotations

import http.client
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlencode

import pytest
from werkzeug.serving import make_server

from app import create_app
from app.extensions import db
from tests.conftest import PASSWORD

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "upgrade"}


class _ProxyHandler(BaseHTTPRequestHandler):
    """Forward one request upstream as nginx does with ``proxy_set_header
    X-Forwarded-For $proxy_add_x_forwarded_for`` and ``X-Forwarded-Proto``."""

    def _forward(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        seen = self.headers.get("X-Forwarded-For")
        address = self.client_address[0]
        headers["X-Forwarded-For"] = f"{seen}, {address}" if seen else address
        headers["X-Forwarded-Proto"] = self.server.proto
        upstream = http.client.HTTPConnection(*self.server.upstream, timeout=20)
        try:
            upstream.request(self.command, self.path, body=body, headers=headers)
            answer = upstream.getresponse()
            data = answer.read()
        finally:
            upstream.close()
        self.send_response(answer.status)
        for name, value in answer.getheaders():
            if name.lower() not in HOP_BY_HOP:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _forward

    def log_message(self, *args) -> None:
        pass


def _serve(server) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return thread


@pytest.fixture
def serve(app, app_config):
    """serve(proxies, proto="https") -> (app, app port, proxy port): an app
    with TRUSTED_PROXIES=proxies on the suite's database and Redis, under a
    WSGI server, with the proxy in front of it; both on 127.0.0.1."""
    servers = []

    def start(proxies: int, proto: str = "https"):
        served = create_app(
            {
                **app_config,
                "TRUSTED_PROXIES": proxies,
                "LOGIN_RATE_LIMIT": "3 per minute",
                "WTF_CSRF_ENABLED": False,
                "PAGE_CACHE_SECONDS": 0,
            }
        )
        wsgi = make_server("127.0.0.1", 0, served, threaded=True)
        proxy = ThreadingHTTPServer(("127.0.0.1", 0), _ProxyHandler)
        proxy.upstream = ("127.0.0.1", wsgi.server_port)
        proxy.proto = proto
        for server in (wsgi, proxy):
            servers.append((server, _serve(server)))
        return served, wsgi.server_port, proxy.server_port

    yield start
    for server, thread in servers:
        server.shutdown()
        server.server_close()
        thread.join(5)


def send(port, method, path, *, source="127.0.0.1", host="localhost", form=None, headers=None):
    """One request from the loopback address ``source`` to ``port``."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20, source_address=(source, 0))
    body = urlencode(form) if form is not None else None
    all_headers = {"Host": host, "Accept-Language": "en", **(headers or {})}
    if body is not None:
        all_headers["Content-Type"] = "application/x-www-form-urlencoded"
    try:
        conn.request(method, path, body=body, headers=all_headers)
        answer = conn.getresponse()
        answer.body = answer.read().decode()
        return answer
    finally:
        conn.close()


def wrong_sign_in(port, source, **kw):
    form = {"email": "nobody@example.com", "password": "not-the-password"}
    return send(port, "POST", "/login", source=source, form=form, **kw).status


def sign_in_and_open_shops_page(port, source):
    signed_in = send(
        port,
        "POST",
        "/login",
        source=source,
        form={"email": "owner@alpha.example.com", "password": PASSWORD},
    )
    assert signed_in.status == 302, signed_in.body[:300]
    cookie = signed_in.getheader("Set-Cookie").split(";", 1)[0]
    return send(port, "GET", "/shops", source=source, headers={"Cookie": cookie})


def test_each_client_behind_the_proxy_has_its_own_sign_in_budget(serve):
    _, _, proxy = serve(1)

    # The client's own X-Forwarded-For is kept but not believed: the proxy's
    # last hop says who it is.
    spoof = {"X-Forwarded-For": "203.0.113.7"}
    assert [wrong_sign_in(proxy, "127.0.0.2", headers=spoof) for _ in range(3)] == [200] * 3
    assert wrong_sign_in(proxy, "127.0.0.2", headers={"X-Forwarded-For": "198.51.100.1"}) == 429

    assert wrong_sign_in(proxy, "127.0.0.3") == 200  # another client, its own budget


def test_links_say_https_when_the_proxy_says_so(serve, make_shop):
    make_shop("alpha")
    _, _, proxy = serve(1, proto="https")

    page = sign_in_and_open_shops_page(proxy, "127.0.0.4")

    assert page.status == 200
    assert "https://alpha.localhost/" in page.body
    assert "http://alpha.localhost/" not in page.body


def test_without_a_trusted_proxy_forwarded_headers_are_ignored(serve, make_shop):
    make_shop("alpha")
    _, app_port, proxy = serve(0, proto="https")

    # Straight to the app, a client writes any X-Forwarded-For it likes: all
    # its tries still count against its own address.
    statuses = [
        wrong_sign_in(app_port, "127.0.0.5", headers={"X-Forwarded-For": f"198.51.100.{n}"})
        for n in range(4)
    ]
    assert statuses == [200, 200, 200, 429]
    # Through an untrusted proxy, every client is the proxy: one budget.
    assert wrong_sign_in(proxy, "127.0.0.6") == 200
    assert wrong_sign_in(proxy, "127.0.0.7") == 200
    assert wrong_sign_in(proxy, "127.0.0.8") == 200
    assert wrong_sign_in(proxy, "127.0.0.9") == 429
    # And X-Forwarded-Proto is not believed either.
    page = sign_in_and_open_shops_page(app_port, "127.0.0.10")
    assert "http://alpha.localhost" in page.body and "https://alpha.localhost" not in page.body


@pytest.fixture(autouse=True)
def _no_session_left(app):
    yield
    with app.app_context():
        db.session.remove()
