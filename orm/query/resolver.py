"""Name resolution: ``"author__name__icontains"`` → (column, field, lookup), adding JOINs.

A path walks fields model by model. Plain fields end it; a relation either ends it on its own
key column (``author=3``, ``author__in=[...]``, ``author__isnull=True``) or joins its target
and continues there (``author__name``). Each distinct relation path is joined once (LEFT OUTER,
so ``Q(...) | Q(...)`` across relations keeps rows whose relation is empty) and reused by every
condition, ordering, value and aggregate of the query.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

import sqlalchemy as sa
from sqlalchemy.sql.elements import BindParameter, ColumnElement
from sqlalchemy.sql.selectable import FromClause

from orm.exceptions import FieldError
from orm.lookups import LOOKUPS

if TYPE_CHECKING:
    from orm.expressions import Expression
    from orm.fields import Field
    from orm.models import Model

__all__ = ["PARAM_NAMES", "PRENAMED", "JoinStep", "Params", "Relation", "Resolver", "param_name"]

SEP = "__"


class JoinStep(Protocol):
    """One JOIN of a relation: ``parent.c[from_attname] == table.c[to_attname]``."""

    table: sa.Table
    from_attname: str
    to_attname: str


class Relation(Protocol):
    """What the resolver needs from a relation (forward, reverse or many-to-many)."""

    name: str
    multi_valued: bool

    def target_model(self) -> type[Model]: ...
    def join_steps(self) -> list[tuple[sa.Table, str, str]]: ...


#: ``orm_0``, ``orm_1``...: the names of filter parameters, in compile order (made once: a
#: query of a known shape binds its values by these names on every call).
PRENAMED = 64
PARAM_NAMES = tuple(f"orm_{i}" for i in range(PRENAMED))


def param_name(index: int) -> str:
    return PARAM_NAMES[index] if index < PRENAMED else f"orm_{index}"


class Params:
    """The bound parameters of one compiled query, named ``orm_0``, ``orm_1``, ... in order.

    Each lookup also leaves a *binder*: a function from its raw value to its parameters. A
    queryset of the same shape reuses the compiled statement and only runs the binders.
    """

    __slots__ = ("binders", "cacheable", "count", "values")

    def __init__(self) -> None:
        self.count = 0
        self.binders: list[Callable[[Any], tuple[Any, ...]]] = []
        self.values: dict[str, Any] = {}
        #: False once something was compiled that binders cannot redo (F(), subqueries).
        self.cacheable = True

    def bind(self, value: Any, type_: Any, *, expanding: bool = False) -> BindParameter[Any]:
        name = param_name(self.count)
        self.count += 1
        self.values[name] = value
        return sa.bindparam(name, value, type_=type_, expanding=expanding)


class Resolver:
    """Resolves names for one query, collecting the JOINs they need."""

    def __init__(
        self,
        model: type[Model],
        annotations: dict[str, Expression] | None = None,
        params: Params | None = None,
    ):
        self.model = model
        self.params = params if params is not None else Params()
        self.root: FromClause = model.table
        self.annotations = annotations or {}
        self.joins: dict[tuple[str, ...], tuple[FromClause, type[Model]]] = {}
        self._from: FromClause = self.root
        self._aliases = 0
        #: True once a reverse or many-to-many join was added (rows may repeat).
        self.multi_valued = False

    def from_clause(self) -> FromClause:
        return self._from

    def join(self, path: tuple[str, ...]) -> tuple[FromClause, type[Model]]:
        """Join the relation path (``("author", "publisher")``) once; its alias and model."""
        if not path:
            return self.root, self.model
        if path in self.joins:
            return self.joins[path]
        parent, model = self.join(path[:-1])
        relation = _relation(model, path[-1])
        if relation is None:
            raise model._meta.unknown(path[-1], purpose="relation")
        alias: FromClause = parent
        for table, from_attname, to_attname in relation.join_steps():
            self._aliases += 1
            target = table.alias(f"{SEP.join(path)}_{self._aliases}"[-60:])
            self._from = self._from.outerjoin(target, alias.c[from_attname] == target.c[to_attname])
            alias = target
        self.multi_valued = self.multi_valued or relation.multi_valued
        self.joins[path] = (alias, relation.target_model())
        return self.joins[path]

    def walk(self, key: str, *, allow_lookup: bool) -> tuple[ColumnElement[Any], Any, str]:
        """Resolve ``key``: (column or expression, field or annotation, lookup name)."""
        parts = key.split(SEP)
        if parts[0] in self.annotations:
            lookup = self._lookup_name(parts[1:], key, allow_lookup, None)
            annotation = self.annotations[parts[0]]
            return annotation.resolve(self), annotation, lookup
        model = self.model
        path: tuple[str, ...] = ()
        for index, part in enumerate(parts):
            rest = parts[index + 1 :]
            meta = model._meta
            field = meta.fields.get(part) or meta.by_attname.get(part)
            if field is None and part == "pk":
                field = meta.pk
            relation = _relation(model, part)
            if field is None and relation is None:
                extra = list(self.annotations) if not path else []
                raise meta.unknown(part, purpose="field", extra=extra)
            if relation is None or (
                field is not None
                and field.concrete
                and (not rest or (rest[0] in LOOKUPS and len(rest) == 1))
            ):
                # A plain field, or a foreign key compared on its own column.
                assert field is not None
                lookup = self._lookup_name(rest, key, allow_lookup, field)
                alias, _ = self.join(path)
                return alias.c[field.attname], field, lookup
            path = (*path, part)
            alias, model = self.join(path)
            if not rest or (rest[0] in LOOKUPS and len(rest) == 1):
                pk = model._meta.pk
                lookup = self._lookup_name(rest, key, allow_lookup, pk)
                return alias.c[pk.attname], pk, lookup
        raise FieldError(f"{self.model._meta.name}: cannot resolve {key!r}")  # pragma: no cover

    def _lookup_name(
        self, rest: list[str], key: str, allow_lookup: bool, field: Field[Any] | None
    ) -> str:
        if not rest:
            return "exact"
        owner = f"{field.model.__name__}.{field.name}" if field is not None else key
        if len(rest) == 1 and rest[0] in LOOKUPS and allow_lookup:
            return rest[0]
        if not allow_lookup:
            raise FieldError(f"{key!r}: {owner} has no field {rest[0]!r} (not a relation)")
        raise FieldError(
            f"{key!r}: unsupported lookup {SEP.join(rest)!r} for {owner}. "
            f"Lookups: {', '.join(LOOKUPS)}."
        )

    def column(self, key: str) -> tuple[ColumnElement[Any], Any]:
        """Resolve a field path with no lookup (``F()``, ``order_by``, ``values``)."""
        column, field, _ = self.walk(key, allow_lookup=False)
        return column, field


def _relation(model: type[Model], name: str) -> Relation | None:
    """The relation called ``name`` on ``model`` (a forward field or a reverse accessor)."""
    field = model._meta.fields.get(name)
    if field is not None and field.is_relation:
        return field  # type: ignore[return-value]
    related: Relation | None = model._meta.related.get(name)
    return related
