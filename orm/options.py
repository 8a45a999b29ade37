"""``Model._meta``: what the ORM knows about one model (fields, table, key, relations)."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from orm.constraints import MetaOptions
from orm.exceptions import FieldError

if TYPE_CHECKING:
    from orm.fields import Field
    from orm.models import Model
    from orm.registry import ModelRegistry

__all__ = ["Options"]


class Options:
    """Per-model metadata, built by the model metaclass. Read-only after class creation."""

    def __init__(
        self,
        model: type[Model],
        registry: ModelRegistry,
        tablename: str,
        fields: dict[str, Field[Any]],
    ) -> None:
        self.model = model
        self.name = model.__name__
        self.registry = registry
        self.tablename = tablename
        #: Every declared field by name, in declaration order (relations included).
        self.fields = fields
        #: Reverse relations and many-to-many managers by their accessor name (issue 4).
        self.related: dict[str, Any] = {}
        self.pk: Field[Any] = next(f for f in fields.values() if f.primary_key)
        self.table: sa.Table
        #: What ``class Meta`` declared: ``unique_together``, ``indexes``, ``constraints``.
        self.options = MetaOptions()
        self.refresh_columns()

    def refresh_columns(self) -> None:
        """Recompute the column lists; a relation adds its column once its target is known."""
        self.concrete_fields: tuple[Field[Any], ...] = tuple(
            f for f in self.fields.values() if f.concrete and getattr(f, "ready", True)
        )
        self.attnames: tuple[str, ...] = tuple(f.attname for f in self.concrete_fields)
        self.by_attname: dict[str, Field[Any]] = {f.attname: f for f in self.concrete_fields}

    def columns(self) -> list[sa.Column[Any]]:
        return [self.table.c[name] for name in self.attnames]

    # -- name resolution ----------------------------------------------------------------------

    def valid_names(self) -> list[str]:
        names = list(self.fields)
        names += [f.attname for f in self.concrete_fields if f.attname != f.name]
        names += list(self.related)
        return names

    def get_field(self, name: str, *, purpose: str = "field") -> Field[Any]:
        """The field called ``name`` (its name or attname); FieldError listing the names."""
        field = self.fields.get(name) or self.by_attname.get(name)
        if field is None and name == "pk":
            field = self.pk
        if field is None:
            raise self.unknown(name, purpose=purpose)
        return field

    def unknown(
        self, name: str, *, purpose: str = "field", extra: Sequence[str] = ()
    ) -> FieldError:
        names = self.valid_names() + list(extra)
        hint = difflib.get_close_matches(name, names, n=1)
        did_you_mean = f" Did you mean {hint[0]!r}?" if hint else ""
        return FieldError(
            f"{self.name} has no {purpose} {name!r}.{did_you_mean} Valid names: {', '.join(names)}."
        )
