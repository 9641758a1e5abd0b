"""The edge where errors become responses, once for the whole app.

API requests (``/api/``, or a client that prefers JSON) get RFC 9457 problem
details (``application/problem+json``) with field errors under ``errors``;
pages get a readable page in the shop's theme or the platform's layout.
Unexpected exceptions are logged with their traceback and answered with a
generic 500: no internals, no secrets. A part that is down (Redis, the
database: a connection refused, dropped or timed out) is not a bug: the
request is answered 503 with ``Retry-After``, and the log gets one line with
the request id, not a traceback.
"""

from __future__ import annotations

import logging
import time

import redis
from flask import Flask, current_app, g, jsonify, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.exceptions import HTTPException

from app.core.errors import PROBLEM_BASE, KamengError, ServiceUnavailable, Unauthorized
from app.core.requestlog import current_request_id

log = logging.getLogger(__name__)

_HTTP_SLUGS = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    413: "payload-too-large",
    415: "unsupported-media-type",
    422: "validation-failed",
    429: "rate-limited",
    500: "internal-error",
    503: "unavailable",
}


#: What an error page says under its title, by status, in the reader's
#: language. Pages never show a problem's ``detail``: it is the API's
#: English text for developers, and for plain HTTP errors it is werkzeug's
#: own description ("The requested URL was not found on the server...").
PAGE_MESSAGES = {
    400: _l("The request could not be read. Go back and try again."),
    401: _l("Sign in to open this page."),
    403: _l("You are not allowed to open this page."),
    404: _l("There is nothing at this address. Check it, or start again from the home page."),
    405: _l("This page cannot be opened that way."),
    409: _l("This clashes with something that changed meanwhile. Reload the page and try again."),
    413: _l("What you sent is too large."),
    415: _l("This kind of file or content is not accepted here."),
    422: _l("Some details are missing or invalid. Check them and try again."),
    429: _l("Too many tries in a short time. Wait a minute, then try again."),
    503: _l("This is unavailable for a moment; nothing was changed. Try again shortly."),
}
CSRF_MESSAGE = _l("Reload the page and try again.")


def page_message(status: int, request_id: str | None = None) -> str:
    """The sentence an error page shows for ``status`` (translated)."""
    from flask_babel import gettext

    if status >= 500 and status != 503:
        return gettext(
            "Something went wrong on our side. It has been logged as %(id)s.",
            id=request_id or current_request_id(),
        )
    found = PAGE_MESSAGES.get(status)
    return str(found) if found is not None else gettext("Something went wrong. Try again.")


def wants_json() -> bool:
    if request.path.startswith(("/api/", "/supply/")) or request.path == "/healthz":
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return (
        best == "application/json"
        and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]
    )


def problem_response(problem: dict, headers: dict | None = None):
    response = jsonify(problem)
    response.status_code = problem["status"]
    response.mimetype = "application/problem+json"
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def _page(problem: dict, template: str | None = None, message=None):
    """The error page of the site: the shop's theme, else the platform's.
    It shows the translated title and ``message`` (a translated sentence;
    by default the one of ``PAGE_MESSAGES`` for the status), never the
    problem's English ``detail``."""
    from app.core.themes import render_shop

    status = problem["status"]
    text = str(message) if message is not None else page_message(status, problem.get("request_id"))
    shop = getattr(g, "shop", None)
    if shop is not None:
        name = template or ("404.html" if status == 404 else "error.html")
        try:
            return render_shop(name, problem=problem, message=text, shop=shop), status
        except UNAVAILABLE:
            # The shop's page needs what is down (its theme reads the
            # database); the platform's plain page needs nothing.
            pass
    return render_template("platform/error.html", problem=problem, message=text), status


def _login_redirect():
    """Pages answer "sign in first" with a redirect to the site's sign-in."""
    if g.get("site") == "platform":
        endpoint = "platform.login"
    elif request.path.startswith("/console"):
        endpoint = "console.login"
    else:
        endpoint = "accounts.login"
    return redirect(url_for(endpoint, next=request.full_path.rstrip("?")))


def render_error(err: KamengError, template: str | None = None):
    problem = err.to_problem(instance=request.path)
    if wants_json():
        headers = {"WWW-Authenticate": "Bearer"} if err.status == 401 else None
        return problem_response(problem, headers)
    if isinstance(err, Unauthorized) and g.get("site"):
        return _login_redirect()
    return _page(problem, template, err.message)


def _http_problem(exc: HTTPException) -> dict:
    status = exc.code or 500
    problem = {
        "type": PROBLEM_BASE + _HTTP_SLUGS.get(status, "error"),
        "title": exc.name,
        "status": status,
        "detail": exc.description if status != 500 else "Something went wrong on our side.",
        "instance": request.path,
    }
    data = getattr(exc, "data", None) or {}
    messages = data.get("messages") if isinstance(data, dict) else None
    if messages:
        # webargs/marshmallow: {"json": {"field": ["msg"]}} -> {"field": ["msg"]}
        errors: dict = {}
        for location, fields in messages.items():
            if isinstance(fields, dict):
                errors.update(fields)
            else:
                errors[location] = fields
        problem["errors"] = errors
        if status == 422:
            problem["type"] = PROBLEM_BASE + "validation-failed"
            problem["title"] = "The request has invalid fields"
            problem["detail"] = "Some fields are missing or invalid; see 'errors'."
        else:  # 400: the body could not be read at all (e.g. malformed JSON)
            problem["detail"] = "The request could not be read; see 'errors'."
    return problem


def handle_http_exception(exc: HTTPException):
    if exc.code is None:  # a redirect raised as an exception
        return exc
    if exc.code == 500:
        return handle_unexpected(exc)  # logged with its request id, like any crash
    if isinstance(exc, CSRFError):
        problem = {
            "type": PROBLEM_BASE + "csrf-failed",
            "title": "The form expired or was not sent from this site",
            "status": 400,
            "detail": "Reload the page and try again." if not wants_json() else exc.description,
            "instance": request.path,
        }
    else:
        problem = _http_problem(exc)
    headers = rate_limit_headers(exc) if exc.code == 429 else {}
    if wants_json():
        if exc.code == 405 and exc.valid_methods:
            headers["Allow"] = ", ".join(exc.valid_methods)
        return problem_response(problem, headers)
    body, status = _page(problem, message=CSRF_MESSAGE if isinstance(exc, CSRFError) else None)
    return body, status, headers


def rate_limit_headers(exc: HTTPException) -> dict[str, str]:
    """For a request refused by a rate limit: when to try again
    (``Retry-After``, seconds) and the limit itself (``X-RateLimit-*``).
    Only refusals carry them, so an allowed request asks Redis nothing more
    than the count it adds to. ``app.core.ratelimits`` knows them already;
    Flask-Limiter's are read back from its storage."""
    from app.extensions import limiter

    known = getattr(exc, "limit_headers", None)
    if known:
        return dict(known)

    current = limiter.current_limit
    if current is None:
        return {"Retry-After": "60"}
    reset_at = current.reset_at
    return {
        "Retry-After": str(max(1, int(reset_at - time.time()))),
        "X-RateLimit-Limit": str(current.limit.amount),
        "X-RateLimit-Remaining": str(current.remaining),
        "X-RateLimit-Reset": str(reset_at),
    }


def handle_unexpected(exc: Exception):
    if isinstance(exc, HTTPException) and (exc.code or 500) < 500:
        return handle_http_exception(exc)
    cause = getattr(exc, "original_exception", None) or exc
    rid = current_request_id()
    log.error(
        "unhandled error %s on %s %s",
        rid,
        request.method,
        request.path,
        exc_info=(type(cause), cause, cause.__traceback__),
    )
    problem = {
        "type": PROBLEM_BASE + "internal-error",
        "title": "Internal error",
        "status": 500,
        "detail": f"Something went wrong on our side. It has been logged as {rid}.",
        "instance": request.path,
        "request_id": rid,
    }
    if wants_json():
        return problem_response(problem)
    return _page(problem)


# A part that is down, as the libraries say it: Redis refused, dropped or
# timed out (or the breaker knows it is down); the database's connection
# failed or was lost (``connection_invalidated``: SQLAlchemy threw the
# pool's connections away and the next request reconnects).
UNAVAILABLE = (redis.ConnectionError, redis.TimeoutError, OperationalError)


def _is_outage(exc: Exception) -> bool:
    if isinstance(exc, UNAVAILABLE):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


def handle_outage(exc: Exception):
    """503 for a request that met a part that is down; it changed nothing
    (the session's transaction is rolled back at teardown)."""
    part = "redis" if isinstance(exc, redis.RedisError) else "database"
    rid = current_request_id()
    log.warning(
        "unavailable %s on %s %s: %s down (%s)",
        rid,
        request.method,
        request.path,
        part,
        type(exc).__name__,
    )
    if part == "redis":
        # Pages rendered from here must not ask Redis about the session again.
        g.kameng_sessions_unverifiable = True
    err = ServiceUnavailable(
        f"A part of the platform ({part}) is unavailable for a moment; nothing was "
        "changed. Try again shortly.",
        message=_l("This is unavailable for a moment; nothing was changed. Try again shortly."),
        request_id=rid,
    )
    response = current_app.make_response(render_error(err))
    response.headers["Retry-After"] = "5"
    response.headers["Cache-Control"] = "no-store"
    return response


def handle_dbapi_error(exc: DBAPIError):
    if _is_outage(exc):
        return handle_outage(exc)
    if current_app.testing or current_app.debug:
        raise exc  # a bug: let the test or the debugger see it
    return handle_unexpected(exc)


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(redis.ConnectionError, handle_outage)
    app.register_error_handler(redis.TimeoutError, handle_outage)
    app.register_error_handler(DBAPIError, handle_dbapi_error)
    app.register_error_handler(KamengError, render_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    if not app.testing and not app.debug:
        app.register_error_handler(Exception, handle_unexpected)
