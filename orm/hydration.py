"""Rows → results, fast: models are built with ``object.__new__`` and direct ``__dict__`` stores.

Rows read from the database are trusted (they were validated on the way in), so no field code
runs per row. ``select_related`` objects come from the same row, by column position.
"""

from __future__ import annotations

import keyword
from collections.abc import Callable, Sequence
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from sqlalchemy.sql.elements import ColumnElement

from asyncdb.codegen import generate
from orm.exceptions import FieldError
from orm.incomplete import incomplete_class

if TYPE_CHECKING:
    from orm.models import Model
    from orm.query.resolver import Resolver

__all__ = ["Hydrator", "RelatedPlan", "plan_related"]

_new = object.__new__


class RelatedPlan:
    """One ``select_related`` hop: which columns hold it and where the object goes."""

    __slots__ = ("attnames", "cache_name", "group_by", "model", "parent", "pk_offset", "start")

    def __init__(
        self,
        model: type[Model],
        attnames: tuple[str, ...],
        start: int,
        parent: int,
        cache_name: str,
        group_by: list[ColumnElement[Any]],
    ) -> None:
        self.model = model
        self.attnames = attnames
        self.start = start
        self.parent = parent
        self.cache_name = cache_name
        self.pk_offset = attnames.index(model._meta.pk.attname)
        self.group_by = group_by


def plan_related(
    model: type[Model],
    paths: Sequence[str],
    resolver: Resolver,
    columns: list[ColumnElement[Any]],
) -> list[RelatedPlan]:
    """Join every ``select_related`` path, append its columns to ``columns``, plan hydration."""
    plans: list[RelatedPlan] = []
    planned: dict[tuple[str, ...], int] = {(): 0}
    for path in paths:
        parts = tuple(path.split("__"))
        current = model
        for depth in range(1, len(parts) + 1):
            prefix = parts[:depth]
            candidates: dict[str, Any] = {**current._meta.fields, **current._meta.related}
            relation = candidates.get(prefix[-1])
            if relation is None or not getattr(relation, "is_relation", False):
                names = [
                    n
                    for n, f in candidates.items()
                    if getattr(f, "is_relation", False) and not f.multi_valued
                ]
                raise FieldError(
                    f"select_related({path!r}): {current._meta.name} has no relation "
                    f"{prefix[-1]!r}. Valid relations: {', '.join(names) or '(none)'}."
                )
            if relation.multi_valued:
                raise FieldError(
                    f"select_related({path!r}): {current._meta.name}.{prefix[-1]} is "
                    f"many-valued; use prefetch_related({path!r})"
                )
            alias, current = resolver.join(prefix)
            if prefix in planned:
                continue
            attnames = current._meta.attnames
            start = len(columns)
            columns.extend(alias.c[n] for n in attnames)
            planned[prefix] = len(plans) + 1
            plans.append(
                RelatedPlan(
                    current,
                    attnames,
                    start,
                    planned[prefix[:-1]],
                    relation.cache_name,
                    [alias.c[current._meta.pk.attname]],
                )
            )
    return plans


class Hydrator:
    """Turns rows of one compiled select into models, dicts, tuples or single values."""

    __slots__ = ("many", "one")

    def __init__(
        self, one: Callable[[Any], Any], many: Callable[[Sequence[Any]], list[Any]]
    ) -> None:
        self.one = one
        self.many = many

    @classmethod
    def for_models(
        cls,
        model: type[Model],
        attnames: Sequence[str],
        related: list[RelatedPlan],
        annotations: list[str],
        resolver: Resolver,
    ) -> Hydrator:
        """Models from rows: generated code that unpacks each row straight into ``__dict__``s."""
        return _generate(model, tuple(attnames), related, annotations, resolver)

    @classmethod
    def for_values(cls, mode: str, names: list[str], converters: list[Any]) -> Hydrator:
        """Rows of ``values()`` ("dicts"), ``values_list()`` ("tuples": plain tuples;
        "named": ``asyncdb.Row`` objects as ``fetch_all`` gives them) or
        ``values_list(flat=True)`` ("flat"). ``converters`` has, per column, None or the
        (expression, resolver) of an annotation whose values need converting."""
        if mode == "dicts":
            return _generate_dicts(names, converters)
        convert = [(i, c) for i, c in enumerate(converters) if c is not None]

        def fixed(row: Any) -> list[Any]:
            values = list(row)
            for index, (expression, resolver) in convert:
                values[index] = expression.convert(values[index], resolver)
            return values

        one: Callable[[Any], Any]
        many: Callable[[Sequence[Any]], list[Any]]
        if mode == "flat":
            if converters[0] is not None:  # the one value is an annotation's
                expression, resolver = converters[0]
                convert_value = expression.convert

                def one(row: Any) -> Any:
                    return convert_value(row[0], resolver)
            else:
                one = itemgetter(0)
            many = _mapper(one)
        elif mode == "named":
            if convert:

                def one(row: Any) -> Any:
                    return type(row)(fixed(row))  # the same Row class, values converted

                many = _mapper(one)
            else:

                def one(row: Any) -> Any:
                    return row

                many = list
        else:  # "tuples": the driver's records (or asyncdb Rows when streamed) as tuples
            if convert:

                def one(row: Any) -> Any:
                    return tuple(fixed(row))
            else:
                one = tuple
            many = _mapper(one)
        return cls(one, many)


def _mapper(one: Callable[[Any], Any]) -> Callable[[Sequence[Any]], list[Any]]:
    """``many`` from ``one``: ``list(map(one, rows))`` (a C loop; a comprehension is slower)."""

    def many(rows: Sequence[Any]) -> list[Any]:
        return list(map(one, rows))

    return many


def _generate_dicts(names: list[str], converters: list[Any]) -> Hydrator:
    """``values()``: one unpacking of the row and a dict display per row (0.24 µs a row of 8
    columns, where ``dict(zip(keys, row))`` took 0.74 µs). Keys are rendered with ``repr``, a
    literal for any string; a row of another width raises ValueError, as ``zip(strict=True)``
    did."""
    namespace: dict[str, Any] = {}
    items = []
    for index, (name, converter) in enumerate(zip(names, converters, strict=True)):
        if converter is None:
            items.append(f"{name!r}: v{index}")
        else:
            expression, resolver = converter
            namespace[f"C{index}"] = expression.convert
            namespace[f"R{index}"] = resolver
            items.append(f"{name!r}: C{index}(v{index}, R{index})")
    target = f"({''.join(f'v{i}, ' for i in range(len(names)))})"
    display = "{" + ", ".join(items) + "}"
    one = generate(
        "one",
        f"def one(row):\n    {target} = row\n    return {display}\n",
        namespace,
        label="orm values() hydrator: one",
    )
    many = generate(
        "many",
        "def many(rows):\n    result = []\n    append = result.append\n"
        f"    for {target} in rows:\n        append({display})\n    return result\n",
        namespace,
        label="orm values() hydrator: many",
    )
    return Hydrator(one, many)


def _plain_attribute(model: type[Model], name: str) -> bool:
    """``obj.name = v`` stores into the instance like ``obj.__dict__[name] = v`` does: an
    identifier whose class attribute, if any, is not a data descriptor."""
    if not name.isidentifier() or keyword.iskeyword(name) or name.startswith("__"):
        return False
    if model.__setattr__ is not object.__setattr__:
        return False
    for klass in model.__mro__:
        if name in klass.__dict__:
            kind = type(klass.__dict__[name])
            return not (hasattr(kind, "__set__") or hasattr(kind, "__delete__"))
    return True


def _generate(
    model: type[Model],
    names: tuple[str, ...],
    related: list[RelatedPlan],
    annotations: list[str],
    resolver: Resolver,
) -> Hydrator:
    """Build ``one(row)`` and ``many(rows)`` for this column layout, as ``dataclasses`` builds
    ``__init__``: one unpacking of the row and one dict store per value, no loops per column.

    Names in the generated code are attribute names (Python identifiers, checked when the
    model was defined) rendered with ``repr``; nothing from user input reaches it.
    """
    if not set(model._meta.attnames) <= set(names):  # only()/defer(): some values missing
        model = incomplete_class(model)
    namespace: dict[str, Any] = {"_new": _new, "M0": model, "resolver": resolver}
    width = len(names) + sum(len(p.attnames) for p in related) + len(annotations)
    values = [f"v{i}" for i in range(width)]
    # ``many`` gets the rows of this select, so it unpacks exactly their width (0.51 against
    # 0.73 µs a row with a starred target); ``one`` also reads rows with extra columns after
    # these (the many-to-many prefetch appends the link key), so it keeps ``*_rest``.
    exact = f"({''.join(f'{v}, ' for v in values)})"
    body = [f"({', '.join(values)}, *_rest) = row", "o0 = _new(M0)"]
    if all(_plain_attribute(model, name) for name in names):
        # Attribute stores keep the instance's values inline (no dict until one is asked
        # for): 15% faster than dict stores, and smaller.
        body += [f"o0.{name} = v{i}" for i, name in enumerate(names)]
        if annotations:
            body.append("d0 = o0.__dict__")
    else:
        body.append("d0 = o0.__dict__")
        body += [f"d0[{name!r}] = v{i}" for i, name in enumerate(names)]
    for index, plan in enumerate(related, 1):
        namespace[f"M{index}"] = plan.model
        parent, cache = f"o{plan.parent}", repr(plan.cache_name)
        start = plan.start
        if all(_plain_attribute(plan.model, n) for n in plan.attnames):
            stores = [f"    o{index}.{n} = v{start + i}" for i, n in enumerate(plan.attnames)]
        else:
            stores = [f"    d{index} = o{index}.__dict__"]
            stores += [f"    d{index}[{n!r}] = v{start + i}" for i, n in enumerate(plan.attnames)]
        body += [
            f"if {parent} is not None and v{plan.start + plan.pk_offset} is not None:",
            f"    o{index} = _new(M{index})",
            *stores,
            # the relation is a data descriptor on the class: its value goes in the dict
            f"    {parent}.__dict__[{cache}] = o{index}",
            "else:",
            f"    o{index} = None",
            f"    if {parent} is not None:",
            f"        {parent}.__dict__[{cache}] = None",
        ]
    start = width - len(annotations)
    for index, name in enumerate(annotations):
        namespace[f"A{index}"] = resolver.annotations[name].convert
        body.append(f"d0[{name!r}] = A{index}(v{start + index}, resolver)")
    one_source = "def one(row):\n" + "".join(f"    {line}\n" for line in body) + "    return o0\n"
    many_source = (
        "def many(rows):\n    result = []\n    append = result.append\n"
        + f"    for {exact} in rows:\n"
        + "".join(f"        {line}\n" for line in body[1:])
        + "        append(o0)\n    return result\n"
    )
    label = f"orm hydrator {model._meta.name}"
    one = generate("one", one_source, namespace, label=f"{label}: one")
    many = generate("many", many_source, namespace, label=f"{label}: many")
    return Hydrator(one, many)
