"""Single-row write and reload statements, built once per table and column set.

Building a Core statement costs far more than running it (``insert(t).values(...)`` and its
cache key: ~80 µs, against a ~50 µs round trip). These are built once with bind parameters
(named ``orm_w_<attname>``, so they never clash with the columns' own bind names) and reused:
asyncdb finds a statement object it has compiled before without recomputing its cache key, so
a call only binds its values.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import sqlalchemy as sa

__all__ = [
    "by_key",
    "delete_by_key",
    "insert",
    "key_param",
    "params",
    "select_by_key",
    "update_by_key",
]

_PREFIX = "orm_w_"
_KEY = "orm_w__key"  # a double underscore: no attribute name makes it


def params(values: dict[str, Any]) -> dict[str, Any]:
    """The bind values of ``values`` ({attname: value}) for these statements."""
    return {_PREFIX + name: value for name, value in values.items()}


def key_param(value: Any) -> dict[str, Any]:
    return {_KEY: value}


def _bind(table: sa.Table, name: str) -> sa.BindParameter[Any]:
    return sa.bindparam(_PREFIX + name, type_=table.c[name].type)


def by_key(table: sa.Table, key: str) -> sa.ColumnElement[bool]:
    column = table.c[key]
    return column == sa.bindparam(_KEY, type_=column.type)


@lru_cache(maxsize=1024)
def insert(table: sa.Table, names: tuple[str, ...], returning: str | None) -> sa.Insert:
    """``INSERT INTO table (names) VALUES (...)``, returning the column ``returning``."""
    statement = sa.insert(table).values({name: _bind(table, name) for name in names})
    return statement.returning(table.c[returning]) if returning is not None else statement


@lru_cache(maxsize=1024)
def update_by_key(table: sa.Table, names: tuple[str, ...], key: str) -> sa.Update:
    """``UPDATE table SET names... WHERE key = ...``."""
    return (
        sa.update(table)
        .where(by_key(table, key))
        .values({name: _bind(table, name) for name in names})
    )


@lru_cache(maxsize=1024)
def delete_by_key(table: sa.Table, key: str) -> sa.Delete:
    return sa.delete(table).where(by_key(table, key))


@lru_cache(maxsize=1024)
def select_by_key(table: sa.Table, names: tuple[str, ...], key: str) -> sa.Select[Any]:
    """The columns ``names`` of the row whose ``key`` is given (``names`` empty: ``1``)."""
    columns: list[sa.ColumnElement[Any]] = [table.c[name] for name in names]
    return sa.select(*(columns or [sa.literal(1)])).select_from(table).where(by_key(table, key))
