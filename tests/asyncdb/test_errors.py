from __future__ import annotations

import logging
import traceback

import pytest

from asyncdb import Database, DatabaseError, IntegrityError, OperationalError

INSERT = "INSERT INTO adb_items (name, value) VALUES (:name, :value)"


async def test_integrity_errors_are_the_same_everywhere(tables: Database) -> None:
    db = tables
    await db.execute(INSERT, {"name": "a", "value": 1})
    with pytest.raises(IntegrityError):  # unique
        await db.execute(INSERT, {"name": "a", "value": 2})
    with pytest.raises(IntegrityError):  # not null
        await db.execute(INSERT, {"name": None, "value": 2})
    with pytest.raises(IntegrityError):  # foreign key
        await db.execute("INSERT INTO adb_children (item_id, label) VALUES (999, 'x')")
    with pytest.raises(IntegrityError):  # restrict on delete of a referenced row
        item_id = await db.fetch_val("SELECT id FROM adb_items WHERE name = 'a'")
        await db.execute(
            "INSERT INTO adb_children (item_id, label) VALUES (:i, 'x')", {"i": item_id}
        )
        await db.execute("DELETE FROM adb_items WHERE id = :i", {"i": item_id})
    # The driver's exception is chained for debugging.
    try:
        await db.execute(INSERT, {"name": "a", "value": 3})
    except IntegrityError as exc:
        assert exc.__cause__ is not None
        assert isinstance(exc, DatabaseError)
    assert db.pool_stats().in_use == 0


@pytest.mark.parametrize(
    ("url", "where"),
    [
        ("postgresql://bob:hunter2pw@127.0.0.1:1/test", "127.0.0.1:1"),
        ("mysql://bob:hunter2pw@127.0.0.1:1/test", "127.0.0.1:1"),
    ],
)
async def test_connection_refused_names_host_and_port_never_the_password(
    url: str, where: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    db = Database(url, acquire_timeout=5)
    with pytest.raises(OperationalError) as info:
        await db.connect()
    assert where in str(info.value)
    assert not db.is_connected
    text = "".join(traceback.format_exception(info.value)) + caplog.text + repr(db) + str(db.url)
    assert "hunter2pw" not in str(info.value)
    assert "hunter2pw" not in caplog.text
    assert "hunter2pw" not in repr(db) and "hunter2pw" not in str(db.url)
    assert "127.0.0.1" in text


async def test_sqlite_unopenable_file(tmp_path: object) -> None:
    db = Database("sqlite:////nonexistent-dir/sub/x.db")
    with pytest.raises(OperationalError, match="cannot open sqlite file"):
        await db.connect()


async def test_failed_statement_leaves_pool_healthy(tables: Database) -> None:
    db = tables
    for _ in range(5):
        with pytest.raises(DatabaseError):
            await db.execute("INSERT INTO adb_items (nope) VALUES (1)")
    assert await db.fetch_val("SELECT 1") == 1
    stats = db.pool_stats()
    assert stats.in_use == 0 and stats.size == 1


@pytest.mark.backends("postgresql")
async def test_multi_host_failover_to_the_next_host(database_url: str) -> None:
    """libpq-style host lists: an unreachable first host is skipped; target_session_attrs
    picks a writable server (a standby is refused)."""
    real = Database(database_url).url
    host, port = real.hosts[0]
    user = f"{real.user}@" if real.user else ""
    hosts = f"127.0.0.1:1,{host}:{port}"
    url = f"postgresql://{user}{hosts}/{real.database}?target_session_attrs=read-write"
    async with Database(url) as db:
        assert await db.fetch_val("SELECT pg_is_in_recovery()") is False
    standby_only = f"postgresql://{user}{host}:{port}/{real.database}?target_session_attrs=standby"
    with pytest.raises(OperationalError):
        async with Database(standby_only, acquire_timeout=5):
            pass
