"""asyncdb: async database access for PostgreSQL (asyncpg), MySQL/MariaDB (aiomysql) and SQLite
(aiosqlite), on SQLAlchemy Core, with connections released eagerly outside transactions."""

from __future__ import annotations

from .backends.base import Features
from .connection import Connection
from .database import Database
from .errors import (
    DatabaseError,
    DataError,
    IntegrityError,
    InterfaceError,
    NotSupportedError,
    OperationalError,
    ParameterError,
    PoolTimeout,
    ProgrammingError,
    QueryTimeout,
)
from .hooks import CapturedQueries, Hook, StatementInfo
from .pool import PoolStats
from .result import Result
from .routing import RoutedDatabase
from .row import Row
from .transaction import Transaction
from .url import DatabaseURL

__all__ = [
    "CapturedQueries",
    "Connection",
    "DataError",
    "Database",
    "DatabaseError",
    "DatabaseURL",
    "Features",
    "Hook",
    "IntegrityError",
    "InterfaceError",
    "NotSupportedError",
    "OperationalError",
    "ParameterError",
    "PoolStats",
    "PoolTimeout",
    "ProgrammingError",
    "QueryTimeout",
    "Result",
    "RoutedDatabase",
    "Row",
    "StatementInfo",
    "Transaction",
]
