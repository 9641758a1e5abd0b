"""orders: whether the delivery mail went out

``orders.mailed_at``: when the mail server (or, in development, the mail
folder) took the order's delivery mail; ``orders.mail_error``: why the last
try failed, cleared once one succeeds. The buyer's order page says "a copy
was sent" only when ``mailed_at`` is set.

Revision ID: 0009
Revises: 0008

"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("mailed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("mail_error", sa.String(200), nullable=True))


def downgrade():
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_column("mail_error")
        batch_op.drop_column("mailed_at")
