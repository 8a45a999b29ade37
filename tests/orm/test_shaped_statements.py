"""Statements reused by shape (count, exists, update, delete) and prebuilt single-row writes:
each call binds its own values, never the ones of the call that compiled the shape."""

from __future__ import annotations

import decimal

from orm_models import Item, Status

import orm


async def test_count_and_exists_bind_each_calls_values(items: list[Item]) -> None:
    for low, expected in ((0, 5), (25, 3), (45, 1), (60, 0), (15, 4)):
        assert await Item.objects.filter(views__gt=low).count() == expected
        assert await Item.objects.filter(views__gt=low).exists() is (expected > 0)
    assert await Item.objects.filter(views__gt=15, active=True).count() == 3
    assert await Item.objects.filter(views__gt=15, active=False).count() == 1


async def test_update_binds_each_calls_filter_and_values(items: list[Item]) -> None:
    assert await Item.objects.filter(views__lt=25).update(rating=7.0) == 2
    assert await Item.objects.filter(views__gt=35).update(rating=8.0) == 2
    assert await Item.objects.filter(views=30).update(rating=None, views=31) == 1
    assert await Item.objects.filter(views=31).update(rating=9.0, views=32) == 1
    got = {i.title: (i.views, i.rating) for i in await Item.objects.all()}
    assert got == {
        "alpha": (10, 7.0),
        "beta": (20, 7.0),
        "gamma": (32, 9.0),
        "delta": (40, 8.0),
        "Epsilon": (50, 8.0),
    }
    # The same shape with an expression, then with a plain value again.
    assert await Item.objects.filter(views__lt=25).update(views=orm.F("views") + 1) == 2
    assert await Item.objects.filter(views__lt=25).update(views=5) == 2
    assert sorted(await Item.objects.values_list("views", flat=True)) == [5, 5, 32, 40, 50]


async def test_update_validates_every_call(items: list[Item]) -> None:
    await Item.objects.filter(title="alpha").update(status=Status.LIVE)
    try:
        await Item.objects.filter(title="alpha").update(status="nope")
    except orm.ValidationError as exc:
        assert "status" in str(exc)
    else:
        raise AssertionError("an invalid value reached the database")
    assert (await Item.objects.get(title="alpha")).status is Status.LIVE


async def test_delete_binds_each_calls_values(items: list[Item]) -> None:
    assert await Item.objects.filter(views__gt=45).delete() == 1
    assert await Item.objects.filter(views__gt=25).delete() == 2
    assert sorted(i.title for i in await Item.objects.all()) == ["alpha", "beta"]


async def test_single_row_writes_use_each_objects_values(items: list[Item]) -> None:
    alpha, beta = items[0], items[1]
    alpha.views, beta.views = 11, 21
    beta.price = decimal.Decimal("3.30")
    await alpha.save()
    await beta.save()
    await alpha.save(update_fields=["views"])
    created = await Item.objects.create(title="zeta", views=60)
    other = await Item.objects.create(title="eta", views=70, rating=7.5)
    assert created.pk != other.pk
    await Item.objects.filter(pk=alpha.pk).update(views=99)
    await alpha.load()  # reload by key
    assert alpha.views == 99
    await beta.load()
    assert (beta.views, beta.price) == (21, decimal.Decimal("3.30"))
    await created.delete()
    got = {i.title: (i.views, i.price) for i in await Item.objects.all()}
    assert got["beta"] == (21, decimal.Decimal("3.30"))
    assert got["eta"] == (70, None)
    assert "zeta" not in got
    assert got["alpha"][0] == 99
