"""Models for the ``orm.schema`` tests (imported as ``schema_models``): every field type,
relations of every kind, and field names that clash with pydantic's own attributes."""

from __future__ import annotations

import enum
import uuid
from types import SimpleNamespace

import orm


class Colour(enum.Enum):
    RED = "red"
    GREEN = "green"
    NUMBER = 3


registry = orm.ModelRegistry()


class Publisher(orm.Model):
    registry = registry
    tablename = "orm_sch_publishers"
    name = orm.String(max_length=100)


class Writer(orm.Model):
    """Someone who writes novels."""

    registry = registry
    tablename = "orm_sch_writers"
    name = orm.String(max_length=100, unique=True)
    nickname = orm.String(max_length=30, null=True)
    publisher = orm.ForeignKey(Publisher, null=True, related_name="writers", on_delete=orm.SET_NULL)

    @property
    def shout(self) -> str:
        return self.name.upper()


class Profile(orm.Model):
    registry = registry
    tablename = "orm_sch_profiles"
    writer = orm.OneToOne(Writer, related_name="profile")
    bio = orm.Text(default="")


class Label(orm.Model):
    registry = registry
    tablename = "orm_sch_labels"
    name = orm.String(max_length=20, unique=True)


class Novel(orm.Model):
    registry = registry
    tablename = "orm_sch_novels"
    title = orm.String(max_length=200)
    pages = orm.SmallInteger(default=100)
    writer = orm.ForeignKey(Writer, related_name="novels")
    editor = orm.ForeignKey(Writer, null=True, related_name="edited", on_delete=orm.SET_NULL)
    labels = orm.ManyToMany(Label, related_name="novels")
    created = orm.DateTime(auto_now_add=True)
    updated = orm.DateTime(auto_now=True)


class AllTypes(orm.Model):
    """One non-null field of every type (and a few with defaults or null=True)."""

    registry = registry
    tablename = "orm_sch_all_types"
    integer = orm.Integer()
    big = orm.BigInteger()
    small = orm.SmallInteger()
    floating = orm.Float()
    money = orm.Decimal(max_digits=12, decimal_places=3)
    flag = orm.Boolean()
    short = orm.String(max_length=50)
    text = orm.Text()
    day = orm.Date()
    moment = orm.DateTime()
    clock = orm.Time()
    data = orm.JSON()
    uid = orm.UUID()
    colour = orm.Enum(Colour)
    blob = orm.Binary()
    genre = orm.String(max_length=10, choices=[("sf", "Science fiction"), "poetry"], default="sf")
    rank = orm.Integer(choices=[1, 2, 3], null=True)
    optional_money = orm.Decimal(max_digits=5, decimal_places=2, null=True)
    counter = orm.Integer(default=lambda: 7)


class Keyed(orm.Model):
    """A model whose key the application makes (a UUID with a default)."""

    registry = registry
    tablename = "orm_sch_keyed"
    code = orm.UUID(primary_key=True, default=uuid.uuid4)
    label = orm.String(max_length=30)


# Field names that are attributes of pydantic's BaseModel, its protected "model_" prefix, a
# Python keyword and names that are no identifiers: each becomes a schema field with the model's
# name as its alias, so the JSON keys are still the model's names.
Hostile = type(
    "Hostile",
    (orm.Model,),
    {
        "__module__": __name__,
        "registry": registry,
        "tablename": "orm_sch_hostile",
        "json": orm.Integer(default=0),
        "json_": orm.Integer(default=1),
        "copy": orm.String(max_length=10, default="c"),
        "dict": orm.Boolean(default=False),
        "schema": orm.Text(default="s"),
        "validate": orm.Integer(null=True),
        "model_config": orm.String(max_length=10, default="m"),
        "model_dump": orm.Integer(default=2),
        "class": orm.Integer(default=3),
        "my-field": orm.String(max_length=10, default="dash"),
        "fields": orm.JSON(null=True),
    },
)


MODELS = SimpleNamespace(
    Publisher=Publisher,
    Writer=Writer,
    Profile=Profile,
    Label=Label,
    Novel=Novel,
    AllTypes=AllTypes,
    Keyed=Keyed,
    Hostile=Hostile,
)
