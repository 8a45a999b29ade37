"""``QuerySet``: an immutable, lazily-run description of a query over one model.

Every method that refines the query returns a new queryset; nothing runs until it is awaited
(``await qs``, ``await qs.all()``, ``get()``, ``count()``, ...) or iterated with ``async for``.
SELECTs are compiled once per query *shape* (see ``orm.query.compiler.shape_key``) and shared;
a queryset of a known shape only binds its own values.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Generator, Sequence
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar, overload

import sqlalchemy as sa

from orm import persistence
from orm.exceptions import FieldError, MultipleMatches, NoMatch, ORMError
from orm.expressions import Aggregate, Expression, OrderBy, Q
from orm.query.compiler import (
    Bound,
    Compiled,
    Uncacheable,
    compile_aggregate,
    compile_count,
    compile_delete,
    compile_exists,
    compile_select,
    compile_update,
    filter_shapes,
    set_params,
    shape_key,
)
from orm.query.state import QueryState

if TYPE_CHECKING:
    from asyncdb import Database, RoutedDatabase
    from orm.models import Model
    from orm.options import Options

__all__ = ["QuerySet"]

_T = TypeVar("_T")
_new = object.__new__

_UNSHAPED = object()  # update() with expressions: never found again (not cacheable anyway)


class QuerySet(Generic[_T]):
    """A query over ``model``; ``_T`` is what it yields (the model, a dict, a tuple...)."""

    __slots__ = ("_compiled", "_meta", "_state", "model")

    _compiled: tuple[Compiled, dict[str, Any]] | None

    def __init__(self, model: type[Model], state: QueryState | None = None) -> None:
        self.model = model
        #: ``model._meta``, read once: every query needs it, and reading a model class's
        #: attribute is slow (it goes through the metaclass's ``__getattr__`` hook). None
        #: only for an abstract model, which has nothing to query.
        self._meta: Options = getattr(model, "_meta", None)  # type: ignore[assignment]
        self._state = state if state is not None else QueryState(model)
        self._compiled = None

    def _clone(self, **changes: Any) -> QuerySet[Any]:
        return self._derive(self._state.replace(**changes))

    def _derive(self, state: QueryState) -> QuerySet[Any]:
        """A queryset of ``state`` (the hot refining methods build their state directly)."""
        qs: QuerySet[Any] = _new(QuerySet)
        qs.model = self.model
        qs._meta = self._meta
        qs._state = state
        qs._compiled = None
        return qs

    @property
    def database(self) -> Database:
        state = self._state
        return state.database or self._meta.registry.get_database()

    def using(self, database: Database | str) -> QuerySet[_T]:
        """Run this query on ``database`` instead of the registry's, or send its reads to
        ``"primary"`` / ``"replica"`` when the database has read replicas (see asyncdb)."""
        if isinstance(database, str):
            if database not in ("primary", "replica"):
                raise ValueError(
                    f"using() takes a Database, 'primary' or 'replica', got {database!r}"
                )
            return self._clone(route=database)
        return self._clone(database=database)

    @property
    def _reader(self) -> Database | RoutedDatabase:
        """Where this queryset's reads run (the routed database after ``using("primary")``)."""
        route = self._state.route
        return self.database if route is None else self.database.using(route)

    def _compile(self) -> tuple[Compiled, dict[str, Any]]:
        """The compiled select and this queryset's parameter values (compiled once per shape,
        kept in the model's ``_meta.selects``)."""
        compiled = self._compiled
        if compiled is not None:
            return compiled
        state = self._state
        meta = self._meta
        raws: list[Any] = []
        key = shape_key(state, meta, raws)
        if key is not None:
            cached = meta.selects.get(key)
            if cached is not None:
                compiled = self._compiled = (cached, cached.bind(raws, state))
                return compiled
        meta.registry.check()  # a relation to an undefined model fails here
        fresh = compile_select(state)
        if key is not None and fresh.cacheable:
            meta.selects.put(key, fresh)
        compiled = self._compiled = (fresh, fresh.values)
        return compiled

    @property
    def statement(self) -> sa.Select[Any]:
        """The SQLAlchemy SELECT this queryset runs (with this queryset's values bound)."""
        compiled, values = self._compile()
        return compiled.statement.params(values)

    def __repr__(self) -> str:
        return f"<QuerySet {self.model.__name__}>"

    # -- refining ------------------------------------------------------------------------------

    def filter(self, *conditions: Q, **lookups: Any) -> QuerySet[_T]:
        """Keep rows matching every condition (``Q`` objects and ``field__lookup=value``)."""
        state = self._state.copy()
        state.where = (*state.where, Q(*conditions, **lookups))
        return self._derive(state)

    def exclude(self, *conditions: Q, **lookups: Any) -> QuerySet[_T]:
        """Drop rows matching all the conditions (rows where a compared field is NULL stay)."""
        return self._clone(where=(*self._state.where, ~Q(*conditions, **lookups)))

    def order_by(self, *terms: str | OrderBy | Expression) -> QuerySet[_T]:
        """Order by field names (``"-views"`` descending, ``"author__name"``) or expressions."""
        order: list[str | OrderBy] = []
        for term in terms:
            if isinstance(term, str):
                if term == "?":
                    raise FieldError("random ordering ('?') is not supported")
                order.append(term)
            elif isinstance(term, OrderBy):
                order.append(term)
            elif isinstance(term, Expression):
                order.append(term.asc())
            else:
                raise FieldError(f"order_by() takes field names or expressions, got {term!r}")
        state = self._state.copy()
        state.order = tuple(order)
        return self._derive(state)

    def limit(self, count: int) -> QuerySet[_T]:
        """At most ``count`` rows (``LIMIT``); ``count`` is a non-negative int (else TypeError).

        ``qs[a:b]`` is the same as ``qs.offset(a).limit(b - a)``.
        """
        _check_count("limit", count)
        return self._clone(limit=count)

    def offset(self, count: int) -> QuerySet[_T]:
        """Skip the first ``count`` rows (``OFFSET``); a non-negative int (else TypeError)."""
        _check_count("offset", count)
        return self._clone(offset=count)

    def __getitem__(self, item: slice) -> QuerySet[_T]:
        if not isinstance(item, slice):
            raise TypeError(
                "querysets take slices only (qs[10:20]); for one row use await qs.offset(n).first()"
            )
        if item.step is not None:
            raise TypeError("querysets do not support a slice step")
        start, stop = item.start or 0, item.stop
        if start < 0 or (stop is not None and stop < 0):
            raise TypeError("querysets do not support negative indexes")
        state = self._state
        offset = (state.offset or 0) + start
        limit = state.limit
        if stop is not None:
            count = max(0, stop - start)
            limit = count if limit is None else max(0, min(limit - start, count))
        elif limit is not None:
            limit = max(0, limit - start)
        state = state.copy()
        state.offset = offset or None
        state.limit = limit
        return self._derive(state)

    def distinct(self) -> QuerySet[_T]:
        """Drop duplicate rows (``SELECT DISTINCT``), e.g. after a filter across a multi-valued
        relation that matched one object several times."""
        return self._clone(distinct=True)

    def only(self, *names: str) -> QuerySet[_T]:
        """Load only these fields (and the key); reading another raises FieldNotLoaded."""
        for name in names:
            self._meta.get_field(name)
        return self._clone(only=names, deferred=())

    def defer(self, *names: str) -> QuerySet[_T]:
        """Leave these fields out; reading one raises FieldNotLoaded."""
        for name in names:
            self._meta.get_field(name)
        return self._clone(deferred=(*self._state.deferred, *names))

    def annotate(self, **expressions: Expression) -> QuerySet[_T]:
        """Add computed values (``Count("books")``, ``F("a") + F("b")``) as attributes."""
        meta = self._meta
        annotations = dict(self._state.annotations)
        for name, expression in expressions.items():
            _check_alias("annotate", name)
            if not isinstance(expression, Expression):
                raise FieldError(f"annotate({name}=...) needs an expression, got {expression!r}")
            if name in meta.fields or name in meta.by_attname or name in meta.related:
                raise FieldError(f"annotate({name}=...) clashes with the field {meta.name}.{name}")
            annotations[name] = expression
        return self._clone(annotations=annotations)

    def values(self, *names: str) -> QuerySet[dict[str, Any]]:
        """Rows as dicts of the named fields (all fields, by attribute name such as
        ``author_id``, when none are named)."""
        return self._clone(mode="dicts", value_names=names)

    @overload
    def values_list(
        self, *names: str, flat: Literal[False] = ..., named: bool = ...
    ) -> QuerySet[tuple[Any, ...]]: ...
    @overload
    def values_list(self, *names: str, flat: Literal[True]) -> QuerySet[Any]: ...
    def values_list(self, *names: str, flat: bool = False, named: bool = False) -> QuerySet[Any]:
        """Rows as plain tuples of the named fields (all fields when none are named).

        ``flat=True`` with one name gives plain values; ``named=True`` gives ``asyncdb.Row``
        tuples, which also read by name (``row.title``, ``row["title"]``), as Django's
        ``named=True`` gives named tuples.
        """
        if flat and named:
            raise FieldError("values_list() takes flat=True or named=True, not both")
        if flat and len(names) != 1:
            raise FieldError("values_list(flat=True) needs exactly one field name")
        mode = "flat" if flat else "named" if named else "tuples"
        return self._clone(mode=mode, value_names=names)

    def select_related(self, *paths: str) -> QuerySet[_T]:
        """Load these forward relations in the same query (JOINs)."""
        return self._clone(select_related=(*self._state.select_related, *paths))

    def prefetch_related(self, *lookups: Any) -> QuerySet[_T]:
        """Load these relations with one extra query per path (``WHERE key IN (...)``)."""
        return self._clone(prefetch=(*self._state.prefetch, *lookups))

    def select_for_update(self, *, nowait: bool = False, skip_locked: bool = False) -> QuerySet[_T]:
        """Lock the selected rows until the transaction ends (``FOR UPDATE``).

        Use it inside ``db.transaction()``. On SQLite it is a no-op: a write transaction
        already locks the whole database.
        """
        return self._clone(for_update=(nowait, skip_locked))

    # -- running -------------------------------------------------------------------------------

    def all(self) -> QuerySet[_T]:
        """This queryset (all rows it selects). Like every queryset it runs when awaited:
        ``await qs.all()`` == ``await qs``; it can also be refined (``.all().filter(...)``),
        sliced or iterated with ``async for``."""
        return self

    async def _fetch(self) -> list[_T]:
        """Run the query and return every result."""
        compiled, values = self._compile()
        state = self._state
        reader = self._reader
        if state.mode == "named":  # values_list(named=True) rows are asyncdb.Row tuples
            rows: Sequence[Any] = await reader.fetch_all(compiled.statement, values)
        else:  # the hydrator reads by position: no Row objects needed
            rows = await reader.fetch_records(compiled.statement, values)
        results = compiled.hydrator.many(rows)
        if state.prefetch and results:
            from orm.prefetch import prefetch_related_objects

            await prefetch_related_objects(
                results, self._state.prefetch, self.database, self._state.route
            )
        return results

    def __await__(self) -> Generator[Any, None, list[_T]]:
        return self._fetch().__await__()

    async def __aiter__(self) -> AsyncIterator[_T]:
        """Stream results (``db.iterate``): memory stays bounded however many rows match."""
        if self._state.prefetch:
            raise ORMError("prefetch_related() needs the whole result: use await qs.all()")
        compiled, values = self._compile()
        one = compiled.hydrator.one
        async for row in self._reader.iterate(compiled.statement, values):
            yield one(row)

    async def get(self, *conditions: Q, **lookups: Any) -> _T:
        """The one result matching the conditions; NoMatch or MultipleMatches otherwise."""
        model = self.model
        meta = self._meta
        known = None
        if lookups and not conditions and model.__dict__.get("_orm_all") is self:
            # Model.objects.get(field=value, ...): the select the path below compiles for these
            # lookups, found by their shapes without building a Q, a queryset and its shape
            # key (15% of a get by key, in callgrind's instruction counts).
            known = _get_shape(model, meta, lookups)
            compiled = meta.selects.get(known[0]) if known is not None else None
            if known is not None and compiled is not None:
                values = compiled.bind(known[1], self._state)
                values["orm_limit"] = 2
                rows = await self._reader.fetch_records(compiled.statement, values)
                if len(rows) == 1:
                    return compiled.hydrator.one(rows[0])  # type: ignore[no-any-return]
                where = (Q(**lookups),)
                raise self._get_error(len(rows), self._state.replace(where=where))
        state = self._state
        changes: dict[str, Any] = {}
        if conditions or lookups:
            changes["where"] = (*state.where, Q(*conditions, **lookups))
        if state.limit is None or state.limit > 2:
            changes["limit"] = 2  # enough to tell one match from several
        qs = self._clone(**changes) if changes else self
        state = qs._state
        results = await qs.all()
        if known is not None and qs._compiled is not None and qs._compiled[0].cacheable:
            meta.selects.put(known[0], qs._compiled[0])
        if len(results) != 1:
            raise self._get_error(len(results), state)
        return results[0]

    def _get_error(self, count: int, state: QueryState) -> ORMError:
        if not count:
            return NoMatch(f"{self.model.__name__} matching {_describe(state)} does not exist")
        return MultipleMatches(
            f"{self.model.__name__}.objects.get() matched more than one row for {_describe(state)}"
        )

    async def first(self) -> _T | None:
        """The first result (by key when unordered), or None."""
        qs: QuerySet[_T] = self
        if not self._state.order:
            qs = self._clone(order=(self._meta.pk.name,))
        results = await qs[:1].all()
        return results[0] if results else None

    async def last(self) -> _T | None:
        """The last result (by key when unordered), or None."""
        state = self._state
        if state.sliced:
            raise ORMError("last() on a sliced queryset is not supported; order it instead")
        compiled = compile_select(state.replace(limit=1), reverse=True)
        row = await self._reader.fetch_one(compiled.statement, compiled.values)
        if row is None:
            return None
        result: _T = compiled.hydrator.one(row)
        if state.prefetch:
            from orm.prefetch import prefetch_related_objects

            await prefetch_related_objects([result], state.prefetch, self.database, state.route)
        return result

    def _shaped(
        self, kind: str, extra: Any, build: Callable[[], Bound]
    ) -> tuple[Bound, dict[str, Any]]:
        """A count/exists/update/delete statement compiled once per query shape (``kind`` and
        ``extra`` tell the statements apart) and this queryset's values for it."""
        state = self._state
        meta = self._meta
        statements = meta.statements
        raws: list[Any] = []
        key = shape_key(state, meta, raws)
        if key is not None:
            key = (kind, key, extra)
            cached = statements.get(key)
            if cached is not None:
                return cached, cached.bind(raws, state)
        fresh = build()
        if key is not None and fresh.cacheable:
            statements.put(key, fresh)
        return fresh, dict(fresh.values)  # callers add to it; the cached values stay as built

    async def count(self) -> int:
        """The number of rows the queryset matches, counted by the database (one query)."""
        bound, values = self._shaped("count", None, lambda: compile_count(self._state))
        return int(await self._reader.fetch_val(bound.statement, values))

    async def exists(self) -> bool:
        """Whether the queryset matches at least one row (one query that reads one row at most)."""
        bound, values = self._shaped("exists", None, lambda: compile_exists(self._state))
        values["orm_limit"] = 1
        return await self._reader.fetch_one(bound.statement, values) is not None

    async def aggregate(self, **aggregates: Aggregate) -> dict[str, Any]:
        """Compute aggregates over the matching rows: ``{"total": 10, ...}``."""
        for name, aggregate in aggregates.items():
            _check_alias("aggregate", name)
            if not isinstance(aggregate, Aggregate):
                raise FieldError(f"aggregate({name}=...) needs Count/Sum/Avg/Min/Max")
        statement, resolver = compile_aggregate(self._state, aggregates)
        row = await self._reader.fetch_one(statement)
        assert row is not None
        return {
            name: aggregate.convert(row[index], resolver)
            for index, (name, aggregate) in enumerate(aggregates.items())
        }

    # -- writing -------------------------------------------------------------------------------

    async def create(self, **values: Any) -> _T:
        """Validate, INSERT and return a new instance (its auto key set)."""
        obj = self.model(**values)
        await persistence.insert(obj, self.database)
        return obj  # type: ignore[return-value]

    async def bulk_create(self, objs: Sequence[_T], *, batch_size: int | None = None) -> list[_T]:
        """Validate and INSERT ``objs`` in batched multi-row statements; keys are set on them."""
        objs = list(objs)
        await persistence.bulk_insert(self.model, objs, self.database, batch_size)  # type: ignore[arg-type]
        return objs

    async def bulk_update(self, objs: Sequence[_T], fields: Sequence[str]) -> int:
        """Validate and UPDATE ``fields`` of every object (one batched statement)."""
        return await persistence.bulk_update(self.model, objs, fields, self.database)  # type: ignore[arg-type]

    async def update(self, **values: Any) -> int:
        """UPDATE matching rows (values validated; ``F()`` allowed); the number matched."""
        meta = self._meta
        assignments: dict[str, Any] = {}
        for name, value in values.items():
            field = meta.get_field(name)
            if not field.concrete:
                raise FieldError(f"update() cannot set {meta.name}.{name}")
            if not isinstance(value, Expression):
                if field.is_relation and _is_model(value):
                    value = value.pk
                value = field.validate(value)
            assignments[field.attname] = value
        if not assignments:
            raise FieldError("update() needs at least one field=value")
        plain = not any(isinstance(value, Expression) for value in assignments.values())
        bound, bind_values = self._shaped(
            "update",
            tuple(assignments) if plain else _UNSHAPED,
            lambda: compile_update(self._state, assignments),
        )
        if plain:  # otherwise compiled just now, with these values
            bind_values.update(set_params(assignments))
        result = await self.database.execute(bound.statement, bind_values)
        return result.rowcount

    async def delete(self) -> int:
        """DELETE matching rows; the number deleted."""
        bound, values = self._shaped("delete", None, lambda: compile_delete(self._state))
        result = await self.database.execute(bound.statement, values)
        return result.rowcount

    async def get_or_create(
        self, defaults: dict[str, Any] | None = None, **lookups: Any
    ) -> tuple[_T, bool]:
        """Get the row matching ``lookups`` or create it (with ``defaults``): (obj, created).

        A concurrent creation that hits a unique constraint is resolved by reading it back.
        """
        from asyncdb import IntegrityError

        try:
            return await self.get(**lookups), False
        except NoMatch:
            pass
        values = {k: v for k, v in lookups.items() if "__" not in k}
        values.update(defaults or {})
        try:
            async with self.database.transaction():
                return await self.create(**values), True
        except IntegrityError as exc:
            try:
                return await self.get(**lookups), False
            except NoMatch:
                raise exc from None

    async def update_or_create(
        self, defaults: dict[str, Any] | None = None, **lookups: Any
    ) -> tuple[_T, bool]:
        """Update the row matching ``lookups`` with ``defaults``, or create it: (obj, created)."""
        async with self.database.transaction():
            try:
                obj: Any = await self.select_for_update().get(**lookups)
            except NoMatch:
                return await self.get_or_create(defaults, **lookups)
            for name, value in (defaults or {}).items():
                setattr(obj, name, value)
            await obj.save()
            return obj, False

    # -- subqueries ----------------------------------------------------------------------------

    def _subquery_for_in(self) -> sa.Select[Any]:
        state = self._state
        if state.mode == "models":
            state = state.replace(mode="flat", value_names=(self._meta.pk.name,))
        elif len(state.value_names) != 1:
            raise FieldError("a queryset used with __in must select exactly one field")
        return compile_select(state).statement


def _get_shape(
    model: type[Model], meta: Options, lookups: dict[str, Any]
) -> tuple[Any, list[Any]] | None:
    """The cache key of ``Model.objects.get(**lookups)``'s select, from the shapes of its
    filters (in ``Q``'s order), and their values; None when one is not cacheable."""
    raws: list[Any] = []
    try:
        parts = filter_shapes(sorted(lookups.items()), model, meta.leaves, raws)
    except Uncacheable:
        return None
    return ("get", *parts), raws


def _check_count(name: str, count: int) -> None:
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        raise TypeError(f"{name}() needs a non-negative int, got {count!r}")


def _is_model(value: Any) -> bool:
    return hasattr(type(value), "_meta") and hasattr(value, "pk")


def _describe(state: QueryState) -> str:
    return " AND ".join(repr(q) for q in state.where) or "the query"


def _check_alias(method: str, name: str) -> None:
    """An alias becomes a result column name: a Python identifier without ``__`` (which would
    read as a lookup), checked before any SQL."""
    if not name.isidentifier() or "__" in name:
        raise FieldError(
            f"{method}() alias {name!r:.60} is not a valid name: use a Python identifier "
            "without '__'"
        )
