"""``QueryState``: everything a queryset says, as an immutable value."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from asyncdb.codegen import generate

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

    #: A copy to change before any queryset holds it: one store per slot, generated from
    #: ``__slots__`` (this runs for every queryset method call; a getattr/setattr loop over
    #: the slots costs five times as much).
    copy: ClassVar[Callable[[QueryState], QueryState]]  # generated below

    @property
    def sliced(self) -> bool:
        return self.limit is not None or self.offset is not None


def _generate_copy(cls: type[QueryState]) -> Callable[[QueryState], QueryState]:
    stores = "".join(f"    clone.{name} = self.{name}\n" for name in cls.__slots__)
    source = f"def copy(self):\n    clone = _new(cls)\n{stores}    return clone\n"
    namespace = {"_new": object.__new__, "cls": cls}
    copy: Callable[[QueryState], QueryState] = generate(
        "copy", source, namespace, label="orm QueryState.copy"
    )
    return copy


QueryState.copy = _generate_copy(QueryState)
