"""A monthly statement as CSV, for a spreadsheet or the accountant: the
shop, the month, its time zone and currency; the sales by provider; then
the fees line by line. UTF-8 with a byte-order mark so spreadsheet
programs read Chinese right; words in the reader's language (call it in
the request, or under ``force_locale``); amounts are plain numbers
(``12.50``); text cells never run as formulas."""

from __future__ import annotations

import csv
import io

from flask_babel import gettext as _

from app.billing.statements import Statement
from app.core.money import decimal_text
from app.orders.order_csv import BYTE_ORDER_MARK, safe_cell


def statement_csv(st: Statement) -> str:
    """The whole statement as one CSV text (a few lines: one a provider)."""
    out = io.StringIO()
    out.write(BYTE_ORDER_MARK)
    sheet = csv.writer(out, lineterminator="\r\n")

    def amount(value: int | None) -> str:
        return "" if value is None else decimal_text(int(value), st.currency)

    sheet.writerow(
        [_("Statement"), safe_cell(st.slug), f"{st.month:%Y-%m}", st.timezone, st.currency]
    )
    sheet.writerow([])
    sheet.writerow([_("Paid with"), _("Orders"), _("Sold"), _("Refunds"), _("Refunded")])
    for line in st.sales:
        sheet.writerow(
            [
                safe_cell(line.provider),
                line.orders,
                amount(line.sold),
                line.refunds,
                amount(line.refunded),
            ]
        )
    sheet.writerow([])
    sheet.writerow([_("Item"), _("Amount")])
    for label, value in fee_lines(st):
        sheet.writerow([label, amount(value)])
    return out.getvalue()


def fee_lines(st: Statement) -> list[tuple[str, int | None]]:
    """The statement's fees as (label, amount) in the order people read them."""
    return [
        (_("Commission collected through Stripe"), st.collected),
        (_("Commission accrued"), st.accrued),
        (_("Commission reversed by refunds"), st.reversed),
        (_("Plan fee"), st.subscription_fee),
        (_("Total due"), st.total_due),
        (_("Billed on the Stripe invoice"), st.billed),
    ]
