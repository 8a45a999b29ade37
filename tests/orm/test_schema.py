"""``orm.schema``: pydantic models from ORM models, for request and response bodies."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pydantic
import pytest
from schema_models import MODELS, AllTypes, Colour, Hostile, Keyed, Label, Novel, Writer, registry

import orm
from asyncdb import Database

ROOT = Path(__file__).resolve().parents[2]

ALL_TYPES: dict[str, Any] = {
    "integer": -(2**31),
    "big": 2**62 + 7,
    "small": 2**15 - 1,
    "floating": 0.25,
    "money": decimal.Decimal("123456789.125"),
    "flag": True,
    "short": "Grüße, 世界 'quoted' \"double\" ;--",
    "text": "long " * 1000,
    "day": dt.date(1999, 12, 31),
    "moment": dt.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=dt.UTC),
    "clock": dt.time(23, 59, 58, 999999),
    "data": {"list": [1, 2.5, None, True, {"nested": ["é"]}], "n": None},
    "uid": uuid.UUID("12345678-1234-5678-1234-567812345678"),
    "colour": Colour.NUMBER,
    "blob": bytes(range(256)),
    "genre": "poetry",
    "rank": 2,
    "optional_money": None,
    "counter": 11,
}


@pytest.fixture
async def schema_models(db: Database) -> AsyncIterator[SimpleNamespace]:
    """The schema test models with empty tables on the parametrised backend."""
    registry.database = db
    await registry.drop_all()
    await registry.create_all()
    try:
        yield MODELS
    finally:
        await registry.drop_all()
        registry.database = None


async def novel_with_everything() -> Novel:
    ann = await Writer.objects.create(name="Ann", nickname="A")
    bob = await Writer.objects.create(name="Bob")
    novel = await Novel.objects.create(title="Dune", writer=ann, editor=bob)
    await novel.labels.add(*await Label.objects.bulk_create([Label(name="sf"), Label(name="old")]))
    return novel


# -- optional dependency -------------------------------------------------------------------------


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )


def test_importing_the_packages_does_not_import_pydantic() -> None:
    done = run_python(
        "import sys, asyncdb, orm, migrations\n"
        "assert 'pydantic' not in sys.modules, 'pydantic was imported'\n"
        "assert callable(orm.schema)\n"
    )
    assert done.returncode == 0, done.stderr


def test_schema_without_pydantic_names_the_extra() -> None:
    done = run_python(
        "import sys\n"
        "sys.modules['pydantic'] = None  # as if it were not installed\n"
        "import orm\n"
        "models = orm.ModelRegistry()\n"
        "class Note(orm.Model):\n"
        "    registry = models\n"
        "    text = orm.Text()\n"
        "try:\n"
        "    orm.schema(Note)\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == 'orm.schema needs pydantic 2: pip install "asyncdb[pydantic]"'


def test_pydantic_1_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pydantic, "VERSION", "1.10.13")
    with pytest.raises(ImportError, match=r"needs pydantic 2, found pydantic 1\.10\.13"):
        orm.schema(Writer)


# -- which fields, which types -------------------------------------------------------------------


def test_read_schema_has_every_column_required() -> None:
    schema = orm.schema(Novel)
    assert schema.__name__ == "NovelRead"
    assert list(schema.model_fields) == [
        "id", "title", "pages", "writer_id", "editor_id", "created", "updated",
    ]  # fmt: skip
    assert all(field.is_required() for field in schema.model_fields.values())
    assert issubclass(schema, pydantic.BaseModel)
    assert schema.model_config.get("from_attributes") is True


def test_create_schema_leaves_out_what_the_server_makes() -> None:
    schema = orm.schema(Novel, mode="create")
    assert schema.__name__ == "NovelCreate"
    # no automatic key, no auto_now / auto_now_add; no relation objects, keys by column
    assert list(schema.model_fields) == ["title", "pages", "writer_id", "editor_id"]
    required = [name for name, field in schema.model_fields.items() if field.is_required()]
    assert required == ["title", "writer_id"]
    body = schema.model_validate({"title": "Dune", "writer_id": 1})
    assert body.model_dump() == {"title": "Dune", "pages": 100, "writer_id": 1, "editor_id": None}


def test_create_schema_keeps_a_key_the_application_makes() -> None:
    schema = orm.schema(Keyed, mode="create")
    assert list(schema.model_fields) == ["code", "label"]
    first, second = (schema.model_validate({"label": "x"}) for _ in range(2))
    assert isinstance(first.code, uuid.UUID) and first.code != second.code  # default_factory
    given = uuid.uuid4()
    assert schema.model_validate({"code": str(given), "label": "x"}).code == given


def test_callable_and_constant_defaults() -> None:
    schema = orm.schema(AllTypes, mode="create")
    fields = schema.model_fields
    assert fields["counter"].default_factory is not None and not fields["counter"].is_required()
    assert fields["genre"].default == "sf"
    assert fields["rank"].default is None and fields["optional_money"].default is None
    assert fields["integer"].is_required() and fields["data"].is_required()


def test_types_and_constraints_in_the_json_schema() -> None:
    properties = orm.schema(AllTypes).model_json_schema()["properties"]
    assert properties["integer"] == {
        "maximum": 2**31 - 1, "minimum": -(2**31), "title": "Integer", "type": "integer",
    }  # fmt: skip
    assert properties["small"]["maximum"] == 2**15 - 1
    assert properties["big"]["maximum"] == 2**63 - 1
    assert properties["short"] == {"maxLength": 50, "title": "Short", "type": "string"}
    assert properties["text"] == {"title": "Text", "type": "string"}
    assert properties["uid"]["format"] == "uuid"
    assert properties["moment"]["format"] == "date-time"
    assert properties["day"]["format"] == "date"
    assert properties["clock"]["format"] == "time"
    assert properties["genre"]["enum"] == ["poetry", "sf"]  # choices, by their stored value
    assert properties["rank"]["anyOf"] == [{"enum": [1, 2, 3], "type": "integer"}, {"type": "null"}]
    assert properties["optional_money"]["anyOf"][-1] == {"type": "null"}
    assert "$ref" in properties["colour"]


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("integer", 2**31, "less than or equal to 2147483647"),
        ("small", -(2**15) - 1, "greater than or equal to -32768"),
        ("short", "x" * 51, "at most 50 characters"),
        ("money", decimal.Decimal("1234567890.1"), "no more than 9 digits before the decimal"),
        ("money", decimal.Decimal("1.0001"), "no more than 3 decimal places"),
        ("money", "NaN", "finite number"),
        ("moment", dt.datetime(2024, 1, 1), "timezone info"),  # the model wants aware times
        ("clock", dt.time(1, 2, tzinfo=dt.UTC), "without a UTC offset"),
        ("colour", "blue", "Input should be 'red', 'green' or 3"),
        ("genre", "drama", "Input should be 'poetry' or 'sf'"),
        ("rank", 4, "Input should be 1, 2 or 3"),
        ("uid", "not-a-uuid", "valid UUID"),
        ("data", None, "null is not allowed"),
        ("flag", None, "valid boolean"),
        ("day", "yesterday", "valid date"),
        # numbers and booleans are as strict as the model: no bool for an int, no 1 for a bool
        ("integer", True, "valid integer"),
        ("big", "5", "valid integer"),
        ("floating", True, "valid number"),
        ("flag", 1, "valid boolean"),
        ("flag", "true", "valid boolean"),
    ],
)
def test_bad_values_are_refused_like_the_model_does(field: str, value: Any, problem: str) -> None:
    schema = orm.schema(AllTypes, mode="create")
    body = {k: v for k, v in ALL_TYPES.items() if k != "blob"} | {"blob": b"x", field: value}
    with pytest.raises(pydantic.ValidationError) as caught:
        schema.model_validate(body)
    [error] = caught.value.errors()
    assert error["loc"][0] == field
    assert problem in error["msg"]
    with pytest.raises(orm.ValidationError):  # the model agrees that the value is bad
        AllTypes._meta.fields[field].validate(value)


def test_update_schema_makes_every_field_optional() -> None:
    schema = orm.schema(Novel, mode="update")
    assert schema.__name__ == "NovelUpdate"
    assert list(schema.model_fields) == ["title", "pages", "writer_id", "editor_id"]
    assert not any(field.is_required() for field in schema.model_fields.values())
    assert schema.model_validate({}).model_dump(exclude_unset=True) == {}
    patch = schema.model_validate({"pages": 50, "editor_id": None})
    assert patch.model_dump(exclude_unset=True) == {"pages": 50, "editor_id": None}
    with pytest.raises(pydantic.ValidationError) as caught:
        schema.model_validate({"title": None})  # given, but title is not null=True
    assert caught.value.errors()[0]["loc"] == ("title",)
    with pytest.raises(pydantic.ValidationError):
        schema.model_validate({"title": "x" * 201})


def test_include_and_exclude() -> None:
    schema = orm.schema(Novel, include=["id", "title"], name="NovelTitle")
    assert schema.__name__ == "NovelTitle" and list(schema.model_fields) == ["id", "title"]
    schema = orm.schema(Novel, exclude=["created", "updated", "editor_id"])
    assert list(schema.model_fields) == ["id", "title", "pages", "writer_id"]
    # a name asked for explicitly is kept in any mode, the automatic key included
    schema = orm.schema(Novel, mode="create", include=["id", "title", "created"])
    assert list(schema.model_fields) == ["id", "title", "created"]
    assert not schema.model_fields["id"].is_required()


# -- reading instances ---------------------------------------------------------------------------


async def test_every_type_round_trips_through_json(schema_models: SimpleNamespace) -> None:
    create, read = orm.schema(AllTypes, mode="create"), orm.schema(AllTypes)
    request = create.model_validate_json(create(**ALL_TYPES).model_dump_json())
    created = await AllTypes.objects.create(**request.model_dump())
    loaded = await AllTypes.objects.get(id=created.id)
    out = json.loads(read.model_validate(loaded).model_dump_json())
    assert out["id"] == created.id
    assert out["money"] == "123456789.125" and out["colour"] == 3 and out["rank"] == 2
    assert out["moment"] == "2024-05-06T07:08:09.123456Z"
    assert out["uid"] == "12345678-1234-5678-1234-567812345678"
    back = read.model_validate_json(json.dumps(out))
    for name, expected in ALL_TYPES.items():
        assert getattr(back, name) == expected, name


async def test_hostile_field_names_keep_their_names_in_json(
    schema_models: SimpleNamespace,
) -> None:
    create, read = orm.schema(Hostile, mode="create"), orm.schema(Hostile)
    body = create.model_validate_json(
        '{"json": 5, "json_": 6, "class": 4, "my-field": "y", "model_config": "q", "fields": [1]}'
    )
    values = body.model_dump()
    assert values["json"] == 5 and values["json_"] == 6 and values["my-field"] == "y"
    created = await Hostile.objects.create(**values)
    out = read.model_validate(await Hostile.objects.get(id=created.id)).model_dump(mode="json")
    assert out == {
        "id": created.id, "json": 5, "json_": 6, "copy": "c", "dict": False, "schema": "s",
        "validate": None, "model_config": "q", "model_dump": 2, "class": 4, "my-field": "y",
        "fields": [1],
    }  # fmt: skip
    assert set(read.model_json_schema()["properties"]) == set(out)


async def test_reading_an_instance_does_no_io_and_skips_unnamed_relations(
    schema_models: SimpleNamespace, db: Database
) -> None:
    await novel_with_everything()
    novel = await Novel.objects.get()  # nothing loaded but the row
    async with db.capture_queries() as queries:
        out = orm.schema(Novel).model_validate(novel).model_dump()
    assert len(queries) == 0
    assert out["title"] == "Dune" and out["writer_id"] == novel.writer_id


async def test_nested_relations_of_every_kind(schema_models: SimpleNamespace) -> None:
    novel = await novel_with_everything()
    ann = await Writer.objects.get(name="Ann")
    await schema_models.Profile.objects.create(writer=ann, bio="Born...")
    writer_out = orm.schema(Writer, include=["id", "name"])
    label_out = orm.schema(Label, include=["name"])
    novel_out = orm.schema(
        Novel,
        include=["title"],
        relations={"writer": writer_out, "editor": writer_out, "labels": label_out},
    )
    loaded = (
        await Novel.objects.select_related("writer", "editor")
        .prefetch_related("labels")
        .get(id=novel.id)
    )
    out = novel_out.model_validate(loaded).model_dump()
    assert sorted(out.pop("labels"), key=str) == [{"name": "old"}, {"name": "sf"}]
    assert out == {
        "title": "Dune",
        "writer": {"id": ann.id, "name": "Ann"},
        "editor": {"id": loaded.editor_id, "name": "Bob"},
    }

    # reverse foreign key (a list), reverse one-to-one (an object or None), two levels deep
    profile_out = orm.schema(schema_models.Profile, include=["bio"])
    novel_titles = orm.schema(Novel, include=["title"], relations={"labels": label_out})
    writer_full = orm.schema(
        Writer,
        include=["name"],
        relations={"novels": novel_titles, "edited": novel_titles, "profile": profile_out},
    )
    writers = (
        await Writer.objects.select_related("profile")
        .prefetch_related("novels__labels", "edited__labels")
        .order_by("name")
    )
    ann_out, bob_out = (writer_full.model_validate(w).model_dump() for w in writers)
    assert ann_out["profile"] == {"bio": "Born..."} and bob_out["profile"] is None
    assert [n["title"] for n in ann_out["novels"]] == ["Dune"] and ann_out["edited"] == []
    assert sorted(label["name"] for label in ann_out["novels"][0]["labels"]) == ["old", "sf"]
    assert bob_out["novels"] == [] and [n["title"] for n in bob_out["edited"]] == ["Dune"]

    # reverse many-to-many
    label_with_novels = orm.schema(Label, include=["name"], relations={"novels": novel_titles})
    with pytest.raises(orm.RelationNotLoaded):  # the nested schema wants novels' labels too
        label_with_novels.model_validate(await Label.objects.prefetch_related("novels").first())
    label = await Label.objects.prefetch_related("novels__labels").get(name="sf")
    assert label_with_novels.model_validate(label).model_dump()["novels"][0]["title"] == "Dune"


async def test_a_null_foreign_key_nests_as_none(schema_models: SimpleNamespace) -> None:
    ann = await Writer.objects.create(name="Ann")
    await Novel.objects.create(title="Solo", writer=ann)
    schema = orm.schema(Novel, include=["title"], relations={"editor": orm.schema(Writer)})
    novel = await Novel.objects.select_related("editor").get()
    assert schema.model_validate(novel).model_dump() == {"title": "Solo", "editor": None}
    novel = await Novel.objects.get()  # not loaded, but there is nothing to load: the key is null
    assert schema.model_validate(novel).model_dump() == {"title": "Solo", "editor": None}


async def test_an_unloaded_relation_that_is_asked_for_names_the_fix(
    schema_models: SimpleNamespace, db: Database
) -> None:
    await novel_with_everything()
    writer_out = orm.schema(Writer)
    label_out = orm.schema(Label)
    with_writer = orm.schema(Novel, relations={"writer": writer_out}, name="NovelOut")
    with_labels = orm.schema(Novel, relations={"labels": label_out}, name="NovelOut")
    novel = await Novel.objects.get()
    async with db.capture_queries() as queries:
        with pytest.raises(orm.RelationNotLoaded) as forward:
            with_writer.model_validate(novel)
        with pytest.raises(orm.RelationNotLoaded) as many:
            with_labels.model_validate(novel)
        with pytest.raises(orm.RelationNotLoaded) as reverse:
            orm.schema(Writer, relations={"novels": with_writer}).model_validate(
                await Writer.objects.get(name="Ann")
            )
        with pytest.raises(orm.RelationNotLoaded) as reference:
            writer_out.model_validate(novel.writer)  # a key-only reference
    assert str(forward.value) == (
        "NovelOut: Novel.writer is not loaded. Use Novel.objects.select_related('writer'), "
        "or await novel.writer.load()."
    )
    assert "Novel.objects.prefetch_related('labels')" in str(many.value)
    assert "Writer.objects.prefetch_related('novels')" in str(reverse.value)
    assert "WriterRead: Novel.writer is not loaded" in str(reference.value)
    assert len(queries) == 1  # the Writer.objects.get() above, nothing else


async def test_fields_left_out_by_only_are_refused_when_needed(
    schema_models: SimpleNamespace,
) -> None:
    await Writer.objects.create(name="Ann", nickname="A")
    writer = await Writer.objects.only("id", "name").get()
    assert orm.schema(Writer, include=["id", "name"]).model_validate(writer).name == "Ann"
    with pytest.raises(orm.FieldNotLoaded, match=r"^WriterRead: Writer\.nickname was not loaded"):
        orm.schema(Writer).model_validate(writer)


async def test_subclass_fields_are_read_from_the_instance(schema_models: SimpleNamespace) -> None:
    await novel_with_everything()

    class NovelOut(orm.schema(Novel, include=["title"])):
        labels: list[str]  # a relation, by name: must be loaded
        words: int = 0  # no such attribute: the default

        @pydantic.field_validator("labels", mode="before")
        @classmethod
        def names(cls, labels: list[Label]) -> list[str]:
            return sorted(label.name for label in labels)

    class WriterOut(orm.schema(Writer, include=["name"])):
        shout: str  # a property of the model
        nick: str | None = pydantic.Field(alias="nickname")

    novel = await Novel.objects.prefetch_related("labels").get()
    assert NovelOut.model_validate(novel).model_dump() == {
        "title": "Dune", "labels": ["old", "sf"], "words": 0,
    }  # fmt: skip
    with pytest.raises(orm.RelationNotLoaded, match="prefetch_related"):
        NovelOut.model_validate(await Novel.objects.get())
    ann = await Writer.objects.get(name="Ann")
    assert WriterOut.model_validate(ann).model_dump() == {
        "name": "Ann", "shout": "ANN", "nickname": "A",
    }  # fmt: skip


async def test_update_schema_applies_what_was_sent(schema_models: SimpleNamespace) -> None:
    novel = await novel_with_everything()
    patch = orm.schema(Novel, mode="update").model_validate_json('{"pages": 7, "editor_id": null}')
    changes = patch.model_dump(exclude_unset=True)
    assert await Novel.objects.filter(id=novel.id).update(**changes) == 1
    reloaded = await Novel.objects.get(id=novel.id)
    assert (reloaded.title, reloaded.pages, reloaded.editor_id) == ("Dune", 7, None)


def test_a_wrong_instance_is_a_validation_error() -> None:
    with pytest.raises(pydantic.ValidationError, match="expected a Writer instance, got Label"):
        orm.schema(Writer).model_validate(Label(name="x"))


def test_dicts_and_attributes_validate_as_usual() -> None:
    schema = orm.schema(Label)
    assert schema.model_validate({"id": 1, "name": "sf"}).name == "sf"
    assert schema.model_validate(SimpleNamespace(id=2, name="x")).id == 2  # from_attributes


# -- misuse --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        (
            {"include": ["titel"]},
            orm.FieldError,
            r"Novel has no field \(in include=\) 'titel'\. "
            r"Did you mean 'title'\?",
        ),
        ({"exclude": ["nope"]}, orm.FieldError, r"no field \(in exclude=\) 'nope'"),
        ({"include": "title"}, TypeError, r"include= takes a list of names, not the str 'title'"),
        ({"include": [1]}, TypeError, r"include= takes names \(str\), got 1"),
        (
            {"include": ["writer"]},
            orm.FieldError,
            r"Novel\.writer is a relation: include its "
            r"key column 'writer_id', or nest it with relations=\{'writer': <a schema of Writer>",
        ),
        ({"include": ["labels"]}, orm.FieldError, r"Novel\.labels is a relation: nest it"),
        ({"relations": {"title": object}}, orm.FieldError, r"Novel\.title is not a relation"),
        ({"relations": {"writer_id": object}}, orm.FieldError, r"writer_id is not a relation"),
        (
            {"relations": {"wrtier": object}},
            orm.FieldError,
            r"Novel has no relation \(in "
            r"relations=\) 'wrtier'\. Did you mean 'writer'\?",
        ),
        ({"relations": {"writer": dict}}, TypeError, r"relations\['writer'\] must be a pydantic"),
        ({"relations": {"writer": "WriterRead"}}, TypeError, r"must be a pydantic model class"),
        ({"relations": ["writer"]}, TypeError, r"relations= takes a dict"),
        (
            {"relations": {"writer": "LABEL"}, "exclude": ["writer"]},
            orm.FieldError,
            r"both in relations= and in exclude=",
        ),
        ({"mode": "delete"}, ValueError, r"mode must be one of 'read', 'create', 'update'"),
        ({"name": ""}, TypeError, r"name must be a non-empty str"),
    ],
)
def test_bad_arguments_are_clear_errors(
    arguments: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        orm.schema(Novel, **arguments)


def test_relations_need_a_schema_of_their_target() -> None:
    with pytest.raises(orm.FieldError, match=r"LabelRead is a schema of Label, but Novel\.writer "
                       r"holds Writer objects"):  # fmt: skip
        orm.schema(Novel, relations={"writer": orm.schema(Label)})


def test_a_hand_written_nested_schema_must_read_attributes() -> None:
    class WriterOut(pydantic.BaseModel):
        name: str

    with pytest.raises(TypeError, match=r"relations\['writer'\]: WriterOut cannot read Writer "
                       r"objects; use orm.schema\(Writer\)"):  # fmt: skip
        orm.schema(Novel, relations={"writer": WriterOut})

    class WriterAttributes(WriterOut):
        model_config = pydantic.ConfigDict(from_attributes=True)

    schema = orm.schema(Novel, include=["title"], relations={"writer": WriterAttributes})
    novel = Novel(title="Dune", writer=Writer(id=1, name="Ann"))
    assert schema.model_validate(novel).model_dump() == {"title": "Dune", "writer": {"name": "Ann"}}


def test_custom_fields_take_their_base_type_or_any() -> None:
    class Upper(orm.String[str]):
        def coerce(self, value: Any) -> Any:
            return super().coerce(value).upper()

    class Opaque(orm.Field[Any]):
        def sa_type(self) -> Any:
            return orm.Text().sa_type()

    custom = orm.ModelRegistry()

    class Shout(orm.Model):
        registry = custom
        word = Upper(max_length=5)
        blob = Opaque()

    schema = orm.schema(Shout, mode="create")
    assert schema.model_validate({"word": "abc", "blob": object}).word == "abc"
    with pytest.raises(pydantic.ValidationError):
        schema.model_validate({"word": "abcdef", "blob": 1})


def test_request_schemas_take_keys_not_nested_objects() -> None:
    with pytest.raises(orm.FieldError, match=r"'read' schemas only; a 'create' schema takes a "
                       r"foreign key by its column \(writer_id\)"):  # fmt: skip
        orm.schema(Novel, mode="create", relations={"writer": orm.schema(Writer)})


def test_only_concrete_models() -> None:
    class Base(orm.Model):
        abstract = True
        name = orm.String(max_length=10)

    for not_a_model in (Base, orm.Model, Writer(name="x"), "Writer", pydantic.BaseModel):
        with pytest.raises(TypeError, match="orm.schema takes a concrete model class"):
            orm.schema(not_a_model)


def test_a_relation_to_a_model_never_defined_is_reported() -> None:
    dangling = orm.ModelRegistry()

    class Orphan(orm.Model):
        registry = dangling
        parent = orm.ForeignKey("Missing")

    with pytest.raises(orm.ORMError, match=r"unresolved relations: Orphan\.parent -> 'Missing'"):
        orm.schema(Orphan)


# -- in FastAPI ----------------------------------------------------------------------------------

# At module level: FastAPI resolves a handler's annotations (strings here, as in any module with
# `from __future__ import annotations`) in the handler's module.
NovelOut = orm.schema(
    Novel, exclude=["writer_id"], relations={"writer": orm.schema(Writer)}, name="NovelOut"
)
NovelIn = orm.schema(Novel, mode="create", name="NovelIn")


async def test_fastapi_validates_requests_and_serialises_instances(
    schema_models: SimpleNamespace,
) -> None:
    import httpx
    from fastapi import FastAPI

    api = FastAPI()

    @api.get("/novels", response_model=list[NovelOut])
    async def list_novels() -> Any:
        return await Novel.objects.select_related("writer").order_by("id")

    @api.get("/unloaded", response_model=list[NovelOut])
    async def unloaded() -> Any:
        return await Novel.objects.order_by("id")

    @api.post("/novels", status_code=201, response_model=NovelOut)
    async def create_novel(body: NovelIn) -> Any:
        novel = await Novel.objects.create(**body.model_dump())
        return await Novel.objects.select_related("writer").get(id=novel.id)

    ann = await Writer.objects.create(name="Ann")
    transport = httpx.ASGITransport(app=api)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        created = await client.post("/novels", json={"title": "Dune", "writer_id": ann.id})
        assert created.status_code == 201, created.text
        body = created.json()
        assert body["writer"] == {"id": ann.id, "name": "Ann", "nickname": None,
                                  "publisher_id": None}  # fmt: skip
        assert body["title"] == "Dune" and body["pages"] == 100 and body["editor_id"] is None
        assert body["created"].endswith("Z") and "writer_id" not in body

        listed = await client.get("/novels")
        assert listed.json() == [body | {"updated": listed.json()[0]["updated"]}]

        too_long = await client.post("/novels", json={"title": "x" * 201, "writer_id": ann.id})
        assert too_long.status_code == 422
        assert too_long.json()["detail"][0]["loc"] == ["body", "title"]

        with pytest.raises(orm.RelationNotLoaded, match=r"select_related\('writer'\)"):
            await client.get("/unloaded")  # a bug in the handler, not the client's input

        openapi = (await client.get("/openapi.json")).json()["components"]["schemas"]
    assert openapi["NovelIn"]["required"] == ["title", "writer_id"]
    assert openapi["NovelIn"]["properties"]["title"]["maxLength"] == 200
    assert "id" not in openapi["NovelIn"]["properties"]
