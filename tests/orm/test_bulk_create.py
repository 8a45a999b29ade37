"""bulk_create on every backend: every column type round-trips, keys follow the objects' order,
chunks follow batch_size. On PostgreSQL the rows go as one array per column
(``INSERT ... SELECT ... FROM unnest(...)``) unless a column type cannot (JSON): both paths are
checked to give the same results."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from collections.abc import AsyncIterator
from types import SimpleNamespace

import pytest
from orm_models import SAMPLE_DECIMAL, SAMPLE_TIME, Status

import orm
from asyncdb import Database

bulk = orm.ModelRegistry()


class Wide(orm.Model):
    """Every field type an array can carry (all but JSON)."""

    registry = bulk
    tablename = "orm_bulk_wide"
    integer = orm.Integer(null=True)
    big = orm.BigInteger(null=True)
    small = orm.SmallInteger(null=True)
    floating = orm.Float(null=True)
    money = orm.Decimal(max_digits=12, decimal_places=3, null=True)
    flag = orm.Boolean(null=True)
    short = orm.String(max_length=50, null=True, db_column="short_text")
    text = orm.Text(null=True)
    day = orm.Date(null=True)
    moment = orm.DateTime(null=True)
    clock = orm.Time(null=True)
    uid = orm.UUID(null=True)
    status = orm.Enum(Status, null=True)
    blob = orm.Binary(null=True)


class Keyed(orm.Model):
    registry = bulk
    tablename = "orm_bulk_keyed"
    code = orm.UUID(primary_key=True, default=uuid.uuid4)
    label = orm.String(max_length=30)
    created = orm.DateTime(auto_now_add=True)


PLUS_TWO = dt.timezone(dt.timedelta(hours=2))
WIDE = {
    "integer": -(2**31),
    "big": 2**62 + 7,
    "small": -32768,
    "floating": 0.1,
    "money": SAMPLE_DECIMAL,
    "flag": False,
    "short": "Grüße, 世界 'quoted' \"double\" ;-- {a,b} NULL \\",
    "text": "x" * 70_000,
    "day": dt.date(1999, 12, 31),
    "moment": SAMPLE_TIME,
    "clock": dt.time(23, 59, 58, 999999),
    "uid": uuid.UUID("12345678-1234-5678-1234-567812345678"),
    "status": Status.GONE,
    "blob": bytes(range(256)) * 300,
}


@pytest.fixture
async def tables(db: Database) -> AsyncIterator[None]:
    bulk.database = db
    await bulk.drop_all()
    await bulk.create_all()
    try:
        yield
    finally:
        await bulk.drop_all()
        bulk.database = None


def _unnest_used(db: Database, statements: list[str]) -> bool:
    used = any("unnest" in s for s in statements)
    assert not used or db.features.backend == "postgresql"
    return used


async def test_every_type_round_trips(tables: None, db: Database) -> None:
    others = {
        "integer": 2**31 - 1,
        "flag": True,
        "money": decimal.Decimal("-0.001"),
        "moment": dt.datetime(2024, 1, 1, 12, 0, tzinfo=PLUS_TWO),
        "short": "",
        "blob": b"",
        "uid": "87654321-4321-8765-4321-876543218765",  # validated into a UUID
        "status": "live",  # the member's value, validated into the member
    }
    objs = [Wide(**WIDE), Wide(), Wide(**others)]
    async with db.capture_queries() as captured:
        await Wide.objects.bulk_create(objs)
    assert len(captured) == 1
    assert _unnest_used(db, list(captured)) == (db.features.backend == "postgresql")
    first, empty, third = [await Wide.objects.get(id=o.id) for o in objs]
    for name, expected in WIDE.items():
        value = getattr(first, name)
        assert value == expected and isinstance(value, type(expected)), name
    assert all(getattr(empty, name) is None for name in WIDE)
    assert third.moment == others["moment"] and third.moment.tzinfo == dt.UTC
    assert third.uid == uuid.UUID(str(others["uid"])) and third.status is Status.LIVE
    assert (third.integer, third.flag, third.money) == (2**31 - 1, True, others["money"])
    assert (third.short, third.blob) == ("", b"")
    # the objects hold the validated values, as after create()
    assert objs[2].status is Status.LIVE and isinstance(objs[2].uid, uuid.UUID)
    # Enum is stored by name, the datetime as UTC
    raw = await db.fetch_all("SELECT status FROM orm_bulk_wide ORDER BY id")
    assert [r[0] for r in raw] == ["GONE", None, "LIVE"]
    assert (
        await Wide.objects.filter(moment__lt=others["moment"] + dt.timedelta(seconds=1))
        .filter(moment__gt=others["moment"] - dt.timedelta(seconds=1))
        .count()
        == 1
    )


async def test_json_column_falls_back_and_round_trips(
    models: SimpleNamespace, db: Database
) -> None:
    Everything = models.Everything
    data = {"list": [1, 2.5, None, True, {"nested": ["a"]}], "n": None}
    objs = [Everything(integer=i, data=data if i % 2 else None) for i in range(5)]
    async with db.capture_queries() as captured:
        await Everything.objects.bulk_create(objs)
    assert not _unnest_used(db, list(captured))
    loaded = await Everything.objects.order_by("id")
    assert [(o.id, o.integer, o.data) for o in loaded] == [(o.id, o.integer, o.data) for o in objs]


async def test_keys_follow_the_objects_order(tables: None, db: Database) -> None:
    objs = [Wide(integer=i, short=f"s{i}") for i in range(1_000)]
    await Wide.objects.bulk_create(objs)
    keys = [o.id for o in objs]
    assert keys == sorted(keys) and len(set(keys)) == 1_000
    rows = await Wide.objects.order_by("id").values_list("id", "integer", "short")
    assert [tuple(r) for r in rows] == [(o.id, o.integer, o.short) for o in objs]


async def test_chunks_follow_batch_size(tables: None, db: Database) -> None:
    objs = [Wide(integer=i) for i in range(250)]
    async with db.capture_queries() as captured:
        await Wide.objects.bulk_create(objs, batch_size=100)
    assert len(captured) == 3
    assert [o.integer for o in await Wide.objects.order_by("id")] == list(range(250))
    assert [o.id for o in objs] == sorted(o.id for o in objs)
    if db.features.backend == "postgresql":  # one array per column: no parameter limit
        more = [Wide(integer=i, short="x", flag=True) for i in range(5_000)]
        async with db.capture_queries() as captured:
            await Wide.objects.bulk_create(more)
        assert len(captured) == 1 and _unnest_used(db, list(captured))
        assert await Wide.objects.filter(short="x").count() == 5_000
        # without batch_size: at most 10,000 rows per statement
        most = [Wide(integer=i, short="y") for i in range(10_001)]
        async with db.capture_queries() as captured:
            await Wide.objects.bulk_create(most)
        assert len(captured) == 2
        assert [o.id for o in most] == sorted(o.id for o in most)
        assert await Wide.objects.filter(short="y").count() == 10_001


async def test_mixed_columns_given_keys_and_defaults(tables: None, db: Database) -> None:
    given = uuid.UUID("00000000-0000-0000-0000-000000000001")
    before = dt.datetime.now(dt.UTC)
    objs = [Keyed(label="a"), Keyed(code=given, label="b"), Keyed(label="c")]
    await Keyed.objects.bulk_create(objs)
    assert objs[1].code == given and all(isinstance(o.code, uuid.UUID) for o in objs)
    assert all(o.created >= before for o in objs)
    loaded = {o.code: o.label for o in await Keyed.objects.all()}
    assert loaded == {o.code: o.label for o in objs}
    # explicit auto keys next to auto ones: two groups, two statements
    wides = [Wide(id=1_000, integer=1), Wide(integer=2), Wide(id=1_001, integer=3)]
    async with db.capture_queries() as captured:
        await Wide.objects.bulk_create(wides)
    assert len(captured) == 2
    assert wides[0].id == 1_000 and wides[2].id == 1_001 and wides[1].id is not None
    rows = await Wide.objects.order_by("integer").values_list("id", "integer")
    assert [tuple(r) for r in rows] == [(w.id, w.integer) for w in wides]


async def test_invalid_value_fails_before_any_sql(tables: None, db: Database) -> None:
    async with db.capture_queries() as captured:
        with pytest.raises(orm.ValidationError, match=r"Wide\.money"):
            await Wide.objects.bulk_create([Wide(money=1), Wide(money=decimal.Decimal("0.0001"))])
    assert len(captured) == 0
    assert await Wide.objects.count() == 0
