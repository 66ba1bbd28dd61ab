"""after the sale: warranty periods per kind of device, after-sale cases, superseded erasure records

Revision ID: c5e2a8d41f07
Revises: a3c9e1f40b12
Create Date: 2026-12-02 00:35:52

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c5e2a8d41f07'
down_revision = 'a3c9e1f40b12'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('warranty_periods',
    sa.Column('category', sa.Enum('laptop', 'desktop', 'smartphone', 'tablet', 'screen', 'printer', 'multifunction_printer', 'accessory', name='warranty_category', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('months', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('months >= 1 AND months <= 60', name=op.f('ck_warranty_periods_warranty_months_range')),
    sa.PrimaryKeyConstraint('category', name=op.f('pk_warranty_periods'))
    )
    op.create_table('aftersale_cases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reservation_id', sa.Integer(), nullable=False),
    sa.Column('device_id', sa.Integer(), nullable=False),
    sa.Column('pickup_point_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.Enum('does_not_start', 'battery', 'screen', 'keyboard', 'network', 'software', 'not_as_described', 'other', name='return_reason', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('description', sa.String(length=300), nullable=True),
    sa.Column('outcome', sa.Enum('open', 'repaired', 'exchanged', 'refunded', 'refused', name='case_outcome', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('replacement_id', sa.Integer(), nullable=True),
    sa.Column('refund_cents', sa.Integer(), nullable=True),
    sa.Column('refund_channel', sa.Enum('cash', 'card_terminal', 'cheque', 'stripe', name='case_refund_channel', native_enum=False, create_constraint=True), nullable=True),
    sa.Column('refusal_reason', sa.String(length=300), nullable=True),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('opened_by_id', sa.Integer(), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("(outcome = 'open') = (closed_at IS NULL)", name=op.f('ck_aftersale_cases_closed_when_decided')),
    sa.CheckConstraint('refund_cents IS NULL OR refund_cents > 0', name=op.f('ck_aftersale_cases_refund_positive')),
    sa.CheckConstraint('replacement_id IS NULL OR replacement_id <> device_id', name=op.f('ck_aftersale_cases_replacement_not_returned')),
    sa.ForeignKeyConstraint(['closed_by_id'], ['users.id'], name=op.f('fk_aftersale_cases_closed_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], name=op.f('fk_aftersale_cases_device_id_devices')),
    sa.ForeignKeyConstraint(['opened_by_id'], ['users.id'], name=op.f('fk_aftersale_cases_opened_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['pickup_point_id'], ['pickup_points.id'], name=op.f('fk_aftersale_cases_pickup_point_id_pickup_points')),
    sa.ForeignKeyConstraint(['replacement_id'], ['devices.id'], name=op.f('fk_aftersale_cases_replacement_id_devices')),
    sa.ForeignKeyConstraint(['reservation_id'], ['reservations.id'], name=op.f('fk_aftersale_cases_reservation_id_reservations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_aftersale_cases'))
    )
    with op.batch_alter_table('aftersale_cases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_aftersale_cases_device_id'), ['device_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_aftersale_cases_pickup_point_id'), ['pickup_point_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_aftersale_cases_reservation_id'), ['reservation_id'], unique=False)
        batch_op.create_index('uq_aftersale_open_device', ['device_id'], unique=True, sqlite_where=sa.text("outcome = 'open'"), postgresql_where=sa.text("outcome = 'open'"))

    # Set when a sold device comes back: its old proof of erasure no longer counts.
    with op.batch_alter_table('erasure_records', schema=None) as batch_op:
        batch_op.add_column(sa.Column('superseded_at', sa.DateTime(timezone=True), nullable=True))



def downgrade():
    with op.batch_alter_table('erasure_records', schema=None) as batch_op:
        batch_op.drop_column('superseded_at')

    with op.batch_alter_table('aftersale_cases', schema=None) as batch_op:
        batch_op.drop_index('uq_aftersale_open_device', sqlite_where=sa.text("outcome = 'open'"), postgresql_where=sa.text("outcome = 'open'"))
        batch_op.drop_index(batch_op.f('ix_aftersale_cases_reservation_id'))
        batch_op.drop_index(batch_op.f('ix_aftersale_cases_pickup_point_id'))
        batch_op.drop_index(batch_op.f('ix_aftersale_cases_device_id'))

    op.drop_table('aftersale_cases')
    op.drop_table('warranty_periods')
