"""The programmatic API, awaited inside the test's running event loop."""

from __future__ import annotations

import asyncio
import logging
import warnings
from pathlib import Path
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

import migrations
import orm
from asyncdb import Database
from migrations import MigrationError, SchemaDiffers
from migrations.runner import run_offline


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


def _library(*, isbn: bool = False, title_length: int = 200) -> orm.ModelRegistry:
    models = orm.ModelRegistry()

    class Author(orm.Model):
        registry = models
        tablename = "authors"
        name = orm.String(max_length=100, index=True)

    class Book(orm.Model):
        registry = models
        tablename = "books"
        title = orm.String(max_length=title_length)
        author = orm.ForeignKey(Author, related_name="books", on_delete=orm.CASCADE)
        if isbn:
            code = orm.String(max_length=13, null=True)

    return models


async def test_adopting_a_database_made_by_create_all(
    migration_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """makemigrations writes the initial revision anyway; migrate --fake-initial adopts."""
    async with Database(migration_url) as database:
        models = _library()
        await models.create_all(database)
        await database.execute("INSERT INTO authors (name) VALUES ('Ann')")
    directory = migrations.init(tmp_path / "db_migrations")
    with caplog.at_level(logging.WARNING, logger="migrations"):
        path = await migrations.makemigrations(migration_url, models, directory, message="initial")
    assert path is not None and "op.create_table('books'" in path.read_text()
    assert [r.getMessage() for r in caplog.records] == [
        "the database already has table(s) authors, books, which this initial revision "
        "creates: if they match the models, run `migrate --fake-initial` to record the "
        "revision as applied without running it"
    ]
    revision = path.name.split("-")[1].split("_")[0]

    with pytest.raises(MigrationError) as refused:
        await migrations.migrate(migration_url, models, directory)
    assert str(refused.value) == (
        f"the database already has table(s) authors, books, which the initial revision "
        f"{revision} creates; if they match the models, run `migrate --fake-initial` to record "
        "that revision as applied without running it"
    )
    assert [s.applied for s in await migrations.showmigrations(migration_url, directory)] == [False]

    # A later revision runs as usual after the initial one is faked.
    with_isbn = _library(isbn=True)
    scratch = f"sqlite:///{tmp_path / 'scratch.db'}"
    await migrations.migrate(scratch, models, directory)
    await migrations.makemigrations(scratch, with_isbn, directory, message="isbn")
    applied = await migrations.migrate(migration_url, with_isbn, directory, fake_initial=True)
    assert [step.message for step in applied] == ["isbn"]
    await migrations.check(migration_url, with_isbn, directory)
    async with Database(migration_url) as database:
        assert await database.fetch_val("SELECT name FROM authors") == "Ann"
    # Once a revision is applied, --fake-initial changes nothing.
    assert await migrations.migrate(migration_url, with_isbn, directory, fake_initial=True) == []


async def test_fake_initial_refuses_tables_that_differ(migration_url: str, tmp_path: Path) -> None:
    async with Database(migration_url) as database:
        await _library(title_length=50).create_all(database)
    directory = migrations.init(tmp_path / "db_migrations")
    path = await migrations.makemigrations(migration_url, _library(), directory, message="init")
    assert path is not None
    with pytest.raises(MigrationError) as refused:
        await migrations.migrate(migration_url, None, directory, fake_initial=True)
    revision = path.name.split("-")[1].split("_")[0]
    assert str(refused.value) == (
        f"--fake-initial: the tables of the initial revision {revision} differ from the "
        "database: modify type 'books.title'; nothing was run"
    )
    async with Database(migration_url) as database:
        await database.execute("DROP TABLE books")
    with pytest.raises(MigrationError) as partial:
        await migrations.migrate(migration_url, None, directory, fake_initial=True)
    assert str(partial.value) == (
        f"--fake-initial: the database has table(s) authors of the initial revision {revision} "
        "but not books; nothing was run"
    )
    assert [s.applied for s in await migrations.showmigrations(migration_url, directory)] == [False]


async def test_fake_initial_reads_the_revision_without_running_it(
    migration_url: str, tmp_path: Path
) -> None:
    """The initial revision's own statements (a data fix, raw SQL) never reach the database."""
    async with Database(migration_url) as database:
        await _library().create_all(database)
        await database.execute("INSERT INTO authors (name) VALUES ('Ann')")
    directory = migrations.init(tmp_path / "db_migrations")
    path = await migrations.makemigrations(migration_url, _library(), directory, message="init")
    assert path is not None
    extra = (
        "    op.execute('DELETE FROM authors')\n"
        "    op.get_bind().execute(sa.text('DROP TABLE books'))\n"
        "    # ### end Alembic commands ###"
    )
    upgrade, downgrade = path.read_text().split("def downgrade", 1)
    upgrade = upgrade.replace("    # ### end Alembic commands ###", extra, 1)
    path.write_text(upgrade + "def downgrade" + downgrade)
    await migrations.migrate(migration_url, None, directory, fake_initial=True)
    async with Database(migration_url) as database:
        assert await database.fetch_val("SELECT count(*) FROM authors") == 1
        assert await database.fetch_val("SELECT count(*) FROM books") == 0


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


async def test_warnings_become_log_lines_and_deprecations_stay_warnings(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def noisy() -> None:
        warnings.warn("something odd\n  across lines", UserWarning, stacklevel=1)
        warnings.warn("something odd\n  across lines", UserWarning, stacklevel=1)
        warnings.warn("old API", DeprecationWarning, stacklevel=1)

    with caplog.at_level(logging.WARNING, logger="migrations"), pytest.warns(DeprecationWarning):
        await run_offline(noisy)
    assert [r.getMessage() for r in caplog.records] == ["something odd across lines"]
