"""The console's reconciliation (财务对账, ``/console/reconciliation``):
pick a day (the shop's time zone; today by default), see what moved that
day per kind of money movement and every difference the books show, and
download both as CSV. Owner only (``ledger.view``). The view parses the
day, calls ``app.ledger.reconcile.reconcile`` and renders."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Blueprint, Response, g, render_template, request
from flask_babel import gettext as _

from app.accounts.auth import require
from app.core.dates import shop_timezone
from app.core.money import money_formatter
from app.core.pages import only_on
from app.ledger.reconcile import reconcile
from app.ledger.reconcile_csv import reconciliation_csv

bp = Blueprint("console_ledger", __name__, url_prefix="/console")
bp.before_request(only_on("shop"))


def shop_today(zone: str) -> date:
    """Today in the shop's time zone (UTC for an unknown zone)."""
    try:
        tz = ZoneInfo(zone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        tz = ZoneInfo("UTC")
    return datetime.now(UTC).astimezone(tz).date()


def _wanted_day(zone: str) -> tuple[date, str, str | None]:
    """The day asked for (``?day=YYYY-MM-DD``), what was typed, and why it
    could not be read (then today is shown)."""
    typed = (request.args.get("day") or "").strip()[:20]
    today = shop_today(zone)
    if not typed:
        return today, today.isoformat(), None
    try:
        return date.fromisoformat(typed), typed, None
    except ValueError:
        return today, typed, _("Use a date like 2024-05-01. Today is shown.")


@bp.get("/reconciliation")
@require("ledger.view")
def reconciliation():
    zone = shop_timezone()
    day, typed, error = _wanted_day(zone)
    rec = reconcile(day, zone)
    return render_template(
        "console/ledger/reconciliation.html",
        rec=rec,
        typed=typed,
        error=error,
        previous_day=(day - timedelta(days=1)).isoformat(),
        next_day=(day + timedelta(days=1)).isoformat() if day < shop_today(zone) else None,
        money=money_formatter(rec.currency),
    ), (422 if error else 200)


@bp.get("/reconciliation.csv")
@require("ledger.view")
def reconciliation_export():
    zone = shop_timezone()
    day, _typed, _error = _wanted_day(zone)
    rec = reconcile(day, zone)
    name = f"reconciliation-{g.shop.slug}-{day.isoformat()}.csv"
    return Response(
        reconciliation_csv(rec),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )
