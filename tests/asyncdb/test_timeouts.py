from __future__ import annotations

import asyncio

import pytest

from asyncdb import Database, QueryTimeout

from .conftest import slow_sql


async def test_statement_timeout_cancels_on_server_and_keeps_the_pool(database_url: str) -> None:
    async with Database(database_url, max_size=1) as db:
        sql = slow_sql(db.features.backend, 3.0)
        with pytest.raises(QueryTimeout, match=r"timeout=0.2s"):
            await db.fetch_all(sql, timeout=0.2)
        # The single connection was kept and works at once: the statement was stopped.
        stats = db.pool_stats()
        assert stats.in_use == 0 and stats.size == 1
        assert await db.fetch_val("SELECT 41 + 1", timeout=5) == 42
        # A fast statement under a timeout is unaffected.
        assert await db.fetch_val("SELECT 1", timeout=0.5) == 1


async def test_database_default_timeout(database_url: str) -> None:
    async with Database(database_url, timeout=0.2) as db:
        sql = slow_sql(db.features.backend, 3.0)
        with pytest.raises(QueryTimeout):
            await db.fetch_one(sql)
        with pytest.raises(QueryTimeout):
            await db.execute(sql)
        # A call's own timeout wins over the default.
        assert await db.fetch_one(slow_sql(db.features.backend, 0.4), timeout=10) is not None


async def test_timeout_inside_transaction_leaves_it_usable_to_roll_back(database_url: str) -> None:
    async with Database(database_url) as db:
        sql = slow_sql(db.features.backend, 3.0)
        with pytest.raises(QueryTimeout):
            async with db.transaction():
                await db.fetch_all(sql, timeout=0.2)
        assert db.pool_stats().in_use == 0
        assert await db.fetch_val("SELECT 1") == 1


async def test_timeout_applies_to_each_chunk_of_iterate(database_url: str) -> None:
    async with Database(database_url) as db:
        sql = slow_sql(db.features.backend, 3.0)
        with pytest.raises(QueryTimeout):
            async for _ in db.iterate(sql, timeout=0.2):
                pass
        await asyncio.sleep(0)
        assert await db.fetch_val("SELECT 1") == 1


def test_bad_timeout_is_rejected() -> None:
    with pytest.raises(ValueError, match="timeout must be positive"):
        Database("sqlite:///x.db", timeout=0)
