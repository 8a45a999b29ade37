"""Lookups behave the same on every backend; names are checked and values are always bound."""

from __future__ import annotations

import decimal
from types import SimpleNamespace

import pytest
from orm_models import Item

import orm
from asyncdb import Database


async def matching(**lookups: object) -> list[str]:
    return sorted(await Item.objects.filter(**lookups).values_list("title", flat=True))


@pytest.mark.parametrize(
    ("lookups", "expected"),
    [
        ({"title": "alpha"}, ["alpha"]),
        ({"title__exact": "Alpha"}, []),  # case-sensitive everywhere (binary collation on MySQL)
        ({"title__iexact": "ALPHA"}, ["alpha"]),
        ({"title__iexact": "epsilon"}, ["Epsilon"]),
        ({"title__contains": "lt"}, ["delta"]),
        ({"title__contains": "EL"}, []),
        ({"title__icontains": "EL"}, ["delta"]),
        ({"title__icontains": "A"}, ["alpha", "beta", "delta", "gamma"]),
        ({"title__startswith": "E"}, ["Epsilon"]),
        ({"title__startswith": "e"}, []),
        ({"title__istartswith": "e"}, ["Epsilon"]),
        ({"title__endswith": "ta"}, ["beta", "delta"]),
        ({"title__iendswith": "ON"}, ["Epsilon"]),
        ({"views__in": [10, 30, 99]}, ["alpha", "gamma"]),
        ({"views__in": []}, []),
        ({"views__gt": 40}, ["Epsilon"]),
        ({"views__gte": 40}, ["Epsilon", "delta"]),
        ({"views__lt": 20}, ["alpha"]),
        ({"views__lte": 20}, ["alpha", "beta"]),
        ({"rating__isnull": True}, ["gamma"]),
        ({"price__isnull": False}, ["Epsilon", "alpha", "beta"]),
        ({"views__range": (20, 40)}, ["beta", "delta", "gamma"]),
        ({"price__range": (decimal.Decimal("1"), decimal.Decimal("3"))}, ["alpha", "beta"]),
        ({"rating": None}, ["gamma"]),
        ({"pk__in": []}, []),
    ],
)
async def test_lookups(items: list[Item], lookups: dict[str, object], expected: list[str]) -> None:
    assert await matching(**lookups) == expected


async def test_excluding_none_keeps_exactly_the_other_rows(items: list[Item]) -> None:
    # exclude(x=None) is "x IS NOT NULL" (it kept the NULL rows too, as
    # "NOT (x IS NULL AND x IS NOT NULL)"); the same through ~Q and for iexact
    expected = ["Epsilon", "alpha", "beta", "delta"]
    excluded = Item.objects.exclude(rating=None).values_list("title", flat=True)
    assert sorted(await excluded) == expected
    negated = Item.objects.filter(~orm.Q(rating=None)).values_list("title", flat=True)
    assert sorted(await negated) == expected
    assert await Item.objects.exclude(genre__iexact=None).count() == 3
    assert await Item.objects.exclude(rating=None).count() == 4


async def test_excluding_text_matches_negates_the_whole_condition(items: list[Item]) -> None:
    # SQLite compiles endswith as "length(x) = 0 OR substr(...) = x": its negation must be
    # parenthesised (an empty suffix matches every title, so excluding it leaves none)
    for lookup in ("endswith", "iendswith", "startswith", "contains"):
        assert await Item.objects.exclude(**{f"title__{lookup}": ""}).count() == 0, lookup
        assert await Item.objects.exclude(**{f"title__{lookup}": "a"}).count() == 5 - len(
            await matching(**{f"title__{lookup}": "a"})
        ), lookup
    # an empty title: SQLite's substr() of an empty BLOB is NULL, which must not make the
    # lookup unknown (exclude() and ~Q() keep the row, as on the other backends)
    await Item.objects.create(title="")
    for lookup in ("endswith", "startswith", "contains", "iendswith", "istartswith"):
        assert "" in await Item.objects.exclude(**{f"title__{lookup}": "A"}).values_list(
            "title", flat=True
        ), lookup
        assert "" in await Item.objects.filter(~orm.Q(**{f"title__{lookup}": "A"})).values_list(
            "title", flat=True
        ), lookup


async def test_wildcards_match_literally(models: SimpleNamespace) -> None:
    await Item.objects.bulk_create(
        [
            Item(title="100% sure"),
            Item(title="1000 sure"),
            Item(title="a_b"),
            Item(title="axb"),
            Item(title="back/slash"),
            Item(title="x"),
        ]
    )
    assert await matching(title__contains="%") == ["100% sure"]
    assert await matching(title__contains="0%") == ["100% sure"]
    assert await matching(title__icontains="A_B") == ["a_b"]
    assert await matching(title__startswith="a_") == ["a_b"]
    assert await matching(title__endswith="/slash") == ["back/slash"]
    assert await matching(title__contains="//") == []
    assert await matching(title__iexact="A_B") == ["a_b"]


async def test_case_insensitive_non_ascii(models: SimpleNamespace, db: Database) -> None:
    await Item.objects.create(title="Straße ÄRGER")
    # ASCII letters fold on every backend
    assert await matching(title__icontains="STRA") == ["Straße ÄRGER"]
    folded = await matching(title__icontains="ärger")
    if db.features.backend == "sqlite":
        assert folded == []  # SQLite's lower() folds ASCII only (documented)
    else:
        assert folded == ["Straße ÄRGER"]


async def test_exact_is_space_sensitive_everywhere(models: SimpleNamespace) -> None:
    await Item.objects.create(title="pad")
    assert await matching(title="pad ") == []


async def test_unknown_field_and_lookup_errors(items: list[Item], db: Database) -> None:
    async with db.capture_queries() as captured:
        with pytest.raises(orm.FieldError) as info:
            await Item.objects.filter(titel="alpha").all()
        assert "Item has no field 'titel'" in str(info.value)
        assert "Did you mean 'title'?" in str(info.value)
        assert "title, views" in str(info.value)
        with pytest.raises(orm.FieldError, match="unsupported lookup 'like'"):
            await Item.objects.filter(title__like="a").all()
        with pytest.raises(orm.FieldError, match="not a relation"):
            await Item.objects.values("title__length").all()
        with pytest.raises(orm.FieldError, match="has no field"):
            await Item.objects.order_by("-nope").all()
        with pytest.raises(orm.FieldError, match="needs a list"):
            await Item.objects.filter(views__in=5).all()
        with pytest.raises(orm.FieldError, match="needs a str"):
            await Item.objects.filter(title__contains=5).all()
        with pytest.raises(orm.FieldError, match="isnull"):
            await Item.objects.filter(rating__gt=None).all()
        with pytest.raises(orm.ValidationError, match="expected int"):
            await Item.objects.filter(views="ten").all()
        with pytest.raises(orm.FieldError, match="has no field 'nope'"):
            Item.objects.only("nope")
    assert len(captured) == 0


INJECTIONS = [
    "alpha' OR '1'='1",
    "alpha'; DROP TABLE orm_items; --",
    'alpha" OR "1"="1',
    "%' OR 1=1 --",
    "\\'; SELECT 1; --",
]


@pytest.mark.parametrize("payload", INJECTIONS)
async def test_injection_in_values_is_a_literal_match(items: list[Item], payload: str) -> None:
    assert await matching(title=payload) == []
    assert await matching(title__icontains=payload) == []
    assert await matching(title__in=[payload, "beta"]) == ["beta"]
    created = await Item.objects.create(title=payload)
    assert (await Item.objects.get(title=payload)).pk == created.pk
    assert await Item.objects.count() == 6  # the table is intact


@pytest.mark.parametrize(
    "name",
    [
        "title; DROP TABLE orm_items",
        "title) OR (1=1",
        "title--",
        "-title desc, (select 1)",
        "id`",
    ],
)
async def test_injection_in_names_is_a_clean_error(
    items: list[Item], db: Database, name: str
) -> None:
    async with db.capture_queries() as captured:
        with pytest.raises(orm.FieldError):
            await Item.objects.order_by(name).all()
        with pytest.raises(orm.FieldError):
            await Item.objects.values(name).all()
        with pytest.raises(orm.FieldError):
            await Item.objects.values_list(name, flat=True).all()
        with pytest.raises(orm.FieldError):
            await Item.objects.filter(**{name: 1}).all()
        with pytest.raises(orm.FieldError):
            await Item.objects.filter(title="x").update(**{name: 1})
    assert len(captured) == 0
    assert await Item.objects.count() == 5
