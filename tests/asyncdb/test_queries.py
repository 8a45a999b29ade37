from __future__ import annotations

import datetime as dt
import decimal
import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

from asyncdb import Database, ParameterError, ProgrammingError, Row

from .conftest import create_tables, drop_tables, items


async def test_text_queries(tables: Database) -> None:
    db = tables
    await db.execute(
        "INSERT INTO adb_items (name, value) VALUES (:name, :value)", {"name": "a", "value": 1}
    )
    await db.execute(
        "INSERT INTO adb_items (name, value) VALUES (:name, :value)", {"name": "b", "value": 2}
    )
    rows = await db.fetch_all(
        "SELECT name, value FROM adb_items WHERE value > :v ORDER BY name", {"v": 0}
    )
    assert [tuple(r) for r in rows] == [("a", 1), ("b", 2)]
    assert all(isinstance(r, Row) for r in rows)
    row = await db.fetch_one("SELECT name FROM adb_items WHERE value = :v", {"v": 2})
    assert row is not None and row.name == "b" and row["name"] == "b" and row[0] == "b"
    assert await db.fetch_one("SELECT name FROM adb_items WHERE value = :v", {"v": 99}) is None
    assert await db.fetch_val("SELECT count(*) FROM adb_items") == 2
    assert await db.fetch_val("SELECT name, value FROM adb_items WHERE value = 2", column=1) == 2
    assert (
        await db.fetch_val("SELECT name, value FROM adb_items WHERE value = 2", column="name")
        == "b"
    )
    assert await db.fetch_val("SELECT name FROM adb_items WHERE value = 99") is None


async def test_same_parameter_twice_and_literal_percent(tables: Database) -> None:
    db = tables
    await db.execute("INSERT INTO adb_items (name, value) VALUES ('100%', 5)")
    rows = await db.fetch_all(
        "SELECT name FROM adb_items "
        "WHERE value = :v OR value = :v + 0 AND name LIKE '%!%%' ESCAPE '!'",
        {"v": 5},
    )
    assert [r.name for r in rows] == ["100%"]


async def test_core_statements(tables: Database) -> None:
    db = tables
    await db.execute(sa.insert(items).values(name="a", value=1))
    await db.execute(sa.insert(items), {"name": "b", "value": 2})
    rows = await db.fetch_all(sa.select(items.c.name, items.c.value).order_by(items.c.id))
    assert [dict(r) for r in rows] == [{"name": "a", "value": 1}, {"name": "b", "value": 2}]
    result = await db.execute(
        sa.update(items).where(items.c.value > 0).values(value=items.c.value + 10)
    )
    assert result.rowcount == 2
    # Same statement shape, different values: the cached compilation binds the new values.
    for v in (11, 12):
        row = await db.fetch_one(sa.select(items.c.name).where(items.c.value == v))
        assert row is not None and row.name == {11: "a", 12: "b"}[v]
    result = await db.execute(sa.delete(items).where(items.c.name == "a"))
    assert result.rowcount == 1
    assert await db.fetch_val(sa.select(sa.func.count()).select_from(items)) == 1


async def test_in_lists_expand(tables: Database) -> None:
    db = tables
    await db.execute_many(sa.insert(items), [{"name": f"n{i}", "value": i} for i in range(10)])
    for wanted in ([1, 2, 3], [4], [5, 6, 7, 8, 9]):
        rows = await db.fetch_all(
            sa.select(items.c.value).where(items.c.value.in_(wanted)).order_by(items.c.value)
        )
        assert [r.value for r in rows] == wanted


async def test_insert_returning(tables: Database) -> None:
    db = tables
    if not db.features.supports_returning:
        pytest.skip("backend has no INSERT ... RETURNING")
    row = await db.fetch_one(
        sa.insert(items).values(name="r", value=7).returning(items.c.id, items.c.name)
    )
    assert row is not None and row.name == "r" and isinstance(row.id, int)
    rows = await db.fetch_all(
        sa.insert(items)
        .values([{"name": "r2", "value": 1}, {"name": "r3", "value": 2}])
        .returning(items.c.id)
    )
    assert len(rows) == 2 and rows[0].id < rows[1].id


async def test_lastrowid(tables: Database) -> None:
    db = tables
    result = await db.execute(sa.insert(items).values(name="x"))
    if db.features.backend == "postgresql":
        assert result.lastrowid is None
    else:
        assert result.lastrowid == await db.fetch_val(
            sa.select(items.c.id).where(items.c.name == "x")
        )


async def test_rowcount_means_matched_rows_everywhere(tables: Database) -> None:
    db = tables
    await db.execute_many(sa.insert(items), [{"name": f"n{i}", "value": 1} for i in range(4)])
    # Setting a value to what it already is still counts (MySQL would report 0 changed rows).
    result = await db.execute("UPDATE adb_items SET value = 1 WHERE value = 1")
    assert result.rowcount == 4
    result = await db.execute("UPDATE adb_items SET value = 2 WHERE value = 99")
    assert result.rowcount == 0
    result = await db.execute("DELETE FROM adb_items WHERE name IN ('n0', 'n1')")
    assert result.rowcount == 2


async def test_execute_many_is_one_batched_driver_call(
    tables: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tables
    calls: list[int] = []
    raw_cls = type((await db._pool_acquire()).raw)
    db._pool._in_use.clear()  # type: ignore[union-attr]
    original = raw_cls.execute_many

    async def counting(self, sql, args_list):  # type: ignore[no-untyped-def]
        calls.append(len(args_list))
        return await original(self, sql, args_list)

    monkeypatch.setattr(raw_cls, "execute_many", counting)
    await db.execute_many(sa.insert(items), [{"name": f"m{i}", "value": i} for i in range(1000)])
    await db.execute_many(
        "INSERT INTO adb_children (item_id, label) VALUES (:item_id, :label)",
        [{"item_id": 1, "label": str(i)} for i in range(50)],
    )
    assert calls == [1000, 50]
    assert await db.fetch_val("SELECT count(*) FROM adb_items") == 1000
    assert await db.fetch_val("SELECT count(*) FROM adb_children") == 50


async def test_parameter_errors_before_sending(tables: Database) -> None:
    db = tables
    async with db.capture_queries() as captured:
        with pytest.raises(ParameterError, match="missing value for parameter.*b"):
            await db.fetch_all("SELECT :a AS a, :b AS b", {"a": 1})
        with pytest.raises(ParameterError, match="unknown parameter.*zz"):
            await db.fetch_all("SELECT :a AS a", {"a": 1, "zz": 2})
        with pytest.raises(ParameterError, match="unknown parameter.*zz"):
            await db.fetch_all(
                sa.select(items).where(items.c.id == sa.bindparam("x")), {"x": 1, "zz": 2}
            )
        with pytest.raises(ParameterError, match="x"):
            await db.fetch_all(sa.select(items).where(items.c.id == sa.bindparam("x")))
        with pytest.raises(ParameterError, match="mapping"):
            await db.fetch_all("SELECT :a AS a", [1])  # type: ignore[arg-type]
        with pytest.raises(ParameterError, match="same keys"):
            await db.execute_many(sa.insert(items), [{"name": "a"}, {"name": "b", "value": 1}])
    assert len(captured) == 0


async def test_bad_query_type(db: Database) -> None:
    with pytest.raises(ProgrammingError, match="got int"):
        await db.fetch_all(42)  # type: ignore[arg-type]


async def test_sql_errors_are_programming_errors(db: Database) -> None:
    with pytest.raises(ProgrammingError):
        await db.fetch_all("SELECT * FROM adb_no_such_table")
    with pytest.raises(ProgrammingError):
        await db.execute("SELEC 1")


async def test_iterate_streams(tables: Database) -> None:
    db = tables
    await db.execute_many(sa.insert(items), [{"name": f"n{i:04}", "value": i} for i in range(1234)])
    seen = [
        row.value
        async for row in db.iterate(
            sa.select(items.c.value).order_by(items.c.value), chunk_size=100
        )
    ]
    assert seen == list(range(1234))
    seen_text = [
        r[0]
        async for r in db.iterate(
            "SELECT value FROM adb_items WHERE value < :n ORDER BY value", {"n": 5}
        )
    ]
    assert seen_text == [0, 1, 2, 3, 4]


async def test_queries_inside_iterate_and_early_break(tables: Database) -> None:
    db = tables
    await db.execute_many(sa.insert(items), [{"name": f"n{i}", "value": i} for i in range(50)])
    count = 0
    async for row in db.iterate("SELECT id, value FROM adb_items ORDER BY id", chunk_size=10):
        # Other statements run inside the loop, on another connection.
        await db.execute("UPDATE adb_items SET value = value + 100 WHERE id = :id", {"id": row.id})
        count += 1
        if count == 25:
            break
    # Leaving early released the iteration's connection.
    for _ in range(20):
        if db.pool_stats().in_use == 0:
            break
        await __import__("asyncio").sleep(0.01)
    assert db.pool_stats().in_use == 0
    assert await db.fetch_val("SELECT count(*) FROM adb_items WHERE value >= 100") == 25


async def test_iterate_inside_transaction(tables: Database) -> None:
    db = tables
    await db.execute_many(sa.insert(items), [{"name": f"n{i}", "value": i} for i in range(30)])
    async with db.transaction():
        async for row in db.iterate("SELECT id FROM adb_items ORDER BY id", chunk_size=7):
            await db.execute(
                "INSERT INTO adb_children (item_id, label) VALUES (:i, 'x')", {"i": row.id}
            )
        assert await db.fetch_val("SELECT count(*) FROM adb_children") == 30
    assert db.pool_stats().in_use == 0


async def test_ddl_constructs(db: Database) -> None:
    meta = sa.MetaData()
    t = sa.Table(
        "adb_ddl",
        meta,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("x", sa.String(10), index=True),
    )
    await create_tables(db, meta)
    try:
        (index,) = t.indexes
        await db.execute(sa.schema.CreateIndex(index))
        with pytest.raises(ProgrammingError):
            await db.execute(sa.schema.CreateIndex(index))  # exists already
        await db.execute(sa.schema.DropIndex(index))
        await db.execute(sa.insert(t).values(x="y"))
        assert await db.fetch_val(sa.select(t.c.x)) == "y"
    finally:
        await drop_tables(db, meta)


class Mood(__import__("enum").Enum):
    happy = "happy"
    sad = "sad"


types_meta = sa.MetaData()
typed = sa.Table(
    "adb_types",
    types_meta,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("i", sa.Integer),
    sa.Column("bi", sa.BigInteger),
    sa.Column("f", sa.Float),
    sa.Column("n", sa.Numeric(12, 3)),
    sa.Column("b", sa.Boolean),
    sa.Column("s", sa.String(50)),
    sa.Column("t", sa.Text),
    sa.Column("d", sa.Date),
    # MySQL keeps fractional seconds only with an explicit precision (docs/asyncdb.md).
    sa.Column("dt", sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql")),
    sa.Column(
        "dtz",
        sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6, timezone=True), "mysql"),
    ),
    sa.Column("tm", sa.Time().with_variant(mysql.TIME(fsp=6), "mysql")),
    sa.Column("j", sa.JSON),
    sa.Column("u", sa.Uuid),
    sa.Column("lb", sa.LargeBinary),
    sa.Column("e", sa.Enum(Mood, native_enum=False, length=10)),
)


async def test_types_round_trip_identically(db: Database) -> None:
    await create_tables(db, types_meta)
    try:
        values = {
            "i": -7,
            "bi": 2**62,
            "f": 1.5,
            "n": decimal.Decimal("1234.500"),
            "b": True,
            "s": "héllo ✓",
            "t": "x" * 5000,
            "d": dt.date(2024, 2, 29),
            "dt": dt.datetime(2024, 2, 29, 13, 14, 15, 123456),
            "dtz": dt.datetime(
                2024, 2, 29, 13, 14, 15, 123456, tzinfo=dt.timezone(dt.timedelta(hours=2))
            ),
            "tm": dt.time(13, 14, 15, 250000),
            "j": {"a": [1, 2, {"b": None}], "c": "d", "e": 1.5, "f": True},
            "u": uuid.uuid4(),
            "lb": bytes(range(256)),
            "e": Mood.sad,
        }
        await db.execute(sa.insert(typed).values(id=1, **values))
        await db.execute(sa.insert(typed).values(id=2))
        row = await db.fetch_one(sa.select(typed).where(typed.c.id == 1))
        assert row is not None
        for key, expected in values.items():
            got = row[key]
            assert got == expected, key
            assert type(got) is type(expected) or isinstance(got, type(expected)), (key, type(got))
        assert row.dtz.tzinfo is not None and row.dtz.utcoffset() == dt.timedelta(0)
        assert row.dt.tzinfo is None
        assert str(row.n) == "1234.500"
        nulls = await db.fetch_one(sa.select(typed).where(typed.c.id == 2))
        assert nulls is not None and all(nulls[k] is None for k in values)
        # Filtering by a typed value binds it through the same conversion.
        assert await db.fetch_val(sa.select(typed.c.id).where(typed.c.u == values["u"])) == 1
        assert await db.fetch_val(sa.select(typed.c.id).where(typed.c.dtz == values["dtz"])) == 1
        assert await db.fetch_val(sa.select(typed.c.id).where(typed.c.e == Mood.sad)) == 1
        # fetch_records: the same values by position, converted the same way, without Rows.
        query = sa.select(typed).order_by(typed.c.id)
        rows = await db.fetch_all(query)
        records = await db.fetch_records(query)
        assert not any(isinstance(r, Row) for r in records)
        assert [list(r) for r in records] == [list(r) for r in rows]
        for got, expected in zip(records[0], rows[0], strict=True):
            assert type(got) is type(expected)
        routed = await db.using("primary").fetch_records(query)
        assert [list(r) for r in routed] == [list(r) for r in rows]
    finally:
        await drop_tables(db, types_meta)


async def test_fetch_records_text_and_empty(tables: Database) -> None:
    db = tables
    await db.execute_many(
        "INSERT INTO adb_items (name, value) VALUES (:name, :value)",
        [{"name": "a", "value": 1}, {"name": "b", "value": 2}],
    )
    records = await db.fetch_records(
        "SELECT name, value FROM adb_items WHERE value > :v ORDER BY name", {"v": 0}
    )
    assert [tuple(r) for r in records] == [("a", 1), ("b", 2)]
    ((name, value), _) = records  # plain positional unpacking
    assert (name, value) == ("a", 1)
    assert await db.fetch_records("SELECT name FROM adb_items WHERE value > 5") == []
    async with db.connection() as conn:
        got = await conn.fetch_records(sa.select(items.c.value))
        assert sorted(tuple(r) for r in got) == [(1,), (2,)]


async def test_memory_database_is_shared_across_the_pool() -> None:
    async with Database("sqlite:///:memory:", max_size=3) as db:
        await db.execute("CREATE TABLE m (x INTEGER)")

        async def insert(i: int) -> None:
            await db.execute("INSERT INTO m (x) VALUES (:x)", {"x": i})

        async with db.connection():
            await insert(0)
        await __import__("asyncio").gather(*(insert(i) for i in range(1, 10)))
        assert await db.fetch_val("SELECT count(*) FROM m") == 10
        path = db.sqlalchemy_url.database
        assert path is not None and path.endswith("memory.db")
    assert not __import__("os").path.exists(path)
    # A second in-memory database is a different one.
    async with Database("sqlite:///:memory:") as other:
        with pytest.raises(ProgrammingError):
            await other.fetch_all("SELECT * FROM m")


async def test_python_side_column_defaults_apply(db: Database) -> None:
    meta = sa.MetaData()
    t = sa.Table(
        "adb_defaults",
        meta,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(20), nullable=False),
        sa.Column("stars", sa.Integer, nullable=False, default=3),
        sa.Column("tag", sa.String(20), nullable=False, default=lambda: "made"),
    )
    await create_tables(db, meta)
    try:
        await db.execute(sa.insert(t).values(name="one"))
        await db.execute_many(sa.insert(t), [{"name": "two"}, {"name": "three"}])
        await db.execute_many(sa.insert(t), [{"name": "four", "stars": 1, "tag": "x"}] * 2)
        rows = await db.fetch_all(sa.select(t.c.name, t.c.stars, t.c.tag).order_by(t.c.id))
        assert [tuple(r) for r in rows] == [
            ("one", 3, "made"),
            ("two", 3, "made"),
            ("three", 3, "made"),
            ("four", 1, "x"),
            ("four", 1, "x"),
        ]
        with pytest.raises(ParameterError, match="same keys"):
            await db.execute_many(sa.insert(t), [{"name": "a", "stars": 1}, {"name": "b"}])
        with pytest.raises(ParameterError, match="same keys"):
            await db.execute_many(
                sa.insert(t), [{"name": "a", "stars": 1, "tag": "x"}, {"name": "b", "stars": 1}]
            )
    finally:
        await drop_tables(db, meta)


async def test_a_statement_object_reused_binds_its_own_values(tables: Database) -> None:
    # The compiler remembers a statement object it has compiled; reusing the object, or a new
    # object of the same shape with other literals, must each bind their own values.
    db = tables
    insert = sa.insert(items)
    await db.execute(insert, {"name": "a", "value": 1})
    await db.execute(insert, {"name": "b"})  # other keys, same object: value left NULL
    await db.execute(insert, {"name": "c", "value": 3})
    rows = await db.fetch_all(sa.select(items.c.name, items.c.value).order_by(items.c.name))
    assert [tuple(r) for r in rows] == [("a", 1), ("b", None), ("c", 3)]
    for value, name in ((1, "a"), (3, "c"), (1, "a")):
        query = sa.select(items.c.name).where(items.c.value == value)  # a literal each time
        assert await db.fetch_val(query) == name
        assert await db.fetch_val(query) == name  # the same object again
    by_param = sa.select(items.c.name).where(items.c.value == sa.bindparam("v"))
    assert await db.fetch_val(by_param, {"v": 3}) == "c"
    assert await db.fetch_val(by_param, {"v": 1}) == "a"
    with pytest.raises(ParameterError):
        await db.fetch_val(by_param, {"v": 1, "other": 2})


async def test_limits_bind_their_own_values(tables: Database) -> None:
    # SQLite adds "OFFSET ?" with a value of its own after a LIMIT: bound on the fast path
    # with the caller's values, while each statement's own literals stay its own.
    db = tables
    await db.execute_many(sa.insert(items), [{"name": f"n{i}", "value": i} for i in range(5)])
    by_param = sa.select(items.c.value).order_by(items.c.value).limit(sa.bindparam("n"))
    for n in (1, 3, 2):
        assert [r[0] for r in await db.fetch_all(by_param, {"n": n})] == list(range(n))
    for n in (1, 4, 2):
        literal = sa.select(items.c.value).order_by(items.c.value).limit(n)
        assert [r[0] for r in await db.fetch_records(literal)] == list(range(n))
    paged = (
        sa.select(items.c.value)
        .order_by(items.c.value)
        .limit(sa.bindparam("n"))
        .offset(sa.bindparam("skip"))
    )
    assert [r[0] for r in await db.fetch_all(paged, {"n": 2, "skip": 3})] == [3, 4]
