"""accounts: the owner's grant to a staff member to see delivered codes

``memberships.can_view_codes``, false for every existing membership: staff
who could see codes before this revision no longer can until the owner
grants it again (the owner always can; the flag is not read for owners).

Revision ID: 0006
Revises: 0005

"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("can_view_codes", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade():
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.drop_column("can_view_codes")
