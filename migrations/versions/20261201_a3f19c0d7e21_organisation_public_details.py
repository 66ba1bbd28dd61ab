"""a partner structure's address, opening hours and whom it helps (for "Where to get a code")

Revision ID: a3f19c0d7e21
Revises: a7c3e91d4b20
Create Date: 2026-12-01 21:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a3f19c0d7e21'
down_revision = 'a7c3e91d4b20'
branch_labels = None
depends_on = None

AUDIENCES = ('residents', 'young_people', 'job_seekers', 'refugees', 'anyone')
# Whom each kind of structure usually helps (shop.models.partners.OrganisationAudience.usual_for).
USUAL = {'ccas': 'residents', 'mission_locale': 'young_people', 'job_centre': 'job_seekers',
         'refugee_support': 'refugees'}


def upgrade():
    with op.batch_alter_table('organisations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('address', sa.String(length=160), nullable=True))
        batch_op.add_column(sa.Column('postcode', sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column('opening_hours', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column(
            'audience', sa.Enum(*AUDIENCES, name='organisation_audience', native_enum=False, create_constraint=True),
            nullable=False, server_default='anyone'))
    organisations = sa.table('organisations', sa.column('kind', sa.String), sa.column('audience', sa.String))
    for kind, audience in USUAL.items():
        op.execute(organisations.update().where(organisations.c.kind == kind).values(audience=audience))
    with op.batch_alter_table('organisations', schema=None) as batch_op:
        batch_op.alter_column('audience', server_default=None)


def downgrade():
    with op.batch_alter_table('organisations', schema=None) as batch_op:
        # SQLite's copy of the table would otherwise keep the CHECK on the dropped column.
        batch_op.drop_constraint(batch_op.f('ck_organisations_organisation_audience'), type_='check')
        batch_op.drop_column('audience')
        batch_op.drop_column('opening_hours')
        batch_op.drop_column('postcode')
        batch_op.drop_column('address')
