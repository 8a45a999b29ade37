"""Query expressions: ``Q`` (conditions), ``F`` (column references), aggregates, ordering.

Expressions are inert descriptions; the query compiler resolves names against the model
(through a ``Resolver``) and turns them into SQLAlchemy clauses. Values always become bound
parameters.
"""

from __future__ import annotations

import decimal
import operator
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

if TYPE_CHECKING:
    from orm.fields import Field
    from orm.query.resolver import Resolver

__all__ = [
    "Aggregate",
    "Avg",
    "Count",
    "Expression",
    "F",
    "Max",
    "Min",
    "OrderBy",
    "Q",
    "Sum",
    "Value",
]


class Expression:
    """Something that resolves to a SQL expression; supports arithmetic and ordering."""

    contains_aggregate = False

    def resolve(self, resolver: Resolver) -> ColumnElement[Any]:
        raise NotImplementedError

    def output_field(self, resolver: Resolver) -> Field[Any] | None:
        """The field whose type the result has, when known."""
        return None

    def convert(self, value: Any, resolver: Resolver) -> Any:
        """Normalise a result value so every backend gives the same Python type."""
        return value

    def _combine(self, other: Any, op: Callable[[Any, Any], Any], reverse: bool) -> Combined:
        other = other if isinstance(other, Expression) else Value(other)
        return Combined(other, op, self) if reverse else Combined(self, op, other)

    def __add__(self, other: Any) -> Combined:
        return self._combine(other, operator.add, False)

    def __radd__(self, other: Any) -> Combined:
        return self._combine(other, operator.add, True)

    def __sub__(self, other: Any) -> Combined:
        return self._combine(other, operator.sub, False)

    def __rsub__(self, other: Any) -> Combined:
        return self._combine(other, operator.sub, True)

    def __mul__(self, other: Any) -> Combined:
        return self._combine(other, operator.mul, False)

    def __rmul__(self, other: Any) -> Combined:
        return self._combine(other, operator.mul, True)

    def __truediv__(self, other: Any) -> Combined:
        return self._combine(other, operator.truediv, False)

    def __rtruediv__(self, other: Any) -> Combined:
        return self._combine(other, operator.truediv, True)

    def __neg__(self) -> Combined:
        return Combined(Value(0), operator.sub, self)

    def asc(self) -> OrderBy:
        return OrderBy(self, descending=False)

    def desc(self) -> OrderBy:
        return OrderBy(self, descending=True)


class F(Expression):
    """A reference to a field (``F("views")``, across relations ``F("author__name")``)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def resolve(self, resolver: Resolver) -> ColumnElement[Any]:
        return resolver.column(self.name)[0]

    def output_field(self, resolver: Resolver) -> Field[Any] | None:
        field: Field[Any] | None = resolver.column(self.name)[1]
        return field

    def __repr__(self) -> str:
        return f"F({self.name!r})"


class Value(Expression):
    """A literal value, always sent as a bound parameter."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def resolve(self, resolver: Resolver) -> ColumnElement[Any]:
        return sa.literal(self.value)

    def __repr__(self) -> str:
        return f"Value({self.value!r})"


class Combined(Expression):
    """``lhs <op> rhs`` built from ``F`` arithmetic."""

    def __init__(self, lhs: Expression, op: Callable[[Any, Any], Any], rhs: Expression) -> None:
        self.lhs, self.op, self.rhs = lhs, op, rhs
        self.contains_aggregate = lhs.contains_aggregate or rhs.contains_aggregate

    def resolve(self, resolver: Resolver) -> ColumnElement[Any]:
        result: ColumnElement[Any] = self.op(self.lhs.resolve(resolver), self.rhs.resolve(resolver))
        return result

    def output_field(self, resolver: Resolver) -> Field[Any] | None:
        return self.lhs.output_field(resolver) or self.rhs.output_field(resolver)

    def __repr__(self) -> str:
        return f"({self.lhs!r} {self.op.__name__} {self.rhs!r})"


class OrderBy:
    """An ordering term: ``F("name").desc()``."""

    def __init__(self, expression: Expression, *, descending: bool) -> None:
        self.expression = expression
        self.descending = descending

    def reversed(self) -> OrderBy:
        return OrderBy(self.expression, descending=not self.descending)


class Aggregate(Expression):
    """Base of ``Count``, ``Sum``, ``Avg``, ``Min``, ``Max`` over a field name or expression."""

    contains_aggregate = True
    function: str = ""

    def __init__(self, expression: str | Expression, *, distinct: bool = False) -> None:
        self.expression = F(expression) if isinstance(expression, str) else expression
        self.distinct = distinct

    def resolve(self, resolver: Resolver) -> ColumnElement[Any]:
        argument = self.expression.resolve(resolver)
        if self.distinct:
            argument = argument.distinct()
        result: ColumnElement[Any] = getattr(sa.func, self.function)(argument)
        return result

    def output_field(self, resolver: Resolver) -> Field[Any] | None:
        return self.expression.output_field(resolver)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.expression!r})"


def _is_decimal(field: Field[Any] | None) -> bool:
    return field is not None and field.type_label == "Decimal"


class Count(Aggregate):
    """Number of non-null values (``Count("*")``/``Count()``: number of rows)."""

    function = "count"

    def __init__(self, expression: str | Expression = "*", *, distinct: bool = False) -> None:
        self.star = expression == "*"
        super().__init__("*" if self.star else expression, distinct=distinct)

    def resolve(self, resolver: Resolver) -> ColumnElement[Any]:
        if self.star:
            return sa.func.count()
        return super().resolve(resolver)

    def output_field(self, resolver: Resolver) -> Field[Any] | None:
        return None

    def convert(self, value: Any, resolver: Resolver) -> Any:
        return int(value or 0)


class Sum(Aggregate):
    """Sum; ``int`` for integer fields, ``Decimal`` for decimals, ``None`` over no rows."""

    function = "sum"

    def convert(self, value: Any, resolver: Resolver) -> Any:
        if value is None:
            return None
        field = self.output_field(resolver)
        if _is_decimal(field):
            return value if isinstance(value, decimal.Decimal) else decimal.Decimal(str(value))
        if field is not None and field.type_label == "int":
            return int(value)
        return float(value) if isinstance(value, decimal.Decimal) else value


class Avg(Aggregate):
    """Mean; ``Decimal`` for decimal fields, else ``float``; ``None`` over no rows."""

    function = "avg"

    def resolve(self, resolver: Resolver) -> ColumnElement[Any]:
        if _is_decimal(self.output_field(resolver)):
            return super().resolve(resolver)
        # Adding a float zero makes every backend average in floating point (MySQL would
        # otherwise round an integer average to 4 decimal places).
        argument = self.expression.resolve(resolver) + sa.literal_column("0E0")
        if self.distinct:
            argument = argument.distinct()
        result: ColumnElement[Any] = sa.func.avg(argument)
        return result

    def convert(self, value: Any, resolver: Resolver) -> Any:
        if value is None:
            return None
        if _is_decimal(self.output_field(resolver)):
            return value if isinstance(value, decimal.Decimal) else decimal.Decimal(str(value))
        return float(value)


class Min(Aggregate):
    """Smallest value, typed like the field."""

    function = "min"


class Max(Aggregate):
    """Largest value, typed like the field."""

    function = "max"


class Q:
    """A condition tree: ``Q(a=1) | Q(b=2)``, ``~Q(c=3)``, ``Q(Q(...) & Q(...), d=4)``.

    Keyword conditions inside one ``Q`` are AND-ed. Leaves are ``(lookup_key, value)`` pairs.
    """

    AND = "AND"
    OR = "OR"

    def __init__(
        self, *args: Q, _connector: str = "AND", _negated: bool = False, **kwargs: Any
    ) -> None:
        for arg in args:
            if not isinstance(arg, Q):
                raise TypeError(f"Q() positional arguments must be Q objects, got {arg!r}")
        self.children: list[Q | tuple[str, Any]] = [*args, *sorted(kwargs.items())]
        self.connector = _connector
        self.negated = _negated

    def _combine(self, other: Q, connector: str) -> Q:
        if not isinstance(other, Q):
            return NotImplemented
        return Q(self, other, _connector=connector)

    def __and__(self, other: Q) -> Q:
        return self._combine(other, self.AND)

    def __or__(self, other: Q) -> Q:
        return self._combine(other, self.OR)

    def __invert__(self) -> Q:
        return Q(self, _negated=True)

    def __repr__(self) -> str:
        parts = [repr(c) if isinstance(c, Q) else f"{c[0]}={c[1]!r:.80}" for c in self.children]
        return f"{'~' if self.negated else ''}Q({f' {self.connector} '.join(parts)})"
