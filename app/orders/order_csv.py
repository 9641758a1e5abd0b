"""Orders as CSV, for a spreadsheet: one line per order, written as rows
arrive (a generator of text chunks, for a streamed response), so an export
of a whole shop never sits in memory.

The column names and statuses are in the reader's language and times in
the shop's time zone (through Flask-Babel: run it inside the request, with
``stream_with_context``). Amounts are plain numbers (``12.50``). A text
cell that a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@``
first: a buyer chooses their own email) is written with a leading ``'``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator

from flask_babel import format_datetime
from flask_babel import lazy_gettext as _l

from app.accounts.actors import provider_name
from app.core.money import decimal_text
from app.orders.history import status_label

#: Column names, in order.
COLUMNS = (
    _l("Order number"),
    _l("Placed"),
    _l("Status"),
    _l("Product"),
    _l("Quantity"),
    _l("Unit price"),
    _l("Total"),
    _l("Currency"),
    _l("Buyer email"),
    _l("Payment"),
    _l("Paid"),
    _l("Delivered"),
)
BYTE_ORDER_MARK = "\ufeff"
#: Lines per chunk sent.
CHUNK = 200


def safe_cell(text: str | None) -> str:
    """A text cell that no spreadsheet will run as a formula."""
    text = text or ""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _when(moment) -> str:
    return format_datetime(moment, "yyyy-MM-dd HH:mm:ss") if moment else ""


def order_line(row) -> list[str]:
    """One order (a row of ``lookups.EXPORT_COLUMNS``) as CSV cells."""
    return [
        row.number,
        _when(row.created_at),
        status_label(row.status),
        safe_cell(row.product_name),
        str(row.quantity),
        decimal_text(row.unit_price, row.currency),
        decimal_text(row.total, row.currency),
        row.currency,
        safe_cell(row.email),
        safe_cell(provider_name(row.payment_provider)),
        _when(row.paid_at),
        _when(row.delivered_at),
    ]


def rows_as_csv(rows: Iterable) -> Iterator[str]:
    """The header, then the orders, in chunks of ``CHUNK`` lines."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([str(c) for c in COLUMNS])
    yield BYTE_ORDER_MARK + buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    count = 0
    for row in rows:
        writer.writerow(order_line(row))
        count += 1
        if count % CHUNK == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue()
