"""tenants: the shop's time zone

``tenants.timezone``, an IANA name. Existing shops get Asia/Shanghai when
their language is Chinese and UTC otherwise; new shops are given the same
default when they open (``app.accounts.shops``).

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
    op.execute("UPDATE tenants SET timezone = 'Asia/Shanghai' WHERE locale LIKE 'zh%'")


def downgrade():
    with op.batch_alter_table("tenants", schema=None) as batch_op:
        batch_op.drop_column("timezone")
