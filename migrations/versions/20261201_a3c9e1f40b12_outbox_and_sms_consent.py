"""outbox of messages; SMS consent on beneficiaries

Revision ID: a3c9e1f40b12
Revises: 9f3b7c21d4e8
Create Date: 2026-12-01 21:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a3c9e1f40b12'
down_revision = '9f3b7c21d4e8'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'messages',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('channel', sa.Enum('email', 'sms', name='message_channel', native_enum=False,
                                     create_constraint=True), nullable=False),
        sa.Column('address', sa.String(length=254), nullable=False),
        sa.Column('beneficiary_id', sa.Integer(), nullable=True),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('language', sa.String(length=8), nullable=False),
        sa.Column('template', sa.String(length=40), nullable=False),
        sa.Column('values', sa.JSON(), nullable=False),
        sa.Column('about_type', sa.String(length=40), nullable=True),
        sa.Column('about_id', sa.Integer(), nullable=True),
        sa.Column('dedupe_key', sa.String(length=120), nullable=False),
        sa.Column('status', sa.Enum('queued', 'sent', 'failed', 'cancelled', name='message_status',
                                    native_enum=False, create_constraint=True), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_error', sa.String(length=300), nullable=True),
        sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('provider_id', sa.String(length=80), nullable=True),
        sa.CheckConstraint('(beneficiary_id IS NULL) OR (user_id IS NULL)', name=op.f('ck_messages_one_recipient')),
        sa.CheckConstraint('attempts >= 0', name=op.f('ck_messages_attempts_not_negative')),
        sa.CheckConstraint("status != 'sent' OR sent_at IS NOT NULL", name=op.f('ck_messages_sent_has_time')),
        sa.ForeignKeyConstraint(['beneficiary_id'], ['beneficiaries.id'],
                                name=op.f('fk_messages_beneficiary_id_beneficiaries'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_messages_user_id_users'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_messages')),
        sa.UniqueConstraint('dedupe_key', 'channel', name='uq_messages_dedupe_key_channel'),
    )
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_messages_beneficiary_id'), ['beneficiary_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_messages_user_id'), ['user_id'], unique=False)
        batch_op.create_index('ix_messages_due', ['status', 'next_attempt_at'], unique=False)

    with op.batch_alter_table('beneficiaries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sms_phone', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('sms_consent_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_check_constraint('sms_consent_has_number', 'sms_consent_at IS NULL OR sms_phone IS NOT NULL')
        batch_op.create_index('ix_beneficiaries_sms_phone', ['sms_phone'], unique=False)


def downgrade():
    with op.batch_alter_table('beneficiaries', schema=None) as batch_op:
        batch_op.drop_index('ix_beneficiaries_sms_phone')
        batch_op.drop_constraint(batch_op.f('ck_beneficiaries_sms_consent_has_number'), type_='check')
        batch_op.drop_column('sms_consent_at')
        batch_op.drop_column('sms_phone')

    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_index('ix_messages_due')
        batch_op.drop_index(batch_op.f('ix_messages_user_id'))
        batch_op.drop_index(batch_op.f('ix_messages_beneficiary_id'))
    op.drop_table('messages')
