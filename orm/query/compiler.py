"""Turns a ``QueryState`` into one SQLAlchemy statement plus the plan to read its rows."""

from __future__ import annotations

from collections.abc import Iterable
from operator import call
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from orm.exceptions import FieldError
from orm.expressions import Aggregate, Expression, OrderBy, Q
from orm.hydration import Hydrator, RelatedPlan, plan_related
from orm.lookups import SQL_VALUE
from orm.query.resolver import Params, Resolver, filter_leaf, param_name

if TYPE_CHECKING:
    from collections.abc import Hashable

    from asyncdb.cache import BoundedCache
    from orm.lookups import Binder
    from orm.models import Model
    from orm.options import Options
    from orm.query.resolver import Leaf
    from orm.query.state import QueryState

__all__ = [
    "Bound",
    "Compiled",
    "Uncacheable",
    "compile_aggregate",
    "compile_count",
    "compile_delete",
    "compile_exists",
    "compile_select",
    "compile_update",
    "compile_where",
    "filter_shapes",
    "set_params",
    "shape_key",
]


class Bound:
    """A compiled statement and how to bind values to it.

    ``values`` are the parameters of the query it was compiled from; ``bind(raws, state)``
    gives those of another query of the same shape (see ``shape_key``).
    """

    __slots__ = ("binders", "cacheable", "names", "statement", "values")

    def __init__(self, statement: Any, params: Params) -> None:
        self.statement = statement
        self.binders = params.binders
        self.values = params.values
        self.cacheable = params.cacheable
        #: The filter parameters' names, in the order the binders give their values.
        self.names = tuple(param_name(index) for index in range(params.count))

    def bind(self, raws: list[Any], state: QueryState) -> dict[str, Any]:
        """The parameters for ``state``, whose filter values (in compile order, as
        ``shape_key`` collects them) are ``raws``. Every value of one shape binds as many
        parameters, so a mismatch is a bug, raised as such (never a misbound query)."""
        names = self.names
        size = len(names)
        values: dict[str, Any] = {}
        count = 0
        # Plain loops: this runs for every query (dict(zip()), zip(strict=) cost more here).
        for params in map(call, self.binders, raws):
            for value in params:
                if count == size:
                    raise _misbound(count + 1, size)
                values[names[count]] = value
                count += 1
        if count != size or len(raws) != len(self.binders):
            raise _misbound(count, size)
        if state.limit is not None:
            values["orm_limit"] = state.limit
        if state.offset is not None:
            values["orm_offset"] = state.offset
        return values


def _misbound(count: int, size: int) -> AssertionError:
    return AssertionError(
        f"{count} values bound for {size} parameters: a lookup's shape() does not capture "
        "how many parameters its values bind"
    )


class Compiled(Bound):
    """A compiled select: the statement, how to bind values to it, how to read its rows."""

    __slots__ = ("hydrator",)

    statement: sa.Select[Any]

    def __init__(self, statement: sa.Select[Any], hydrator: Hydrator, params: Params) -> None:
        super().__init__(statement, params)
        self.hydrator = hydrator


class Uncacheable(Exception):
    """A filter value makes its statement one of a kind (an ``F()``, a subquery)."""


def filter_shapes(
    children: Iterable[Q | tuple[str, Any]],
    model: type[Model],
    leaves: BoundedCache[str, Leaf],
    raws: list[Any],
) -> list[Any]:
    """The shapes of filters (``(key, value)`` pairs and ``Q`` trees) as statement cache keys
    hold them; their values are appended to ``raws`` in compile order (what ``Bound.bind``
    binds from). ``leaves`` is the model's cache of resolved keys.

    A filter's shape is its key, or ``(key, shape)`` when its value changes the SQL of its
    condition. This is the one rule the caches key on: a value that is SQL itself (an
    ``F()``, a queryset) raises ``Uncacheable``; any other is summed up by its lookup's
    ``shape``."""
    parts: list[Any] = []
    for child in children:
        if type(child) is tuple:
            key, value = child
            leaf = leaves.get(key)
            if leaf is None:
                try:
                    leaf = filter_leaf(model, key)
                except FieldError:
                    raise Uncacheable from None  # compiling reports it
            if isinstance(value, Expression) or hasattr(value, "_subquery_for_in"):
                raise Uncacheable
            shape_of = leaf.shape
            shape = shape_of(value) if shape_of is not None else None
            parts.append(key if shape is None else (key, shape))
            raws.append(value)
        else:
            q: Q = child  # type: ignore[assignment]
            parts.append((q.connector, q.negated, *filter_shapes(q.children, model, leaves, raws)))
    return parts


def shape_key(state: QueryState, meta: Options, raws: list[Any]) -> tuple[Any, ...] | None:
    """What decides a select's SQL but not its parameter values, or None if the query cannot
    share a statement; the filter values are appended to ``raws`` in compile order (what
    ``Bound.bind`` takes). ``meta`` is the model's (the caller has it at hand): the key is
    looked up in its caches, so it leaves out the model."""
    if state.annotations:
        return None
    for term in state.order:  # loops, not generator expressions: this runs for every query
        if type(term) is not str:
            return None
    try:
        where = filter_shapes(state.where, state.model, meta.leaves, raws)
    except Uncacheable:
        return None
    return (
        tuple(where),
        state.order,
        state.limit is not None,
        state.offset is not None,
        state.distinct,
        state.only,
        state.deferred,
        state.mode,
        state.value_names,
        state.select_related,
        state.for_update,
    )


# -- conditions --------------------------------------------------------------------------------


def _leaf(resolver: Resolver, key: str, value: Any, negated: bool) -> ColumnElement[bool]:
    column, leaf = resolver.leaf(key)
    lookup = leaf.lookup
    params = resolver.params
    prefix: list[Any] = []  # the transforms' own parameters, bound before the lookup's
    for transform in leaf.transforms:
        own = transform.params()
        binds = [params.bind(v, type_) for v, type_ in own]
        prefix += [v for v, _ in own]
        column = transform.apply(column, binds)
    sql: Any = None
    if isinstance(value, Expression):
        if not lookup.takes_expression:
            raise FieldError(f"{leaf.label}__{lookup.name} does not take an F() expression")
        sql = value.resolve(resolver)
    elif lookup.takes_subquery and hasattr(value, "_subquery_for_in"):
        sql = value._subquery_for_in()
    condition: ColumnElement[bool]
    shape: Hashable = SQL_VALUE
    if sql is not None:
        params.cacheable = False
        condition = lookup.condition(column, [sql], shape)
    else:
        shape = lookup.shape(value)
        checked = lookup.check(value, leaf.convert, leaf.label)
        binds = lookup.binds(params, column, lookup.params(checked, shape), shape)
        condition = lookup.condition(column, binds, shape)
        binder = lookup.binder(leaf.convert, leaf.label, shape)
        params.binders.append(_prefixed(tuple(prefix), binder) if prefix else binder)
    if negated and not lookup.null_safe(shape) and (leaf.nullable or resolver.joins):
        # SQL's NOT (x = 1) is NULL (so false) for a NULL x; `exclude()` must keep that row.
        condition = sa.and_(condition, column.is_not(None))
    return condition


def _prefixed(prefix: tuple[Any, ...], binder: Binder) -> Binder:
    def bind(raw: Any) -> tuple[Any, ...]:
        return (*prefix, *binder(raw))

    return bind


def compile_q(resolver: Resolver, q: Q, negated: bool = False) -> ColumnElement[bool]:
    """Compile a ``Q`` tree; a negated branch that needs JOINs becomes ``pk NOT IN (...)``."""
    if q.negated:
        inner = Resolver(resolver.model, resolver.annotations, resolver.params)
        condition = _compile_children(inner, q, True)
        if not inner.joins:
            return sa.not_(condition)
        pk = resolver.model._meta.pk.attname
        subquery = sa.select(inner.root.c[pk]).select_from(inner.from_clause()).where(condition)
        return sa.not_(resolver.root.c[pk].in_(subquery))
    return _compile_children(resolver, q, negated)


def _compile_children(resolver: Resolver, q: Q, negated: bool) -> ColumnElement[bool]:
    parts: list[ColumnElement[bool]] = []
    for child in q.children:
        if isinstance(child, Q):
            parts.append(compile_q(resolver, child, negated))
        else:
            parts.append(_leaf(resolver, child[0], child[1], negated))
    if not parts:
        return sa.true()
    if len(parts) == 1:
        return parts[0]
    return sa.or_(*parts) if q.connector == Q.OR else sa.and_(*parts)


def _uses_aggregate(resolver: Resolver, q: Q) -> bool:
    for child in q.children:
        if isinstance(child, Q):
            if _uses_aggregate(resolver, child):
                return True
        else:
            name = child[0].split("__", 1)[0]
            annotation = resolver.annotations.get(name)
            if annotation is not None and annotation.contains_aggregate:
                return True
    return False


def compile_where(
    state: QueryState, resolver: Resolver
) -> tuple[list[ColumnElement[bool]], list[ColumnElement[bool]]]:
    """(WHERE conditions, HAVING conditions) of the state's filters."""
    where: list[ColumnElement[bool]] = []
    having: list[ColumnElement[bool]] = []
    for q in state.where:
        (having if _uses_aggregate(resolver, q) else where).append(compile_q(resolver, q))
    return where, having


# -- ordering ----------------------------------------------------------------------------------


def _order_clauses(
    state: QueryState, resolver: Resolver, *, reverse: bool = False
) -> list[ColumnElement[Any]]:
    terms: list[str | OrderBy] = list(state.order)
    if reverse and not terms:
        terms = [state.model._meta.pk.name]
    clauses: list[ColumnElement[Any]] = []
    for term in terms:
        if isinstance(term, str):
            descending = term.startswith("-")
            name = term.lstrip("-")
            if name == "pk":
                name = state.model._meta.pk.name
            expression = resolver.column(name)[0]
        elif isinstance(term, OrderBy):
            descending = term.descending
            expression = term.expression.resolve(resolver)
        else:  # pragma: no cover - queryset validates terms
            raise FieldError(f"cannot order by {term!r}")
        if reverse:
            descending = not descending
        clauses.append(expression.desc() if descending else expression.asc())
    return clauses


# -- selects -----------------------------------------------------------------------------------


def _annotation_columns(
    state: QueryState, resolver: Resolver
) -> tuple[list[ColumnElement[Any]], bool]:
    columns: list[ColumnElement[Any]] = []
    aggregate = False
    for name, expression in state.annotations.items():
        columns.append(expression.resolve(resolver).label(name))
        aggregate = aggregate or expression.contains_aggregate
    return columns, aggregate


def _model_columns(state: QueryState) -> list[str]:
    meta = state.model._meta
    names = list(meta.attnames)
    if state.only is not None:
        wanted = {meta.get_field(n).attname for n in state.only} | {meta.pk.attname}
        names = [n for n in names if n in wanted]
    if state.deferred:
        dropped = {meta.get_field(n).attname for n in state.deferred} - {meta.pk.attname}
        names = [n for n in names if n not in dropped]
    return names


def compile_select(state: QueryState, *, reverse: bool = False) -> Compiled:
    """Compile the state to one SELECT (JOINs included) and a hydrator for its rows."""
    resolver = Resolver(state.model, state.annotations)
    columns: list[ColumnElement[Any]] = []
    related: list[RelatedPlan] = []
    group_by: list[ColumnElement[Any]] = []
    annotation_columns, aggregate = _annotation_columns(state, resolver)
    converters: list[Any] = []
    if state.mode == "models":
        attnames = _model_columns(state)
        root = resolver.root
        columns = [root.c[n] for n in attnames]
        if state.select_related:
            related = plan_related(state.model, state.select_related, resolver, columns)
        columns += annotation_columns
        if aggregate:
            group_by = [root.c[state.model._meta.pk.attname]]
            for plan in related:
                group_by += plan.group_by
        hydrator = Hydrator.for_models(
            state.model, attnames, related, list(state.annotations), resolver
        )
    else:
        names = state.value_names or state.model._meta.attnames
        names += tuple(name for name in state.annotations if name not in names)
        plain: list[ColumnElement[Any]] = []
        for name in names:
            if name in state.annotations:
                expression = state.annotations[name]
                column = expression.resolve(resolver)
                converters.append((expression, resolver))
                if not expression.contains_aggregate:
                    plain.append(column)
            else:
                column = resolver.column(name)[0]
                converters.append(None)
                plain.append(column)
            columns.append(column.label(name) if state.mode != "models" else column)
        if aggregate:
            group_by = plain
        hydrator = Hydrator.for_values(state.mode, list(names), converters)
    statement = sa.select(*columns)
    where, having = compile_where(state, resolver)
    if where:
        statement = statement.where(*where)
    if group_by:
        statement = statement.group_by(*group_by)
    if having:
        statement = statement.having(*having)
    order = _order_clauses(state, resolver, reverse=reverse)
    if order:
        statement = statement.order_by(*order)
    if state.distinct:
        statement = statement.distinct()
    if state.limit is not None:
        statement = statement.limit(sa.bindparam("orm_limit", state.limit, type_=sa.Integer()))
        resolver.params.values["orm_limit"] = state.limit
    if state.offset is not None:
        statement = statement.offset(sa.bindparam("orm_offset", state.offset, type_=sa.Integer()))
        resolver.params.values["orm_offset"] = state.offset
    # Last: conditions and ordering above may have added JOINs.
    statement = statement.select_from(resolver.from_clause())
    if state.for_update is not None:
        nowait, skip_locked = state.for_update
        statement = statement.with_for_update(nowait=nowait, skip_locked=skip_locked)
    return Compiled(statement, hydrator, resolver.params)


def _needs_subquery(state: QueryState, resolver: Resolver) -> bool:
    return (
        state.sliced
        or state.distinct
        or any(e.contains_aggregate for e in state.annotations.values())
        or (state.mode != "models" and bool(state.value_names))
    )


def compile_count(state: QueryState) -> Bound:
    resolver = Resolver(state.model, state.annotations)
    if _needs_subquery(state, resolver):
        inner = compile_select(state.replace(order=())).statement.subquery()
        resolver.params.cacheable = False  # the inner select's values are not in these params
        return Bound(sa.select(sa.func.count()).select_from(inner), resolver.params)
    where, _ = compile_where(state, resolver)
    statement = sa.select(sa.func.count()).select_from(resolver.from_clause()).where(*where)
    return Bound(statement, resolver.params)


def compile_exists(state: QueryState) -> Bound:
    resolver = Resolver(state.model, state.annotations)
    one = sa.bindparam("orm_limit", 1, type_=sa.Integer())
    resolver.params.values["orm_limit"] = 1
    if _needs_subquery(state, resolver):
        inner = compile_select(state.replace(order=())).statement.subquery()
        resolver.params.cacheable = False
        return Bound(sa.select(sa.literal(1)).select_from(inner).limit(one), resolver.params)
    where, _ = compile_where(state, resolver)
    statement = sa.select(sa.literal(1)).select_from(resolver.from_clause()).where(*where)
    return Bound(statement.limit(one), resolver.params)


def compile_aggregate(
    state: QueryState, aggregates: dict[str, Aggregate]
) -> tuple[sa.Select[Any], Resolver]:
    resolver = Resolver(state.model, state.annotations)
    if _needs_subquery(state, resolver) or resolver.joins:
        # Aggregate over the query's rows as a derived table.
        inner_state = state.replace(order=())
        inner = compile_select(inner_state).statement.subquery()
        sub_resolver = _SubqueryResolver(state, inner)
        columns = [e.resolve(sub_resolver).label(n) for n, e in aggregates.items()]
        return sa.select(*columns).select_from(inner), sub_resolver
    columns = [e.resolve(resolver).label(n) for n, e in aggregates.items()]
    where, _ = compile_where(state, resolver)
    statement = sa.select(*columns).select_from(resolver.from_clause())
    if where:
        statement = statement.where(*where)
    return statement, resolver


class _SubqueryResolver(Resolver):
    """Resolves plain names against the columns of a derived table (aggregate over a slice)."""

    def __init__(self, state: QueryState, subquery: Any) -> None:
        super().__init__(state.model, state.annotations)
        self.subquery = subquery

    def column(self, key: str) -> tuple[ColumnElement[Any], Any]:
        _, field = super().column(key)
        if self.joins:
            raise FieldError(f"aggregate over a sliced or distinct query cannot follow {key!r}")
        if key in self.annotations:
            return self.subquery.c[key], field
        name = getattr(field, "attname", key)
        if name not in self.subquery.c:
            raise FieldError(f"{key!r} is not selected by the query being aggregated")
        return self.subquery.c[name], field


def _simple_where(state: QueryState, params: Params) -> tuple[Resolver, list[ColumnElement[bool]]]:
    resolver = Resolver(state.model, params=params)
    where, having = compile_where(state, resolver)
    if having:
        raise FieldError("update()/delete() cannot filter on aggregate annotations")
    if state.sliced:
        raise FieldError("update()/delete() cannot be used on a sliced queryset")
    if resolver.joins:
        # Filters across relations: restrict by key. The extra derived table lets MySQL read
        # the table it is changing.
        pk = state.model.table.c[state.model._meta.pk.attname]
        keys = (
            sa.select(resolver.root.c[pk.key]).select_from(resolver.from_clause()).where(*where)
        ).subquery("keys")
        where = [pk.in_(sa.select(keys.c[pk.key]))]
    return resolver, where


def compile_update(state: QueryState, values: dict[str, Any]) -> Bound:
    """UPDATE ... SET values (field attname → value or Expression) WHERE the filters.

    A plain value is bound as ``orm_set_<attname>`` (in ``values`` of the result), so a later
    update of the same shape binds its own values (``set_params``)."""
    params = Params()
    _, where = _simple_where(state, params)
    table = state.model.table
    assignments: dict[Any, Any] = {}
    for attname, value in values.items():
        column = table.c[attname]
        if isinstance(value, Expression):
            resolver = Resolver(state.model, params=params)
            value = value.resolve(resolver)
            params.cacheable = False
            if resolver.joins:
                raise FieldError("update() expressions cannot follow relations")
        else:
            name = _set_name(attname)
            params.values[name] = value
            value = sa.bindparam(name, type_=column.type)
        assignments[column] = value
    return Bound(sa.update(table).where(*where).values(assignments), params)


def _set_name(attname: str) -> str:
    return f"orm_set_{attname}"


def set_params(values: dict[str, Any]) -> dict[str, Any]:
    """The bind values of ``compile_update``'s plain assignments."""
    return {_set_name(attname): value for attname, value in values.items()}


def compile_delete(state: QueryState) -> Bound:
    params = Params()
    _, where = _simple_where(state, params)
    return Bound(sa.delete(state.model.table).where(*where), params)
