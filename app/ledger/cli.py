"""``flask --app wsgi ledger …``: the shops' books from the command line.

``ledger reconcile SLUG [--date YYYY-MM-DD]`` prints one shop's
reconciliation of a day in its time zone (yesterday by default: the day a
nightly run closes) — the totals per kind, then every difference — and
exits 1 when there is any difference, 0 when the books agree. An unknown
shop or an unreadable date is a usage error: one line on stderr, exit 2.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click
from flask.cli import AppGroup
from flask_babel import force_locale
from sqlalchemy import select

from app.extensions import db

ledger_cli = AppGroup("ledger", help="The shops' books: daily reconciliation.")


def _yesterday(zone: str) -> date:
    try:
        tz = ZoneInfo(zone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        tz = ZoneInfo("UTC")
    return datetime.now(UTC).astimezone(tz).date() - timedelta(days=1)


@ledger_cli.command("reconcile")
@click.argument("slug")
@click.option("--date", "day", metavar="YYYY-MM-DD", help="The day, in the shop's time zone.")
def reconcile_command(slug: str, day: str | None) -> None:
    """Reconcile shop SLUG's books for one day (yesterday by default).

    Exit status: 0 when the books agree, 1 when differences are listed,
    2 for an unknown shop or date."""
    from app.core.money import decimal_text
    from app.ledger.reconcile import reconcile
    from tenants.context import tenant_context
    from tenants.models import Tenant

    tenant = db.session.scalar(select(Tenant).where(Tenant.slug == slug.strip().lower()))
    if tenant is None:
        raise click.BadParameter(f"no shop is called {slug!r}", param_hint="SLUG")
    if day is None:
        wanted = _yesterday(tenant.timezone)
    else:
        try:
            wanted = date.fromisoformat(day.strip())
        except ValueError:
            raise click.BadParameter(
                f"{day!r} is not a date like 2024-05-01", param_hint="--date"
            ) from None
    with tenant_context(tenant.id), force_locale("en"):
        rec = reconcile(wanted, tenant.timezone)
        money = lambda amount: "-" if amount is None else decimal_text(int(amount), rec.currency)  # noqa: E731
        click.echo(
            f"Reconciliation of {tenant.slug} for {rec.day.isoformat()} "
            f"({rec.timezone}), amounts in {rec.currency}"
        )
        width = max(len(t.label) for t in rec.totals)
        for total in rec.totals:
            click.echo(f"  {total.label:<{width}}  {total.count:>6}  {money(total.amount):>14}")
        if rec.balanced:
            click.echo("No differences: the books agree.")
        else:
            click.echo(f"Differences: {len(rec.differences) + rec.more}")
            for diff in rec.differences:
                about = diff.subject + (
                    f" (order {diff.order_number})" if diff.order_number else ""
                )
                about += f" ({diff.who})" if diff.who else ""
                click.echo(
                    f"  {diff.code}: {diff.label}: {about}: "
                    f"expected {money(diff.expected)}, found "
                    f"{'nothing' if diff.actual is None else money(diff.actual)}"
                )
            if rec.more:
                click.echo(f"  … and {rec.more} more")
    db.session.remove()
    if not rec.balanced:
        raise SystemExit(1)
