"""``QueryState``: everything a queryset says, as an immutable value."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from asyncdb import Database
    from orm.expressions import Expression, OrderBy, Q
    from orm.models import Model

__all__ = ["QueryState"]


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
        #: "models", "dicts" (values), "tuples" (values_list) or "flat" (values_list(flat=True))
        self.mode = "models"
        self.value_names: tuple[str, ...] = ()
        self.select_related: tuple[str, ...] = ()
        self.prefetch: tuple[Any, ...] = ()
        self.for_update: tuple[bool, bool] | None = None  # (nowait, skip_locked)
        self.database: Database | None = None

    def replace(self, **changes: Any) -> QueryState:
        clone = QueryState.__new__(QueryState)
        for name in QueryState.__slots__:
            setattr(clone, name, changes.get(name, getattr(self, name)))
        return clone

    @property
    def sliced(self) -> bool:
        return self.limit is not None or self.offset is not None
