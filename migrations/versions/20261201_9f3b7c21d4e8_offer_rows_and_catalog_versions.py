"""offer rows maintained by triggers, catalog versions per category and pickup point

Revision ID: 9f3b7c21d4e8
Revises: a3f19c0d7e21
Create Date: 2026-12-01 21:30:00

The catalog reads `offers` (one row per offer key, with its counts) instead of grouping the units.
Database triggers on `devices` keep the rows exact in the transaction of every change, whoever
makes it (a service, an import, a waitlist turn, a hand-written UPDATE), and bump the version of
the (category, pickup point) the change touches, so cached pages elsewhere stay valid.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '9f3b7c21d4e8'
down_revision = 'a3f19c0d7e21'
branch_labels = None
depends_on = None

SHARDS = 8  # version rows per scope: concurrent changes of one scope do not queue on one row

DESCRIPTION = ("category", "brand", "model", "cpu", "ram_gb", "storage_gb", "screen_tenths", "os",
               "keyboard_layout", "grade", "price_cents", "pickup_point_id")

# The counts of one offer, recounted from its units on sale or held (an index on (offer_key,
# status) reads only those): {k} is the key. Written once for both databases.
RECOUNT_ALL = """
UPDATE offers SET (listed, listed_battery_min, listed_battery_max, held, first_hold_end) = (
    SELECT coalesce(sum(CASE WHEN status = 'listed' THEN 1 ELSE 0 END), 0),
           min(CASE WHEN status = 'listed' THEN battery_health END),
           max(CASE WHEN status = 'listed' THEN battery_health END),
           coalesce(sum(CASE WHEN status = 'reserved' THEN 1 ELSE 0 END), 0),
           min(CASE WHEN status = 'reserved' THEN held_until END)
    FROM devices WHERE devices.offer_key = {k} AND status IN ('listed', 'reserved'))"""
RECOUNT = RECOUNT_ALL + " WHERE offers.offer_key = {k}"

# Only the columns that change an offer's counts or key make an update count (not updated_at).
WATCHED = "status, held_until, battery_health, offer_key, category, pickup_point_id"

CHANGED = f"""SELECT o.offer_key AS old_key, n.offer_key AS new_key,
       o.category || ':' || o.pickup_point_id AS old_scope, n.category || ':' || n.pickup_point_id AS new_scope,
       o.status IN ('listed', 'reserved') AS old_shown, n.status IN ('listed', 'reserved') AS new_shown
FROM old_rows o JOIN new_rows n ON n.id = o.id
WHERE ({", ".join("o." + c for c in WATCHED.split(", "))}) IS DISTINCT FROM ({", ".join("n." + c for c in WATCHED.split(", "))})"""

# --- PostgreSQL: statement-level triggers with transition tables, each key once per statement ---

PG_FUNCTIONS = [
    f"""
CREATE FUNCTION shop_refresh_offer(k varchar) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    -- Lock the offer row first (creating it if needed): concurrent changes of one offer take
    -- turns, and the recount below (a statement with a fresh snapshot, READ COMMITTED) sees
    -- every change committed before ours.
    LOOP
        PERFORM 1 FROM offers WHERE offer_key = k FOR UPDATE;
        EXIT WHEN FOUND;
        INSERT INTO offers (offer_key, {", ".join(DESCRIPTION)}, listed, held)
            SELECT offer_key, {", ".join(DESCRIPTION)}, 0, 0 FROM devices WHERE offer_key = k LIMIT 1
            ON CONFLICT (offer_key) DO NOTHING;
        IF NOT FOUND AND NOT EXISTS (SELECT 1 FROM devices WHERE offer_key = k) THEN
            RETURN;
        END IF;
    END LOOP;
    IF NOT EXISTS (SELECT 1 FROM devices WHERE offer_key = k) THEN
        DELETE FROM offers WHERE offer_key = k;
        RETURN;
    END IF;
    {RECOUNT.format(k="k")};
END $$
""",
    f"""
CREATE FUNCTION shop_offers_touched(keys varchar[], scopes varchar[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    k varchar;
BEGIN
    -- In a fixed order, so that two statements touching the same offers cannot deadlock.
    FOR k IN SELECT DISTINCT u FROM unnest(keys) AS u ORDER BY u LOOP
        PERFORM shop_refresh_offer(k);
    END LOOP;
    INSERT INTO catalog_versions (scope, shard, version)
        SELECT DISTINCT s, 1 + floor(random() * {SHARDS})::int, 1 FROM unnest(scopes) AS s ORDER BY s
        ON CONFLICT (scope, shard) DO UPDATE SET version = catalog_versions.version + 1;
END $$
""",
    """
CREATE FUNCTION shop_devices_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM shop_offers_touched(
        ARRAY(SELECT offer_key FROM new_rows),
        ARRAY(SELECT category || ':' || pickup_point_id FROM new_rows WHERE status IN ('listed', 'reserved')));
    RETURN NULL;
END $$
""",
    f"""
CREATE FUNCTION shop_devices_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Only rows whose watched columns changed count (PostgreSQL takes no column list here).
    PERFORM shop_offers_touched(
        ARRAY(SELECT k FROM ({CHANGED}) c, LATERAL (VALUES (c.old_key), (c.new_key)) AS v(k)),
        ARRAY(SELECT s FROM ({CHANGED}) c, LATERAL (VALUES (CASE WHEN c.old_shown THEN c.old_scope END),
                                                         (CASE WHEN c.new_shown THEN c.new_scope END)) AS v(s)
              WHERE s IS NOT NULL));
    RETURN NULL;
END $$
""",
    """
CREATE FUNCTION shop_devices_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM shop_offers_touched(
        ARRAY(SELECT offer_key FROM old_rows),
        ARRAY(SELECT category || ':' || pickup_point_id FROM old_rows WHERE status IN ('listed', 'reserved')));
    RETURN NULL;
END $$
""",
]

PG_TRIGGERS = [
    "CREATE TRIGGER offers_devices_inserted AFTER INSERT ON devices REFERENCING NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION shop_devices_inserted()",
    "CREATE TRIGGER offers_devices_updated AFTER UPDATE ON devices "
    "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION shop_devices_updated()",
    "CREATE TRIGGER offers_devices_deleted AFTER DELETE ON devices REFERENCING OLD TABLE AS old_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION shop_devices_deleted()",
]

PG_DROP = [
    "DROP TRIGGER IF EXISTS offers_devices_inserted ON devices",
    "DROP TRIGGER IF EXISTS offers_devices_updated ON devices",
    "DROP TRIGGER IF EXISTS offers_devices_deleted ON devices",
    "DROP FUNCTION IF EXISTS shop_devices_inserted()",
    "DROP FUNCTION IF EXISTS shop_devices_updated()",
    "DROP FUNCTION IF EXISTS shop_devices_deleted()",
    "DROP FUNCTION IF EXISTS shop_offers_touched(varchar[], varchar[])",
    "DROP FUNCTION IF EXISTS shop_refresh_offer(varchar)",
]

# --- SQLite: row-level triggers (SQLite has one writer at a time, so no locking is needed) ---


def _sqlite_ensure(row: str) -> str:
    columns = ", ".join(DESCRIPTION)
    values = ", ".join(f"{row}.{c}" for c in DESCRIPTION)
    return (f"INSERT INTO offers (offer_key, {columns}, listed, held) SELECT {row}.offer_key, {values}, 0, 0 "
            f"WHERE NOT EXISTS (SELECT 1 FROM offers WHERE offer_key = {row}.offer_key);")


def _sqlite_bump(row: str) -> str:
    return (f"INSERT INTO catalog_versions (scope, shard, version) "
            f"SELECT {row}.category || ':' || {row}.pickup_point_id, abs(random() % {SHARDS}) + 1, 1 "
            f"WHERE {row}.status IN ('listed', 'reserved') "
            f"ON CONFLICT (scope, shard) DO UPDATE SET version = version + 1;")


def _sqlite_forget_if_orphan(row: str) -> str:
    return (f"DELETE FROM offers WHERE offer_key = {row}.offer_key "
            f"AND NOT EXISTS (SELECT 1 FROM devices WHERE offer_key = {row}.offer_key);")


SQLITE_TRIGGERS = [
    f"""CREATE TRIGGER offers_devices_inserted AFTER INSERT ON devices BEGIN
    {_sqlite_ensure("NEW")}
    {RECOUNT.format(k="NEW.offer_key")};
    {_sqlite_bump("NEW")}
END""",
    f"""CREATE TRIGGER offers_devices_updated AFTER UPDATE OF {WATCHED} ON devices BEGIN
    {_sqlite_ensure("NEW")}
    {RECOUNT.format(k="NEW.offer_key")};
    {RECOUNT.format(k="OLD.offer_key")} AND OLD.offer_key <> NEW.offer_key;
    {_sqlite_forget_if_orphan("OLD")}
    {_sqlite_bump("OLD")}
    {_sqlite_bump("NEW")}
END""",
    f"""CREATE TRIGGER offers_devices_deleted AFTER DELETE ON devices BEGIN
    {RECOUNT.format(k="OLD.offer_key")};
    {_sqlite_forget_if_orphan("OLD")}
    {_sqlite_bump("OLD")}
END""",
]

SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS offers_devices_inserted",
    "DROP TRIGGER IF EXISTS offers_devices_updated",
    "DROP TRIGGER IF EXISTS offers_devices_deleted",
]


def _enum(name, *values):
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True)


CATEGORIES = ('laptop', 'desktop', 'smartphone', 'tablet', 'screen', 'printer', 'multifunction_printer', 'accessory')
LAYOUTS = ('azerty', 'qwerty', 'qwertz', 'arabic', 'ukrainian')


def upgrade():
    op.create_table('offers',
    sa.Column('offer_key', sa.String(length=16), nullable=False),
    sa.Column('category', _enum('offer_category', *CATEGORIES), nullable=False),
    sa.Column('brand', sa.String(length=60), nullable=False),
    sa.Column('model', sa.String(length=120), nullable=False),
    sa.Column('cpu', sa.String(length=120), nullable=True),
    sa.Column('ram_gb', sa.Integer(), nullable=True),
    sa.Column('storage_gb', sa.Integer(), nullable=True),
    sa.Column('screen_tenths', sa.Integer(), nullable=True),
    sa.Column('os', sa.String(length=60), nullable=True),
    sa.Column('keyboard_layout', _enum('offer_keyboard_layout', *LAYOUTS), nullable=True),
    sa.Column('grade', _enum('offer_grade', 'A', 'B', 'C'), nullable=False),
    sa.Column('price_cents', sa.Integer(), nullable=False),
    sa.Column('pickup_point_id', sa.Integer(), nullable=False),
    sa.Column('listed', sa.Integer(), nullable=False),
    sa.Column('listed_battery_min', sa.Integer(), nullable=True),
    sa.Column('listed_battery_max', sa.Integer(), nullable=True),
    sa.Column('held', sa.Integer(), nullable=False),
    sa.Column('first_hold_end', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint('listed >= 0', name=op.f('ck_offers_listed_not_negative')),
    sa.CheckConstraint('held >= 0', name=op.f('ck_offers_held_not_negative')),
    sa.ForeignKeyConstraint(['pickup_point_id'], ['pickup_points.id'], name=op.f('fk_offers_pickup_point_id_pickup_points')),
    sa.PrimaryKeyConstraint('offer_key', name=op.f('pk_offers'))
    )
    with op.batch_alter_table('offers', schema=None) as batch_op:
        batch_op.create_index('ix_offers_category_price', ['category', 'price_cents'], unique=False)
        batch_op.create_index(batch_op.f('ix_offers_pickup_point_id'), ['pickup_point_id'], unique=False)
    op.create_table('catalog_versions',
    sa.Column('scope', sa.String(length=40), nullable=False),
    sa.Column('shard', sa.SmallInteger(), nullable=False),
    sa.Column('version', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('scope', 'shard', name=op.f('pk_catalog_versions'))
    )
    op.drop_table('stock_version')
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.create_index('ix_devices_offer_key_status', ['offer_key', 'status'], unique=False)

    sqlite = op.get_bind().dialect.name == "sqlite"
    for statement in (SQLITE_TRIGGERS if sqlite else PG_FUNCTIONS + PG_TRIGGERS):
        op.execute(statement)
    # The rows of the stock already there: one per key, then its counts.
    columns = ", ".join(DESCRIPTION)
    op.execute(f"INSERT INTO offers (offer_key, {columns}, listed, held) "
               f"SELECT offer_key, {columns}, 0, 0 FROM devices WHERE id IN "
               f"(SELECT min(id) FROM devices GROUP BY offer_key)")
    op.execute(RECOUNT_ALL.format(k="offers.offer_key"))


def downgrade():
    sqlite = op.get_bind().dialect.name == "sqlite"
    for statement in (SQLITE_DROP if sqlite else PG_DROP):
        op.execute(statement)
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.drop_index('ix_devices_offer_key_status')
    stock_version = op.create_table('stock_version',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('version', sa.BigInteger(), nullable=False),
    sa.CheckConstraint('id BETWEEN 1 AND 16', name=op.f('ck_stock_version_shard_range')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stock_version'))
    )
    op.bulk_insert(stock_version, [{"id": shard, "version": 0} for shard in range(1, 17)])
    op.drop_table('catalog_versions')
    with op.batch_alter_table('offers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_offers_pickup_point_id'))
        batch_op.drop_index('ix_offers_category_price')
    op.drop_table('offers')
