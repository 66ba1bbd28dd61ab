"""The Alembic migrations and the models describe the same schema, on SQLite and PostgreSQL."""

import os
import uuid

import flask_migrate
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from shop import create_app
from shop.extensions import db
from shop.models.types import render_item


def _diff(engine) -> list:
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "render_item": render_item}
        )
        return compare_metadata(context, db.metadata)


@pytest.fixture
def empty_database_url(tmp_path):
    """An empty database: a new SQLite file, or a new schema in the PostgreSQL test database."""
    base = os.environ.get("TEST_DATABASE_URL")
    if not base:
        yield f"sqlite:///{tmp_path / 'migrations.sqlite3'}"
        return
    base = base.replace("postgresql://", "postgresql+psycopg://", 1) if base.startswith("postgresql://") else base
    schema = f"mig_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(base)
    with admin.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    separator = "&" if "?" in base else "?"
    yield f"{base}{separator}options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


def test_migrations_build_exactly_the_models_schema_and_go_back_down(empty_database_url):
    app = create_app({"SQLALCHEMY_DATABASE_URI": empty_database_url, "TESTING": True})
    with app.app_context():
        flask_migrate.upgrade()
        assert _diff(db.engine) == []
        flask_migrate.downgrade(revision="base")
        tables = set(sa.inspect(db.engine).get_table_names()) - {"alembic_version"}
        assert tables == set()
        flask_migrate.upgrade()
        assert _diff(db.engine) == []
        db.engine.dispose()


def test_a_new_installation_expects_every_scheduled_command_from_its_migration(empty_database_url):
    """/readyz is 200 on a shop just migrated: no command is due yet, and looking writes nothing."""
    from datetime import timedelta

    from shop.models.ops import CronRun
    from shop.models.types import utcnow
    from shop.services import cronruns

    app = create_app({"SQLALCHEMY_DATABASE_URI": empty_database_url, "TESTING": True})
    with app.app_context():
        flask_migrate.upgrade()
        expected = {row.command: row.expected_since for row in db.session.scalars(sa.select(CronRun))}
        assert set(expected) == set(cronruns.SCHEDULE)  # a new command comes with a migration making its row
        assert all(utcnow() - timedelta(minutes=5) < since <= utcnow() for since in expected.values())
        db.session.rollback()
        response = app.test_client().get("/readyz")
        assert response.status_code == 200, response.json
        later = utcnow() + timedelta(hours=27)  # every command's first period has passed
        assert not any(run["on_time"] for run in cronruns.status(later))
        db.session.rollback()
        db.engine.dispose()
