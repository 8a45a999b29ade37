"""SQLAlchemy column types that behave the same on PostgreSQL, MySQL/MariaDB and SQLite.

Only the cases where SQLAlchemy's generic type would round-trip a different value on some
backend get a type here; everything else uses SQLAlchemy's own types directly.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

__all__ = [
    "MARIADB_COLLATION",
    "MYSQL_CHARSET",
    "MYSQL_COLLATION",
    "BinaryString",
    "BinaryText",
    "UTCDateTime",
    "json_type",
    "string_type",
    "text_type",
    "time_type",
]

# MySQL's default collations compare case-insensitively and ignore trailing spaces; a binary
# NO PAD collation makes `exact`, `unique` and ordering behave as on PostgreSQL and SQLite.
MYSQL_CHARSET = "utf8mb4"
MARIADB_COLLATION = "utf8mb4_nopad_bin"
MYSQL_COLLATION = "utf8mb4_0900_bin"
_MYSQL = ("mysql", "mariadb")


def _collation(dialect: Dialect) -> str:
    return MARIADB_COLLATION if getattr(dialect, "is_mariadb", False) else MYSQL_COLLATION


class BinaryString(TypeDecorator[str]):
    """VARCHAR(length), compared code point by code point (spaces count) on every backend.

    ``load_dialect_impl`` of these text types returns the generic type itself, not
    ``dialect.type_descriptor(...)`` of it: the asyncpg dialect adapts ``Text`` to its VARCHAR
    string type, so DDL would say VARCHAR where TEXT is meant (and autogenerate would not see a
    ``String`` becoming a ``Text``). SQLAlchemy adapts the returned type for binding anyway.
    """

    impl = sa.String
    cache_ok = True

    def __init__(self, length: int) -> None:
        super().__init__(length)
        self.max_length = length

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name in _MYSQL:
            varchar = mysql.VARCHAR(
                self.max_length, charset=MYSQL_CHARSET, collation=_collation(dialect)
            )
            return varchar
        return sa.String(self.max_length)


class BinaryText(TypeDecorator[str]):
    """Unbounded text (LONGTEXT on MySQL, where TEXT stops at 64 KiB), compared like
    ``BinaryString``."""

    impl = sa.Text
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name in _MYSQL:
            return mysql.LONGTEXT(charset=MYSQL_CHARSET, collation=_collation(dialect))
        return sa.Text()


def string_type(length: int) -> TypeEngine[str]:
    return BinaryString(length)


def text_type() -> TypeEngine[str]:
    return BinaryText()


def json_type() -> TypeEngine[Any]:
    """JSON; JSONB on PostgreSQL so values compare and group. SQL NULL for ``None``."""
    return sa.JSON(none_as_null=True).with_variant(
        postgresql.JSONB(none_as_null=True), "postgresql"
    )


class UTCDateTime(TypeDecorator[dt.datetime]):
    """An aware datetime stored as UTC, given back aware (UTC) on every backend.

    PostgreSQL stores ``timestamptz``; MySQL (``DATETIME(6)``, microseconds kept) and SQLite
    store the naive UTC wall time, and the result is marked UTC again on the way out.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name in _MYSQL:
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(sa.DateTime(timezone=True))

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        value = value.astimezone(dt.UTC)
        if dialect.name != "postgresql":
            value = value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # a text query or an untyped SQLite expression
            value = dt.datetime.fromisoformat(value)
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)  # type: ignore[no-any-return]
        return value.astimezone(dt.UTC)  # type: ignore[no-any-return]


def time_type() -> TypeEngine[dt.time]:
    """TIME with microseconds on MySQL too."""
    return sa.Time().with_variant(mysql.TIME(fsp=6), *_MYSQL)
