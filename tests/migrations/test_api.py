"""The programmatic API, awaited inside the test's running event loop."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

import migrations
from asyncdb import Database
from migrations import MigrationError, SchemaDiffers


def _models(*, with_email: bool = False) -> SimpleNamespace:
    """A stand-in for an ``orm.ModelRegistry``: only its ``metadata`` matters here."""
    metadata = sa.MetaData(naming_convention={"pk": "pk_%(table_name)s"})
    columns = [sa.Column("id", sa.Integer, primary_key=True), sa.Column("name", sa.String(80))]
    if with_email:
        columns.append(sa.Column("email", sa.String(120), nullable=True))
    sa.Table("members", metadata, *columns)
    return SimpleNamespace(metadata=metadata)


async def test_the_whole_api_inside_a_running_loop(migration_url: str, tmp_path: Path) -> None:
    asyncio.get_running_loop()  # we are inside one, as an app's startup code would be
    directory = migrations.init(tmp_path / "db_migrations")
    models = _models()
    first = await migrations.makemigrations(migration_url, models, directory, message="members")
    assert first is not None and first.parent == directory / "versions"

    database = Database(migration_url)
    await database.connect()
    try:
        applied = await migrations.migrate(database, models, directory)
        assert [(a.message, a.upgrade) for a in applied] == [("members", True)]
        await database.execute("INSERT INTO members (name) VALUES ('Ann')")
        assert await migrations.migrate(database, models, directory) == []
        assert await migrations.makemigrations(database, models, directory, message="x") is None
        await migrations.check(database.url, models, directory)

        changed = _models(with_email=True)
        with pytest.raises(SchemaDiffers) as failure:
            await migrations.check(migration_url, changed, directory)
        assert failure.value.diffs == ["add column 'members.email'"]
        second = await migrations.makemigrations(migration_url, changed, directory, message="email")
        assert second is not None
        statuses = await migrations.showmigrations(migration_url, directory)
        assert [(s.message, s.applied, s.head) for s in statuses] == [
            ("members", True, False),
            ("email", False, True),
        ]
        sql = await migrations.sqlmigrate(migration_url, directory, revision="head")
        assert "ADD COLUMN email" in sql or "ADD email" in sql  # batch on SQLite
        await migrations.migrate(migration_url, changed, directory)
        assert await database.fetch_val("SELECT name FROM members") == "Ann"

        reverted = await migrations.downgrade(migration_url, None, directory, revision="base")
        assert [r.message for r in reverted] == ["email", "members"]
        assert all(not r.upgrade for r in reverted)
    finally:
        await database.disconnect()


async def test_an_empty_revision_for_a_data_migration(migration_url: str, tmp_path: Path) -> None:
    directory = migrations.init(tmp_path / "db_migrations")
    models = _models()
    await migrations.makemigrations(migration_url, models, directory, message="members")
    path = await migrations.makemigrations(
        migration_url, None, directory, message="fill names", empty=True
    )
    assert path is not None
    source = path.read_text()
    assert "def upgrade() -> None:\n    pass" in source
    seed = "op.execute(\"INSERT INTO members (name) VALUES ('seed')\")"
    path.write_text(
        source.replace("def upgrade() -> None:\n    pass", f"def upgrade() -> None:\n    {seed}")
    )
    await migrations.migrate(migration_url, models, directory)
    database = Database(migration_url)
    async with database:
        assert await database.fetch_val("SELECT name FROM members") == "seed"


@pytest.mark.backends("sqlite")
async def test_models_of_the_wrong_kind_are_refused(migration_url: str, tmp_path: Path) -> None:
    directory = migrations.init(tmp_path / "db_migrations")
    with pytest.raises(MigrationError, match="neither an orm.ModelRegistry nor a sqlalchemy"):
        await migrations.makemigrations(migration_url, object(), directory, message="x")
    with pytest.raises(MigrationError, match="cannot migrate an in-memory SQLite database"):
        await migrations.migrate("sqlite:///:memory:", None, directory)


@pytest.mark.backends("sqlite")
async def test_a_connected_in_memory_database(tmp_path: Path) -> None:
    """asyncdb shares one in-memory database per Database: migrations reach it too."""
    directory = migrations.init(tmp_path / "db_migrations")
    async with Database("sqlite:///:memory:") as database:
        await migrations.makemigrations(database, _models(), directory, message="members")
        await migrations.migrate(database, _models(), directory)
        await database.execute("INSERT INTO members (name) VALUES ('Ann')")
        assert await database.fetch_val("SELECT count(*) FROM members") == 1


@pytest.mark.backends("postgresql", "mysql")
async def test_concurrent_migrate_runs_take_turns(migration_url: str, tmp_path: Path) -> None:
    """Replicas of an app that all migrate at startup: one applies, the others wait and see."""
    directory = migrations.init(tmp_path / "db_migrations")
    models = _models()
    await migrations.makemigrations(migration_url, models, directory, message="members")
    results = await asyncio.gather(
        *(migrations.migrate(migration_url, models, directory) for _ in range(3))
    )
    assert sorted(len(applied) for applied in results) == [0, 0, 1]
    await migrations.check(migration_url, models, directory)


@pytest.mark.backends("sqlite")
async def test_commands_on_different_databases_run_concurrently(tmp_path: Path) -> None:
    """Alembic's context is process-global: concurrent commands must not trample each other."""

    async def lifecycle(name: str) -> None:
        url = f"sqlite:///{tmp_path / name}.db"
        directory = migrations.init(tmp_path / name)
        await migrations.makemigrations(url, _models(), directory, message=name)
        await migrations.migrate(url, None, directory)
        await migrations.check(url, _models(), directory)

    await asyncio.gather(*(lifecycle(f"db{i}") for i in range(4)))


async def test_adopting_a_database_made_by_create_all(migration_url: str, tmp_path: Path) -> None:
    """Write the first revision against an empty scratch database, then fake it."""
    models = _models()
    async with Database(migration_url) as database:  # what create_all() leaves behind
        for table in models.metadata.sorted_tables:
            await database.execute(sa.schema.CreateTable(table))
    directory = migrations.init(tmp_path / "db_migrations")
    scratch = f"sqlite:///{tmp_path / 'scratch.db'}"
    assert await migrations.makemigrations(scratch, models, directory, message="initial")
    with pytest.raises(MigrationError, match="not at the latest revision"):
        await migrations.check(migration_url, models, directory)
    assert await migrations.migrate(migration_url, models, directory, fake=True) == []
    statuses = await migrations.showmigrations(migration_url, directory)
    assert [s.applied for s in statuses] == [True]
    await migrations.check(migration_url, models, directory)


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.NOTSET)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.mark.backends("sqlite")
async def test_alembic_chatter_stays_out_of_the_application_log(
    migration_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An application logging at WARNING (root level, handler at NOTSET) sees no INFO lines."""
    directory = migrations.init(tmp_path / "db_migrations")
    await migrations.makemigrations(migration_url, _models(), directory, message="members")
    root = logging.getLogger()
    collect = _Collect()
    monkeypatch.setattr(root, "level", logging.WARNING)
    root.addHandler(collect)
    try:
        await migrations.migrate(migration_url, None, directory)
    finally:
        root.removeHandler(collect)
    assert [r.getMessage() for r in collect.records if r.levelno < logging.WARNING] == []
    assert logging.getLogger("alembic.runtime.migration").propagate
