"""Domain errors with a stable ``type`` slug, shown as RFC 9457 problem details.

Services raise these; the edge (``app.api.problems`` for JSON, the page error
handlers for HTML) turns them into a response once. The slug is part of the
API contract: clients match on ``type``, never on ``title`` or ``detail``.
"""

from __future__ import annotations

PROBLEM_BASE = "https://kameng.dev/problems/"


class KamengError(Exception):
    """Base of every error a user may see. Never carries a secret."""

    status = 400
    slug = "bad-request"
    title = "Bad request"

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: dict | None = None,
        message=None,
        **extra,
    ):
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.errors = errors or {}
        #: What a page tells a person, in their language: a lazy gettext
        #: string (``flask_babel.lazy_gettext``) set where the error is
        #: raised. ``detail`` is the API's English text for developers.
        self.message = message
        self.extra = extra

    def user_message(self) -> str:
        """The error for a page, in the reader's language: the message given
        where it was raised, else the translated title of its kind."""
        from flask_babel import gettext

        return str(self.message) if self.message is not None else gettext(self.title)

    def to_problem(self, instance: str | None = None) -> dict:
        body = {
            "type": PROBLEM_BASE + self.slug,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance:
            body["instance"] = instance
        if self.errors:
            body["errors"] = self.errors
        body.update(self.extra)
        return body


class ConfigurationError(RuntimeError):
    """The process cannot start with this configuration (not shown to users)."""


class ValidationFailed(KamengError):
    status = 422
    slug = "validation-failed"
    title = "The request has invalid fields"


class NotFound(KamengError):
    status = 404
    slug = "not-found"
    title = "Not found"


class Conflict(KamengError):
    status = 409
    slug = "conflict"
    title = "Conflict"


class Unauthorized(KamengError):
    status = 401
    slug = "unauthorized"
    title = "Authentication required"


class Forbidden(KamengError):
    status = 403
    slug = "forbidden"
    title = "Not allowed"


class ShopSuspended(KamengError):
    status = 403
    slug = "shop-suspended"
    title = "This shop is suspended"


class UnknownShop(KamengError):
    status = 404
    slug = "unknown-shop"
    title = "No shop answers at this address"


class BadHost(KamengError):
    status = 400
    slug = "bad-host"
    title = "The Host header is not a valid host name"


class UnacceptableInput(KamengError):
    """The request carries text, numbers or JSON nothing downstream can store
    (``app.core.request_input``)."""

    status = 400
    slug = "unacceptable-input"
    title = "The request contains characters or numbers that cannot be accepted"


class RateLimited(KamengError):
    status = 429
    slug = "rate-limited"
    title = "Too many requests"


class ServiceUnavailable(KamengError):
    """A part the request needs (Redis, the database) is down for now; the
    request changed nothing and may be repeated."""

    status = 503
    slug = "unavailable"
    title = "Temporarily unavailable"


class CrossTenantWrite(RuntimeError):
    """A flush tried to write a row of another shop, or with no shop context.

    This is a programming error, never a user error: it must surface as a 500
    in development and as a failing test, never be caught and hidden.
    """


class TenantContextMissing(RuntimeError):
    """Tenant-owned data was queried with no tenant context and no
    explicit ``all_tenants()`` declaration."""
