"""Contract details: ``all()`` is a queryset, and a foreign key's wrong value is a
ValidationError raised before any SQL."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from library_models import Author, Book

import orm
from asyncdb import Database


async def test_all_returns_a_queryset_that_can_be_refined(
    lib: SimpleNamespace, db: Database
) -> None:
    ann = await Author.objects.create(name="Ann")
    for i in range(3):
        await Book.objects.create(title=f"b{i}", author=ann)
    assert isinstance(Book.objects.all(), orm.QuerySet)
    assert len(await Book.objects.all()) == 3
    assert [b.title for b in await Book.objects.all().filter(title="b1")] == ["b1"]
    assert len(await Book.objects.all()[:2]) == 2
    assert [b.title async for b in Book.objects.all().order_by("title")] == ["b0", "b1", "b2"]
    # A related manager's all(): the prefetched list after a prefetch, without a query.
    (author,) = await Author.objects.prefetch_related("books")
    async with db.capture_queries() as captured:
        assert len(await author.books.all()) == 3
    assert len(captured) == 0
    assert len(await ann.books.all().filter(title__in=["b0", "b2"])) == 2


async def test_wrong_foreign_key_value_is_a_validation_error(
    lib: SimpleNamespace, db: Database
) -> None:
    async with db.capture_queries() as captured:
        with pytest.raises(
            orm.ValidationError,
            match=r"Book.author: expected an instance of Author or its key, got str 'abc'",
        ):
            await Book.objects.create(title="t", author_id="abc")
        with pytest.raises(orm.ValidationError, match="not saved yet"):
            await Book.objects.create(title="t", author=Author(name="unsaved"))
    assert len(captured) == 0
