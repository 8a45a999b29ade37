"""Models built from rows: attribute stores where they equal dict stores, dict stores where a
class would see them (its own ``__setattr__``), the same instance state either way."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

import orm
from asyncdb import Database
from orm.hydration import _plain_attribute

hydra = orm.ModelRegistry()
SETATTR_CALLS: list[str] = []


class Plain(orm.Model):
    registry = hydra
    tablename = "orm_hydra_plain"
    title = orm.String(max_length=20)
    views = orm.Integer(default=0)


class Watched(orm.Model):
    registry = hydra
    tablename = "orm_hydra_watched"
    title = orm.String(max_length=20)

    def __setattr__(self, name: str, value: Any) -> None:
        SETATTR_CALLS.append(name)
        super().__setattr__(name, value)


class Child(orm.Model):
    registry = hydra
    tablename = "orm_hydra_children"
    plain = orm.ForeignKey(Plain, related_name="children")
    rank = orm.Integer()


@pytest.fixture
async def tables(db: Database) -> AsyncIterator[None]:
    hydra.database = db
    await hydra.drop_all()
    await hydra.create_all()
    try:
        yield
    finally:
        await hydra.drop_all()
        hydra.database = None


def test_which_names_take_attribute_stores() -> None:
    assert all(_plain_attribute(Plain, n) for n in ("id", "title", "views"))
    assert _plain_attribute(Child, "plain_id")
    assert not _plain_attribute(Child, "plain")  # the relation is a data descriptor
    assert not _plain_attribute(Watched, "title")  # the class would see the store
    assert not _plain_attribute(Plain, "class")


async def test_rows_become_the_same_instances(tables: None) -> None:
    made = await Plain.objects.create(title="a", views=3)
    await Child.objects.create(plain=made, rank=1)
    loaded = await Plain.objects.get(pk=made.pk)
    assert loaded.__dict__ == {"id": made.pk, "title": "a", "views": 3}
    assert loaded == made and (loaded.title, loaded.views) == ("a", 3)
    loaded.views = 4
    await loaded.save()
    assert (await Plain.objects.get(pk=made.pk)).views == 4
    partial = await Plain.objects.only("title").get(pk=made.pk)
    with pytest.raises(orm.FieldNotLoaded):
        _ = partial.views
    child = await Child.objects.select_related("plain").get(rank=1)
    assert child.plain.title == "a" and child.plain_id == made.pk
    annotated = await Plain.objects.annotate(n=orm.Count("children")).get(pk=made.pk)
    assert (annotated.title, annotated.n) == ("a", 1)


async def test_a_class_with_its_own_setattr_is_not_called_by_hydration(tables: None) -> None:
    await Watched.objects.create(title="w")
    SETATTR_CALLS.clear()
    rows = await Watched.objects.all()
    assert [w.title for w in rows] == ["w"]
    assert SETATTR_CALLS == []
