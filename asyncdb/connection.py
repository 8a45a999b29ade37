"""``db.connection()``: one connection pinned to a task tree for a block."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

from .errors import InterfaceError
from .pinning import Holder, Layer
from .result import Result
from .row import Row

if TYPE_CHECKING:
    from sqlalchemy.sql.elements import ClauseElement

    from .database import Database
    from .transaction import Transaction

__all__ = ["Connection"]


class Connection:
    """``async with db.connection() as conn:`` pins one connection to this task tree.

    Inside an open block (or transaction) it reuses that connection. ``conn.raw_connection`` is
    the driver's own connection object; the ``fetch_*``/``execute`` methods run on it.
    """

    def __init__(self, database: Database) -> None:
        self._db = database
        self._layer: Layer | None = None
        self._owned = False
        self._token: Any = None

    @property
    def raw_connection(self) -> Any:
        if self._layer is None or self._layer.closed:
            raise InterfaceError("the connection block is not open")
        return self._layer.holder.conn.raw.raw

    async def __aenter__(self) -> Connection:
        if self._layer is not None:
            raise InterfaceError("this connection block was already entered; create a new one")
        db = self._db
        current = db._current_layer()
        if current is not None:
            self._layer = current
            return self
        conn = await db._pool_acquire()
        holder = Holder(conn)
        layer = Layer(holder, None)
        holder.active = layer
        self._layer = layer
        self._owned = True
        self._token = db._layer_var.set(layer)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        layer = self._layer
        if layer is None or not self._owned:
            return
        layer.closed = True
        layer.holder.set_active(None)
        try:
            self._db._layer_var.reset(self._token)
        except ValueError:
            self._db._layer_var.set(None)
        self._db._pool_release(layer.holder.conn)

    def transaction(self, *, isolation: str | None = None, readonly: bool = False) -> Transaction:
        return self._db.transaction(isolation=isolation, readonly=readonly)

    async def fetch_all(
        self, query: str | ClauseElement, values: Mapping[str, Any] | None = None
    ) -> list[Row]:
        return await self._db.fetch_all(query, values)

    async def fetch_records(
        self, query: str | ClauseElement, values: Mapping[str, Any] | None = None
    ) -> list[Sequence[Any]]:
        return await self._db.fetch_records(query, values)

    async def fetch_one(
        self, query: str | ClauseElement, values: Mapping[str, Any] | None = None
    ) -> Row | None:
        return await self._db.fetch_one(query, values)

    async def fetch_val(
        self,
        query: str | ClauseElement,
        values: Mapping[str, Any] | None = None,
        column: int | str = 0,
    ) -> Any:
        return await self._db.fetch_val(query, values, column)

    async def execute(
        self, query: str | ClauseElement, values: Mapping[str, Any] | None = None
    ) -> Result:
        return await self._db.execute(query, values)

    async def execute_many(
        self, query: str | ClauseElement, values: Sequence[Mapping[str, Any]]
    ) -> None:
        await self._db.execute_many(query, values)

    def iterate(
        self,
        query: str | ClauseElement,
        values: Mapping[str, Any] | None = None,
        *,
        chunk_size: int = 500,
    ) -> AsyncIterator[Row]:
        return self._db.iterate(query, values, chunk_size=chunk_size)
