"""Error titles, marked so ``pybabel extract`` puts them in the catalogs.

Error pages show ``_(problem.title)``: the title is translated when the page
is rendered, but it is defined elsewhere as a plain string, which the
extractor cannot see. The titles come from three places:

- the ``title`` of each error class in ``app.core.errors``;
- the literal titles in ``app.core.problems`` (CSRF, 500, field errors);
- werkzeug's HTTP exception names, used for plain ``abort(code)`` errors.

``N_`` marks a string and returns it unchanged, so importing this module
changes nothing at run time. ``tests/browser/test_i18n_pages.py`` fails when
an error class gains a title that is missing here.
"""

from __future__ import annotations


def N_(message: str) -> str:
    """Mark ``message`` for extraction (gettext_noop); return it unchanged."""
    return message


ERROR_TITLES = (
    N_("Bad request"),
    N_("The request has invalid fields"),
    N_("Not found"),
    N_("Temporarily unavailable"),
    N_("Conflict"),
    N_("Authentication required"),
    N_("Not allowed"),
    N_("This shop is suspended"),
    N_("No shop answers at this address"),
    N_("The Host header is not a valid host name"),
    N_("Too many requests"),
    N_("The request contains characters or numbers that cannot be accepted"),
    N_("This account may open no more shops"),
    N_("This password link has expired or was used"),
    # orders, stock and payments
    N_("Not enough stock"),
    N_("This order cannot be paid"),
    N_("This Idempotency-Key was used for a different request"),
    N_("An Idempotency-Key sent without signing in must be at least 32 characters"),
    N_("Too many unpaid orders"),
    N_("Not enough balance"),
    N_("This payment method is not available"),
    N_("The payment provider did not accept the request"),
    N_("Webhooks of this provider are not configured on this platform"),
    N_("The confirmed payment does not match what was asked for"),
    N_("The webhook signature is not valid"),
    # prices and agents
    N_("This coupon cannot be used for this order"),
    N_("Too many withdrawal requests are waiting"),
    N_("This withdrawal was already decided"),
    # supply
    N_("This shop holds as many supply credentials as it may"),
    N_("This idempotency key was used for a different purchase"),
    N_("The request is not signed"),
    N_("The supply key is unknown or revoked"),
    N_("The request's timestamp is outside the allowed window"),
    N_("The request's signature does not match"),
    N_("The request's nonce was already used"),
    N_("The protocol version is not supported"),
    N_("This shop's supply API is closed"),
    N_("The request body is too large"),
    # the platform's plans
    N_("The shop's plan does not allow this"),
    # paying for plans (Stripe Billing) and dunning
    N_("The payment provider refused or did not answer"),
    N_("This shop is paused"),
    N_("Stripe billing is not available"),
)

PAGE_TITLES = (
    N_("The form expired or was not sent from this site"),
    N_("Internal error"),
)

HTTP_TITLES = (
    N_("Bad Request"),
    N_("Unauthorized"),
    N_("Forbidden"),
    N_("Not Found"),
    N_("Method Not Allowed"),
    N_("Request Entity Too Large"),
    N_("Unsupported Media Type"),
    N_("Unprocessable Entity"),
    N_("Too Many Requests"),
    N_("Internal Server Error"),
    N_("Service Unavailable"),
)
