"""Q, F, aggregates and annotations."""

from __future__ import annotations

import decimal
from types import SimpleNamespace

import pytest
from orm_models import Item

import orm
from orm import Avg, Count, F, Max, Min, Q, Sum


async def titles(qs: orm.QuerySet[Item]) -> list[str]:
    return sorted(await qs.values_list("title", flat=True))


async def test_q_combinations(items: list[Item]) -> None:
    assert await titles(Item.objects.filter(Q(views=10) | Q(views=50))) == ["Epsilon", "alpha"]
    assert await titles(Item.objects.filter(Q(views__gt=10) & Q(views__lt=40))) == [
        "beta",
        "gamma",
    ]
    assert await titles(Item.objects.filter(~Q(views__gte=20))) == ["alpha"]
    nested = (Q(genre="sf") & ~Q(title="delta")) | (Q(active=False) | Q(title__iexact="EPSILON"))
    assert await titles(Item.objects.filter(nested)) == ["Epsilon", "alpha", "gamma"]
    assert await titles(Item.objects.filter(~~Q(title="beta"))) == ["beta"]
    assert await titles(Item.objects.filter(~(Q(views=10) | Q(views=20)))) == [
        "Epsilon",
        "delta",
        "gamma",
    ]
    assert await titles(Item.objects.exclude(Q(genre="sf") | Q(genre="poetry"))) == [
        "Epsilon",
        "gamma",
    ]
    # positional Q with keywords
    assert await titles(Item.objects.filter(Q(views__gt=10) | Q(title="alpha"), active=False)) == [
        "gamma"
    ]


async def test_f_in_filters(items: list[Item]) -> None:
    await Item.objects.filter(title="beta").update(rating=20.0)
    assert await titles(Item.objects.filter(views=F("rating"))) == ["beta"]
    assert await titles(Item.objects.filter(views__gte=F("rating") * 10)) == ["Epsilon", "delta"]


async def test_aggregate(items: list[Item]) -> None:
    result = await Item.objects.aggregate(
        n=Count(),
        rated=Count("rating"),
        total=Sum("views"),
        mean=Avg("views"),
        low=Min("views"),
        high=Max("title"),
        money=Sum("price"),
        avg_money=Avg("price"),
        genres=Count("genre", distinct=True),
    )
    assert result["n"] == 5 and result["rated"] == 4
    assert result["total"] == 150 and isinstance(result["total"], int)
    assert result["mean"] == 30.0 and isinstance(result["mean"], float)
    assert result["low"] == 10
    assert result["high"] == "gamma"
    assert result["money"] == decimal.Decimal("8.80")
    assert isinstance(result["avg_money"], decimal.Decimal)
    assert abs(result["avg_money"] - decimal.Decimal("2.9333")) < decimal.Decimal("0.001")
    assert result["genres"] == 2
    partial = await Item.objects.filter(views__gt=30).aggregate(mean=Avg("views"))
    assert partial == {"mean": 45.0}
    empty = await Item.objects.filter(views__gt=100).aggregate(s=Sum("views"), n=Count())
    assert empty == {"s": None, "n": 0}
    sliced = await Item.objects.order_by("views")[:2].aggregate(s=Sum("views"))
    assert sliced == {"s": 30}
    mean_of_ints = await Item.objects.filter(views__in=[10, 20, 20]).aggregate(m=Avg("views"))
    assert mean_of_ints == {"m": 15.0}


async def test_annotate(items: list[Item]) -> None:
    rows = await Item.objects.annotate(double=F("views") * 2).order_by("-double")
    assert [(r.title, r.double) for r in rows[:2]] == [("Epsilon", 100), ("delta", 80)]
    assert await titles(Item.objects.annotate(d=F("views") * 2).filter(d__gt=70)) == [
        "Epsilon",
        "delta",
    ]
    by_genre = await Item.objects.values("genre").annotate(n=Count(), top=Max("views"))
    assert {r["genre"]: (r["n"], r["top"]) for r in by_genre} == {
        "sf": (2, 40),
        "poetry": (1, 20),
        None: (2, 50),
    }
    assert list(by_genre[0]) == ["genre", "n", "top"]
    busy = await Item.objects.values("active").annotate(n=Count()).filter(n__gt=1)
    assert busy == [{"active": True, "n": 4}]
    with pytest.raises(orm.FieldError, match="clashes"):
        Item.objects.annotate(views=F("views") + 1)
    # a bad value names the annotation and its lookup
    with pytest.raises(orm.FieldError, match=r"^n__gt cannot compare with None; use n__isnull"):
        await Item.objects.annotate(n=Count()).filter(n__gt=None)
    with pytest.raises(orm.FieldError, match=r"^'n__nope': unsupported lookup 'nope' for n__nope"):
        await Item.objects.annotate(n=Count()).filter(n__nope=1)


async def test_aggregate_requires_aggregates(items: list[Item]) -> None:
    with pytest.raises(orm.FieldError):
        await Item.objects.aggregate(x=F("views"))  # type: ignore[arg-type]


async def test_negative_and_reverse_arithmetic(models: SimpleNamespace) -> None:
    item = await Item.objects.create(title="n", views=5)
    await Item.objects.filter(pk=item.pk).update(views=100 - F("views"))
    assert (await item.load()).views == 95
    await Item.objects.filter(pk=item.pk).update(views=-F("views"))
    assert (await item.load()).views == -95
