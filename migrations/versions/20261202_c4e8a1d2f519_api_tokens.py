"""API tokens (role and scope, optional webhook), stored answers of POSTs with an Idempotency-Key, webhook deliveries

Revision ID: c4e8a1d2f519
Revises: c5e2a8d41f07
Create Date: 2026-12-02 00:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c4e8a1d2f519'
down_revision = 'c5e2a8d41f07'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'api_tokens',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=120), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('prefix', sa.String(length=16), nullable=False),
        sa.Column('role', sa.Enum('refurbisher', 'donor', 'partner', name='api_role', native_enum=False,
                                  create_constraint=True, length=11), nullable=False),
        sa.Column('organisation_id', sa.Integer(), nullable=True),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('webhook_url', sa.String(length=500), nullable=True),
        sa.Column('webhook_secret', sa.String(length=255), nullable=True),
        sa.CheckConstraint("(role = 'partner') = (organisation_id IS NOT NULL)",
                           name=op.f('ck_api_tokens_partner_has_organisation')),
        sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_api_tokens_created_by_id_users'),
                                ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'],
                                name=op.f('fk_api_tokens_organisation_id_organisations')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_api_tokens')),
        sa.UniqueConstraint('token_hash', name=op.f('uq_api_tokens_token_hash')),
    )
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_tokens_organisation_id'), ['organisation_id'], unique=False)

    op.create_table(
        'api_token_donors',
        sa.Column('token_id', sa.Integer(), nullable=False),
        sa.Column('donor_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['donor_id'], ['donors.id'], name=op.f('fk_api_token_donors_donor_id_donors'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['token_id'], ['api_tokens.id'], name=op.f('fk_api_token_donors_token_id_api_tokens'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('token_id', 'donor_id', name=op.f('pk_api_token_donors')),
    )
    with op.batch_alter_table('api_token_donors', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_token_donors_donor_id'), ['donor_id'], unique=False)

    op.create_table(
        'api_idempotent_requests',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('token_id', sa.Integer(), nullable=False),
        sa.Column('key', sa.String(length=200), nullable=False),
        sa.Column('fingerprint', sa.String(length=64), nullable=False),
        sa.Column('status_code', sa.Integer(), nullable=True),
        sa.Column('body', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['token_id'], ['api_tokens.id'],
                                name=op.f('fk_api_idempotent_requests_token_id_api_tokens'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_api_idempotent_requests')),
        sa.UniqueConstraint('token_id', 'key', name='uq_api_idempotent_requests_token_key'),
    )
    with op.batch_alter_table('api_idempotent_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_idempotent_requests_created_at'), ['created_at'], unique=False)

    op.create_table(
        'api_webhook_deliveries',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('token_id', sa.Integer(), nullable=False),
        sa.Column('device_id', sa.Integer(), nullable=False),
        sa.Column('event', sa.String(length=30), nullable=False),
        sa.Column('payload', sa.Text(), nullable=False),
        sa.Column('status', sa.Enum('queued', 'sent', 'failed', name='webhook_status', native_enum=False,
                                    create_constraint=True, length=6), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_error', sa.String(length=300), nullable=True),
        sa.ForeignKeyConstraint(['device_id'], ['devices.id'], name=op.f('fk_api_webhook_deliveries_device_id_devices'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['token_id'], ['api_tokens.id'],
                                name=op.f('fk_api_webhook_deliveries_token_id_api_tokens'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_api_webhook_deliveries')),
        sa.UniqueConstraint('token_id', 'device_id', 'event', name='uq_api_webhook_deliveries_token_device_event'),
    )
    with op.batch_alter_table('api_webhook_deliveries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_webhook_deliveries_device_id'), ['device_id'], unique=False)
        batch_op.create_index('ix_api_webhook_deliveries_due', ['status', 'next_attempt_at'], unique=False)


def downgrade():
    with op.batch_alter_table('api_webhook_deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_api_webhook_deliveries_due')
        batch_op.drop_index(batch_op.f('ix_api_webhook_deliveries_device_id'))
    op.drop_table('api_webhook_deliveries')
    with op.batch_alter_table('api_idempotent_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_idempotent_requests_created_at'))
    op.drop_table('api_idempotent_requests')
    with op.batch_alter_table('api_token_donors', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_token_donors_donor_id'))
    op.drop_table('api_token_donors')
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_tokens_organisation_id'))
    op.drop_table('api_tokens')
