"""payment issues: card payments that are not the one the shop asked for

Revision ID: a6d3f1c9e2b4
Revises: 5c1e0a7b2f43
Create Date: 2026-12-01 21:22:04

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a6d3f1c9e2b4'
down_revision = '5c1e0a7b2f43'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('payment_issues',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('stripe_event_id', sa.String(length=255), nullable=False),
    sa.Column('session_id', sa.String(length=255), nullable=True),
    sa.Column('payment_reference', sa.String(length=255), nullable=True),
    sa.Column('reservation_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.Enum('unknown_session', 'wrong_amount', 'wrong_currency', name='payment_issue_reason', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('amount_cents', sa.Integer(), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=True),
    sa.Column('refund_status', sa.Enum('done', 'pending', 'failed', name='payment_issue_refund_status', native_enum=False, create_constraint=True), nullable=True),
    sa.Column('refund_reference', sa.String(length=255), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['reservation_id'], ['reservations.id'], name=op.f('fk_payment_issues_reservation_id_reservations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_issues')),
    sa.UniqueConstraint('payment_reference', name=op.f('uq_payment_issues_payment_reference'))
    )
    with op.batch_alter_table('payment_issues', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payment_issues_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_payment_issues_reservation_id'), ['reservation_id'], unique=False)



def downgrade():
    with op.batch_alter_table('payment_issues', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payment_issues_reservation_id'))
        batch_op.drop_index(batch_op.f('ix_payment_issues_created_at'))

    op.drop_table('payment_issues')
