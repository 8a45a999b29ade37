"""Connections pinned to a task tree by ``transaction()`` and ``connection()`` blocks.

A block pins one pooled connection to the current task through a ``contextvars`` variable, so
child tasks created inside it (``gather``, ``create_task``, ``TaskGroup``) inherit the pin and
run on the same connection, inside the same transaction. Each block is a *layer*: a nested
transaction is a child layer (a SAVEPOINT). Use of the connection is serialised:

* one statement at a time (``busy``);
* a statement may run only from the innermost open layer (``active``): while a child task has
  a savepoint open, its siblings wait until it is released, so their statements can never land
  inside somebody else's savepoint;
* a statement from a layer that has ended fails loudly, never silently outside the transaction.
"""

from __future__ import annotations

import asyncio
from collections import deque

from .errors import InterfaceError, OperationalError
from .pool import PooledConnection

__all__ = ["Holder", "Layer"]


class Layer:
    """One open ``transaction()``/``connection()`` block on a pinned connection."""

    __slots__ = ("closed", "holder", "parent", "savepoint")

    def __init__(self, holder: Holder, parent: Layer | None, savepoint: str | None = None) -> None:
        self.holder = holder
        self.parent = parent
        self.savepoint = savepoint
        self.closed = False


class Holder:
    """The pinned connection shared by the layers stacked on it."""

    __slots__ = ("_savepoints", "_waiters", "active", "broken", "busy", "conn")

    def __init__(self, conn: PooledConnection) -> None:
        self.conn = conn
        self.active: Layer | None = None
        self.busy = False
        #: Set when a statement was cancelled mid-flight: the connection's state is unknown,
        #: so the transaction on it is lost and the connection will be discarded.
        self.broken = False
        self._waiters: deque[tuple[Layer, asyncio.Future[None]]] = deque()
        self._savepoints = 0

    def next_savepoint(self) -> str:
        self._savepoints += 1
        return f"asyncdb_sp_{self._savepoints}"

    def check(self, layer: Layer) -> None:
        if layer.closed:
            raise InterfaceError(
                "this task uses a transaction() or connection() block that has already ended; "
                "a task started inside a block must finish before the block ends (await it, "
                "or use a TaskGroup inside the block)"
            )
        if self.broken:
            raise OperationalError(
                "the connection of this transaction was lost (a statement was cancelled while "
                "running); the transaction was rolled back",
                connection_lost=True,
            )

    def try_enter(self, layer: Layer) -> bool:
        """Take the statement slot at once if it is free for ``layer`` (no await)."""
        if not self.busy and self.active is layer and not layer.closed and not self.broken:
            self.busy = True
            return True
        return False

    async def enter(self, layer: Layer) -> None:
        """Wait until ``layer`` may run a statement, then take the slot."""
        while True:
            self.check(layer)
            if self.try_enter(layer):
                return
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append((layer, waiter))
            try:
                await waiter
            except BaseException:
                if waiter.done() and not waiter.cancelled():
                    self._wake()  # we were handed the turn but will not use it: pass it on
                raise

    def leave(self) -> None:
        """Give the statement slot back."""
        self.busy = False
        if self.conn.busy:
            self.broken = True
        self._wake()

    def set_active(self, layer: Layer | None) -> None:
        self.active = layer
        self._wake()

    def _wake(self) -> None:
        """Wake the first waiter that may run now, and every waiter that must fail."""
        done = self.broken or self.active is None
        granted = self.busy
        kept: deque[tuple[Layer, asyncio.Future[None]]] = deque()
        for layer, waiter in self._waiters:
            if waiter.done():
                continue
            if done or layer.closed:
                waiter.set_result(None)  # it re-checks and raises
            elif not granted and layer is self.active:
                waiter.set_result(None)
                granted = True
            else:
                kept.append((layer, waiter))
        self._waiters = kept
