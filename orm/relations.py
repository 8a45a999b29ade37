"""Relation fields: ``ForeignKey``, ``OneToOne``, ``ManyToMany`` and their reverse sides.

Nothing here ever queries. A relation that was not loaded (``select_related``,
``prefetch_related`` or an explicit ``await ....load()``) raises ``RelationNotLoaded`` naming
the fix. A target given by name is resolved when that model is defined in the same registry.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Generic, Literal, Self, TypeVar, overload

import sqlalchemy as sa

from orm.exceptions import FieldError, ORMError, RelationNotLoaded, ValidationError
from orm.fields import NOT_PROVIDED, Field
from orm.incomplete import reference as make_reference

if TYPE_CHECKING:
    from orm.models import Model
    from orm.related import RelatedManager

__all__ = [
    "CASCADE",
    "RESTRICT",
    "SET_NULL",
    "ForeignKey",
    "ManyToMany",
    "OneToOne",
    "ReverseManyToMany",
    "ReverseRelation",
    "not_loaded",
]

CASCADE = "CASCADE"
"""``on_delete``: deleting the target deletes the rows that point at it."""
SET_NULL = "SET NULL"
"""``on_delete``: deleting the target sets the key to NULL (the field needs ``null=True``)."""
RESTRICT = "RESTRICT"
"""``on_delete``: deleting a target that rows still point at fails with ``IntegrityError``."""
_ON_DELETE = (CASCADE, SET_NULL, RESTRICT)

_M = TypeVar("_M", bound="Model")
_T = TypeVar("_T")


def not_loaded(owner: str, name: str, fix: str, variable: str) -> RelationNotLoaded:
    return RelationNotLoaded(
        f"{owner}.{name} is not loaded. Use {owner}.objects.{fix}({name!r}), "
        f"or await {variable}.{name}{'.load()' if fix == 'select_related' else '.all()'}."
    )


def _resolve_target(model: type[Model], to: type[Model] | str) -> type[Model] | None:
    if not isinstance(to, str):
        return to
    if to in ("self", model.__name__):
        return model
    return model._meta.registry.get_model(to)


def _check_related_name(target: type[Model], name: str, owner: str) -> None:
    meta = target._meta
    if name in meta.fields or name in meta.by_attname or name in meta.related:
        raise ORMError(
            f"model {owner}: related_name {name!r} clashes with {meta.name}.{name}; "
            "choose another related_name"
        )
    if hasattr(target, name):
        raise ORMError(f"model {owner}: related_name {name!r} is a {meta.name} attribute")


class ForeignKey(Field[_T]):
    """A many-to-one link. ``book.author_id`` holds the key; ``book.author`` the object.

    The column is ``<name>_id`` (or ``db_column``), indexed, with a real FOREIGN KEY
    constraint and the chosen ``ON DELETE`` on every backend.
    """

    is_relation = True
    multi_valued = False
    type_label = "related key"
    has_pre_save = True

    @overload
    def __init__(
        self: ForeignKey[_M],
        to: type[_M],
        *,
        related_name: str | None = None,
        on_delete: str = CASCADE,
        null: Literal[False] = False,
        db_column: str | None = None,
        index: bool = True,
        unique: bool = False,
        default: Any = NOT_PROVIDED,
    ) -> None: ...
    @overload
    def __init__(
        self: ForeignKey[_M | None],
        to: type[_M],
        *,
        related_name: str | None = None,
        on_delete: str = CASCADE,
        null: Literal[True],
        db_column: str | None = None,
        index: bool = True,
        unique: bool = False,
        default: Any = NOT_PROVIDED,
    ) -> None: ...
    @overload
    def __init__(
        self: ForeignKey[Any],
        to: str,
        *,
        related_name: str | None = None,
        on_delete: str = CASCADE,
        null: bool = False,
        db_column: str | None = None,
        index: bool = True,
        unique: bool = False,
        default: Any = NOT_PROVIDED,
    ) -> None: ...
    def __init__(
        self,
        to: type[Model] | str,
        *,
        related_name: str | None = None,
        on_delete: str = CASCADE,
        null: bool = False,
        db_column: str | None = None,
        index: bool = True,
        unique: bool = False,
        default: Any = NOT_PROVIDED,
    ) -> None:
        super().__init__(
            null=null, db_column=db_column, index=index and not unique, unique=unique,
            default=default,
        )  # fmt: skip
        self.to = to
        self.related_name = related_name
        self.on_delete = on_delete
        self.target: type[Model] | None = None
        self.ready = False

    def __set_name__(self, owner: type[Any], name: str) -> None:
        self.name = name
        self.cache_name = name
        self.attname = f"{name}_id"
        self.column_name = self.db_column or self.attname

    def check(self) -> list[str]:
        problems = []
        if self.on_delete not in _ON_DELETE:
            problems.append("on_delete must be orm.CASCADE, orm.SET_NULL or orm.RESTRICT")
        if self.on_delete == SET_NULL and not self.null:
            problems.append("on_delete=SET_NULL needs null=True")
        if self.primary_key:
            problems.append("a relation cannot be the primary key")
        return problems

    # -- resolution ----------------------------------------------------------------------------

    def contribute_to_class(self, model: type[Model]) -> None:
        target = self.to if isinstance(self.to, str) else self.to.__name__
        model._meta.registry._defer(
            f"{model.__name__}.{self.name} -> {target!r} (no such model in the registry)",
            lambda: self._resolve(model),
        )

    def _resolve(self, model: type[Model]) -> bool:
        target = _resolve_target(model, self.to)
        if target is None:
            return False
        self.target = target
        target_pk = target._meta.pk
        key_type = target_pk.sa_type()
        column = sa.Column(
            self.column_name,
            key_type,
            sa.ForeignKey(target.table.c[target_pk.attname], ondelete=self.on_delete),
            key=self.attname,
            nullable=self.null,
            unique=self.unique or None,
            index=self.index or None,
        )
        model.table.append_column(column)
        self.ready = True
        model._meta.refresh_columns()
        if self.related_name != "+":
            name = self.related_name or self.default_related_name(model)
            _check_related_name(target, name, model.__name__)
            reverse = ReverseRelation(self, name)
            target._meta.related[name] = reverse
            setattr(target, name, reverse)
        return True

    def default_related_name(self, model: type[Model]) -> str:
        return f"{model.__name__.lower()}_set"

    def target_model(self) -> type[Model]:
        if self.target is None:
            raise ORMError(f"{self.model.__name__}.{self.name}: target model is not defined yet")
        return self.target

    def join_steps(self) -> list[tuple[sa.Table, str, str]]:
        target = self.target_model()
        return [(target.table, self.attname, target._meta.pk.attname)]

    # -- values --------------------------------------------------------------------------------

    def coerce(self, value: Any) -> Any:
        return self.target_model()._meta.pk.coerce(self.lookup_value(value))

    def validate_lookup(self, value: Any) -> Any:
        return self.lookup_value(value)

    def lookup_value(self, value: Any) -> Any:
        """A key from a model instance (its pk) or a key value (type-checked)."""
        target = self.target_model()
        if isinstance(value, target):
            if value.pk is None:
                raise ValidationError(
                    self.model.__name__,
                    self.name,
                    f"the {target.__name__} is not saved yet (save it first)",
                )
            return value.pk
        if value is None:
            return None
        try:
            return target._meta.pk.coerce(value)
        except Exception as exc:
            raise ValidationError(
                self.model.__name__,
                self.name,
                f"expected an instance of {target.__name__} or its key, "
                f"got {type(value).__name__} {value!r:.60}",
            ) from exc

    def pre_save(self, instance: Model, *, adding: bool) -> None:
        state = instance.__dict__
        related = state.get(self.cache_name)
        if related is not None and state.get(self.attname) is None:
            if related.pk is None:
                raise ValidationError(
                    self.model.__name__,
                    self.name,
                    f"the {type(related).__name__} is not saved yet (save it first)",
                )
            state[self.attname] = related.pk

    def set_initial(self, instance: Model, value: Any) -> None:
        self.__set__(instance, value)

    # -- descriptor ----------------------------------------------------------------------------

    @overload
    def __get__(self, instance: None, owner: Any) -> Self: ...
    @overload
    def __get__(self, instance: object, owner: Any) -> _T: ...
    def __get__(self, instance: object | None, owner: Any) -> Self | _T:
        if instance is None:
            return self
        state = instance.__dict__
        try:
            key = state[self.attname]
        except KeyError:
            return super().__get__(instance, owner)  # deferred: FieldNotLoaded
        if key is None:
            return None  # type: ignore[return-value]
        cached = state.get(self.cache_name)
        if cached is not None and cached.__dict__.get(cached._meta.pk.attname) == key:
            return cached  # type: ignore[no-any-return]
        reference = self.reference(instance, key)
        state[self.cache_name] = reference
        return reference  # type: ignore[return-value]

    def reference(self, instance: object, key: Any) -> Model:
        """A pk-only instance of the target; other attributes raise RelationNotLoaded."""
        return make_reference(self.target_model(), key, type(instance).__name__, self.name)

    def __set__(self, instance: object, value: _T) -> None:
        state = instance.__dict__
        if value is None:
            state[self.attname] = None
            state[self.cache_name] = None
            return
        target = self.target_model()
        if not isinstance(value, target):
            raise FieldError(
                f"{type(instance).__name__}.{self.name} takes a {target.__name__} instance "
                f"(or set {self.attname} to its key), got {type(value).__name__}"
            )
        state[self.attname] = value.pk
        state[self.cache_name] = value


class OneToOne(ForeignKey[_T]):
    """A unique foreign key; the reverse side is a single object, not a manager."""

    @overload
    def __init__(
        self: OneToOne[_M],
        to: type[_M],
        *,
        related_name: str | None = None,
        on_delete: str = CASCADE,
        null: Literal[False] = False,
        db_column: str | None = None,
        default: Any = NOT_PROVIDED,
    ) -> None: ...
    @overload
    def __init__(
        self: OneToOne[_M | None],
        to: type[_M],
        *,
        related_name: str | None = None,
        on_delete: str = CASCADE,
        null: Literal[True],
        db_column: str | None = None,
        default: Any = NOT_PROVIDED,
    ) -> None: ...
    @overload
    def __init__(
        self: OneToOne[Any],
        to: str,
        *,
        related_name: str | None = None,
        on_delete: str = CASCADE,
        null: bool = False,
        db_column: str | None = None,
        default: Any = NOT_PROVIDED,
    ) -> None: ...
    def __init__(
        self,
        to: type[Model] | str,
        *,
        related_name: str | None = None,
        on_delete: str = CASCADE,
        null: bool = False,
        db_column: str | None = None,
        default: Any = NOT_PROVIDED,
    ) -> None:
        super().__init__(
            to,  # type: ignore[arg-type]
            related_name=related_name, on_delete=on_delete, null=null, db_column=db_column,
            unique=True, default=default,
        )  # fmt: skip

    def default_related_name(self, model: type[Model]) -> str:
        return model.__name__.lower()


class ReverseRelation:
    """The target side of a ForeignKey/OneToOne (``author.books``, ``user.profile``)."""

    is_relation = True
    concrete = False

    def __init__(self, field: ForeignKey[Any], name: str) -> None:
        self.field = field
        self.name = name
        self.cache_name = name
        self.multi_valued = not field.unique
        self.model = field.target_model()

    def target_model(self) -> type[Model]:
        return self.field.model

    def join_steps(self) -> list[tuple[sa.Table, str, str]]:
        return [(self.field.model.table, self.model._meta.pk.attname, self.field.attname)]

    def __get__(self, instance: Model | None, owner: Any) -> Any:
        if instance is None:
            return self
        if not self.multi_valued:
            try:
                return instance.__dict__[self.cache_name]
            except KeyError:
                owner = self.model.__name__
                raise RelationNotLoaded(
                    f"{owner}.{self.name} is not loaded. Use "
                    f"{owner}.objects.select_related({self.name!r}) or "
                    f"{owner}.objects.prefetch_related({self.name!r})."
                ) from None
        from orm.related import RelatedManager

        return RelatedManager(instance, self)

    def __set__(self, instance: Model, value: Any) -> None:
        raise AttributeError(
            f"{self.model.__name__}.{self.name} is a reverse relation: set "
            f"{self.field.model.__name__}.{self.field.name} instead"
        )


def _variable(instance: object) -> str:
    return type(instance).__name__.lower()


class ManyToMany(Field[_T], Generic[_T]):
    """A many-to-many link through a join table (automatic, or a ``through`` model).

    ``book.tags`` is a related manager (``add``, ``remove``, ``clear``, ``set``, ``all`` ...).
    """

    is_relation = True
    concrete = False
    multi_valued = True

    @overload
    def __init__(
        self: ManyToMany[RelatedManager[_M]],
        to: type[_M],
        *,
        related_name: str | None = None,
        through: type[Model] | str | None = None,
    ) -> None: ...
    @overload
    def __init__(
        self: ManyToMany[RelatedManager[Any]],
        to: str,
        *,
        related_name: str | None = None,
        through: type[Model] | str | None = None,
    ) -> None: ...
    def __init__(
        self,
        to: type[Model] | str,
        *,
        related_name: str | None = None,
        through: type[Model] | str | None = None,
    ) -> None:
        super().__init__(null=True)
        self.to = to
        self.related_name = related_name
        self.through = through
        self.target: type[Model] | None = None
        self.through_model: type[Model] | None = None
        self.source_field: ForeignKey[Any]
        self.target_field: ForeignKey[Any]

    def __set_name__(self, owner: type[Any], name: str) -> None:
        super().__set_name__(owner, name)
        self.cache_name = name

    def contribute_to_class(self, model: type[Model]) -> None:
        target = self.to if isinstance(self.to, str) else self.to.__name__
        model._meta.registry._defer(
            f"{model.__name__}.{self.name} -> {target!r} (no such model in the registry)",
            lambda: self._resolve(model),
        )

    def _resolve(self, model: type[Model]) -> bool:
        if self.through_model is not None:
            return True
        target = _resolve_target(model, self.to)
        if target is None:
            return False
        through = self.through
        if isinstance(through, str):
            through = model._meta.registry.get_model(through)
            if through is None:
                return False
        for field in through._meta.fields.values() if through is not None else ():
            if isinstance(field, ForeignKey) and field.target is None:
                return False  # the through model's own keys resolve first
        self.target = target
        if through is None:
            through = self._auto_through(model, target)
        self.through_model = through
        self.source_field, self.target_field = self._link_fields(model, target, through)
        if self.related_name != "+":
            name = self.related_name or f"{model.__name__.lower()}_set"
            _check_related_name(target, name, model.__name__)
            reverse = ReverseManyToMany(self, name)
            target._meta.related[name] = reverse
            setattr(target, name, reverse)
        return True

    def _auto_through(self, model: type[Model], target: type[Model]) -> type[Model]:
        from orm.models import Model

        source_name, target_name = model.__name__.lower(), target.__name__.lower()
        if source_name == target_name:
            source_name, target_name = f"from_{source_name}", f"to_{target_name}"
        namespace = {
            "registry": model._meta.registry,
            "tablename": f"{model.tablename}_{self.name}",
            source_name: ForeignKey(model, related_name="+", on_delete=CASCADE),
            target_name: ForeignKey(target, related_name="+", on_delete=CASCADE),
        }
        through: type[Model] = type(f"{model.__name__}{self.name.title()}Link", (Model,), namespace)
        through.table.append_constraint(
            sa.UniqueConstraint(
                through.table.c[f"{source_name}_id"], through.table.c[f"{target_name}_id"]
            )
        )
        return through

    def _link_fields(
        self, model: type[Model], target: type[Model], through: type[Model]
    ) -> tuple[ForeignKey[Any], ForeignKey[Any]]:
        keys = [f for f in through._meta.fields.values() if isinstance(f, ForeignKey)]
        to_source = [f for f in keys if f.target is model]
        to_target = [f for f in keys if f.target is target]
        if model is target and len(keys) >= 2:
            return keys[0], keys[1]
        if len(to_source) != 1 or len(to_target) != 1:
            raise ORMError(
                f"model {model.__name__}: through model {through.__name__} needs exactly one "
                f"ForeignKey to {model.__name__} and one to {target.__name__}"
            )
        return to_source[0], to_target[0]

    def target_model(self) -> type[Model]:
        if self.target is None:
            raise ORMError(f"{self.model.__name__}.{self.name}: target model is not defined yet")
        return self.target

    def join_steps(self) -> list[tuple[sa.Table, str, str]]:
        assert self.through_model is not None
        return [
            (self.through_model.table, self.model._meta.pk.attname, self.source_field.attname),
            (self.target_model().table, self.target_field.attname, self.target._meta.pk.attname),  # type: ignore[union-attr]
        ]

    def lookup_value(self, value: Any) -> Any:
        target = self.target_model()
        if isinstance(value, target):
            return value.pk
        return target._meta.pk.validate_lookup(value)

    def build_column(self) -> sa.Column[Any]:  # pragma: no cover - never concrete
        raise ORMError("a many-to-many field has no column")

    @overload
    def __get__(self, instance: None, owner: Any) -> Self: ...
    @overload
    def __get__(self, instance: object, owner: Any) -> _T: ...
    def __get__(self, instance: object | None, owner: Any) -> Self | _T:
        if instance is None:
            return self
        from orm.related import RelatedManager

        return RelatedManager(instance, self)  # type: ignore[arg-type,return-value]

    def __set__(self, instance: object, value: Any) -> None:
        raise AttributeError(
            f"{type(instance).__name__}.{self.name} is many-to-many: use "
            f"await {_variable(instance)}.{self.name}.set([...])"
        )


class ReverseManyToMany:
    """The target side of a ManyToMany (``tag.books``)."""

    is_relation = True
    concrete = False
    multi_valued = True

    def __init__(self, field: ManyToMany[Any], name: str) -> None:
        self.field = field
        self.name = name
        self.cache_name = name
        self.model = field.target_model()
        self.source_field = field.target_field
        self.target_field = field.source_field
        self.through_model = field.through_model

    def target_model(self) -> type[Model]:
        return self.field.model

    def join_steps(self) -> list[tuple[sa.Table, str, str]]:
        assert self.through_model is not None
        source = self.field.model
        return [
            (self.through_model.table, self.model._meta.pk.attname, self.source_field.attname),
            (source.table, self.target_field.attname, source._meta.pk.attname),
        ]

    def lookup_value(self, value: Any) -> Any:
        return self.field.model._meta.pk.validate_lookup(
            value.pk if isinstance(value, self.field.model) else value
        )

    def __get__(self, instance: Model | None, owner: Any) -> Any:
        if instance is None:
            return self
        from orm.related import RelatedManager

        return RelatedManager(instance, self)

    def __set__(self, instance: Model, value: Any) -> None:
        raise AttributeError(
            f"{self.model.__name__}.{self.name} is many-to-many: use "
            f"await {_variable(instance)}.{self.name}.set([...])"
        )
