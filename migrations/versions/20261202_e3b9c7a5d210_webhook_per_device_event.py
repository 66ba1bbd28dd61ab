"""webhook deliveries: one per token and recorded device change (a device sold again after a
return is announced again), instead of one per token, device and kind of event

Revision ID: e3b9c7a5d210
Revises: b7d2e4f81c35
Create Date: 2026-12-02 04:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e3b9c7a5d210'
down_revision = 'b7d2e4f81c35'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('api_webhook_deliveries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('device_event_id', sa.Integer(), nullable=True))
        batch_op.drop_constraint('uq_api_webhook_deliveries_token_device_event', type_='unique')
        batch_op.create_foreign_key(batch_op.f('fk_api_webhook_deliveries_device_event_id_device_events'),
                                    'device_events', ['device_event_id'], ['id'], ondelete='CASCADE')
        batch_op.create_unique_constraint('uq_api_webhook_deliveries_token_device_event',
                                          ['token_id', 'device_event_id'])


def downgrade():
    with op.batch_alter_table('api_webhook_deliveries', schema=None) as batch_op:
        batch_op.drop_constraint('uq_api_webhook_deliveries_token_device_event', type_='unique')
        batch_op.drop_constraint(batch_op.f('fk_api_webhook_deliveries_device_event_id_device_events'),
                                 type_='foreignkey')
        batch_op.drop_column('device_event_id')
        batch_op.create_unique_constraint('uq_api_webhook_deliveries_token_device_event',
                                          ['token_id', 'device_id', 'event'])
