"""Network faults between a ``Database`` and its server (issue 8, item 3), injected by the
proxy in ``proxy.py`` in front of the shared PostgreSQL and MySQL test servers.

asyncdb cancels a timed-out statement from a side connection to the address in the URL, which
here is the proxy: the cancellation travels through the same faults as the statement. SQLite has
no network; its ``timeout=`` (``interrupt()``) is covered in ``tests/asyncdb/test_timeouts.py``.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest

from asyncdb import Database, OperationalError, QueryTimeout

from .conftest import through
from .proxy import FaultProxy

pytestmark = pytest.mark.backends("postgresql", "mysql")

#: Upper bound on anything that must not hang (asyncdb gives a cancellation 5 s, then drops the
#: connection): generous, since only "finishes at all" is asserted, never a duration.
BOUND = 30.0


@pytest.fixture
def short_cancel_grace(monkeypatch: pytest.MonkeyPatch) -> None:
    """Give an unanswered cancellation 1 s instead of 5 s before the connection is dropped,
    to keep the suite quick (what is tested is that it *is* dropped, not when)."""
    import asyncdb.database

    monkeypatch.setattr(asyncdb.database, "_CANCEL_GRACE", 1.0)


def _sleep_sql(backend: str, seconds: float, marker: str) -> str:
    if backend == "postgresql":
        return f"SELECT pg_sleep({seconds}) IS NULL AS {marker}"
    return f"SELECT SLEEP({seconds}) = 0 AS {marker}"


async def _running(admin: Database, backend: str, marker: str) -> int:
    """How many statements containing ``marker`` the server is running right now."""
    pattern = f"%{marker}%"
    if backend == "postgresql":
        sql = (
            "SELECT count(*) FROM pg_stat_activity WHERE query LIKE :p AND state = 'active' "
            "AND pid <> pg_backend_pid()"
        )
    else:
        sql = (
            "SELECT count(*) FROM information_schema.processlist WHERE info LIKE :p "
            "AND command = 'Query' AND id <> CONNECTION_ID()"
        )
    return int(await admin.fetch_val(sql, {"p": pattern}))


async def _wait_gone(admin: Database, backend: str, marker: str) -> int:
    """Poll until no statement with ``marker`` runs (bounded); return the last count."""
    count = await _running(admin, backend, marker)
    for _ in range(40):
        if count == 0:
            break
        await asyncio.sleep(0.05)
        count = await _running(admin, backend, marker)
    return count


async def test_timeout_through_latency_cancels_on_server(
    backend: str, database_url: str, proxy: FaultProxy
) -> None:
    proxy.latency = 0.02
    marker = f"rel_{uuid.uuid4().hex[:10]}"
    async with (
        Database(database_url, max_size=1) as admin,
        Database(through(database_url, proxy), max_size=2) as db,
    ):
        assert await db.fetch_val("SELECT 1") == 1
        size_before = db.pool_stats().size
        async with asyncio.timeout(BOUND):
            running = asyncio.create_task(
                db.fetch_one(_sleep_sql(backend, 20, marker), timeout=0.5)
            )
            # The statement really reached the server before it timed out ...
            for _ in range(100):
                if await _running(admin, backend, marker) or running.done():
                    break
                await asyncio.sleep(0.02)
            assert await _running(admin, backend, marker) == 1
            with pytest.raises(QueryTimeout, match=r"timeout=0.5s"):
                await running
            # ... and is gone from it now (cancelled, not left to sleep 20 s).
            assert await _wait_gone(admin, backend, marker) == 0
        # The pool is healthy: same connection kept, nothing in use, queries work (slowly).
        stats = db.pool_stats()
        assert stats.in_use == 0 and stats.size == size_before
        results = [db.fetch_val("SELECT 7", timeout=BOUND) for _ in range(20)]
        assert await asyncio.gather(*results) == [7] * 20
        async with db.transaction():
            assert await db.fetch_val("SELECT 8", timeout=BOUND) == 8


async def test_default_timeout_through_latency(
    backend: str, database_url: str, proxy: FaultProxy
) -> None:
    proxy.latency = 0.01
    marker = f"rel_{uuid.uuid4().hex[:10]}"
    async with (
        Database(database_url, max_size=1) as admin,
        Database(through(database_url, proxy), timeout=0.4) as db,
    ):
        async with asyncio.timeout(BOUND):
            with pytest.raises(QueryTimeout):
                await db.execute(_sleep_sql(backend, 20, marker))
            assert await _wait_gone(admin, backend, marker) == 0
        assert await db.fetch_val("SELECT 1") == 1
        assert db.pool_stats().in_use == 0


async def test_connection_cut_mid_query(backend: str, database_url: str, proxy: FaultProxy) -> None:
    marker = f"rel_{uuid.uuid4().hex[:10]}"
    async with Database(through(database_url, proxy), max_size=3) as db:
        async with asyncio.timeout(BOUND):
            # A statement in flight outside a transaction ...
            running = asyncio.create_task(db.fetch_one(_sleep_sql(backend, 5, marker)))
            await asyncio.sleep(0.3)
            assert proxy.cut() >= 1
            with pytest.raises(OperationalError) as caught:
                await running
            assert not isinstance(caught.value, QueryTimeout)
            assert caught.value.connection_lost
            # ... the next query is fine, on a new connection.
            assert await db.fetch_val("SELECT 1") == 1

            # A transaction whose connection is cut between two statements.
            with pytest.raises(OperationalError):
                async with db.transaction():
                    await db.fetch_val("SELECT 1")
                    proxy.cut()
                    await asyncio.sleep(0.05)
                    await db.fetch_val("SELECT 2")
            async with db.transaction():
                assert await db.fetch_val("SELECT 3") == 3

            # Idle pooled connections cut while nobody uses them: callers never notice.
            await asyncio.gather(*(db.fetch_val("SELECT 1") for _ in range(3)))
            proxy.cut()
            await asyncio.sleep(0.05)
            assert await asyncio.gather(*(db.fetch_val("SELECT 4") for _ in range(6))) == [4] * 6
        stats = db.pool_stats()
        assert stats.in_use == 0 and stats.size <= 3


@pytest.mark.usefixtures("short_cancel_grace")
async def test_half_open_connection_with_timeout(
    backend: str, database_url: str, proxy: FaultProxy
) -> None:
    async with Database(through(database_url, proxy), max_size=2) as db:
        assert await db.fetch_val("SELECT 1") == 1
        assert db.pool_stats().size == 1
        proxy.blackhole = True  # the server "vanishes": no answer, no reset, nothing
        async with asyncio.timeout(BOUND):
            with pytest.raises(QueryTimeout):
                await db.fetch_val("SELECT 1", timeout=0.5)
        # The cancellation could not reach the server either: the connection was discarded.
        stats = db.pool_stats()
        assert stats.size == 0 and stats.in_use == 0

        # Inside a transaction: the timeout ends the transaction, the rollback does not hang.
        proxy.blackhole = False
        async with asyncio.timeout(BOUND):
            with pytest.raises(QueryTimeout):
                async with db.transaction():
                    assert await db.fetch_val("SELECT 2") == 2
                    proxy.blackhole = True
                    await db.fetch_val("SELECT 3", timeout=0.5)
        stats = db.pool_stats()
        assert stats.size == 0 and stats.in_use == 0

        # The network comes back: new connections, nothing for user code to do.
        proxy.blackhole = False
        assert await db.fetch_val("SELECT 4", timeout=BOUND) == 4
        assert db.pool_stats().in_use == 0


@pytest.mark.usefixtures("short_cancel_grace")
async def test_half_open_transaction_control_with_default_timeout(
    backend: str, database_url: str, proxy: FaultProxy
) -> None:
    """With a ``Database`` default timeout, BEGIN and COMMIT are bounded too."""
    async with Database(through(database_url, proxy), max_size=2, timeout=0.5) as db:
        assert await db.fetch_val("SELECT 1") == 1
        proxy.blackhole = True
        async with asyncio.timeout(BOUND):
            with pytest.raises(QueryTimeout):
                async with db.transaction():  # BEGIN goes into the black hole
                    pass
        proxy.blackhole = False
        async with asyncio.timeout(BOUND):
            with pytest.raises(QueryTimeout):
                async with db.transaction():
                    await db.fetch_val("SELECT 1")
                    proxy.blackhole = True  # so does COMMIT
        stats = db.pool_stats()
        assert stats.size == 0 and stats.in_use == 0
        proxy.blackhole = False
        async with db.transaction():
            assert await db.fetch_val("SELECT 2") == 2


async def test_half_open_idle_connection_is_not_pinged_forever(
    backend: str, database_url: str, proxy: FaultProxy
) -> None:
    """A connection idle long enough to be pinged at checkout, whose peer vanished: the ping
    is bounded, the connection dropped, and the caller gets an ``OperationalError`` in bounded
    time (here ``PoolTimeout``: new connections go into the black hole too)."""
    url = through(database_url, proxy)
    async with Database(url, check_idle_after=0.0, acquire_timeout=2.0) as db:
        assert await db.fetch_val("SELECT 1") == 1
        proxy.blackhole = True
        async with asyncio.timeout(BOUND):
            with pytest.raises(OperationalError):
                await db.fetch_val("SELECT 1", timeout=0.5)
        stats = db.pool_stats()
        assert stats.in_use == 0 and stats.waiting == 0
        proxy.blackhole = False
        assert await db.fetch_val("SELECT 2") == 2


async def test_release_rollback_on_half_open_connection_frees_the_slot(
    backend: str, database_url: str, proxy: FaultProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A connection given back with a transaction open is rolled back in the background; if
    its peer has vanished, the ROLLBACK is bounded and the connection dropped, so its pool slot
    is not lost for good."""
    import asyncdb.pool

    monkeypatch.setattr(asyncdb.pool, "CHECK_TIMEOUT", 1.0)  # quicker; "bounded" is the point
    async with Database(through(database_url, proxy), max_size=1, acquire_timeout=BOUND) as db:
        async with db.connection():
            await db.execute("BEGIN")  # begun by hand and left open
            proxy.blackhole = True
        await asyncio.sleep(0.2)  # the background ROLLBACK went into the black hole
        proxy.blackhole = False
        async with asyncio.timeout(BOUND):
            assert await db.fetch_val("SELECT 1") == 1  # the only slot came back
        stats = db.pool_stats()
        assert stats.in_use == 0 and stats.size == 1


async def test_stream_cut_mid_iteration(backend: str, database_url: str, proxy: FaultProxy) -> None:
    """``iterate()`` whose connection is cut between two chunks: ``OperationalError``, the
    connection is not handed out again, and the next stream works."""
    rows = "SELECT n FROM (SELECT 1 AS n UNION ALL SELECT 2 UNION ALL SELECT 3) AS t"
    # Rows large enough that the whole result cannot sit in socket buffers before the cut.
    series = (
        "SELECT n, repeat('x', 1000) AS pad FROM generate_series(1, 20000) AS n"
        if backend == "postgresql"
        else "SELECT seq AS n, REPEAT('x', 1000) AS pad FROM seq_1_to_20000"  # sequence engine
    )
    async with Database(through(database_url, proxy), max_size=2) as db:
        seen = 0
        async with asyncio.timeout(BOUND):
            with pytest.raises(OperationalError):
                async for _ in db.iterate(series, chunk_size=10):
                    seen += 1
                    if seen == 15:
                        proxy.cut()
                        await asyncio.sleep(0.05)
            assert seen < 20000
            assert [r.n for r in await db.fetch_all(rows)] == [1, 2, 3]
            assert [r.n async for r in db.iterate(rows)] == [1, 2, 3]
        assert db.pool_stats().in_use == 0


async def test_disconnect_with_half_open_connections_is_bounded(
    backend: str, database_url: str, proxy: FaultProxy
) -> None:
    """Ten idle connections whose peer vanished: ``disconnect()`` gives each its graceful
    close at the same time, then drops it, instead of one after the other."""
    db = Database(through(database_url, proxy), min_size=10, max_size=10)
    await db.connect()
    assert db.pool_stats().idle == 10
    proxy.blackhole = True
    async with asyncio.timeout(BOUND):
        await db.disconnect()
    assert not db.is_connected
