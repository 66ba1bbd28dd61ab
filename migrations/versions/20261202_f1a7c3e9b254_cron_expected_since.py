"""cron_runs: since when each command is expected, so that a new installation is not "late" (and
/readyz not 503) before a command's first period has passed

Revision ID: f1a7c3e9b254
Revises: d4b8e2f7a913
Create Date: 2026-12-02 19:40:00

A command that had never run was late at once: a load balancer reading /readyz sent no traffic to
a new installation until the daily backup had run. Now this migration makes a row for every
scheduled command, expected from the moment the shop is migrated, and a command that never
succeeded is late only once its period has passed since then, or as soon as it fails. The checks
themselves only read: making the rows at the first look, from a GET on a connection of its own,
hung *Admin → System* on SQLite for the whole busy timeout (the browser tests caught it).
"""
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa

# The scheduled commands when this migration was written (shop.services.cronruns.SCHEDULE): a
# command added later comes with a migration of its own that makes its row.
COMMANDS = ("expire-holds", "deliver", "purge", "backup")


# revision identifiers, used by Alembic.
revision = 'f1a7c3e9b254'
down_revision = 'd4b8e2f7a913'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('cron_runs') as batch_op:
        batch_op.add_column(sa.Column('expected_since', sa.DateTime(timezone=True), nullable=True))
    runs = sa.table('cron_runs', sa.column('command', sa.String), sa.column('expected_since', sa.DateTime(timezone=True)))
    now = datetime.now(timezone.utc)
    bind = op.get_bind()
    bind.execute(runs.update().where(runs.c.expected_since.is_(None)).values(expected_since=now))
    present = set(bind.execute(sa.select(runs.c.command)).scalars())
    missing = [{'command': command, 'expected_since': now} for command in COMMANDS if command not in present]
    if missing:
        op.bulk_insert(runs, missing)


def downgrade():
    with op.batch_alter_table('cron_runs') as batch_op:
        batch_op.drop_column('expected_since')
