"""The plugin's fixtures used the way this project's own suites can use them.

``conftest.py`` overrides ``asyncdb_url`` with a session fixture parametrised over the three
backends (skipping unreachable servers as the rest of the suite does) and ``asyncdb_registry``
with the ``notes`` registry. Each test starts by checking the table is empty, then writes, so
any order proves isolation. Runs when the plugin is loaded (its entry point, or ``-p``).
"""

from __future__ import annotations

import asyncio

import pytest

import asyncdb
import orm
from tests.plugin.plugin_models import Note, notes


async def test_writes_are_rolled_back(asyncdb_database: asyncdb.Database) -> None:
    assert await Note.objects.count() == 0
    await Note.objects.create(text="one")
    await asyncdb_database.execute(
        f"INSERT INTO {Note._meta.tablename} (text) VALUES (:text)", {"text": "raw"}
    )
    assert await Note.objects.count() == 2


async def test_tasks_and_savepoints_are_rolled_back(asyncdb_database: asyncdb.Database) -> None:
    assert await Note.objects.count() == 0
    async with asyncdb_database.transaction(), asyncio.TaskGroup() as group:
        for i in range(4):
            group.create_task(Note.objects.create(text=f"task {i}"))
    with pytest.raises(LookupError):
        async with asyncdb_database.transaction():
            await Note.objects.create(text="undone")
            raise LookupError
    assert await Note.objects.count() == 4


async def test_models_are_bound_to_the_test_database(
    asyncdb_models: orm.ModelRegistry, asyncdb_database: asyncdb.Database
) -> None:
    assert asyncdb_models is notes
    assert notes.database is asyncdb_database
    assert await Note.objects.count() == 0
    await Note.objects.bulk_create([Note(text="a"), Note(text="b")])
    async with asyncdb_database.capture_queries() as captured:
        assert [n.text for n in await Note.objects.order_by("text")] == ["a", "b"]
    assert len(captured.statements) == 1


def test_registry_is_unbound_outside_the_fixture() -> None:
    assert notes.database is None
