"""Backends: one module per driver behind the small interface in ``asyncdb.backends.base``.

Drivers are imported lazily: a backend module is imported only when a URL of its scheme is used,
so a SQLite-only user never imports asyncpg.
"""

from __future__ import annotations

import importlib
from typing import Any

from .base import Backend, Features, RawConnection

__all__ = ["Backend", "Features", "RawConnection", "load_backend"]

_MODULES = {"postgresql": "postgres", "mysql": "mysql", "sqlite": "sqlite"}


def load_backend(name: str, **options: Any) -> Backend:
    """Import the backend for ``name`` (a ``DatabaseURL.backend``) and create it."""
    module = importlib.import_module(f"{__name__}.{_MODULES[name]}")
    backend: Backend = module.create_backend(**options)
    return backend
