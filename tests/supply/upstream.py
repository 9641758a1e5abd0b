"""A test upstream: a tiny threaded WSGI server on a loopback port speaking
the supply protocol (signed requests checked with ``app.supply.signing``),
that a test can tell to misbehave:

- ``fail``: refuse purchases with a 4xx problem document;
- ``error``: answer every request 500 (the outcome is unknown to the caller);
- ``hang``: sleep ``hang_seconds`` before answering every request, having
  done nothing (a silent source);
- ``late``: the first ``late`` purchase requests of each key buy, then
  sleep past the caller's read timeout before answering (bought, but the
  caller does not know);
- ``garbage``: the first ``garbage`` purchase requests of each key buy,
  then answer something that is not JSON;
- ``pending``: purchases are accepted as pending and delivered on the
  ``pending``-th status request;
- ``delay``: every purchase answer waits this long (slow but working).

It is idempotent by key like a real one (a repeated purchase answers the
first), and counts what it did per key: ``bought[key]`` (purchases made:
never above 1) and ``asked[key]`` (purchase requests received), so a test
can assert that nothing was bought twice, here or across upstreams.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from contextlib import contextmanager

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from app.supply import signing

KEY_ID = "kt_test_upstream_key"
SECRET = "the-upstream-secret-of-the-test-partner"
PREFIX = "/supply/v1"


class Upstream:
    def __init__(self, *, kind: str = "topup", price: int = 700, **behaviour) -> None:
        self.kind = kind
        self.price = price
        self.fail = False
        self.error = False
        self.hang = False
        self.hang_seconds = 2.0
        self.late = 0
        self.garbage = 0
        self.pending = 0
        self.delay = 0.0
        self.bought: Counter[str] = Counter()
        self.asked: Counter[str] = Counter()
        self.status_asked: Counter[str] = Counter()
        self.purchases: dict[str, dict] = {}
        self.bad_signatures = 0
        self._lock = threading.Lock()
        self._next = 0
        self.port = 0
        for name, value in behaviour.items():
            if not hasattr(self, name):
                raise TypeError(f"no behaviour {name!r}")
            setattr(self, name, value)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{PREFIX}"

    # --- the protocol -------------------------------------------------------------

    def __call__(self, environ, start_response):
        request = Request(environ)
        response = self._answer(request)
        return response(environ, start_response)

    def _answer(self, request: Request) -> Response:
        body = request.get_data()
        try:
            signed = signing.read_headers(request.headers)
            path = request.full_path.rstrip("?")
            signing.verify(signed, SECRET, request.method, path, body)
        except signing.SignatureProblem as problem:
            with self._lock:
                self.bad_signatures += 1
            return _problem(401, "supply-signature-invalid", problem.detail)
        if self.hang:
            time.sleep(self.hang_seconds)
            return _problem(503, "unavailable", "Too late.")
        if self.error:
            return Response("<html>Internal Server Error</html>", 500)
        route = request.path[len(PREFIX) :]
        if request.method == "GET" and route == "/catalogue":
            return _json({"items": [self._offer("SKU-1")], "next": None})
        if request.method == "GET" and route.startswith("/products/"):
            return _json(self._offer(route.rsplit("/", 1)[-1]))
        if request.method == "POST" and route == "/purchases":
            return self._purchase(json.loads(body))
        if request.method == "GET" and route == "/purchases":
            return self._status(request.args.get("key", ""))
        return _problem(404, "not-found", "No such resource.")

    def _offer(self, sku: str) -> dict:
        return {
            "sku": sku,
            "name": "Test goods",
            "kind": self.kind,
            "price": self.price,
            "currency": "CNY",
            "stock": None if self.kind == "topup" else 100,
        }

    def _purchase(self, payload: dict) -> Response:
        key = payload["key"]
        if self.fail:
            with self._lock:
                self.asked[key] += 1
            return _problem(409, "out-of-stock", "Sold out upstream.")
        with self._lock:
            self.asked[key] += 1
            nth = self.asked[key]
            if key not in self.purchases:
                self.bought[key] += 1
                self._next += 1
                quantity = int(payload["quantity"])
                self.purchases[key] = {
                    "ref": f"U{self._next:06d}",
                    "key": key,
                    "status": "pending" if self.pending else "delivered",
                    "codes": [],
                    "price": self.price * quantity,
                    "currency": "CNY",
                    "_quantity": quantity,
                }
            record = self.purchases[key]
        if nth <= self.late:
            time.sleep(self.hang_seconds)
        if nth <= self.garbage:
            return Response("<html>oops</html>", 200, content_type="text/html")
        if self.delay:
            time.sleep(self.delay)
        return _json(self._public(record), 201 if nth == 1 else 200)

    def _status(self, key: str) -> Response:
        with self._lock:
            record = self.purchases.get(key)
            if record is None:
                return _problem(404, "not-found", "No purchase under that key.")
            self.status_asked[key] += 1
            if record["status"] == "pending" and self.status_asked[key] >= self.pending:
                record["status"] = "delivered"
        return _json(self._public(record))

    def _public(self, record: dict) -> dict:
        public = {k: v for k, v in record.items() if not k.startswith("_")}
        if record["status"] == "delivered" and self.kind == "card":
            public["codes"] = [f"UP-{record['ref']}-{i}" for i in range(record["_quantity"])]
        return public

    # --- what the test reads --------------------------------------------------------

    def bought_twice(self) -> list[str]:
        return [key for key, n in self.bought.items() if n > 1]


def _json(body, status: int = 200) -> Response:
    return Response(json.dumps(body), status, content_type="application/json")


def _problem(status: int, slug: str, detail: str) -> Response:
    return Response(
        json.dumps(
            {"type": f"https://kameng.example/problems/{slug}", "title": slug, "detail": detail}
        ),
        status,
        content_type="application/problem+json",
    )


@contextmanager
def running(upstream: Upstream):
    """Serve ``upstream`` on a loopback port until the block ends."""
    server = make_server("127.0.0.1", 0, upstream, threaded=True)
    upstream.port = server.server_port
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield upstream
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
