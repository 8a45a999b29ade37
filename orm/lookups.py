"""Field lookups (``title__icontains=...``): each turns a column and a value into a condition.

The same SQL shape is used on every backend, so results match:

* ``iexact``/``icontains``/``istartswith``/``iendswith`` apply ``lower()`` to both sides. On
  SQLite ``lower()`` folds ASCII letters only; PostgreSQL and MySQL fold all of Unicode.
* ``contains``/``startswith``/``endswith`` are case-sensitive everywhere (string columns use a
  binary collation on MySQL; SQLite compares bytes, see ``TextMatch``), and ``%``, ``_`` and
  ``/`` in the value match literally: they are escaped and the LIKE names ``/`` as its ESCAPE
  character.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal
from sqlalchemy.types import TypeDecorator

from orm.exceptions import FieldError

__all__ = [
    "LIKE_LOOKUPS",
    "LOOKUPS",
    "TEXT_LOOKUPS",
    "LikePattern",
    "TextMatch",
    "bind_type",
    "check_value",
    "escape_like",
    "expression_condition",
    "lookup_condition",
    "lookup_params",
]

ESCAPE = "/"

Builder = Callable[[ColumnElement[Any], Any], ColumnElement[bool]]


def escape_like(value: str) -> str:
    """Escape LIKE wildcards so ``value`` matches literally with ``ESCAPE '/'``."""
    return value.replace(ESCAPE, ESCAPE * 2).replace("%", ESCAPE + "%").replace("_", ESCAPE + "_")


class TextMatch(ColumnElement[bool]):
    """``contains``/``startswith``/``endswith`` and their case-insensitive forms.

    PostgreSQL and MySQL: ``column LIKE pattern ESCAPE '/'`` (``lower()`` on both sides to fold
    case; string columns use a binary collation on MySQL, so LIKE is case-sensitive there).
    SQLite: its LIKE ignores ASCII case and both LIKE and GLOB stop reading a pattern at a NUL
    character (a filter for ``"\\x00"`` would match every row), so there the match is made
    on the bytes: ``instr``/``substr`` over ``CAST(... AS BLOB)``. ``value`` is bound with a
    ``LikePattern`` type, which builds the LIKE pattern, or leaves the text as is for SQLite.
    """

    __visit_name__ = "text_match"
    inherit_cache = True
    type = sa.Boolean()
    _traverse_internals = [
        ("column", InternalTraversal.dp_clauseelement),
        ("value", InternalTraversal.dp_clauseelement),
        ("fold", InternalTraversal.dp_boolean),
    ]

    def __init__(self, column: ColumnElement[Any], value: ColumnElement[Any], fold: bool) -> None:
        self.column = column
        self.value = value
        self.fold = fold


class LikePattern(TypeDecorator[str]):
    """Binds raw text as a LIKE pattern (``template`` like ``"%{}%"``); as is on SQLite."""

    impl = sa.String
    cache_ok = True

    def __init__(self, template: str) -> None:
        super().__init__()
        self.template = template

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None or dialect.name == "sqlite":
            return value
        return self.template.format(escape_like(value))


@compiles(TextMatch)
def _compile_like(element: TextMatch, compiler: Any, **kw: Any) -> str:
    column, value = element.column, element.value
    if element.fold:
        column, value = sa.func.lower(column), sa.func.lower(value)
    return compiler.process(column.like(value, escape=ESCAPE), **kw)  # type: ignore[no-any-return]


@compiles(TextMatch, "sqlite")
def _compile_bytes(element: TextMatch, compiler: Any, **kw: Any) -> str:
    column, value = element.column, element.value
    if element.fold:
        column, value = sa.func.lower(column), sa.func.lower(value)
    text = sa.cast(column, sa.LargeBinary)
    part = sa.cast(value, sa.LargeBinary)
    template = cast(LikePattern, element.value.type).template
    condition: ColumnElement[bool]

    def substr(*args: Any) -> Any:
        # substr() of an empty BLOB is NULL in SQLite (of an empty string: ''): without the
        # coalesce an empty text would make the lookup unknown, and exclude() would drop it
        return sa.func.coalesce(sa.func.substr(text, *args), text)

    if template == "%{}%":
        condition = sa.func.instr(text, part) > 0
    elif template == "{}%":
        condition = substr(1, sa.func.length(part)) == part
    else:  # "%{}": substr(x, -0) would be the whole text, so an empty suffix is its own case
        condition = sa.or_(sa.func.length(part) == 0, substr(-sa.func.length(part)) == part)
    # Parenthesised: SQLAlchemy negates this element as "<element> = 0", and the OR above
    # would otherwise bind looser than that "= 0" (exclude(b__endswith="") kept every row).
    return "(" + str(compiler.process(condition, **kw)) + ")"


#: LIKE lookups: (pattern with {} for the escaped value, case-insensitive?)
LIKE_LOOKUPS: dict[str, tuple[str, bool]] = {
    "contains": ("%{}%", False),
    "icontains": ("%{}%", True),
    "startswith": ("{}%", False),
    "istartswith": ("{}%", True),
    "endswith": ("%{}", False),
    "iendswith": ("%{}", True),
}

_COMPARISONS: dict[str, Callable[[Any, Any], Any]] = {
    "exact": operator.eq,
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
}

LOOKUPS = frozenset(
    ["exact", "iexact", *LIKE_LOOKUPS, "in", "gt", "gte", "lt", "lte", "isnull", "range"]
)

#: Lookups whose value is text matched inside the column.
TEXT_LOOKUPS = frozenset({"iexact", *LIKE_LOOKUPS})


def lookup_params(lookup: str, value: Any) -> tuple[Any, ...]:
    """The values to bind for a checked lookup value, in the order ``lookup_condition`` uses."""
    if lookup in ("exact", "iexact"):
        return () if value is None else (value,)
    if lookup == "isnull":
        return ()
    if lookup == "range":
        return tuple(value)
    return (value,)  # LIKE lookups: LikePattern builds the pattern


def bind_type(lookup: str, column: ColumnElement[Any]) -> Any:
    """The SQL type of the lookup's parameters (the column's, so its conversions apply)."""
    like = LIKE_LOOKUPS.get(lookup)
    if like is not None:
        return LikePattern(like[0])
    return sa.String() if lookup in TEXT_LOOKUPS else column.type


def lookup_condition(
    lookup: str, column: ColumnElement[Any], value: Any, binds: list[Any]
) -> ColumnElement[bool]:
    """The condition for ``lookup`` given the checked ``value`` and its bound parameters."""
    if lookup == "isnull":
        return column.is_(None) if value else column.is_not(None)
    if value is None and lookup in ("exact", "iexact"):
        return column.is_(None)
    if lookup == "iexact":
        return sa.func.lower(column) == sa.func.lower(binds[0])
    like = LIKE_LOOKUPS.get(lookup)
    if like is not None:
        return TextMatch(column, binds[0], fold=like[1])
    if lookup == "in":
        return column.in_(binds[0])
    if lookup == "range":
        return column.between(binds[0], binds[1])
    condition: ColumnElement[bool] = _COMPARISONS[lookup](column, binds[0])
    return condition


def expression_condition(
    lookup: str, column: ColumnElement[Any], expression: ColumnElement[Any], label: str
) -> ColumnElement[bool]:
    """Compare ``column`` with another SQL expression (an ``F()``)."""
    if lookup == "iexact":
        return sa.func.lower(column) == sa.func.lower(expression)
    comparison = _COMPARISONS.get(lookup)
    if comparison is None:
        raise FieldError(f"{label}__{lookup} does not take an F() expression")
    condition: ColumnElement[bool] = comparison(column, expression)
    return condition


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
