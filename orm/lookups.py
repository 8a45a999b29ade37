"""Field lookups (``title__icontains=...``) and transforms (``created__year``): one registry.

A lookup is one :class:`Lookup` subclass registered in :data:`registry`. It says everything
the ORM needs to know about it, in one place: its name, how a value is checked, which
parameters it binds, the condition it builds and what of a value changes that condition's
SQL (its *shape*). The query compiler builds conditions from it, and statements compiled once
per shape are bound for later querysets by the same object's ``binder``.

A :class:`Transform` is a function of a column that a lookup then compares
(``created__year__gte=2020``, ``data__owner__name__icontains="ann"``); a key may chain
several. Lookups and transforms may be registered for one field class (``on=``), which then
takes precedence over a general one of that name on fields of that class.

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
from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, cast

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal
from sqlalchemy.types import TypeDecorator

from orm.exceptions import FieldError

if TYPE_CHECKING:
    from orm.fields import Field
    from orm.query.resolver import Params

__all__ = [
    "ANY_NAME",
    "IN_BUCKET_LIMIT",
    "IS_NULL",
    "SQL_VALUE",
    "Binder",
    "LikePattern",
    "Lookup",
    "LookupRegistry",
    "TextMatch",
    "Transform",
    "escape_like",
    "in_bucket",
    "registry",
]

ESCAPE = "/"

Convert = Callable[[Any], Any]
#: A lookup's raw value → the values bound for it (in parameter order).
Binder = Callable[[Any], tuple[Any, ...]]

#: The shape of ``exact``/``iexact`` with None: the condition is ``IS NULL``, nothing is bound.
IS_NULL = "null"
#: The shape passed to ``Lookup.condition`` when an SQL expression (an ``F()``, a subquery)
#: stands in place of the bound parameter.
SQL_VALUE = "sql"
#: Registered as a transform's name: the transform of any name that is not otherwise a lookup
#: or transform on that field class (JSON keys: ``data__owner``).
ANY_NAME = "*"


def escape_like(value: str) -> str:
    """Escape LIKE wildcards so ``value`` matches literally with ``ESCAPE '/'``."""
    return value.replace(ESCAPE, ESCAPE * 2).replace("%", ESCAPE + "%").replace("_", ESCAPE + "_")


# -- the two kinds of registered objects ----------------------------------------------------------


class Lookup:
    """One lookup: the last part of a filter key (``exact``, ``icontains``, ``in``...).

    One instance of each registered class serves every query; subclasses hold no state.
    Every method states a contract the compiler and the statement cache rely on:

    * ``shape(value)``: everything of the *raw* value that the SQL depends on, as a small
      hashable (None: nothing, the commonest case). It runs for every query, before any
      check, so it must be cheap and must not raise for a value of the wrong kind (``check``
      reports that). Two values of one shape give the same statement; only the parameters
      differ.
    * ``check(value, convert, label)``: the value checked and converted (``convert`` is the
      field's ``validate_lookup``); ``FieldError`` for a value of the wrong kind. Runs before
      any SQL, on every query.
    * ``params(value, shape)``: the values to bind, in order: the same number for every value
      of one shape.
    * ``condition(column, binds, shape)``: the SQL, built from the column, the bound
      parameters and the shape only (never from the value: that is what makes the compiled
      statement reusable). With ``takes_expression``/``takes_subquery``, ``binds`` may instead
      hold one SQL expression and ``shape`` is then ``SQL_VALUE``.
    """

    #: The name in filter keys: a Python identifier without ``__``.
    name: ClassVar[str]
    #: An ``F()`` expression may stand for the value (``views__gt=F("likes")``).
    takes_expression: ClassVar[bool] = False
    #: A queryset may stand for the value (``author__in=Author.objects.filter(...)``).
    takes_subquery: ClassVar[bool] = False

    def shape(self, value: Any) -> Hashable:
        return None

    def null_safe(self, shape: Hashable) -> bool:
        """Whether the condition is true or false for a NULL column (never unknown), so
        ``exclude()`` needs no ``IS NOT NULL`` guard to keep the rows whose column is NULL."""
        return False

    def check(self, value: Any, convert: Convert, label: str) -> Any:
        if value is None:
            raise FieldError(
                f"{label}__{self.name} cannot compare with None; use {label}__isnull=True"
            )
        return convert(value)

    def params(self, value: Any, shape: Hashable) -> tuple[Any, ...]:
        return (value,)

    def bind_type(self, column: ColumnElement[Any]) -> Any:
        """The SQL type of the parameters (the column's, so its conversions apply)."""
        return column.type

    def binds(
        self, params: Params, column: ColumnElement[Any], values: Sequence[Any], shape: Hashable
    ) -> list[Any]:
        """The bound parameters of ``values`` (``params.bind`` names them in order)."""
        type_ = self.bind_type(column)
        return [params.bind(value, type_) for value in values]

    def condition(
        self, column: ColumnElement[Any], binds: list[Any], shape: Hashable
    ) -> ColumnElement[bool]:
        raise NotImplementedError

    def binder(self, convert: Convert, label: str, shape: Hashable) -> Binder:
        """The parameters of a raw value of ``shape``: ``check`` then ``params``. A statement
        compiled once per shape binds every later queryset's values through this, so a
        lookup may specialise it for speed (the same results and errors)."""
        check, params = self.check, self.params

        def bind(raw: Any) -> tuple[Any, ...]:
            return params(check(raw, convert, label), shape)

        return bind

    def __repr__(self) -> str:
        return f"<lookup {self.name}>"


class Transform:
    """A function applied to a column before its lookup: ``created__year`` compares the year.

    A new instance is made for each key that uses it, with ``key`` the name as written (the
    JSON key for an ``ANY_NAME`` transform). ``apply`` builds the SQL from the expression so
    far and the bound ``params()`` (a JSON key is a parameter, never SQL text).
    """

    name: ClassVar[str]

    def __init__(self, key: str) -> None:
        self.key = key

    def output(self, field: Field[Any] | None) -> Field[Any] | None:
        """The field whose ``validate_lookup`` checks values compared with the result, and
        whose lookups apply to it; None: ``field`` itself (a transform that keeps the type)."""
        return None

    def params(self) -> tuple[tuple[Any, Any], ...]:
        """``(value, SQL type)`` of each parameter of the transform itself (usually none)."""
        return ()

    def apply(self, expression: ColumnElement[Any], binds: list[Any]) -> ColumnElement[Any]:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<transform {self.name}: {self.key}>"


_L = TypeVar("_L", bound=type[Lookup])
_T = TypeVar("_T", bound=type[Transform])


class LookupRegistry:
    """Lookups and transforms by name, optionally per field class (``on=``)."""

    def __init__(self) -> None:
        self._lookups: dict[tuple[str, type | None], Lookup] = {}
        self._transforms: dict[tuple[str, type | None], type[Transform]] = {}

    def register_lookup(self, cls: _L, *, on: type | None = None) -> _L:
        """Register ``cls`` (for fields of class ``on`` and its subclasses, or for all)."""
        self._check_name(cls.name, cls)
        self._lookups[(cls.name, on)] = cls()
        return cls

    def register_transform(self, cls: _T, *, on: type | None = None) -> _T:
        if cls.name != ANY_NAME:
            self._check_name(cls.name, cls)
        self._transforms[(cls.name, on)] = cls
        return cls

    def unregister(self, name: str, *, on: type | None = None) -> None:
        """Remove the lookup or transform ``name`` registered for ``on`` (tests use it; a
        compiled statement that used it stays cached until ``orm.clear_caches()``)."""
        self._lookups.pop((name, on), None)
        self._transforms.pop((name, on), None)

    def _check_name(self, name: str, cls: type) -> None:
        if not name.isidentifier() or "__" in name or name.startswith("_"):
            raise ValueError(
                f"{cls.__name__}.name {name!r} is not a valid lookup name: use a Python "
                "identifier without '__' that does not start with '_'"
            )

    def lookup(self, name: str, field: Field[Any] | None) -> Lookup | None:
        """The lookup ``name`` for ``field`` (None: an annotation), or None."""
        for klass in _classes(field):
            found = self._lookups.get((name, klass))
            if found is not None:
                return found
        return None

    def transform(self, name: str, field: Field[Any] | None) -> Transform | None:
        """A new transform for the key part ``name`` on ``field``, or None."""
        for wanted in (name, ANY_NAME):
            for klass in _classes(field):
                cls = self._transforms.get((wanted, klass))
                if cls is not None:
                    return cls(name)
        return None

    def lookup_names(self, field: Field[Any] | None) -> list[str]:
        """Every lookup name that applies to ``field``, in registration order."""
        classes = set(_classes(field))
        return list(dict.fromkeys(name for name, on in self._lookups if on in classes))


def _classes(field: Field[Any] | None) -> list[type | None]:
    """Where to look for a name: the field's classes, most specific first, then ``on=None``."""
    return [*(type(field).__mro__ if field is not None else ()), None]


#: The registry every query resolves names with.
registry = LookupRegistry()


# -- the built-in lookups ---------------------------------------------------------------------


@registry.register_lookup
class Exact(Lookup):
    name = "exact"
    takes_expression = True

    def shape(self, value: Any) -> Hashable:
        return IS_NULL if value is None else None

    def null_safe(self, shape: Hashable) -> bool:
        return shape is IS_NULL  # IS NULL: exclude(x=None) keeps exactly the other rows

    def check(self, value: Any, convert: Convert, label: str) -> Any:
        return None if value is None else convert(value)

    def params(self, value: Any, shape: Hashable) -> tuple[Any, ...]:
        return () if shape is IS_NULL else (value,)

    def condition(
        self, column: ColumnElement[Any], binds: list[Any], shape: Hashable
    ) -> ColumnElement[bool]:
        if shape is IS_NULL:
            return column.is_(None)
        return column == binds[0]  # type: ignore[no-any-return]

    def binder(self, convert: Convert, label: str, shape: Hashable) -> Binder:
        if shape is IS_NULL:
            return _no_params

        def exact(raw: Any) -> tuple[Any, ...]:  # the commonest lookup: no dispatch
            return (convert(raw),)

        return exact


def _no_params(raw: Any) -> tuple[Any, ...]:
    return ()


@registry.register_lookup
class IExact(Exact):
    name = "iexact"

    def check(self, value: Any, convert: Convert, label: str) -> Any:
        return None if value is None else _text(value, label, self.name)

    def bind_type(self, column: ColumnElement[Any]) -> Any:
        return sa.String()

    def condition(
        self, column: ColumnElement[Any], binds: list[Any], shape: Hashable
    ) -> ColumnElement[bool]:
        if shape is IS_NULL:
            return column.is_(None)
        return sa.func.lower(column) == sa.func.lower(binds[0])

    binder = Lookup.binder


class Comparison(Lookup):
    """``gt``, ``gte``, ``lt``, ``lte``: the column against one value of its type."""

    compare: ClassVar[Callable[[Any, Any], Any]]
    takes_expression = True

    def condition(
        self, column: ColumnElement[Any], binds: list[Any], shape: Hashable
    ) -> ColumnElement[bool]:
        return type(self).compare(column, binds[0])  # type: ignore[no-any-return]

    def binder(self, convert: Convert, label: str, shape: Hashable) -> Binder:
        check = self.check

        def compare(raw: Any) -> tuple[Any, ...]:
            if raw is None:
                check(raw, convert, label)  # raises: None cannot be compared
            return (convert(raw),)

        return compare


@registry.register_lookup
class GreaterThan(Comparison):
    name = "gt"
    compare = operator.gt


@registry.register_lookup
class GreaterThanOrEqual(Comparison):
    name = "gte"
    compare = operator.ge


@registry.register_lookup
class LessThan(Comparison):
    name = "lt"
    compare = operator.lt


@registry.register_lookup
class LessThanOrEqual(Comparison):
    name = "lte"
    compare = operator.le


class TextLookup(Lookup):
    """``contains``/``startswith``/``endswith`` (``fold``: their case-insensitive forms):
    the value is text matched inside the column (see ``TextMatch``)."""

    template: ClassVar[str]  # the LIKE pattern, {} for the escaped value
    fold: ClassVar[bool] = False

    def check(self, value: Any, convert: Convert, label: str) -> Any:
        return _text(value, label, self.name)

    def bind_type(self, column: ColumnElement[Any]) -> Any:
        return LikePattern(self.template)

    def condition(
        self, column: ColumnElement[Any], binds: list[Any], shape: Hashable
    ) -> ColumnElement[bool]:
        return TextMatch(column, binds[0], fold=self.fold)


def _text(value: Any, label: str, name: str) -> str:
    if not isinstance(value, str):
        raise FieldError(f"{label}__{name} needs a str value, got {type(value).__name__}")
    return value


@registry.register_lookup
class Contains(TextLookup):
    name = "contains"
    template = "%{}%"


@registry.register_lookup
class IContains(Contains):
    name = "icontains"
    fold = True


@registry.register_lookup
class StartsWith(TextLookup):
    name = "startswith"
    template = "{}%"


@registry.register_lookup
class IStartsWith(StartsWith):
    name = "istartswith"
    fold = True


@registry.register_lookup
class EndsWith(TextLookup):
    name = "endswith"
    template = "%{}"


@registry.register_lookup
class IEndsWith(EndsWith):
    name = "iendswith"
    fold = True


#: IN lists up to this long are bound item by item (longer ones as one expanding parameter).
IN_BUCKET_LIMIT = 256


def in_bucket(value: Any) -> int | None:
    """The padded size of an ``__in`` list bound item by item, or None (expanding)."""
    if type(value) in (list, tuple, set, frozenset) and 0 < len(value) <= IN_BUCKET_LIMIT:
        return 1 << (len(value) - 1).bit_length()
    return None


@registry.register_lookup
class In(Lookup):
    """``in``: a short list gets one parameter per item, padded to a power of two with its
    last item (a handful of statement shapes, and no re-rendering of the SQL per call); a
    longer one (or an empty one) is one expanding parameter."""

    name = "in"
    takes_subquery = True

    def shape(self, value: Any) -> Hashable:
        return in_bucket(value)

    def check(self, value: Any, convert: Convert, label: str) -> Any:
        if isinstance(value, str | bytes) or not isinstance(value, Iterable):
            raise FieldError(f"{label}__in needs a list, tuple or set of values")
        return [convert(item) for item in value]

    def params(self, value: Any, shape: Hashable) -> tuple[Any, ...]:
        if shape is None:
            return (value,)
        return (*value, *[value[-1]] * (cast(int, shape) - len(value)))

    def binds(
        self, params: Params, column: ColumnElement[Any], values: Sequence[Any], shape: Hashable
    ) -> list[Any]:
        if shape is None:
            return [params.bind(values[0], column.type, expanding=True)]
        return super().binds(params, column, values, shape)

    def condition(
        self, column: ColumnElement[Any], binds: list[Any], shape: Hashable
    ) -> ColumnElement[bool]:
        return column.in_(binds if type(shape) is int else binds[0])


@registry.register_lookup
class Range(Lookup):
    name = "range"

    def check(self, value: Any, convert: Convert, label: str) -> Any:
        if isinstance(value, str | bytes) or not isinstance(value, Iterable):
            raise FieldError(f"{label}__range needs a (low, high) pair")
        pair = list(value)
        if len(pair) != 2:
            raise FieldError(f"{label}__range needs a (low, high) pair")
        return (convert(pair[0]), convert(pair[1]))

    def params(self, value: Any, shape: Hashable) -> tuple[Any, ...]:
        return tuple(value)

    def condition(
        self, column: ColumnElement[Any], binds: list[Any], shape: Hashable
    ) -> ColumnElement[bool]:
        return column.between(binds[0], binds[1])


@registry.register_lookup
class IsNull(Lookup):
    name = "isnull"

    def shape(self, value: Any) -> Hashable:
        return value is True

    def null_safe(self, shape: Hashable) -> bool:
        return True

    def check(self, value: Any, convert: Convert, label: str) -> Any:
        if not isinstance(value, bool):
            raise FieldError(f"{label}__isnull needs True or False, got {value!r:.60}")
        return value

    def params(self, value: Any, shape: Hashable) -> tuple[Any, ...]:
        return ()

    def condition(
        self, column: ColumnElement[Any], binds: list[Any], shape: Hashable
    ) -> ColumnElement[bool]:
        return column.is_(None) if shape else column.is_not(None)


# -- the SQL of the text lookups ---------------------------------------------------------------


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
