"""The QuerySet API on every backend."""

from __future__ import annotations

import decimal
from types import SimpleNamespace

import pytest
from orm_models import Item, Status

import asyncdb
import orm
from asyncdb import Database, IntegrityError
from orm import F


def titles(objs: list[Item]) -> list[str]:
    return [o.title for o in objs]


async def test_all_await_and_iteration(items: list[Item]) -> None:
    qs = Item.objects.order_by("views")
    assert titles(await qs) == titles(await qs.all())
    assert titles(await qs) == ["alpha", "beta", "gamma", "delta", "Epsilon"]
    streamed = [item.title async for item in qs]
    assert streamed == titles(await qs)


async def test_streaming_is_chunked(items: list[Item], db: Database) -> None:
    await Item.objects.bulk_create([Item(title=f"n{i}", views=i) for i in range(1200)])
    seen = 0
    async for item in Item.objects.filter(title__startswith="n"):
        assert isinstance(item, Item)
        seen += 1
        if seen == 3:
            # another query inside the loop works: the stream has its own connection
            assert await Item.objects.filter(title="alpha").exists()
    assert seen == 1200


async def test_querysets_are_immutable(items: list[Item]) -> None:
    base = Item.objects.filter(views__gte=20)
    narrowed = base.filter(active=True)
    ordered = base.order_by("-views")
    assert await base.count() == 4
    assert await narrowed.count() == 3
    assert titles(await ordered) == ["Epsilon", "delta", "gamma", "beta"]
    assert await base.count() == 4
    assert sorted(titles(await base)) == sorted(titles(await base))


async def test_filter_exclude_and_chaining(items: list[Item]) -> None:
    qs = Item.objects.filter(active=True).exclude(title="beta").order_by("id")
    assert titles(await qs) == ["alpha", "delta", "Epsilon"]
    assert titles(await Item.objects.filter(views__gt=10, views__lt=40).order_by("id")) == [
        "beta",
        "gamma",
    ]


async def test_exclude_keeps_null_rows(items: list[Item]) -> None:
    # rating is NULL for gamma: NOT (rating = 1.5) must still keep it
    result = await Item.objects.exclude(rating=1.5).order_by("id")
    assert titles(result) == ["beta", "gamma", "delta", "Epsilon"]
    assert titles(await Item.objects.exclude(genre="sf").order_by("id")) == [
        "beta",
        "gamma",
        "Epsilon",
    ]


async def test_get_no_match_multiple(items: list[Item]) -> None:
    assert (await Item.objects.get(title="beta")).views == 20
    assert (await Item.objects.filter(views=30).get()).title == "gamma"
    with pytest.raises(orm.NoMatch, match="Item"):
        await Item.objects.get(title="nope")
    with pytest.raises(orm.MultipleMatches, match="more than one"):
        await Item.objects.get(active=True)


async def test_first_last(items: list[Item], models: SimpleNamespace) -> None:
    assert (await Item.objects.first()).title == "alpha"  # type: ignore[union-attr]
    assert (await Item.objects.last()).title == "Epsilon"  # type: ignore[union-attr]
    ordered = Item.objects.order_by("-views", "title")
    assert (await ordered.first()).title == "Epsilon"  # type: ignore[union-attr]
    assert (await ordered.last()).title == "alpha"  # type: ignore[union-attr]
    assert await Item.objects.filter(title="none").first() is None
    assert await Item.objects.filter(title="none").last() is None


async def test_order_by_multiple_and_f(items: list[Item]) -> None:
    qs = Item.objects.order_by("-active", "genre", "-views")
    result = await qs.values_list("title", flat=True)
    # active first; within active the genre order puts NULL first or last per backend, so
    # check only the relative order inside the "sf" genre
    sf = [t for t in result if t in {"alpha", "delta"}]
    assert sf == ["delta", "alpha"]
    assert result[-1] == "gamma"
    by_expr = await Item.objects.order_by(orm.F("views").desc()).values_list("title", flat=True)
    assert by_expr[0] == "Epsilon"
    by_pk = await Item.objects.order_by("-pk").values_list("title", flat=True)
    assert by_pk[0] == "Epsilon"


async def test_limit_offset_slicing(items: list[Item]) -> None:
    qs = Item.objects.order_by("views")
    assert titles(await qs.limit(2)) == ["alpha", "beta"]
    assert titles(await qs.offset(3)) == ["delta", "Epsilon"]
    assert titles(await qs[1:3]) == ["beta", "gamma"]
    assert titles(await qs[1:][1:2]) == ["gamma"]
    assert titles(await qs[:4][2:]) == ["gamma", "delta"]
    assert titles(await qs[3:3]) == []
    assert await qs[1:3].count() == 2
    assert await qs[10:].exists() is False
    with pytest.raises(TypeError, match="slices only"):
        qs[1]  # type: ignore[call-overload]
    with pytest.raises(TypeError):
        qs[-1:]


async def test_distinct_values_values_list(items: list[Item]) -> None:
    genres = await Item.objects.filter(genre__isnull=False).distinct().values_list("genre")
    assert sorted(tuple(g) for g in genres) == [("poetry",), ("sf",)]
    assert await Item.objects.values("genre").distinct().count() == 3
    rows = await Item.objects.filter(title="alpha").values()
    assert rows == [
        {
            "id": items[0].id,
            "title": "alpha",
            "views": 10,
            "rating": 1.5,
            "price": decimal.Decimal("1.10"),
            "active": True,
            "status": Status.DRAFT,
            "genre": "sf",
        }
    ]
    pairs = await Item.objects.order_by("views").values_list("title", "views")
    assert pairs[:2] == [("alpha", 10), ("beta", 20)]
    flat = await Item.objects.order_by("views").values_list("views", flat=True)
    assert flat == [10, 20, 30, 40, 50]
    streamed = [row async for row in Item.objects.order_by("views").values("title")]
    assert streamed[0] == {"title": "alpha"}
    with pytest.raises(orm.FieldError):
        Item.objects.values_list("title", "views", flat=True)


async def test_only_and_defer(items: list[Item]) -> None:
    item = await Item.objects.only("title").get(title="alpha")
    assert item.title == "alpha" and item.pk == items[0].pk
    with pytest.raises(orm.FieldNotLoaded, match=r"Item\.views was not loaded"):
        _ = item.views
    deferred = await Item.objects.defer("views", "rating").get(title="alpha")
    assert deferred.price == decimal.Decimal("1.10")
    with pytest.raises(AttributeError):
        _ = deferred.rating
    # saving a partly loaded instance writes only the loaded fields
    deferred.title = "alpha2"
    await deferred.save()
    reloaded = await Item.objects.get(pk=items[0].pk)
    assert (reloaded.title, reloaded.views, reloaded.rating) == ("alpha2", 10, 1.5)
    await deferred.load()
    assert deferred.views == 10


async def test_count_exists(items: list[Item]) -> None:
    assert await Item.objects.count() == 5
    assert await Item.objects.filter(active=False).count() == 1
    assert await Item.objects.filter(views__gt=100).exists() is False
    assert await Item.objects.exists() is True


async def test_create_and_instance_lifecycle(models: SimpleNamespace, db: Database) -> None:
    item = await Item.objects.create(title="new", views=3)
    assert isinstance(item.pk, int) and item.id == item.pk
    item.views = 4
    async with db.capture_queries() as captured:
        await item.save()
    assert len(captured) == 1 and captured.statements[0].lstrip().upper().startswith("UPDATE")
    assert (await Item.objects.get(pk=item.pk)).views == 4
    await Item.objects.filter(pk=item.pk).update(views=9)
    assert item.views == 4
    assert (await item.load()).views == 9
    same = await Item.objects.get(pk=item.pk)
    assert same == item and hash(same) == hash(item) and same is not item
    assert repr(item) == f"<Item: id={item.pk}>"
    assert item.to_dict()["views"] == 9
    await item.delete()
    assert item.pk is None
    assert await Item.objects.count() == 0
    with pytest.raises(orm.NoMatch):
        await same.load()


async def test_save_new_and_with_explicit_key(models: SimpleNamespace) -> None:
    item = Item(title="fresh")
    assert item.pk is None and item.views == 0
    await item.save()
    assert item.pk is not None
    explicit = Item(id=1000, title="thousand")
    await explicit.save()  # UPDATE matches nothing, then INSERT
    assert (await Item.objects.get(id=1000)).title == "thousand"
    explicit.title = "changed"
    await explicit.save(update_fields=["title"])
    assert (await Item.objects.get(id=1000)).title == "changed"
    with pytest.raises(IntegrityError):
        await Item.objects.create(id=1000, title="dup")


async def test_bulk_create_sets_keys(models: SimpleNamespace, db: Database) -> None:
    objs = [Item(title=f"b{i}", views=i) for i in range(250)]
    async with db.capture_queries() as captured:
        created = await Item.objects.bulk_create(objs, batch_size=100)
    assert len(captured) == 3  # one statement per chunk
    assert created == objs
    keys = [o.pk for o in objs]
    assert None not in keys and len(set(keys)) == 250
    by_key = {row[0]: row[1] for row in await Item.objects.values_list("id", "views")}
    assert all(by_key[o.pk] == o.views for o in objs)


async def test_bulk_create_with_given_keys(models: SimpleNamespace) -> None:
    await Item.objects.bulk_create([Item(id=7, title="seven"), Item(title="auto")])
    assert (await Item.objects.get(id=7)).title == "seven"
    assert await Item.objects.count() == 2


async def test_bulk_update(items: list[Item], db: Database) -> None:
    for item in items:
        item.views += 1
        item.title = item.title.upper()
    async with db.capture_queries() as captured:
        count = await Item.objects.bulk_update(items, ["views"])
    assert count == 5 and len(captured) == 1
    rows = await Item.objects.order_by("id").values_list("title", "views")
    assert [tuple(r) for r in rows][:2] == [("alpha", 11), ("beta", 21)]


async def test_update_and_delete_return_counts(items: list[Item]) -> None:
    assert await Item.objects.filter(views__gte=30).update(active=False) == 3
    # rows matched, even when the value does not change
    assert await Item.objects.filter(views__gte=30).update(active=False) == 3
    assert await Item.objects.filter(active=False).count() == 3
    assert await Item.objects.filter(views__lt=25).delete() == 2
    assert await Item.objects.count() == 3
    with pytest.raises(orm.FieldError, match="sliced"):
        await Item.objects[:1].delete()
    assert await Item.objects.update(views=orm.F("views") * 2 + 1) == 3
    assert sorted(await Item.objects.values_list("views", flat=True)) == [61, 81, 101]


async def test_update_with_f_is_atomic(models: SimpleNamespace, db: Database) -> None:
    import asyncio

    item = await Item.objects.create(title="hits", views=0)
    qs = Item.objects.filter(pk=item.pk)
    await asyncio.gather(*(qs.update(views=orm.F("views") + 1) for _ in range(20)))
    assert (await item.load()).views == 20


async def test_get_or_create_and_update_or_create(models: SimpleNamespace) -> None:
    obj, created = await Item.objects.get_or_create(title="x", defaults={"views": 5})
    assert created and obj.views == 5
    again, created = await Item.objects.get_or_create(title="x", defaults={"views": 6})
    assert not created and again == obj and again.views == 5
    updated, created = await Item.objects.update_or_create(title="x", defaults={"views": 7})
    assert not created and updated.views == 7 and (await obj.load()).views == 7
    fresh, created = await Item.objects.update_or_create(title="y", defaults={"views": 1})
    assert created and fresh.views == 1


async def test_get_or_create_race_on_unique(models: SimpleNamespace) -> None:
    import asyncio

    Author = models.Author
    results = await asyncio.gather(*(Author.objects.get_or_create(name="ann") for _ in range(5)))
    assert sum(created for _, created in results) == 1
    assert len({obj.pk for obj, _ in results}) == 1


async def test_transactions_cover_orm_calls(models: SimpleNamespace, db: Database) -> None:
    with pytest.raises(RuntimeError):
        async with db.transaction():
            await Item.objects.create(title="rolled back")
            await Item.objects.filter(title="rolled back").update(views=3)
            raise RuntimeError
    assert await Item.objects.count() == 0
    async with db.transaction():
        await Item.objects.create(title="kept")
    assert await Item.objects.count() == 1


@pytest.mark.backends("postgresql", "mysql")
async def test_select_for_update_locks(models: SimpleNamespace, db: Database) -> None:
    item = await Item.objects.create(title="locked")
    qs = Item.objects.filter(pk=item.pk).select_for_update()
    assert "FOR UPDATE" in str(qs.statement.compile(dialect=db.dialect))
    async with db.transaction():
        locked = await qs.get()
        locked.views = 1
        await locked.save()
    other = await Item.objects.select_for_update(skip_locked=True).filter(pk=item.pk).all()
    assert len(other) == 1


@pytest.mark.backends("sqlite")
async def test_select_for_update_is_a_noop_on_sqlite(models: SimpleNamespace, db: Database) -> None:
    await Item.objects.create(title="t")
    async with db.transaction():
        assert len(await Item.objects.select_for_update().all()) == 1


async def test_using_another_database(models: SimpleNamespace, db: Database) -> None:
    await Item.objects.using(db).create(title="via using")
    assert await Item.objects.using(db).count() == 1


async def test_no_database_is_a_clear_error() -> None:
    class Lonely(orm.Model):
        registry = orm.ModelRegistry()
        tablename = "orm_lonely"

    with pytest.raises(orm.ORMError, match="no database"):
        await Lonely.objects.count()


async def test_same_shape_different_values(items: list[Item], db: Database) -> None:
    # querysets of one shape share a compiled statement; each binds its own values
    for views, title in [(10, "alpha"), (20, "beta"), (50, "Epsilon")]:
        assert (await Item.objects.get(views=views)).title == title
    for keys, expected in [([10], 1), ([10, 20, 30], 3), ([], 0), ([99, 10], 1)]:
        assert await Item.objects.filter(views__in=keys).count() == expected
        assert len(await Item.objects.filter(views__in=keys)) == expected
    assert len(await Item.objects.filter(rating=None)) == 1
    assert len(await Item.objects.filter(rating=1.5)) == 1
    assert len(await Item.objects.filter(rating__isnull=True)) == 1
    assert len(await Item.objects.filter(rating__isnull=False)) == 4
    assert [i.title for i in await Item.objects.order_by("views")[1:2]] == ["beta"]
    assert [i.title for i in await Item.objects.order_by("views")[3:4]] == ["delta"]
    assert [i.title for i in await Item.objects.filter(title__startswith="b")] == ["beta"]
    assert [i.title for i in await Item.objects.filter(title__startswith="d")] == ["delta"]
    async with db.capture_queries() as captured:
        await Item.objects.get(views=10)
        await Item.objects.get(views=20)
    assert captured.statements[0] == captured.statements[1]


async def test_in_lists_of_every_size(models: SimpleNamespace) -> None:
    await Item.objects.bulk_create([Item(title=f"t{i}", views=i) for i in range(300)])
    for size in (1, 2, 3, 5, 8, 9, 100, 256, 257, 300):
        keys = list(range(size))
        assert await Item.objects.filter(views__in=keys).count() == size
        assert len(await Item.objects.filter(views__in=keys)) == size
        assert len(await Item.objects.filter(views__in=set(keys))) == size
        assert len(await Item.objects.filter(views__in=(k for k in keys))) == size
    assert len(await Item.objects.filter(views__in=[1, 1, 1])) == 1


async def test_values_dicts_generated_per_shape(items: list[Item]) -> None:
    # values() builds each dict with generated code: keys in the order asked, annotations
    # converted, one() (streaming) and many() alike; a row of another width is an error
    from orm.hydration import Hydrator

    qs = Item.objects.order_by("views").values("views", "title").annotate(double=F("views") * 2)
    rows = await qs
    assert rows[0] == {"views": 10, "title": "alpha", "double": 20}
    assert [list(r) for r in rows[:1]] == [["views", "title", "double"]]
    assert [r async for r in qs] == rows
    odd = Hydrator.for_values("dicts", ["it's", 'q"uote', "x y"], [None, None, None])
    assert odd.one((1, 2, 3)) == {"it's": 1, 'q"uote': 2, "x y": 3}
    assert odd.many([(1, 2, 3)]) == [{"it's": 1, 'q"uote': 2, "x y": 3}]
    with pytest.raises(ValueError):
        odd.many([(1, 2)])
    with pytest.raises(ValueError):
        odd.one((1, 2, 3, 4))


async def test_model_hydration_reads_exact_rows_and_prefixes(items: list[Item]) -> None:
    from orm.hydration import Hydrator

    names = Item._meta.attnames
    hydrator = Hydrator.for_models(Item, names, [], [], None)  # type: ignore[arg-type]
    row = tuple(getattr(items[0], n) for n in names)
    assert hydrator.many([row])[0] == items[0] and hydrator.many([row])[0].title == "alpha"
    # one() also takes rows with extra trailing columns (the many-to-many prefetch's link key)
    assert hydrator.one((*row, "extra")).__dict__ == hydrator.one(row).__dict__


async def test_get_fast_path_same_results_errors_and_queries(
    items: list[Item], db: Database
) -> None:
    # Model.objects.get(field=value) with plain values skips Q/clone/shape work once its shape
    # is known: same statement count, results, validation and error messages as the full path
    selects = Item._meta.selects
    for _ in range(2):  # the first call compiles and remembers the shape, the second is fast
        async with db.capture_queries() as captured:
            got = await Item.objects.get(id=items[1].id)
            by_pk = await Item.objects.get(pk=items[2].pk)
            two = await Item.objects.get(views=40, title="delta")
        assert len(captured) == 3
        assert (got.title, by_pk.title, two.title) == ("beta", "gamma", "delta")
        assert got == items[1] and got.price == decimal.Decimal("2.20")
        with pytest.raises(orm.NoMatch, match=r"^Item matching Q\(id=-1\) does not exist$"):
            await Item.objects.get(id=-1)
        with pytest.raises(orm.MultipleMatches, match="more than one row"):
            await Item.objects.get(genre="sf")
        with pytest.raises(orm.ValidationError):
            await Item.objects.get(views="many")
    assert ("get", "id") in selects and ("get", "title", "views") in selects
    # values that change the SQL, refined querysets and Q arguments take the full path
    assert (await Item.objects.get(rating=None)).title == "gamma"
    assert (await Item.objects.get(active=False)).title == "gamma"
    assert (await Item.objects.get(id__in=[items[0].id])).title == "alpha"
    assert (await Item.objects.filter(views__gt=35).get(genre="sf")).title == "delta"
    assert (await Item.objects.using(db).get(id=items[3].id)).title == "delta"
    assert (await Item.objects.get(orm.Q(id=items[4].id))).title == "Epsilon"
    # a value that changes the SQL has its own entry (rating=None: IS NULL, no parameter)
    assert ("get", ("rating", "null")) in selects and ("get", "rating") not in selects


async def test_values_list_rows_are_plain_tuples(items: list[Item]) -> None:
    rows = await Item.objects.order_by("views").values_list("title", "views")
    assert rows[:2] == [("alpha", 10), ("beta", 20)]
    assert {type(row) for row in rows} == {tuple}
    streamed = [row async for row in Item.objects.order_by("views").values_list("title")]
    assert streamed[:2] == [("alpha",), ("beta",)] and type(streamed[0]) is tuple
    doubled = await Item.objects.order_by("views").annotate(d=F("views") * 2).values_list("d")
    assert doubled[:2] == [(20,), (40,)] and type(doubled[0]) is tuple


async def test_values_list_named_rows_read_by_name(items: list[Item]) -> None:
    rows = await Item.objects.order_by("views").values_list("title", "views", named=True)
    first = rows[0]
    assert isinstance(first, asyncdb.Row) and first == ("alpha", 10)
    assert (first.title, first["views"], first.keys()) == ("alpha", 10, ["title", "views"])
    streamed = [r async for r in Item.objects.order_by("views").values_list("views", named=True)]
    assert streamed[0].views == 10
    annotated = await (
        Item.objects.order_by("views")
        .annotate(d=F("views") * 2)
        .values_list("title", "d", named=True)
    )
    assert isinstance(annotated[0], asyncdb.Row)
    assert (annotated[0].title, annotated[0].d) == ("alpha", 20)


async def test_values_list_flat_and_named_are_exclusive(items: list[Item]) -> None:
    with pytest.raises(orm.FieldError, match="flat=True or named=True"):
        Item.objects.values_list("title", flat=True, named=True)
    assert await Item.objects.order_by("views").annotate(d=F("views") * 2).values_list(
        "d", flat=True
    ) == [20, 40, 60, 80, 100]
