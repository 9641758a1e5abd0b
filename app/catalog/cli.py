"""``flask --app wsgi cards …``: bulk import on the server, key rotation.

Bad input (unknown shop, product or file) prints one line on stderr and
exits non-zero; nothing is written.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import click
from flask.cli import AppGroup
from sqlalchemy import select

from app.core.errors import ConfigurationError, KamengError
from app.core.ids import parse_uuid
from app.extensions import db

cards_cli = AppGroup("cards", help="Card stock: bulk import and key rotation.")


def _fail(err: Exception) -> None:
    from app.core.commands import fail

    db.session.rollback()
    fail(err)


@cards_cli.command("import")
@click.argument("slug")
@click.argument("product_id")
@click.argument("file")
def import_cards(slug: str, product_id: str, file: str) -> None:
    """Import the codes in FILE into product PRODUCT_ID of shop SLUG.

    Any size, in this process, with a progress bar; the same rules as the
    API (all or nothing, duplicates skipped and reported). Exits 1 when the
    file has invalid lines (they are listed; nothing is imported).
    """
    from app.catalog import imports
    from tenants import provisioning
    from tenants.context import tenant_context

    try:
        tenant = provisioning.get_shop(slug)
    except KamengError as err:
        _fail(err)
    product = parse_uuid(product_id)
    if product is None:
        raise click.ClickException(f"{product_id} is not a product id")
    path = Path(file)
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise click.ClickException(f"cannot read {file}: {err.strerror or err}") from None

    with tenant_context(tenant.id):
        try:
            with click.progressbar(
                length=imports.count_lines(raw), label=f"importing {path.name}", show_pos=True
            ) as bar:

                def on_progress(done: int, total: int) -> None:
                    bar.length = max(total, 1)
                    bar.update(done - bar.pos)

                record = imports.import_now(product, raw, path.name, "cli", on_progress)
        except KamengError as err:
            _fail(err)
        report = imports.report_of(record)
    click.echo(
        f"{record.status}: {report['imported']} imported, {report['duplicates']} duplicates, "
        f"{report['invalid']} invalid ({report['encoding'] or 'unreadable'})"
    )
    if record.status != imports.DONE:
        for item in report["invalid_lines"]:
            click.echo(f"line {item['line']}: {item['reason']}", err=True)
        raise click.ClickException(report.get("message") or "nothing was imported")


@cards_cli.command("rotate-key")
@click.option("--batch", default=1000, show_default=True, help="Rows per transaction.")
def rotate_key(batch: int) -> None:
    """Re-encrypt every sealed value not under the current CARD_KEY.

    Put the new key in CARD_KEY and the old one in CARD_KEYS_OLD, run this,
    then drop the old key. Batches commit one by one, so an interrupted run
    is continued by running it again. Each shop gets an audit row naming
    how many values moved from which key ids.
    """
    from app.audit import services as audit
    from app.core.crypto import get_cipher, rotate_batch, stale_count
    from tenants.context import all_tenants, tenant_context
    from tenants.models import Tenant

    with all_tenants():
        shops = db.session.execute(select(Tenant.id, Tenant.slug).order_by(Tenant.created_at)).all()
    db.session.rollback()
    current = get_cipher().current_id
    pending: dict[uuid.UUID, int] = {}
    for tenant_id, _slug in shops:
        with tenant_context(tenant_id):
            count = stale_count(tenant_id)
            db.session.rollback()
        if count:
            pending[tenant_id] = count
    total = sum(pending.values())
    if not total:
        click.echo(f"nothing to do: every value is under key {current}")
        return
    click.echo(f"re-encrypting {total} values in {len(pending)} shops under key {current}")
    moved_total = 0
    with click.progressbar(length=total, label="rotating", show_pos=True) as bar:
        for tenant_id, slug in shops:
            if tenant_id not in pending:
                continue
            moved, old_ids = 0, set()
            with tenant_context(tenant_id):
                try:
                    while True:
                        count, olds = rotate_batch(tenant_id, batch)
                        if not count:
                            break
                        db.session.commit()
                        moved += count
                        old_ids |= olds
                        bar.update(count)
                except (ConfigurationError, KamengError) as err:
                    _fail(err)
                finally:
                    # What this run re-encrypted in the shop, even if it stops
                    # half-way: the next run audits the rest.
                    db.session.rollback()
                    if moved:
                        audit.record(
                            "cli",
                            "cards.rotate_key",
                            f"shop:{slug}",
                            count=moved,
                            from_keys=sorted(old_ids),
                            to_key=current,
                        )
                        db.session.commit()
            moved_total += moved
    click.echo(f"done: {moved_total} values re-encrypted under key {current}")
