"""Plain fields live outside their class; instances missing values are of an incomplete subclass."""

from __future__ import annotations

import copy
import pickle
from types import SimpleNamespace

import pytest
from library_models import Author, Book
from orm_models import Item

import orm
from orm.hydration import _plain_attribute
from orm.incomplete import incomplete_class


class Titled(orm.Model):
    abstract = True
    title = orm.String(max_length=50)


def test_plain_fields_are_not_class_attributes_but_class_access_gives_them() -> None:
    # No class attribute of a field's name: CPython reads and stores book.title on its fast
    # paths (a descriptor there, even a non-data one, turns both specialisations off).
    assert "title" not in vars(Item) and "views" not in vars(Item) and "id" not in vars(Item)
    assert all(_plain_attribute(Item, name) for name in Item._meta.attnames)
    assert Item.title is Item._meta.fields["title"] and Item.title.model is Item
    assert Item.id is Item._meta.pk
    assert "title" not in vars(Titled) and Titled.title.max_length == 50
    # relations stay: they are data descriptors
    assert isinstance(vars(Book)["author"], orm.ForeignKey)
    with pytest.raises(AttributeError, match="type object 'Item' has no attribute 'nope'"):
        _ = Item.nope  # type: ignore[attr-defined]
    assert getattr(Item, "nope", None) is None


def test_complete_instances_are_of_the_model_and_fail_like_any_object() -> None:
    item = Item(title="a")
    assert type(item) is Item and item.title == "a"
    del item.title
    with pytest.raises(AttributeError) as info:
        _ = item.title
    assert not isinstance(info.value, orm.FieldNotLoaded)
    # pk reads the key attribute (not __dict__, which would turn inline values into a dict)
    assert item.pk is None
    item.pk = 5
    assert item.id == 5 and item.pk == 5 and hash(item) == hash(Item(id=5, title="b"))
    del item.id
    assert item.pk is None


async def test_deferred_rows_are_incomplete_until_loaded(items: list[Item]) -> None:
    partial = await Item.objects.only("title").get(title="alpha")
    assert isinstance(partial, Item) and type(partial) is not Item
    assert type(partial) is incomplete_class(Item) and type(partial).__name__ == "Item"
    assert partial.title == "alpha" and partial.pk == items[0].pk and partial == items[0]
    with pytest.raises(orm.FieldNotLoaded, match=r"Item\.views was not loaded"):
        _ = partial.views
    with pytest.raises(AttributeError, match="'Item' object has no attribute 'nope'") as info:
        _ = partial.nope  # type: ignore[attr-defined]
    assert not isinstance(info.value, orm.FieldNotLoaded)
    assert await type(partial).objects.filter(pk=partial.pk).count() == 1
    assert type((await type(partial).objects.filter(pk=partial.pk))[0]) is Item
    await partial.load()
    assert type(partial) is Item and partial.views == 10
    full = await Item.objects.defer().get(title="alpha")
    assert type(full) is Item


async def test_incomplete_instances_pickle_and_copy(items: list[Item]) -> None:
    partial = await Item.objects.defer("views").get(title="beta")
    for clone in (pickle.loads(pickle.dumps(partial)), copy.copy(partial), copy.deepcopy(partial)):
        assert type(clone) is type(partial) and clone.title == "beta" and clone == partial
        with pytest.raises(orm.FieldNotLoaded):
            _ = clone.views
    whole = pickle.loads(pickle.dumps(items[0]))
    assert type(whole) is Item and whole.views == 10


async def test_deferred_foreign_key_column(books: SimpleNamespace) -> None:
    book = await Book.objects.only("title").get(title="Dune")
    with pytest.raises(orm.FieldNotLoaded, match=r"Book\.author was not loaded"):
        _ = book.author_id
    with pytest.raises(orm.FieldNotLoaded, match=r"Book\.author was not loaded"):
        _ = book.author


async def test_references_are_incomplete_until_loaded(books: SimpleNamespace) -> None:
    book = await Book.objects.get(title="Dune")
    author = book.author
    assert isinstance(author, Author) and type(author) is not Author
    assert author.pk == books.ann.pk and author.id == books.ann.pk
    with pytest.raises(orm.RelationNotLoaded, match=r"Book\.author is not loaded"):
        _ = author.name
    await author.load()
    assert type(author) is Author and author.name == "Ann" and book.author is author
    joined = await Book.objects.select_related("author").get(title="Dune")
    assert type(joined.author) is Author and joined.author.name == "Ann"
