"""PostgreSQL through asyncpg."""

from __future__ import annotations

import asyncio
import json
import ssl as ssl_module
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from decimal import Decimal
from functools import partial
from itertools import count
from typing import Any

import asyncpg
import sqlalchemy as sa
from asyncpg import connect_utils
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg

from ..compiler import Processor, QueryCompiler
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
from .options import parse_bool, parse_ssl

__all__ = ["PostgresBackend", "create_backend"]

FEATURES = Features(
    backend="postgresql",
    supports_returning=True,
    supports_for_update=True,
    isolation_levels=SQL_ISOLATION_LEVELS,
    supports_readonly=True,
    transactional_ddl=True,
    streams_inside_transaction=True,
    max_bind_params=32767,
    native_timezones=True,
    notes=("json/jsonb codecs registered per connection",),
)

_LOST_CLASSES = ("08", "57P")
_cursor_ids = count(1)


def _json_encode(value: Any) -> str:
    # SQLAlchemy's JSON type hands over text already; a raw query may pass Python objects.
    return value if isinstance(value, str) else json.dumps(value)


class PostgresConnection(RawConnection):
    __slots__ = ("backend", "raw")

    def __init__(self, backend: PostgresBackend, raw: asyncpg.Connection) -> None:
        self.backend = backend
        self.raw = raw

    async def fetch(
        self, sql: str, args: Sequence[Any], limit: int | None = None
    ) -> tuple[list[Any], tuple[str, ...] | None]:
        try:
            if limit == 1:
                row = await self.raw.fetchrow(sql, *args)
                rows = [] if row is None else [row]
            else:
                rows = await self.raw.fetch(sql, *args)
        except Exception as exc:
            raise self.backend.translate(exc) from exc
        return rows, (tuple(rows[0].keys()) if rows else None)

    async def execute(self, sql: str, args: Sequence[Any]) -> tuple[int, int | None]:
        try:
            status = await self.raw.execute(sql, *args)
        except Exception as exc:
            raise self.backend.translate(exc) from exc
        last = status.rpartition(" ")[2]
        return (int(last) if last.isdigit() else -1), None

    async def execute_many(self, sql: str, args_list: Sequence[Sequence[Any]]) -> int:
        try:
            await self.raw.executemany(sql, args_list)
        except Exception as exc:
            raise self.backend.translate(exc) from exc
        return -1

    async def stream(
        self, sql: str, args: Sequence[Any], chunk_size: int, *, in_transaction: bool
    ) -> AsyncIterator[tuple[list[Any], tuple[str, ...] | None]]:
        # asyncpg cursors need a transaction; outside one this connection is dedicated to the
        # iteration, so a short transaction of its own is invisible to everybody else.
        own = not self.raw.is_in_transaction()
        try:
            if own:
                await self.raw.execute("BEGIN")
            fetch: Callable[[], Awaitable[list[Any]]]
            if self.backend.pgbouncer:
                # An asyncpg cursor prepares a *named* statement that outlives the transaction
                # and is closed lazily, on whatever server connection PgBouncer assigns next:
                # another client could meet it there ("already exists"). A SQL cursor lives
                # and dies inside this transaction, on this server connection.
                name = f"asyncdb_cursor_{next(_cursor_ids)}"
                await self.raw.execute(f"DECLARE {name} NO SCROLL CURSOR FOR {sql}", *args)
                fetch = partial(self.raw.fetch, f"FETCH FORWARD {chunk_size} FROM {name}")
            else:
                cursor = await self.raw.cursor(sql, *args)
                fetch = partial(cursor.fetch, chunk_size)
            keys: tuple[str, ...] | None = None
            while True:
                rows = await fetch()
                if not rows:
                    break
                if keys is None:
                    keys = tuple(rows[0].keys())
                yield rows, keys
                if len(rows) < chunk_size:
                    break
            if own:
                own = False
                await self.raw.execute("COMMIT")
        except Exception as exc:
            raise self.backend.translate(exc) from exc
        finally:
            if own and not self.raw.is_closed() and self.raw.is_in_transaction():
                await self.raw.execute("ROLLBACK")

    async def begin(self, isolation: str | None, readonly: bool) -> None:
        sql = "BEGIN"
        if isolation:
            sql += f" ISOLATION LEVEL {isolation.upper()}"
        if readonly:
            sql += " READ ONLY"
        await self.execute(sql, ())

    async def cancel(self) -> None:
        if self.backend.pgbouncer:
            # PgBouncer gives clients its own process ids, so pg_cancel_backend() cannot name
            # the server process; a protocol CancelRequest sent to PgBouncer is forwarded to
            # the server connection running this client's statement (asyncpg's own helper).
            raw = self.raw
            try:
                await connect_utils._cancel(
                    loop=asyncio.get_running_loop(),
                    addr=raw._addr,
                    params=raw._params,
                    backend_pid=raw._protocol.backend_pid,
                    backend_secret=raw._protocol.backend_secret,
                )
            except ConnectionResetError:
                pass  # some servers reset the cancel connection: the request was received
            except Exception as exc:
                raise self.backend.translate(exc, connecting=True) from exc
            return
        # pg_cancel_backend from a short-lived side connection: the pool may be exhausted.
        try:
            side = await asyncpg.connect(**self.backend._connect)
        except Exception as exc:
            raise self.backend.translate(exc, connecting=True) from exc
        try:
            await side.execute("SELECT pg_cancel_backend($1)", self.raw.get_server_pid())
        except Exception as exc:
            raise self.backend.translate(exc) from exc
        finally:
            side.terminate()

    def is_alive(self) -> bool:
        return not self.raw.is_closed()

    def in_transaction(self) -> bool:
        return bool(self.raw.is_in_transaction())

    async def close(self) -> None:
        try:
            await self.raw.close(timeout=5)
        except Exception:
            self.raw.terminate()

    def terminate(self) -> None:
        self.raw.terminate()


class PostgresBackend(Backend):
    name = "postgresql"
    features = FEATURES

    def __init__(
        self,
        *,
        host: str | None,
        port: int | None,
        user: str | None,
        password: str | None,
        database: str | None,
        options: dict[str, Any],
        hosts: tuple[tuple[str, int | None], ...] = (),
    ) -> None:
        self.dialect = PGDialect_asyncpg(dbapi=PGDialect_asyncpg.import_dbapi())  # type: ignore[no-untyped-call]
        self.compiler = QueryCompiler(
            self.dialect,
            native_timezones=FEATURES.native_timezones,
            result_hook=self._result_processor,
        )
        self._host = host or "localhost"
        self._port = port or 5432
        connect: dict[str, Any] = {
            "host": [h for h, _ in hosts] if len(hosts) > 1 else self._host,
            "port": [p or 5432 for _, p in hosts] if len(hosts) > 1 else self._port,
            "user": user,
            "password": password,
            "database": database,
        }
        opts = dict(options)
        if "ssl" in opts or "sslmode" in opts:
            connect["ssl"] = parse_ssl(opts.pop("ssl", None) or opts.pop("sslmode", None), opts)
        if "statement_cache_size" in opts:
            connect["statement_cache_size"] = int(opts.pop("statement_cache_size"))
        #: Behind PgBouncer in transaction mode: no named prepared statements, SQL cursors for
        #: iterate(), cancellation through PgBouncer.
        self.pgbouncer = parse_bool(opts.pop("pgbouncer", False), "pgbouncer")
        if self.pgbouncer:
            connect["statement_cache_size"] = 0
        if "connect_timeout" in opts:
            connect["timeout"] = float(opts.pop("connect_timeout"))
        if "target_session_attrs" in opts:
            # With several hosts: connect to the first one that is writable (read-write),
            # a standby (read-only, standby), ... — asyncpg implements libpq's rules.
            connect["target_session_attrs"] = str(opts.pop("target_session_attrs"))
        settings = {}
        if "application_name" in opts:
            settings["application_name"] = str(opts.pop("application_name"))
        if settings:
            connect["server_settings"] = settings
        opts.pop("sslrootcert", None)
        if opts:
            raise ValueError(
                f"unknown PostgreSQL option(s): {', '.join(sorted(opts))}; supported: "
                "ssl, sslmode, sslrootcert, statement_cache_size, pgbouncer, connect_timeout, "
                "application_name, target_session_attrs"
            )
        self._connect = connect

    def describe(self) -> str:
        hosts = self._connect["host"]
        if isinstance(hosts, list):
            ports = self._connect["port"]
            return "postgresql at " + ",".join(
                f"{h}:{p}" for h, p in zip(hosts, ports, strict=True)
            )
        return f"postgresql at {self._host}:{self._port}"

    def _result_processor(self, type_: sa.types.TypeEngine[Any]) -> Processor | None:
        try:
            proc: Processor | None = type_._cached_result_processor(self.dialect, None)
        except TypeError:
            # asyncpg's numeric processors need the column's type OID; asyncpg returns Decimal
            # for NUMERIC and float for FLOAT, so only a mismatch with asdecimal needs work.
            if isinstance(type_, sa.Numeric):
                natively_decimal = not isinstance(type_, sa.Float)
                if type_.asdecimal and not natively_decimal:
                    return lambda v: None if v is None else Decimal(repr(v))
                if not type_.asdecimal and natively_decimal:
                    return lambda v: None if v is None else float(v)
            return None
        return proc

    async def connect(self) -> RawConnection:
        try:
            raw = await asyncpg.connect(**self._connect)
        except Exception as exc:
            raise self.translate(exc, connecting=True) from exc
        try:
            for name in ("json", "jsonb"):
                await raw.set_type_codec(
                    name, encoder=_json_encode, decoder=json.loads, schema="pg_catalog"
                )
        except Exception as exc:
            raw.terminate()
            raise self.translate(exc) from exc
        if self.dialect.server_version_info is None:
            v = raw.get_server_version()
            self.dialect.server_version_info = (v.major, v.minor)
        return PostgresConnection(self, raw)

    def translate(self, exc: BaseException, *, connecting: bool = False) -> DatabaseError:
        message = str(exc) or type(exc).__name__
        if isinstance(exc, DatabaseError):
            return exc
        if connecting and isinstance(exc, OSError | TimeoutError):
            return OperationalError(
                f"cannot connect to {self.describe()}: {message}",
                connection_lost=True,
            )
        if isinstance(exc, asyncpg.exceptions.ConnectionDoesNotExistError):
            # Closed because the server ended the session (terminate/shutdown): a statement that
            # was running then was aborted with its transaction, so running it again is safe.
            cause = exc.__cause__ or exc.__context__
            code = getattr(cause, "sqlstate", None)
            safe = code in ("57P01", "57P02", "57P03") or "administrator command" in message
            return OperationalError(message, code=code, connection_lost=True, retry_safe=safe)
        if isinstance(exc, asyncpg.PostgresError):
            code = getattr(exc, "sqlstate", None) or ""
            if code.startswith("23"):
                return IntegrityError(message, code=code)
            if code == "57014":
                return QueryTimeout(message, code=code)
            if code.startswith(_LOST_CLASSES) or code.startswith("28") or code == "3D000":
                lost = not code.startswith(("28", "3D"))
                # The server ended the session (terminate, shutdown) before reading our statement.
                safe = code in ("57P01", "57P02", "57P03")
                prefix = f"cannot connect to {self.describe()}: " if connecting else ""
                return OperationalError(
                    prefix + message, code=code, connection_lost=lost, retry_safe=safe
                )
            if code.startswith("22"):
                return DataError(message, code=code)
            if code.startswith(("42", "0A")):
                return ProgrammingError(message, code=code)
            if code.startswith(("53", "54", "55", "40")):
                return OperationalError(message, code=code)
            return DatabaseError(message, code=code)
        if connecting and not isinstance(exc, asyncpg.PostgresError):
            # e.g. no host matched target_session_attrs, a TLS handshake failure
            return OperationalError(f"cannot connect to {self.describe()}: {message}")
        if isinstance(exc, asyncpg.exceptions.InternalClientError) and "in progress" in message:
            # The server spoke unprompted on an idle connection (e.g. FATAL 57P01 after
            # pg_terminate_backend): asyncpg refuses to send, so nothing reached the server.
            return OperationalError(message, connection_lost=True, retry_safe=True)
        if isinstance(exc, asyncpg.InterfaceError):
            if "connection is closed" in message:
                # asyncpg refused to send: nothing reached the server.
                return OperationalError(message, connection_lost=True, retry_safe=True)
            if "closed" in message or "connection was lost" in message:
                return OperationalError(message, connection_lost=True)
            if isinstance(exc, asyncpg.exceptions.DataError):
                return DataError(message)
            return InterfaceError(message)
        if isinstance(exc, OSError | ConnectionError):
            return OperationalError(message, connection_lost=True)
        if isinstance(exc, ssl_module.SSLError):
            return OperationalError(message)
        if isinstance(exc, ValueError | TypeError | OverflowError):
            return DataError(f"{type(exc).__name__}: {message}")
        return DatabaseError(message)


def create_backend(**kwargs: Any) -> PostgresBackend:
    return PostgresBackend(**kwargs)
