"""cron_runs: since when each command is expected, so that a new installation is not "late" (and
/readyz not 503) before a command's first period has passed

Revision ID: f1a7c3e9b254
Revises: d4b8e2f7a913
Create Date: 2026-12-03 19:40:00

A command that had never run was late at once: a load balancer reading /readyz sent no traffic to
a new installation until the daily backup had run. Now a row is made when the shop first expects a
command (its first run or the first check of the runs), and a command that never succeeded is late
only once its period has passed since then, or as soon as it fails. Existing rows keep NULL: they
were made by a run, so they are judged by that run as before.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'f1a7c3e9b254'
down_revision = 'd4b8e2f7a913'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('cron_runs') as batch_op:
        batch_op.add_column(sa.Column('expected_since', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('cron_runs') as batch_op:
        batch_op.drop_column('expected_since')
