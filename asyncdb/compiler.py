"""Compiling queries once per (statement shape, dialect) and binding values to them.

A ``str`` query becomes ``sqlalchemy.text(query)``; a Core statement is used as is. The first
time a shape is seen it is compiled by SQLAlchemy; afterwards a cache hit costs a dictionary
lookup (strings) or a cache-key computation (Core statements) and never calls SQLAlchemy's
compiler again. The SQL text of one shape is the same string object every time, so the driver's
prepared-statement cache (asyncpg) hits.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.sql.compiler import Compiled, SQLCompiler
from sqlalchemy.sql.elements import ClauseElement

from .cache import BoundedCache
from .errors import ParameterError, ProgrammingError

__all__ = ["CompiledQuery", "QueryCompiler"]

Processor = Callable[[Any], Any]
_CACHE_SIZE = 2000
# A SELECT that locks rows or creates a table is not a read (it must run on the primary).
_LOCKS_OR_WRITES = re.compile(
    r"\bFOR\s+(UPDATE|SHARE|NO\s+KEY\s+UPDATE|KEY\s+SHARE)\b|\bLOCK\s+IN\s+SHARE\s+MODE\b|\bINTO\b",
    re.IGNORECASE,
)
_UTC = dt.UTC


class CompiledQuery:
    """One compiled statement: its SQL text and how to order and process values and results."""

    __slots__ = (
        "converters",
        "expanding",
        "fixed_values",
        "given_set",
        "insert_defaults",
        "param_names",
        "param_set",
        "processors",
        "read_only",
        "result_keys",
        "result_processors",
        "row_cls",
        "sa_compiled",
        "sql",
    )

    def __init__(
        self,
        sql: str,
        param_names: tuple[str, ...],
        processors: tuple[tuple[int, Processor], ...],
        result_keys: tuple[str, ...] | None,
        result_processors: tuple[tuple[int, Processor], ...],
        sa_compiled: Compiled | None,
        expanding: bool,
        insert_defaults: tuple[tuple[str, Any], ...],
        read_only: bool = False,
        fixed_values: dict[str, Any] | None = None,
    ) -> None:
        self.sql = sql
        #: Only reads (a SELECT without FOR UPDATE/SHARE or INTO): may run on a replica.
        self.read_only = read_only
        self.param_names = param_names
        self.param_set = frozenset(param_names)
        #: Parameters the dialect's compiler added with a value of its own (SQLite's
        #: ``OFFSET 0`` after a ``LIMIT``): no caller gives them, every execution binds them.
        self.fixed_values = fixed_values or {}
        #: The parameters callers give (all of them but the fixed ones).
        self.given_set = self.param_set.difference(self.fixed_values)
        self.processors = processors
        self.result_keys = result_keys
        self.result_processors = result_processors
        self.sa_compiled = sa_compiled
        self.expanding = expanding
        self.insert_defaults = insert_defaults
        #: The Row class of the last result (set by the database on first use).
        self.row_cls: Any = None
        #: (rows, one record) functions applying ``result_processors``, made when first needed.
        self.converters: Any = None


class QueryCompiler:
    """Compiles and caches statements for one dialect.

    Without ``native_timezones``, ``DateTime(timezone=True)`` values are stored as naive UTC and
    come back aware. ``result_hook`` lets a backend replace SQLAlchemy's result processor for a
    type (asyncpg's numeric processors need a column OID that is not known here).
    """

    def __init__(
        self,
        dialect: Dialect,
        *,
        native_timezones: bool,
        result_hook: Callable[[sa.types.TypeEngine[Any]], Processor | None] | None = None,
    ) -> None:
        self.dialect = dialect
        self._native_timezones = native_timezones
        self._result_hook = result_hook
        self._text_cache: BoundedCache[str, CompiledQuery] = BoundedCache(
            "asyncdb.text_statements", _CACHE_SIZE
        )
        self._core_cache: BoundedCache[Any, CompiledQuery] = BoundedCache(
            "asyncdb.core_statements", _CACHE_SIZE
        )
        #: id(statement) -> (statement, column keys, compiled, its extracted bind parameters)
        self._by_object: BoundedCache[int, tuple[Any, Any, CompiledQuery, Any]] = BoundedCache(
            "asyncdb.statement_objects", _CACHE_SIZE
        )

    # -- compiling -------------------------------------------------------------------------------

    def compile(
        self, query: str | ClauseElement, values: Mapping[str, Any] | None
    ) -> tuple[CompiledQuery, list[Any]]:
        """Return the compiled statement and its positional arguments for ``values``."""
        if type(query) is str:
            cq = self._text_cache.get(query)
            if cq is None:
                cq = self._compile_text(query)
            return cq, self._bind_text(cq, values)
        if not isinstance(query, ClauseElement):
            raise ProgrammingError(
                "query must be a SQL string or a SQLAlchemy Core statement, "
                f"got {type(query).__name__}"
            )
        return self._compile_core(query, values)

    def compile_many(
        self, query: str | ClauseElement, values_list: Sequence[Mapping[str, Any]]
    ) -> tuple[CompiledQuery, list[list[Any]]]:
        """Compile once and bind every item of ``values_list`` (all must have the same keys)."""
        if not values_list:
            raise ParameterError("execute_many() needs at least one set of values")
        first = values_list[0]
        cq, args = self.compile(query, first)
        if cq.expanding:
            raise ParameterError("execute_many() does not support expanding IN parameters")
        out = [args]
        if cq.sa_compiled is None:
            out.extend(self._bind_text(cq, v) for v in values_list[1:])
        elif cq.param_names and cq.param_set.issuperset(first) and cq.param_set <= first.keys():
            # Every parameter comes from the values (no literal in the statement, no Python-side
            # default to compute): pick them out directly instead of construct_params() per row.
            names = cq.param_names
            width = len(first)
            procs = cq.processors
            for v in values_list[1:]:
                if len(v) != width:
                    raise self._mismatch(first, v)
                try:
                    args = [v[name] for name in names]
                except KeyError:
                    raise self._mismatch(first, v) from None
                for i, proc in procs:
                    args[i] = proc(args[i])
                out.append(args)
        else:
            keys = first.keys()
            for v in values_list[1:]:
                if v.keys() != keys:
                    raise self._mismatch(first, v)
                out.append(self._bind_core(cq, v, None)[1])
        return cq, out

    @staticmethod
    def _mismatch(first: Mapping[str, Any], other: Mapping[str, Any]) -> ParameterError:
        return ParameterError(
            "execute_many() needs the same keys in every set of values: "
            f"{sorted(first)} vs {sorted(other)}"
        )

    def _compile_text(self, query: str) -> CompiledQuery:
        compiled = sa.text(query).compile(dialect=self.dialect)
        return self._text_cache.put(query, self._build(compiled, text=True))

    def _compile_core(
        self, stmt: ClauseElement, values: Mapping[str, Any] | None
    ) -> tuple[CompiledQuery, list[Any]]:
        column_keys: tuple[str, ...] | None = None
        if values and getattr(stmt, "is_dml", False):
            column_keys = tuple(sorted(values))
        # The same statement object again (prebuilt, as the ORM and careful callers send):
        # its compiled form without hashing its cache key, a large nested tuple.
        seen = self._by_object.get(id(stmt))
        if seen is not None and seen[0] is stmt and seen[1] == column_keys:
            return self._bind_core(seen[2], values, seen[3])
        gen = getattr(stmt, "_generate_cache_key", None)
        cache_key = gen() if gen is not None else None
        cq: CompiledQuery | None = None
        key: Any = None
        if cache_key is not None:
            key = (cache_key.key, column_keys)
            cq = self._core_cache.get(key)
        if cq is None:
            try:
                kw: dict[str, Any] = {}
                if cache_key is not None:
                    # Lets construct_params() take the values of later statements of this shape.
                    kw["cache_key"] = cache_key
                if column_keys is not None:
                    kw["column_keys"] = list(column_keys)
                compiled = stmt.compile(dialect=self.dialect, **kw)
            except sa.exc.SQLAlchemyError as exc:
                raise ProgrammingError(f"cannot compile statement: {exc}") from exc
            cq = self._build(compiled, text=False)
            if key is not None:
                self._core_cache.put(key, cq)
        if not isinstance(cq.sa_compiled, SQLCompiler):  # DDL: no parameters
            if values:
                raise ParameterError("this statement (DDL) takes no parameters")
            return cq, []
        if cache_key is None:
            return self._bind_core(cq, values, None)
        # Holding the statement keeps its id() from being reused while the entry lives.
        self._by_object.put(id(stmt), (stmt, column_keys, cq, cache_key.bindparams))
        return self._bind_core(cq, values, cache_key.bindparams)

    def _build(self, compiled: Compiled, *, text: bool) -> CompiledQuery:
        names: tuple[str, ...] = tuple(getattr(compiled, "positiontup", None) or ())
        processors: list[tuple[int, Processor]] = []
        result_keys: tuple[str, ...] | None = None
        result_processors: list[tuple[int, Processor]] = []
        expanding = False
        insert_defaults: list[tuple[str, Any]] = []
        fixed_values: dict[str, Any] = {}
        if isinstance(compiled, SQLCompiler):
            binds = compiled.binds
            for i, name in enumerate(names):
                bind = binds.get(name)
                proc: Processor | None = (
                    bind.type._cached_bind_processor(self.dialect) if bind is not None else None
                )
                if bind is not None and self._stores_naive_utc(bind.type):
                    proc = utc_naive_bind(proc)
                if proc is not None:
                    processors.append((i, proc))
            expanding = bool(compiled.post_compile_params or compiled.literal_execute_params)
            cache_key = getattr(compiled, "cache_key", None)
            if not text and cache_key is not None:
                own = {id(bind) for bind in cache_key.bindparams}
                for name in names:
                    bind = binds.get(name)
                    if (
                        bind is not None
                        and id(bind) not in own
                        and not bind.required
                        and bind.callable is None
                        and not bind.expanding
                    ):
                        fixed_values[name] = bind.value
            columns = compiled._result_columns
            if columns:
                result_keys = tuple(str(c[0]) for c in columns)  # not quoted_name
                for i, col in enumerate(columns):
                    rproc = self._result_processor(col[3])
                    if rproc is not None:
                        result_processors.append((i, rproc))
            for column in compiled.insert_prefetch or ():
                default = column.default
                if default is not None and (default.is_scalar or default.is_callable):
                    insert_defaults.append(
                        (compiled._within_exec_param_key_getter(column), default)
                    )
        sql = compiled.string
        if text:
            reads = sql.lstrip()[:6].lower() == "select"
        else:
            reads = bool(getattr(compiled.statement, "is_select", False))
        return CompiledQuery(
            sql=sql,
            param_names=names,
            processors=tuple(processors),
            result_keys=result_keys,
            result_processors=tuple(result_processors),
            sa_compiled=None if text and not expanding else compiled,
            expanding=expanding,
            insert_defaults=tuple(insert_defaults),
            read_only=reads and _LOCKS_OR_WRITES.search(sql) is None,
            fixed_values=fixed_values,
        )

    def _result_processor(self, type_: sa.types.TypeEngine[Any]) -> Processor | None:
        proc: Processor | None
        if self._result_hook is not None:
            proc = self._result_hook(type_)
        else:
            proc = type_._cached_result_processor(self.dialect, None)
        if self._stores_naive_utc(type_):
            return utc_aware_result(proc)
        return proc

    def _stores_naive_utc(self, type_: sa.types.TypeEngine[Any]) -> bool:
        return not self._native_timezones and isinstance(type_, sa.DateTime) and type_.timezone

    # -- binding ---------------------------------------------------------------------------------

    def _bind_text(self, cq: CompiledQuery, values: Mapping[str, Any] | None) -> list[Any]:
        if values is None:
            values = {}
        elif not isinstance(values, Mapping):
            raise ParameterError(
                f"values must be a mapping of parameter names, got {type(values).__name__}"
            )
        if cq.expanding:
            return self._bind_core(cq, values, None)[1]
        try:
            args = [values[name] for name in cq.param_names]
        except KeyError:
            missing = sorted(n for n in cq.param_set if n not in values)
            raise ParameterError(
                f"missing value for parameter(s) {', '.join(missing)} "
                f"(the query's parameters: {', '.join(sorted(cq.param_set)) or 'none'})"
            ) from None
        if len(values) != len(cq.param_set):
            self._reject_unknown(cq, values)
        for i, proc in cq.processors:
            args[i] = proc(args[i])
        return args

    def _reject_unknown(self, cq: CompiledQuery, values: Mapping[str, Any]) -> None:
        unknown = sorted(str(k) for k in values if k not in cq.param_set)
        if unknown:
            raise ParameterError(
                f"unknown parameter(s) {', '.join(unknown)} "
                f"(the query's parameters: {', '.join(sorted(cq.param_set)) or 'none'})"
            )

    def _bind_core(
        self,
        cq: CompiledQuery,
        values: Mapping[str, Any] | None,
        extracted: Sequence[Any] | None,
    ) -> tuple[CompiledQuery, list[Any]]:
        compiled = cast(SQLCompiler, cq.sa_compiled)
        given = cq.given_set
        if (
            values
            and given
            and len(values) >= len(given)
            and not cq.expanding
            and not cq.insert_defaults
        ):
            # Every parameter given (a prebuilt statement with bindparam()s, as the ORM sends)?
            # Given values win over the statement's own in construct_params(), so picking them
            # out directly is the same binding without its cost; a missing one (KeyError)
            # takes the general path below.
            merged = {**cq.fixed_values, **values} if cq.fixed_values else values
            try:
                args = list(map(merged.__getitem__, cq.param_names))  # a C loop
            except KeyError:
                pass
            else:
                if len(values) != len(given):
                    self._reject_unknown_core(cq, compiled, values)
                for i, proc in cq.processors:
                    args[i] = proc(args[i])
                return cq, args
        if values:
            self._reject_unknown_core(cq, compiled, values)
        try:
            params = compiled.construct_params(
                dict(values) if values else None,
                extracted_parameters=extracted,
                _no_postcompile=True,
            )
        except sa.exc.InvalidRequestError as exc:
            raise ParameterError(str(exc).split(" (Background on")[0]) from None
        for name, default in cq.insert_defaults:
            if params.get(name) is None and not (values and name in values):
                params[name] = default.arg(None) if default.is_callable else default.arg
        if not cq.expanding:
            args = [params[name] for name in cq.param_names]
            for i, proc in cq.processors:
                args[i] = proc(args[i])
            return cq, args
        expanded = compiled._process_parameters_for_postcompile(params)
        positions = tuple(expanded.positiontup or ())
        eparams = expanded.parameters
        eprocs = expanded.processors
        args = []
        for name in positions:
            value = eparams[name]
            eproc = eprocs.get(name)
            args.append(eproc(value) if eproc is not None else value)
        return (
            CompiledQuery(
                sql=expanded.statement,
                param_names=positions,
                processors=(),
                result_keys=cq.result_keys,
                result_processors=cq.result_processors,
                sa_compiled=None,
                expanding=False,
                insert_defaults=(),
                read_only=cq.read_only,
            ),
            args,
        )

    def _reject_unknown_core(
        self, cq: CompiledQuery, compiled: SQLCompiler, values: Mapping[str, Any]
    ) -> None:
        known = cq.param_set or frozenset(compiled.bind_names.values())
        unknown = [k for k in values if k not in known and k not in compiled.bind_names.values()]
        if unknown:
            raise ParameterError(
                f"unknown parameter(s) {', '.join(sorted(map(str, unknown)))} "
                f"(the statement's parameters: {', '.join(sorted(known)) or 'none'})"
            )


def utc_naive_bind(inner: Processor | None) -> Processor:
    """Store aware datetimes as naive UTC (for backends without a time zone type)."""

    def process(value: Any) -> Any:
        if isinstance(value, dt.datetime) and value.tzinfo is not None:
            value = value.astimezone(_UTC).replace(tzinfo=None)
        return inner(value) if inner is not None else value

    return process


def utc_aware_result(inner: Processor | None) -> Processor:
    """Give back the naive UTC values stored by ``utc_naive_bind`` as aware datetimes."""

    def process(value: Any) -> Any:
        if inner is not None:
            value = inner(value)
        if isinstance(value, dt.datetime) and value.tzinfo is None:
            value = value.replace(tzinfo=_UTC)
        return value

    return process
