"""``class Meta``: composite unique constraints, indexes and check constraints."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import sqlite

import orm
from asyncdb import Database, IntegrityError


def _booking_models(meta: type | None = None) -> orm.ModelRegistry:
    models = orm.ModelRegistry()
    namespace: dict[str, Any] = {
        "registry": models,
        "tablename": "bookings",
        # The target is defined afterwards: the Meta items wait for its column.
        "room": orm.ForeignKey("Room", related_name="bookings"),
        "day": orm.Date(),
        "nights": orm.Integer(),
        "label": orm.String(max_length=20, null=True),
        "guests": orm.ManyToMany("Room", related_name="+"),
    }
    if meta is not None:
        namespace["Meta"] = meta
    type("Booking", (orm.Model,), namespace)

    class Room(orm.Model):
        registry = models
        tablename = "rooms"
        name = orm.String(max_length=10)

    return models


class FullMeta:
    unique_together = [("room", "day")]
    indexes = [orm.Index("day", "nights"), orm.Index(fields=["label"], name="by_label")]
    constraints = [
        orm.CheckConstraint(check=orm.Q(nights__gt=0) & orm.Q(nights__lte=30), name="nights"),
        orm.UniqueConstraint(fields=["label", "day"]),
    ]


def test_meta_items_are_named_by_the_convention() -> None:
    table = _booking_models(FullMeta).metadata.tables["bookings"]
    uniques = {
        c.name: [col.name for col in c.columns]
        for c in table.constraints
        if isinstance(c, sa.UniqueConstraint)
    }
    assert uniques == {
        "uq_bookings_room_id_day": ["room_id", "day"],
        "uq_bookings_label_day": ["label", "day"],
    }
    indexes = {i.name: ([col.name for col in i.columns], i.unique) for i in table.indexes}
    assert indexes == {
        "ix_bookings_room_id": (["room_id"], False),
        "ix_bookings_day_nights": (["day", "nights"], False),
        "by_label": (["label"], False),
    }
    (check,) = [c for c in table.constraints if isinstance(c, sa.CheckConstraint)]
    assert check.name == "ck_bookings_nights"
    ddl = str(sa.schema.CreateTable(table).compile(dialect=sqlite.dialect()))
    assert "CONSTRAINT ck_bookings_nights CHECK (nights > 0 AND nights <= 30)" in ddl
    booking = _booking_models(FullMeta).get_model("Booking")
    assert booking is not None
    assert booking._meta.options.unique_together == (("room", "day"),)


def test_meta_of_an_abstract_base_is_inherited() -> None:
    models = orm.ModelRegistry()

    class Dated(orm.Model):
        abstract = True
        day = orm.Date()
        slot = orm.Integer()

        class Meta:
            unique_together = ("day", "slot")  # Django's shorthand for one group

    class Visit(Dated):
        registry = models

    names = {c.name for c in Visit.table.constraints if isinstance(c, sa.UniqueConstraint)}
    assert names == {"uq_visit_day_slot"}


def _meta(**options: Any) -> type:
    return type("Meta", (), options)


@pytest.mark.parametrize(
    ("meta", "message"),
    [
        (
            _meta(ordering=["day"]),
            "model Booking: unknown Meta option(s) ordering; allowed: constraints, indexes, "
            "unique_together",
        ),
        (_meta(unique_together="room"), "unique_together is a list of field-name tuples"),
        (_meta(unique_together=[("room", 3)]), "unique_together: field names are strings"),
        (_meta(unique_together=[()]), "unique_together needs at least one field name"),
        (_meta(indexes=["day"]), "indexes takes orm.Index, got str"),
        (_meta(constraints=[orm.Index("day")]), "constraints takes orm.UniqueConstraint or orm"),
    ],
)
def test_malformed_meta(meta: type, message: str) -> None:
    with pytest.raises(orm.ORMError) as failure:
        _booking_models(meta)
    assert message in str(failure.value)


@pytest.mark.parametrize(
    ("meta", "message"),
    [
        (
            _meta(unique_together=[("room", "dya")]),
            "Meta unique_together: Booking has no field 'dya'. Did you mean 'day'? Valid names: "
            "id, room, day, nights, label, guests",
        ),
        (_meta(indexes=[orm.Index("nigths")]), "Meta orm.Index: Booking has no field 'nigths'"),
        (
            _meta(constraints=[orm.UniqueConstraint(fields=["lable"])]),
            "Meta UniqueConstraint: Booking has no field 'lable'. Did you mean 'label'?",
        ),
        (
            _meta(constraints=[orm.CheckConstraint(check=orm.Q(nihgts__gt=0), name="n")]),
            "Meta CheckConstraint: Booking has no field 'nihgts'",
        ),
    ],
)
def test_unknown_fields_name_the_model_and_its_fields(meta: type, message: str) -> None:
    with pytest.raises(orm.FieldError) as failure:
        _booking_models(meta)
    assert message in str(failure.value)


def test_fields_without_a_column_or_of_another_model_are_refused() -> None:
    with pytest.raises(orm.FieldError, match="field 'guests' is many-to-many and has no column"):
        _booking_models(_meta(indexes=[orm.Index("guests")]))
    across = orm.CheckConstraint(check=orm.Q(room__name="A"), name="room_a")
    with pytest.raises(orm.FieldError, match="can only use Booking's own fields"):
        _booking_models(_meta(constraints=[across]))


def test_constructor_errors() -> None:
    with pytest.raises(orm.ORMError, match="as arguments or as fields=, not both"):
        orm.Index("a", fields=["b"])
    with pytest.raises(orm.ORMError, match="orm.Index needs at least one field name"):
        orm.Index()
    with pytest.raises(orm.ORMError, match="a field is named twice"):
        orm.Index("a", "a")
    with pytest.raises(orm.ORMError, match="fields= is a list of field names, not a str"):
        orm.UniqueConstraint(fields="ab")
    with pytest.raises(orm.ORMError, match="check= takes an orm.Q, got str"):
        orm.CheckConstraint(check="price > 0", name="x")  # type: ignore[arg-type]
    with pytest.raises(orm.ORMError, match="name= is required"):
        orm.CheckConstraint(check=orm.Q(price__gt=0), name="")


async def test_the_database_enforces_them(private_database_url: str) -> None:
    models = _booking_models(FullMeta)
    async with Database(private_database_url) as db:
        models.database = db
        await models.create_all()
        room = await models.get_model("Room").objects.create(name="A")  # type: ignore[union-attr]
        booking = models.get_model("Booking")
        assert booking is not None
        day = dt.date(2024, 1, 2)
        await booking.objects.create(room=room, day=day, nights=2, label="x")
        with pytest.raises(IntegrityError):  # unique_together (room, day)
            await booking.objects.create(room=room, day=day, nights=3, label="y")
        other = await models.get_model("Room").objects.create(name="B")  # type: ignore[union-attr]
        with pytest.raises(IntegrityError):  # UniqueConstraint (label, day)
            await booking.objects.create(room=other, day=day, nights=2, label="x")
        for nights in (0, 31):
            with pytest.raises(IntegrityError):  # CheckConstraint 0 < nights <= 30
                await booking.objects.create(room=room, day=dt.date(2024, 2, 1), nights=nights)
        # A NULL makes a check neither true nor false: it passes, as in SQL and Django.
        await booking.objects.create(room=room, day=dt.date(2024, 3, 1), nights=30, label=None)
        assert await booking.objects.count() == 2
