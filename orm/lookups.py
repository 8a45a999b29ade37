"""Field lookups (``title__icontains=...``): each turns a column and a value into a condition.

The same SQL shape is used on every backend, so results match:

* ``iexact``/``icontains``/``istartswith``/``iendswith`` apply ``lower()`` to both sides. On
  SQLite ``lower()`` folds ASCII letters only; PostgreSQL and MySQL fold all of Unicode.
* ``contains``/``startswith``/``endswith`` are case-sensitive everywhere (string columns use a
  binary collation on MySQL; SQLite uses GLOB), and ``%``, ``_`` and ``/`` in the value match
  literally: they are escaped and the LIKE names ``/`` as its ESCAPE character.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal

from orm.exceptions import FieldError

__all__ = [
    "LOOKUPS",
    "TEXT_LOOKUPS",
    "CaseSensitiveLike",
    "build_lookup",
    "check_value",
    "escape_like",
]

ESCAPE = "/"

Builder = Callable[[ColumnElement[Any], Any], ColumnElement[bool]]


def escape_like(value: str) -> str:
    """Escape LIKE wildcards so ``value`` matches literally with ``ESCAPE '/'``."""
    return value.replace(ESCAPE, ESCAPE * 2).replace("%", ESCAPE + "%").replace("_", ESCAPE + "_")


class CaseSensitiveLike(ColumnElement[bool]):
    """``column LIKE pattern ESCAPE '/'``, case-sensitive on every backend.

    SQLite's LIKE ignores ASCII case, so there it compiles to ``GLOB`` (always case-sensitive)
    with the GLOB-escaped pattern instead.
    """

    __visit_name__ = "case_sensitive_like"
    inherit_cache = True
    type = sa.Boolean()
    _traverse_internals = [
        ("column", InternalTraversal.dp_clauseelement),
        ("pattern", InternalTraversal.dp_clauseelement),
        ("glob", InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, column: ColumnElement[Any], like: str, glob: str) -> None:
        self.column = column
        self.pattern = sa.literal(like, sa.String())
        self.glob = sa.literal(glob, sa.String())


@compiles(CaseSensitiveLike)
def _compile_like(element: CaseSensitiveLike, compiler: Any, **kw: Any) -> str:
    return compiler.process(element.column.like(element.pattern, escape=ESCAPE), **kw)  # type: ignore[no-any-return]


@compiles(CaseSensitiveLike, "sqlite")
def _compile_glob(element: CaseSensitiveLike, compiler: Any, **kw: Any) -> str:
    return compiler.process(element.column.op("GLOB")(element.glob), **kw)  # type: ignore[no-any-return]


def _escape_glob(value: str) -> str:
    return "".join(f"[{c}]" if c in "*?[" else c for c in value)


def _like(pattern: str, *, insensitive: bool) -> Builder:
    def build(column: ColumnElement[Any], value: Any) -> ColumnElement[bool]:
        like = pattern.format(escape_like(value))
        if insensitive:
            bound = sa.literal(like, sa.String())
            return sa.func.lower(column).like(sa.func.lower(bound), escape=ESCAPE)
        glob = pattern.replace("%", "*").format(_escape_glob(value))
        return CaseSensitiveLike(column, like, glob)

    return build


def _exact(column: ColumnElement[Any], value: Any) -> ColumnElement[bool]:
    if value is None:
        return column.is_(None)
    condition: ColumnElement[bool] = column == value
    return condition


def _iexact(column: ColumnElement[Any], value: Any) -> ColumnElement[bool]:
    if value is None:
        return column.is_(None)
    return sa.func.lower(column) == sa.func.lower(sa.literal(value, sa.String()))


def _in(column: ColumnElement[Any], value: Any) -> ColumnElement[bool]:
    return column.in_(value)


def _isnull(column: ColumnElement[Any], value: Any) -> ColumnElement[bool]:
    return column.is_(None) if value else column.is_not(None)


def _range(column: ColumnElement[Any], value: Any) -> ColumnElement[bool]:
    low, high = value
    return column.between(low, high)


LOOKUPS: dict[str, Builder] = {
    "exact": _exact,
    "iexact": _iexact,
    "contains": _like("%{}%", insensitive=False),
    "icontains": _like("%{}%", insensitive=True),
    "startswith": _like("{}%", insensitive=False),
    "istartswith": _like("{}%", insensitive=True),
    "endswith": _like("%{}", insensitive=False),
    "iendswith": _like("%{}", insensitive=True),
    "in": _in,
    "gt": lambda column, value: column > value,
    "gte": lambda column, value: column >= value,
    "lt": lambda column, value: column < value,
    "lte": lambda column, value: column <= value,
    "isnull": _isnull,
    "range": _range,
}

#: Lookups whose value is text matched inside the column.
TEXT_LOOKUPS = frozenset(
    {"iexact", "contains", "icontains", "startswith", "istartswith", "endswith", "iendswith"}
)


def check_value(lookup: str, value: Any, convert: Callable[[Any], Any], label: str) -> Any:
    """Check the shape of ``value`` for ``lookup`` and convert its items with ``convert``.

    ``label`` names the field in messages (``Book.title``).
    """
    if lookup in TEXT_LOOKUPS:
        if lookup == "iexact" and value is None:
            return None
        if not isinstance(value, str):
            raise FieldError(f"{label}__{lookup} needs a str value, got {type(value).__name__}")
        return value
    if lookup == "isnull":
        if not isinstance(value, bool):
            raise FieldError(f"{label}__isnull needs True or False, got {value!r:.60}")
        return value
    if lookup == "in":
        if isinstance(value, str | bytes) or not isinstance(value, Iterable):
            raise FieldError(f"{label}__in needs a list, tuple or set of values")
        return [convert(item) for item in value]
    if lookup == "range":
        if isinstance(value, str | bytes) or not isinstance(value, Iterable):
            raise FieldError(f"{label}__range needs a (low, high) pair")
        pair = list(value)
        if len(pair) != 2:
            raise FieldError(f"{label}__range needs a (low, high) pair")
        return (convert(pair[0]), convert(pair[1]))
    if value is None and lookup != "exact":
        raise FieldError(f"{label}__{lookup} cannot compare with None; use {label}__isnull=True")
    return convert(value)


def build_lookup(lookup: str, column: ColumnElement[Any], value: Any) -> ColumnElement[bool]:
    return LOOKUPS[lookup](column, value)
