"""Fields: every type round-trips the same Python value on every backend; bad values are
rejected before any SQL."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from orm_models import SAMPLE_DECIMAL, SAMPLE_TIME, Status

import orm
from asyncdb import Database

VALUES = {
    "integer": -(2**31),
    "big": 2**62 + 7,
    "small": -32768,
    "floating": 0.1,
    "money": SAMPLE_DECIMAL,
    "flag": False,
    "short": "Grüße, 世界 'quoted' \"double\" ;--",
    "text": "x" * 70_000,
    "day": dt.date(1999, 12, 31),
    "moment": SAMPLE_TIME,
    "clock": dt.time(23, 59, 58, 999999),
    "data": {"list": [1, 2.5, None, True, {"nested": ["a", {"deep": "é"}]}], "n": None},
    "uid": uuid.UUID("12345678-1234-5678-1234-567812345678"),
    "status": Status.GONE,
    "blob": bytes(range(256)) * 300,
}


async def test_every_type_round_trips(models: SimpleNamespace) -> None:
    created = await models.Everything.objects.create(**VALUES)
    loaded = await models.Everything.objects.get(id=created.id)
    for name, expected in VALUES.items():
        value = getattr(loaded, name)
        assert value == expected, name
        assert isinstance(value, type(expected)), name  # asyncpg: a uuid.UUID subclass
    assert loaded.moment.tzinfo is not None and loaded.moment.utcoffset() == dt.timedelta(0)
    assert loaded.money.as_tuple().exponent == -3
    # values()/values_list() go through the same type processing
    row = await models.Everything.objects.values_list("money", "moment", "status", "uid").get()
    assert tuple(row) == (SAMPLE_DECIMAL, SAMPLE_TIME, Status.GONE, VALUES["uid"])


async def test_nulls_round_trip(models: SimpleNamespace) -> None:
    created = await models.Everything.objects.create()
    loaded = await models.Everything.objects.get(id=created.id)
    assert all(getattr(loaded, name) is None for name in VALUES)


async def test_aware_datetime_in_other_zone_is_stored_as_utc(models: SimpleNamespace) -> None:
    plus_two = dt.timezone(dt.timedelta(hours=2))
    local = dt.datetime(2024, 1, 1, 12, 0, tzinfo=plus_two)
    created = await models.Everything.objects.create(moment=local)
    loaded = await models.Everything.objects.get(id=created.id)
    assert loaded.moment == local
    assert loaded.moment.hour == 10 and loaded.moment.tzinfo == dt.UTC
    # comparisons bind through the same conversion
    assert await models.Everything.objects.filter(
        moment__lt=local + dt.timedelta(seconds=1)
    ).count()


async def test_decimal_keeps_scale(models: SimpleNamespace) -> None:
    await models.Item.objects.create(title="x", price=decimal.Decimal("3"))
    item = await models.Item.objects.get(title="x")
    assert str(item.price) == "3.00"


async def test_enum_stored_by_name(models: SimpleNamespace, db: Database) -> None:
    await models.Item.objects.create(title="x", status="live")  # value accepted
    raw = await db.fetch_val("SELECT status FROM orm_items")
    assert raw == "LIVE"
    assert (await models.Item.objects.get()).status is Status.LIVE
    assert await models.Item.objects.filter(status=Status.LIVE).count() == 1
    assert await models.Item.objects.filter(status__in=["live", Status.DRAFT]).count() == 1


async def test_defaults_callables_and_auto_now(models: SimpleNamespace) -> None:
    before = dt.datetime.now(dt.UTC)
    stamped = await models.Stamped.objects.create(label="a")
    assert isinstance(stamped.code, uuid.UUID)
    assert stamped.counter == 7
    assert stamped.created >= before and stamped.updated >= before
    created = stamped.created
    stamped.label = "b"
    await stamped.save()
    again = await models.Stamped.objects.get(code=stamped.code)
    assert again.created == created
    assert again.updated > created
    assert again.label == "b"


async def test_db_column(models: SimpleNamespace, db: Database) -> None:
    await models.Stamped.objects.create(label="named")
    assert await db.fetch_val("SELECT label_text FROM orm_stamped") == "named"
    assert await models.Stamped.objects.values_list("label", flat=True) == ["named"]


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("title", 5, "expected str, got int"),
        ("title", "x" * 201, "201 characters is longer than max_length=200"),
        ("title", None, "null is not allowed"),
        ("views", "5", "expected int, got str"),
        ("views", True, "expected int"),
        ("views", 2**31, "out of range"),
        ("rating", "1.0", "expected float"),
        ("price", decimal.Decimal("1.234"), "more than 2 decimal places"),
        ("price", decimal.Decimal("1000000"), "more than 6 digits before the decimal point"),
        ("price", decimal.Decimal("NaN"), "not a finite number"),
        ("active", 1, "expected bool"),
        ("status", "nope", "is not a member of Status"),
        ("genre", "drama", "is not one of the choices"),
    ],
)
async def test_validation_errors(
    models: SimpleNamespace, db: Database, field: str, value: object, problem: str
) -> None:
    values = {"title": "ok", field: value}
    async with db.capture_queries() as captured:
        with pytest.raises(orm.ValidationError) as info:
            await models.Item.objects.create(**values)
    assert len(captured) == 0  # rejected before any SQL
    assert info.value.model == "Item" and info.value.field == field
    assert problem in str(info.value)
    assert str(info.value).startswith(f"Item.{field}: ")


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("moment", dt.datetime(2024, 1, 1), "naive"),
        ("day", dt.datetime(2024, 1, 1, tzinfo=dt.UTC), "expected datetime.date"),
        ("clock", dt.time(1, tzinfo=dt.UTC), "naive time"),
        ("uid", "not-a-uuid", "not a valid UUID"),
        ("data", {"x": object()}, "not JSON-serialisable"),
        ("blob", "text", "expected bytes"),
        ("small", 40000, "out of range"),
    ],
)
async def test_more_validation_errors(
    models: SimpleNamespace, field: str, value: object, problem: str
) -> None:
    with pytest.raises(orm.ValidationError, match=problem):
        await models.Everything.objects.create(**{field: value})


async def test_validation_on_save_bulk_create_update_and_bulk_update(
    models: SimpleNamespace, db: Database
) -> None:
    Item = models.Item
    item = await Item.objects.create(title="ok")
    item.views = "many"
    with pytest.raises(orm.ValidationError, match=r"Item\.views"):
        await item.save()
    async with db.capture_queries() as captured:
        with pytest.raises(orm.ValidationError, match=r"Item\.title"):
            await Item.objects.bulk_create([Item(title="fine"), Item(title=None)])
        with pytest.raises(orm.ValidationError, match=r"Item\.views"):
            await Item.objects.filter(title="ok").update(views=1.5)
        item.views = -1.5
        with pytest.raises(orm.ValidationError, match=r"Item\.views"):
            await Item.objects.bulk_update([item], ["views"])
    assert len(captured) == 0
    assert await Item.objects.count() == 1


def test_column_types_per_dialect() -> None:
    from orm_models import Everything
    from sqlalchemy.dialects import mysql, postgresql, sqlite
    from sqlalchemy.schema import CreateTable

    def ddl(dialect: sa.engine.Dialect) -> str:
        return str(CreateTable(Everything.table).compile(dialect=dialect))

    pg, my, lite = ddl(postgresql.dialect()), ddl(mysql.dialect()), ddl(sqlite.dialect())
    assert "TIMESTAMP WITH TIME ZONE" in pg and "JSONB" in pg and "UUID" in pg
    assert "DOUBLE PRECISION" in pg and "NUMERIC(12, 3)" in pg
    assert "DATETIME(6)" in my and "TIME(6)" in my and "DOUBLE" in my
    assert "COLLATE utf8mb4_0900_bin" in my and "LONGBLOB" in my
    assert "VARCHAR(5)" in lite  # enum stored by name, sized to the longest name
    assert "CREATE TYPE" not in pg
