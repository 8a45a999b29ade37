"""What autogenerate sees and writes, through the API, on every backend."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import sqlalchemy as sa

import migrations

CONVENTION = {"uq": "uq_%(table_name)s_%(column_0_name)s", "pk": "pk_%(table_name)s"}


def _v1() -> sa.MetaData:
    metadata = sa.MetaData(naming_convention=CONVENTION)
    sa.Table(
        "members",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("nick", sa.String(20), nullable=True),
    )
    sa.Table("legacy", metadata, sa.Column("id", sa.Integer, primary_key=True))
    return metadata


def _v2() -> sa.MetaData:
    """Drops a table and a column, adds a unique constraint and a column of a named enum."""
    metadata = sa.MetaData(naming_convention=CONVENTION)
    sa.Table(
        "members",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(80), nullable=False, unique=True),
        sa.Column("mood", sa.Enum("happy", "sad", name="mood"), nullable=True),
    )
    return metadata


async def test_drops_unique_constraints_and_enum_columns(
    migration_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    directory = migrations.init(tmp_path / "db_migrations")
    await migrations.makemigrations(migration_url, _v1(), directory, message="v1")
    await migrations.migrate(migration_url, None, directory)

    with caplog.at_level(logging.WARNING, logger="migrations"):
        path = await migrations.makemigrations(migration_url, _v2(), directory, message="v2")
    assert sorted(r.getMessage() for r in caplog.records if r.levelno == logging.WARNING) == [
        "column members.nick is dropped: its data will be lost",
        "downgrading this revision drops column members.mood: the data in it will be lost",
        "table legacy is dropped: its data will be lost",
    ]
    assert path is not None
    source = path.read_text()
    for expected in (
        "op.drop_table('legacy')",
        "uq_members_name",
        "sa.Enum('happy', 'sad', name='mood').create(op.get_bind(), checkfirst=True)",
        "sa.Enum('happy', 'sad', name='mood').drop(op.get_bind(), checkfirst=True)",
    ):
        assert expected in source, expected

    if migration_url.startswith("postgresql"):  # offline SQL creates the type first
        sql = await migrations.sqlmigrate(migration_url, directory, revision="head")
        assert sql.index("CREATE TYPE mood AS ENUM") < sql.index("ADD COLUMN mood mood")
    await migrations.migrate(migration_url, None, directory)
    await migrations.check(migration_url, _v2(), directory)
    await migrations.downgrade(migration_url, None, directory, revision="-1")
    await migrations.migrate(migration_url, None, directory)  # the enum type is created again
    await migrations.check(migration_url, _v2(), directory)


@pytest.mark.backends("postgresql", "mysql")
async def test_revisions_written_against_sqlite_run_on_the_servers(
    migration_url: str, tmp_path: Path
) -> None:
    """Develop on SQLite, deploy on a server: batch-mode revisions run there as plain ALTERs."""
    directory = migrations.init(tmp_path / "db_migrations")
    scratch = f"sqlite:///{tmp_path / 'dev.db'}"
    await migrations.makemigrations(scratch, _v1(), directory, message="v1")
    await migrations.migrate(scratch, None, directory)
    path = await migrations.makemigrations(scratch, _v2(), directory, message="v2")
    assert path is not None and "batch_alter_table" in path.read_text()
    await migrations.migrate(migration_url, None, directory)
    await migrations.check(migration_url, _v2(), directory)
    await migrations.downgrade(migration_url, None, directory, revision="base")


def _linked(ondelete: str) -> sa.MetaData:
    metadata = sa.MetaData(
        naming_convention={"fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s"}
    )
    sa.Table("parents", metadata, sa.Column("id", sa.Integer, primary_key=True))
    sa.Table(
        "children",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("parent_id", sa.ForeignKey("parents.id", ondelete=ondelete), nullable=True),
    )
    return metadata


async def test_a_changed_on_delete_is_migrated(migration_url: str, tmp_path: Path) -> None:
    directory = migrations.init(tmp_path / "db_migrations")
    await migrations.makemigrations(migration_url, _linked("CASCADE"), directory, message="one")
    await migrations.migrate(migration_url, None, directory)
    with pytest.raises(migrations.SchemaDiffers) as failure:
        await migrations.check(migration_url, _linked("SET NULL"), directory)
    assert "add fk 'fk_children_parent_id_parents on children'" in failure.value.diffs
    path = await migrations.makemigrations(
        migration_url, _linked("SET NULL"), directory, message="set null"
    )
    assert path is not None and "ondelete='SET NULL'" in path.read_text()
    await migrations.migrate(migration_url, None, directory)
    await migrations.check(migration_url, _linked("SET NULL"), directory)
