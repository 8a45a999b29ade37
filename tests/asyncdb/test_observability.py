from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator

import pytest

from asyncdb import Database, DatabaseError, StatementInfo

INSERT = "INSERT INTO adb_items (name, value) VALUES (:name, :value)"


async def test_statements_are_logged_with_duration_not_parameters(
    tables: Database, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="asyncdb")
    await tables.execute(INSERT, {"name": "secret-value-123", "value": 42})
    records = [r for r in caplog.records if r.name == "asyncdb" and "INSERT INTO" in r.getMessage()]
    assert len(records) == 1
    message = records[0].getMessage()
    assert "ms]" in message and "execute" in message
    assert "secret-value-123" not in caplog.text


async def test_hooks_wrap_each_statement(tables: Database) -> None:
    db = tables
    seen: list[StatementInfo] = []
    entered: list[str] = []

    @contextlib.contextmanager
    def hook(info: StatementInfo) -> Iterator[None]:
        entered.append(info.operation)
        try:
            yield
        finally:
            seen.append(info)

    db.add_hook(hook)
    try:
        await db.execute(INSERT, {"name": "a", "value": 1})
        await db.fetch_all("SELECT * FROM adb_items")
        with pytest.raises(DatabaseError):
            await db.execute("SELECT * FROM adb_nope")
    finally:
        db.remove_hook(hook)
    await db.fetch_all("SELECT 1")  # removed: not seen
    assert entered == ["execute", "fetch_all", "execute"]
    assert [i.operation for i in seen] == ["execute", "fetch_all", "execute"]
    assert all(i.duration is not None and i.duration >= 0 for i in seen)
    assert seen[0].rowcount == 1 and seen[0].parameters == ("a", 1)
    assert seen[1].rowcount == 1
    assert isinstance(seen[2].error, DatabaseError)
    assert seen[0].backend == db.features.backend


async def test_capture_queries_counts_this_task_tree_only(
    tables: Database, database_url: str
) -> None:
    db = tables
    async with Database(database_url) as other:
        async with db.capture_queries() as captured:
            await db.fetch_all("SELECT 1")
            await asyncio.gather(*(db.fetch_val("SELECT 2") for _ in range(3)))
            async with db.transaction():
                await db.execute(INSERT, {"name": "x", "value": 1})
            await other.fetch_all("SELECT 3")  # another database: not counted
        assert len(captured) == 7  # 1 + 3 + BEGIN + INSERT + COMMIT
        assert captured.statements[0] == "SELECT 1"
        assert "INSERT INTO adb_items" in captured.statements[5]
        async with db.capture_queries() as none:
            pass
        assert len(none) == 0
