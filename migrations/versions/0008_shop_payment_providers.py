"""tenants: the payment methods a shop turns off, and theme settings per theme

``tenants.disabled_payment_providers``: the platform's payment providers
the shop does not offer (empty for every existing shop: each keeps offering
everything the platform offers). A provider the platform adds later is
offered until the operator turns it off.

``tenants.theme_settings`` becomes one object per theme
(``{"<theme>": {"<setting>": value}}``), so switching themes keeps what was
set for each. Values stored in the earlier flat form are moved under the
shop's current theme.

Revision ID: 0008
Revises: 0007

"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_tenants = sa.table(
    "tenants",
    sa.column("id", sa.Uuid()),
    sa.column("theme", sa.String()),
    sa.column("theme_settings", sa.JSON()),
)


def _is_per_theme(stored: dict) -> bool:
    return all(isinstance(value, dict) for value in stored.values())


def upgrade():
    with op.batch_alter_table("tenants", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "disabled_payment_providers", sa.JSON(), server_default="[]", nullable=False
            )
        )
    conn = op.get_bind()
    for row in conn.execute(sa.select(_tenants.c.id, _tenants.c.theme, _tenants.c.theme_settings)):
        stored = row.theme_settings or {}
        if stored and not _is_per_theme(stored):
            conn.execute(
                _tenants.update()
                .where(_tenants.c.id == row.id)
                .values(theme_settings={row.theme: stored})
            )


def downgrade():
    conn = op.get_bind()
    for row in conn.execute(sa.select(_tenants.c.id, _tenants.c.theme, _tenants.c.theme_settings)):
        stored = row.theme_settings or {}
        if stored and _is_per_theme(stored):
            conn.execute(
                _tenants.update()
                .where(_tenants.c.id == row.id)
                .values(theme_settings=stored.get(row.theme) or {})
            )
    with op.batch_alter_table("tenants", schema=None) as batch_op:
        batch_op.drop_column("disabled_payment_providers")
