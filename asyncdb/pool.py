"""The connection pool: eager hand-back, no round trip to release an idle connection.

State of a pooled connection, as the pool sees it::

    idle ──acquire──► in use ──release (idle, healthy)──► idle
                        │
                        ├─release (open transaction)──► ROLLBACK ──► idle
                        ├─release (statement in flight: cancelled mid-query)──► discarded
                        └─release (dead, too old)──► closed

Checking out verifies the connection locally (closed socket, unread bytes) at no cost, and pings
only connections that sat idle longer than ``check_idle_after`` seconds.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from .backends.base import Backend, RawConnection
from .errors import DatabaseError, InterfaceError, PoolTimeout

__all__ = ["Pool", "PoolStats", "PooledConnection"]

logger = logging.getLogger("asyncdb.pool")
#: The longest the pool's own round trips may take (the ping of an idle connection, the rollback
#: of one given back inside a transaction) before the connection is dropped: a half-open
#: connection (peer gone without a FIN or RST) never answers.
CHECK_TIMEOUT = 5.0


class PooledConnection:
    """A driver connection plus the bookkeeping the pool needs."""

    __slots__ = ("busy", "created_at", "idle_since", "raw", "reused")

    def __init__(self, raw: RawConnection) -> None:
        self.raw = raw
        now = time.monotonic()
        self.created_at = now
        self.idle_since = now
        #: True while a statement is in flight: a connection released in that state (its task
        #: was cancelled mid-statement) is discarded, never handed to the next task.
        self.busy = False
        #: True when taken from the idle list (as opposed to freshly opened).
        self.reused = False


@dataclass(frozen=True, slots=True)
class PoolStats:
    """A snapshot of the pool: ``size`` = ``idle`` + ``in_use`` (+ connections opening)."""

    size: int
    idle: int
    in_use: int
    waiting: int
    max_size: int
    min_size: int


class Pool:
    def __init__(
        self,
        backend: Backend,
        *,
        min_size: int,
        max_size: int,
        acquire_timeout: float,
        max_lifetime: float | None,
        max_idle: float | None,
        check_idle_after: float,
    ) -> None:
        if max_size < 1:
            raise ValueError(f"max_size must be at least 1, got {max_size}")
        if not 0 <= min_size <= max_size:
            raise ValueError(
                f"min_size must be between 0 and max_size ({max_size}), got {min_size}"
            )
        if acquire_timeout <= 0:
            raise ValueError(f"acquire_timeout must be positive, got {acquire_timeout}")
        self.backend = backend
        self.min_size = min_size
        self.max_size = max_size
        self.acquire_timeout = acquire_timeout
        self.max_lifetime = max_lifetime
        self.max_idle = max_idle
        self.check_idle_after = check_idle_after
        self._idle: deque[PooledConnection] = deque()
        self._in_use: set[PooledConnection] = set()
        self._opening = 0
        self._waiters: deque[asyncio.Future[PooledConnection | None]] = deque()
        self._background: set[asyncio.Task[None]] = set()
        self._closed = False
        #: Called with the seconds each successful checkout took (``asyncdb.otel`` sets it).
        self.on_acquire: Callable[[float], None] | None = None

    # -- public ----------------------------------------------------------------------------------

    @property
    def size(self) -> int:
        return len(self._idle) + len(self._in_use) + self._opening

    def stats(self) -> PoolStats:
        return PoolStats(
            size=self.size,
            idle=len(self._idle),
            in_use=len(self._in_use),
            waiting=sum(1 for w in self._waiters if not w.done()),
            max_size=self.max_size,
            min_size=self.min_size,
        )

    async def open(self) -> None:
        """Open ``min_size`` connections (at least one, to fail fast on a bad URL), within
        ``acquire_timeout``: a server that accepts TCP but never answers (aiomysql's
        ``connect_timeout`` covers the TCP connect only) cannot hang ``connect()``."""
        deadline = time.monotonic() + self.acquire_timeout
        conns = [await self._open_new(deadline) for _ in range(max(self.min_size, 1))]
        for conn in conns:
            self._in_use.discard(conn)
            conn.idle_since = time.monotonic()
            self._idle.append(conn)

    async def acquire(self, wait: float | None = None) -> PooledConnection:
        """Check out a healthy connection, waiting at most ``wait`` s (default: the pool's)."""
        if self._closed:
            raise InterfaceError("the database is disconnected; call connect() first")
        start = time.monotonic()
        deadline = start + (self.acquire_timeout if wait is None else wait)
        while True:
            conn = self._take_idle()
            if conn is not None:
                if await self._usable(conn, deadline):
                    return self._acquired(conn, start)
                continue
            if self.size < self.max_size:
                return self._acquired(await self._open_new(deadline), start)
            conn = await self._wait(deadline)
            if conn is None:
                continue  # woken because capacity was freed: look again
            if await self._usable(conn, deadline):
                return self._acquired(conn, start)

    def acquire_nowait(self) -> PooledConnection | None:
        """Check out an idle connection that needs no ping, without awaiting; else None.

        The hot path of every statement outside a transaction: no coroutine, no round trip.
        """
        idle = self._idle
        while idle:
            conn = idle[-1]
            raw = conn.raw
            if not raw.is_alive() or self._expired(conn):
                idle.pop()
                self._in_use.add(conn)
                self._discard(conn)
                continue
            if time.monotonic() - conn.idle_since > self.check_idle_after:
                return None  # needs a ping: the slow path does it
            idle.pop()
            conn.reused = True
            self._in_use.add(conn)
            if self.on_acquire is not None:
                self.on_acquire(0.0)
            return conn
        return None

    def release(self, conn: PooledConnection) -> asyncio.Task[None] | None:
        """Give a connection back. Costs no round trip when it is idle and healthy.

        Returns a task when cleanup needs I/O (a rollback); callers that may be cancelled
        shield it. A broken connection (statement in flight, closed, too old) is discarded.
        """
        if conn not in self._in_use:
            return None
        raw = conn.raw
        if conn.busy or self._closed or not raw.is_alive() or self._expired(conn):
            self._discard(conn)
            return None
        if raw.in_transaction():
            task = asyncio.get_running_loop().create_task(self._rollback_and_release(conn))
            self._background.add(task)
            task.add_done_callback(self._background.discard)
            return task
        self._put_back(conn)
        return None

    async def close(self) -> None:
        """Close idle connections now and in-use ones when they are released."""
        self._closed = True
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_exception(InterfaceError("the database was disconnected"))
        self._waiters.clear()
        idle = list(self._idle)
        self._idle.clear()
        # Concurrently: each graceful close may wait for its peer (up to 5 s when the network
        # black-holes), and that must not add up connection by connection.
        await asyncio.gather(*(conn.raw.close() for conn in idle), return_exceptions=True)
        for conn in list(self._in_use):
            self._discard(conn)
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)

    # -- internals -------------------------------------------------------------------------------

    def _acquired(self, conn: PooledConnection, start: float) -> PooledConnection:
        if self.on_acquire is not None:
            self.on_acquire(time.monotonic() - start)
        return conn

    def _take_idle(self) -> PooledConnection | None:
        if not self._idle:
            return None
        conn = self._idle.pop()  # most recently used: warm, and lets the oldest age out
        conn.reused = True
        self._in_use.add(conn)
        return conn

    async def _usable(self, conn: PooledConnection, deadline: float) -> bool:
        """Check a just-taken idle connection; discard it (and return False) if broken."""
        raw = conn.raw
        if not raw.is_alive() or self._expired(conn):
            self._discard(conn)
            return False
        now = time.monotonic()
        if now - conn.idle_since > self.check_idle_after:
            wait = max(min(deadline - now, CHECK_TIMEOUT), 0.001)
            try:
                async with asyncio.timeout(wait):
                    await raw.ping()
            except (DatabaseError, TimeoutError):
                self._discard(conn)
                return False
            except BaseException:
                self._discard(conn)
                raise
        return True

    def _expired(self, conn: PooledConnection) -> bool:
        return (
            self.max_lifetime is not None and time.monotonic() - conn.created_at > self.max_lifetime
        )

    async def _open_new(self, deadline: float | None = None) -> PooledConnection:
        self._opening += 1
        try:
            if deadline is None:
                raw = await self.backend.connect()
            else:
                remaining = deadline - time.monotonic()
                try:
                    async with asyncio.timeout(max(remaining, 0.001)):
                        raw = await self.backend.connect()
                except TimeoutError:
                    raise PoolTimeout(
                        f"could not open a connection to {self.backend.describe()} within "
                        f"acquire_timeout={self.acquire_timeout}s"
                    ) from None
        except BaseException:
            self._opening -= 1
            self._wake_one()  # capacity is free again for somebody waiting
            raise
        self._opening -= 1
        conn = PooledConnection(raw)
        self._in_use.add(conn)
        return conn

    async def _wait(self, deadline: float) -> PooledConnection | None:
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[PooledConnection | None] = loop.create_future()
        self._waiters.append(waiter)
        remaining = deadline - time.monotonic()
        handle = loop.call_later(max(remaining, 0), self._expire_waiter, waiter)
        try:
            return await waiter
        except BaseException:
            # Cancelled (or timed out) after a connection was handed over: give it back.
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                conn = waiter.result()
                if conn is not None:
                    self.release(conn)
                else:
                    self._wake_one()
            raise
        finally:
            handle.cancel()

    def _expire_waiter(self, waiter: asyncio.Future[PooledConnection | None]) -> None:
        if not waiter.done():
            waiter.set_exception(
                PoolTimeout(
                    f"no connection to {self.backend.describe()} became available within "
                    f"acquire_timeout={self.acquire_timeout}s (max_size={self.max_size}, "
                    f"in use={len(self._in_use)})"
                )
            )

    def _put_back(self, conn: PooledConnection) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                conn.reused = True
                waiter.set_result(conn)  # stays in _in_use: handed straight over
                return
        self._in_use.discard(conn)
        now = time.monotonic()
        conn.idle_since = now
        idle = self._idle
        idle.append(conn)
        max_idle = self.max_idle
        if max_idle is not None and now - idle[0].idle_since > max_idle:
            self._reap_idle(now)

    def _reap_idle(self, now: float) -> None:
        """Close connections idle longer than ``max_idle``, keeping ``min_size``."""
        if self.max_idle is None:
            return
        while (
            self._idle
            and self.size > self.min_size
            and now - self._idle[0].idle_since > self.max_idle
        ):
            self._close_in_background(self._idle.popleft())

    def _discard(self, conn: PooledConnection) -> None:
        self._in_use.discard(conn)
        try:
            conn.raw.terminate()
        except Exception:  # already broken: nothing more to release
            logger.debug("error terminating a discarded connection", exc_info=True)
        self._wake_one()

    def _wake_one(self) -> None:
        """Capacity was freed: let one waiter try to open a connection."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def _close_in_background(self, conn: PooledConnection) -> None:
        task = asyncio.get_running_loop().create_task(conn.raw.close())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _rollback_and_release(self, conn: PooledConnection) -> None:
        try:
            conn.busy = True
            async with asyncio.timeout(CHECK_TIMEOUT):
                await conn.raw.rollback()
            conn.busy = False
        except BaseException:
            # Nobody awaits this task's outcome: the connection is simply not reused.
            logger.debug("rollback on release failed; discarding the connection", exc_info=True)
            self._discard(conn)
            return
        if self._closed:
            self._discard(conn)
        else:
            self._put_back(conn)
