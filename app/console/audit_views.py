"""The console's audit log (操作日志, ``/console/audit``): who did what to
which thing, newest first, a page at a time, filtered by who acted (part of
an email, "api key", "cli") and by action. The owner's page
(``shop.manage``): the log records what staff did too."""

from __future__ import annotations

from flask import Blueprint, g, render_template, request

from app.accounts.actors import describe_actors
from app.accounts.auth import require
from app.accounts.members import list_members
from app.audit import labels
from app.audit import services as audit_service
from app.core.money import money_formatter
from app.core.pages import only_on

bp = Blueprint("console_audit", __name__, url_prefix="/console")
bp.before_request(only_on("shop"))

PER_PAGE = 50


@bp.get("/audit")
@require("shop.manage")
def audit():
    actor = (request.args.get("actor") or "").strip()[:120]
    action = request.args.get("action") or ""
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    rows, total = audit_service.list_events(
        actor_part=actor or None, action=action or None, page=page, per_page=PER_PAGE
    )
    return render_template(
        "console/audit.html",
        rows=rows,
        total=total,
        page=page,
        pages=max((total + PER_PAGE - 1) // PER_PAGE, 1),
        actor=actor,
        action=action,
        actions=labels.action_choices(),
        action_label=labels.action_label,
        actors=describe_actors(r.actor for r in rows),
        subjects=labels.describe_subjects(rows),
        members=[m.user.email for m in list_members()],
        money=money_formatter(g.shop.currency),
    )
