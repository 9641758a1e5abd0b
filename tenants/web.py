"""Per-request tenancy: resolve the Host header, enter the shop's context.

Sets ``g.site`` (``platform`` or ``shop``) and ``g.shop`` (a
``ShopSnapshot`` or ``None``). Unknown hosts get 404, malformed ones 400
(a problem document), suspended shops a page (or problem document) saying
so; none of these reaches a view. ``/healthz`` and ``/metrics`` answer on
any host (a monitor scrapes by address).
"""

from __future__ import annotations

from flask import Flask, g, request

from app.core.errors import BadHost, ShopSuspended, UnknownShop
from tenants.context import reset_request_tenant, set_request_tenant
from tenants.resolve import resolve_host

OPEN_PATHS = ("/healthz", "/metrics")


def install_request_hooks(app: Flask) -> None:
    @app.before_request
    def enter_tenant():
        g.site = None
        g.shop = None
        if request.path in OPEN_PATHS:
            return None
        try:
            resolution = resolve_host(request.headers.get("Host"))
        except BadHost as err:
            # Always a problem document, never a page: with a Host that
            # Werkzeug cannot IDNA-encode (``a..b``, a 64-character label)
            # Flask has no URL adapter, and any page that builds a link fails.
            from app.core.problems import problem_response

            return problem_response(err.to_problem(instance=request.path))
        if resolution.kind == "unknown":
            from app.core.problems import render_error

            return render_error(
                UnknownShop(f"No shop answers at {resolution.host}."),
            )
        g.site = resolution.kind
        g.shop = resolution.shop
        g._tenant_token = set_request_tenant(resolution.shop.id if resolution.shop else None)
        if resolution.shop and resolution.shop.is_suspended:
            if request.path.startswith("/theme/"):
                return None  # the suspended page's own styles
            from app.core.problems import render_error

            return render_error(
                ShopSuspended(f"{resolution.shop.name} is suspended and not taking orders."),
                template="suspended.html",
            )
        return None

    @app.teardown_request
    def leave_tenant(exc=None):
        token = g.pop("_tenant_token", None)
        if token is not None:
            reset_request_tenant(token)
