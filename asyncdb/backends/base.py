"""The interface every backend implements, and the features flags that declare differences.

Backend differences live in ``Features``, never in ``if backend == ...`` chains elsewhere.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine.interfaces import Dialect

from ..compiler import QueryCompiler
from ..errors import DatabaseError

__all__ = ["SQL_ISOLATION_LEVELS", "Backend", "Features", "RawConnection"]


#: The four levels of the SQL standard, as PostgreSQL and MySQL accept them.
SQL_ISOLATION_LEVELS = frozenset(
    {"read uncommitted", "read committed", "repeatable read", "serializable"}
)


@dataclass(frozen=True, slots=True)
class Features:
    """What a backend can do. Code above the backends asks these flags, never the name."""

    #: "postgresql", "mysql" or "sqlite".
    backend: str
    #: ``INSERT ... RETURNING`` (and ``DELETE ... RETURNING``).
    supports_returning: bool
    #: ``SELECT ... FOR UPDATE`` locks rows (SQLite locks the whole database instead).
    supports_for_update: bool
    #: Isolation levels ``transaction(isolation=...)`` accepts.
    isolation_levels: frozenset[str]
    #: ``transaction(readonly=True)`` is enforced by the server.
    supports_readonly: bool
    #: DDL runs inside transactions and rolls back with them.
    transactional_ddl: bool
    #: ``iterate()`` streams with a server-side cursor inside a transaction too (otherwise rows
    #: of an iteration inside a transaction are fetched at once, as a buffered result).
    streams_inside_transaction: bool
    #: The most bound parameters one statement may carry.
    max_bind_params: int
    #: Time zones are stored natively (otherwise aware datetimes are stored as naive UTC).
    native_timezones: bool
    #: Statements asyncdb runs when a pooled connection is created (for documentation).
    notes: tuple[str, ...] = field(default=())


class RawConnection(abc.ABC):
    """One driver connection, with every driver error mapped to the asyncdb tree."""

    #: The driver's own connection object.
    raw: Any

    @abc.abstractmethod
    async def fetch(
        self, sql: str, args: Sequence[Any], limit: int | None = None
    ) -> tuple[list[Any], tuple[str, ...] | None]:
        """Run a statement; return its rows (sequences of values) and column names."""

    @abc.abstractmethod
    async def execute(self, sql: str, args: Sequence[Any]) -> tuple[int, int | None]:
        """Run a statement; return (rows matched, last inserted id or None)."""

    @abc.abstractmethod
    async def execute_many(self, sql: str, args_list: Sequence[Sequence[Any]]) -> int:
        """Run one statement for many sets of arguments in the driver's batched path."""

    @abc.abstractmethod
    def stream(
        self, sql: str, args: Sequence[Any], chunk_size: int, *, in_transaction: bool
    ) -> AsyncIterator[tuple[list[Any], tuple[str, ...] | None]]:
        """Yield chunks of rows with the column names, with bounded memory where possible."""

    @abc.abstractmethod
    async def begin(self, isolation: str | None, readonly: bool) -> None: ...

    async def commit(self) -> None:
        await self.execute("COMMIT", ())

    async def rollback(self) -> None:
        await self.execute("ROLLBACK", ())

    async def savepoint(self, name: str) -> None:
        await self.execute(f"SAVEPOINT {name}", ())

    async def release_savepoint(self, name: str) -> None:
        await self.execute(f"RELEASE SAVEPOINT {name}", ())

    async def rollback_to_savepoint(self, name: str) -> None:
        await self.execute(f"ROLLBACK TO SAVEPOINT {name}", ())

    @abc.abstractmethod
    def is_alive(self) -> bool:
        """Cheap local check (no round trip) that the connection has not been closed."""

    @abc.abstractmethod
    def in_transaction(self) -> bool:
        """Cheap local check (no round trip) for an open transaction."""

    @abc.abstractmethod
    async def cancel(self) -> None:
        """Ask the server to stop the statement running on this connection (from elsewhere)."""

    async def ping(self) -> None:
        await self.fetch("SELECT 1", ())

    @abc.abstractmethod
    async def close(self) -> None:
        """Close gracefully."""

    @abc.abstractmethod
    def terminate(self) -> None:
        """Close at once, without a round trip (used for broken connections)."""


class Backend(abc.ABC):
    """Creates connections for one URL and knows its dialect, features and error mapping."""

    name: str
    features: Features
    dialect: Dialect
    compiler: QueryCompiler

    @abc.abstractmethod
    async def connect(self) -> RawConnection:
        """Open one new connection (errors mapped to ``OperationalError``)."""

    async def prepare(self) -> None:  # noqa: B027 - optional hook
        """Run once when the database connects, before the first pooled connection."""

    async def dispose(self) -> None:  # noqa: B027 - optional hook
        """Run once after the last connection is closed."""

    @abc.abstractmethod
    def translate(self, exc: BaseException) -> DatabaseError:
        """Map a driver exception to the asyncdb tree (the one mapping point)."""

    def describe(self) -> str:
        """A password-free description of where this backend connects to."""
        return self.name
