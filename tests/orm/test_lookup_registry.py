"""The lookup registry: a lookup or transform is one class, registered in one place, and every
query path (compiling, cached statements, ``get()``'s fast path) goes through it.

The transforms here are registered for these tests only (``Length`` on string fields, a JSON
key transform of any name), to prove that chains such as ``data__owner__length__gte`` land on
the registry: names are resolved against the model and the registry, and values, JSON keys
included, are always bound parameters.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from orm_models import Everything, Item
from sqlalchemy.sql.elements import ColumnElement

import orm
from asyncdb import Database
from orm.lookups import ANY_NAME, Lookup, Transform, registry


class Length(Transform):
    """``title__length``: the number of characters (test only)."""

    name = "length"

    def output(self, field: orm.Field[Any] | None) -> orm.Field[Any] | None:
        return orm.Integer()

    def apply(self, expression: ColumnElement[Any], binds: list[Any]) -> ColumnElement[Any]:
        return sa.func.length(expression)


class Key(Transform):
    """``data__<key>``: a JSON object's value at ``key``, as text (test only)."""

    name = ANY_NAME

    def output(self, field: orm.Field[Any] | None) -> orm.Field[Any] | None:
        return orm.String(max_length=200)

    def params(self) -> tuple[tuple[Any, Any], ...]:
        return ((self.key, sa.JSON.JSONStrIndexType()),)

    def apply(self, expression: ColumnElement[Any], binds: list[Any]) -> ColumnElement[Any]:
        return expression[binds[0]].as_string()  # type: ignore[index,no-any-return]


class NotEqual(Lookup):
    name = "ne"

    def condition(
        self, column: ColumnElement[Any], binds: list[Any], shape: Hashable
    ) -> ColumnElement[bool]:
        return column != binds[0]


class NotEqualText(NotEqual):
    """``ne`` on string fields: case-insensitively (to tell it from the general one)."""

    def check(self, value: Any, convert: Any, label: str) -> Any:
        if not isinstance(value, str):
            raise orm.FieldError(f"{label}__ne needs a str")
        return value

    def condition(
        self, column: ColumnElement[Any], binds: list[Any], shape: Hashable
    ) -> ColumnElement[bool]:
        return sa.func.lower(column) != sa.func.lower(binds[0])


class BadShape(Lookup):
    """Binds one parameter per item but says every value has the same shape: a broken
    lookup, whose second query must fail loudly instead of binding the wrong values."""

    name = "anyof"

    def params(self, value: Any, shape: Hashable) -> tuple[Any, ...]:
        return tuple(value)

    def check(self, value: Any, convert: Any, label: str) -> Any:
        return [convert(item) for item in value]

    def condition(
        self, column: ColumnElement[Any], binds: list[Any], shape: Hashable
    ) -> ColumnElement[bool]:
        return column.in_(binds)


@pytest.fixture
def test_lookups() -> Iterator[None]:
    registry.register_transform(Length, on=orm.String)
    registry.register_transform(Key, on=orm.JSON)
    registry.register_lookup(NotEqual)
    registry.register_lookup(NotEqualText, on=orm.String)
    registry.register_lookup(BadShape)
    orm.clear_caches()
    try:
        yield
    finally:
        registry.unregister("length", on=orm.String)
        registry.unregister(ANY_NAME, on=orm.JSON)
        registry.unregister("ne")
        registry.unregister("ne", on=orm.String)
        registry.unregister("anyof")
        orm.clear_caches()


async def titles(qs: orm.QuerySet[Any]) -> list[str]:
    return sorted(await qs.values_list("title", flat=True))


async def test_a_registered_lookup_is_usable_everywhere(
    items: list[Item], test_lookups: None
) -> None:
    assert await titles(Item.objects.filter(views__ne=20)) == [
        "Epsilon",
        "alpha",
        "delta",
        "gamma",
    ]
    assert await Item.objects.filter(views__ne=10).count() == 4
    assert (await Item.objects.get(views__ne=10, title="beta")).views == 20
    assert (await Item.objects.get(views__ne=10, title="beta")).views == 20  # fast path
    # the one for string fields wins there (case-insensitive)
    assert await titles(Item.objects.filter(title__ne="ALPHA")) == [
        "Epsilon",
        "beta",
        "delta",
        "gamma",
    ]
    with pytest.raises(orm.FieldError, match="needs a str"):
        await Item.objects.filter(title__ne=5)
    with pytest.raises(orm.ValidationError, match="expected int"):
        await Item.objects.filter(views__ne="x")


async def test_transform_chains_compile_bind_and_reuse_statements(
    items: list[Item], test_lookups: None, db: Database
) -> None:
    # alpha beta gamma delta Epsilon: lengths 5 4 5 5 7
    assert await titles(Item.objects.filter(title__length=4)) == ["beta"]
    assert await titles(Item.objects.filter(title__length__gte=5)) == [
        "Epsilon",
        "alpha",
        "delta",
        "gamma",
    ]
    assert await titles(Item.objects.filter(title__length__in=[4, 7])) == ["Epsilon", "beta"]
    assert await titles(Item.objects.exclude(title__length__lt=5)) == [
        "Epsilon",
        "alpha",
        "delta",
        "gamma",
    ]
    shapes = len(Item._meta.selects)
    assert await titles(Item.objects.filter(title__length=7)) == ["Epsilon"]  # same shape
    assert await titles(Item.objects.filter(title__length__gte=6)) == ["Epsilon"]
    assert len(Item._meta.selects) == shapes
    assert (await Item.objects.get(title__length=4)).title == "beta"
    # the transform's output field checks the values compared with it
    with pytest.raises(orm.ValidationError, match=r"^Item\.title__length: expected int"):
        await Item.objects.filter(title__length="four")
    with pytest.raises(orm.FieldError, match=r"unsupported lookup 'length' for Item\.views"):
        await Item.objects.filter(views__length=3)
    with pytest.raises(orm.FieldError, match=r"unsupported lookup 'nope' for Item\.title"):
        await Item.objects.filter(title__length__nope=3)
    with pytest.raises(orm.FieldError, match="not a relation"):
        await Item.objects.values("title__length")


async def test_json_key_transforms_bind_their_keys(models: Any, test_lookups: None) -> None:
    await Everything.objects.bulk_create(
        [
            Everything(short="a", data={"owner": "Ann", "tier": "gold"}),
            Everything(short="b", data={"owner": "Bob"}),
            Everything(short="c", data={"other": 1}),
        ]
    )

    async def shorts(**lookups: Any) -> list[str]:
        return sorted(await Everything.objects.filter(**lookups).values_list("short", flat=True))

    assert await shorts(data__owner="Ann") == ["a"]
    assert await shorts(data__owner__icontains="B") == ["b"]
    assert await shorts(data__owner__isnull=True) == ["c"]
    assert await shorts(data__tier="gold") == ["a"]  # the same shape: another key, bound
    assert await shorts(data__owner__length__gte=3) == ["a", "b"]  # two transforms
    assert await shorts(data__owner__length=3, data__tier__length=4) == ["a"]


@pytest.mark.parametrize(
    "key",
    [
        "owner') OR 1=1 --",
        "owner'; DROP TABLE orm_everything; --",
        "owner` OR 1",
        "$.owner",
        "x/**/OR/**/1",
    ],
)
async def test_hostile_json_keys_never_reach_sql_text(
    models: Any, test_lookups: None, db: Database, key: str
) -> None:
    await Everything.objects.create(short="a", data={"owner": "Ann"})
    async with db.capture_queries() as captured:
        found = await Everything.objects.filter(**{f"data__{key}": "Ann"}).count()
    assert found == 0
    assert all(key not in sql for sql in captured)
    assert await Everything.objects.count() == 1


async def test_a_lookup_that_breaks_the_shape_contract_fails_loudly(
    items: list[Item], test_lookups: None
) -> None:
    assert await titles(Item.objects.filter(views__anyof=[10])) == ["alpha"]
    with pytest.raises(AssertionError, match="2 values bound for 1 parameters"):
        await titles(Item.objects.filter(views__anyof=[10, 20]))
    assert await titles(Item.objects.filter(views__anyof=[20])) == ["beta"]
    with pytest.raises(AssertionError, match="0 values bound for 1 parameters"):
        await titles(Item.objects.filter(views__anyof=[]))


def test_registered_names_are_checked() -> None:
    for bad in ("has space", "two__parts", "_private", "", "1st"):

        class Bad(NotEqual):
            name = bad

        with pytest.raises(ValueError, match="not a valid lookup name"):
            registry.register_lookup(Bad)
    assert registry.lookup("has space", None) is None


def test_every_built_in_lookup_is_registered() -> None:
    names = registry.lookup_names(Item.title)
    assert names == [
        "exact",
        "iexact",
        "gt",
        "gte",
        "lt",
        "lte",
        "contains",
        "icontains",
        "startswith",
        "istartswith",
        "endswith",
        "iendswith",
        "in",
        "range",
        "isnull",
    ]
