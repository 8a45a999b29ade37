"""Read replicas and failover against a real streaming replica (issue 9).

A private primary cluster and a ``pg_basebackup`` standby streaming from it: reads outside
transactions go to the standby, everything else to the primary; a standby that goes down is
skipped and used again when it is back; a multi-host URL follows a promotion.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

import asyncdb.routing
from asyncdb import Database, ProgrammingError
from tests.reliability.servers import PrivatePostgres, require

from .replication import PrivateStandby, replication_pair


@pytest.fixture(scope="module")
def pair() -> Iterator[tuple[PrivatePostgres, PrivateStandby]]:
    missing = PrivatePostgres.available()
    require(missing is None, f"private PostgreSQL unavailable: {missing}")
    primary, standby = replication_pair()
    try:
        yield primary, standby
    finally:
        for server in (standby, primary):
            server.stop()
            server.cleanup()


async def _replicated(db: Database, sql: str, expected: object) -> None:
    """Wait (bounded) until the replica serves ``expected`` for ``sql``: replication lags, so
    the replica may not even have the table yet."""
    for _ in range(200):
        try:
            if await db.fetch_val(sql) == expected:
                return
        except ProgrammingError:
            pass  # "relation does not exist" until the CREATE TABLE is replayed
        await asyncio.sleep(0.05)
    raise AssertionError(f"the replica never returned {expected!r} for {sql}")


async def test_reads_go_to_the_streaming_replica(
    pair: tuple[PrivatePostgres, PrivateStandby],
) -> None:
    primary, standby = pair
    async with Database(primary.url, replicas=[standby.url]) as db:
        await db.execute("CREATE TABLE repl_items (id serial PRIMARY KEY, name text)")
        try:
            await db.execute("INSERT INTO repl_items (name) VALUES ('a'), ('b')")  # primary
            assert await db.fetch_val("SELECT pg_is_in_recovery()") is True  # a replica read
            await _replicated(db, "SELECT count(*) FROM repl_items", 2)
            assert await db.using("primary").fetch_val("SELECT pg_is_in_recovery()") is False
            # Inside a transaction everything is on the primary: read-your-writes.
            async with db.transaction():
                assert await db.fetch_val("SELECT pg_is_in_recovery()") is False
                await db.execute("INSERT INTO repl_items (name) VALUES ('c')")
                assert await db.fetch_val("SELECT count(*) FROM repl_items") == 3
            # Locking reads are writes as far as routing goes.
            locked = await db.fetch_all("SELECT name FROM repl_items ORDER BY id FOR UPDATE")
            assert [r.name for r in locked] == ["a", "b", "c"]
            await _replicated(db, "SELECT count(*) FROM repl_items", 3)
            assert [
                r.name async for r in db.iterate("SELECT name FROM repl_items ORDER BY id")
            ] == [
                "a",
                "b",
                "c",
            ]
        finally:
            await db.execute("DROP TABLE repl_items")


async def test_a_replica_that_goes_down_is_skipped_and_used_again(
    pair: tuple[PrivatePostgres, PrivateStandby], monkeypatch: pytest.MonkeyPatch
) -> None:
    primary, standby = pair
    monkeypatch.setattr(asyncdb.routing, "REPLICA_RETRY", 0.2)
    async with Database(primary.url, replicas=[standby.url], acquire_timeout=5) as db:
        assert await db.fetch_val("SELECT pg_is_in_recovery()") is True
        standby.stop()
        try:
            # No error reaches the caller: the reads go to the primary meanwhile.
            for _ in range(5):
                assert await db.fetch_val("SELECT pg_is_in_recovery()") is False
        finally:
            standby.start()
        recovered = False
        for _ in range(100):
            await asyncio.sleep(0.05)
            if await db.fetch_val("SELECT pg_is_in_recovery()") is True:
                recovered = True
                break
        assert recovered, "the replica was never used again after it came back"


async def test_failover_to_a_promoted_standby() -> None:
    """``host1,host2?target_session_attrs=read-write``: after the primary dies and the standby is
    promoted, new statements go to the new primary without the application reconnecting."""
    missing = PrivatePostgres.available()
    require(missing is None, f"private PostgreSQL unavailable: {missing}")
    primary, standby = replication_pair()
    try:
        url = (
            f"postgresql://postgres@127.0.0.1:{primary.port},127.0.0.1:{standby.port}/test"
            "?target_session_attrs=read-write"
        )
        async with Database(url, acquire_timeout=10) as db:
            await db.execute("CREATE TABLE repl_failover (id int PRIMARY KEY)")
            await db.execute("INSERT INTO repl_failover VALUES (1)")
            assert await db.fetch_val("SELECT inet_server_port()") == primary.port
            # Wait until the row reached the standby, then lose the primary and promote.
            async with Database(standby.url) as check:
                await _replicated(check, "SELECT count(*) FROM repl_failover", 1)
            primary.stop()
            standby.promote()
            # The pooled connection to the old primary is gone; the next statements go to the
            # promoted standby.
            for attempt in range(20):
                try:
                    await db.execute("INSERT INTO repl_failover VALUES (2)")
                    break
                except asyncdb.OperationalError:
                    # Only a statement caught in flight by the failover may fail, once.
                    assert attempt == 0
            assert await db.fetch_val("SELECT inet_server_port()") == standby.port
            assert await db.fetch_val("SELECT count(*) FROM repl_failover") == 2
            assert await db.fetch_val("SELECT pg_is_in_recovery()") is False
    finally:
        for server in (standby, primary):
            server.stop()
            server.cleanup()
