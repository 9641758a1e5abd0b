"""The console dashboard's read model: one call, :func:`shop_overview`,
gives everything the page shows.

- Sales for today, the last 7 and the last 30 days (today included): paid
  orders, revenue, the average paid order, refunds, and the funnel visits →
  orders placed → orders paid with its rates.
- A chart of the last 30 days: revenue, paid orders and visits per day.
- The products that brought the most in 30 days; products low on stock or
  sold out; exception tickets waiting.
- A getting-started checklist: a product on sale, something to deliver, a
  way for buyers to pay.

Days are the shop's: each runs from midnight to midnight in the shop's time
zone (an order at 23:30 Beijing time is on that Beijing day, whatever the
UTC date). The boundaries are computed here, in Python, and the databases
only see ranges of instants, so PostgreSQL and SQLite agree. Order figures
come from one grouped query over 30 days (``orders.stats``), visits from
one Redis round trip (``storefront.visits``); a Redis outage leaves the
visits unknown (``None``), never the page broken.

Works in the current shop's context; the caller passes the shop's id, time
zone and currency (a surface reads them from the request) and which parts
the reader may see.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from app.catalog.stock_levels import StockWatch, selling_readiness, stock_watch
from app.core.money import average_of
from app.orders import stats as order_stats
from app.orders.stats import DaySales, ProductSales
from app.orders.tickets import open_ticket_count
from app.payments import registry
from app.storefront.visits import daily_visits

PERIODS = (1, 7, 30)
CHART_DAYS = 30
TOP_PRODUCTS = 5
STOCK_LINES = 10


@dataclass(frozen=True)
class Period:
    """The last ``days`` days (today included) added up."""

    days: int
    created: int
    paid: int
    revenue: int
    refunded: int
    visits: int | None  # None: not known (Redis did not answer)

    @property
    def average(self) -> int:
        """The average paid order, in minor units (0 with no paid order)."""
        return average_of(self.revenue, self.paid)

    @property
    def order_rate(self) -> float | None:
        """Orders placed per visit (``None`` without visits to divide by)."""
        return self.created / self.visits if self.visits else None

    @property
    def pay_rate(self) -> float | None:
        """Orders paid per order placed."""
        return self.paid / self.created if self.created else None


@dataclass(frozen=True)
class ChartDay:
    day: date
    created: int
    paid: int
    revenue: int
    visits: int | None


@dataclass(frozen=True)
class Step:
    """One item of the getting-started checklist: ``product`` (one on
    sale), ``stock`` (one that can be delivered now), ``payment`` (a way
    for buyers to pay)."""

    key: str
    done: bool


@dataclass(frozen=True)
class Overview:
    today: date
    checklist: list[Step]
    #: None where the reader may not see that part
    periods: list[Period] | None = None
    chart: list[ChartDay] | None = None
    top_products: list[ProductSales] | None = None
    open_tickets: int | None = None
    stock: StockWatch | None = None
    visits_known: bool = True

    @property
    def ready(self) -> bool:
        """Every checklist step is done (the page stops showing the list)."""
        return all(step.done for step in self.checklist)


def zone_of(name: str | None) -> ZoneInfo:
    """The shop's time zone (UTC for a name this machine does not know)."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def day_bounds(first: date, days: int, zone: ZoneInfo) -> list[datetime]:
    """The ``days + 1`` instants (UTC) at which the days from ``first`` begin
    in ``zone``, the last one ending the range. A day of a daylight-saving
    change is 23 or 25 hours long, as the shop's clock says."""
    return [
        datetime.combine(first + timedelta(days=i), time(), zone).astimezone(UTC)
        for i in range(days + 1)
    ]


def can_take_payment() -> bool:
    """Whether buyers can pay by some means that brings money in: an
    available provider other than the shop balance (which has to be filled
    by one of the others first)."""
    return any(not adapter.pays_from_wallet for adapter in registry.available())


def shop_overview(
    shop_id: uuid.UUID,
    timezone: str,
    currency: str,
    *,
    sales: bool = True,
    stock: bool = True,
    now: datetime | None = None,
) -> Overview:
    """What the dashboard shows for the current shop at ``now`` (default:
    the present). ``sales`` (orders.view) adds the figures, the chart, the
    best products and the open tickets; ``stock`` (catalog.view) the
    products to restock. Read-only; a fixed number of queries whatever the
    shop's size."""
    zone = zone_of(timezone)
    today = (now or datetime.now(UTC)).astimezone(zone).date()
    on_sale, deliverable = selling_readiness()
    checklist = [
        Step("product", on_sale),
        Step("stock", deliverable),
        Step("payment", can_take_payment()),
    ]
    overview = Overview(today=today, checklist=checklist)
    first = today - timedelta(days=CHART_DAYS - 1)
    if sales:
        bounds = day_bounds(first, CHART_DAYS, zone)
        by_day = order_stats.sales_by_day(bounds, currency)
        days = [first + timedelta(days=i) for i in range(CHART_DAYS)]
        visits = daily_visits(shop_id, days)
        chart = [
            ChartDay(d, s.created, s.paid, s.revenue, visits[i] if visits is not None else None)
            for i, (d, s) in enumerate(zip(days, by_day, strict=True))
        ]
        overview = replace(
            overview,
            periods=[
                _period(n, by_day[-n:], visits[-n:] if visits is not None else None)
                for n in PERIODS
            ],
            chart=chart,
            top_products=order_stats.top_products(bounds[0], bounds[-1], currency, TOP_PRODUCTS),
            open_tickets=open_ticket_count(),
            visits_known=visits is not None,
        )
    if stock:
        overview = replace(overview, stock=stock_watch(STOCK_LINES))
    return overview


def _period(days: int, sales: list[DaySales], visits: list[int] | None) -> Period:
    return Period(
        days,
        created=sum(s.created for s in sales),
        paid=sum(s.paid for s in sales),
        revenue=sum(s.revenue for s in sales),
        refunded=sum(s.refunded for s in sales),
        visits=sum(visits) if visits is not None else None,
    )
