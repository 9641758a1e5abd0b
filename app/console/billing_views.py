"""The shop's monthly statement of the platform's fees (平台账单,
``/console/billing/statements``): pick a month (the shop's time zone; this
month by default), see the sales by how they were paid, the commission
Stripe collected, the commission accrued and reversed, the plan's fee and
the total due, whether it matches the ledger, and download it as CSV.
Owner only (``ledger.view``). The view parses the month, calls
``app.billing.statements.statement`` and renders."""

from __future__ import annotations

from flask import Blueprint, Response, g, render_template, request

from app.accounts.auth import require
from app.billing import statements
from app.billing.statement_csv import fee_lines, statement_csv
from app.core.dates import shop_timezone
from app.core.money import money_formatter
from app.core.pages import only_on
from app.payments.registry import title as provider_title

bp = Blueprint("console_billing", __name__, url_prefix="/console")
bp.before_request(only_on("shop"))


def _wanted_month(zone: str):
    """The month asked for (``statements.month_asked``)."""
    return statements.month_asked(request.args.get("month"), zone)


@bp.get("/billing/statements")
@require("ledger.view")
def statement():
    zone = shop_timezone()
    month, typed, error = _wanted_month(zone)
    st = statements.statement(g.shop.id, month)
    current = statements.this_month(zone)
    return render_template(
        "console/billing/statement.html",
        st=st,
        typed=typed,
        error=error,
        month_text=f"{month:%Y-%m}",
        fees=fee_lines(st),
        provider_title=provider_title,
        previous_month=f"{statements.previous_month(month):%Y-%m}",
        next_month=f"{statements.next_month(month):%Y-%m}" if month < current else None,
        money=money_formatter(st.currency),
    ), (422 if error else 200)


@bp.get("/billing/statements.csv")
@require("ledger.view")
def statement_export():
    month, _typed, _error = _wanted_month(shop_timezone())
    st = statements.statement(g.shop.id, month)
    name = f"statement-{g.shop.slug}-{month:%Y-%m}.csv"
    return Response(
        statement_csv(st),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )
