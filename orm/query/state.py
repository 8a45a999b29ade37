"""``QueryState``: everything a queryset says, as an immutable value."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from asyncdb import Database
    from orm.expressions import Expression, OrderBy, Q
    from orm.models import Model

__all__ = ["QueryState"]

_new = object.__new__


class QueryState:
    """The parts of one query. Never mutated once a queryset holds it; ``replace`` copies."""

    __slots__ = (
        "annotations",
        "database",
        "deferred",
        "distinct",
        "for_update",
        "limit",
        "mode",
        "model",
        "offset",
        "only",
        "order",
        "prefetch",
        "route",
        "select_related",
        "value_names",
        "where",
    )

    def __init__(self, model: type[Model]) -> None:
        self.model = model
        self.where: tuple[Q, ...] = ()
        self.order: tuple[str | OrderBy, ...] = ()
        self.limit: int | None = None
        self.offset: int | None = None
        self.distinct = False
        self.only: tuple[str, ...] | None = None
        self.deferred: tuple[str, ...] = ()
        self.annotations: dict[str, Expression] = {}
        #: "models", "dicts" (values), "tuples" (values_list), "named" (values_list(named=True))
        #: or "flat" (values_list(flat=True))
        self.mode = "models"
        self.value_names: tuple[str, ...] = ()
        self.select_related: tuple[str, ...] = ()
        self.prefetch: tuple[Any, ...] = ()
        self.for_update: tuple[bool, bool] | None = None  # (nowait, skip_locked)
        self.database: Database | None = None
        #: "primary" or "replica": where reads go when the database has replicas (None: default)
        self.route: str | None = None

    def replace(self, **changes: Any) -> QueryState:
        clone = self.copy()
        for name, value in changes.items():
            setattr(clone, name, value)
        return clone

    def copy(self) -> QueryState:
        """A copy to change before any queryset holds it. Unrolled: this runs for every
        queryset method call."""
        clone = _new(QueryState)
        clone.annotations = self.annotations
        clone.database = self.database
        clone.deferred = self.deferred
        clone.distinct = self.distinct
        clone.for_update = self.for_update
        clone.limit = self.limit
        clone.mode = self.mode
        clone.model = self.model
        clone.offset = self.offset
        clone.only = self.only
        clone.order = self.order
        clone.prefetch = self.prefetch
        clone.route = self.route
        clone.select_related = self.select_related
        clone.value_names = self.value_names
        clone.where = self.where
        return clone

    @property
    def sliced(self) -> bool:
        return self.limit is not None or self.offset is not None
