"""``flask --app wsgi tenants …``: open, list, suspend and resume shops."""

from __future__ import annotations

import click
from flask.cli import AppGroup
from sqlalchemy import func, select

from app.core.errors import KamengError
from app.extensions import db
from tenants import provisioning
from tenants.context import all_tenants, tenant_context
from tenants.models import Tenant

tenants_cli = AppGroup("tenants", help="Open, list, suspend and resume shops.")


def fail(err: Exception) -> None:
    """One line on stderr and exit code 1."""
    detail = getattr(err, "detail", None) or str(err)
    errors = getattr(err, "errors", None) or {}
    extra = "; ".join(f"{k}: {' '.join(map(str, v))}" for k, v in errors.items())
    if extra and extra not in detail:
        detail = f"{detail} ({extra})"
    raise click.ClickException(detail)


@tenants_cli.command("create")
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
            tenant = provisioning.create_shop(slug, name, owner)
    except KamengError as err:
        db.session.rollback()
        fail(err)
    click.echo(f"created {tenant.slug}  {shop_url(tenant.slug)}  owner {owner.email}")


@tenants_cli.command("list")
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


@tenants_cli.command("suspend")
@click.argument("slug")
@click.option("--reason", help="Shown to the platform owner, kept with the shop.")
def suspend(slug: str, reason: str | None) -> None:
    """Suspend SLUG: it shows the suspended page; its data is kept."""
    try:
        tenant = provisioning.suspend_shop(slug, reason)
    except KamengError as err:
        fail(err)
    click.echo(f"suspended {tenant.slug}")


@tenants_cli.command("resume")
@click.argument("slug")
def resume(slug: str) -> None:
    """Bring a suspended shop back."""
    try:
        tenant = provisioning.resume_shop(slug)
    except KamengError as err:
        fail(err)
    click.echo(f"resumed {tenant.slug}")


@tenants_cli.command("api-key")
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


@tenants_cli.command("add-domain")
@click.argument("slug")
@click.argument("host")
def add_domain(slug: str, host: str) -> None:
    """Connect HOST to SLUG; prints the DNS record that proves ownership."""
    try:
        tenant = provisioning.get_shop(slug)
        domain = provisioning.add_custom_domain(tenant, host)
    except KamengError as err:
        fail(err)
    click.echo(f"add a DNS TXT record  _kameng.{domain.host}  {domain.verification_token}")
    click.echo(f"then: flask --app wsgi tenants verify-domain {tenant.slug} {domain.host}")


@tenants_cli.command("verify-domain")
@click.argument("slug")
@click.argument("host")
@click.option("--skip-dns", is_flag=True, help="The platform owner vouches for the domain.")
def verify_domain(slug: str, host: str, skip_dns: bool) -> None:
    """Verify HOST (DNS TXT check) so SLUG serves on it."""
    try:
        tenant = provisioning.get_shop(slug)
        if skip_dns:
            domain = provisioning.mark_domain_verified(tenant, host.lower())
        else:
            domain = provisioning.verify_domain_dns(tenant, host.lower())
    except KamengError as err:
        fail(err)
    click.echo(f"verified {domain.host}: {tenant.slug} answers there now")
