"""A day's reconciliation as CSV, for a spreadsheet or the accountant: the
day, its time zone and the currency; the totals per kind (count, amount);
then every difference (what, about what, expected, found). UTF-8 with a
byte-order mark so spreadsheet programs read Chinese right; the words are
in the reader's language (call it inside the request); amounts are plain
numbers (``12.50``); text cells never run as formulas."""

from __future__ import annotations

import csv
import io

from flask_babel import gettext as _

from app.core.money import decimal_text
from app.ledger.reconcile import Reconciliation
from app.orders.order_csv import BYTE_ORDER_MARK, safe_cell


def reconciliation_csv(rec: Reconciliation) -> str:
    """The whole statement as one CSV text (a day's differences are bounded
    by ``MAX_DIFFERENCES``, so it is small)."""
    out = io.StringIO()
    out.write(BYTE_ORDER_MARK)
    sheet = csv.writer(out, lineterminator="\r\n")

    def amount(value: int | None) -> str:
        return "" if value is None else decimal_text(int(value), rec.currency)

    sheet.writerow([_("Reconciliation"), rec.day.isoformat(), rec.timezone, rec.currency])
    sheet.writerow([])
    sheet.writerow([_("Kind"), _("Count"), _("Amount")])
    for total in rec.totals:
        sheet.writerow([total.label, total.count, amount(total.amount)])
    sheet.writerow([])
    sheet.writerow([_("Difference"), _("About"), _("Expected"), _("Found"), _("Order"), _("Agent")])
    for diff in rec.differences:
        sheet.writerow(
            [
                diff.label,
                safe_cell(diff.subject),
                amount(diff.expected),
                amount(diff.actual),
                diff.order_number or "",
                safe_cell(diff.who or ""),
            ]
        )
    if not rec.differences:
        sheet.writerow([_("No differences: the books agree.")])
    if rec.more:
        sheet.writerow([_("%(n)s more differences are not listed.", n=rec.more)])
    return out.getvalue()
