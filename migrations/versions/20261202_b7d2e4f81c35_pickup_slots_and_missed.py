"""pickup slots (templates, closures, slots), slot mode per point, missed reservations

Revision ID: b7d2e4f81c35
Revises: c7e2a9d41f05
Create Date: 2026-12-02 00:45:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b7d2e4f81c35'
down_revision = 'c7e2a9d41f05'
branch_labels = None
depends_on = None

OLD_STATUSES = "'pending_payment', 'confirmed', 'ready', 'picked_up', 'cancelled', 'expired'"
NEW_STATUSES = OLD_STATUSES + ", 'missed'"


def upgrade():
    op.create_table(
        'slot_templates',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('pickup_point_id', sa.Integer(), nullable=False),
        sa.Column('weekday', sa.SmallInteger(), nullable=False),
        sa.Column('start_minute', sa.SmallInteger(), nullable=False),
        sa.Column('end_minute', sa.SmallInteger(), nullable=False),
        sa.Column('slot_minutes', sa.SmallInteger(), nullable=False),
        sa.Column('capacity', sa.SmallInteger(), nullable=False),
        sa.CheckConstraint('weekday >= 0 AND weekday <= 6', name=op.f('ck_slot_templates_weekday_range')),
        sa.CheckConstraint('start_minute >= 0 AND end_minute <= 1440 AND end_minute > start_minute',
                           name=op.f('ck_slot_templates_minutes_in_day')),
        sa.CheckConstraint('slot_minutes > 0', name=op.f('ck_slot_templates_slot_minutes_positive')),
        sa.CheckConstraint('capacity > 0', name=op.f('ck_slot_templates_capacity_positive')),
        sa.ForeignKeyConstraint(['pickup_point_id'], ['pickup_points.id'],
                                name=op.f('fk_slot_templates_pickup_point_id_pickup_points'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_slot_templates')),
    )
    op.create_index(op.f('ix_slot_templates_pickup_point_id'), 'slot_templates', ['pickup_point_id'], unique=False)
    op.create_table(
        'slot_closures',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('pickup_point_id', sa.Integer(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('reason', sa.String(length=120), nullable=False),
        sa.ForeignKeyConstraint(['pickup_point_id'], ['pickup_points.id'],
                                name=op.f('fk_slot_closures_pickup_point_id_pickup_points'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_slot_closures')),
        sa.UniqueConstraint('pickup_point_id', 'day', name='uq_slot_closures_point_day'),
    )
    op.create_index(op.f('ix_slot_closures_pickup_point_id'), 'slot_closures', ['pickup_point_id'], unique=False)
    op.create_table(
        'pickup_slots',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('pickup_point_id', sa.Integer(), nullable=False),
        sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('capacity', sa.SmallInteger(), nullable=False),
        sa.Column('booked', sa.SmallInteger(), nullable=False),
        sa.Column('template_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint('capacity > 0 AND booked >= 0 AND booked <= capacity',
                           name=op.f('ck_pickup_slots_within_capacity')),
        sa.CheckConstraint('ends_at > starts_at', name=op.f('ck_pickup_slots_ends_after_start')),
        sa.ForeignKeyConstraint(['pickup_point_id'], ['pickup_points.id'],
                                name=op.f('fk_pickup_slots_pickup_point_id_pickup_points'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['template_id'], ['slot_templates.id'],
                                name=op.f('fk_pickup_slots_template_id_slot_templates'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_pickup_slots')),
        sa.UniqueConstraint('pickup_point_id', 'starts_at', name='uq_pickup_slots_point_start'),
    )
    op.create_index(op.f('ix_pickup_slots_template_id'), 'pickup_slots', ['template_id'], unique=False)

    with op.batch_alter_table('pickup_points', schema=None) as batch_op:
        batch_op.add_column(sa.Column('slot_mode', sa.String(length=10), server_default='off', nullable=False))

    with op.batch_alter_table('reservations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('slot_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_reservations_slot_id'), ['slot_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_reservations_slot_id_pickup_slots'), 'pickup_slots',
                                    ['slot_id'], ['id'])
        batch_op.drop_constraint(op.f('ck_reservations_reservation_status'), type_='check')
        batch_op.create_check_constraint(op.f('ck_reservations_reservation_status'), f"status IN ({NEW_STATUSES})")


def downgrade():
    # A missed reservation was, before this revision, an expired one.
    op.execute("UPDATE reservations SET status = 'expired' WHERE status = 'missed'")
    with op.batch_alter_table('reservations', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_reservations_reservation_status'), type_='check')
        batch_op.create_check_constraint(op.f('ck_reservations_reservation_status'), f"status IN ({OLD_STATUSES})")
        batch_op.drop_constraint(batch_op.f('fk_reservations_slot_id_pickup_slots'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_reservations_slot_id'))
        batch_op.drop_column('slot_id')

    with op.batch_alter_table('pickup_points', schema=None) as batch_op:
        batch_op.drop_column('slot_mode')

    op.drop_index(op.f('ix_pickup_slots_template_id'), table_name='pickup_slots')
    op.drop_table('pickup_slots')
    op.drop_index(op.f('ix_slot_closures_pickup_point_id'), table_name='slot_closures')
    op.drop_table('slot_closures')
    op.drop_index(op.f('ix_slot_templates_pickup_point_id'), table_name='slot_templates')
    op.drop_table('slot_templates')
