"""pickup points and their hours bump the catalog's "*" version by trigger

Revision ID: b2d9e4a7c613
Revises: f1a7c3e9b254
Create Date: 2026-12-03 18:00:00

Every public page shows the pickup points (the catalog's filter, the home page, the offer pages
with their hours). Until now the services that change a point marked it themselves
(`stock_version.stock_changed()`); now the database does, in the transaction of the change, as it
already does for the units: a worker may keep the points it read for as long as the version says
nothing changed, whatever wrote the change.
"""
from alembic import op

SHARDS = 8  # shop.models.stock.VERSION_SHARDS

TABLES = ("pickup_points", "opening_hours")

PG_FUNCTION = f"""
CREATE FUNCTION shop_everything_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO catalog_versions (scope, shard, version) VALUES ('*', 1 + floor(random() * {SHARDS})::int, 1)
        ON CONFLICT (scope, shard) DO UPDATE SET version = catalog_versions.version + 1;
    RETURN NULL;
END $$
"""

SQLITE_BUMP = (f"INSERT INTO catalog_versions (scope, shard, version) VALUES ('*', abs(random() % {SHARDS}) + 1, 1) "
               f"ON CONFLICT (scope, shard) DO UPDATE SET version = version + 1;")

# revision identifiers, used by Alembic.
revision = 'b2d9e4a7c613'
down_revision = 'f1a7c3e9b254'
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name == "sqlite":
        for table in TABLES:
            for event in ("INSERT", "UPDATE", "DELETE"):
                op.execute(f"CREATE TRIGGER catalog_{table}_{event.lower()} AFTER {event} ON {table} "
                           f"BEGIN {SQLITE_BUMP} END")
        return
    op.execute(PG_FUNCTION)
    for table in TABLES:
        # Once per statement, not per row: a point saved with its seven days of hours bumps twice.
        op.execute(f"CREATE TRIGGER catalog_{table}_changed AFTER INSERT OR UPDATE OR DELETE ON {table} "
                   f"FOR EACH STATEMENT EXECUTE FUNCTION shop_everything_changed()")


def downgrade():
    if op.get_bind().dialect.name == "sqlite":
        for table in TABLES:
            for event in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS catalog_{table}_{event}")
        return
    for table in TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS catalog_{table}_changed ON {table}")
    op.execute("DROP FUNCTION IF EXISTS shop_everything_changed()")
