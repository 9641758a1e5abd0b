"""``flask --app wsgi tenants …``: suspend and resume shops, connect and
verify their domains.

The commands that also touch accounts (``create``, ``list``, ``api-key``)
live in ``app.accounts.cli`` and join this group when the app is built
(``app._register_cli``), so every shop command keeps one name.
"""

from __future__ import annotations

import click
from flask.cli import AppGroup

from app.core.commands import fail
from app.core.errors import KamengError
from tenants import provisioning

tenants_cli = AppGroup("tenants", help="Open, list, suspend and resume shops.")


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
