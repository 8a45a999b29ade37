"""Transactions: an explicit state machine over a pinned connection.

``new ──start()──► started ──commit()──► committed``
``                     └────rollback()──► rolled back``   (``failed`` when COMMIT itself fails)

The outermost transaction of a task tree takes a connection from the pool and pins it; a nested
one is a SAVEPOINT on the same connection. Illegal moves (commit twice, rollback after commit)
raise ``InterfaceError`` saying what to do instead.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from contextvars import Token
from types import TracebackType
from typing import TYPE_CHECKING, ParamSpec, TypeVar

from .errors import DatabaseError, InterfaceError, NotSupportedError
from .pinning import Holder, Layer

if TYPE_CHECKING:
    from .database import Database

__all__ = ["Transaction"]

logger = logging.getLogger("asyncdb")
P = ParamSpec("P")
R = TypeVar("R")

NEW, STARTED, COMMITTED, ROLLED_BACK, FAILED = (
    "new",
    "started",
    "committed",
    "rolled back",
    "failed",
)


class Transaction:
    """``async with db.transaction():``, ``@db.transaction()``, or ``start()``/``commit()``."""

    def __init__(
        self, database: Database, *, isolation: str | None = None, readonly: bool = False
    ) -> None:
        self._db = database
        self._isolation = isolation.lower().replace("_", " ") if isolation else None
        self._readonly = readonly
        self._state = NEW
        self._layer: Layer | None = None
        #: The SQLite write turn this transaction holds until it ends (``Database._write_gate``).
        self._gate: asyncio.Lock | None = None
        self._token: Token[Layer | None] | None = None

    @property
    def state(self) -> str:
        return self._state

    @property
    def is_active(self) -> bool:
        return self._state == STARTED

    def __repr__(self) -> str:
        return f"<Transaction {self._state}>"

    # -- forms of use ----------------------------------------------------------------------------

    async def __aenter__(self) -> Transaction:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._state != STARTED:
            return  # committed or rolled back explicitly inside the block
        if exc_type is None:
            await self.commit()
            return
        try:
            await self.rollback()
        except DatabaseError:
            # The block's own exception is what the caller needs to see.
            logger.debug("rollback after an error failed", exc_info=True)

    def __call__(self, func: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
        """Use as a decorator: each call of ``func`` runs in a new transaction."""

        @functools.wraps(func)
        async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            async with Transaction(self._db, isolation=self._isolation, readonly=self._readonly):
                return await func(*args, **kwargs)

        return wrapper

    # -- state machine ---------------------------------------------------------------------------

    async def start(self) -> Transaction:
        if self._state != NEW:
            raise InterfaceError(
                f"this transaction was already started ({self._state}); create a new one with "
                "db.transaction()"
            )
        db = self._db
        features = db.features
        if self._isolation and self._isolation not in features.isolation_levels:
            raise NotSupportedError(
                f"isolation={self._isolation!r} is not supported by {features.backend}; "
                f"choose one of: {', '.join(sorted(features.isolation_levels))}"
            )
        parent = db._current_layer()
        if parent is None:
            gate = None if self._readonly else await db._write_turn()
            try:
                conn = await db._pool_acquire()
            except BaseException:
                if gate is not None:
                    gate.release()
                raise
            holder = Holder(conn)
            layer = Layer(holder, None)
            holder.active = layer
            holder.busy = True
            try:
                await db._run_on(conn, conn.raw.begin(self._isolation, self._readonly), "BEGIN")
            except BaseException:
                holder.busy = False
                layer.closed = True
                db._pool_release(conn)
                if gate is not None:
                    gate.release()
                raise
            holder.busy = False
            self._gate = gate
        else:
            # Inside a transaction: a savepoint. Inside a bare connection() block: a real BEGIN
            # on the pinned connection.
            holder = parent.holder
            await holder.enter(parent)
            try:
                conn = holder.conn
                if conn.raw.in_transaction():
                    if self._isolation or self._readonly:
                        raise InterfaceError(
                            "isolation and readonly apply to the outermost transaction only; "
                            "this one is nested (a savepoint)"
                        )
                    name = holder.next_savepoint()
                    await db._run_on(conn, conn.raw.savepoint(name), "SAVEPOINT")
                    layer = Layer(holder, parent, savepoint=name)
                else:
                    gate = None if self._readonly else await db._write_turn()
                    try:
                        begin = conn.raw.begin(self._isolation, self._readonly)
                        await db._run_on(conn, begin, "BEGIN")
                    except BaseException:
                        if gate is not None:
                            gate.release()
                        raise
                    self._gate = gate
                    layer = Layer(holder, parent)
                holder.active = layer
            finally:
                holder.leave()
        self._layer = layer
        self._token = db._layer_var.set(layer)
        self._state = STARTED
        return self

    def _require_started(self, action: str) -> Layer:
        if self._state != STARTED or self._layer is None:
            raise InterfaceError(f"cannot {action}: the transaction is {self._state}")
        layer = self._layer
        if layer.holder.active is not layer and not layer.holder.broken:
            raise InterfaceError(
                f"cannot {action}: a transaction nested inside this one is still open; "
                "finish the inner block (or await the task that runs it) first"
            )
        return layer

    async def commit(self) -> None:
        layer = self._require_started("commit")
        holder = layer.holder
        raw = holder.conn.raw
        await holder.enter(layer)
        try:
            if layer.savepoint is None:
                await self._db._run_on(holder.conn, raw.commit(), "COMMIT")
            else:
                await self._db._run_on(
                    holder.conn, raw.release_savepoint(layer.savepoint), "RELEASE SAVEPOINT"
                )
        except BaseException:
            self._state = FAILED
            self._end(layer, ok=False)
            raise
        self._state = COMMITTED
        self._end(layer, ok=True)

    async def rollback(self) -> None:
        layer = self._require_started("roll back")
        holder = layer.holder
        raw = holder.conn.raw
        try:
            if not holder.broken:
                await holder.enter(layer)
                if layer.savepoint is None:
                    await self._db._run_on(holder.conn, raw.rollback(), "ROLLBACK")
                else:
                    name = layer.savepoint
                    await self._db._run_on(
                        holder.conn, raw.rollback_to_savepoint(name), "ROLLBACK TO SAVEPOINT"
                    )
                    await self._db._run_on(
                        holder.conn, raw.release_savepoint(name), "RELEASE SAVEPOINT"
                    )
        finally:
            self._state = ROLLED_BACK
            self._end(layer, ok=False)

    def _end(self, layer: Layer, *, ok: bool) -> None:
        """Close the layer, restore the task's pin, and release the slot/connection (and the
        SQLite write turn)."""
        holder = layer.holder
        layer.closed = True
        gate, self._gate = self._gate, None
        if gate is not None:
            gate.release()
        if holder.busy and holder.active is layer:
            holder.leave()
        holder.set_active(layer.parent)
        if self._token is not None:
            try:
                self._db._layer_var.reset(self._token)
            except ValueError:  # ended from another context than the one that started it
                self._db._layer_var.set(layer.parent)
            self._token = None
        if layer.parent is None:
            self._db._pool_release(holder.conn)
