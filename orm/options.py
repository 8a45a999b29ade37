"""``Model._meta``: what the ORM knows about one model (fields, table, key, relations)."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from asyncdb.cache import BoundedCache
from asyncdb.cache import clear_caches as _clear_caches
from orm.constraints import MetaOptions
from orm.exceptions import FieldError

if TYPE_CHECKING:
    from orm.fields import Field
    from orm.models import Model
    from orm.query.compiler import Compiled
    from orm.query.resolver import Leaf
    from orm.registry import ModelRegistry

__all__ = ["Options", "clear_caches"]


def clear_caches() -> None:
    """Empty every cache of the orm: compiled statements, resolved filter keys, generated
    code. For tests (after registering a lookup for one, or to count compilations); what a
    cache held is rebuilt when next needed, so no result changes."""
    _clear_caches("orm.")


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
        # What the orm compiled or resolved for this model, kept here (not in module globals)
        # so a model that is no longer used can be freed with them:
        #: filter keys ("author__name__icontains") resolved to their ``Leaf``;
        self.leaves: BoundedCache[str, Leaf] = BoundedCache("orm.leaves", 256)
        #: compiled SELECTs by query shape (``orm.query.compiler.shape_key``);
        self.selects: BoundedCache[Any, Compiled] = BoundedCache("orm.selects", 512)
        #: every other statement built once and then only bound (count, exists, update,
        #: delete, single-row writes, bulk inserts, prefetch selects), by kind and shape.
        self.statements: BoundedCache[Any, Any] = BoundedCache("orm.statements", 512)
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
        for cache in (self.leaves, self.selects, self.statements):
            cache.clear()  # built for the columns before

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
