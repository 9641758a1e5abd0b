"""Shop commands that involve accounts: ``flask --app wsgi tenants create``,
``tenants list`` and ``tenants api-key``. They join the ``tenants`` group
when the app is built (``SHOP_COMMANDS``, see ``app._register_cli``)."""

from __future__ import annotations

import click
from flask.cli import with_appcontext
from sqlalchemy import func, select

from app.core.commands import fail
from app.core.errors import KamengError
from app.extensions import db
from tenants import provisioning
from tenants.context import all_tenants, tenant_context
from tenants.models import Tenant


@click.command("create")
@with_appcontext
@click.argument("slug")
@click.option("--name", required=True, help="The shop's display name.")
@click.option("--owner-email", required=True, help="The operator who owns the shop.")
@click.option(
    "--owner-password",
    help="Password for a new owner (an existing platform user keeps theirs).",
)
def create(slug: str, name: str, owner_email: str, owner_password: str | None) -> None:
    """Open the shop SLUG; it answers on SLUG.<PLATFORM_DOMAIN> at once."""
    from app.accounts import services
    from app.accounts.models import PlatformUser
    from app.accounts.shops import open_shop
    from app.core.links import shop_url

    try:
        slug = provisioning.validate_slug(slug)
        email = services.normalize_email(owner_email)
        owner = db.session.scalar(select(PlatformUser).where(PlatformUser.email == email))
        if owner is None:
            if not owner_password:
                raise click.ClickException(
                    f"{email} is not a platform user yet; give --owner-password."
                )
            # The new owner and the shop are written together or not at all.
            owner, tenant = services.sign_up_operator(
                email, owner_password, shop_slug=slug, shop_name=name
            )
        else:
            tenant = open_shop(slug, name, owner)
    except KamengError as err:
        db.session.rollback()
        fail(err)
    click.echo(f"created {tenant.slug}  {shop_url(tenant.slug)}  owner {owner.email}")


@click.command("list")
@with_appcontext
def list_() -> None:
    """Every shop with its status and member count."""
    from app.accounts.models import Membership

    with all_tenants():
        rows = db.session.execute(
            select(Tenant, func.count(Membership.id))
            .outerjoin(Membership, Membership.tenant_id == Tenant.id)
            .group_by(Tenant.id)
            .order_by(Tenant.created_at)
        ).all()
    if not rows:
        click.echo("no shops yet")
        return
    click.echo(f"{'SLUG':<33}{'STATUS':<11}{'MEMBERS':>7}  NAME")
    for tenant, members in rows:
        click.echo(f"{tenant.slug:<33}{tenant.status:<11}{members:>7}  {tenant.name}")


@click.command("api-key")
@with_appcontext
@click.argument("slug")
@click.option("--name", default="CLI key", show_default=True)
@click.option("--role", type=click.Choice(["owner", "staff"]), default="owner", show_default=True)
def api_key(slug: str, name: str, role: str) -> None:
    """Print a new operator API key for SLUG (shown once)."""
    from app.accounts import services

    try:
        tenant = provisioning.get_shop(slug)
        with tenant_context(tenant):
            _, plaintext = services.create_api_key(name, None, role)
    except KamengError as err:
        fail(err)
    click.echo(plaintext)


#: Added to the ``tenants`` command group by the app assembly.
SHOP_COMMANDS = (create, list_, api_key)
