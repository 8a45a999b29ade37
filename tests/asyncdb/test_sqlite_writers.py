"""SQLite allows one writer at a time: the writers of one Database queue in order (bounded by
``acquire_timeout``) instead of polling the file lock, so they do not fail after
``busy_timeout`` while another task of the process holds a write transaction."""

from __future__ import annotations

import asyncio
import contextvars
from pathlib import Path

import pytest

from asyncdb import Database, OperationalError


def _url(tmp_path: Path, **options: object) -> str:
    query = "&".join(f"{k}={v}" for k, v in {"busy_timeout": 0.05, **options}.items())
    return f"sqlite:///{tmp_path / 'writers.db'}?{query}"


def _outside(coro: object) -> asyncio.Task[object]:
    """A task outside any block of the caller (a fresh context: no pinned connection)."""
    return asyncio.create_task(coro, context=contextvars.Context())  # type: ignore[arg-type]


async def test_write_transactions_queue_instead_of_failing(tmp_path: Path) -> None:
    async with Database(_url(tmp_path), max_size=5) as db:
        await db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER)")

        async def writer(i: int) -> None:
            async with db.transaction():
                await db.execute("INSERT INTO t (n) VALUES (:n)", {"n": i})
                await asyncio.sleep(0.1)  # holds the lock twice as long as busy_timeout

        await asyncio.gather(*(_outside(writer(i)) for i in range(5)))
        assert await db.fetch_val("SELECT count(*) FROM t") == 5


async def test_a_write_outside_waits_for_the_open_transaction(tmp_path: Path) -> None:
    async with Database(_url(tmp_path), max_size=3) as db:
        await db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER)")
        async with db.transaction():
            await db.execute("INSERT INTO t (n) VALUES (1)")
            later = _outside(db.execute("INSERT INTO t (n) VALUES (2)"))
            await asyncio.sleep(0.2)
            assert not later.done()  # queued behind this transaction, not failed
            # Reads do not queue (WAL): another task reads the committed state meanwhile.
            assert await _outside(db.fetch_val("SELECT count(*) FROM t")) == 0
        await later
        assert await db.fetch_val("SELECT count(*) FROM t") == 2


async def test_the_turn_is_given_back_on_every_end(tmp_path: Path) -> None:
    async with Database(_url(tmp_path, acquire_timeout=0.5), max_size=3) as db:
        await db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)")
        with pytest.raises(ZeroDivisionError):
            async with db.transaction():
                await db.execute("INSERT INTO t (n) VALUES (1)")
                1 / 0  # noqa: B018
        with pytest.raises(Exception, match="NOT NULL"):
            async with db.transaction():
                await db.execute("INSERT INTO t (n) VALUES (NULL)")
        tx = await db.transaction().start()
        await tx.commit()
        async with db.connection():
            await db.execute("INSERT INTO t (n) VALUES (2)")  # a write in a bare block
            async with db.transaction():
                await db.execute("INSERT INTO t (n) VALUES (3)")
        async with db.transaction(readonly=True):
            # a read-only transaction takes no turn: a writer elsewhere goes ahead
            await _outside(db.execute("INSERT INTO t (n) VALUES (4)"))
        # Had any of these kept the turn, this would fail after acquire_timeout.
        await db.execute("INSERT INTO t (n) VALUES (5)")
        assert await db.fetch_val("SELECT count(*) FROM t") == 4


async def test_waiting_for_the_turn_is_bounded(tmp_path: Path) -> None:
    async with Database(_url(tmp_path, acquire_timeout=0.2), max_size=3) as db:
        await db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER)")
        async with db.transaction():
            await db.execute("INSERT INTO t (n) VALUES (1)")
            with pytest.raises(OperationalError, match="database is locked"):
                await _outside(db.execute("INSERT INTO t (n) VALUES (2)"))
        assert await db.fetch_val("SELECT count(*) FROM t") == 1
