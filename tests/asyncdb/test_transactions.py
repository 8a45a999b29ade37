from __future__ import annotations

import asyncio

import pytest

from asyncdb import Database, InterfaceError, NotSupportedError

COUNT = "SELECT count(*) FROM adb_items"
INSERT = "INSERT INTO adb_items (name, value) VALUES (:name, :value)"


class Boom(Exception):
    pass


async def test_context_manager_commits_and_rolls_back(tables: Database) -> None:
    db = tables
    async with db.transaction():
        await db.execute(INSERT, {"name": "a", "value": 1})
    with pytest.raises(Boom):
        async with db.transaction():
            await db.execute(INSERT, {"name": "b", "value": 1})
            assert await db.fetch_val(COUNT) == 2  # visible inside
            raise Boom
    assert await db.fetch_val(COUNT) == 1
    assert db.pool_stats().in_use == 0


async def test_decorator_runs_each_call_in_a_new_transaction(tables: Database) -> None:
    db = tables

    @db.transaction()
    async def add(name: str, fail: bool) -> str:
        await db.execute(INSERT, {"name": name, "value": 1})
        if fail:
            raise Boom
        return name

    assert await add("a", False) == "a"
    with pytest.raises(Boom):
        await add("b", True)
    assert await add("c", False) == "c"
    assert await db.fetch_val(COUNT) == 2


async def test_start_commit_rollback_and_state_machine(tables: Database) -> None:
    db = tables
    tx = await db.transaction().start()
    assert tx.state == "started"
    await db.execute(INSERT, {"name": "a", "value": 1})
    await tx.commit()
    assert tx.state == "committed"
    with pytest.raises(InterfaceError, match="cannot commit: the transaction is committed"):
        await tx.commit()
    with pytest.raises(InterfaceError, match="cannot roll back"):
        await tx.rollback()
    with pytest.raises(InterfaceError, match="already started"):
        await tx.start()
    tx = await db.transaction().start()
    await db.execute(INSERT, {"name": "b", "value": 1})
    await tx.rollback()
    assert tx.state == "rolled back"
    assert await db.fetch_val(COUNT) == 1
    assert db.pool_stats().in_use == 0


async def test_nested_transactions_are_savepoints(tables: Database) -> None:
    db = tables
    async with db.transaction():
        await db.execute(INSERT, {"name": "outer", "value": 1})
        with pytest.raises(Boom):
            async with db.transaction():
                await db.execute(INSERT, {"name": "inner", "value": 1})
                raise Boom
        async with db.transaction():
            await db.execute(INSERT, {"name": "inner2", "value": 1})
            async with db.transaction():
                await db.execute(INSERT, {"name": "inner3", "value": 1})
    names = {r.name for r in await db.fetch_all("SELECT name FROM adb_items")}
    assert names == {"outer", "inner2", "inner3"}


async def test_integrity_error_inside_savepoint_keeps_outer_usable(tables: Database) -> None:
    from asyncdb import IntegrityError

    db = tables
    async with db.transaction():
        await db.execute(INSERT, {"name": "a", "value": 1})
        with pytest.raises(IntegrityError):
            async with db.transaction():
                await db.execute(INSERT, {"name": "a", "value": 2})
        await db.execute(INSERT, {"name": "b", "value": 1})
    assert await db.fetch_val(COUNT) == 2


async def test_statements_in_a_transaction_share_one_connection(tables: Database) -> None:
    db = tables
    async with db.transaction():
        assert db.pool_stats().in_use == 1
        await db.execute(INSERT, {"name": "a", "value": 1})
        # Another task that did NOT inherit the transaction does not see uncommitted rows
        # (SQLite: it waits for the write lock instead, so only check the servers).
        if db.features.backend != "sqlite":
            outside = asyncio.get_running_loop().create_task(
                db.fetch_val(COUNT), context=__import__("contextvars").Context()
            )
            assert await outside == 0
    assert await db.fetch_val(COUNT) == 1


async def test_child_tasks_run_inside_the_transaction_and_roll_back(tables: Database) -> None:
    db = tables

    async def child(i: int) -> int:
        await db.execute(INSERT, {"name": f"c{i}", "value": i})
        return int(await db.fetch_val(COUNT))

    with pytest.raises(Boom):
        async with db.transaction():
            counts = await asyncio.gather(*(child(i) for i in range(20)))
            assert sorted(counts) == list(range(1, 21))  # serialised, each saw the others
            async with asyncio.TaskGroup() as tg:
                for i in range(20, 30):
                    tg.create_task(child(i))
            assert db.pool_stats().in_use == 1  # never a second connection
            raise Boom
    assert await db.fetch_val(COUNT) == 0
    assert db.pool_stats().in_use == 0


async def test_child_tasks_with_nested_transactions_do_not_interleave(tables: Database) -> None:
    db = tables

    async def child(i: int) -> None:
        try:
            async with db.transaction():
                await db.execute(INSERT, {"name": f"c{i}", "value": i})
                await asyncio.sleep(0)  # let siblings try to run meanwhile
                await db.execute(INSERT, {"name": f"d{i}", "value": i})
                if i % 2:
                    raise Boom
        except Boom:
            pass

    async with db.transaction():
        await asyncio.gather(*(child(i) for i in range(10)))
    names = sorted(r.name for r in await db.fetch_all("SELECT name FROM adb_items"))
    assert names == sorted([f"c{i}" for i in range(0, 10, 2)] + [f"d{i}" for i in range(0, 10, 2)])


async def test_task_outliving_its_block_fails_loudly(tables: Database) -> None:
    db = tables
    started = asyncio.Event()
    release = asyncio.Event()

    async def straggler() -> None:
        started.set()
        await release.wait()
        await db.execute(INSERT, {"name": "late", "value": 1})

    async with db.transaction():
        task = asyncio.create_task(straggler())
        await started.wait()
    release.set()
    with pytest.raises(InterfaceError, match="already ended"):
        await task
    assert await db.fetch_val(COUNT) == 0


async def test_isolation_and_readonly(tables: Database) -> None:
    db = tables
    levels = db.features.isolation_levels
    assert "serializable" in levels
    async with db.transaction(isolation="serializable"):
        await db.execute(INSERT, {"name": "a", "value": 1})
    assert await db.fetch_val(COUNT) == 1
    if db.features.backend != "sqlite":
        async with db.transaction(isolation="read committed"):
            assert await db.fetch_val(COUNT) == 1
    else:
        with pytest.raises(NotSupportedError, match="choose one of: serializable"):
            async with db.transaction(isolation="read committed"):
                pass
    with pytest.raises(NotSupportedError, match="choose one of"):
        async with db.transaction(isolation="chaotic"):
            pass
    from asyncdb import DatabaseError

    with pytest.raises(DatabaseError):
        async with db.transaction(readonly=True):
            assert await db.fetch_val(COUNT) == 1
            await db.execute(INSERT, {"name": "b", "value": 1})
    # readonly ended with its transaction
    await db.execute(INSERT, {"name": "c", "value": 1})
    assert await db.fetch_val(COUNT) == 2
    async with db.transaction():
        with pytest.raises(InterfaceError, match="outermost"):
            async with db.transaction(readonly=True):
                pass


async def test_connection_block_pins_one_connection(tables: Database) -> None:
    db = tables
    async with db.connection() as conn:
        assert conn.raw_connection is not None
        assert db.pool_stats().in_use == 1
        await conn.execute(INSERT, {"name": "a", "value": 1})
        await asyncio.gather(*(db.fetch_val(COUNT) for _ in range(10)))
        assert db.pool_stats().in_use == 1
        async with conn.transaction():
            await db.execute(INSERT, {"name": "b", "value": 1})
        async with db.connection() as inner:  # reuses the pinned one
            assert inner.raw_connection is conn.raw_connection
    assert db.pool_stats().in_use == 0
    with pytest.raises(InterfaceError, match="not open"):
        _ = conn.raw_connection
    assert await db.fetch_val(COUNT) == 2


async def test_force_rollback(database_url: str) -> None:
    from .conftest import create_tables, drop_tables, metadata

    async with Database(database_url) as setup:
        await create_tables(setup, metadata)
    try:
        async with Database(database_url, force_rollback=True) as db:
            await db.execute(INSERT, {"name": "a", "value": 1})
            async with db.transaction():
                await db.execute(INSERT, {"name": "b", "value": 1})
            with pytest.raises(Boom):
                async with db.transaction():
                    await db.execute(INSERT, {"name": "c", "value": 1})
                    raise Boom
            await asyncio.gather(
                *(db.execute(INSERT, {"name": f"g{i}", "value": i}) for i in range(5))
            )
            assert await db.fetch_val(COUNT) == 7
        async with Database(database_url) as check:
            assert await check.fetch_val(COUNT) == 0
    finally:
        async with Database(database_url) as teardown:
            await drop_tables(teardown, metadata)


async def test_not_connected_is_a_clear_error(database_url: str) -> None:
    db = Database(database_url)
    assert not db.is_connected
    with pytest.raises(InterfaceError, match="not connected.*connect"):
        await db.fetch_all("SELECT 1")
    await db.connect()
    await db.connect()  # idempotent
    assert db.is_connected
    await db.disconnect()
    await db.disconnect()
    assert not db.is_connected


async def test_broken_transaction_after_cancel_mid_statement(tables: Database) -> None:
    from .conftest import slow_sql

    db = tables
    sql = slow_sql(db.features.backend, 0.5)

    async def slow_in_tx() -> None:
        async with db.transaction():
            await db.execute(INSERT, {"name": "x", "value": 1})
            await db.fetch_all(sql)

    task = asyncio.create_task(slow_in_tx())
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0.05)
    assert db.pool_stats().in_use == 0
    assert await db.fetch_val(COUNT) == 0  # nothing committed, pool healthy
