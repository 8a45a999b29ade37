"""``qs.using("primary" | "replica")`` with read replicas: here the "replica" is a second
database holding different rows, so every answer shows which server gave it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

import orm
from asyncdb import Database

routing = orm.ModelRegistry()


class Shelf(orm.Model):
    registry = routing
    tablename = "orm_route_shelves"
    name = orm.String(max_length=20)


class Volume(orm.Model):
    registry = routing
    tablename = "orm_route_volumes"
    title = orm.String(max_length=20)
    shelf = orm.ForeignKey(Shelf, related_name="volumes")


async def _fill(url: str, label: str) -> None:
    async with Database(url) as db:
        await routing.drop_all(db)
        await routing.create_all(db)
        routing.database = db
        shelf = await Shelf.objects.create(name=label)
        await Volume.objects.create(title=f"{label}-1", shelf=shelf)


@pytest.fixture
async def routed(
    backend: str, database_url: str, private_database_url: str
) -> AsyncIterator[Database]:
    replica = private_database_url
    if backend == "sqlite":
        replica = database_url.replace("test.db", "replica.db")
    await _fill(database_url, "primary")
    await _fill(replica, "replica")
    db = Database(database_url, replicas=[replica])
    await db.connect()
    routing.database = db
    try:
        yield db
    finally:
        await db.disconnect()
        for url in (replica, database_url):
            async with Database(url) as cleanup:
                await routing.drop_all(cleanup)
        routing.database = None


async def test_querysets_read_from_replicas_unless_told(routed: Database) -> None:
    assert [s.name for s in await Shelf.objects.all()] == ["replica"]
    assert [s.name for s in await Shelf.objects.using("primary")] == ["primary"]
    assert await Shelf.objects.using("primary").count() == 1
    assert (await Shelf.objects.using("primary").get()).name == "primary"
    assert [s.name async for s in Shelf.objects.using("primary")] == ["primary"]
    (shelf,) = await Shelf.objects.using("primary").prefetch_related("volumes")
    assert [v.title for v in shelf.volumes] == ["primary-1"]  # the prefetch followed
    (shelf,) = await Shelf.objects.prefetch_related("volumes")
    assert [v.title for v in shelf.volumes] == ["replica-1"]
    # Writes always go to the primary; in a transaction reads do too.
    await Shelf.objects.create(name="new")
    assert await Shelf.objects.using("primary").filter(name="new").exists()
    assert not await Shelf.objects.filter(name="new").exists()
    async with routed.transaction():
        assert await Shelf.objects.filter(name="new").exists()


def test_using_names_the_choices() -> None:
    with pytest.raises(ValueError, match="'primary' or 'replica'"):
        Shelf.objects.using("secondary")
