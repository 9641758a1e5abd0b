"""billing: the platform's commission on each delivered or refunded order
(platform_commissions), one row per shop, order and kind; orders get an
index on their delivery time for the accrual job; each shop's Stripe
Connect account while it is onboarded (connect_accounts)

Revision ID: 0018
Revises: 0017

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('connect_accounts',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('account_id', sa.String(length=64), nullable=False),
    sa.Column('charges_enabled', sa.Boolean(), nullable=False),
    sa.Column('details_submitted', sa.Boolean(), nullable=False),
    sa.Column('payouts_enabled', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_connect_accounts_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_connect_accounts')),
    sa.UniqueConstraint('account_id', name=op.f('uq_connect_accounts_account_id')),
    sa.UniqueConstraint('tenant_id', name=op.f('uq_connect_accounts_tenant_id'))
    )
    op.create_table('platform_commissions',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('order_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('provider', sa.String(length=16), nullable=False),
    sa.Column('sale_amount', sa.BigInteger(), nullable=False),
    sa.Column('rate_bps', sa.Integer(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('booked_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_platform_commissions_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_platform_commissions')),
    sa.UniqueConstraint('tenant_id', 'order_id', 'kind', name=op.f('uq_platform_commissions_tenant_id_order_id_kind'))
    )
    with op.batch_alter_table('platform_commissions', schema=None) as batch_op:
        batch_op.create_index('ix_platform_commissions_tenant_booked', ['tenant_id', 'booked_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_platform_commissions_tenant_id'), ['tenant_id'], unique=False)
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.create_index('ix_orders_tenant_delivered', ['tenant_id', 'delivered_at'], unique=False)


def downgrade():
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index('ix_orders_tenant_delivered')
    with op.batch_alter_table('platform_commissions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_platform_commissions_tenant_id'))
        batch_op.drop_index('ix_platform_commissions_tenant_booked')
    op.drop_table('platform_commissions')
    op.drop_table('connect_accounts')
