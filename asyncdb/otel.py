"""OpenTelemetry for asyncdb: a span per statement and connection pool metrics.

Install the extra (``pip install 'asyncdb[otel]'``) and instrument a database once::

    from asyncdb.otel import instrument

    instrument(db)            # the global tracer and meter providers, or pass your own

Spans follow OpenTelemetry's database semantic conventions: a ``CLIENT`` span named
``"SELECT books"`` with ``db.system.name`` (and the older ``db.system``), ``db.namespace``,
``db.operation.name``, ``db.collection.name`` (the first table of the statement, when a cheap
look at the SQL finds it), ``db.query.text`` (the SQL as sent, with placeholders: parameter
values are never recorded), ``server.address``/``server.port``, and on failure the status
``ERROR`` with ``error.type`` and ``db.response.status_code`` (the SQLSTATE or error number). The
driver's error message is not recorded: it can quote the values of a row.

Metrics: ``db.client.operation.duration`` (histogram, s), ``db.client.connection.count``
(``state`` idle/used), ``db.client.connection.max``, ``db.client.connection.pending_requests``
and ``db.client.connection.wait_time`` (histogram, s: how long checkouts took; zero when an idle
connection was ready).

This module imports ``opentelemetry``; ``asyncdb`` itself never imports this module.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import re
import weakref
from collections.abc import Iterable, Iterator
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.metrics import CallbackOptions, Histogram, Meter, MeterProvider, Observation
from opentelemetry.trace import SpanKind, Status, StatusCode, TracerProvider

from .cache import BoundedCache
from .database import Database
from .hooks import StatementInfo
from .pool import Pool

__all__ = ["Instrumentation", "instrument"]

_SCOPE = "asyncdb"
_DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306}
#: The bucket boundaries OpenTelemetry recommends for database durations (seconds).
_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0)
_CACHED_SQL_LENGTH = 2000

_IDENT = r'(?:"[^"]+"|`[^`]+`|\[[^\]]+\]|[A-Za-z_][\w$]*)'
_NAME = rf"({_IDENT}(?:\s*\.\s*{_IDENT})*)"
_LEADING = re.compile(r"\s*(?:(?:--[^\n]*(?:\n|$)|/\*.*?\*/)\s*)*([A-Za-z]+)", re.S)
_TARGETS = {
    "SELECT": re.compile(rf"\bFROM\s+{_NAME}", re.I),
    "INSERT": re.compile(rf"\bINTO\s+{_NAME}", re.I),
    "REPLACE": re.compile(rf"\bINTO\s+{_NAME}", re.I),
    # UPDATE names its table first (matched right after the keyword, not searched for).
    "UPDATE": re.compile(rf"\s+(?:(?:OR\s+\w+|LOW_PRIORITY|IGNORE|ONLY)\s+)*{_NAME}", re.I),
    "DELETE": re.compile(rf"\bFROM\s+(?:ONLY\s+)?{_NAME}", re.I),
}


def describe_sql(sql: str) -> tuple[str | None, str | None]:
    """``(operation, first table)`` of a statement, e.g. ``("SELECT", "books")``; either may
    be ``None``. Cached: asyncdb sends byte-identical SQL for every run of one statement (very
    long statements, such as multi-row INSERTs, are not kept in the cache)."""
    if len(sql) > _CACHED_SQL_LENGTH:
        return _describe(sql)
    described = _described.get(sql)
    if described is None:
        described = _described.put(sql, _describe(sql))
    return described


def _describe(sql: str) -> tuple[str | None, str | None]:
    match = _LEADING.match(sql)
    if match is None:
        return None, None
    operation = match.group(1).upper()
    pattern = _TARGETS.get(operation)
    if pattern is None:
        return operation, None
    find = pattern.match if operation == "UPDATE" else pattern.search
    target = find(sql, match.end())
    if target is None:
        return operation, None
    return operation, re.sub(r'["`\[\]\s]', "", target.group(1))


_described: BoundedCache[str, tuple[str | None, str | None]] = BoundedCache(
    "asyncdb.otel_sql", 2048
)


def _version() -> str:
    try:
        return importlib.metadata.version("asyncdb")
    except importlib.metadata.PackageNotFoundError:
        return ""


def _error_type(exc: BaseException) -> str:
    cls = type(exc)
    module = cls.__module__
    if module == "builtins":
        return cls.__qualname__
    if module.startswith("asyncdb."):
        module = "asyncdb"  # the public name: asyncdb.IntegrityError, not asyncdb.errors.…
    return f"{module}.{cls.__qualname__}"


def _histogram(meter: Meter, name: str, description: str) -> Histogram:
    """A histogram in seconds with the conventions' buckets (advice needs API 1.30+)."""
    try:
        return meter.create_histogram(
            name, unit="s", description=description, explicit_bucket_boundaries_advisory=_BUCKETS
        )
    except TypeError:  # an older opentelemetry-api: the SDK's default buckets
        return meter.create_histogram(name, unit="s", description=description)


class _Instruments:
    """The instruments of one meter (created once), shared by every database instrumented
    with it; the pool callbacks observe each of them."""

    def __init__(self, meter: Meter) -> None:
        self.instrumented: weakref.WeakSet[Instrumentation] = weakref.WeakSet()
        meter.create_observable_up_down_counter(
            "db.client.connection.count",
            callbacks=[self._count],
            unit="{connection}",
            description="Connections in the pool, by state (idle or used).",
        )
        meter.create_observable_up_down_counter(
            "db.client.connection.max",
            callbacks=[self._max],
            unit="{connection}",
            description="The most connections the pool may open (max_size).",
        )
        meter.create_observable_up_down_counter(
            "db.client.connection.pending_requests",
            callbacks=[self._pending],
            unit="{request}",
            description="Tasks waiting for a connection from the pool.",
        )
        self.wait_time = _histogram(
            meter,
            "db.client.connection.wait_time",
            "How long checking a connection out of the pool took.",
        )
        self.duration = _histogram(
            meter, "db.client.operation.duration", "Duration of database statements."
        )

    def _stats(self) -> Iterator[tuple[Instrumentation, Any]]:
        for inst in list(self.instrumented):
            if inst.active and inst.db.is_connected:
                inst.watch_pool()
                yield inst, inst.db.pool_stats()

    def _count(self, options: CallbackOptions) -> Iterable[Observation]:
        out = []
        for inst, stats in self._stats():
            out.append(Observation(stats.idle, {**inst.pool_attributes, _STATE: "idle"}))
            out.append(Observation(stats.in_use, {**inst.pool_attributes, _STATE: "used"}))
        return out

    def _max(self, options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(s.max_size, inst.pool_attributes) for inst, s in self._stats()]

    def _pending(self, options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(s.waiting, inst.pool_attributes) for inst, s in self._stats()]


_STATE = "db.client.connection.state"
_instruments: weakref.WeakKeyDictionary[Meter, _Instruments] = weakref.WeakKeyDictionary()


class Instrumentation:
    """What ``instrument`` set up on one database; ``uninstrument()`` takes it off."""

    def __init__(
        self,
        db: Database,
        *,
        tracer_provider: TracerProvider | None,
        meter_provider: MeterProvider | None,
        pool_name: str | None,
    ) -> None:
        self.db = db
        self.active = True
        url = db.url
        system = db.features.backend
        self.tracer = trace.get_tracer(_SCOPE, _version(), tracer_provider=tracer_provider)
        meter = metrics.get_meter(_SCOPE, _version(), meter_provider=meter_provider)
        attributes: dict[str, str | int] = {"db.system.name": system, "db.system": system}
        if url.database:
            attributes["db.namespace"] = url.database
        port = url.port or _DEFAULT_PORTS.get(system)
        if url.host and system in _DEFAULT_PORTS:
            attributes["server.address"] = url.host
            if port is not None:
                attributes["server.port"] = port
        self.attributes = attributes
        if pool_name is None:
            where = f"{url.host}:{port}/" if url.host and port else ""
            pool_name = where + (url.database or "")
        self.pool_attributes = {"db.client.connection.pool.name": pool_name}
        shared = _instruments.get(meter)
        if shared is None:
            shared = _instruments[meter] = _Instruments(meter)
        shared.instrumented.add(self)
        self._instruments = shared
        self._pool: Pool | None = None
        db.add_hook(self._hook)
        self.watch_pool()

    def uninstrument(self) -> None:
        """Stop emitting spans and metrics for this database."""
        if not self.active:
            return
        self.active = False
        self.db.remove_hook(self._hook)
        self._instruments.instrumented.discard(self)
        if self._pool is not None and self._pool.on_acquire == self._observe_wait:
            self._pool.on_acquire = None
        self._pool = None

    def watch_pool(self) -> None:
        """Time the checkouts of the database's current pool (a reconnect makes a new one)."""
        pool = self.db._pool
        if pool is not None and pool is not self._pool:
            pool.on_acquire = self._observe_wait
            self._pool = pool

    def _observe_wait(self, seconds: float) -> None:
        self._instruments.wait_time.record(seconds, self.pool_attributes)

    @contextlib.contextmanager
    def _hook(self, info: StatementInfo) -> Iterator[None]:
        if self._pool is None or self._pool is not self.db._pool:
            self.watch_pool()
        operation, table = describe_sql(info.sql)
        attributes: dict[str, Any] = dict(self.attributes)
        attributes["db.query.text"] = info.sql
        if operation is not None:
            attributes["db.operation.name"] = operation
        if table is not None:
            attributes["db.collection.name"] = table
        name = f"{operation} {table}" if operation and table else operation or info.backend
        with self.tracer.start_as_current_span(
            name,
            kind=SpanKind.CLIENT,
            attributes=attributes,
            record_exception=False,  # driver messages may quote row values
            set_status_on_exception=False,
        ) as span:
            failure: BaseException | None = None
            try:
                yield
            except BaseException as exc:  # a cancelled statement too, which info.error omits
                failure = exc
                raise
            finally:
                error = info.error or failure
                metric_attributes = {k: v for k, v in attributes.items() if k != "db.query.text"}
                if error is not None:
                    error_type = _error_type(error)
                    span.set_attribute("error.type", error_type)
                    metric_attributes["error.type"] = error_type
                    code = getattr(error, "code", None)
                    if code is not None:
                        span.set_attribute("db.response.status_code", str(code))
                        metric_attributes["db.response.status_code"] = str(code)
                    span.set_status(Status(StatusCode.ERROR, error_type))
                elif info.rowcount is not None and info.operation.startswith("fetch"):
                    span.set_attribute("db.response.returned_rows", info.rowcount)
                if info.duration is not None:
                    self._instruments.duration.record(info.duration, metric_attributes)


def instrument(
    db: Database,
    *,
    tracer_provider: TracerProvider | None = None,
    meter_provider: MeterProvider | None = None,
    pool_name: str | None = None,
) -> Instrumentation:
    """Emit a span per statement of ``db`` and metrics of its pool (see the module docstring).

    ``tracer_provider``/``meter_provider`` default to OpenTelemetry's global ones;
    ``pool_name`` (the ``db.client.connection.pool.name`` attribute) defaults to
    ``host:port/database``. Works before or after ``db.connect()``.
    """
    return Instrumentation(
        db, tracer_provider=tracer_provider, meter_provider=meter_provider, pool_name=pool_name
    )
