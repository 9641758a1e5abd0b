"""The operator console on a shop host (``/console``).

Operators sign in with their platform account (or arrive through the
platform's one-time hand-off); the shop's membership decides their role.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import format_date
from flask_babel import gettext as _

from app.accounts import services
from app.accounts.auth import (
    current_principal,
    limit_sign_in,
    principal_for_platform_user,
    require,
    sign_in,
    sign_out,
)
from app.accounts.forms import ApiKeyForm, LoginForm
from app.accounts.handoff import redeem_handoff
from app.core.errors import KamengError, NotFound
from app.core.ids import id_or_404
from app.core.money import minor_digits, money_formatter
from app.core.pages import flash_error, only_on
from app.core.redirects import safe_local_target
from app.extensions import db
from app.stats.dashboard import shop_overview

bp = Blueprint(
    "console", __name__, url_prefix="/console", static_folder="static", static_url_path="/static"
)
bp.before_request(only_on("shop"))


def _next_page() -> str:
    """Where to go once signed in: a local ``?next=`` (the page that asked
    for sign-in), else the dashboard."""
    return safe_local_target(request.args.get("next"), url_for("console.dashboard"))


@bp.route("/login", methods=["GET", "POST"])
@limit_sign_in
def login():
    form = LoginForm()
    if form.validate_on_submit():
        user = services.authenticate_platform_user(form.email.data, form.password.data)
        principal = principal_for_platform_user(user) if user else None
        if principal is None or not principal.roles:
            flash(_("Wrong email or password, or you are not a member of this shop."), "error")
        else:
            sign_in(principal, user, remember=form.remember.data)
            return redirect(_next_page())
    return render_template("console/login.html", form=form)


@bp.get("/handoff")
def handoff():
    user_id = redeem_handoff(request.args.get("token", ""), g.shop.id)
    user = services.get_platform_user(user_id) if user_id else None
    principal = principal_for_platform_user(user) if user and user.is_active else None
    if principal is None or not principal.roles:
        flash(_("That sign-in link has expired. Sign in here instead."), "error")
        return redirect(url_for("console.login"))
    sign_in(principal, user)
    return redirect(_next_page())


@bp.post("/logout")
def logout():
    sign_out()
    return redirect(url_for("console.login"))


@bp.get("/")
@require("shop.console")
def dashboard():
    """数据统计: the shop's sales, visits, stock to restock and the steps
    left before it can sell, as far as the reader may see them."""
    principal = current_principal()
    overview = shop_overview(
        g.shop.id,
        g.shop.timezone,
        g.shop.currency,
        sales=principal.can("orders.view"),
        stock=principal.can("catalog.view"),
    )
    money = money_formatter(g.shop.currency)
    return render_template(
        "console/dashboard.html",
        principal=principal,
        overview=overview,
        money=money,
        chart=_chart_data(overview, money),
        links={
            "product_new": _page_url(principal, "console_catalog.product_new", "catalog.manage")
            or _page_url(principal, "console_catalog.products", "catalog.view"),
            "products": _page_url(principal, "console_catalog.products", "catalog.view"),
            "settings": _page_url(principal, "console_settings.settings", "shop.manage"),
            "tickets": _page_url(principal, "console_orders.tickets", "orders.view"),
        },
    )


def _page_url(principal, endpoint: str, permission: str) -> str | None:
    """The URL of a console page, or ``None`` when it does not exist (yet)
    or the reader may not open it: the page shows the text without a link."""
    if endpoint not in current_app.view_functions or not principal.can(permission):
        return None
    return url_for(endpoint)


def _chart_data(overview, money) -> dict | None:
    """What ``dashboard.js`` draws: one entry a day, money in minor units
    with its text beside it (the script never does money arithmetic)."""
    if overview.chart is None:
        return None
    days = overview.chart
    return {
        "labels": [format_date(d.day, "MM-dd") for d in days],
        "days": [format_date(d.day, "medium") for d in days],
        "revenue": [d.revenue for d in days],
        "revenueText": [money(d.revenue) for d in days],
        "paid": [d.paid for d in days],
        "created": [d.created for d in days],
        "visits": [d.visits for d in days],
        "digits": minor_digits(g.shop.currency),
        "names": {
            "revenue": _("Revenue"),
            "paid": _("Paid orders"),
            "created": _("Orders placed"),
            "visits": _("Visits"),
        },
    }


@bp.route("/api-keys", methods=["GET", "POST"])
@require("apikeys.manage")
def api_keys():
    form = ApiKeyForm()
    created = None
    if form.validate_on_submit():
        try:
            key, created = services.create_api_key(form.name.data, current_principal().id)
        except KamengError as err:
            db.session.rollback()
            flash_error(form, err)
        else:
            form = ApiKeyForm(formdata=None)
            flash(_("Copy the key now: it will not be shown again."), "success")
    return render_template(
        "console/api_keys.html", form=form, keys=services.list_api_keys(), created=created
    )


@bp.post("/api-keys/<key_id>/revoke")
@require("apikeys.manage")
def revoke_api_key(key_id: str):
    key = services.revoke_api_key(id_or_404(key_id, NotFound.title))
    flash(_("Key %(prefix)s is revoked.", prefix=key.prefix), "success")
    return redirect(url_for("console.api_keys"))


@bp.get("/accounts")
@require("accounts.view")
def accounts():
    """The customers are on their own page now (``console_customers``)."""
    return redirect(url_for("console_customers.customers", role=request.args.get("role") or None))


@bp.get("/members")
@require("members.view")
def members():
    """The members are the Staff page now (``console_staff``)."""
    return redirect(url_for("console_staff.staff"))
