"""waitlist: queues for a kind of device at a pickup point, and turns

Revision ID: a7c3e91d4b20
Revises: a6d3f1c9e2b4
Create Date: 2026-12-01 21:15:41

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a7c3e91d4b20'
down_revision = 'a6d3f1c9e2b4'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('waitlist_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token', sa.String(length=24), nullable=False),
    sa.Column('beneficiary_id', sa.Integer(), nullable=False),
    sa.Column('code_id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('category', sa.Enum('laptop', 'desktop', 'smartphone', 'tablet', 'screen', 'printer', 'multifunction_printer', 'accessory', name='waitlist_category', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('pickup_point_id', sa.Integer(), nullable=False),
    sa.Column('any_point_in_town', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('max_price_cents', sa.Integer(), nullable=True),
    sa.Column('status', sa.Enum('waiting', 'offered', 'reserved', 'left', 'expired', name='waitlist_status', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('joined_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('joined_by_id', sa.Integer(), nullable=True),
    sa.Column('device_id', sa.Integer(), nullable=True),
    sa.Column('offered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('offer_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('end_reason', sa.String(length=200), nullable=True),
    sa.CheckConstraint("status != 'offered' OR (device_id IS NOT NULL AND offer_until IS NOT NULL)", name=op.f('ck_waitlist_entries_offered_names_unit')),
    sa.CheckConstraint('max_price_cents IS NULL OR (max_price_cents >= 0 AND max_price_cents <= 100000)', name=op.f('ck_waitlist_entries_max_price_range')),
    sa.ForeignKeyConstraint(['beneficiary_id'], ['beneficiaries.id'], name=op.f('fk_waitlist_entries_beneficiary_id_beneficiaries')),
    sa.ForeignKeyConstraint(['code_id'], ['eligibility_codes.id'], name=op.f('fk_waitlist_entries_code_id_eligibility_codes')),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], name=op.f('fk_waitlist_entries_device_id_devices')),
    sa.ForeignKeyConstraint(['joined_by_id'], ['users.id'], name=op.f('fk_waitlist_entries_joined_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_waitlist_entries_organisation_id_organisations')),
    sa.ForeignKeyConstraint(['pickup_point_id'], ['pickup_points.id'], name=op.f('fk_waitlist_entries_pickup_point_id_pickup_points')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_waitlist_entries')),
    sa.UniqueConstraint('token', name=op.f('uq_waitlist_entries_token'))
    )
    with op.batch_alter_table('waitlist_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_waitlist_entries_beneficiary_id'), ['beneficiary_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_waitlist_entries_code_id'), ['code_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_waitlist_entries_organisation_id'), ['organisation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_waitlist_entries_pickup_point_id'), ['pickup_point_id'], unique=False)
        batch_op.create_index('ix_waitlist_status_category_joined', ['status', 'category', 'joined_at'], unique=False)
        batch_op.create_index('uq_waitlist_in_line_code_category', ['code_id', 'category'], unique=True, sqlite_where=sa.text("status IN ('waiting', 'offered')"), postgresql_where=sa.text("status IN ('waiting', 'offered')"))
        batch_op.create_index('uq_waitlist_offered_device', ['device_id'], unique=True, sqlite_where=sa.text("status = 'offered'"), postgresql_where=sa.text("status = 'offered'"))



def downgrade():
    with op.batch_alter_table('waitlist_entries', schema=None) as batch_op:
        batch_op.drop_index('uq_waitlist_offered_device', sqlite_where=sa.text("status = 'offered'"), postgresql_where=sa.text("status = 'offered'"))
        batch_op.drop_index('uq_waitlist_in_line_code_category', sqlite_where=sa.text("status IN ('waiting', 'offered')"), postgresql_where=sa.text("status IN ('waiting', 'offered')"))
        batch_op.drop_index('ix_waitlist_status_category_joined')
        batch_op.drop_index(batch_op.f('ix_waitlist_entries_pickup_point_id'))
        batch_op.drop_index(batch_op.f('ix_waitlist_entries_organisation_id'))
        batch_op.drop_index(batch_op.f('ix_waitlist_entries_code_id'))
        batch_op.drop_index(batch_op.f('ix_waitlist_entries_beneficiary_id'))

    op.drop_table('waitlist_entries')
