"""supply: an account supplier's pool of codes (supplier_codes), sealed and
fingerprinted like cards, sold through the account connector

Revision ID: 0016
Revises: 0015

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('supplier_codes',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('supplier_id', sa.Uuid(), nullable=False),
    sa.Column('product_id', sa.Uuid(), nullable=False),
    sa.Column('source_id', sa.Uuid(), nullable=True),
    sa.Column('key_id', sa.String(length=8), nullable=False),
    sa.Column('secret', sa.LargeBinary(), nullable=False),
    sa.Column('fingerprint', sa.LargeBinary(length=32), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('sold_key', sa.String(length=120), nullable=True),
    sa.Column('order_id', sa.Uuid(), nullable=True),
    sa.Column('cost', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('sold_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_supplier_codes_product_id_products'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['source_id'], ['product_sources.id'], name=op.f('fk_supplier_codes_source_id_product_sources'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['supplier_id'], ['suppliers.id'], name=op.f('fk_supplier_codes_supplier_id_suppliers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_supplier_codes_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_supplier_codes')),
    sa.UniqueConstraint('tenant_id', 'fingerprint', name=op.f('uq_supplier_codes_tenant_id_fingerprint'))
    )
    with op.batch_alter_table('supplier_codes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_supplier_codes_tenant_id'), ['tenant_id'], unique=False)
        batch_op.create_index('ix_supplier_codes_tenant_sold_key', ['tenant_id', 'sold_key'], unique=False)
        batch_op.create_index('ix_supplier_codes_tenant_supplier_product_status', ['tenant_id', 'supplier_id', 'product_id', 'status', 'id'], unique=False)
        batch_op.create_index('ix_supplier_codes_tenant_supplier_sold', ['tenant_id', 'supplier_id', 'sold_at'], unique=False)



def downgrade():
    with op.batch_alter_table('supplier_codes', schema=None) as batch_op:
        batch_op.drop_index('ix_supplier_codes_tenant_supplier_sold')
        batch_op.drop_index('ix_supplier_codes_tenant_supplier_product_status')
        batch_op.drop_index('ix_supplier_codes_tenant_sold_key')
        batch_op.drop_index(batch_op.f('ix_supplier_codes_tenant_id'))

    op.drop_table('supplier_codes')
