"""billing: what Stripe Billing last said about a subscription, dunning
(when a shop's payment first failed, reminders sent) and the shop's
storefront paused for an unpaid plan

Revision ID: 0017
Revises: 0016

"""
from alembic import op
import sqlalchemy as sa



# revision identifiers, used by Alembic.
revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('tenants') as batch:
        batch.add_column(
            sa.Column('billing_paused', sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    with op.batch_alter_table('subscriptions') as batch:
        batch.add_column(sa.Column('stripe_synced_at', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('past_due_since', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(
            sa.Column('reminders_sent', sa.Integer(), server_default='0', nullable=False)
        )


def downgrade():
    with op.batch_alter_table('subscriptions') as batch:
        batch.drop_column('reminders_sent')
        batch.drop_column('past_due_since')
        batch.drop_column('stripe_synced_at')
    with op.batch_alter_table('tenants') as batch:
        batch.drop_column('billing_paused')
