"""enrolment window for two-step sign-in

Revision ID: 5c1e0a7b2f43
Revises: 3be2802b6dba
Create Date: 2026-11-27 20:40:00

"""
from datetime import datetime, timedelta, timezone

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5c1e0a7b2f43'
down_revision = '3be2802b6dba'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('enrol_until', sa.DateTime(timezone=True), nullable=True))
    # Accounts that have not set up their second factor yet keep the way they were told about
    # (at their next sign-in) for three more days; after that, through a link sent to them.
    users = sa.table('users', sa.column('enrol_until', sa.DateTime(timezone=True)),
                     sa.column('totp_enabled_at', sa.DateTime(timezone=True)))
    until = datetime.now(timezone.utc) + timedelta(days=3)
    if op.get_bind().dialect.name == "sqlite":  # stored as naive UTC there (shop.models.types)
        until = until.replace(tzinfo=None)
    op.execute(users.update().where(users.c.totp_enabled_at.is_(None)).values(enrol_until=until))


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('enrol_until')
