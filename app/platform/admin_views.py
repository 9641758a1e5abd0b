"""The platform owner's console (``/admin`` on the platform site): shops
with their owner and last 30 days of sales, suspending and resuming them
(with a reason, after a confirmation, on the shop's audit record), the
platform users, the queues and workers, and every shop's audit log.

Only platform admins (``platform.admin``); a stranger is sent to sign in,
an operator who is not an admin gets 403, and on a shop's host these
addresses do not exist (404). Pages parse the query or form, call one
function of ``app.platform.admin`` (or ``app.core.queues``) and render.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict

from app.accounts.auth import current_principal, require
from app.billing import plans
from app.core.errors import KamengError, ValidationFailed
from app.core.money import money_formatter
from app.core.pages import only_on
from app.core.queues import queue_report
from app.core.redirects import safe_local_target
from app.extensions import db
from app.platform import admin

bp = Blueprint(
    "platform_admin",
    __name__,
    url_prefix="/admin",
    static_folder="static",
    static_url_path="/static",
)
bp.before_request(only_on("platform"))

PER_PAGE = 50


def _page_number() -> int:
    """``?page=`` (from 1)."""
    return max(request.args.get("page", 1, type=int) or 1, 1)


def _pages(total: int) -> int:
    return max((total + PER_PAGE - 1) // PER_PAGE, 1)


@bp.get("")
@require("platform.admin")
def shops():
    """Every shop: status, owner, orders and sales of the last 30 days."""
    return _shops_page(request.args, request.full_path.rstrip("?"))


def _shops_page(args, here: str, failed: dict | None = None, status_code: int = 200):
    """The shops list as ``args`` (a query string's values) filter it;
    ``here`` is its address, where an action returns to."""
    query = (args.get("q") or "").strip()
    status = args.get("status") or None
    if status not in admin.SHOP_STATUSES:
        status = None
    page = max(args.get("page", 1, type=int) or 1, 1)
    rows, total = admin.list_shops(query=query, status=status, page=page, per_page=PER_PAGE)
    body = render_template(
        "platform/admin/shops.html",
        rows=rows,
        total=total,
        q=query,
        status=status,
        page=page,
        pages=_pages(total),
        days=admin.SALES_DAYS,
        failed=failed or {},
        plans=plans.plans_by_tenant([row.id for row in rows]),
        money=money_formatter("CNY"),
        here=here,
    )
    return body, status_code


@bp.post("/shops/<slug>/suspend")
@require("platform.admin")
def suspend(slug: str):
    """Suspend a shop (the confirmation's form: a reason, where to go back)."""
    return _change_status(slug, "suspend")


@bp.post("/shops/<slug>/resume")
@require("platform.admin")
def resume(slug: str):
    """Open a suspended shop again (the confirmation's form, as ``suspend``)."""
    return _change_status(slug, "resume")


def _change_status(slug: str, action: str):
    reason = request.form.get("reason", "")
    back = safe_local_target(request.form.get("back"), url_for(".shops"))
    change = admin.suspend_shop if action == "suspend" else admin.resume_shop
    try:
        tenant = change(slug, reason, current_principal().actor)
    except ValidationFailed as err:
        db.session.rollback()
        # The list it was sent from again, with the question asked anew
        # above it: the reason as typed and why it was refused.
        failed = {"slug": slug, "action": action, "reason": reason, "message": err.user_message()}
        args = MultiDict(parse_qsl(urlsplit(back).query))
        return _shops_page(args, back, failed, 422)
    except KamengError:
        db.session.rollback()
        raise
    if action == "suspend":
        flash(_("%(slug)s is suspended.", slug=tenant.slug), "success")
    else:
        flash(_("%(slug)s is live again.", slug=tenant.slug), "success")
    return redirect(back)


@bp.get("/users")
@require("platform.admin")
def users():
    """The platform's users: operators and platform owners."""
    query = (request.args.get("q") or "").strip()
    active = {"yes": True, "no": False}.get(request.args.get("active") or "")
    page = _page_number()
    rows, total = admin.list_platform_users(
        query=query, active=active, page=page, per_page=PER_PAGE
    )
    return render_template(
        "platform/admin/users.html",
        rows=rows,
        total=total,
        q=query,
        active=request.args.get("active") or "",
        page=page,
        pages=_pages(total),
    )


@bp.get("/queues")
@require("platform.admin")
def queues():
    """Jobs waiting, running and failed in each queue; the workers and the
    scheduler, and whether they are alive."""
    from datetime import UTC, datetime

    return render_template(
        "platform/admin/queues.html", report=queue_report(), now=datetime.now(UTC)
    )


@bp.get("/audit")
@require("platform.admin")
def audit():
    """Every shop's audit log, newest first."""
    shop = (request.args.get("shop") or "").strip()
    action = (request.args.get("action") or "").strip()
    page = _page_number()
    rows, total = admin.audit_log(shop=shop, action=action, page=page, per_page=PER_PAGE)
    return render_template(
        "platform/admin/audit.html",
        rows=rows,
        total=total,
        shop_filter=shop,
        action=action,
        page=page,
        pages=_pages(total),
    )
