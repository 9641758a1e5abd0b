"""``flask --app wsgi billing …``: the platform's plans from the command line.

``billing plans create NAME --price MINOR --interval month --commission-bps N
--limit products=N [--limit …] [--trial-days N] [--code CODE]`` adds a plan;
``billing plans list`` prints them; ``billing assign SLUG PLAN`` puts a shop
on a plan by hand (a comp or a migration), on the shop's audit record;
``billing extend SLUG --days N`` gives a past-due shop more grace (audited).
``billing statement SLUG --month YYYY-MM [--csv]`` prints a shop's monthly
statement of the platform's fees.

Bad input (an unknown limit name, a negative number, an unknown shop or
plan, a taken code) is one line on stderr and exit status 2; nothing is
written then.
"""

from __future__ import annotations

import re

import click
from flask.cli import AppGroup
from flask_babel import force_locale

from app.core.errors import KamengError
from app.extensions import db

billing_cli = AppGroup("billing", help="The platform's plans and the shops on them.")
plans_cli = AppGroup("plans", help="The plans shops subscribe to.")
billing_cli.add_command(plans_cli)


class BadInput(click.ClickException):
    """One line on stderr (``Error: …``), exit status 2, as a usage error."""

    exit_code = 2


_YES = {"yes", "on", "true", "1"}
_NO = {"no", "off", "false", "0"}
_UNLIMITED = {"unlimited", "none", "-"}


def _refuse(err: KamengError) -> None:
    """A service's refusal as bad input (exit 2) naming every bad field."""
    db.session.rollback()
    with force_locale("en"):
        errors = "; ".join(f"{k}: {' '.join(map(str, v))}" for k, v in (err.errors or {}).items())
    raise BadInput(f"{err.detail} ({errors})" if errors else err.detail)


def parse_limits(given: tuple[str, ...]) -> dict:
    """``("products=50", "api=no")`` as plan columns; ``BadInput`` for an
    unknown name or a value that is not a count (or ``unlimited``) or yes/no."""
    from app.billing.plans import COUNT_LIMITS, FEATURE_LIMITS, LIMIT_NAMES

    values: dict = {}
    for item in given:
        name, sep, raw = item.partition("=")
        name = name.strip().lower().replace("-", "_")
        raw = raw.strip().lower()
        if not sep or name not in LIMIT_NAMES:
            raise BadInput(
                f"--limit {item!r}: give NAME=VALUE with NAME one of {', '.join(LIMIT_NAMES)}"
            )
        if name in FEATURE_LIMITS:
            if raw not in _YES | _NO:
                raise BadInput(f"--limit {item!r}: {name} is yes or no")
            values[FEATURE_LIMITS[name]] = raw in _YES
        elif raw in _UNLIMITED:
            values[COUNT_LIMITS[name]] = None
        elif re.fullmatch(r"\d{1,10}", raw):
            values[COUNT_LIMITS[name]] = int(raw)
        else:
            raise BadInput(f"--limit {item!r}: {name} is a whole number, 0 or more, or 'unlimited'")
    return values


def _code_of(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40]


@plans_cli.command("create")
@click.argument("name")
@click.option("--price", type=click.IntRange(min=0), required=True, help="Minor units (分).")
@click.option(
    "--interval", type=click.Choice(["month", "year"]), default="month", show_default=True
)
@click.option("--commission-bps", type=click.IntRange(0, 10_000), default=0, show_default=True)
@click.option("--limit", "limits", multiple=True, metavar="NAME=VALUE", help="Repeatable.")
@click.option("--trial-days", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--grace-days", type=click.IntRange(min=0), default=7, show_default=True)
@click.option("--currency", default="CNY", show_default=True)
@click.option("--code", help="The plan's code (default: from NAME).")
def create_plan_command(
    name: str,
    price: int,
    interval: str,
    commission_bps: int,
    limits: tuple[str, ...],
    trial_days: int,
    grace_days: int,
    currency: str,
    code: str | None,
) -> None:
    """Add the plan NAME. Limits: products, staff, domains and orders_month
    take a count or 'unlimited' (the default); api and sub_shops take yes or
    no (yes by default)."""
    from app.billing import plans

    data = {
        "code": code if code is not None else _code_of(name),
        "name": name,
        "price": price,
        "interval": interval,
        "commission_bps": commission_bps,
        "trial_days": trial_days,
        "grace_days": grace_days,
        "currency": currency,
        **parse_limits(limits),
    }
    try:
        plan = plans.create_plan(data)
    except KamengError as err:
        _refuse(err)
    click.echo(f"plan {plan.code} created")


def _limits_text(plan) -> str:
    from app.billing.plans import COUNT_LIMITS, FEATURE_LIMITS, limit_value

    parts = []
    for name in COUNT_LIMITS:
        value = limit_value(plan, name)
        parts.append(f"{name}={'unlimited' if value is None else value}")
    for name in FEATURE_LIMITS:
        parts.append(f"{name}={'yes' if limit_value(plan, name) else 'no'}")
    return " ".join(parts)


@plans_cli.command("list")
def list_plans_command() -> None:
    """Every plan, cheapest first: code, name, price, commission, limits,
    whether it is on offer and how many shops are on it."""
    from app.billing import plans
    from app.core.money import format_money

    shops = plans.subscriber_counts()
    rows = plans.list_plans()
    if not rows:
        click.echo("no plans")
    for plan in rows:
        click.echo(
            f"{plan.code}\t{plan.name}\t{format_money(plan.price, plan.currency)}/{plan.interval}"
            f"\t{plan.commission_bps} bps\t{_limits_text(plan)}"
            f"\t{'active' if plan.active else 'inactive'}\t{shops.get(plan.id, 0)} shops"
        )


@billing_cli.command("assign")
@click.argument("slug")
@click.argument("plan")
def assign_command(slug: str, plan: str) -> None:
    """Put shop SLUG on PLAN now (a comp or a migration), on its audit record."""
    from app.billing import plans

    try:
        subscription = plans.assign_plan(slug, plan, actor="platform command line")
    except KamengError as err:
        _refuse(err)
    click.echo(f"{slug} is on plan {subscription.plan.code}")


@billing_cli.command("extend")
@click.argument("slug")
@click.option("--days", type=int, required=True, help="Days of grace to add (1–365).")
def extend_command(slug: str, days: int) -> None:
    """Give the past-due shop SLUG DAYS more days before (or again after)
    its storefront is paused, on its audit record."""
    from app.billing import dunning

    try:
        row = dunning.extend_grace(slug, days, actor="platform command line")
    except KamengError as err:
        _refuse(err)
    ends = dunning.suspends_at(row)
    until = f", paused from {ends:%Y-%m-%d %H:%M} UTC unless paid" if ends else ""
    click.echo(f"{slug}: {row.grace_days} days of grace ({row.status}){until}")


@billing_cli.command("statement")
@click.argument("slug")
@click.option("--month", required=True, help="The month, as YYYY-MM (in the shop's time zone).")
@click.option("--csv", "as_csv", is_flag=True, help="Print the statement as CSV.")
def statement_command(slug: str, month: str, as_csv: bool) -> None:
    """The shop SLUG's statement of the platform's fees for a month: sales
    by provider, commission collected, accrued and reversed, the plan's
    fee, the total due, and whether it matches the ledger."""
    from app.billing import statements
    from app.billing.statement_csv import fee_lines, statement_csv
    from app.core.money import format_money

    try:
        st = statements.shop_statement(slug, month)
    except KamengError as err:
        _refuse(err)
    with force_locale("en"):
        if as_csv:
            click.echo(statement_csv(st).lstrip("\ufeff"), nl=False)
            return
        click.echo(f"{st.shop_name} ({st.slug}) {st.month:%Y-%m} {st.timezone} {st.currency}")
        click.echo(f"plan: {st.plan_name or 'none'}")
        for line in st.sales:
            click.echo(
                f"{line.provider}\t{line.orders} orders\t{format_money(line.sold, st.currency)}"
                f"\t{line.refunds} refunds\t{format_money(line.refunded, st.currency)}"
            )
        if not st.sales:
            click.echo("no sales")
        for label, value in fee_lines(st):
            shown = "-" if value is None else format_money(value, st.currency)
            click.echo(f"{label}: {shown}")
        click.echo(f"matches the ledger: {'yes' if st.matches_ledger else 'NO'}")
