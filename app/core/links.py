"""Absolute links between the platform site and shops.

Shops live on other hosts than the page that links to them, so links are
built from ``PLATFORM_DOMAIN``, the scheme and the public port (taken from
``PUBLIC_PORT`` or, in development, from the current request).
"""

from __future__ import annotations

from flask import current_app, has_request_context, request


def _port_suffix() -> str:
    port = current_app.config.get("PUBLIC_PORT") or ""
    if not port and has_request_context():
        host = request.host
        if ":" in host and not host.endswith("]"):
            port = host.rsplit(":", 1)[1]
    scheme = current_app.config["PREFERRED_URL_SCHEME"]
    if not port or (scheme, str(port)) in {("http", "80"), ("https", "443")}:
        return ""
    return f":{port}"


def _scheme() -> str:
    if has_request_context():
        return request.scheme
    return current_app.config["PREFERRED_URL_SCHEME"]


def shop_url(slug: str, path: str = "/") -> str:
    domain = current_app.config["PLATFORM_DOMAIN"]
    return f"{_scheme()}://{slug}.{domain}{_port_suffix()}{path}"


def platform_url(path: str = "/") -> str:
    domain = current_app.config["PLATFORM_DOMAIN"]
    return f"{_scheme()}://{domain}{_port_suffix()}{path}"
