"""The session's schema: created once before the first test, outside any test's transaction.

DDL must not run inside the rolled-back test transaction: MySQL commits implicitly before every
DDL statement, which would end that transaction. So the schema is built on a connection of its
own, committed, before any test starts. It comes from running the migrations folder (when one is
configured) or from the registry's ``create_all()``.

Tables that did not exist when the session started are dropped when it ends; tables that already
existed are used as they are and left alone, so pointing the tests at a database that holds data
(``$DATABASE_URL`` is the last fallback) never loses it.

An in-memory SQLite database lives as long as its ``Database`` object, so there is nothing to
build at session level: each test's database creates the registry's tables itself, inside its
transaction (SQLite DDL is transactional).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

import orm
from asyncdb import Database, DatabaseError

__all__ = ["SchemaError", "create_schema", "drop_tables", "run_in_thread"]

T = TypeVar("T")


class SchemaError(Exception):
    """The schema could not be built; the message says why."""


def run_in_thread(work: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run ``work()`` to completion in a fresh event loop on a worker thread.

    A worker thread is immune to whatever loop the calling thread has (pytest-asyncio keeps one
    per scope, and may be running one): ``asyncio.run`` there neither fails nor replaces it.
    """
    with ThreadPoolExecutor(1, thread_name_prefix="asyncdb-schema") as pool:
        return pool.submit(lambda: asyncio.run(work())).result()


async def _table_names(database: Database) -> set[str]:
    engine = create_async_engine(database.sqlalchemy_url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            names = await connection.run_sync(lambda c: sa.inspect(c).get_table_names())
    finally:
        await engine.dispose()
    return set(names)


async def create_schema(
    url: str, registry: orm.ModelRegistry | None, migrations_dir: Path | None
) -> list[str]:
    """Build the schema; return the names of the tables that did not exist before.

    With ``migrations_dir`` (an existing folder), migrate to the latest revision; else create
    the registry's tables.
    """
    database = Database(url, min_size=1, max_size=1)
    if database.url.is_memory:
        if migrations_dir is not None:
            raise SchemaError(
                "asyncdb: migrations run on a connection of their own, which cannot see an "
                "in-memory SQLite database; use a file URL (sqlite:///test.db) with "
                "asyncdb_migrations_dir"
            )
        return []
    if registry is None and migrations_dir is None:
        return []
    where = database.url.render()
    try:
        before = await _table_names(database)
        if migrations_dir is not None:
            await _migrate(database, registry, migrations_dir)
        else:
            assert registry is not None
            async with database:
                await registry.create_all(database)
        after = await _table_names(database)
    except (DatabaseError, sa.exc.SQLAlchemyError, OSError) as exc:
        raise SchemaError(
            f"asyncdb: cannot create the test schema on {where}: {type(exc).__name__}: {exc}"
        ) from exc
    return sorted(after - before)


async def _migrate(database: Database, registry: orm.ModelRegistry | None, directory: Path) -> None:
    # Imported here: Alembic is only needed by projects that test against their migrations.
    import migrations

    try:
        await migrations.migrate(database, registry, directory)
    except migrations.MigrationError as exc:
        raise SchemaError(
            f"asyncdb: migrating {database.url.render()} with {directory} failed: {exc}"
        ) from exc


async def drop_tables(url: str, names: list[str]) -> None:
    """Drop the tables ``names`` (those that still exist), dependents first."""
    engine = create_async_engine(Database(url).sqlalchemy_url, poolclass=NullPool)
    wanted = set(names)

    def drop(connection: sa.Connection) -> None:
        metadata = sa.MetaData()
        metadata.reflect(connection, only=lambda name, _: name in wanted)
        # Reflection also brings in the tables these refer to; those are not ours to drop.
        ours = [table for table in metadata.sorted_tables if table.name in wanted]
        metadata.drop_all(connection, tables=ours)

    try:
        async with engine.begin() as connection:
            await connection.run_sync(drop)
    finally:
        await engine.dispose()
