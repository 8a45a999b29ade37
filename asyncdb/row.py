"""Result rows: tuples with access by name, built without per-row dictionaries.

Each distinct list of column names gets one ``Row`` subclass whose column attributes are C-level
``itemgetter`` properties, so building a row is one ``tuple.__new__`` and ``row.col`` costs no
Python-level lookup.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from operator import itemgetter
from typing import TYPE_CHECKING, Any, ClassVar

from .cache import BoundedCache
from .codegen import generate

if TYPE_CHECKING:
    from .compiler import CompiledQuery

__all__ = ["Row", "make_row", "make_rows", "processed_records", "row_class"]

# Names that stay Row methods even when a column has the same name (use row["name"] for those).
_RESERVED = frozenset({"keys", "values", "items", "get"})
_classes: BoundedCache[tuple[str, ...], type[Row]] = BoundedCache("asyncdb.row_classes", 4096)


class Row(tuple[Any, ...]):
    """One result row.

    ``row[0]``, ``row["col"]``, ``row.col``, ``len(row)``, ``dict(row)`` (column → value),
    ``row.keys()``; iterating yields the values, and a row equals the tuple of its values.
    """

    __slots__ = ()
    _keys: ClassVar[tuple[str, ...]] = ()
    _index: ClassVar[dict[str, int]] = {}

    def __getitem__(self, key: Any) -> Any:
        if type(key) is str:
            try:
                return tuple.__getitem__(self, self._index[key])
            except KeyError:
                raise KeyError(
                    f"no column {key!r} in this row; columns: {', '.join(self._keys)}"
                ) from None
        return tuple.__getitem__(self, key)

    def __getattr__(self, name: str) -> Any:
        index = self._index.get(name)
        if index is None:
            raise AttributeError(
                f"no column {name!r} in this row; columns: {', '.join(self._keys)}"
            )
        return tuple.__getitem__(self, index)

    def keys(self) -> list[str]:
        return list(self._keys)

    def values(self) -> list[Any]:
        return list(self)

    def items(self) -> list[tuple[str, Any]]:
        return list(zip(self._keys, self, strict=True))

    def get(self, key: str, default: Any = None) -> Any:
        index = self._index.get(key)
        return default if index is None else tuple.__getitem__(self, index)

    def __contains__(self, key: object) -> bool:
        # `"col" in row` asks about columns, as for a mapping.
        return key in self._index

    def _asdict(self) -> dict[str, Any]:
        return dict(zip(self._keys, self, strict=True))

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in zip(self._keys, self, strict=True))
        return f"Row({inner})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (self._keys, tuple(self)))


def _rebuild(keys: tuple[str, ...], values: tuple[Any, ...]) -> Row:
    return row_class(keys)(values)


def row_class(keys: Sequence[str]) -> type[Row]:
    """The ``Row`` subclass for this list of column names (cached)."""
    key = tuple(keys)
    cls = _classes.get(key)
    if cls is not None:
        return cls
    index: dict[str, int] = {}
    namespace: dict[str, Any] = {"__slots__": (), "_keys": key, "_index": index}
    for i, name in enumerate(key):
        # With duplicate names (a join), the first column wins, as in SQLAlchemy's mappings.
        index.setdefault(name, i)
        if (
            name.isidentifier()
            and not name.startswith("_")
            and name not in _RESERVED
            and index[name] == i
        ):
            namespace[name] = property(itemgetter(i))
    return _classes.put(key, type("Row", (Row,), namespace))


def _row_class_for(
    cq: CompiledQuery, width: int, keys: tuple[str, ...] | None
) -> tuple[type[Row], bool]:
    """The Row class for this result (cached on the compiled query), and whether the compiled
    result processors apply (only when the compiled columns match the result)."""
    result_keys = cq.result_keys
    cls: type[Row] | None = cq.row_cls
    if result_keys is not None and len(result_keys) == width:
        if cls is None or cls._keys != result_keys:
            cls = cq.row_cls = row_class(result_keys)
        return cls, True
    names = keys or tuple(f"column_{i}" for i in range(width))
    if cls is None or cls._keys != names:
        cls = cq.row_cls = row_class(names)
    return cls, False


def make_rows(cq: CompiledQuery, rows: list[Any], keys: tuple[str, ...] | None) -> list[Row]:
    if not rows:
        return []
    cls, processed = _row_class_for(cq, len(rows[0]), keys)
    if processed and cq.result_processors:
        rows = _converters(cq)[0](rows)
    return list(map(cls, rows))


def processed_records(cq: CompiledQuery, rows: list[Any]) -> list[Sequence[Any]]:
    """The driver's rows as they are (asyncpg ``Record``, tuples), or as tuples when the
    compiled result processors apply: the same values ``make_rows`` gives, without a ``Row``
    per row."""
    result_keys = cq.result_keys
    if (
        not rows
        or not cq.result_processors
        or result_keys is None
        or len(result_keys) != len(rows[0])
    ):
        return rows
    return _converters(cq)[0](rows)  # type: ignore[no-any-return]


def make_row(cq: CompiledQuery, record: Any, keys: tuple[str, ...] | None) -> Row:
    cls, processed = _row_class_for(cq, len(record), keys)
    if not processed or not cq.result_processors:
        return cls(record)
    return cls(_converters(cq)[1](record))


def _converters(cq: CompiledQuery) -> tuple[Callable[[Any], Any], Callable[[Any], Any]]:
    """``(rows, one)``: functions giving the rows (a record) as tuples with the compiled
    result processors applied (cached on ``cq``; only for rows as wide as its result keys)."""
    converters = cq.converters
    if converters is None:
        assert cq.result_keys is not None
        converters = cq.converters = _generate(len(cq.result_keys), cq.result_processors)
    return converters  # type: ignore[no-any-return]


def _generate(
    width: int, procs: Sequence[tuple[int, Any]]
) -> tuple[Callable[[Any], Any], Callable[[Any], Any]]:
    """Generated code: one unpacking of each record and one tuple display with the processed
    columns called, a third of the time of copying each record into a list and patching it.
    The names are ``v<i>`` and ``P<i>`` for column positions; nothing else reaches the code."""
    namespace: dict[str, Any] = {f"P{i}": proc for i, proc in procs}
    target = "(" + "".join(f"v{i}, " for i in range(width)) + ")"
    display = (
        "("
        + "".join(f"P{i}(v{i}), " if f"P{i}" in namespace else f"v{i}, " for i in range(width))
        + ")"
    )
    rows = generate(
        "rows",
        f"def rows(records):\n    return [{display} for {target} in records]\n",
        namespace,
        label="asyncdb result processors: rows",
    )
    one = generate(
        "one",
        f"def one(record):\n    {target} = record\n    return {display}\n",
        namespace,
        label="asyncdb result processors: one",
    )
    return rows, one
