"""supply: products the stock sync took off sale (so that only those come
back on sale by themselves); a supplier's markup percent

Revision ID: 0014
Revises: 0013

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('suppliers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('markup_percent', sa.Integer(), nullable=True))

    op.create_table('supply_paused_products',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('product_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_supply_paused_products_product_id_products'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_supply_paused_products_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_supply_paused_products')),
    sa.UniqueConstraint('tenant_id', 'product_id', name=op.f('uq_supply_paused_products_tenant_id_product_id'))
    )
    with op.batch_alter_table('supply_paused_products', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_supply_paused_products_tenant_id'), ['tenant_id'], unique=False)


def downgrade():
    with op.batch_alter_table('supply_paused_products', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_supply_paused_products_tenant_id'))

    op.drop_table('supply_paused_products')
    with op.batch_alter_table('suppliers', schema=None) as batch_op:
        batch_op.drop_column('markup_percent')
