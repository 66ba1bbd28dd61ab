"""cron runs: the last start, success and failure of each scheduled command

Revision ID: c7e2a9d41f05
Revises: c4e8a1d2f519
Create Date: 2026-12-02 00:45:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c7e2a9d41f05'
down_revision = 'c4e8a1d2f519'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'cron_runs',
        sa.Column('command', sa.String(length=40), nullable=False),
        sa.Column('last_started_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_success_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_failure_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_error', sa.String(length=300), nullable=True),
        sa.Column('last_seconds', sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint('command', name=op.f('pk_cron_runs')),
    )


def downgrade():
    op.drop_table('cron_runs')
