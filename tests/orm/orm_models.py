"""The test models (imported by conftest.py and the tests as ``orm_models``)."""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import uuid
from types import SimpleNamespace

import orm


class Status(enum.Enum):
    DRAFT = "draft"
    LIVE = "live"
    GONE = 3


shop = orm.ModelRegistry()


class Author(orm.Model):
    registry = shop
    tablename = "orm_authors"
    name = orm.String(max_length=100, unique=True)
    email = orm.String(max_length=200, null=True)


class Item(orm.Model):
    registry = shop
    tablename = "orm_items"
    title = orm.String(max_length=200, index=True)
    views = orm.Integer(default=0)
    rating = orm.Float(null=True)
    price = orm.Decimal(max_digits=8, decimal_places=2, null=True)
    active = orm.Boolean(default=True)
    status = orm.Enum(Status, default=Status.DRAFT)
    genre = orm.String(max_length=20, null=True, choices=[("sf", "Science fiction"), "poetry"])


class Everything(orm.Model):
    """One field of every type, for round trips."""

    registry = shop
    tablename = "orm_everything"
    integer = orm.Integer(null=True)
    big = orm.BigInteger(null=True)
    small = orm.SmallInteger(null=True)
    floating = orm.Float(null=True)
    money = orm.Decimal(max_digits=12, decimal_places=3, null=True)
    flag = orm.Boolean(null=True)
    short = orm.String(max_length=50, null=True)
    text = orm.Text(null=True)
    day = orm.Date(null=True)
    moment = orm.DateTime(null=True)
    clock = orm.Time(null=True)
    data = orm.JSON(null=True)
    uid = orm.UUID(null=True)
    status = orm.Enum(Status, null=True)
    blob = orm.Binary(null=True)


class Stamped(orm.Model):
    registry = shop
    tablename = "orm_stamped"
    code = orm.UUID(primary_key=True, default=uuid.uuid4)
    label = orm.String(max_length=30, db_column="label_text")
    created = orm.DateTime(auto_now_add=True)
    updated = orm.DateTime(auto_now=True)
    counter = orm.Integer(default=lambda: 7)


MODELS = SimpleNamespace(Author=Author, Item=Item, Everything=Everything, Stamped=Stamped)
SAMPLE_TIME = dt.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=dt.UTC)
SAMPLE_DECIMAL = decimal.Decimal("1234.500")
