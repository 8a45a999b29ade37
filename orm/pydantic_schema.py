"""What ``orm.schema`` builds: pydantic models whose fields follow an ORM model's fields.

This module imports pydantic; ``orm.schemas`` imports it only when a schema is asked for, so
``import orm`` works without pydantic.

A schema validates an ORM instance from the values it has loaded (``ModelSchema``'s "before"
validator turns the instance into a dict) and never performs I/O: a field or relation it needs
that was not loaded raises ``FieldNotLoaded`` / ``RelationNotLoaded`` naming the fix, and
relations it does not name are not touched.
"""

from __future__ import annotations

import datetime as dt
import decimal
import keyword
import operator
import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from typing import Annotated, Any, ClassVar, Literal, NamedTuple

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    JsonValue,
    Strict,
    create_model,
    model_validator,
)
from pydantic import Field as PydanticField

from orm import fields as orm_fields
from orm.exceptions import FieldError, FieldNotLoaded, RelationNotLoaded
from orm.fields import Field
from orm.incomplete import REFERENCE
from orm.models import Model
from orm.options import Options
from orm.relations import ForeignKey, ManyToMany, ReverseManyToMany, ReverseRelation, not_loaded

__all__ = ["ModelSchema", "build_schema"]

_MODES = ("read", "create", "update")
_SUFFIX = {"read": "Read", "create": "Create", "update": "Update"}
# Names a pydantic field cannot have: they would shadow BaseModel's own attributes.
_TAKEN = frozenset(dir(BaseModel))


class _Missing:
    """A value the instance does not have (a subclass field that is no attribute of it)."""


_MISSING: Any = _Missing()

Reader = Callable[[Model], Any]


class ModelSchema(BaseModel):
    """Base of the schemas ``orm.schema`` builds; validates ORM instances without I/O."""

    model_config = ConfigDict(
        from_attributes=True,
        serialize_by_alias=True,
        ser_json_bytes="base64",
        val_json_bytes="base64",
    )

    #: The ORM model the schema describes.
    __orm_model__: ClassVar[type[Model]]
    #: pydantic field name -> the model attribute it holds (the generated fields).
    __orm_names__: ClassVar[dict[str, str]] = {}

    @model_validator(mode="before")
    @classmethod
    def _read_instance(cls, data: Any) -> Any:
        if not isinstance(data, Model):
            return data
        model = cls.__orm_model__
        if not isinstance(data, model):
            raise ValueError(f"expected a {model.__name__} instance, got {type(data).__name__}")
        plan: _Plan | None = cls.__dict__.get("__orm_plan__")
        if plan is None:
            plan = _plan(cls)
            type.__setattr__(cls, "__orm_plan__", plan)
        try:
            values = dict(zip(plan.column_keys, plan.columns(data), strict=True))
            for key, read in plan.others:
                value = read(data)
                if value is not _MISSING:
                    values[key] = value
        except (RelationNotLoaded, FieldNotLoaded) as exc:
            raise type(exc)(f"{cls.__name__}: {exc}") from None
        return values


class _Plan(NamedTuple):
    """How a schema reads an instance: its columns in one C-level call, then the rest."""

    column_keys: tuple[str, ...]
    columns: Callable[[Model], tuple[Any, ...]]
    others: tuple[tuple[str, Reader], ...]


def _plan(schema: type[ModelSchema]) -> _Plan:
    """For each field of ``schema``: the key pydantic validates it from (its alias, when it has
    one) and how to read its value from an instance."""
    model = schema.__orm_model__
    column_keys: list[str] = []
    attributes: list[str] = []
    others: list[tuple[str, Reader]] = []
    for name, info in schema.model_fields.items():
        alias = info.validation_alias if isinstance(info.validation_alias, str) else info.alias
        attribute = schema.__orm_names__.get(name, alias or name)
        if attribute in model._meta.by_attname:
            # A missing value raises FieldNotLoaded (only()/defer()) or RelationNotLoaded (a
            # reference standing for an unloaded relation).
            column_keys.append(alias or name)
            attributes.append(attribute)
        else:
            others.append((alias or name, _reader(model, attribute)))
    return _Plan(tuple(column_keys), _tuple_getter(attributes), tuple(others))


def _tuple_getter(attributes: list[str]) -> Callable[[Model], tuple[Any, ...]]:
    if len(attributes) > 1:
        return operator.attrgetter(*attributes)
    if attributes:
        one = operator.attrgetter(attributes[0])
        return lambda obj: (one(obj),)
    return lambda obj: ()


# -- reading an instance -------------------------------------------------------------------------


def _reader(model: type[Model], name: str) -> Reader:
    """How to read ``name`` (a relation or any attribute, not a column) from an instance."""
    meta = model._meta
    relation = meta.fields.get(name) or meta.related.get(name)
    if isinstance(relation, ForeignKey):
        return _forward_reader(model, relation)
    if isinstance(relation, ManyToMany | ReverseManyToMany) or (
        isinstance(relation, ReverseRelation) and relation.multi_valued
    ):
        return _prefetched_reader(model, relation.name, relation.cache_name)
    if isinstance(relation, ReverseRelation):
        return operator.attrgetter(name)  # raises RelationNotLoaded itself

    def attribute(obj: Model) -> Any:
        try:
            return getattr(obj, name)
        except (RelationNotLoaded, FieldNotLoaded):
            raise
        except AttributeError:
            return _MISSING

    return attribute


def _forward_reader(model: type[Model], field: ForeignKey[Any]) -> Reader:
    name, owner = field.name, model.__name__

    def read(obj: Model) -> Any:
        value = getattr(obj, name)  # None, the loaded instance, or a key-only reference
        if value is not None and type(value) is not value._meta.model and REFERENCE in vars(value):
            raise not_loaded(owner, name, "select_related", owner.lower())
        return value

    return read


def _prefetched_reader(model: type[Model], name: str, cache_name: str) -> Reader:
    owner = model.__name__

    def read(obj: Model) -> Any:
        loaded = vars(obj).get(cache_name)
        if loaded is None:
            raise not_loaded(owner, name, "prefetch_related", owner.lower())
        return loaded

    return read


# -- types ---------------------------------------------------------------------------------------


def _not_null(value: Any) -> Any:
    if value is None:
        raise ValueError("null is not allowed")
    return value


def _naive_time(value: dt.time) -> dt.time:
    if value.tzinfo is not None:
        raise ValueError("a time of day without a UTC offset is expected")
    return value


def _column_type(field: Field[Any]) -> Any:
    """The pydantic type of ``field``'s values, without ``None`` (a foreign key: the target's
    key type)."""
    if isinstance(field, ForeignKey):
        return _column_type(field.target_model()._meta.pk)
    if field.choices is None:
        return _value_type(field)
    choices = sorted((c for c in field.choices if c is not None), key=repr)
    if all(type(c) is str for c in choices) or all(type(c) is int for c in choices):
        return Literal[tuple(choices)]
    allowed = frozenset(choices)
    listed = ", ".join(map(repr, choices))

    def one_of(value: Any) -> Any:
        if value not in allowed:
            raise ValueError(f"{value!r:.60} is not one of the choices ({listed})")
        return value

    return Annotated[_value_type(field), AfterValidator(one_of)]


def _value_type(field: Field[Any]) -> Any:
    if isinstance(field, orm_fields.Integer | orm_fields.BigInteger | orm_fields.SmallInteger):
        return Annotated[int, Strict(), PydanticField(ge=field.min_value, le=field.max_value)]
    if isinstance(field, orm_fields.String):
        return Annotated[str, PydanticField(max_length=field.max_length)]
    if isinstance(field, orm_fields.Decimal):
        limits = PydanticField(max_digits=field.max_digits, decimal_places=field.decimal_places)
        return Annotated[decimal.Decimal, limits]
    if isinstance(field, orm_fields.Enum):
        return field.enum_class
    if isinstance(field, orm_fields.Time):
        return Annotated[dt.time, AfterValidator(_naive_time)]
    if isinstance(field, orm_fields.JSON):
        return JsonValue if field.null else Annotated[JsonValue, AfterValidator(_not_null)]
    for kind, python_type in _SIMPLE_TYPES:
        if isinstance(field, kind):
            return python_type
    return Any  # a custom field: the model validates its values


# Numbers and booleans are strict, as the model is: no `true` for an int, no "1" for a bool.
_SIMPLE_TYPES: tuple[tuple[type[Field[Any]], Any], ...] = (
    (orm_fields.Float, Annotated[float, Strict()]),
    (orm_fields.Boolean, Annotated[bool, Strict()]),
    (orm_fields.Text, str),
    (orm_fields.Binary, bytes),
    (orm_fields.DateTime, AwareDatetime),
    (orm_fields.Date, dt.date),
    (orm_fields.UUID, uuid.UUID),
)


# -- building ------------------------------------------------------------------------------------


def _python_name(name: str, taken: set[str]) -> str:
    """A pydantic field name for the model attribute ``name`` (``name`` itself when it can)."""
    candidate = re.sub(r"\W", "_", name)
    if not candidate.isidentifier() or candidate.startswith(("_", "model_")):
        candidate = f"field_{candidate}"  # pydantic reserves "_..." and "model_..."
    while candidate in taken or candidate in _TAKEN or keyword.iskeyword(candidate):
        candidate += "_"
    return candidate


def _is_server_managed(field: Field[Any], mode: str) -> bool:
    """Left out of request bodies: the automatic key and ``auto_now``/``auto_now_add``."""
    if field.primary_key and (field.auto_increment or mode == "update"):
        return True
    return isinstance(field, orm_fields.DateTime) and (field.auto_now or field.auto_now_add)


def _column_definition(field: Field[Any], mode: str, alias: str | None) -> tuple[Any, Any]:
    annotation = _column_type(field)
    nullable = field.null or (field.primary_key and field.auto_increment and mode != "read")
    if nullable:
        annotation = annotation | None
    options: dict[str, Any] = {"alias": alias}
    if mode == "update" or (mode == "create" and field.primary_key and field.auto_increment):
        options["default"] = None  # not validated: absent means "not given"
    elif mode == "create" and field.has_default:
        if callable(field.default):
            options["default_factory"] = field.default
        else:
            options["default"] = field.default
    elif mode == "create" and field.null:
        options["default"] = None
    return annotation, PydanticField(**options)


def _relation_definition(
    model: type[Model], relation: Any, relations: Mapping[str, Any], alias: str | None
) -> tuple[Any, Any]:
    name = relation.name
    target = relation.target_model()
    target_schema = relations[name]
    if not (isinstance(target_schema, type) and issubclass(target_schema, BaseModel)):
        raise TypeError(
            f"relations[{name!r}] must be a pydantic model class (e.g. "
            f"orm.schema({target.__name__})), got {target_schema!r:.80}"
        )
    described = getattr(target_schema, "__orm_model__", None)
    if described is not None and described is not target:
        raise FieldError(
            f"relations[{name!r}]: {target_schema.__name__} is a schema of "
            f"{described.__name__}, but {model.__name__}.{name} holds {target.__name__} objects"
        )
    if described is None and not target_schema.model_config.get("from_attributes"):
        raise TypeError(
            f"relations[{name!r}]: {target_schema.__name__} cannot read {target.__name__} "
            f"objects; use orm.schema({target.__name__}) (or set from_attributes=True)"
        )
    annotation: Any
    if relation.multi_valued:
        annotation = list[target_schema]  # type: ignore[valid-type]
    elif isinstance(relation, ForeignKey) and not relation.null:
        annotation = target_schema
    else:
        annotation = target_schema | None
    return annotation, PydanticField(alias=alias)


def build_schema(
    model: type[Model],
    *,
    mode: str,
    include: Iterable[str] | None,
    exclude: Iterable[str],
    relations: Mapping[str, Any],
    name: str | None,
) -> type[BaseModel]:
    """``orm.schema``'s work (see its docstring)."""
    if not (isinstance(model, type) and issubclass(model, Model) and "_meta" in vars(model)):
        raise TypeError(f"orm.schema takes a concrete model class, got {model!r:.80}")
    if mode not in _MODES:
        raise ValueError(f"mode must be one of {', '.join(map(repr, _MODES))}, got {mode!r:.40}")
    if name is not None and (not isinstance(name, str) or not name):
        raise TypeError(f"name must be a non-empty str, got {name!r:.40}")
    if not isinstance(relations, Mapping):
        raise TypeError(f"relations= takes a dict of relation name to schema: {relations!r:.60}")
    meta = model._meta
    meta.registry.check()  # a relation whose target is not defined yet has no column
    owner = model.__name__
    included = _names(meta, include, "include")
    excluded = _names(meta, exclude, "exclude") or set()
    nested = _nested_relations(model, relations, excluded)
    if nested and mode != "read":
        keys = [f.attname for f in nested.values() if isinstance(f, ForeignKey)]
        by_key = f"; a {mode!r} schema takes a foreign key by its column ({', '.join(keys)})"
        raise FieldError(
            f"relations= nests related objects in 'read' schemas only{by_key if keys else ''}"
        )
    for attribute in included or ():
        if attribute not in meta.by_attname and attribute not in nested:
            hint = _relation_hint(meta, attribute)
            raise FieldError(f"{owner}.{attribute} is a relation: {hint}")

    definitions: dict[str, Any] = {}
    orm_names: dict[str, str] = {}

    def add(attribute: str, define: Callable[[str | None], tuple[Any, Any]]) -> None:
        key = _python_name(attribute, set(definitions))
        definitions[key] = define(None if key == attribute else attribute)
        orm_names[key] = attribute

    for field in meta.fields.values():
        if field.concrete and field.attname not in excluded:
            if included is not None:
                chosen = field.attname in included
            else:
                chosen = mode == "read" or not _is_server_managed(field, mode)
            if chosen:
                add(field.attname, partial(_column_definition, field, mode))
        if field.name in nested:
            add(field.name, partial(_relation_definition, model, nested[field.name], relations))
    for related_name, relation in meta.related.items():
        if related_name in nested:
            add(related_name, partial(_relation_definition, model, relation, relations))

    schema: type[ModelSchema] = create_model(
        name or f"{owner}{_SUFFIX[mode]}",
        __base__=ModelSchema,
        __module__=model.__module__,
        __doc__=model.__doc__,
        **definitions,
    )
    schema.__orm_model__ = model
    schema.__orm_names__ = orm_names
    return schema


def _names(meta: Options, names: Iterable[str] | None, argument: str) -> set[str] | None:
    """``names`` as a set, after checking that each is a column or relation of the model."""
    if names is None:
        return None
    if isinstance(names, str):
        raise TypeError(f"{argument}= takes a list of names, not the str {names!r:.60}")
    checked = set()
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f"{argument}= takes names (str), got {name!r:.60}")
        if name not in meta.by_attname and name not in meta.fields and name not in meta.related:
            raise meta.unknown(name, purpose=f"field (in {argument}=)")
        checked.add(name)
    return checked


def _nested_relations(
    model: type[Model], relations: Mapping[str, Any], excluded: set[str]
) -> dict[str, Any]:
    """The relation objects named in ``relations=``, checked."""
    meta = model._meta
    nested = {}
    for name in relations:
        relation = meta.fields.get(name) or meta.related.get(name)
        if relation is None and name not in meta.by_attname:
            raise meta.unknown(name, purpose="relation (in relations=)")
        if relation is None or not getattr(relation, "is_relation", False):
            raise FieldError(
                f"{model.__name__}.{name} is not a relation: relations= names relations "
                "(a foreign key, its reverse side or a many-to-many)"
            )
        if name in excluded:
            raise FieldError(f"{model.__name__}.{name} is both in relations= and in exclude=")
        nested[name] = relation
    return nested


def _relation_hint(meta: Options, name: str) -> str:
    relation: Any = meta.fields.get(name) or meta.related[name]
    target = relation.target_model().__name__
    key = (
        f"include its key column {relation.attname!r}, or "
        if isinstance(relation, ForeignKey)
        else ""
    )
    return f"{key}nest it with relations={{{name!r}: <a schema of {target}>}}"
