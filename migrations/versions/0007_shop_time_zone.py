"""tenants: the shop's time zone and its look

``tenants.timezone``, an IANA name. Existing shops get Asia/Shanghai when
their language is Chinese and UTC otherwise; new shops are given the same
default when they open (``tenants.provisioning.default_timezone``).

The look an operator sets in the console: ``brand_color`` (#rrggbb),
``announcement`` (plain text), ``logo_file`` and ``banner_file`` (names of
uploaded files under the instance's uploads, ``None`` for none) and
``theme_settings`` (values for the settings the theme's manifest declares).

Revision ID: 0007
Revises: 0006

"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("tenants", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("timezone", sa.String(64), server_default="UTC", nullable=False)
        )
        batch_op.add_column(
            sa.Column("brand_color", sa.String(7), server_default="#e4572e", nullable=False)
        )
        batch_op.add_column(
            sa.Column("announcement", sa.String(500), server_default="", nullable=False)
        )
        batch_op.add_column(sa.Column("logo_file", sa.String(80), nullable=True))
        batch_op.add_column(sa.Column("banner_file", sa.String(80), nullable=True))
        batch_op.add_column(
            sa.Column("theme_settings", sa.JSON(), server_default="{}", nullable=False)
        )
    op.execute("UPDATE tenants SET timezone = 'Asia/Shanghai' WHERE locale LIKE 'zh%'")


def downgrade():
    with op.batch_alter_table("tenants", schema=None) as batch_op:
        for column in (
            "theme_settings", "banner_file", "logo_file", "announcement", "brand_color", "timezone"
        ):
            batch_op.drop_column(column)
