"""``Model``: the base class of user models, and the metaclass that turns fields into a table."""

from __future__ import annotations

import copy
import inspect
import keyword
import re
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar, Self, dataclass_transform

import sqlalchemy as sa

from asyncdb.codegen import generate
from orm import persistence
from orm.constraints import read_meta
from orm.exceptions import FieldError, ORMError
from orm.fields import NOT_PROVIDED, Field, Integer
from orm.manager import Manager
from orm.options import Options
from orm.registry import ModelRegistry

if TYPE_CHECKING:
    from asyncdb import Database

__all__ = ["Model", "ModelMeta"]

# Attributes of Model that a field must not shadow (filled in after Model is defined).
RESERVED_NAMES: set[str] = set()


def _default_tablename(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def _model_error(name: str, problem: str) -> ORMError:
    return ORMError(f"model {name}: {problem}")


@dataclass_transform(kw_only_default=True)
class ModelMeta(type):
    """Collects the fields of a model class, builds its table and registers it.

    The ``dataclass_transform`` lets type checkers check ``Book(title=...)`` against fields
    declared with an annotation (``title: orm.Field[str] = orm.String(max_length=200)``).
    """

    def __new__(
        mcs, name: str, bases: tuple[type, ...], namespace: dict[str, Any], **kwargs: Any
    ) -> ModelMeta:
        cls = super().__new__(mcs, name, bases, namespace, **kwargs)
        if not any(isinstance(base, ModelMeta) for base in bases):
            return cls  # Model itself
        for base in bases:
            if "_meta" in base.__dict__:
                raise _model_error(
                    name,
                    f"subclassing the concrete model {base.__name__} is not supported; "
                    "put the shared fields in an abstract base (abstract = True)",
                )
        fields = _collect_fields(cls, name, bases, namespace)
        try:
            options = read_meta(_meta_class(cls, namespace))
        except ORMError as exc:
            raise _model_error(name, str(exc)) from None
        if namespace.get("abstract", False):
            cls._abstract_fields = fields  # type: ignore[attr-defined]
            _set_fields_aside(cls, fields)
            return cls
        cls.abstract = False  # type: ignore[attr-defined]
        registry = getattr(cls, "registry", None)
        if not isinstance(registry, ModelRegistry):
            raise _model_error(
                name, "set `registry = <an orm.ModelRegistry>` in the class body (or a base)"
            )
        _add_primary_key(cls, name, fields)
        tablename = namespace.get("tablename") or _default_tablename(name)
        if not isinstance(tablename, str):
            raise _model_error(name, "tablename must be a str")
        cls.tablename = tablename  # type: ignore[attr-defined]
        for field in fields.values():
            field.model = cls  # type: ignore[assignment]
        meta = Options(cls, registry, tablename, fields)  # type: ignore[arg-type]
        cls._meta = meta  # type: ignore[attr-defined]
        if tablename in registry.metadata.tables:
            raise _model_error(name, f"table {tablename!r} is already used by another model")
        meta.table = registry._table_for(cls, [f.build_column() for f in meta.concrete_fields])  # type: ignore[arg-type]
        cls.table = meta.table  # type: ignore[attr-defined]
        meta.options = options
        known = {*fields, *(f.attname for f in fields.values()), "pk"}
        for owner, field_name in options.used:
            if field_name not in known:
                raise FieldError(f"Meta {owner}: {meta.unknown(field_name)}")
        registry._register(cls)  # type: ignore[arg-type]
        for field in list(fields.values()):
            contribute = getattr(field, "contribute_to_class", None)
            if contribute is not None:
                contribute(cls)
        if options.used:
            registry._defer(
                f"{name}.Meta: its indexes and constraints wait for a related model",
                partial(_add_meta_items, cls),  # type: ignore[arg-type]
            )
        _set_fields_aside(cls, fields)
        if cls.__init__ is Model.__init__:  # type: ignore[misc]
            _install_init(cls)  # type: ignore[arg-type]
        return cls

    if not TYPE_CHECKING:  # type checkers would accept any class attribute through it

        def __getattr__(cls, name: str) -> Any:
            # Reached only when normal lookup fails: ``Book.title`` gives the field set aside.
            for klass in cls.__mro__:
                aside = klass.__dict__.get("_orm_fields_aside")
                if aside is not None and name in aside:
                    return aside[name]
            raise AttributeError(f"type object {cls.__name__!r} has no attribute {name!r}")


def _meta_class(cls: type, namespace: dict[str, Any]) -> type | None:
    """The model's ``class Meta``, or else the nearest abstract base's."""
    own = namespace.get("Meta")
    if own is not None:
        if not isinstance(own, type):
            raise ORMError("Meta must be a class (class Meta: ...)")
        return own
    for base in cls.__mro__[1:]:
        if "_abstract_fields" in base.__dict__ and isinstance(base.__dict__.get("Meta"), type):
            return base.__dict__["Meta"]  # type: ignore[no-any-return]
    return None


def _add_meta_items(model: type[Model]) -> bool:
    """Add the ``Meta`` indexes and constraints to the table once every field has its column."""
    meta = model._meta
    if not all(getattr(f, "ready", True) for f in meta.fields.values() if f.concrete):
        return False
    table = meta.table
    for item in meta.options.schema_items(model):
        if isinstance(item, sa.Constraint) and item not in table.constraints:
            table.append_constraint(item)
    return True


def _set_fields_aside(cls: type, fields: dict[str, Field[Any]]) -> None:
    """Take the plain fields out of the class ``__dict__`` (``Book.title`` still gives them,
    through ``ModelMeta.__getattr__``).

    A class attribute of a field's name, even a non-data descriptor, keeps CPython from
    specialising reads and stores of that attribute on instances: with none, ``book.title``
    costs what any attribute costs (about 3x faster to read, 1.6x to hydrate). Relations, which
    are data descriptors, stay. Instances that lack a value are of the model's incomplete
    subclass, whose ``__getattr__`` explains (``orm.incomplete``).
    """
    aside: dict[str, Field[Any]] = {}
    for field_name, field in fields.items():
        if cls.__dict__.get(field_name) is field and not hasattr(type(field), "__set__"):
            type.__delattr__(cls, field_name)
            aside[field_name] = field
    type.__setattr__(cls, "_orm_fields_aside", aside)


def _collect_fields(
    cls: type, name: str, bases: tuple[type, ...], namespace: dict[str, Any]
) -> dict[str, Field[Any]]:
    fields: dict[str, Field[Any]] = {}
    for base in reversed(cls.__mro__[1:]):
        for field_name, field in getattr(base, "__dict__", {}).get("_abstract_fields", {}).items():
            clone = copy.copy(field)
            clone.__set_name__(cls, field_name)
            setattr(cls, field_name, clone)
            fields[field_name] = clone
    for field_name, value in namespace.items():
        if isinstance(value, Field):
            fields[field_name] = value
    problems = []
    for field_name, field in fields.items():
        if field_name in RESERVED_NAMES:
            problems.append(f"field name {field_name!r} is reserved (it is a Model attribute)")
        elif field_name.startswith("_") or "__" in field_name:
            problems.append(
                f"field name {field_name!r} must not start with '_' or contain '__' "
                "(double underscores separate lookups)"
            )
        problems += [f"field {field_name!r}: {problem}" for problem in field.check()]
    primary = [n for n, f in fields.items() if f.primary_key]
    if len(primary) > 1:
        problems.append(f"more than one primary key ({', '.join(primary)}); declare exactly one")
    for field_name, field in fields.items():
        if field.primary_key and field.null:
            problems.append(f"primary key {field_name!r} cannot be null=True")
    if problems:
        raise _model_error(name, "; ".join(problems))
    return fields


def _add_primary_key(cls: type, name: str, fields: dict[str, Field[Any]]) -> None:
    if any(f.primary_key for f in fields.values()):
        return
    if "id" in fields:
        raise _model_error(
            name, "field 'id' is not a primary key; 'id' is reserved for the automatic key"
        )
    pk: Field[Any] = Integer(primary_key=True)
    pk.__set_name__(cls, "id")
    setattr(cls, "id", pk)  # noqa: B010 - the auto key is set like a declared field
    fields["id"] = pk
    fields_in_order = {"id": pk, **{k: v for k, v in fields.items() if k != "id"}}
    fields.clear()
    fields.update(fields_in_order)


class Model(metaclass=ModelMeta):
    """Base class of models. Subclasses declare fields as class attributes.

    Instances are plain objects whose field values live in ``__dict__``; reading a field costs
    what reading any attribute costs.
    """

    registry: ClassVar[ModelRegistry]
    """The ``ModelRegistry`` the model belongs to (set in the class body, or on a base)."""
    tablename: ClassVar[str]
    """The table's name; default: the class name in snake_case (``BookTag`` -> ``book_tag``)."""
    abstract: ClassVar[bool] = False
    """``abstract = True`` in a class body: a base whose fields its subclasses get; no table."""
    table: ClassVar[sa.Table]
    """The model's SQLAlchemy ``Table`` (for Core statements through ``asyncdb``)."""
    _meta: ClassVar[Options]
    objects: ClassVar[Manager] = Manager()
    """``Model.objects``: a ``QuerySet`` over every row (reachable on the class only)."""

    if TYPE_CHECKING:
        # The automatic primary key; a model that declares its own `id` field overrides it.
        @property
        def id(self) -> Any:
            """The automatic primary key (``Integer``), unless the model declares its own."""

        @id.setter
        def id(self, value: Any) -> None: ...

    def __init__(self, **values: Any) -> None:
        meta = self._meta
        state = self.__dict__
        for field in meta.concrete_fields:
            if field.name in values:
                setter = getattr(field, "set_initial", None)
                if setter is not None:
                    setter(self, values.pop(field.name))
                else:
                    state[field.attname] = values.pop(field.name)
            elif field.attname in values:
                state[field.attname] = values.pop(field.attname)
            else:
                state[field.attname] = field.get_default()
        if values:
            for name in values:
                if name in meta.fields:
                    raise FieldError(
                        f"{meta.name}.{name} is many-to-many: save the {meta.name}, then "
                        f"await obj.{name}.add(...)"
                    )
            unknown = ", ".join(sorted(values))
            raise FieldError(
                f"{meta.name}() got unknown field(s) {unknown}. "
                f"Valid names: {', '.join(meta.valid_names())}."
            )

    # -- identity ------------------------------------------------------------------------------

    @property
    def pk(self) -> Any:
        """The primary key value (``None`` before the first save of an auto key)."""
        # getattr, not __dict__: reading __dict__ would turn the instance's inline values into
        # a dict, and every later attribute read would be slower.
        return getattr(self, self._meta.pk.attname, None)

    @pk.setter
    def pk(self, value: Any) -> None:
        self.__dict__[self._meta.pk.attname] = value

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Model) or type(other)._meta is not self._meta:
            return NotImplemented
        pk = self.pk
        if pk is None:
            return self is other
        return bool(pk == other.pk)

    def __hash__(self) -> int:
        pk = self.pk
        if pk is None:
            raise TypeError(f"unsaved {self._meta.name} instances (pk=None) are unhashable")
        return hash((self._meta.tablename, pk))

    def __repr__(self) -> str:
        return f"<{self._meta.name}: {self._meta.pk.name}={self.pk!r}>"

    def to_dict(self) -> dict[str, Any]:
        """The loaded field values by attribute name (``author_id`` for a foreign key)."""
        state = self.__dict__
        return {name: state[name] for name in self._meta.attnames if name in state}

    # -- persistence ---------------------------------------------------------------------------

    async def save(self, *, update_fields: list[str] | None = None) -> None:
        """Validate and write the instance: INSERT when new, else UPDATE of its loaded fields.

        With an auto key, "new" means ``pk is None``. With a key set, an UPDATE that matches no
        row is followed by an INSERT. ``update_fields`` limits an UPDATE to those fields.
        """
        await persistence.save(self, update_fields=update_fields)

    async def delete(self) -> None:
        """Delete the row; the instance keeps its values but its auto key becomes ``None``."""
        await persistence.delete(self)

    async def load(self) -> Self:
        """Reload every field from the database (in place); NoMatch if the row is gone."""
        await persistence.reload(self)
        return self

    @classmethod
    def database(cls) -> Database:
        """The ``Database`` this model's registry queries."""
        return cls._meta.registry.get_database()


# -- generated __init__ --------------------------------------------------------------------------
#
# ``Model.__init__`` loops over the fields and looks each one up in a keyword dict, about a
# microsecond per object. As ``dataclasses`` does, each concrete model instead gets an
# ``__init__`` generated from its fields (unless the class defines its own): one keyword-only
# parameter per accepted name (a field's name, and its attname when that differs), so plain
# construction is one store per field. It does exactly what ``Model.__init__`` does (defaults,
# ``set_initial`` of relations, the name or the attname of a field) and hands every other case
# to ``Model.__init__``, so errors stay the same: an unknown or many-to-many name, both the
# name and the attname of one field, or a field list that changed since generation (a relation
# whose target was declared later).


class _Absent:
    def __repr__(self) -> str:
        return "<not given>"


_ABSENT: Any = _Absent()


def _install_init(model: type[Model]) -> None:
    init = _generate_init(model)
    if init is not None:
        setattr(model, "__init__", init)  # noqa: B010 - a method generated for this class


def _generate_init(model: type[Model]) -> Callable[..., None] | None:
    """The generated ``__init__`` for ``model``; None when a name cannot be a parameter."""
    meta = model._meta
    fields = meta.concrete_fields
    namespace: dict[str, Any] = {
        "_ABSENT": _ABSENT,
        "_meta": meta,
        "_fields": fields,
        "_fallback": _init_fallback,
    }
    params: dict[str, str] = {}  # parameter -> its default (an expression)
    conflicts: list[str] = []
    body: list[str] = []
    for i, field in enumerate(fields):
        name, attname = field.name, field.attname
        names = [name] if name == attname else [name, attname]
        for param in names:
            if not param.isidentifier() or keyword.iskeyword(param) or param.startswith("_"):
                return None
            if param in params:
                return None
        params.update(dict.fromkeys(names, "_ABSENT"))
        # A data descriptor on the class would intercept an attribute store: use __dict__.
        static = type(inspect.getattr_static(model, attname, None))
        if hasattr(static, "__set__") or hasattr(static, "__delete__"):
            target = f"_self.__dict__[{attname!r}]"
        else:
            target = f"_self.{attname}"
        setter = getattr(field, "set_initial", None)
        plain_default = type(field).get_default is Field.get_default
        if plain_default and field.default is NOT_PROVIDED:
            default = "None"
        elif plain_default and not callable(field.default):
            namespace[f"_default{i}"] = field.default  # what get_default() returns
            default = f"_default{i}"
        else:
            namespace[f"_default{i}"] = field.get_default
            default = f"_default{i}()"
        if setter is None and name == attname:
            if not default.endswith("()"):  # a constant: the parameter's own default
                params[name] = default
                body.append(f"    {target} = {name}")
            else:
                body.append(f"    {target} = {default} if {name} is _ABSENT else {name}")
            continue
        body.append(f"    if {name} is not _ABSENT:")
        if setter is not None:
            namespace[f"_set{i}"] = setter
            body.append(f"        _set{i}(_self, {name})")
        else:
            body.append(f"        {target} = {name}")
        if name != attname:
            conflicts.append(f"({name} is not _ABSENT and {attname} is not _ABSENT)")
            body.append(f"    elif {attname} is not _ABSENT:")
            body.append(f"        {target} = {attname}")
        body.append("    else:")
        body.append(f"        {target} = {default}")
    signature = ", ".join(f"{param}={default}" for param, default in params.items())
    passed = ", ".join(f"{param}={param}" for param in params)
    conditions = " or ".join(["_extra", "_meta.concrete_fields is not _fields", *conflicts])
    source = "\n".join(
        [
            f"def __init__(_self, *, {signature}, **_extra):",
            f"    if {conditions}:",
            f"        return _fallback(_self, _extra, {passed})",
            *body,
        ]
    )
    init: Callable[..., None] = generate(
        "__init__", source, namespace, label=f"orm: {model.__qualname__}.__init__"
    )
    init.__qualname__ = f"{model.__qualname__}.__init__"
    init.__module__ = model.__module__
    init.__doc__ = f"Set the fields of a new {meta.name} (generated from its fields)."
    init.__orm_fields__ = fields  # type: ignore[attr-defined]
    return init


def _init_fallback(obj: Model, extra: dict[str, Any], **named: Any) -> None:
    """What the generated ``__init__`` does not handle: ``Model.__init__`` does it (or raises)."""
    model = type(obj)
    current = model.__dict__.get("__init__")
    generated_for = getattr(current, "__orm_fields__", None)
    if generated_for is not None and generated_for is not model._meta.concrete_fields:
        _install_init(model)  # the fields changed: later instances use a fresh __init__
    values = {name: value for name, value in named.items() if value is not _ABSENT}
    values.update(extra)
    Model.__init__(obj, **values)


RESERVED_NAMES.update(name for name in dir(Model) if not name.startswith("__"))
RESERVED_NAMES.update({"pk", "objects", "registry", "tablename", "table", "abstract"})
RESERVED_NAMES.discard("id")
