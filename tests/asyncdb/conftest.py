"""Fixtures for the asyncdb suite: a standard pair of tables on each backend."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa

from asyncdb import Database

metadata = sa.MetaData()
items = sa.Table(
    "adb_items",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(100), nullable=False, unique=True),
    sa.Column("value", sa.Integer, nullable=True),
)
children = sa.Table(
    "adb_children",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("item_id", sa.Integer, sa.ForeignKey("adb_items.id"), nullable=False),
    sa.Column("label", sa.String(50)),
)


async def create_tables(db: Database, meta: sa.MetaData) -> None:
    for table in reversed(meta.sorted_tables):
        await db.execute(sa.schema.DropTable(table, if_exists=True))
    for table in meta.sorted_tables:
        await db.execute(sa.schema.CreateTable(table))


async def drop_tables(db: Database, meta: sa.MetaData) -> None:
    for table in reversed(meta.sorted_tables):
        await db.execute(sa.schema.DropTable(table, if_exists=True))


@pytest.fixture
async def tables(db: Database) -> AsyncIterator[Database]:
    """``db`` with ``adb_items`` and ``adb_children`` created (and dropped afterwards)."""
    await create_tables(db, metadata)
    try:
        yield db
    finally:
        await drop_tables(db, metadata)


def slow_sql(backend: str, seconds: float) -> str:
    """A query that takes about ``seconds`` on ``backend`` and returns one row."""
    if backend == "postgresql":
        return f"SELECT pg_sleep({seconds}) IS NULL AS done"
    if backend == "mysql":
        return f"SELECT SLEEP({seconds}) = 0 AS done"
    # SQLite has no sleep: count through a recursive CTE (~1M steps per 0.1 s here).
    steps = max(int(seconds * 10_000_000), 1000)
    return (
        f"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < {steps}) "
        "SELECT count(*) > 0 AS done FROM c"
    )
