"""Field types: each maps a Python type to a SQLAlchemy column type and validates values.

``Book.title`` gives the field. A plain field is not stored on its class (``ModelMeta`` keeps it
aside), so ``book.title`` is an ordinary instance attribute, read and stored on CPython's fast
paths; a missing value raises ``FieldNotLoaded`` (see ``orm.incomplete``).
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import json
import uuid
from collections.abc import Iterable
from functools import partial
from operator import is_not
from typing import (
    TYPE_CHECKING,
    Any,
    ClassVar,
    Generic,
    Literal,
    Self,
    TypedDict,
    TypeVar,
    Unpack,
    overload,
)

import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.types import TypeEngine

from orm import types as db_types
from orm.exceptions import ValidationError
from orm.incomplete import REFERENCE, not_loaded

if TYPE_CHECKING:
    from orm.models import Model

__all__ = [
    "JSON",
    "NOT_PROVIDED",
    "REFERENCE",
    "UUID",
    "BigInteger",
    "Binary",
    "Boolean",
    "Date",
    "DateTime",
    "Decimal",
    "Enum",
    "Field",
    "FieldOptions",
    "Float",
    "Integer",
    "SmallInteger",
    "String",
    "Text",
    "Time",
]

_T = TypeVar("_T")
_E = TypeVar("_E", bound=enum.Enum)
_NoneType = type(None)
_not_none = partial(is_not, None)


class _NotProvided:
    def __repr__(self) -> str:
        return "NOT_PROVIDED"


NOT_PROVIDED: Any = _NotProvided()


class FieldOptions(TypedDict, total=False):
    """Options every field accepts (``null`` is a separate, typed argument)."""

    primary_key: bool
    default: Any
    unique: bool
    index: bool
    db_column: str
    choices: Iterable[Any]


class Field(Generic[_T]):
    """Base of all fields. ``_T`` is the Python type of the value on an instance."""

    #: What the type check accepts, named in validation messages.
    type_label: ClassVar[str] = "value"
    #: False for relations that have no column of their own (reverse, many-to-many).
    concrete: ClassVar[bool] = True
    is_relation: ClassVar[bool] = False
    #: Whether ``pre_save`` does anything (skipped otherwise: it runs for every row written).
    has_pre_save = False

    name: str
    attname: str
    column_name: str
    model: type[Model]

    def __init__(
        self,
        *,
        primary_key: bool = False,
        null: bool = False,
        default: Any = NOT_PROVIDED,
        unique: bool = False,
        index: bool = False,
        db_column: str | None = None,
        choices: Iterable[Any] | None = None,
    ) -> None:
        self.primary_key = primary_key
        self.null = null
        self.default = default
        self.unique = unique
        self.index = index
        self.db_column = db_column
        self.choices: frozenset[Any] | None = None
        if choices is not None:
            self.choices = frozenset(
                c[0] if isinstance(c, tuple) and len(c) == 2 else c for c in choices
            )

    # -- class construction -------------------------------------------------------------------

    def __set_name__(self, owner: type[Any], name: str) -> None:
        self.name = name
        self.attname = name
        self.column_name = self.db_column or name

    def check(self) -> list[str]:
        """Return problems with this field's options (the metaclass raises them)."""
        return []

    @property
    def auto_increment(self) -> bool:
        """The database generates this key when the instance leaves it ``None``."""
        return False

    def sa_type(self) -> TypeEngine[Any]:
        raise NotImplementedError

    def build_column(self) -> sa.Column[Any]:
        return sa.Column(
            self.column_name,
            self.sa_type(),
            key=self.attname,
            primary_key=self.primary_key,
            nullable=self.null and not self.primary_key,
            unique=self.unique or None,
            index=self.index or None,
            autoincrement=self.auto_increment if self.primary_key else "auto",
        )

    # -- values --------------------------------------------------------------------------------

    @property
    def has_default(self) -> bool:
        return self.default is not NOT_PROVIDED

    def get_default(self) -> Any:
        """The value a new instance gets when none was given."""
        if self.default is NOT_PROVIDED:
            return None
        if callable(self.default):
            return self.default()
        return self.default

    def pre_save(self, instance: Model, *, adding: bool) -> None:
        """Hook run before the instance is written (``DateTime(auto_now=)`` uses it)."""

    def fail(self, problem: str) -> ValidationError:
        model = self.model.__name__ if hasattr(self, "model") else "<unbound>"
        return ValidationError(model, getattr(self, "name", "?"), problem)

    def validate(self, value: Any) -> Any:
        """Return ``value`` converted to this field's Python type, or raise ValidationError."""
        if value is None:
            if self.null or (self.primary_key and self.auto_increment):
                return None
            raise self.fail("null is not allowed (declare the field with null=True)")
        value = self.coerce(value)
        if self.choices is not None and value not in self.choices:
            allowed = ", ".join(sorted(repr(c) for c in self.choices))
            raise self.fail(f"{value!r} is not one of the choices ({allowed})")
        return value

    def validate_column(self, values: list[Any]) -> list[Any]:
        """``validate`` applied to every value in order: the same results, the same first error.

        Returns ``values`` itself when every value is valid as it is (nothing to store back).
        ``bulk_create`` validates a column at a time through this.
        """
        if values and self.column_valid_as_is(values):
            return values
        validate = self.validate
        return [validate(value) for value in values]

    def column_valid_as_is(self, values: list[Any]) -> bool:
        """Whether ``validate`` would accept every one of ``values`` and return it unchanged.

        A cheap check of whole columns for the common cases (C-level passes over the list, no
        call per value); False means "not sure", and ``validate`` then sees every value.
        Subclasses answer only while their ``validate``/``coerce`` are the ones it reasons about.
        """
        return False

    def _plain(self, owner: type[Field[Any]]) -> bool:
        """No choices, and ``validate``/``coerce`` are ``owner``'s (not a subclass override)."""
        cls = type(self)
        return (
            self.choices is None and cls.validate is owner.validate and cls.coerce is owner.coerce
        )

    def _of_type(self, values: list[Any], kind: type) -> list[Any] | None:
        """``values`` without None when each is exactly a ``kind`` (or None if null is allowed)."""
        types = set(map(type, values))
        if types == {kind}:
            return values
        if self.null and types <= {kind, _NoneType}:
            return list(filter(_not_none, values))
        return None

    def validate_lookup(self, value: Any) -> Any:
        """Convert a filter value: the type check of ``validate`` without range/choice checks."""
        if value is None:
            return None
        return self.coerce(value)

    def coerce(self, value: Any) -> Any:
        """Check the type of a non-None value and convert it; subclasses extend."""
        return value

    def wrong_type(self, value: Any) -> ValidationError:
        return self.fail(f"expected {self.type_label}, got {type(value).__name__} {value!r:.60}")

    # -- descriptor ----------------------------------------------------------------------------

    @overload
    def __get__(self, instance: None, owner: Any) -> Self: ...
    @overload
    def __get__(self, instance: object, owner: Any) -> _T: ...
    def __get__(self, instance: object | None, owner: Any) -> Self | _T:
        # Type checkers read field attributes through this; at run time a plain field is not
        # on its class (see ``ModelMeta``), and a relation calls it for a missing key value.
        if instance is None:
            return self
        raise not_loaded(instance, self.name)

    if TYPE_CHECKING:
        # Declared for type checkers only (PEP 681 uses it for __init__ parameters).
        def __set__(self, instance: object, value: _T) -> None: ...

    def __repr__(self) -> str:
        owner = f"{self.model.__name__}." if hasattr(self, "model") else ""
        return f"<{type(self).__name__} {owner}{getattr(self, 'name', '?')}>"


# -- numbers -----------------------------------------------------------------------------------


class _IntegerBase(Field[_T]):
    type_label = "int"
    min_value: ClassVar[int]
    max_value: ClassVar[int]

    @property
    def auto_increment(self) -> bool:
        return self.primary_key

    def coerce(self, value: Any) -> Any:
        if type(value) is not int:
            if isinstance(value, bool) or not isinstance(value, int):
                raise self.wrong_type(value)
            value = int(value)
        if not self.min_value <= value <= self.max_value:
            raise self.fail(f"{value} is out of range [{self.min_value}, {self.max_value}]")
        return value

    def column_valid_as_is(self, values: list[Any]) -> bool:
        if not self._plain(_IntegerBase):
            return False
        ints = self._of_type(values, int)
        if ints is None:
            return False
        return not ints or (self.min_value <= min(ints) and max(ints) <= self.max_value)


class Integer(_IntegerBase[_T]):
    """A 32-bit signed integer; ``primary_key=True`` makes it auto-incrementing."""

    min_value = -(2**31)
    max_value = 2**31 - 1

    @overload
    def __init__(
        self: Integer[int], *, null: Literal[False] = False, **options: Unpack[FieldOptions]
    ) -> None: ...
    @overload
    def __init__(
        self: Integer[int | None], *, null: Literal[True], **options: Unpack[FieldOptions]
    ) -> None: ...
    def __init__(self, *, null: bool = False, **options: Unpack[FieldOptions]) -> None:
        super().__init__(null=null, **options)

    def sa_type(self) -> TypeEngine[Any]:
        return sa.Integer()


class BigInteger(_IntegerBase[_T]):
    """A 64-bit signed integer (an INTEGER rowid alias on SQLite when it is the primary key)."""

    min_value = -(2**63)
    max_value = 2**63 - 1

    @overload
    def __init__(
        self: BigInteger[int], *, null: Literal[False] = False, **options: Unpack[FieldOptions]
    ) -> None: ...
    @overload
    def __init__(
        self: BigInteger[int | None], *, null: Literal[True], **options: Unpack[FieldOptions]
    ) -> None: ...
    def __init__(self, *, null: bool = False, **options: Unpack[FieldOptions]) -> None:
        super().__init__(null=null, **options)

    def sa_type(self) -> TypeEngine[Any]:
        # Only "INTEGER PRIMARY KEY" auto-increments on SQLite, and it is 64-bit there anyway.
        return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class SmallInteger(_IntegerBase[_T]):
    """A 16-bit signed integer."""

    min_value = -(2**15)
    max_value = 2**15 - 1

    @overload
    def __init__(
        self: SmallInteger[int], *, null: Literal[False] = False, **options: Unpack[FieldOptions]
    ) -> None: ...
    @overload
    def __init__(
        self: SmallInteger[int | None], *, null: Literal[True], **options: Unpack[FieldOptions]
    ) -> None: ...
    def __init__(self, *, null: bool = False, **options: Unpack[FieldOptions]) -> None:
        super().__init__(null=null, **options)

    @property
    def auto_increment(self) -> bool:
        return False

    def sa_type(self) -> TypeEngine[Any]:
        return sa.SmallInteger()


class Float(Field[_T]):
    """A double-precision float (DOUBLE on MySQL, where FLOAT is single precision)."""

    type_label = "float"

    @overload
    def __init__(
        self: Float[float], *, null: Literal[False] = False, **options: Unpack[FieldOptions]
    ) -> None: ...
    @overload
    def __init__(
        self: Float[float | None], *, null: Literal[True], **options: Unpack[FieldOptions]
    ) -> None: ...
    def __init__(self, *, null: bool = False, **options: Unpack[FieldOptions]) -> None:
        super().__init__(null=null, **options)

    def coerce(self, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.wrong_type(value)
        return float(value)

    def column_valid_as_is(self, values: list[Any]) -> bool:
        # float() of an exact float is that float: only ints would be converted.
        return self._plain(Float) and self._of_type(values, float) is not None

    def sa_type(self) -> TypeEngine[Any]:
        return sa.Double()


class Decimal(Field[_T]):
    """A fixed-point number; values come back as ``decimal.Decimal`` with the field's scale.

    SQLite has no exact decimal storage: values beyond 15 significant digits lose precision.
    """

    type_label = "Decimal"

    @overload
    def __init__(
        self: Decimal[decimal.Decimal],
        *,
        max_digits: int,
        decimal_places: int,
        null: Literal[False] = False,
        **options: Unpack[FieldOptions],
    ) -> None: ...
    @overload
    def __init__(
        self: Decimal[decimal.Decimal | None],
        *,
        max_digits: int,
        decimal_places: int,
        null: Literal[True],
        **options: Unpack[FieldOptions],
    ) -> None: ...
    def __init__(
        self,
        *,
        max_digits: int | None = None,
        decimal_places: int | None = None,
        null: bool = False,
        **options: Unpack[FieldOptions],
    ) -> None:
        super().__init__(null=null, **options)
        self.max_digits = max_digits
        self.decimal_places = decimal_places

    def check(self) -> list[str]:
        if self.max_digits is None or self.decimal_places is None:
            return ["Decimal requires max_digits= and decimal_places="]
        if not 0 <= self.decimal_places <= self.max_digits:
            return ["Decimal requires 0 <= decimal_places <= max_digits"]
        return []

    def coerce(self, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, decimal.Decimal | int | float):
            raise self.wrong_type(value)
        if isinstance(value, float):
            value = decimal.Decimal(repr(value))
        elif isinstance(value, int):
            value = decimal.Decimal(value)
        if not value.is_finite():
            raise self.fail(f"{value} is not a finite number")
        assert self.max_digits is not None and self.decimal_places is not None
        _, digits, exponent = value.as_tuple()
        assert isinstance(exponent, int)
        places = max(0, -exponent)
        whole = max(0, len(digits) + exponent)
        if places > self.decimal_places:
            raise self.fail(f"{value} has more than {self.decimal_places} decimal places")
        if whole > self.max_digits - self.decimal_places:
            raise self.fail(
                f"{value} has more than {self.max_digits - self.decimal_places} digits "
                "before the decimal point"
            )
        return value

    def sa_type(self) -> TypeEngine[Any]:
        return sa.Numeric(self.max_digits, self.decimal_places, asdecimal=True)


class Boolean(Field[_T]):
    """``True`` or ``False`` (only a real ``bool``: ``1`` and ``"yes"`` are refused)."""

    type_label = "bool"

    @overload
    def __init__(
        self: Boolean[bool], *, null: Literal[False] = False, **options: Unpack[FieldOptions]
    ) -> None: ...
    @overload
    def __init__(
        self: Boolean[bool | None], *, null: Literal[True], **options: Unpack[FieldOptions]
    ) -> None: ...
    def __init__(self, *, null: bool = False, **options: Unpack[FieldOptions]) -> None:
        super().__init__(null=null, **options)

    def coerce(self, value: Any) -> Any:
        if not isinstance(value, bool):
            raise self.wrong_type(value)
        return value

    def column_valid_as_is(self, values: list[Any]) -> bool:
        return self._plain(Boolean) and self._of_type(values, bool) is not None

    def sa_type(self) -> TypeEngine[Any]:
        return sa.Boolean(create_constraint=False)


# -- text and bytes ----------------------------------------------------------------------------


class String(Field[_T]):
    """Text of at most ``max_length`` characters (VARCHAR)."""

    type_label = "str"

    @overload
    def __init__(
        self: String[str],
        *,
        max_length: int,
        null: Literal[False] = False,
        **options: Unpack[FieldOptions],
    ) -> None: ...
    @overload
    def __init__(
        self: String[str | None],
        *,
        max_length: int,
        null: Literal[True],
        **options: Unpack[FieldOptions],
    ) -> None: ...
    def __init__(
        self, *, max_length: int | None = None, null: bool = False, **options: Unpack[FieldOptions]
    ) -> None:
        super().__init__(null=null, **options)
        self.max_length = max_length

    def check(self) -> list[str]:
        if not isinstance(self.max_length, int) or self.max_length <= 0:
            return ["String requires max_length= (a positive int); use Text for unbounded text"]
        return []

    def coerce(self, value: Any) -> Any:
        if not isinstance(value, str):
            raise self.wrong_type(value)
        return value

    def validate(self, value: Any) -> Any:
        value = super().validate(value)
        if value is not None and len(value) > self.max_length:  # type: ignore[operator]
            raise self.fail(f"{len(value)} characters is longer than max_length={self.max_length}")
        return value

    def column_valid_as_is(self, values: list[Any]) -> bool:
        if not self._plain(String):
            return False
        strings = self._of_type(values, str)
        if strings is None:
            return False
        return max(map(len, strings), default=0) <= self.max_length  # type: ignore[operator]

    def sa_type(self) -> TypeEngine[Any]:
        assert self.max_length is not None
        return db_types.string_type(self.max_length)


class Text(Field[_T]):
    """Unbounded text."""

    type_label = "str"

    @overload
    def __init__(
        self: Text[str], *, null: Literal[False] = False, **options: Unpack[FieldOptions]
    ) -> None: ...
    @overload
    def __init__(
        self: Text[str | None], *, null: Literal[True], **options: Unpack[FieldOptions]
    ) -> None: ...
    def __init__(self, *, null: bool = False, **options: Unpack[FieldOptions]) -> None:
        super().__init__(null=null, **options)

    def coerce(self, value: Any) -> Any:
        if not isinstance(value, str):
            raise self.wrong_type(value)
        return value

    def column_valid_as_is(self, values: list[Any]) -> bool:
        return self._plain(Text) and self._of_type(values, str) is not None

    def sa_type(self) -> TypeEngine[Any]:
        return db_types.text_type()


class Binary(Field[_T]):
    """Bytes (``bytearray``/``memoryview`` are accepted and stored as bytes)."""

    type_label = "bytes"

    @overload
    def __init__(
        self: Binary[bytes], *, null: Literal[False] = False, **options: Unpack[FieldOptions]
    ) -> None: ...
    @overload
    def __init__(
        self: Binary[bytes | None], *, null: Literal[True], **options: Unpack[FieldOptions]
    ) -> None: ...
    def __init__(self, *, null: bool = False, **options: Unpack[FieldOptions]) -> None:
        super().__init__(null=null, **options)

    def coerce(self, value: Any) -> Any:
        if isinstance(value, bytes):
            return value
        if isinstance(value, bytearray | memoryview):
            return bytes(value)
        raise self.wrong_type(value)

    def column_valid_as_is(self, values: list[Any]) -> bool:
        return self._plain(Binary) and self._of_type(values, bytes) is not None

    def sa_type(self) -> TypeEngine[Any]:
        return sa.LargeBinary().with_variant(mysql.LONGBLOB(), "mysql", "mariadb")


# -- dates and times ---------------------------------------------------------------------------


class Date(Field[_T]):
    """A ``datetime.date`` (a ``datetime.datetime`` is refused: it is not a day)."""

    type_label = "datetime.date"

    @overload
    def __init__(
        self: Date[dt.date], *, null: Literal[False] = False, **options: Unpack[FieldOptions]
    ) -> None: ...
    @overload
    def __init__(
        self: Date[dt.date | None], *, null: Literal[True], **options: Unpack[FieldOptions]
    ) -> None: ...
    def __init__(self, *, null: bool = False, **options: Unpack[FieldOptions]) -> None:
        super().__init__(null=null, **options)

    def coerce(self, value: Any) -> Any:
        if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
            raise self.wrong_type(value)
        return value

    def column_valid_as_is(self, values: list[Any]) -> bool:
        return self._plain(Date) and self._of_type(values, dt.date) is not None

    def sa_type(self) -> TypeEngine[Any]:
        return sa.Date()


class DateTime(Field[_T]):
    """An aware datetime, stored as UTC and read back aware (UTC) on every backend.

    Naive datetimes are rejected: the same value must come back from every backend.
    ``auto_now_add=True`` sets the current time on insert, ``auto_now=True`` on every save.
    """

    type_label = "aware datetime.datetime"

    @overload
    def __init__(
        self: DateTime[dt.datetime],
        *,
        auto_now: bool = False,
        auto_now_add: bool = False,
        null: Literal[False] = False,
        **options: Unpack[FieldOptions],
    ) -> None: ...
    @overload
    def __init__(
        self: DateTime[dt.datetime | None],
        *,
        auto_now: bool = False,
        auto_now_add: bool = False,
        null: Literal[True],
        **options: Unpack[FieldOptions],
    ) -> None: ...
    def __init__(
        self,
        *,
        auto_now: bool = False,
        auto_now_add: bool = False,
        null: bool = False,
        **options: Unpack[FieldOptions],
    ) -> None:
        super().__init__(null=null, **options)
        self.auto_now = auto_now
        self.auto_now_add = auto_now_add
        self.has_pre_save = auto_now or auto_now_add

    def coerce(self, value: Any) -> Any:
        if not isinstance(value, dt.datetime):
            raise self.wrong_type(value)
        if value.tzinfo is None or value.utcoffset() is None:
            raise self.fail(
                f"{value!r} is naive; use an aware datetime such as datetime.now(timezone.utc)"
            )
        return value

    def pre_save(self, instance: Model, *, adding: bool) -> None:
        if self.auto_now or (
            self.auto_now_add and adding and instance.__dict__.get(self.attname) is None
        ):
            instance.__dict__[self.attname] = dt.datetime.now(dt.UTC)

    def sa_type(self) -> TypeEngine[Any]:
        return db_types.UTCDateTime()


class Time(Field[_T]):
    """A naive time of day (microseconds kept on every backend)."""

    type_label = "datetime.time"

    @overload
    def __init__(
        self: Time[dt.time], *, null: Literal[False] = False, **options: Unpack[FieldOptions]
    ) -> None: ...
    @overload
    def __init__(
        self: Time[dt.time | None], *, null: Literal[True], **options: Unpack[FieldOptions]
    ) -> None: ...
    def __init__(self, *, null: bool = False, **options: Unpack[FieldOptions]) -> None:
        super().__init__(null=null, **options)

    def coerce(self, value: Any) -> Any:
        if not isinstance(value, dt.time):
            raise self.wrong_type(value)
        if value.tzinfo is not None:
            raise self.fail(f"{value!r} has a tzinfo; Time stores a naive time of day")
        return value

    def sa_type(self) -> TypeEngine[Any]:
        return db_types.time_type()


# -- structured --------------------------------------------------------------------------------


class JSON(Field[_T]):
    """Any JSON-serialisable value (dicts and lists nest). ``None`` is stored as SQL NULL."""

    type_label = "a JSON-serialisable value"

    @overload
    def __init__(
        self: JSON[Any], *, null: Literal[False] = False, **options: Unpack[FieldOptions]
    ) -> None: ...
    @overload
    def __init__(
        self: JSON[Any], *, null: Literal[True], **options: Unpack[FieldOptions]
    ) -> None: ...
    def __init__(self, *, null: bool = False, **options: Unpack[FieldOptions]) -> None:
        super().__init__(null=null, **options)

    def coerce(self, value: Any) -> Any:
        try:
            json.dumps(value)
        except (TypeError, ValueError) as exc:
            raise self.fail(f"value is not JSON-serialisable: {exc}") from None
        return value

    def sa_type(self) -> TypeEngine[Any]:
        return db_types.json_type()


class UUID(Field[_T]):
    """A ``uuid.UUID`` (native on PostgreSQL, CHAR(32) elsewhere); strings are parsed."""

    type_label = "uuid.UUID"

    @overload
    def __init__(
        self: UUID[uuid.UUID], *, null: Literal[False] = False, **options: Unpack[FieldOptions]
    ) -> None: ...
    @overload
    def __init__(
        self: UUID[uuid.UUID | None], *, null: Literal[True], **options: Unpack[FieldOptions]
    ) -> None: ...
    def __init__(self, *, null: bool = False, **options: Unpack[FieldOptions]) -> None:
        super().__init__(null=null, **options)

    def coerce(self, value: Any) -> Any:
        if isinstance(value, uuid.UUID):
            return value
        if isinstance(value, str):
            try:
                return uuid.UUID(value)
            except ValueError:
                raise self.fail(f"{value!r:.60} is not a valid UUID") from None
        raise self.wrong_type(value)

    def column_valid_as_is(self, values: list[Any]) -> bool:
        return self._plain(UUID) and self._of_type(values, uuid.UUID) is not None

    def sa_type(self) -> TypeEngine[Any]:
        return sa.Uuid(as_uuid=True)


class Enum(Field[_T]):
    """A member of ``enum_class``, stored by its *name* in a VARCHAR on every backend.

    Storing names (not values) keeps the column a plain string whatever the values are, and
    needs no CREATE TYPE on PostgreSQL. Instances accept the member or its value.
    """

    type_label = "enum member"

    @overload
    def __init__(
        self: Enum[_E],
        enum_class: type[_E],
        *,
        null: Literal[False] = False,
        **options: Unpack[FieldOptions],
    ) -> None: ...
    @overload
    def __init__(
        self: Enum[_E | None],
        enum_class: type[_E],
        *,
        null: Literal[True],
        **options: Unpack[FieldOptions],
    ) -> None: ...
    def __init__(
        self, enum_class: type[enum.Enum], *, null: bool = False, **options: Unpack[FieldOptions]
    ) -> None:
        super().__init__(null=null, **options)
        self.enum_class = enum_class

    def check(self) -> list[str]:
        enum_class: Any = self.enum_class
        if not (isinstance(enum_class, type) and issubclass(enum_class, enum.Enum)):
            return ["Enum requires an enum.Enum subclass"]
        return []

    def coerce(self, value: Any) -> Any:
        if isinstance(value, self.enum_class):
            return value
        try:
            return self.enum_class(value)
        except ValueError:
            names = ", ".join(m.name for m in self.enum_class)
            raise self.fail(
                f"{value!r:.60} is not a member of {self.enum_class.__name__} ({names})"
            ) from None

    def sa_type(self) -> TypeEngine[Any]:
        length = max((len(m.name) for m in self.enum_class), default=1)
        return sa.Enum(
            self.enum_class,
            native_enum=False,
            create_constraint=False,
            length=length,
            validate_strings=True,
        )
