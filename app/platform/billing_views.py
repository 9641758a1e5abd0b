"""The platform's own business in the platform console (``/admin/billing``):
monthly recurring revenue, commission earned by month (a chart, with the
same months as a table), the shops past due, and every shop's totals for a
month, each linking to that shop's statement
(``/admin/billing/shops/<slug>``, also as CSV).

Only platform admins (``platform.admin``); on a shop's host these
addresses do not exist (404). Each page parses the month, calls one
function of ``app.billing`` and renders; a month that cannot be read is
said in words, kept in its box, and this month is shown.
"""

from __future__ import annotations

from flask import Blueprint, Response, render_template, request
from flask_babel import gettext as _

from app.accounts.auth import require
from app.billing import revenue, statements
from app.billing.statement_csv import fee_lines, statement_csv
from app.core.money import minor_digits, money_formatter
from app.core.pages import only_on
from app.core.pagination import Pager, requested_page
from app.payments.registry import title as provider_title

bp = Blueprint("platform_billing", __name__, url_prefix="/admin")
bp.before_request(only_on("platform"))

PER_PAGE = 50
PLATFORM_CURRENCY = "CNY"


def _wanted_month(zone: str = "UTC"):
    return statements.month_asked(request.args.get("month"), zone)


@bp.get("/billing")
@require("platform.admin")
def billing():
    month, typed, error = _wanted_month()
    page = requested_page(request.args.get("page"))
    view = revenue.overview(month, page=page, per_page=PER_PAGE)
    money = money_formatter(PLATFORM_CURRENCY)
    chart = {
        "labels": [f"{m.month:%Y-%m}" for m in view.by_month],
        "collected": [m.collected for m in view.by_month],
        "accrued": [m.accrued for m in view.by_month],
        "totalText": [money(m.total) for m in view.by_month],
        "digits": minor_digits(PLATFORM_CURRENCY),
        "names": {
            "collected": _("Collected through Stripe"),
            "accrued": _("Accrued in shops' ledgers"),
            "total": _("Total"),
        },
    }
    return render_template(
        "platform/admin/billing.html",
        view=view,
        typed=typed,
        error=error,
        month_text=f"{month:%Y-%m}",
        chart=chart,
        months_table=[(f"{m.month:%Y-%m}", m) for m in reversed(view.by_month)],
        pager=Pager(page, PER_PAGE, view.shops_total),
        money=money,
    ), (422 if error else 200)


@bp.get("/billing/shops/<slug>")
@require("platform.admin")
def shop_statement(slug: str):
    month, typed, error = _wanted_month()
    st = statements.shop_statement(slug, f"{month:%Y-%m}")
    return render_template(
        "platform/admin/billing_statement.html",
        st=st,
        typed=typed,
        error=error,
        month_text=f"{month:%Y-%m}",
        fees=fee_lines(st),
        provider_title=provider_title,
        money=money_formatter(st.currency),
    ), (422 if error else 200)


@bp.get("/billing/shops/<slug>/statement.csv")
@require("platform.admin")
def shop_statement_export(slug: str):
    month, _typed, _error = _wanted_month()
    st = statements.shop_statement(slug, f"{month:%Y-%m}")
    name = f"statement-{st.slug}-{month:%Y-%m}.csv"
    return Response(
        statement_csv(st),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )
