"""MySQL and MariaDB through aiomysql.

Connections run in autocommit mode outside transactions (no implicit BEGIN per statement), in
strict SQL mode, with UTC as the session time zone, and report rows *matched* (not changed) so
``rowcount`` means the same as on the other backends.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Sequence
from typing import Any

import aiomysql
import pymysql
from pymysql.constants import CLIENT
from sqlalchemy.dialects.mysql.aiomysql import MySQLDialect_aiomysql

from ..compiler import QueryCompiler
from ..errors import (
    DatabaseError,
    DataError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    ProgrammingError,
    QueryTimeout,
)
from .base import SQL_ISOLATION_LEVELS, Backend, Features, RawConnection
from .options import parse_ssl

__all__ = ["MySQLBackend", "create_backend"]

FEATURES = Features(
    backend="mysql",
    supports_returning=False,  # set from the server version on connect (MariaDB >= 10.5)
    supports_for_update=True,
    isolation_levels=SQL_ISOLATION_LEVELS,
    supports_readonly=True,
    transactional_ddl=False,
    streams_inside_transaction=False,
    max_bind_params=65535,
    native_timezones=False,
    notes=("autocommit outside transactions", "strict sql_mode", "time_zone '+00:00'"),
)

_SQL_MODE = (
    "STRICT_ALL_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,"
    "NO_ENGINE_SUBSTITUTION"
)
_INIT = f"SET SESSION sql_mode = '{_SQL_MODE}', time_zone = '+00:00'"
# Errors meaning the connection is gone: server gone away, lost during query, killed, ...
_LOST = {2006, 2013, 2055, 1927, 4031, 1053, 1077, 1078, 1079, 1080}
_CANNOT_CONNECT = {2002, 2003, 2005}
# ... of which these mean the statement never ran: killed session, write to a closed socket.
_UNSENT = {1927, 2006, 4031}
_TIMEOUT = {1969, 3024, 1317}
_TRANSIENT = {1205, 1213, 1040, 1203}
# A CHECK constraint violated: MySQL 8 (3819) and MariaDB (4025) report it outside the
# driver's IntegrityError codes.
_CHECK_FAILED = {3819, 4025}


class _Cursor(aiomysql.Cursor):  # type: ignore[misc]
    async def _show_warnings(self, conn: Any) -> None:
        # aiomysql turns server warnings into Python warnings with an extra SHOW WARNINGS round
        # trip per statement that has any; strict sql_mode already makes real problems errors.
        return None


class _SSCursor(aiomysql.SSCursor):  # type: ignore[misc]
    async def _show_warnings(self, conn: Any) -> None:
        return None


class MySQLConnection(RawConnection):
    __slots__ = ("_cursor", "backend", "raw")

    def __init__(self, backend: MySQLBackend, raw: aiomysql.Connection) -> None:
        self.backend = backend
        self.raw = raw
        self._cursor = _Cursor(raw)

    async def fetch(
        self, sql: str, args: Sequence[Any], limit: int | None = None
    ) -> tuple[list[Any], tuple[str, ...] | None]:
        cur = self._cursor
        try:
            await cur.execute(sql, tuple(args))
            rows = await cur.fetchall() if limit is None else await cur.fetchmany(limit)
        except Exception as exc:
            raise self.backend.translate(exc) from exc
        description = cur.description
        return list(rows), (tuple(d[0] for d in description) if description else None)

    async def execute(self, sql: str, args: Sequence[Any]) -> tuple[int, int | None]:
        cur = self._cursor
        try:
            await cur.execute(sql, tuple(args))
        except Exception as exc:
            raise self.backend.translate(exc) from exc
        return cur.rowcount, (cur.lastrowid or None)

    async def execute_many(self, sql: str, args_list: Sequence[Sequence[Any]]) -> int:
        cur = self._cursor
        try:
            await cur.executemany(sql, [tuple(a) for a in args_list])
        except Exception as exc:
            raise self.backend.translate(exc) from exc
        return int(cur.rowcount)

    async def stream(
        self, sql: str, args: Sequence[Any], chunk_size: int, *, in_transaction: bool
    ) -> AsyncIterator[tuple[list[Any], tuple[str, ...] | None]]:
        if in_transaction:
            # An unbuffered result blocks the connection until read to the end, which would stop
            # other statements of the transaction: inside one, the rows are fetched at once.
            rows, keys = await self.fetch(sql, args)
            for start in range(0, len(rows), chunk_size):
                yield rows[start : start + chunk_size], keys
            return
        cur = _SSCursor(self.raw)
        finished = False
        try:
            await cur.execute(sql, tuple(args))
            description = cur.description
            keys = tuple(d[0] for d in description) if description else None
            while True:
                chunk = await cur.fetchmany(chunk_size)
                if not chunk:
                    break
                yield list(chunk), keys
            finished = True
            await cur.close()
        except Exception as exc:
            raise self.backend.translate(exc) from exc
        finally:
            if not finished:
                # Unread rows would have to be drained first; closing is bounded in time.
                self.terminate()

    async def begin(self, isolation: str | None, readonly: bool) -> None:
        if isolation:
            await self.execute(f"SET TRANSACTION ISOLATION LEVEL {isolation.upper()}", ())
        await self.execute("START TRANSACTION READ ONLY" if readonly else "BEGIN", ())

    async def cancel(self) -> None:
        # KILL QUERY from a short-lived side connection: the pool may be exhausted.
        try:
            side = await aiomysql.connect(**self.backend._connect)
        except Exception as exc:
            raise self.backend.translate(exc, connecting=True) from exc
        try:
            async with side.cursor() as cur:
                await cur.execute(f"KILL QUERY {int(self.raw.thread_id())}")
        except Exception as exc:
            raise self.backend.translate(exc) from exc
        finally:
            side.close()

    def is_alive(self) -> bool:
        reader = self.raw._reader
        if self.raw._writer is None or reader is None:
            return False
        # An idle connection has nothing to read: buffered bytes or EOF mean the server spoke
        # (an error packet before closing, e.g. after KILL) or went away.
        return not reader.at_eof() and not reader._buffer

    def in_transaction(self) -> bool:
        return bool(self.raw.get_transaction_status())

    async def close(self) -> None:
        try:
            await self.raw.ensure_closed()
        except Exception:
            self.raw.close()

    def terminate(self) -> None:
        self.raw.close()


class MySQLBackend(Backend):
    name = "mysql"

    def __init__(
        self,
        *,
        host: str | None,
        port: int | None,
        user: str | None,
        password: str | None,
        database: str | None,
        options: dict[str, Any],
    ) -> None:
        self.features = FEATURES
        self.dialect = MySQLDialect_aiomysql(dbapi=MySQLDialect_aiomysql.import_dbapi())
        self.compiler = QueryCompiler(self.dialect, native_timezones=FEATURES.native_timezones)
        self._host = host or "localhost"
        self._port = port or 3306
        opts = dict(options)
        connect: dict[str, Any] = {
            "host": self._host,
            "port": self._port,
            "user": user or "root",
            "password": password or "",
            "db": database,
            "autocommit": True,
            "client_flag": CLIENT.FOUND_ROWS,
            "charset": opts.pop("charset", "utf8mb4"),
            "init_command": _INIT,
        }
        if "ssl" in opts:
            context = parse_ssl(opts.pop("ssl"), opts)
            if context not in (False, None, "allow", "prefer"):
                connect["ssl"] = context
        if "connect_timeout" in opts:
            connect["connect_timeout"] = float(opts.pop("connect_timeout"))
        opts.pop("sslrootcert", None)
        if opts:
            raise ValueError(
                f"unknown MySQL option(s): {', '.join(sorted(opts))}; supported: "
                "ssl, sslrootcert, charset, connect_timeout"
            )
        self._connect = connect

    def describe(self) -> str:
        return f"mysql at {self._host}:{self._port}"

    async def connect(self) -> RawConnection:
        try:
            raw = await aiomysql.connect(**self._connect)
        except Exception as exc:
            raise self.translate(exc, connecting=True) from exc
        if self.dialect.server_version_info is None:
            self._configure_dialect(raw.get_server_info())
        return MySQLConnection(self, raw)

    def _configure_dialect(self, version: str) -> None:
        # What SQLAlchemy's dialect.initialize() learns from a live connection, without one.
        d: Any = self.dialect
        # MariaDB's handshake announces "5.5.5-10.11.x-MariaDB" for old clients' sake.
        version = version.removeprefix("5.5.5-")
        info = d._parse_server_version(version)
        d.server_version_info = info
        d._connection_charset = self._connect["charset"]
        d._server_ansiquotes = False
        d._casing = 0
        d.supports_sequences = bool(d.is_mariadb and info >= (10, 3))
        d.supports_for_update_of = bool(d._is_mysql and info >= (8,))
        d.use_mysql_for_share = bool(d._is_mysql and info >= (8, 0, 1))
        d.delete_returning = bool(d.is_mariadb and info >= (10, 0, 5))
        d.insert_returning = bool(d.is_mariadb and info >= (10, 5))
        d._requires_alias_for_on_duplicate_key = bool(d._is_mysql and info >= (8, 0, 20))
        self.features = dataclasses.replace(FEATURES, supports_returning=d.insert_returning)

    def translate(self, exc: BaseException, *, connecting: bool = False) -> DatabaseError:
        if isinstance(exc, DatabaseError):
            return exc
        code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
        message = str(exc.args[1]) if len(exc.args) > 1 else (str(exc) or type(exc).__name__)
        scode = str(code) if code is not None else None
        if connecting and (code in _CANNOT_CONNECT or isinstance(exc, OSError | TimeoutError)):
            return OperationalError(
                f"cannot connect to MySQL at {self._host}:{self._port}: {message}",
                code=scode,
                connection_lost=True,
            )
        if code in _TIMEOUT:
            return QueryTimeout(message, code=scode)
        if code in _LOST or code in _CANNOT_CONNECT:
            return OperationalError(
                message, code=scode, connection_lost=True, retry_safe=code in _UNSENT
            )
        if isinstance(exc, pymysql.err.IntegrityError) or code in _CHECK_FAILED:
            return IntegrityError(message, code=scode)
        if isinstance(exc, pymysql.err.DataError):
            return DataError(message, code=scode)
        if isinstance(exc, pymysql.err.ProgrammingError):
            return ProgrammingError(message, code=scode)
        if isinstance(exc, pymysql.err.OperationalError):
            if code in _TRANSIENT or connecting:
                prefix = f"cannot connect to MySQL at {self._host}:{self._port}: "
                return OperationalError((prefix if connecting else "") + message, code=scode)
            # MySQL reports unknown columns/tables as OperationalError in places.
            if code in (1054, 1146, 1064, 1049, 1060, 1061, 1091):
                return ProgrammingError(message, code=scode)
            return OperationalError(message, code=scode)
        if isinstance(exc, pymysql.err.InterfaceError):
            return OperationalError(message, code=scode, connection_lost=True)
        if isinstance(exc, pymysql.err.InternalError | pymysql.err.NotSupportedError):
            return DatabaseError(message, code=scode)
        if isinstance(exc, pymysql.err.Error):
            return DatabaseError(message, code=scode)
        if isinstance(exc, OSError | ConnectionError | EOFError):
            return OperationalError(str(exc) or type(exc).__name__, connection_lost=True)
        if isinstance(exc, RuntimeError) and "closed" in str(exc).lower():
            return OperationalError(str(exc), connection_lost=True)
        if isinstance(exc, ValueError | TypeError | OverflowError):
            return DataError(f"{type(exc).__name__}: {exc}")
        if isinstance(exc, AttributeError) and self._looks_closed(exc):
            return OperationalError("connection is closed", connection_lost=True)
        return InterfaceError(f"{type(exc).__name__}: {exc}")

    @staticmethod
    def _looks_closed(exc: AttributeError) -> bool:
        # aiomysql raises AttributeError on a connection whose streams were torn down.
        return "NoneType" in str(exc)


def create_backend(**kwargs: Any) -> MySQLBackend:
    return MySQLBackend(**kwargs)
