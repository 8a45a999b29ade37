"""A revision that fails half-way never leaves a half-applied schema unannounced."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import sqlalchemy as sa

import migrations
from asyncdb import Database
from migrations import MigrationError


def _people() -> sa.MetaData:
    metadata = sa.MetaData(naming_convention={"pk": "pk_%(table_name)s"})
    sa.Table(
        "people",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(20), nullable=True),
    )
    return metadata


# A first step that works (a new column), then one that fails on the rows already there (a
# NULL name made NOT NULL), in a batch block as SQLite needs it: a table copy.
FAILING_BODY = """op.add_column('people', sa.Column('nick', sa.String(20), nullable=True))
    with op.batch_alter_table('people') as batch_op:
        batch_op.alter_column('name', existing_type=sa.String(20), nullable=False)"""


async def _revision(url: str, directory: Path, message: str, body: str = "pass") -> None:
    """Write an empty revision whose ``upgrade()`` body is ``body``."""
    path = await migrations.makemigrations(url, None, directory, message=message, empty=True)
    assert path is not None
    upgrade = "def upgrade() -> None:\n    "
    path.write_text(path.read_text().replace(f"{upgrade}pass", f"{upgrade}{body}", 1))


async def _tables(url: str) -> set[str]:
    engine = sa.ext.asyncio.create_async_engine(migrations.config.sqlalchemy_url(url))
    try:
        async with engine.connect() as connection:
            return set(await connection.run_sync(lambda c: sa.inspect(c).get_table_names()))
    finally:
        await engine.dispose()


async def _columns(url: str, table: str) -> list[str]:
    engine = sa.ext.asyncio.create_async_engine(migrations.config.sqlalchemy_url(url))
    try:
        async with engine.connect() as connection:
            columns = await connection.run_sync(lambda c: sa.inspect(c).get_columns(table))
            return [column["name"] for column in columns]
    finally:
        await engine.dispose()


async def test_a_revision_failing_half_way(migration_url: str, tmp_path: Path) -> None:
    directory = migrations.init(tmp_path / "db_migrations")
    await migrations.makemigrations(migration_url, _people(), directory, message="people")
    await migrations.migrate(migration_url, None, directory)
    async with Database(migration_url) as db:
        await db.execute("INSERT INTO people (name) VALUES ('Ann'), (NULL)")
    await _revision(migration_url, directory, "tighten", FAILING_BODY)

    with pytest.raises(MigrationError) as failure:
        await migrations.migrate(migration_url, None, directory)
    message = str(failure.value)
    assert "revision step 'upgrade " in message and ", tighten' failed: " in message
    assert [s.applied for s in await migrations.showmigrations(migration_url, directory)] == [
        True,
        False,
    ]
    assert not any(t.startswith("_alembic_tmp_") for t in await _tables(migration_url))
    if migration_url.startswith("mysql"):
        # DDL commits at once there: the message says exactly what stayed applied.
        assert "1 statement of this revision before the failing one stayed applied: " in message
        assert "ALTER TABLE people ADD COLUMN nick VARCHAR(20)" in message
        assert await _columns(migration_url, "people") == ["id", "name", "nick"]
        return
    # PostgreSQL and SQLite roll the whole revision back: fix the rows and run it again.
    assert "stayed applied" not in message
    assert await _columns(migration_url, "people") == ["id", "name"]
    async with Database(migration_url) as db:
        await db.execute("UPDATE people SET name = 'Bob' WHERE name IS NULL")
    assert [a.message for a in await migrations.migrate(migration_url, None, directory)] == [
        "tighten"
    ]
    assert await _columns(migration_url, "people") == ["id", "name", "nick"]


@pytest.mark.backends("sqlite")
async def test_an_unfinished_batch_copy_is_dropped(
    migration_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A copy left by a batch step of an older run (before revisions were transactions)."""
    directory = migrations.init(tmp_path / "db_migrations")
    await migrations.makemigrations(migration_url, _people(), directory, message="people")
    await migrations.migrate(migration_url, None, directory)
    async with Database(migration_url) as db:
        await db.execute("CREATE TABLE _alembic_tmp_people (id INTEGER, name VARCHAR(20))")
    await _revision(migration_url, directory, "later")
    with caplog.at_level(logging.WARNING, logger="migrations"):
        await migrations.migrate(migration_url, None, directory)
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING] == [
        "dropped _alembic_tmp_people, an unfinished copy of people left by a failed batch step"
    ]
    assert "_alembic_tmp_people" not in await _tables(migration_url)


@pytest.mark.backends("sqlite")
async def test_a_batch_copy_holding_the_only_rows_stops_migrate(
    migration_url: str, tmp_path: Path
) -> None:
    directory = migrations.init(tmp_path / "db_migrations")
    await migrations.makemigrations(migration_url, _people(), directory, message="people")
    await migrations.migrate(migration_url, None, directory)
    async with Database(migration_url) as db:
        await db.execute("ALTER TABLE people RENAME TO _alembic_tmp_people")
    await _revision(migration_url, directory, "later")
    with pytest.raises(MigrationError) as failure:
        await migrations.migrate(migration_url, None, directory)
    assert str(failure.value) == (
        "_alembic_tmp_people holds the rows of table people, which a failed batch step dropped: "
        "rename it back (ALTER TABLE _alembic_tmp_people RENAME TO people), then retry"
    )
    assert "_alembic_tmp_people" in await _tables(migration_url)


async def test_the_revisions_before_a_failing_one_stay_applied(
    migration_url: str, tmp_path: Path
) -> None:
    """Two pending revisions, the second raising in Python after a statement of its own."""
    directory = migrations.init(tmp_path / "db_migrations")
    await migrations.makemigrations(migration_url, _people(), directory, message="people")
    add_a = "op.add_column('people', sa.Column('a', sa.Integer))"
    await _revision(migration_url, directory, "fine", add_a)
    body = "op.add_column('people', sa.Column('b', sa.Integer))\n    raise RuntimeError('boom')"
    await _revision(migration_url, directory, "broken", body)
    with pytest.raises(MigrationError) as failure:
        await migrations.migrate(migration_url, None, directory)
    message = str(failure.value)
    assert ", broken' failed: RuntimeError: boom" in message
    statuses = await migrations.showmigrations(migration_url, directory)
    assert [(s.message, s.applied) for s in statuses] == [
        ("people", True),
        ("fine", True),
        ("broken", False),
    ]
    columns = await _columns(migration_url, "people")
    if migration_url.startswith("mysql"):
        assert "stayed applied: ALTER TABLE people ADD COLUMN b INTEGER" in message
        assert columns == ["id", "name", "a", "b"]
    else:
        assert columns == ["id", "name", "a"]
