"""Read routing to replicas. Here a "replica" is a second database holding different data, so
every answer shows which server gave it (a real streaming replica: tests/reliability)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa

import asyncdb.routing
from asyncdb import Database

WHO = "SELECT who FROM adb_whoami"
meta = sa.MetaData()
whoami = sa.Table("adb_whoami", meta, sa.Column("who", sa.String(20)))


@contextlib.asynccontextmanager
async def labelled(url: str, label: str) -> AsyncIterator[None]:
    async with Database(url) as setup:
        await setup.execute("DROP TABLE IF EXISTS adb_whoami")
        await setup.execute("CREATE TABLE adb_whoami (who VARCHAR(20))")
        await setup.execute("INSERT INTO adb_whoami (who) VALUES (:w)", {"w": label})
    try:
        yield
    finally:
        async with Database(url) as teardown:
            await teardown.execute("DROP TABLE IF EXISTS adb_whoami")


@pytest.fixture
async def pair(
    backend: str, database_url: str, private_database_url: str
) -> AsyncIterator[tuple[str, str]]:
    """(primary URL, replica URL): two databases labelled by their content."""
    primary = database_url
    replica = private_database_url
    if backend == "sqlite":
        replica = database_url.replace("test.db", "replica.db")
    async with labelled(primary, "primary"), labelled(replica, "replica"):
        yield primary, replica


async def test_reads_go_to_replicas_and_everything_else_to_the_primary(
    pair: tuple[str, str],
) -> None:
    primary, replica = pair
    async with Database(primary, replicas=[replica]) as db:
        assert await db.fetch_val(WHO) == "replica"
        assert (await db.fetch_all(sa.select(whoami.c.who)))[0].who == "replica"
        assert [r.who async for r in db.iterate(WHO)] == ["replica"]
        # Writes, locking reads, transactions and using("primary") go to the primary.
        await db.execute("INSERT INTO adb_whoami (who) VALUES ('written')")
        assert (
            await db.using("primary").fetch_val(
                "SELECT count(*) FROM adb_whoami WHERE who = 'written'"
            )
            == 1
        )
        assert await db.fetch_val("SELECT count(*) FROM adb_whoami WHERE who = 'written'") == 0
        if db.features.supports_for_update:
            locked = await db.fetch_all(sa.select(whoami.c.who).with_for_update())
            assert {r.who for r in locked} == {"primary", "written"}
        async with db.transaction():
            assert await db.fetch_val(WHO + " ORDER BY who") == "primary"  # read-your-writes
        assert [r.who async for r in db.using("primary").iterate(WHO + " ORDER BY who")] == [
            "primary",
            "written",
        ]
        assert await db.using("replica").fetch_val(WHO) == "replica"


async def test_a_replica_that_is_down_is_skipped_then_retried(
    pair: tuple[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    primary, replica = pair
    db = Database(primary)
    if db.features.backend == "sqlite":
        down = f"sqlite:///{tmp_path}/missing-dir/replica.db"
    else:
        down = db.url.render(hide_password=False).replace(f":{db.url.port}/", ":1/")
    monkeypatch.setattr(asyncdb.routing, "REPLICA_RETRY", 0.0)
    async with Database(primary, replicas=[down, replica], acquire_timeout=5) as db:
        answers = [await db.fetch_val(WHO) for _ in range(4)]
        assert answers == ["replica"] * 4  # the down one is skipped, never an error
    async with Database(primary, replicas=[down], acquire_timeout=5) as db:
        assert await db.fetch_val(WHO) == "primary"  # no replica: the primary serves


def test_replica_must_be_the_same_backend() -> None:
    with pytest.raises(ValueError, match="replica .* is mysql, but the primary is sqlite"):
        Database("sqlite:///x.db", replicas=["mysql://root@127.0.0.1/test"])


def test_using_names_the_choices() -> None:
    with pytest.raises(ValueError, match="'primary' or 'replica'"):
        Database("sqlite:///x.db").using("secondary")
