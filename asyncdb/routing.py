"""Read replicas: which server a read goes to, and ``db.using("primary" | "replica")``."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from .backends import Backend
from .pool import Pool
from .result import Result
from .row import Row
from .url import DatabaseURL

if TYPE_CHECKING:
    from sqlalchemy.sql.elements import ClauseElement

    from .database import Database
    from .transaction import Transaction

__all__ = ["NO_REPLICA", "REPLICA_RETRY", "Replica", "RoutedDatabase", "route"]

logger = logging.getLogger("asyncdb")
#: How long a replica that failed is left out before it is tried again (seconds).
REPLICA_RETRY = 5.0
#: Where reads go, when a RoutedDatabase (db.using(...)) asks: "primary" or "replica".
route: ContextVar[str | None] = ContextVar("asyncdb_route", default=None)
#: Returned when no replica could serve a read (the primary then does).
NO_REPLICA = object()


class Replica:
    """A read replica: its URL, backend and (once connected) pool."""

    __slots__ = ("backend", "down_until", "pool", "url")

    def __init__(self, url: DatabaseURL, backend: Backend) -> None:
        self.url = url
        self.backend = backend
        self.pool: Pool | None = None
        self.down_until = 0.0

    def mark_down(self, now: float) -> None:
        logger.warning("replica %s is unavailable; retrying it in %.0f s", self.url, REPLICA_RETRY)
        self.down_until = now + REPLICA_RETRY


class RoutedDatabase:
    """``db.using("primary")``: the same database with reads sent where asked."""

    def __init__(self, database: Database, target: str) -> None:
        self._db = database
        self._target = target

    async def fetch_all(
        self,
        query: str | ClauseElement,
        values: Mapping[str, Any] | None = None,
        *,
        timeout: float | None = None,
    ) -> list[Row]:
        token = route.set(self._target)
        try:
            return await self._db.fetch_all(query, values, timeout=timeout)
        finally:
            route.reset(token)

    async def fetch_records(
        self,
        query: str | ClauseElement,
        values: Mapping[str, Any] | None = None,
        *,
        timeout: float | None = None,
    ) -> list[Sequence[Any]]:
        token = route.set(self._target)
        try:
            return await self._db.fetch_records(query, values, timeout=timeout)
        finally:
            route.reset(token)

    async def fetch_one(
        self,
        query: str | ClauseElement,
        values: Mapping[str, Any] | None = None,
        *,
        timeout: float | None = None,
    ) -> Row | None:
        token = route.set(self._target)
        try:
            return await self._db.fetch_one(query, values, timeout=timeout)
        finally:
            route.reset(token)

    async def fetch_val(
        self,
        query: str | ClauseElement,
        values: Mapping[str, Any] | None = None,
        column: int | str = 0,
        *,
        timeout: float | None = None,
    ) -> Any:
        row = await self.fetch_one(query, values, timeout=timeout)
        return None if row is None else row[column]

    async def iterate(
        self,
        query: str | ClauseElement,
        values: Mapping[str, Any] | None = None,
        *,
        chunk_size: int = 500,
        timeout: float | None = None,
    ) -> AsyncIterator[Row]:
        token = route.set(self._target)
        try:
            rows = self._db.iterate(query, values, chunk_size=chunk_size, timeout=timeout)
            first = await anext(rows, None)  # the pool is chosen when iteration starts
        finally:
            route.reset(token)
        if first is None:
            return
        yield first
        async for row in rows:
            yield row

    async def execute(
        self,
        query: str | ClauseElement,
        values: Mapping[str, Any] | None = None,
        *,
        timeout: float | None = None,
    ) -> Result:
        return await self._db.execute(query, values, timeout=timeout)

    async def execute_many(
        self,
        query: str | ClauseElement,
        values: Sequence[Mapping[str, Any]],
        *,
        timeout: float | None = None,
    ) -> None:
        await self._db.execute_many(query, values, timeout=timeout)

    def transaction(self, *, isolation: str | None = None, readonly: bool = False) -> Transaction:
        return self._db.transaction(isolation=isolation, readonly=readonly)
