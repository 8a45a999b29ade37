"""Model options that are not fields: composite indexes and constraints, from ``class Meta``.

```python
class Booking(orm.Model):
    registry = models
    room = orm.ForeignKey(Room, related_name="bookings")
    day = orm.Date()
    nights = orm.Integer()

    class Meta:
        unique_together = [("room", "day")]
        indexes = [orm.Index("day", "nights")]
        constraints = [orm.CheckConstraint(check=orm.Q(nights__gt=0), name="nights_positive")]
```

Every index and constraint is named through the registry's naming convention when it has no
name of its own (``ix_bookings_day_nights``, ``uq_bookings_room_id_day``), so migrations can
drop it later; a check constraint's name goes into the convention (``ck_bookings_<name>``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.sql import util as sql_util

from orm.exceptions import FieldError, ORMError
from orm.expressions import Q

if TYPE_CHECKING:
    from orm.fields import Field
    from orm.models import Model

__all__ = ["META_OPTIONS", "CheckConstraint", "Index", "MetaOptions", "UniqueConstraint"]


def _names(owner: str, given: Iterable[Any]) -> tuple[str, ...]:
    names = tuple(given)
    if not names:
        raise ORMError(f"{owner} needs at least one field name")
    for name in names:
        if not isinstance(name, str):
            raise ORMError(f"{owner}: field names are strings, got {type(name).__name__}")
    if len(set(names)) != len(names):
        raise ORMError(f"{owner}: a field is named twice in {list(names)}")
    return names


def _name(owner: str, name: Any) -> str | None:
    if name is not None and (not isinstance(name, str) or not name):
        raise ORMError(f"{owner}: name must be a non-empty str or None")
    return name


class Index:
    """An index over one or more fields: ``orm.Index("last", "first")`` or
    ``orm.Index(fields=["last", "first"], unique=True)``."""

    def __init__(
        self,
        *field_names: str,
        fields: Sequence[str] = (),
        name: str | None = None,
        unique: bool = False,
    ) -> None:
        if field_names and fields:
            raise ORMError("orm.Index: give the field names as arguments or as fields=, not both")
        self.fields = _names("orm.Index", field_names or fields)
        self.name = _name("orm.Index", name)
        self.unique = bool(unique)

    def __repr__(self) -> str:
        return f"orm.Index(fields={list(self.fields)!r}, name={self.name!r}, unique={self.unique})"

    def build(self, model: type[Model]) -> sa.Index:
        return sa.Index(self.name, *_columns(model, self.fields, "orm.Index"), unique=self.unique)


class UniqueConstraint:
    """A UNIQUE constraint over one or more fields: ``orm.UniqueConstraint(fields=[...])``."""

    def __init__(self, *, fields: Sequence[str], name: str | None = None) -> None:
        if isinstance(fields, str):
            raise ORMError("orm.UniqueConstraint: fields= is a list of field names, not a str")
        self.fields = _names("orm.UniqueConstraint", fields)
        self.name = _name("orm.UniqueConstraint", name)

    def __repr__(self) -> str:
        return f"orm.UniqueConstraint(fields={list(self.fields)!r}, name={self.name!r})"

    def build(self, model: type[Model]) -> sa.UniqueConstraint:
        columns = _columns(model, self.fields, "orm.UniqueConstraint")
        return sa.UniqueConstraint(*columns, name=self.name)


class CheckConstraint:
    """A CHECK constraint: ``orm.CheckConstraint(check=orm.Q(price__gte=0), name="price")``.

    ``check`` is a ``Q`` over the model's own fields, compiled by the same code as
    ``filter()`` (every lookup works; values become literals in the DDL). The name is required:
    it goes into the naming convention (``ck_<table>_<name>``) and is how migrations find it.
    """

    def __init__(self, *, check: Q, name: str) -> None:
        if not isinstance(check, Q):
            raise ORMError(
                f"orm.CheckConstraint: check= takes an orm.Q, got {type(check).__name__}"
            )
        if not isinstance(name, str) or not name:
            raise ORMError("orm.CheckConstraint: name= is required (a non-empty str)")
        self.check = check
        self.name = name

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(_q_fields(self.check))

    def __repr__(self) -> str:
        return f"orm.CheckConstraint(check={self.check!r}, name={self.name!r})"

    def build(self, model: type[Model]) -> sa.CheckConstraint:
        from orm.query.compiler import compile_q
        from orm.query.resolver import Resolver

        resolver = Resolver(model)
        condition = compile_q(resolver, self.check)
        tables = set(sql_util.find_tables(condition, include_aliases=True))
        if resolver.joins or tables - {model.table}:
            raise FieldError(
                f"{model.__name__}: CheckConstraint {self.name!r} can only use "
                f"{model.__name__}'s own fields, not fields of related models"
            )
        return sa.CheckConstraint(condition, name=self.name)


def _q_fields(q: Q) -> list[str]:
    names = []
    for child in q.children:
        if isinstance(child, Q):
            names += _q_fields(child)
        else:
            names.append(child[0].split("__", 1)[0])
    return names


def _field(model: type[Model], name: str, owner: str) -> Field[Any]:
    meta = model._meta
    found = meta.get_field(name)
    if not found.concrete:
        raise FieldError(
            f"{owner} on {meta.name}: field {name!r} is many-to-many and has no column "
            "(put the index or constraint on its through model)"
        )
    return found


def _columns(model: type[Model], names: Sequence[str], owner: str) -> list[sa.Column[Any]]:
    return [model.table.c[_field(model, name, owner).attname] for name in names]


@dataclass
class MetaOptions:
    """The options of a model's ``class Meta`` (each defaults to empty)."""

    unique_together: tuple[tuple[str, ...], ...] = ()
    indexes: tuple[Index, ...] = ()
    constraints: tuple[UniqueConstraint | CheckConstraint, ...] = ()
    #: Field names each option uses, checked when the class is created.
    used: list[tuple[str, str]] = field(default_factory=list)

    def schema_items(self, model: type[Model]) -> list[sa.Index | sa.Constraint]:
        """Build the SQLAlchemy indexes and constraints (the model's columns must exist)."""
        items: list[sa.Index | sa.Constraint] = [
            sa.UniqueConstraint(*_columns(model, names, "unique_together"))
            for names in self.unique_together
        ]
        items += [index.build(model) for index in self.indexes]
        items += [constraint.build(model) for constraint in self.constraints]
        return items


def _unique_together(value: Any) -> tuple[tuple[str, ...], ...]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise ORMError("unique_together is a list of field-name tuples, e.g. [('a', 'b')]")
    groups = list(value)
    if groups and all(isinstance(item, str) for item in groups):
        groups = [groups]  # Django's shorthand: one tuple of names
    result = []
    for group in groups:
        if isinstance(group, str) or not isinstance(group, Iterable):
            raise ORMError("unique_together is a list of field-name tuples, e.g. [('a', 'b')]")
        result.append(_names("unique_together", group))
    return tuple(result)


def _of_kind(option: str, value: Any, kinds: tuple[type, ...]) -> tuple[Any, ...]:
    allowed = " or ".join(f"orm.{kind.__name__}" for kind in kinds)
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise ORMError(f"{option} is a list of {allowed}")
    items = tuple(value)
    for item in items:
        if not isinstance(item, kinds):
            raise ORMError(f"{option} takes {allowed}, got {type(item).__name__}")
    return items


#: The options ``class Meta`` accepts, each with its reader. One entry per option.
META_OPTIONS: dict[str, Any] = {
    "unique_together": _unique_together,
    "indexes": lambda value: _of_kind("indexes", value, (Index,)),
    "constraints": lambda value: _of_kind(
        "constraints", value, (UniqueConstraint, CheckConstraint)
    ),
}


def read_meta(meta: type | None) -> MetaOptions:
    """Read a model's ``class Meta``; ORMError for an unknown option or a malformed value."""
    options = MetaOptions()
    if meta is None:
        return options
    given = {name: value for name, value in vars(meta).items() if not name.startswith("_")}
    unknown = sorted(set(given) - set(META_OPTIONS))
    if unknown:
        raise ORMError(
            f"unknown Meta option(s) {', '.join(unknown)}; "
            f"allowed: {', '.join(sorted(META_OPTIONS))}"
        )
    for name, value in given.items():
        setattr(options, name, META_OPTIONS[name](value))
    options.used = [("unique_together", n) for group in options.unique_together for n in group]
    options.used += [("orm.Index", n) for index in options.indexes for n in index.fields]
    options.used += [(type(c).__name__, n) for c in options.constraints for n in c.fields]
    return options
