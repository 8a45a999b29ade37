"""Instrumentation: the statement hook, DEBUG logging and query capture for tests.

A hook is a callable that receives a ``StatementInfo`` before the statement runs and returns
a context manager (or ``None``) entered around it — the shape of a tracing span::

    @contextlib.contextmanager
    def trace(info):
        with tracer.start_as_current_span(info.operation):
            yield
        metrics.record(info.duration)   # filled in after the statement

    db.add_hook(trace)

Parameter values are given to hooks but are never logged by asyncdb itself.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CapturedQueries", "Hook", "StatementInfo"]


@dataclass(slots=True)
class StatementInfo:
    """One statement, as seen by hooks. ``duration``/``rowcount``/``error`` are set after it."""

    sql: str
    parameters: tuple[Any, ...]
    operation: str
    backend: str
    duration: float | None = None
    rowcount: int | None = None
    error: BaseException | None = None


Hook = Callable[[StatementInfo], AbstractContextManager[Any] | None]
"""A statement hook: called with the ``StatementInfo`` before the statement runs; the context
manager it returns (or ``None``) is entered around the statement (``Database.add_hook``)."""


@dataclass(eq=False)
class CapturedQueries:
    """The SQL of every statement run inside a ``capture_queries()`` block (this task and the
    tasks it starts), in order. ``len(captured)`` is the number of statements."""

    database_id: int
    statements: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.statements)

    def __iter__(self) -> Any:
        return iter(self.statements)


#: The capture blocks open in this context (innermost last).
captures: ContextVar[tuple[CapturedQueries, ...]] = ContextVar("asyncdb_captures", default=())
