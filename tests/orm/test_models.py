"""Model definition: tables, keys, naming convention, and errors at class creation."""

from __future__ import annotations

import enum
import subprocess
import sys
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from orm_models import Author, Item, Stamped, shop

import orm
from asyncdb import Database


def test_public_api() -> None:
    expected = {
        "Model", "ModelRegistry", "Manager", "QuerySet", "Field",
        "Integer", "BigInteger", "SmallInteger", "Float", "Decimal", "Boolean", "String", "Text",
        "Date", "DateTime", "Time", "JSON", "UUID", "Enum", "Binary",
        "Q", "F", "Value", "OrderBy", "Count", "Sum", "Avg", "Min", "Max",
        "ORMError", "NoMatch", "MultipleMatches", "FieldError", "ValidationError",
        "RelationNotLoaded", "FieldNotLoaded",
        "ForeignKey", "OneToOne", "ManyToMany", "Prefetch", "CASCADE", "SET_NULL", "RESTRICT",
        "RelatedManager", "schema", "Index", "UniqueConstraint", "CheckConstraint",
        "clear_caches",
    }  # fmt: skip
    assert set(orm.__all__) == expected
    assert all(hasattr(orm, name) for name in orm.__all__)


def test_orm_never_imports_migrations() -> None:
    code = "import sys, orm; assert not any(m.startswith('migrations') for m in sys.modules)"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_table_and_auto_primary_key() -> None:
    assert Author.table.name == "orm_authors"
    assert Author.table is Author._meta.table is shop.metadata.tables["orm_authors"]
    assert list(Author.table.c.keys()) == ["id", "name", "email"]
    assert Author.table.c.id.primary_key and Author.table.c.id.autoincrement is True
    assert Author._meta.pk.name == "id"
    assert Stamped._meta.pk.name == "code"
    assert "id" not in Stamped.table.c


def test_naming_convention_names_every_constraint() -> None:
    names = {c.name for c in Author.table.constraints} | {i.name for i in Item.table.indexes}
    assert "pk_orm_authors" in names
    assert "uq_orm_authors_name" in names
    assert "ix_orm_items_title" in names
    assert shop.metadata is Author.registry.metadata
    assert shop.metadata.naming_convention["fk"].startswith("fk_")


def test_default_tablename() -> None:
    models = orm.ModelRegistry()

    class BlogPost(orm.Model):
        registry = models

    assert BlogPost.tablename == "blog_post"


def make_model(**fields: object) -> type[orm.Model]:
    namespace = {"registry": orm.ModelRegistry(), "tablename": "orm_bad", **fields}
    return type("Bad", (orm.Model,), namespace)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"title": orm.String()}, "String requires max_length"),  # type: ignore[call-overload]
        (
            {"a": orm.Integer(primary_key=True), "b": orm.Integer(primary_key=True)},
            "more than one primary key",
        ),
        ({"save": orm.Integer()}, "'save' is reserved"),
        ({"objects": orm.Integer()}, "'objects' is reserved"),
        ({"pk": orm.Integer()}, "'pk' is reserved"),
        ({"_hidden": orm.Integer()}, "must not start with '_'"),
        ({"a__b": orm.Integer()}, "contain '__'"),
        ({"id": orm.Integer()}, "'id' is reserved for the automatic key"),
        ({"price": orm.Decimal(max_digits=2)}, "Decimal requires"),  # type: ignore[call-overload]
        ({"x": orm.Enum(int)}, "Enum requires an enum.Enum subclass"),  # type: ignore[call-overload]
        ({"x": orm.Integer(primary_key=True, null=True)}, "cannot be null=True"),
    ],
)
def test_bad_definitions_fail_at_class_creation(fields: dict[str, object], message: str) -> None:
    with pytest.raises(orm.ORMError) as info:
        make_model(**fields)
    assert message in str(info.value)
    assert str(info.value).startswith("model Bad:")


def test_missing_registry_and_duplicate_table() -> None:
    with pytest.raises(orm.ORMError, match="registry"):
        type("NoRegistry", (orm.Model,), {"name": orm.String(max_length=5)})
    with pytest.raises(orm.ORMError, match="already used"):
        type("Clash", (orm.Model,), {"registry": shop, "tablename": "orm_items"})


def test_abstract_base_fields_are_copied() -> None:
    models = orm.ModelRegistry()

    class Timestamped(orm.Model):
        abstract = True
        created = orm.DateTime(auto_now_add=True)

    class Note(Timestamped):
        registry = models
        body = orm.Text()

    class Memo(Timestamped):
        registry = models

    assert list(Note._meta.fields) == ["id", "created", "body"]
    assert Note._meta.fields["created"] is not Memo._meta.fields["created"]
    assert Note._meta.fields["created"].model is Note


def test_instances() -> None:
    item = Item(title="a")
    assert item.views == 0 and item.active is True and item.rating is None
    assert item.pk is None
    assert item != Item(title="a")  # unsaved instances are equal only to themselves
    assert item == item
    with pytest.raises(TypeError, match="unhashable"):
        hash(item)
    with pytest.raises(orm.FieldError, match="unknown field"):
        Item(titel="a")
    assert Item(id=3, title="x") == Item(id=3, title="y")
    assert Item(id=3, title="x") != Author(id=3, name="x")
    assert repr(Item(id=3, title="x")) == "<Item: id=3>"
    assert Item(id=3, title="x").to_dict()["title"] == "x"
    with pytest.raises(AttributeError, match=r"Item\.objects"):
        _ = item.objects


def test_class_attribute_is_the_field() -> None:
    assert isinstance(Item.title, orm.String)
    assert Item.title.model is Item and Item.title.column_name == "title"
    assert isinstance(Item.status, orm.Enum)


async def test_create_all_and_drop_all(db: Database) -> None:
    class Color(enum.Enum):
        RED = 1

    models = orm.ModelRegistry(database=db)

    class Paint(orm.Model):
        registry = models
        tablename = "orm_paint"
        color = orm.Enum(Color, index=True)
        code = orm.String(max_length=10, unique=True)

    await models.drop_all()
    await models.create_all()
    await models.create_all()  # idempotent
    try:
        await Paint.objects.create(color=Color.RED, code="r")
        assert await db.fetch_val(sa.select(sa.func.count()).select_from(Paint.table)) == 1
    finally:
        await models.drop_all()
    await models.drop_all()  # idempotent
    with pytest.raises(Exception):  # noqa: B017 - the table is gone
        await Paint.objects.count()


async def test_unique_violation_is_integrity_error(models: SimpleNamespace) -> None:
    from asyncdb import IntegrityError

    await Author.objects.create(name="ann")
    with pytest.raises(IntegrityError):
        await Author.objects.create(name="ann")
    # case and trailing spaces make different values on every backend
    await Author.objects.create(name="Ann")
    await Author.objects.create(name="ann ")
    assert await Author.objects.count() == 3


def test_subclassing_a_concrete_model_is_refused() -> None:
    with pytest.raises(orm.ORMError, match="abstract base"):
        type("SubItem", (Item,), {"extra": orm.Integer(null=True)})
