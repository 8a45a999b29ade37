"""Single-row write and reload statements, built once per table and column set.

Building a Core statement costs far more than running it (``insert(t).values(...)`` and its
cache key: ~80 µs, against a ~50 µs round trip). These are built once with bind parameters
(named ``orm_w_<attname>``, so they never clash with the columns' own bind names) and reused:
asyncdb finds a statement object it has compiled before without recomputing its cache key, so
a call only binds its values. They are kept in the model's ``_meta.statements``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

if TYPE_CHECKING:
    from orm.options import Options

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


def insert(meta: Options, names: tuple[str, ...], returning: str | None) -> sa.Insert:
    """``INSERT INTO table (names) VALUES (...)``, returning the column ``returning``."""
    key = ("insert", names, returning)
    statement: sa.Insert | None = meta.statements.get(key)
    if statement is None:
        table = meta.table
        statement = sa.insert(table).values({name: _bind(table, name) for name in names})
        if returning is not None:
            statement = statement.returning(table.c[returning])
        meta.statements.put(key, statement)
    return statement


def update_by_key(meta: Options, names: tuple[str, ...], key: str) -> sa.Update:
    """``UPDATE table SET names... WHERE key = ...``."""
    cache_key = ("update_by_key", names, key)
    statement: sa.Update | None = meta.statements.get(cache_key)
    if statement is None:
        table = meta.table
        statement = meta.statements.put(
            cache_key,
            sa.update(table)
            .where(by_key(table, key))
            .values({name: _bind(table, name) for name in names}),
        )
    return statement


def delete_by_key(meta: Options, key: str) -> sa.Delete:
    cache_key = ("delete_by_key", key)
    statement: sa.Delete | None = meta.statements.get(cache_key)
    if statement is None:
        table = meta.table
        statement = meta.statements.put(cache_key, sa.delete(table).where(by_key(table, key)))
    return statement


def select_by_key(meta: Options, names: tuple[str, ...], key: str) -> sa.Select[Any]:
    """The columns ``names`` of the row whose ``key`` is given (``names`` empty: ``1``)."""
    cache_key = ("select_by_key", names, key)
    statement: sa.Select[Any] | None = meta.statements.get(cache_key)
    if statement is None:
        table = meta.table
        columns: list[sa.ColumnElement[Any]] = [table.c[name] for name in names]
        statement = meta.statements.put(
            cache_key,
            sa.select(*(columns or [sa.literal(1)])).select_from(table).where(by_key(table, key)),
        )
    return statement
