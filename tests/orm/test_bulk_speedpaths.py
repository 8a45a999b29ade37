"""The fast paths of model construction and bulk_create give what the general code gives.

* Each concrete model gets a generated ``__init__``; it must build the same instance state as
  ``Model.__init__`` and raise the same errors (it hands every unusual case to it).
* bulk_create validates a column at a time (``Field.validate_column``); it must accept, convert
  and store back exactly what ``validate`` does, and fail with the error of the first bad value
  in object order, leaving the objects as the per-object loop leaves them.
* On PostgreSQL the keys come back as one sorted array; they must still follow the objects.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import inspect
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

import orm
from asyncdb import Database
from orm.models import ModelMeta

speed = orm.ModelRegistry()


class Piece(orm.Model):
    registry = speed
    tablename = "orm_speed_pieces"
    title = orm.String(max_length=10)
    pages = orm.SmallInteger(default=7)
    price = orm.Float(null=True)
    flag = orm.Boolean(default=lambda: True)
    tag = orm.String(max_length=5, null=True, choices=["a", "b"])
    day = orm.Date(null=True)
    uid = orm.UUID(null=True)
    blob = orm.Binary(null=True)
    note = orm.Text(null=True)


class Shelf(orm.Model):
    registry = speed
    tablename = "orm_speed_shelves"
    name = orm.String(max_length=20)


class Rack(orm.Model):
    registry = speed
    tablename = "orm_speed_racks"
    shelves = orm.ManyToMany(Shelf, related_name="racks")


class Slot(orm.Model):
    registry = speed
    tablename = "orm_speed_slots"
    shelf = orm.ForeignKey(Shelf, related_name="slots")
    spare = orm.ForeignKey(Shelf, null=True, related_name="spares", db_column="spare_ref")
    position = orm.Integer()
    stamped = orm.DateTime(auto_now_add=True)


class Upper(orm.String[str]):
    """A user field whose validate adds a rule: the column check must not bypass it."""

    def validate(self, value: Any) -> Any:
        value = super().validate(value)
        if value != value.upper():
            raise self.fail(f"{value!r} is not upper case")
        return value


class Shouty(orm.Model):
    registry = speed
    tablename = "orm_speed_shouty"
    word = Upper(max_length=10)


class Custom(orm.Model):
    registry = speed
    tablename = "orm_speed_custom"
    label = orm.String(max_length=10)

    def __init__(self, **values: Any) -> None:
        values.setdefault("label", "custom")
        super().__init__(**values)


@pytest.fixture
async def tables(db: Database) -> AsyncIterator[None]:
    speed.database = db
    await speed.drop_all()
    await speed.create_all()
    try:
        yield
    finally:
        await speed.drop_all()
        speed.database = None


def _generic(model: type[orm.Model], **values: Any) -> orm.Model:
    """An instance built by ``Model.__init__`` itself (what the generated one must match)."""
    obj = model.__new__(model)
    orm.Model.__init__(obj, **values)
    return obj


def _error(call: Any) -> tuple[type[BaseException], str]:
    with pytest.raises(Exception) as info:
        call()
    return info.type, str(info.value)


# -- generated __init__ -----------------------------------------------------------------------


def test_models_get_a_generated_init_with_one_parameter_per_name() -> None:
    assert Piece.__init__ is not orm.Model.__init__
    parameters = inspect.signature(Slot).parameters
    assert list(parameters)[:-1] == [
        "id", "shelf", "shelf_id", "spare", "spare_id", "position", "stamped",
    ]  # fmt: skip
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in list(parameters.values())[:-1])
    assert Slot.__init__.__qualname__ == "Slot.__init__"


@pytest.mark.parametrize(
    "values",
    [
        {},
        {"title": "t"},
        {"title": "t", "pages": 3, "price": None, "flag": False, "tag": "a"},
        {"id": 5, "title": 123, "pages": "not validated yet"},  # validation is on save
    ],
)
def test_generated_init_builds_what_model_init_builds(values: dict[str, Any]) -> None:
    fast, generic = Piece(**values), _generic(Piece, **values)
    assert fast.__dict__ == generic.__dict__
    assert list(fast.__dict__) == list(generic.__dict__)
    assert fast.pages == (values.get("pages", 7)) and fast.flag is values.get("flag", True)


def test_generated_init_relations_by_object_or_key() -> None:
    shelf = Shelf(id=3, name="s")
    cases: list[dict[str, Any]] = [
        {"shelf": shelf, "position": 1},
        {"shelf_id": 3, "spare_id": 4},
        {"shelf": shelf, "spare": None},
        {"spare": shelf},
    ]
    for values in cases:
        fast, generic = Slot(**values), _generic(Slot, **values)
        assert fast.__dict__ == generic.__dict__, values
    slot = Slot(shelf=shelf)
    assert slot.shelf is shelf and slot.shelf_id == 3 and slot.spare_id is None


@pytest.mark.parametrize(
    ("model", "values"),
    [
        (Piece, {"nope": 1}),
        (Piece, {"title": "t", "zzz": 1, "aaa": 2}),
        (Slot, {"shelf": Shelf(id=1, name="x"), "shelf_id": 1}),  # both name and attname
        (Slot, {"shelf": "not a shelf"}),
        (Slot, {"spare": 3}),
    ],
)
def test_generated_init_raises_what_model_init_raises(
    model: type[orm.Model], values: dict[str, Any]
) -> None:
    assert _error(lambda: model(**values)) == _error(lambda: _generic(model, **values))


def test_generated_init_many_to_many_and_positional_errors() -> None:
    kind, message = _error(lambda: Rack(shelves=[]))
    assert kind is orm.FieldError and "many-to-many" in message
    assert (kind, message) == _error(lambda: _generic(Rack, shelves=[]))
    kind, message = _error(lambda: Piece("t"))  # type: ignore[misc]
    assert kind is TypeError and "positional" in message


def test_a_model_defining_init_keeps_it() -> None:
    assert Custom.__init__ is Custom.__dict__["__init__"]
    assert Custom().label == "custom" and Custom(label="x").label == "x"


def test_init_follows_a_relation_resolved_after_the_class() -> None:
    later = orm.ModelRegistry()

    class Early(orm.Model):
        registry = later
        tablename = "orm_speed_early"
        owner = orm.ForeignKey("Late", related_name="earlies")
        size = orm.Integer(default=1)

    assert "owner" not in inspect.signature(Early).parameters  # not a column yet

    class Late(orm.Model):
        registry = later
        tablename = "orm_speed_late"

    late = Late(id=9)
    early = Early(owner=late)
    assert early.owner_id == 9 and early.size == 1
    assert "owner" in inspect.signature(Early).parameters  # regenerated on first use
    again = Early(owner_id=10)
    assert again.__dict__ == _generic(Early, owner_id=10).__dict__


def test_a_field_name_that_cannot_be_a_parameter_uses_model_init() -> None:
    later = orm.ModelRegistry()
    namespace = {"registry": later, "tablename": "orm_speed_odd", "class": orm.Integer()}
    Odd = ModelMeta("Odd", (orm.Model,), namespace)
    assert Odd.__init__ is orm.Model.__init__
    obj = Odd(**{"class": 3})
    assert obj.__dict__ == {"id": None, "class": 3}


# -- validate_column ----------------------------------------------------------------------------

COLUMNS: list[tuple[orm.Field[Any], list[Any]]] = [
    (Piece.title, ["a", "b" * 10, ""]),
    (Piece.title, ["a", "b" * 11]),  # too long
    (Piece.title, ["a", None]),  # null not allowed
    (Piece.title, ["a", 1]),
    (Piece.pages, [1, -(2**15), 2**15 - 1]),
    (Piece.pages, [1, 2**15]),  # out of range
    (Piece.pages, [1, True]),  # bool is not an int here
    (Piece.id, [1, 2, None]),  # auto key: None allowed
    (Piece.price, [1.5, None, 2.0]),
    (Piece.price, [1.5, 2]),  # int converted to float
    (Piece.price, [1.5, "2"]),
    (Piece.flag, [True, False]),
    (Piece.flag, [True, 1]),
    (Piece.tag, ["a", None, "b"]),
    (Piece.tag, ["a", "c"]),  # not a choice
    (Piece.day, [dt.date(2020, 1, 1), None]),
    (Piece.day, [dt.datetime(2020, 1, 1, tzinfo=dt.UTC)]),  # a datetime is not a date
    (Piece.uid, [uuid.UUID(int=1), None]),
    (Piece.uid, [uuid.UUID(int=1), "00000000-0000-0000-0000-000000000002"]),  # parsed
    (Piece.blob, [b"x", bytearray(b"y"), None]),  # bytearray converted
    (Piece.note, ["x" * 100_000, None]),
    (Shouty.word, ["AB", "cd"]),  # the subclass's own rule
    (Shouty.word, ["AB", "CD"]),
    (Slot.position, []),
]


def _validated(field: orm.Field[Any], values: list[Any]) -> tuple[str, Any]:
    try:
        return "ok", [field.validate(v) for v in values]
    except orm.ValidationError as exc:
        return "error", str(exc)


@pytest.mark.parametrize(("field", "values"), COLUMNS)
def test_validate_column_matches_validate(field: orm.Field[Any], values: list[Any]) -> None:
    expected = _validated(field, values)
    try:
        got: tuple[str, Any] = ("ok", field.validate_column(list(values)))
    except orm.ValidationError as exc:
        got = ("error", str(exc))
    assert got == expected
    if got[0] == "ok":
        assert [type(v) for v in got[1]] == [type(v) for v in expected[1]]


def test_validate_column_returns_a_valid_column_itself() -> None:
    column = ["a", "bb", "ccc"]
    assert Piece.title.validate_column(column) is column
    floats = [1.5, None]
    assert Piece.price.validate_column(floats) is floats
    mixed = [1.5, 2]
    assert Piece.price.validate_column(mixed) == [1.5, 2.0]


# -- bulk_create by column ----------------------------------------------------------------------


async def test_converted_values_are_stored_back(tables: None, db: Database) -> None:
    objs = [
        Piece(title="a", price=2, uid="00000000-0000-0000-0000-000000000002"),
        Piece(title="b", price=2.5, blob=bytearray(b"z")),
    ]
    await Piece.objects.bulk_create(objs)
    assert type(objs[0].price) is float and objs[0].uid == uuid.UUID(int=2)
    assert objs[1].blob == b"z" and type(objs[1].blob) is bytes
    assert [o.pages for o in objs] == [7, 7] and all(o.flag is True for o in objs)
    loaded = await Piece.objects.order_by("id")
    assert [(o.id, o.title, o.price, o.uid) for o in loaded] == [
        (o.id, o.title, o.price, o.uid) for o in objs
    ]


async def test_first_bad_value_in_object_order_wins(tables: None, db: Database) -> None:
    # object 0 is bad in a late column, object 1 in an early one: object 0's error is raised
    objs = [Piece(title="ok", price="x"), Piece(title="much too long", price=1.0)]
    async with db.capture_queries() as captured:
        with pytest.raises(orm.ValidationError) as info:
            await Piece.objects.bulk_create(objs)
    assert "Piece.price" in str(info.value) and "str 'x'" in str(info.value)
    assert str(info.value) == _validated(Piece.price, ["x"])[1]
    assert len(captured) == 0 and await Piece.objects.count() == 0


async def test_a_failed_bulk_create_leaves_objects_as_the_object_loop_does(
    tables: None, db: Database
) -> None:
    # the loop converts and stores back each object up to the bad one, and nothing after it
    # (price, converted from int, is a column before the failing one)
    objs = [Piece(title="a", price=1), Piece(title="b", tag="zz"), Piece(title="c", price=3)]
    with pytest.raises(orm.ValidationError, match=r"Piece\.tag: 'zz' is not one of the choices"):
        await Piece.objects.bulk_create(objs)
    assert type(objs[0].price) is float and type(objs[2].price) is int
    assert [o.id for o in objs] == [None, None, None]


async def test_missing_required_value_fails_as_save_does(tables: None, db: Database) -> None:
    with pytest.raises(orm.ValidationError) as bulk_error:
        await Piece.objects.bulk_create([Piece(title="a"), Piece()])
    with pytest.raises(orm.ValidationError) as save_error:
        await Piece().save()
    assert str(bulk_error.value) == str(save_error.value)
    assert "Piece.title" in str(bulk_error.value) and "null is not allowed" in str(bulk_error.value)


async def test_a_subclass_rule_and_choices_apply_in_bulk(tables: None, db: Database) -> None:
    with pytest.raises(orm.ValidationError, match="'no' is not upper case"):
        await Shouty.objects.bulk_create([Shouty(word="YES"), Shouty(word="no")])
    with pytest.raises(orm.ValidationError, match="'c' is not one of the choices"):
        await Piece.objects.bulk_create([Piece(title="a", tag="a"), Piece(title="b", tag="c")])
    await Shouty.objects.bulk_create([Shouty(word="YES")])
    assert [s.word for s in await Shouty.objects.all()] == ["YES"]


async def test_another_model_in_the_list(tables: None, db: Database) -> None:
    with pytest.raises(TypeError, match="bulk_create\\(\\) on Piece got a Shelf"):
        await Piece.objects.bulk_create([Piece(title="a"), Shelf(name="s")])  # type: ignore[list-item]
    # as before, a bad value in an earlier object is found first
    with pytest.raises(orm.ValidationError, match=r"Piece\.title"):
        await Piece.objects.bulk_create([Piece(title=1), Shelf(name="s")])  # type: ignore[list-item]
    assert await Piece.objects.count() == 0


async def test_relations_and_auto_now_add(tables: None, db: Database) -> None:
    shelf = await Shelf.objects.create(name="s")
    other = Shelf(name="unsaved")
    before = dt.datetime.now(dt.UTC)
    slots = [Slot(shelf=shelf, position=i) for i in range(3)] + [
        Slot(shelf_id=shelf.id, position=3)
    ]
    await Slot.objects.bulk_create(slots)
    assert all(s.shelf_id == shelf.id and s.stamped >= before for s in slots)
    rows = await Slot.objects.order_by("id").values_list("id", "shelf_id", "position")
    assert [tuple(r) for r in rows] == [(s.id, shelf.id, s.position) for s in slots]
    with pytest.raises(orm.ValidationError, match="Shelf is not saved yet"):
        await Slot.objects.bulk_create(
            [Slot(shelf=shelf, position=9), Slot(shelf=other, position=9)]
        )
    assert await Slot.objects.count() == 4


async def test_deferred_objects_and_mixed_keys_take_the_object_loop(
    tables: None, db: Database
) -> None:
    first = await Piece.objects.bulk_create([Piece(title="a", price=1.0), Piece(title="b")])
    partial = await Piece.objects.only("title", "pages", "flag").order_by("id")
    await Piece.objects.filter(id__in=[p.id for p in first]).delete()
    # the deferred (nullable) fields are not written, the keys are kept
    mixed = [*partial, Piece(title="c", pages=2)]
    await Piece.objects.bulk_create(mixed)
    assert [p.id for p in mixed[:2]] == [p.id for p in first] and mixed[2].id is not None
    rows = await Piece.objects.order_by("title").values_list("title", "id", "price")
    assert [tuple(r) for r in rows] == [("a", first[0].id, None), ("b", first[1].id, None),
                                        ("c", mixed[2].id, None)]  # fmt: skip


async def test_keys_follow_objects_in_every_chunk(tables: None, db: Database) -> None:
    objs = [Piece(title=f"t{i}", pages=i % 100) for i in range(2_500)]
    await Piece.objects.bulk_create(objs, batch_size=1_000)
    rows = await Piece.objects.order_by("id").values_list("id", "title")
    assert [tuple(r) for r in rows] == [(o.id, o.title) for o in objs]


async def test_keys_without_returning(
    tables: None, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # SQLite before 3.35 and MySQL have no RETURNING: the keys come from lastrowid, which is
    # the first row's key on MySQL/MariaDB and the last row's on SQLite.
    # PostgreSQL always has RETURNING (its bulk path is unnest ... RETURNING): the same
    # checks run there with it.
    if db.features.backend != "postgresql":
        features = dataclasses.replace(db.features, supports_returning=False)
        monkeypatch.setattr(db._backend, "features", features, raising=False)
        assert not db.features.supports_returning
    await Piece.objects.bulk_create([Piece(title="first")])
    objs = [Piece(title=f"t{i}") for i in range(250)]
    await Piece.objects.bulk_create(objs, batch_size=100)
    rows = (
        await Piece.objects.filter(title__startswith="t").order_by("id").values_list("id", "title")
    )
    assert [tuple(r) for r in rows] == [(o.id, o.title) for o in objs]


def _without_returning(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    features = dataclasses.replace(db.features, supports_returning=False)
    monkeypatch.setattr(db._backend, "features", features, raising=False)


@pytest.mark.backends("mysql")
async def test_mysql_keys_follow_auto_increment_increment(
    tables: None, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # MySQL without RETURNING: LAST_INSERT_ID() is the first row's key and the others follow it
    # by @@auto_increment_increment (set above 1 by multi-primary setups such as Galera).
    _without_returning(db, monkeypatch)
    async with db.connection():
        await db.execute("SET SESSION auto_increment_increment = 3")
        try:
            objs = [Piece(title=f"s{i}") for i in range(40)]
            async with db.capture_queries() as captured:
                await Piece.objects.bulk_create(objs, batch_size=15)
            rows = await Piece.objects.order_by("id").values_list("id", "title")
        finally:
            await db.execute("SET SESSION auto_increment_increment = 1")
    assert rows == [(o.id, o.title) for o in objs]
    assert objs[1].id - objs[0].id == 3
    # the settings are read once for the three chunks, on the connection that inserts them
    assert sum("@@auto_increment_increment" in sql for sql in captured.statements) == 1


@pytest.mark.backends("mysql")
async def test_mysql_keys_one_insert_a_row_when_keys_may_interleave(
    tables: None, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # innodb_autoinc_lock_mode = 2 (MySQL 8's default): the keys of one multi-row INSERT need
    # not be one block, so each row gets its own INSERT and lastrowid, in one transaction.
    from orm import persistence

    async def interleaved(database: Database) -> tuple[int, int]:
        return 1, 2

    _without_returning(db, monkeypatch)
    monkeypatch.setattr(persistence, "_autoinc_settings", interleaved)
    objs = [Piece(title=f"i{i}") for i in range(7)]
    async with db.capture_queries() as captured:
        await Piece.objects.bulk_create(objs)
    rows = await Piece.objects.order_by("id").values_list("id", "title")
    assert rows == [(o.id, o.title) for o in objs]
    inserts = [sql for sql in captured.statements if sql.upper().startswith("INSERT")]
    assert len(inserts) == 7 and all(sql.count("(") == 2 for sql in inserts)
