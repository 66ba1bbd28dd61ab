"""device photos and passport tokens

Revision ID: 3be2802b6dba
Revises: 7d14fadf5898
Create Date: 2026-11-27 16:33:32.019099

"""
import secrets

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '3be2802b6dba'
down_revision = '3a89f542465b'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('device_photos',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('device_id', sa.Integer(), nullable=False),
    sa.Column('token', sa.String(length=32), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('small_width', sa.Integer(), nullable=False),
    sa.Column('small_height', sa.Integer(), nullable=False),
    sa.Column('large_width', sa.Integer(), nullable=False),
    sa.Column('large_height', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], name=op.f('fk_device_photos_device_id_devices'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_device_photos')),
    sa.UniqueConstraint('token', name=op.f('uq_device_photos_token'))
    )
    with op.batch_alter_table('device_photos', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_device_photos_device_id'), ['device_id'], unique=False)

    # Devices already in the stock get their passport token before the column becomes required.
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('passport_token', sa.String(length=24), nullable=True))
    devices = sa.table('devices', sa.column('id', sa.Integer), sa.column('passport_token', sa.String))
    connection = op.get_bind()
    for (device_id,) in connection.execute(sa.select(devices.c.id)).all():
        connection.execute(devices.update().where(devices.c.id == device_id)
                           .values(passport_token=secrets.token_urlsafe(12)))
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.alter_column('passport_token', existing_type=sa.String(length=24), nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_devices_passport_token'), ['passport_token'])


def downgrade():
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_devices_passport_token'), type_='unique')
        batch_op.drop_column('passport_token')

    with op.batch_alter_table('device_photos', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_device_photos_device_id'))

    op.drop_table('device_photos')
