"""offers: an index in catalog order (price, then offer key), so a page of the whole catalog is
read in order and stops after the page instead of sorting every offer

Revision ID: a8d3f6c1e720
Revises: e3b9c7a5d210
Create Date: 2026-12-02 14:20:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'a8d3f6c1e720'
down_revision = 'e3b9c7a5d210'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_offers_price', 'offers', ['price_cents', 'offer_key'])


def downgrade():
    op.drop_index('ix_offers_price', table_name='offers')
