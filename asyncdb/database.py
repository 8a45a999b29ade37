"""``Database``: the entry point — URL, pool, statements, transactions, streaming.

How a statement flows: compile (cached) → the connection pinned to this task by an open
``transaction()``/``connection()`` block, else one checked out of the pool for this statement
alone → run on the driver (errors mapped by the backend) → rows wrapped in ``Row`` →
the connection goes back to the pool before the call returns (no round trip when idle).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, asynccontextmanager
from contextvars import ContextVar
from itertools import count
from types import TracebackType
from typing import Any, TypeVar

from sqlalchemy.engine import URL as SAURL
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.sql.elements import ClauseElement

from .backends import Backend, Features, RawConnection, load_backend
from .connection import Connection
from .errors import DatabaseError, InterfaceError, OperationalError, QueryTimeout
from .hooks import CapturedQueries, Hook, StatementInfo, captures
from .pinning import Holder, Layer
from .pool import Pool, PooledConnection, PoolStats
from .result import Result
from .routing import NO_REPLICA, Replica, RoutedDatabase, route
from .row import Row, make_row, make_rows, processed_records
from .transaction import Transaction
from .url import DatabaseURL

__all__ = ["Database"]

logger = logging.getLogger("asyncdb")
Query = str | ClauseElement
Values = Mapping[str, Any] | None
T = TypeVar("T")

_POOL_OPTIONS: dict[str, Callable[[str], Any]] = {
    "min_size": int,
    "max_size": int,
    "acquire_timeout": float,
    "max_lifetime": float,
    "max_idle": float,
    "check_idle_after": float,
}
_DEFAULTS: dict[str, Any] = {
    "min_size": 1,
    "max_size": 10,
    "acquire_timeout": 30.0,
    "max_lifetime": 3600.0,
    "max_idle": 600.0,
    "check_idle_after": 10.0,
}
_ids = count(1)
#: How long a timed-out statement's cancellation may take before its connection is dropped.
_CANCEL_GRACE = 5.0


def _fetch_all(raw: RawConnection, sql: str, args: Sequence[Any]) -> Awaitable[Any]:
    return raw.fetch(sql, args)


def _fetch_one(raw: RawConnection, sql: str, args: Sequence[Any]) -> Awaitable[Any]:
    return raw.fetch(sql, args, 1)


def _execute(raw: RawConnection, sql: str, args: Sequence[Any]) -> Awaitable[Any]:
    return raw.execute(sql, args)


def _execute_many(raw: RawConnection, sql: str, args: Sequence[Any]) -> Awaitable[Any]:
    return raw.execute_many(sql, args)


class Database:
    """A database reached through one URL, with its own connection pool.

    Outside ``transaction()``/``connection()`` blocks every call checks a connection out of the
    pool for one statement and gives it back before returning, so awaiting anything else between
    two queries holds no connection. Pool options come from keyword arguments or the URL's query
    string (keywords win): ``min_size`` (1), ``max_size`` (10), ``acquire_timeout`` (30 s,
    then ``PoolTimeout``), ``max_lifetime`` (3600 s), ``max_idle`` (600 s) and
    ``check_idle_after`` (10 s: connections idle longer are pinged before use). Other options
    go to the driver (``ssl``, ``statement_cache_size``, ``charset``, ``timeout``, ...).

    ``force_rollback=True`` runs everything in one transaction rolled back at ``disconnect()``
    (for tests); transactions inside it are savepoints. ``timeout`` is the default per-statement
    timeout in seconds (each call may pass its own ``timeout=``): a statement still running
    then is cancelled on the server and ``QueryTimeout`` is raised.

    ``replicas`` lists read replicas (URLs of the same backend, pool options shared): reads
    outside transactions — ``fetch_*`` and ``iterate`` of a SELECT without FOR UPDATE/SHARE —
    go to them in turn; writes, transactions and everything else go to the primary. A replica
    that cannot be reached is left out for a few seconds and its reads go elsewhere.
    ``db.using("primary")`` sends reads to the primary (read-your-writes outside a
    transaction).
    """

    def __init__(
        self,
        url: str | DatabaseURL,
        *,
        min_size: int | None = None,
        max_size: int | None = None,
        acquire_timeout: float | None = None,
        max_lifetime: float | None = None,
        max_idle: float | None = None,
        check_idle_after: float | None = None,
        force_rollback: bool = False,
        timeout: float | None = None,
        replicas: Sequence[str | DatabaseURL] = (),
        **driver_options: Any,
    ) -> None:
        self.url = DatabaseURL(url)
        options: dict[str, Any] = dict(self.url.options)
        settings = dict(_DEFAULTS)
        for name, convert in _POOL_OPTIONS.items():
            if name in options:
                raw_value = options.pop(name)
                try:
                    settings[name] = convert(raw_value)
                except ValueError:
                    raise ValueError(
                        f"URL option {name!r} must be a {convert.__name__}, got {raw_value!r}"
                    ) from None
        given = {
            "min_size": min_size,
            "max_size": max_size,
            "acquire_timeout": acquire_timeout,
            "max_lifetime": max_lifetime,
            "max_idle": max_idle,
            "check_idle_after": check_idle_after,
        }
        settings.update({k: v for k, v in given.items() if v is not None})
        if settings["min_size"] > settings["max_size"]:
            settings["min_size"] = settings["max_size"]
        options.update(driver_options)
        self._settings = settings
        self._force_rollback = force_rollback
        if timeout is not None and timeout <= 0:
            raise ValueError(f"timeout must be positive seconds, got {timeout!r}")
        self._timeout = timeout
        self._backend: Backend = load_backend(
            self.url.backend,
            host=self.url.host,
            port=self.url.port,
            user=self.url.user,
            password=self.url.password,
            database=self.url.database,
            options=options,
            **({"hosts": self.url.hosts} if len(self.url.hosts) > 1 else {}),
        )
        self._compiler = self._backend.compiler
        self._pool: Pool | None = None
        self._replicas = [self._replica(r, driver_options) for r in replicas]
        self._next_replica = 0
        self._root_layer: Layer | None = None
        self._id = next(_ids)
        self._layer_var: ContextVar[Layer | None] = ContextVar(
            f"asyncdb_layer_{self._id}", default=None
        )
        self._hooks: list[Hook] = []
        self._connect_lock = asyncio.Lock()
        #: SQLite allows one writer at a time. This Database's writers (a write statement
        #: outside a transaction, a write transaction) queue here in order, bounded by
        #: ``acquire_timeout``, instead of polling the file lock in SQLite's busy handler, which
        #: sleeps in millisecond steps. ``busy_timeout`` still bounds waits for other processes.
        self._write_gate: asyncio.Lock | None = None

    # -- lifecycle -------------------------------------------------------------------------------

    @property
    def is_connected(self) -> bool:
        """True between ``connect()`` and ``disconnect()``."""
        return self._pool is not None

    @property
    def features(self) -> Features:
        """What this backend supports (see ``asyncdb.Features``)."""
        return self._backend.features

    @property
    def dialect(self) -> Dialect:
        """The SQLAlchemy dialect statements are compiled for."""
        return self._backend.dialect

    @property
    def sqlalchemy_url(self) -> SAURL:
        """The SQLAlchemy async-driver URL of this database (for Alembic or an engine)."""
        path = getattr(self._backend, "path", None)
        if path is not None:
            return self.url.to_sqlalchemy(database=path)
        return self.url.to_sqlalchemy()

    def __repr__(self) -> str:
        state = "connected" if self.is_connected else "disconnected"
        return f"<Database {self.url.render()!r} {state}>"

    async def connect(self) -> None:
        """Open the pool (``min_size`` connections). Calling it again does nothing."""
        async with self._connect_lock:
            if self._pool is not None:
                return
            await self._backend.prepare()
            pool = self._new_pool(self._backend, min_size=self._settings["min_size"])
            try:
                await pool.open()
            except BaseException:
                await pool.close()
                await self._backend.dispose()
                raise
            self._pool = pool
            if self.features.backend == "sqlite":
                self._write_gate = asyncio.Lock()
            for replica in self._replicas:
                # Replicas connect lazily: one that is down must not stop the application.
                await replica.backend.prepare()
                replica.pool = self._new_pool(replica.backend, min_size=0)
            if self._force_rollback:
                conn = await pool.acquire()
                holder = Holder(conn)
                layer = Layer(holder, None)
                holder.active = layer
                try:
                    await self._run_on(conn, conn.raw.begin(None, False), "BEGIN")
                except BaseException:
                    pool.release(conn)
                    raise
                self._root_layer = layer
            logger.debug("connected to %s", self._backend.describe())

    async def disconnect(self) -> None:
        """Close the pool (rolling back the ``force_rollback`` transaction). Idempotent."""
        async with self._connect_lock:
            pool = self._pool
            if pool is None:
                return
            root = self._root_layer
            self._root_layer = None
            if root is not None:
                root.closed = True
                conn = root.holder.conn
                if not root.holder.broken and conn.raw.is_alive():
                    try:
                        await self._run_on(conn, conn.raw.rollback(), "ROLLBACK")
                    except DatabaseError:
                        logger.debug("force_rollback ROLLBACK failed", exc_info=True)
                root.holder.set_active(None)
                pool.release(conn)
            self._pool = None
            self._write_gate = None
            await pool.close()
            await self._backend.dispose()
            for replica in self._replicas:
                if replica.pool is not None:
                    await replica.pool.close()
                    replica.pool = None
                await replica.backend.dispose()
            logger.debug("disconnected from %s", self._backend.describe())

    async def __aenter__(self) -> Database:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.disconnect()

    def pool_stats(self) -> PoolStats:
        """Size, idle, in use and waiting counts of the pool."""
        return self._require_pool().stats()

    # -- statements ------------------------------------------------------------------------------

    async def fetch_all(
        self, query: Query, values: Values = None, *, timeout: float | None = None
    ) -> list[Row]:
        """Run ``query`` and return all its rows."""
        cq, args = self._compiler.compile(query, values)
        rows, keys = await self._statement(
            "fetch_all", cq.sql, args, _fetch_all, timeout, cq.read_only
        )
        return make_rows(cq, rows, keys)

    async def fetch_records(
        self, query: Query, values: Values = None, *, timeout: float | None = None
    ) -> list[Sequence[Any]]:
        """Run ``query`` and return all its rows as the driver's own sequences (asyncpg
        ``Record`` objects, tuples; tuples of the converted values when a column type converts
        values), without building a ``Row`` for each: the values ``fetch_all`` gives, by
        position only. For code that turns rows into its own objects (the ORM does); access by
        name needs ``fetch_all``."""
        cq, args = self._compiler.compile(query, values)
        rows, _ = await self._statement(
            "fetch_all", cq.sql, args, _fetch_all, timeout, cq.read_only
        )
        return processed_records(cq, rows)

    async def fetch_one(
        self, query: Query, values: Values = None, *, timeout: float | None = None
    ) -> Row | None:
        """Run ``query`` and return its first row, or ``None`` when there is none."""
        cq, args = self._compiler.compile(query, values)
        rows, keys = await self._statement(
            "fetch_one", cq.sql, args, _fetch_one, timeout, cq.read_only
        )
        if not rows:
            return None
        return make_row(cq, rows[0], keys)

    async def fetch_val(
        self,
        query: Query,
        values: Values = None,
        column: int | str = 0,
        *,
        timeout: float | None = None,
    ) -> Any:
        """Run ``query`` and return one value of its first row (``None`` when no row)."""
        row = await self.fetch_one(query, values, timeout=timeout)
        return None if row is None else row[column]

    async def execute(
        self, query: Query, values: Values = None, *, timeout: float | None = None
    ) -> Result:
        """Run a statement; ``result.rowcount`` is the number of rows it matched."""
        cq, args = self._compiler.compile(query, values)
        rowcount, lastrowid = await self._statement("execute", cq.sql, args, _execute, timeout)
        return Result(rowcount, lastrowid)

    async def execute_many(
        self,
        query: Query,
        values: Sequence[Mapping[str, Any]],
        *,
        timeout: float | None = None,
    ) -> None:
        """Run one statement for every set of values, in the driver's batched path."""
        if isinstance(values, Mapping) or not isinstance(values, Sequence):
            raise TypeError(
                f"execute_many() takes a sequence of mappings, got {type(values).__name__}"
            )
        if not values:
            return
        cq, args_list = self._compiler.compile_many(query, values)
        await self._statement("execute_many", cq.sql, args_list, _execute_many, timeout)

    async def iterate(
        self,
        query: Query,
        values: Values = None,
        *,
        chunk_size: int = 500,
        timeout: float | None = None,
    ) -> AsyncIterator[Row]:
        """Stream the rows of ``query``, ``chunk_size`` at a time from the server.

        Outside a transaction the iteration has a connection of its own (server-side cursor on
        PostgreSQL and MySQL), so other queries may run inside the loop; leaving the loop early
        releases it. Inside a transaction it shares the transaction's connection, chunk by
        chunk (MySQL then fetches the rows at once: ``features.streams_inside_transaction``).
        ``timeout`` bounds the fetch of each chunk.
        """
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
        cq, args = self._compiler.compile(query, values)
        layer = self._current_layer()
        if layer is None:
            pool = self._read_pool() if cq.read_only else self._require_pool()
            conn = await pool.acquire()
            try:
                stream = conn.raw.stream(cq.sql, args, chunk_size, in_transaction=False)
                try:
                    while True:
                        chunk = await self._next_chunk(conn, cq.sql, args, stream, timeout)
                        if chunk is None:
                            break
                        for row in make_rows(cq, *chunk):
                            yield row
                finally:
                    await self._close_stream(conn, stream)
            finally:
                self._pool_release(conn)
            return
        holder = layer.holder
        stream = holder.conn.raw.stream(cq.sql, args, chunk_size, in_transaction=True)
        try:
            while True:
                await holder.enter(layer)
                try:
                    chunk = await self._next_chunk(holder.conn, cq.sql, args, stream, timeout)
                finally:
                    holder.leave()
                if chunk is None:
                    break
                for row in make_rows(cq, *chunk):
                    yield row
        finally:
            if not holder.broken and not layer.closed:
                await holder.enter(layer)
                try:
                    await self._close_stream(holder.conn, stream)
                finally:
                    holder.leave()

    async def _next_chunk(
        self,
        conn: PooledConnection,
        sql: str,
        args: Sequence[Any],
        stream: AsyncIterator[tuple[list[Any], tuple[str, ...] | None]],
        timeout: float | None,
    ) -> tuple[list[Any], tuple[str, ...] | None] | None:
        async def step() -> tuple[list[Any], tuple[str, ...] | None] | None:
            try:
                return await stream.__anext__()
            except StopAsyncIteration:
                return None

        return await self._run_on(conn, step(), sql, "iterate", args, timeout)

    async def _close_stream(self, conn: PooledConnection, stream: AsyncIterator[Any]) -> None:
        aclose = getattr(stream, "aclose", None)
        if aclose is None:
            return
        conn.busy = True
        try:
            await aclose()
        except DatabaseError:
            logger.debug("closing a stream failed", exc_info=True)
        conn.busy = False

    # -- transactions and pinned connections -----------------------------------------------------

    def transaction(self, *, isolation: str | None = None, readonly: bool = False) -> Transaction:
        """A transaction: ``async with``, a decorator, or ``await tx.start()``.

        Nested transactions are savepoints. Tasks started inside the block run on its
        connection, inside the transaction, one statement at a time.
        """
        return Transaction(self, isolation=isolation, readonly=readonly)

    def connection(self) -> Connection:
        """Pin one connection to this task (and the tasks it starts) for an ``async with``."""
        return Connection(self)

    @asynccontextmanager
    async def capture_queries(self) -> AsyncIterator[CapturedQueries]:
        """Record the SQL of every statement this task (and its children) runs in the block."""
        captured = CapturedQueries(self._id)
        token = captures.set((*captures.get(), captured))
        try:
            yield captured
        finally:
            captures.reset(token)

    def add_hook(self, hook: Hook) -> None:
        """Call ``hook(info)`` around every statement (see ``asyncdb.hooks``)."""
        self._hooks.append(hook)

    def remove_hook(self, hook: Hook) -> None:
        """Stop calling ``hook``; ValueError if it was not added."""
        self._hooks.remove(hook)

    # -- internals -------------------------------------------------------------------------------

    def _require_pool(self) -> Pool:
        pool = self._pool
        if pool is None:
            raise InterfaceError(
                f"{self!r} is not connected; call `await db.connect()` (or use `async with`)"
            )
        return pool

    def _current_layer(self) -> Layer | None:
        return self._layer_var.get() or self._root_layer

    async def _pool_acquire(self) -> PooledConnection:
        return await self._require_pool().acquire()

    def _pool_release(self, conn: PooledConnection) -> None:
        pool = self._pool
        if pool is None:
            conn.raw.terminate()
            return
        _release(pool, conn)

    async def _statement(
        self,
        operation: str,
        sql: str,
        args: Any,
        call: Callable[[RawConnection, str, Any], Awaitable[T]],
        timeout: float | None = None,
        read_only: bool = False,
        *,
        gate_held: bool = False,
    ) -> T:
        if timeout is None:
            timeout = self._timeout
        layer = self._layer_var.get() or self._root_layer
        if read_only and layer is None and self._replicas and route.get() != "primary":
            result = await self._on_replica(operation, sql, args, call, timeout)
            if result is not NO_REPLICA:
                return result  # type: ignore[return-value]
        if (
            not read_only
            and self._write_gate is not None
            and not gate_held
            and (layer is None or not layer.holder.conn.raw.in_transaction())
        ):
            gate = await self._write_turn()
            try:
                return await self._statement(
                    operation, sql, args, call, timeout, read_only, gate_held=True
                )
            finally:
                if gate is not None:
                    gate.release()
        if layer is not None:
            holder = layer.holder
            if not holder.try_enter(layer):
                await holder.enter(layer)
            try:
                return await self._run_on(
                    holder.conn, call(holder.conn.raw, sql, args), sql, operation, args, timeout
                )
            finally:
                holder.leave()
        pool = self._pool
        if pool is None:
            self._require_pool()
            raise AssertionError  # unreachable: _require_pool raised
        while True:
            conn = pool.acquire_nowait() or await pool.acquire()
            try:
                return await self._run_on(
                    conn, call(conn.raw, sql, args), sql, operation, args, timeout
                )
            except DatabaseError as exc:
                # A pooled connection that died while idle (server restart, kill) fails before
                # the statement ran: run it again on another connection. Each dead connection
                # is discarded, and a freshly opened one is never retried, so this ends.
                if not conn.reused or not self._backend_safe_to_retry(exc):
                    raise
                logger.debug("retrying on another connection after: %s", exc)
            finally:
                _release(pool, conn)

    async def _write_turn(self) -> asyncio.Lock | None:
        """Wait for this Database's SQLite write turn (see ``_write_gate``) and return the lock
        to release; None on the other backends."""
        gate = self._write_gate
        if gate is None:
            return None
        limit = self._settings["acquire_timeout"]
        try:
            async with asyncio.timeout(limit):
                await gate.acquire()
        except TimeoutError:
            raise OperationalError(
                f"database is locked: no write turn within acquire_timeout={limit}s (another "
                "task of this process holds a write transaction)"
            ) from None
        return gate

    async def _on_replica(
        self,
        operation: str,
        sql: str,
        args: Any,
        call: Callable[[RawConnection, str, Any], Awaitable[T]],
        timeout: float | None,
    ) -> T | object:
        """Run a read on the next healthy replica; a replica that fails to connect or loses
        its connection is left out for ``routing.REPLICA_RETRY`` seconds and the read moves on
        (reads are safe to repeat). Returns ``NO_REPLICA`` when none could serve it."""
        for replica in self._healthy_replicas():
            pool = replica.pool
            assert pool is not None
            try:
                conn = pool.acquire_nowait() or await pool.acquire()
            except OperationalError:
                replica.mark_down(time.monotonic())
                continue
            try:
                return await self._run_on(
                    conn, call(conn.raw, sql, args), sql, operation, args, timeout
                )
            except DatabaseError as exc:
                if not exc.connection_lost:
                    raise
                replica.mark_down(time.monotonic())
            finally:
                _release(pool, conn)
        return NO_REPLICA

    def _read_pool(self) -> Pool:
        """The pool a streamed read uses: the next healthy replica's, else the primary's."""
        if route.get() != "primary":
            for replica in self._healthy_replicas():
                assert replica.pool is not None
                return replica.pool
        return self._require_pool()

    def _healthy_replicas(self) -> Iterator[Replica]:
        """Connected replicas not marked down, in turn: each one yielded becomes the last used,
        so the next read starts after it."""
        now = time.monotonic()
        count = len(self._replicas)
        start = self._next_replica
        for step in range(count):
            index = (start + step) % count
            replica = self._replicas[index]
            if replica.pool is not None and replica.down_until <= now:
                self._next_replica = (index + 1) % count
                yield replica

    def _replica(self, url: str | DatabaseURL, driver_options: dict[str, Any]) -> Replica:
        parsed = DatabaseURL(url)
        if parsed.backend != self.url.backend:
            raise ValueError(
                f"replica {parsed} is {parsed.backend}, but the primary is {self.url.backend}"
            )
        options = dict(parsed.options)
        options.update(driver_options)
        backend = load_backend(
            parsed.backend,
            host=parsed.host,
            port=parsed.port,
            user=parsed.user,
            password=parsed.password,
            database=parsed.database,
            options=options,
        )
        return Replica(parsed, backend)

    def _new_pool(self, backend: Backend, *, min_size: int) -> Pool:
        s = self._settings
        return Pool(
            backend,
            min_size=min_size,
            max_size=s["max_size"],
            acquire_timeout=s["acquire_timeout"],
            max_lifetime=s["max_lifetime"],
            max_idle=s["max_idle"],
            check_idle_after=s["check_idle_after"],
        )

    def using(self, target: str) -> RoutedDatabase:
        """Run statements on ``"primary"`` (e.g. to read your own writes outside a transaction)
        or on ``"replica"`` (the default for reads): ``await db.using("primary").fetch_all(q)``.
        """
        if target not in ("primary", "replica"):
            raise ValueError(f"using() takes 'primary' or 'replica', got {target!r}")
        return RoutedDatabase(self, target)

    def _backend_safe_to_retry(self, exc: DatabaseError) -> bool:
        return exc.connection_lost and exc.retry_safe

    async def _run_on(
        self,
        conn: PooledConnection,
        awaitable: Awaitable[T],
        sql: str,
        operation: str = "transaction",
        args: Any = (),
        timeout: float | None = None,
    ) -> T:
        """Await one driver call on ``conn``, marking it busy meanwhile (a connection left busy
        by a cancellation is discarded), with hooks, capture and DEBUG logging.

        Without ``timeout`` the Database default applies: BEGIN, COMMIT, ROLLBACK and savepoints
        are bounded too, so a half-open connection cannot hang a transaction."""
        if timeout is None:
            timeout = self._timeout
        if timeout is not None:
            awaitable = self._bounded(conn, awaitable, timeout)
        if self._hooks or captures.get() or logger.isEnabledFor(logging.DEBUG):
            return await self._run_observed(conn, awaitable, sql, operation, args)
        conn.busy = True
        try:
            result = await awaitable
        except DatabaseError as exc:
            conn.busy = False
            if exc.connection_lost:
                conn.raw.terminate()  # never handed out again
            raise
        except Exception:
            conn.busy = False
            raise
        conn.busy = False
        return result

    async def _bounded(self, conn: PooledConnection, awaitable: Awaitable[T], timeout: float) -> T:
        """Await ``awaitable``; past ``timeout`` cancel the statement on the server and raise
        ``QueryTimeout``, leaving the connection usable (or discarding it when the server
        does not answer the cancellation)."""
        task = asyncio.ensure_future(awaitable)
        try:
            done, _ = await asyncio.wait({task}, timeout=timeout)
        except BaseException:
            task.cancel()  # the caller was cancelled: so is the statement (conn stays busy)
            raise
        if done:
            return task.result()
        try:
            await asyncio.wait_for(conn.raw.cancel(), _CANCEL_GRACE)
            done, _ = await asyncio.wait({task}, timeout=_CANCEL_GRACE)
        except (DatabaseError, TimeoutError):
            done = set()
        except BaseException:
            task.cancel()
            raise
        if not done:
            # The server did not answer (half-open connection): give up on this connection.
            conn.raw.terminate()
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
        elif not task.cancelled() and task.exception() is None:
            return task.result()  # it finished just as it was cancelled
        else:
            failure = None if task.cancelled() else task.exception()
            if isinstance(failure, DatabaseError) and failure.connection_lost:
                conn.raw.terminate()
        raise QueryTimeout(
            f"the statement did not finish within timeout={timeout}s and was cancelled"
        ) from (None if task.cancelled() else task.exception())

    async def _run_observed(
        self, conn: PooledConnection, awaitable: Awaitable[T], sql: str, operation: str, args: Any
    ) -> T:
        for captured in captures.get():
            if captured.database_id == self._id:
                captured.statements.append(sql)
        info = StatementInfo(
            sql=sql,
            parameters=tuple(args) if operation != "execute_many" else (),
            operation=operation,
            backend=self._backend.name,
        )
        start = time.perf_counter()
        with ExitStack() as stack:
            for hook in self._hooks:
                cm = hook(info)
                if cm is not None:
                    stack.enter_context(cm)
            conn.busy = True
            try:
                result = await awaitable
            except Exception as exc:
                conn.busy = False
                info.error = exc
                if isinstance(exc, DatabaseError) and exc.connection_lost:
                    conn.raw.terminate()
                raise
            finally:
                info.duration = time.perf_counter() - start
                logger.debug(
                    "%s [%s %.3f ms%s]",
                    sql,
                    operation,
                    info.duration * 1000,
                    f", {type(info.error).__name__}" if info.error else "",
                )
            conn.busy = False
            if operation == "execute" and isinstance(result, tuple):
                info.rowcount = result[0]
            elif operation.startswith("fetch") and isinstance(result, tuple):
                info.rowcount = len(result[0])
        return result


def _release(pool: Pool, conn: PooledConnection) -> None:
    task = pool.release(conn)
    if task is not None:
        # The rollback finishes even if the caller is cancelled; nothing waits on it here.
        task.add_done_callback(_consume)


def _consume(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.debug("background release failed", exc_info=task.exception())
