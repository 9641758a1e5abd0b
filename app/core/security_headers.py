"""Headers every answer carries so a browser limits what a page may do.

- ``Content-Security-Policy``: scripts and styles only from this site, or
  inline with this answer's nonce (``csp_nonce()`` in templates); images
  from this site (and ``data:``); no plugins, no framing, no ``<base>``.
  A script injected into a page (say, through a product description) does
  not run, whatever escaping bug let it in.
- ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: same-origin`` (an
  order's lookup token in an address never leaves the site in a Referer),
  ``X-Frame-Options: DENY`` for browsers that predate ``frame-ancestors``.
"""

from __future__ import annotations

import secrets

from flask import Flask, g, has_request_context

POLICY = (
    "default-src 'self'; "
    "script-src 'self' 'nonce-{nonce}'; "
    "style-src 'self' 'nonce-{nonce}'; "
    "img-src 'self' data:; "
    "connect-src 'self'; "
    "object-src 'none'; "
    "base-uri 'none'; "
    "frame-ancestors 'none'"
)
FIXED = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


def csp_nonce() -> str:
    """This answer's nonce for inline ``<script>`` and ``<style>`` tags."""
    if not has_request_context():
        return ""
    nonce = g.get("csp_nonce")
    if nonce is None:
        nonce = g.csp_nonce = secrets.token_urlsafe(16)
    return nonce


def install_security_headers(app: Flask) -> None:
    app.jinja_env.globals["csp_nonce"] = csp_nonce

    @app.after_request
    def _headers(response):
        for name, value in FIXED.items():
            response.headers.setdefault(name, value)
        response.headers.setdefault("Content-Security-Policy", POLICY.format(nonce=csp_nonce()))
        return response
