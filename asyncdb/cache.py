"""``BoundedCache``: the one cache type of asyncdb and the orm.

Every cache of compiled statements, generated code and row classes is one of these: a dict
with a size bound. A hit is a plain ``dict.get`` (no bookkeeping: caches are read on the
per-query path, where an LRU's move-to-front would cost more than it saves); a store that
would go past the bound first drops the oldest entry (first in, first out). Caches hold only
values that can be rebuilt, so an entry dropped while a caller still uses it stays valid for
that caller and is simply built again by the next one that needs it.

Every cache is known by name (``"orm.statements"``, ``"asyncdb.row_classes"``...), so tests
can empty a layer's caches at once with :func:`clear_caches`.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["BoundedCache", "clear_caches"]

_K = TypeVar("_K")
_V = TypeVar("_V")

_ALL: weakref.WeakSet[BoundedCache[object, object]] = weakref.WeakSet()


class BoundedCache(Generic[_K, _V]):
    """A mapping of at most ``maxsize`` entries, the oldest dropped first.

    ``cache.get(key)`` gives the value or None; ``cache.put(key, value)`` stores and returns
    ``value``. Only an event loop's own code touches a cache between two awaits, so no lock
    is needed; threads sharing one cannot corrupt it either (each step is one dict
    operation), at worst they build one value twice.
    """

    __slots__ = ("__weakref__", "_data", "get", "maxsize", "name")

    def __init__(self, name: str, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError(f"a cache needs room for at least one entry, got maxsize={maxsize}")
        self.name = name
        self.maxsize = maxsize
        self._data: dict[_K, _V] = {}
        #: The value for a key, or None: ``dict.get`` itself, with no Python call around it.
        self.get: Callable[[_K], _V | None] = self._data.get
        _ALL.add(self)  # type: ignore[arg-type]

    def put(self, key: _K, value: _V) -> _V:
        """Store ``value`` under ``key`` (dropping the oldest entries if full); return it."""
        data = self._data
        if key not in data:
            while len(data) >= self.maxsize:
                try:
                    del data[next(iter(data))]
                except (KeyError, RuntimeError, StopIteration):  # another thread got there
                    continue
        data[key] = value
        return value

    def clear(self) -> None:
        self._data.clear()

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __repr__(self) -> str:
        return f"<BoundedCache {self.name} {len(self._data)}/{self.maxsize}>"


def clear_caches(prefix: str = "") -> None:
    """Empty every cache whose name starts with ``prefix`` (all of them by default).

    For tests: what a cache holds is rebuilt when next needed, so clearing never changes a
    result, only what the next queries cost.
    """
    for cache in list(_ALL):
        if cache.name.startswith(prefix):
            cache.clear()
