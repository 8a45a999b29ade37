"""SQLite through aiosqlite, pooled like the servers.

Every operation is one hop to the connection's thread (statement and fetch together), not one
per cursor step. File databases use WAL and a busy timeout, so concurrent writers wait instead of
failing, and transactions start with ``BEGIN IMMEDIATE`` so two of them never deadlock upgrading
a read lock. ``sqlite:///:memory:`` is one database shared by the whole ``Database``: it lives in
a private temporary file (deleted at ``disconnect()``), which gives the pooled connections the
same concurrency rules as a file database.
"""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import tempfile
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import SQLiteDialect_aiosqlite

from ..compiler import QueryCompiler
from ..errors import (
    DatabaseError,
    DataError,
    IntegrityError,
    InterfaceError,
    NotSupportedError,
    OperationalError,
    ProgrammingError,
    QueryTimeout,
)
from .base import Backend, Features, RawConnection

__all__ = ["SQLiteBackend", "create_backend"]

FEATURES = Features(
    backend="sqlite",
    supports_returning=sqlite3.sqlite_version_info >= (3, 35),
    supports_for_update=False,
    isolation_levels=frozenset({"serializable"}),
    supports_readonly=True,
    transactional_ddl=True,
    streams_inside_transaction=True,
    max_bind_params=32766 if sqlite3.sqlite_version_info >= (3, 32) else 999,
    native_timezones=False,
    notes=("foreign_keys=ON", "journal_mode=WAL", "busy_timeout"),
)
_PROGRAMMING_HINTS = ("syntax error", "no such", "has no column", "already exists", "ambiguous")


class SQLiteConnection(RawConnection):
    __slots__ = ("_closed", "_readonly", "backend", "raw")

    def __init__(self, backend: SQLiteBackend, raw: aiosqlite.Connection) -> None:
        self.backend = backend
        self.raw = raw
        self._closed = False
        self._readonly = False

    async def _run(self, fn: Any, *args: Any) -> Any:
        try:
            return await self.raw._execute(fn, *args)
        except Exception as exc:
            raise self.backend.translate(exc) from exc

    async def fetch(
        self, sql: str, args: Sequence[Any], limit: int | None = None
    ) -> tuple[list[Any], tuple[str, ...] | None]:
        conn = self.raw._conn

        def run() -> tuple[list[Any], tuple[str, ...] | None]:
            cur = conn.execute(sql, args)
            try:
                rows = cur.fetchall() if limit is None else cur.fetchmany(limit)
                description = cur.description
            finally:
                cur.close()
            return rows, (tuple(d[0] for d in description) if description else None)

        result: tuple[list[Any], tuple[str, ...] | None] = await self._run(run)
        return result

    async def execute(self, sql: str, args: Sequence[Any]) -> tuple[int, int | None]:
        conn = self.raw._conn

        def run() -> tuple[int, int | None]:
            cur = conn.execute(sql, args)
            try:
                return cur.rowcount, cur.lastrowid
            finally:
                cur.close()

        result: tuple[int, int | None] = await self._run(run)
        return result

    async def execute_many(self, sql: str, args_list: Sequence[Sequence[Any]]) -> int:
        conn = self.raw._conn

        def run() -> int:
            cur = conn.executemany(sql, args_list)
            try:
                return int(cur.rowcount)
            finally:
                cur.close()

        result: int = await self._run(run)
        return result

    async def stream(
        self, sql: str, args: Sequence[Any], chunk_size: int, *, in_transaction: bool
    ) -> AsyncIterator[tuple[list[Any], tuple[str, ...] | None]]:
        conn = self.raw._conn
        cur: sqlite3.Cursor = await self._run(conn.execute, sql, args)
        try:
            description = cur.description
            keys = tuple(d[0] for d in description) if description else None
            while True:
                rows = await self._run(cur.fetchmany, chunk_size)
                if not rows:
                    break
                yield rows, keys
                if len(rows) < chunk_size:
                    break
        finally:
            if self.is_alive():
                await self._run(cur.close)

    async def begin(self, isolation: str | None, readonly: bool) -> None:
        if isolation and isolation.lower() != "serializable":
            raise NotSupportedError(
                f"SQLite transactions are always serializable; isolation={isolation!r} is not "
                "supported (see Database.features.isolation_levels)"
            )
        if readonly:
            await self.execute("PRAGMA query_only = ON", ())
            self._readonly = True
            await self.execute("BEGIN", ())
        else:
            await self.execute("BEGIN IMMEDIATE", ())

    async def _end(self, sql: str) -> None:
        try:
            await self.execute(sql, ())
        finally:
            if self._readonly:
                self._readonly = False
                await self.execute("PRAGMA query_only = OFF", ())

    async def commit(self) -> None:
        await self._end("COMMIT")

    async def rollback(self) -> None:
        await self._end("ROLLBACK")

    async def cancel(self) -> None:
        # sqlite3's interrupt() is the one call that is safe from another thread.
        if self.is_alive():
            self.raw._conn.interrupt()

    def is_alive(self) -> bool:
        return not self._closed and self.raw._connection is not None

    def in_transaction(self) -> bool:
        return self.is_alive() and bool(self.raw._conn.in_transaction)

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            try:
                await self.raw.close()
            except Exception:  # already broken: nothing more to release
                return

    def terminate(self) -> None:
        # aiosqlite has no synchronous close; stop using it and let its thread end the close.
        if not self._closed:
            self._closed = True
            self.raw.stop()


class SQLiteBackend(Backend):
    name = "sqlite"
    features = FEATURES

    def __init__(self, *, database: str | None, options: dict[str, Any], **_: Any) -> None:
        self.dialect = SQLiteDialect_aiosqlite(dbapi=SQLiteDialect_aiosqlite.import_dbapi())
        self.compiler = QueryCompiler(self.dialect, native_timezones=FEATURES.native_timezones)
        opts = dict(options)
        self._timeout = float(opts.pop("busy_timeout", 30.0))
        self._memory = database in (None, "", ":memory:")
        if opts:
            raise ValueError(
                f"unknown SQLite option(s): {', '.join(sorted(opts))}; supported: busy_timeout"
            )
        self._path = database or ":memory:"
        self._tmpdir: str | None = None

    @property
    def path(self) -> str:
        """The file this database lives in (for ``:memory:``, the private temporary file)."""
        return self._path

    def describe(self) -> str:
        return "sqlite in memory" if self._memory else f"sqlite file {self._path}"

    async def prepare(self) -> None:
        if self._memory and self._tmpdir is None:
            self._tmpdir = tempfile.mkdtemp(prefix="asyncdb-memory-")
            self._path = str(Path(self._tmpdir) / "memory.db")

    async def dispose(self) -> None:
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None
            self._path = ":memory:"

    async def connect(self) -> RawConnection:
        raw = aiosqlite.connect(
            self._path, isolation_level=None, check_same_thread=False, timeout=self._timeout
        )
        try:
            await raw
        except Exception as exc:
            # aiosqlite stops its worker thread on a failed open without waiting for it; wait
            # here, or the thread may report to an event loop that has closed meanwhile.
            await asyncio.to_thread(raw._thread.join, 5)
            raise OperationalError(f"cannot open {self.describe()}: {exc}") from exc
        conn = SQLiteConnection(self, raw)
        try:
            await conn.execute(f"PRAGMA busy_timeout = {int(self._timeout * 1000)}", ())
            await conn.execute("PRAGMA foreign_keys = ON", ())
            await conn.fetch("PRAGMA journal_mode = WAL", ())
            sync = "OFF" if self._memory else "NORMAL"
            await conn.execute(f"PRAGMA synchronous = {sync}", ())
        except BaseException:
            await conn.close()
            raise
        return conn

    def translate(self, exc: BaseException, *, connecting: bool = False) -> DatabaseError:
        if isinstance(exc, DatabaseError):
            return exc
        message = str(exc) or type(exc).__name__
        name = getattr(exc, "sqlite_errorname", None)
        if isinstance(exc, sqlite3.IntegrityError):
            return IntegrityError(message, code=name)
        if isinstance(exc, sqlite3.OperationalError):
            if message == "interrupted":
                return QueryTimeout(message, code=name)
            if any(hint in message for hint in _PROGRAMMING_HINTS):
                return ProgrammingError(message, code=name)
            return OperationalError(message, code=name)
        if isinstance(exc, sqlite3.ProgrammingError):
            if "closed" in message:
                return OperationalError(message, code=name, connection_lost=True)
            return ProgrammingError(message, code=name)
        if isinstance(exc, sqlite3.InterfaceError):
            return DataError(message, code=name)
        if isinstance(exc, sqlite3.DataError):
            return DataError(message, code=name)
        if isinstance(exc, sqlite3.Error):
            return DatabaseError(message, code=name)
        if isinstance(exc, ValueError) and "closed" in message.lower():
            return OperationalError(message, connection_lost=True)
        if isinstance(exc, ValueError | TypeError | OverflowError):
            return DataError(f"{type(exc).__name__}: {message}")
        return InterfaceError(f"{type(exc).__name__}: {message}")


def create_backend(**kwargs: Any) -> SQLiteBackend:
    return SQLiteBackend(**kwargs)
