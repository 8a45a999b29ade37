"""Rows → results, fast: models are built with ``object.__new__`` and one ``__dict__`` update.

Rows read from the database are trusted (they were validated on the way in), so no field code
runs per row. ``select_related`` objects come from the same row, sliced by column position.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy.sql.elements import ColumnElement

from orm.exceptions import FieldError

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
        names = tuple(attnames)
        if not related and not annotations:

            def one(row: Any) -> Any:
                obj = _new(model)
                obj.__dict__.update(zip(names, row, strict=False))
                return obj

            def many(rows: Sequence[Any]) -> list[Any]:
                result: list[Any] = []
                append = result.append
                for row in rows:
                    obj = _new(model)
                    obj.__dict__.update(zip(names, row, strict=False))
                    append(obj)
                return result

            return cls(one, many)

        width = len(names)
        annotation_start = width + sum(len(p.attnames) for p in related)
        expressions = [resolver.annotations[name] for name in annotations]

        def one_full(row: Any) -> Any:
            obj = _new(model)
            state = obj.__dict__
            state.update(zip(names, row, strict=False))
            objects: list[Any] = [obj]
            for plan in related:
                parent = objects[plan.parent]
                start = plan.start
                if parent is None or row[start + plan.pk_offset] is None:
                    objects.append(None)
                    if parent is not None:
                        parent.__dict__[plan.cache_name] = None
                    continue
                child = _new(plan.model)
                child.__dict__.update(
                    zip(plan.attnames, row[start : start + len(plan.attnames)], strict=False)
                )
                parent.__dict__[plan.cache_name] = child
                objects.append(child)
            for index, (name, expression) in enumerate(zip(annotations, expressions, strict=True)):
                state[name] = expression.convert(row[annotation_start + index], resolver)
            return obj

        def many_full(rows: Sequence[Any]) -> list[Any]:
            return [one_full(row) for row in rows]

        return cls(one_full, many_full)

    @classmethod
    def for_values(cls, mode: str, names: list[str], converters: list[Any]) -> Hydrator:
        convert = [(i, c) for i, c in enumerate(converters) if c is not None]
        if convert:

            def fix(row: Any) -> tuple[Any, ...]:
                values = list(row)
                for index, (expression, resolver) in convert:
                    values[index] = expression.convert(values[index], resolver)
                return tuple(values)
        else:

            def fix(row: Any) -> tuple[Any, ...]:
                return tuple(row)

        one: Callable[[Any], Any]
        if mode == "dicts":
            keys = tuple(names)

            def one(row: Any) -> Any:
                return dict(zip(keys, fix(row), strict=True))
        elif mode == "flat":

            def one(row: Any) -> Any:
                return fix(row)[0] if convert else row[0]
        elif convert:
            one = fix
        else:

            def one(row: Any) -> Any:
                return row  # asyncdb.Row is a tuple subclass

        def many(rows: Sequence[Any]) -> list[Any]:
            if mode == "tuples" and not convert:
                return list(rows)
            if mode == "flat" and not convert:
                return [row[0] for row in rows]
            return [one(row) for row in rows]

        return cls(one, many)
