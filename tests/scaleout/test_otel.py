"""asyncdb.otel on every backend, checked with the OpenTelemetry SDK's in-memory exporters."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from asyncdb import Database, IntegrityError, QueryTimeout, StatementInfo
from asyncdb.otel import describe_sql, instrument
from tests.asyncdb.conftest import slow_sql

SECRET = "secret-value-7f3a"


@dataclass
class Telemetry:
    spans: InMemorySpanExporter
    reader: InMemoryMetricReader
    tracer_provider: TracerProvider
    meter_provider: MeterProvider

    def finished(self) -> list[ReadableSpan]:
        return list(self.spans.get_finished_spans())

    def metrics(self) -> dict[str, list[Any]]:
        """Metric name -> its data points (attributes, value / count / sum)."""
        data = self.reader.get_metrics_data()
        out: dict[str, list[Any]] = {}
        if data is None:
            return out
        for resource in data.resource_metrics:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    out.setdefault(metric.name, []).extend(metric.data.data_points)
        return out


@pytest.fixture
def telemetry() -> Iterator[Telemetry]:
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    yield Telemetry(exporter, reader, tracer_provider, meter_provider)
    meter_provider.shutdown()
    tracer_provider.shutdown()


@pytest.fixture
async def notes(db: Database) -> AsyncIterator[sa.Table]:
    table = sa.Table(
        f"otel_notes_{uuid.uuid4().hex[:8]}",
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("title", sa.String(50), unique=True),
    )
    await db.execute(sa.schema.CreateTable(table))
    try:
        yield table
    finally:
        await db.execute(sa.schema.DropTable(table, if_exists=True))


async def test_a_span_per_statement_with_database_conventions(
    db: Database, notes: sa.Table, telemetry: Telemetry, backend: str
) -> None:
    instrumentation = instrument(
        db,
        tracer_provider=telemetry.tracer_provider,
        meter_provider=telemetry.meter_provider,
    )
    try:
        await db.execute(sa.insert(notes).values(title=SECRET))
        rows = await db.fetch_all(sa.select(notes).where(notes.c.title == SECRET))
        await db.execute(sa.update(notes).values(title="b").where(notes.c.title == SECRET))
        await db.execute(sa.insert(notes).values(title="c"))
        with pytest.raises(IntegrityError):
            await db.execute(sa.insert(notes).values(title="c"))
        await db.execute(sa.delete(notes))
    finally:
        instrumentation.uninstrument()
    await db.fetch_all(sa.select(notes))  # after uninstrument(): no span
    assert len(rows) == 1

    spans = telemetry.finished()
    table = notes.name
    assert [s.name for s in spans] == [
        f"INSERT {table}",
        f"SELECT {table}",
        f"UPDATE {table}",
        f"INSERT {table}",
        f"INSERT {table}",
        f"DELETE {table}",
    ]
    for span in spans:
        attributes = dict(span.attributes or {})
        assert span.kind is SpanKind.CLIENT
        assert attributes["db.system.name"] == attributes["db.system"] == backend
        assert attributes["db.collection.name"] == table
        assert attributes["db.operation.name"] == span.name.split()[0]
        assert table in attributes["db.query.text"]
        assert all(SECRET not in str(value) for value in attributes.values())
        if backend == "sqlite":
            assert "server.address" not in attributes
        else:
            assert attributes["server.address"] == db.url.host
            assert attributes["server.port"] == (db.url.port or {"postgresql": 5432}[backend])
            assert attributes["db.namespace"] == db.url.database
    select = dict(spans[1].attributes or {})
    assert select["db.response.returned_rows"] == 1

    failed = spans[4]
    assert failed.status.status_code is StatusCode.ERROR
    assert failed.attributes is not None
    assert failed.attributes["error.type"] == "asyncdb.IntegrityError"
    assert failed.events == ()  # no exception event: driver messages may quote row values
    assert all(s.status.status_code is StatusCode.UNSET for i, s in enumerate(spans) if i != 4)

    durations = telemetry.metrics()["db.client.operation.duration"]
    assert sum(point.count for point in durations) == 6
    errors = [p for p in durations if p.attributes.get("error.type")]
    assert len(errors) == 1 and errors[0].count == 1
    assert all("db.query.text" not in point.attributes for point in durations)


async def test_statement_spans_are_children_of_the_current_span(
    db: Database, telemetry: Telemetry
) -> None:
    instrumentation = instrument(db, tracer_provider=telemetry.tracer_provider)
    tracer = telemetry.tracer_provider.get_tracer("app")
    try:
        with tracer.start_as_current_span("request") as request:
            async with db.transaction():
                await db.fetch_val("SELECT 1")
            await asyncio.gather(*(db.fetch_val("SELECT 2") for _ in range(3)))
    finally:
        instrumentation.uninstrument()
    spans = {s.name: s for s in telemetry.finished()}
    statements = [s for s in telemetry.finished() if s.name != "request"]
    assert [s.name for s in statements] == ["BEGIN", "SELECT", "COMMIT", *["SELECT"] * 3]
    request_id = request.get_span_context().span_id
    assert all(s.parent is not None and s.parent.span_id == request_id for s in statements)
    assert spans["request"].parent is None


async def test_pool_metrics(database_url: str, telemetry: Telemetry) -> None:
    db = Database(database_url, min_size=1, max_size=1)
    # Instrumented before connect(): the pool is found when it exists.
    instrumentation = instrument(db, meter_provider=telemetry.meter_provider, pool_name="main")
    await db.connect()
    try:
        await db.fetch_val("SELECT 1")
        holding = asyncio.Event()
        done = asyncio.Event()

        async def hold() -> None:
            async with db.transaction():
                await db.fetch_val("SELECT 1")
                holding.set()
                await done.wait()

        holder = asyncio.create_task(hold())
        await holding.wait()
        waiter = asyncio.create_task(db.fetch_val("SELECT 2"))
        while db.pool_stats().waiting == 0:  # noqa: ASYNC110 - the pool has no event to await
            await asyncio.sleep(0)

        during = telemetry.metrics()
        pool = {"db.client.connection.pool.name": "main"}
        counts = {
            p.attributes["db.client.connection.state"]: p.value
            for p in during["db.client.connection.count"]
        }
        assert counts == {"used": 1, "idle": 0}
        assert [(dict(p.attributes), p.value) for p in during["db.client.connection.max"]] == [
            (pool, 1)
        ]
        pending = during["db.client.connection.pending_requests"]
        assert [(dict(p.attributes), p.value) for p in pending] == [(pool, 1)]

        done.set()
        await holder
        assert await waiter == 2
        after = telemetry.metrics()
        counts = {
            p.attributes["db.client.connection.state"]: p.value
            for p in after["db.client.connection.count"]
        }
        assert counts == {"used": 0, "idle": 1}
        assert [p.value for p in after["db.client.connection.pending_requests"]] == [0]
        # Instrumented before connect(), the pool is found at the first statement: from then
        # on every checkout is timed (the transaction's, the waiting SELECT's).
        (wait_time,) = after["db.client.connection.wait_time"]
        assert dict(wait_time.attributes) == pool
        assert wait_time.count == 2
        assert wait_time.sum >= 0
    finally:
        instrumentation.uninstrument()
        await db.disconnect()
    assert not telemetry.metrics().get("db.client.connection.count")  # no longer observed


async def test_two_databases_on_one_meter(database_url: str, telemetry: Telemetry) -> None:
    async with Database(database_url) as one, Database(database_url, max_size=3) as two:
        a = instrument(one, meter_provider=telemetry.meter_provider, pool_name="one")
        b = instrument(two, meter_provider=telemetry.meter_provider, pool_name="two")
        try:
            await one.fetch_val("SELECT 1")
            await two.fetch_val("SELECT 1")
            maxes = {
                p.attributes["db.client.connection.pool.name"]: p.value
                for p in telemetry.metrics()["db.client.connection.max"]
            }
            assert maxes == {"one": 10, "two": 3}
        finally:
            a.uninstrument()
            b.uninstrument()


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ('SELECT a.id FROM "books" AS a JOIN authors ON 1 = 1', ("SELECT", "books")),
        ("INSERT INTO `shop`.`items` (a) VALUES (%s)", ("INSERT", "shop.items")),
        ("INSERT OR REPLACE INTO t VALUES (?)", ("INSERT", "t")),
        ("UPDATE ONLY public.t SET a = $1", ("UPDATE", "public.t")),
        ("DELETE FROM t WHERE id = $1", ("DELETE", "t")),
        ("-- note\n/* hint */ select 1", ("SELECT", None)),
        ("SAVEPOINT sp_1", ("SAVEPOINT", None)),
        ("  ", (None, None)),
    ],
)
def test_describe_sql(sql: str, expected: tuple[str | None, str | None]) -> None:
    assert describe_sql(sql) == expected


def test_asyncdb_does_not_import_opentelemetry() -> None:
    code = "import asyncdb, orm, sys; assert not [m for m in sys.modules if 'opentelemetry' in m]"
    subprocess.run([sys.executable, "-c", code], check=True)


async def test_timed_out_and_cancelled_statements_are_errors(
    db: Database, telemetry: Telemetry, backend: str
) -> None:
    instrumentation = instrument(db, tracer_provider=telemetry.tracer_provider)
    started = asyncio.Event()

    @contextlib.contextmanager
    def running(info: StatementInfo) -> Iterator[None]:
        started.set()
        yield

    try:
        with pytest.raises(QueryTimeout):
            await db.fetch_val(slow_sql(backend, 5), timeout=0.2)
        if backend != "sqlite":
            # (SQLite's worker thread would finish the abandoned query after the test's loop.)
            db.add_hook(running)
            task = asyncio.create_task(db.fetch_val(slow_sql(backend, 5)))
            await started.wait()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
    finally:
        with contextlib.suppress(ValueError):  # not added on SQLite
            db.remove_hook(running)
        instrumentation.uninstrument()
    timed_out, *rest = telemetry.finished()
    assert timed_out.status.status_code is StatusCode.ERROR
    assert timed_out.attributes is not None
    assert timed_out.attributes["error.type"] == "asyncdb.QueryTimeout"
    if backend == "sqlite":
        return
    (cancelled,) = rest
    assert cancelled.status.status_code is StatusCode.ERROR
    assert cancelled.attributes is not None
    assert cancelled.attributes["error.type"].endswith("CancelledError")
