from __future__ import annotations

import asyncio
import contextvars
import random

import pytest

from asyncdb import Database, PoolTimeout
from asyncdb.backends.base import RawConnection

from .conftest import create_tables, drop_tables, metadata, slow_sql
from .servers import kill, track_connections, wait_until_no_open_transactions

INSERT = "INSERT INTO adb_items (name, value) VALUES (:name, :value)"


def fresh(coro):  # type: ignore[no-untyped-def]
    """Run ``coro`` as a task that does not inherit this task's pinned connection."""
    return asyncio.get_running_loop().create_task(coro, context=contextvars.Context())


async def test_connection_is_released_between_queries(database_url: str) -> None:
    async with Database(database_url, max_size=1, acquire_timeout=2) as db:
        between = asyncio.Event()
        done = asyncio.Event()

        async def request() -> None:
            await db.fetch_val("SELECT 1")
            between.set()
            await done.wait()  # "awaiting an HTTP call": holds no connection
            await db.fetch_val("SELECT 2")

        task = asyncio.create_task(request())
        await between.wait()
        assert db.pool_stats().in_use == 0
        assert await db.fetch_val("SELECT 3") == 3  # the only connection is free
        done.set()
        await task


async def test_release_of_idle_connection_costs_no_round_trip(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with Database(database_url, max_size=1) as db:
        raw_cls = type(db._pool._idle[0].raw)  # type: ignore[union-attr]
        calls: list[str] = []
        for name in ("fetch", "execute", "rollback", "ping", "commit", "begin"):
            original = getattr(raw_cls, name)

            def wrap(original=original, name=name):  # type: ignore[no-untyped-def]
                async def counted(self, *args, **kwargs):  # type: ignore[no-untyped-def]
                    calls.append(name)
                    return await original(self, *args, **kwargs)

                return counted

            monkeypatch.setattr(raw_cls, name, wrap())
        for _ in range(5):
            await db.fetch_one("SELECT 1 AS one")
        assert calls == ["fetch"] * 5
        assert db.pool_stats().idle == 1


async def test_pool_timeout(database_url: str) -> None:
    async with Database(database_url, max_size=1, acquire_timeout=0.2) as db:
        async with db.connection():
            with pytest.raises(PoolTimeout, match=r"acquire_timeout=0.2s.*max_size=1"):
                await fresh(db.fetch_val("SELECT 1"))
            assert db.pool_stats().waiting == 0
        assert await db.fetch_val("SELECT 1") == 1


async def test_waiter_cancelled_while_waiting_leaks_nothing(database_url: str) -> None:
    async with Database(database_url, max_size=1, acquire_timeout=5) as db:
        holder = asyncio.Event()
        release = asyncio.Event()

        async def hold() -> None:
            async with db.connection():
                holder.set()
                await release.wait()

        hold_task = fresh(hold())
        await holder.wait()
        waiters = [fresh(db.fetch_val("SELECT 1")) for _ in range(5)]
        await asyncio.sleep(0.05)
        assert db.pool_stats().waiting == 5
        for w in waiters[:4]:
            w.cancel()
        release.set()
        await hold_task
        assert await waiters[4] == 1
        for w in waiters[:4]:
            with pytest.raises(asyncio.CancelledError):
                await w
        stats = db.pool_stats()
        assert stats.in_use == 0 and stats.waiting == 0 and stats.size == 1


async def test_max_lifetime_replaces_old_connections(database_url: str) -> None:
    async with Database(database_url, max_lifetime=0.05) as db:
        first = db._pool._idle[0]  # type: ignore[union-attr]
        await asyncio.sleep(0.1)
        await db.fetch_val("SELECT 1")
        assert first not in db._pool._idle  # type: ignore[union-attr]
        assert db.pool_stats().size == 1


async def test_max_idle_closes_surplus_connections(database_url: str) -> None:
    async with Database(database_url, min_size=1, max_size=4, max_idle=0.05) as db:
        entered: list[int] = []
        all_in = asyncio.Event()

        async def hold() -> None:
            async with db.connection():
                entered.append(1)
                if len(entered) == 4:
                    all_in.set()
                await all_in.wait()

        await asyncio.gather(*(hold() for _ in range(4)))
        assert db.pool_stats().size == 4
        await asyncio.sleep(0.1)
        await db.fetch_val("SELECT 1")
        await asyncio.sleep(0.01)
        assert db.pool_stats().size <= 2


async def test_long_idle_connections_are_pinged(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    pings: list[int] = []
    original = RawConnection.ping

    async def ping(self: RawConnection) -> None:
        pings.append(1)
        await original(self)

    monkeypatch.setattr(RawConnection, "ping", ping)
    async with Database(database_url, check_idle_after=0.0) as db:
        await db.fetch_val("SELECT 1")
        await db.fetch_val("SELECT 1")
    assert len(pings) == 2
    pings.clear()
    async with Database(database_url) as db:  # default: only after 10 s idle
        await db.fetch_val("SELECT 1")
    assert pings == []


async def test_min_size_and_stats(database_url: str) -> None:
    async with Database(database_url, min_size=3, max_size=5) as db:
        stats = db.pool_stats()
        assert (stats.size, stats.idle, stats.in_use, stats.waiting) == (3, 3, 0, 0)
        assert (stats.max_size, stats.min_size) == (5, 3)
        async with db.connection():
            assert db.pool_stats().in_use == 1


@pytest.mark.backends("postgresql", "mysql")
async def test_server_killed_connections_are_replaced(database_url: str) -> None:
    db = Database(database_url, min_size=0)
    ids = track_connections(db)
    async with Database(database_url) as admin, db:
        await asyncio.gather(*(db.fetch_all(slow_sql(db.features.backend, 0.05)) for _ in range(3)))
        assert db.pool_stats().idle == 3
        await kill(admin, db, list(ids))
        # No pause: the very next queries must succeed on fresh connections.
        for _ in range(6):
            assert await db.fetch_val("SELECT 1") == 1
        results = await asyncio.gather(*(db.fetch_val("SELECT 2") for _ in range(5)))
        assert results == [2] * 5
        assert db.pool_stats().in_use == 0


@pytest.mark.backends("postgresql", "mysql")
async def test_server_kill_inside_transaction_is_operational_error(database_url: str) -> None:
    from asyncdb import OperationalError

    db = Database(database_url, min_size=0)
    ids = track_connections(db)
    async with Database(database_url) as admin, db:
        with pytest.raises(OperationalError):
            async with db.transaction():
                await db.fetch_val("SELECT 1")
                await kill(admin, db, list(ids))
                await asyncio.sleep(0.05)
                await db.fetch_val("SELECT 1")
        assert db.pool_stats().in_use == 0
        assert await db.fetch_val("SELECT 1") == 1


async def test_500_tasks_on_a_pool_of_5(tables: Database, database_url: str) -> None:
    async with Database(database_url, max_size=5, acquire_timeout=60) as db:
        sizes: list[int] = []

        async def work(i: int) -> int:
            if i % 10 == 0:
                async with db.transaction():
                    await db.execute(INSERT, {"name": f"t{i}", "value": i})
            else:
                await db.fetch_val("SELECT 1")
            sizes.append(db.pool_stats().size)
            return i

        results = await asyncio.gather(*(work(i) for i in range(500)))
        assert results == list(range(500))
        assert max(sizes) <= 5
        assert db.pool_stats().in_use == 0
        assert await db.fetch_val("SELECT count(*) FROM adb_items") == 50


async def test_cancellation_storm(database_url: str) -> None:
    """Hundreds of tasks cancelled at random points: in queries, transactions, iterations,
    and while waiting for a connection. Afterwards every connection is idle and healthy, no
    session of ours is left in a transaction, and every reported commit is in the database."""
    rng = random.Random(1234)
    async with Database(database_url) as admin:
        await create_tables(admin, metadata)
        try:
            db = Database(database_url, max_size=5, acquire_timeout=30)
            ids = track_connections(db)
            async with db:
                sql = slow_sql(db.features.backend, 0.02)
                committed: set[str] = set()
                await db.execute_many(
                    INSERT, [{"name": f"seed{i}", "value": i} for i in range(200)]
                )

                async def query(i: int) -> None:
                    await db.fetch_all(sql)

                async def transaction(i: int) -> None:
                    name = f"tx{i}"
                    async with db.transaction():
                        await db.execute(INSERT, {"name": name, "value": i})
                        await db.fetch_all(sql)
                        async with db.transaction():
                            await db.execute(
                                "UPDATE adb_items SET value = value + 1 WHERE name = :n",
                                {"n": name},
                            )
                    committed.add(name)

                async def iteration(i: int) -> None:
                    async for _ in db.iterate(
                        "SELECT id FROM adb_items ORDER BY id", chunk_size=20
                    ):
                        await asyncio.sleep(0)

                async def gathered(i: int) -> None:
                    async with db.transaction():
                        await asyncio.gather(*(query(i) for _ in range(3)))

                kinds = [query, transaction, iteration, gathered]
                tasks = [asyncio.create_task(rng.choice(kinds)(i)) for i in range(300)]
                for _ in range(30):
                    await asyncio.sleep(rng.uniform(0.0, 0.02))
                    for task in rng.sample(tasks, 10):
                        task.cancel()
                results = await asyncio.gather(*tasks, return_exceptions=True)
                errors = [
                    r
                    for r in results
                    if isinstance(r, BaseException) and not isinstance(r, asyncio.CancelledError)
                ]
                assert errors == []
                assert any(isinstance(r, asyncio.CancelledError) for r in results)
                await asyncio.sleep(0.1)  # background rollbacks of released connections
                stats = db.pool_stats()
                assert stats.in_use == 0 and stats.waiting == 0 and stats.size <= 5
                assert await wait_until_no_open_transactions(admin, db, ids) == 0
                # Every remaining connection is healthy.
                assert (
                    await asyncio.gather(*(db.fetch_val("SELECT 1") for _ in range(10))) == [1] * 10
                )
                names = {r.name for r in await db.fetch_all("SELECT name FROM adb_items")}
                assert committed <= names
        finally:
            await drop_tables(admin, metadata)
