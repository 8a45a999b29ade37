"""The orm's caches live on each model's ``_meta`` and are bounded: a model that is dropped is
freed with them, eviction under any number of shapes never changes a result, clearing them
while queries are in flight is harmless, and generated code reads well in tracebacks."""

from __future__ import annotations

import asyncio
import gc
import random
import traceback
import weakref
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from orm_models import Item

import orm
from asyncdb import Database
from asyncdb.cache import BoundedCache


async def _use_and_drop(db: Database) -> list[weakref.ref[Any]]:
    """Define models in a function, run every kind of statement through them, drop them."""
    shelves_registry = orm.ModelRegistry(database=db)

    class Shelf(orm.Model):
        registry = shelves_registry
        tablename = "orm_gc_shelves"
        name = orm.String(max_length=20)

    class Volume(orm.Model):
        registry = shelves_registry
        tablename = "orm_gc_volumes"
        title = orm.String(max_length=20)
        shelf = orm.ForeignKey(Shelf, related_name="volumes", null=True)
        pages = orm.Integer(default=1)

    await shelves_registry.drop_all()
    await shelves_registry.create_all()
    try:
        shelf = await Shelf.objects.create(name="top")
        await Volume.objects.bulk_create([Volume(title=f"v{i}", shelf=shelf) for i in range(3)])
        async for volume in Volume.objects.order_by("id"):  # streamed, left early
            assert volume.title == "v0"
            orm.clear_caches()  # its statement dropped while the stream is open
            break
        one = await Volume.objects.get(title="v1")
        one = await Volume.objects.get(title="v1")  # the get fast path
        one.pages = 5
        await one.save()
        await one.load()
        assert await Volume.objects.filter(pages__gt=1).count() == 1
        assert await Volume.objects.filter(title__in=["v0", "v2"]).exists()
        assert len(await Volume.objects.select_related("shelf").order_by("id")) == 3
        shelves = await Shelf.objects.prefetch_related("volumes")
        assert len(shelves[0].volumes) == 3
        assert await Volume.objects.values_list("title", flat=True).order_by("-id")
        assert await Volume.objects.filter(title="v0").update(pages=2) == 1
        await one.delete()
        assert await Volume.objects.filter(pages=2).delete() == 1
        assert Volume._meta.selects and Volume._meta.statements and Volume._meta.leaves
    finally:
        await shelves_registry.drop_all()
    return [weakref.ref(Shelf), weakref.ref(Volume), weakref.ref(shelves_registry)]


async def test_a_dropped_model_is_freed_with_its_caches(db: Database) -> None:
    refs = await _use_and_drop(db)
    gc.collect()
    assert [ref() for ref in refs] == [None, None, None]
    # the database that ran its statements is still in use, and still works
    assert await db.fetch_val("SELECT 1") == 1


async def test_clear_caches_empties_every_models_caches(items: list[Item]) -> None:
    assert await Item.objects.get(title="beta")
    assert await Item.objects.filter(views__gt=1).count() == 5
    meta = Item._meta
    assert len(meta.selects) and len(meta.statements) and len(meta.leaves)
    orm.clear_caches()
    assert (len(meta.selects), len(meta.statements), len(meta.leaves)) == (0, 0, 0)
    assert (await Item.objects.get(title="beta")).views == 20
    assert await Item.objects.filter(views__gt=15).count() == 4


@pytest.fixture
def tiny_caches() -> Iterator[None]:
    """Item's caches with room for two entries each, restored afterwards."""
    meta = Item._meta
    saved = meta.selects, meta.statements, meta.leaves
    meta.selects = BoundedCache("orm.selects", 2)
    meta.statements = BoundedCache("orm.statements", 2)
    meta.leaves = BoundedCache("orm.leaves", 2)
    try:
        yield
    finally:
        meta.selects, meta.statements, meta.leaves = saved


ALL = {"alpha", "beta", "gamma", "delta", "Epsilon"}


def _queries(rng: random.Random) -> list[tuple[dict[str, Any], Any]]:
    """(lookups, the matching titles of the ``items`` fixture, or a filter of them)."""
    rows = {"alpha": 10, "beta": 20, "gamma": 30, "delta": 40, "Epsilon": 50}
    ratings = {"alpha": 1.5, "beta": 2.5, "gamma": None, "delta": 4.0, "Epsilon": 5.0}
    out: list[tuple[dict[str, Any], Any]] = []
    for _ in range(60):
        kind = rng.randrange(7)
        if kind == 0:
            size = rng.choice([1, 2, 3, 5, 9, 17, 300])
            wanted = [rng.choice([10, 20, 30, 40, 50, 99]) for _ in range(size)]
            out.append(({"views__in": wanted}, {t for t, v in rows.items() if v in wanted}))
        elif kind == 1:
            flag = rng.choice([True, False])
            out.append(
                ({"rating__isnull": flag}, {t for t, r in ratings.items() if (r is None) is flag})
            )
        elif kind == 2:
            low = rng.choice([0, 15, 35, 60])
            out.append(({"views__gt": low}, {t for t, v in rows.items() if v > low}))
        elif kind == 3:
            value = rng.choice([None, 1.5, 4.0])
            out.append(({"rating": value}, {t for t, r in ratings.items() if r == value}))
        elif kind == 4:
            part = rng.choice(["a", "EL", "ps"])
            out.append(({"title__icontains": part}, {t for t in rows if part.lower() in t.lower()}))
        elif kind == 5:
            low, high = sorted(rng.sample([10, 20, 30, 40, 50], 2))
            out.append(
                ({"views__range": (low, high)}, {t for t, v in rows.items() if low <= v <= high})
            )
        else:
            low = rng.choice([5, 25, 45])
            out.append(
                (
                    {"views__gte": low, "title__startswith": "E"},
                    {t for t, v in rows.items() if v >= low and t.startswith("E")},
                )
            )
    return out


async def test_eviction_under_many_shapes_never_changes_a_result(
    items: list[Item], tiny_caches: None
) -> None:
    rng = random.Random(16)
    for lookups, expected in _queries(rng):
        qs = Item.objects.filter(**lookups)
        assert set(await qs.values_list("title", flat=True)) == expected, lookups
        assert await qs.count() == len(expected), lookups
        assert await qs.exists() is bool(expected), lookups
        # NULL ratings are kept by exclude() (a lookup on NULL is false, also negated)
        excluded = {i.title for i in await Item.objects.exclude(**lookups)}
        assert excluded == ALL - expected, lookups
        assert len(Item._meta.selects) <= 2 and len(Item._meta.statements) <= 2
        assert len(Item._meta.leaves) <= 2


async def test_concurrent_queries_of_many_shapes_while_caches_are_cleared(
    items: list[Item], tiny_caches: None
) -> None:
    rng = random.Random(7)
    queries = _queries(rng)
    stop = asyncio.Event()

    async def clear_repeatedly() -> None:
        while not stop.is_set():
            orm.clear_caches()
            await asyncio.sleep(0)

    async def run(lookups: dict[str, Any], expected: set[str]) -> None:
        got = await Item.objects.filter(**lookups).values_list("title", flat=True)
        assert set(got) == expected, lookups
        if len(lookups) == 1 and next(iter(lookups)) == "views__gt":
            # get() on the fast path, its shape dropped between two calls
            title = next(iter(expected), None)
            if title is not None:
                assert (await Item.objects.get(title=title)).title == title

    clearer = asyncio.create_task(clear_repeatedly())
    try:
        await asyncio.gather(*(run(lookups, expected) for lookups, expected in queries))
    finally:
        stop.set()
        await clearer


async def test_a_traceback_through_a_hydrator_shows_its_line(items: list[Item]) -> None:
    compiled, _ = Item.objects.filter(views__gt=1)._compile()
    with pytest.raises(ValueError) as info:
        compiled.hydrator.many([(1, "short row")])
    text = "".join(traceback.format_exception(info.value))
    assert "<orm hydrator Item: many #" in text
    assert "for (v0, v1, " in text  # the generated line that unpacks each row
    values, _ = Item.objects.values("title", "views")._compile()
    with pytest.raises(ValueError) as info:
        values.hydrator.one(("only one",))
    text = "".join(traceback.format_exception(info.value))
    assert "<orm values() hydrator: one #" in text and "(v0, v1, ) = row" in text


def test_a_traceback_through_a_generated_init_shows_its_line() -> None:
    counters = orm.ModelRegistry()

    def broken() -> int:
        raise RuntimeError("default failed")

    class Counter(orm.Model):
        registry = counters
        tablename = "orm_gc_counters"
        value = orm.Integer(default=broken)

    with pytest.raises(RuntimeError) as info:
        Counter()
    text = "".join(traceback.format_exception(info.value))
    assert "<orm: test_a_traceback_through_a_generated_init_shows_its_line.<locals>.Counter" in text
    assert "_self.value = _default1() if value is _ABSENT else value" in text


def test_statement_caches_are_per_model(models: SimpleNamespace) -> None:
    names = {"orm.leaves", "orm.selects", "orm.statements"}
    assert {Item._meta.selects.name, Item._meta.statements.name, Item._meta.leaves.name} == names
    other = models.Author._meta
    assert other.selects is not Item._meta.selects
