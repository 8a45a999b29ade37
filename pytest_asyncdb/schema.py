"""The session's schema: created once before the first test, outside any test's transaction.

DDL must not run inside the rolled-back test transaction: MySQL commits implicitly before every
DDL statement, which would end that transaction. So the schema is built on a connection of its
own, committed, before any test starts. It comes from running the migrations folder (when one is
configured) or from the registries' ``create_all()``.

At the end of the session only what the session itself added is removed, so pointing the tests
at a database that holds data (``$DATABASE_URL`` is the last fallback) never loses it, and other
programs creating tables in the same database meanwhile are left alone:

* registries: the registries' tables that did not exist before are dropped (by name);
* migrations: a database the session migrated up from no revision at all is downgraded back to
  ``base`` (and its version table dropped if the session created it); a database that was
  already at some revision is left at the latest one.

An in-memory SQLite database lives as long as its ``Database`` object, so there is nothing to
build at session level: each test's database creates the registry's tables itself, inside its
transaction (SQLite DDL is transactional).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

import orm
from asyncdb import Database, DatabaseError

__all__ = ["SchemaError", "SessionSchema", "run_in_thread"]

T = TypeVar("T")

#: Alembic's default version table, which ``migrations`` keeps.
VERSION_TABLE = "alembic_version"


class SchemaError(Exception):
    """The schema could not be built or removed; the message says why."""


def run_in_thread(work: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run ``work()`` to completion in a fresh event loop on a worker thread.

    A worker thread is immune to whatever loop the calling thread has (pytest-asyncio keeps one
    per scope, and may be running one): ``asyncio.run`` there neither fails nor replaces it.
    """
    with ThreadPoolExecutor(1, thread_name_prefix="asyncdb-schema") as pool:
        return pool.submit(lambda: asyncio.run(work())).result()


class SessionSchema:
    """Builds the schema for one session (``create``) and removes what it added
    (``destroy``)."""

    def __init__(
        self, url: str, registries: Sequence[orm.ModelRegistry], migrations_dir: Path | None
    ) -> None:
        self.url = url
        self.registries = list(registries)
        self.migrations_dir = migrations_dir
        #: Tables the session created and drops at the end.
        self.created_tables: list[str] = []
        #: Whether the session migrated up from no revision, and downgrades to base at the end.
        self.migrated_from_base = False

    @property
    def _models(self) -> orm.ModelRegistry | None:
        # migrate() reads the models only to hand them to env.py: one registry can go there.
        return self.registries[0] if len(self.registries) == 1 else None

    async def create(self) -> None:
        """Migrate to the latest revision, or create the registries' missing tables."""
        database = Database(self.url, min_size=1, max_size=1)
        if database.url.is_memory:
            if self.migrations_dir is not None:
                raise SchemaError(
                    "asyncdb: migrations run on a connection of their own, which cannot see an "
                    "in-memory SQLite database; use a file URL (sqlite:///test.db) with "
                    "asyncdb_migrations_dir"
                )
            return  # each test's database creates the tables (see the module docstring)
        if not self.registries and self.migrations_dir is None:
            return
        try:
            before = await _table_names(database)
            if self.migrations_dir is not None:
                await self._migrate(database, self.migrations_dir, before)
            else:
                async with database:
                    for registry in self.registries:
                        await registry.create_all(database)
                self.created_tables = [
                    table.name
                    for registry in self.registries
                    for table in registry.metadata.sorted_tables
                    if table.name not in before
                ]
        except (DatabaseError, orm.ORMError, sa.exc.SQLAlchemyError, OSError) as exc:
            raise SchemaError(
                f"asyncdb: cannot create the test schema on {database.url.render()}: "
                f"{type(exc).__name__}: {exc}"
            ) from exc

    async def _migrate(self, database: Database, directory: Path, before: set[str]) -> None:
        # Imported here: Alembic is only needed by projects that test against their migrations.
        import migrations

        try:
            statuses = await migrations.showmigrations(database, directory)
            await migrations.migrate(database, self._models, directory)
        except migrations.MigrationError as exc:
            raise SchemaError(
                f"asyncdb: migrating {database.url.render()} with {directory} failed: {exc}"
            ) from exc
        self.migrated_from_base = not any(status.applied for status in statuses)
        if self.migrated_from_base and VERSION_TABLE not in before:
            self.created_tables = [VERSION_TABLE]

    async def destroy(self) -> None:
        """Remove what ``create`` added."""
        if self.migrated_from_base:
            import migrations

            assert self.migrations_dir is not None
            try:
                await migrations.downgrade(
                    self.url, self._models, self.migrations_dir, revision="base"
                )
            except migrations.MigrationError as exc:
                raise SchemaError(
                    f"asyncdb: downgrading the test database to base at the end of the session "
                    f"failed (the session migrated it up from base): {exc}"
                ) from exc
        if self.created_tables:
            try:
                await _drop_tables(self.url, self.created_tables)
            except (sa.exc.SQLAlchemyError, OSError) as exc:
                raise SchemaError(
                    "asyncdb: dropping the tables the session created "
                    f"({', '.join(self.created_tables)}) failed: {type(exc).__name__}: {exc}"
                ) from exc


async def _table_names(database: Database) -> set[str]:
    engine = create_async_engine(database.sqlalchemy_url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            names = await connection.run_sync(lambda c: sa.inspect(c).get_table_names())
    finally:
        await engine.dispose()
    return set(names)


async def _drop_tables(url: str, names: list[str]) -> None:
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
