"""Request ids and the log lines that carry them.

Every request gets an id: the caller's ``X-Request-Id`` when it is a short
token (a proxy or a client tracing its own calls), a new random one
otherwise. The id goes back in the ``X-Request-Id`` header and in every
500 problem document, and every log record written while the request runs
names it and the shop, so "it has been logged" is a promise a person can
check: find the id in the log, read the traceback beside it.
"""

from __future__ import annotations

import logging
import re
import uuid

from flask import Flask, g, has_request_context, request

HEADER = "X-Request-Id"
_GIVEN = re.compile(r"[A-Za-z0-9._-]{8,64}")
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s [req=%(request_id)s shop=%(shop)s] %(message)s"


def current_request_id() -> str:
    """This request's id, or ``-`` outside a request."""
    if not has_request_context():
        return "-"
    rid = g.get("request_id")
    if rid is None:
        given = request.headers.get(HEADER, "")
        rid = given if _GIVEN.fullmatch(given) else uuid.uuid4().hex
        g.request_id = rid
    return rid


class RequestContext(logging.Filter):
    """Adds ``request_id`` and ``shop`` to every record (``-`` outside a
    request), so one format serves requests, jobs and commands."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id()
        shop = g.get("shop") if has_request_context() else None
        record.shop = getattr(shop, "slug", None) or "-"
        return True


def configure_logging(level: int) -> None:
    """One line per event with the request id and the shop; once per process."""
    root = logging.getLogger()
    if not any(isinstance(f, RequestContext) for h in root.handlers for f in h.filters):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        handler.addFilter(RequestContext())
        root.addHandler(handler)
    root.setLevel(level)


def install_request_ids(app: Flask) -> None:
    """Give each request its id and send it back in ``X-Request-Id``."""

    @app.before_request
    def _assign() -> None:
        current_request_id()

    @app.after_request
    def _echo(response):
        response.headers[HEADER] = current_request_id()
        return response
