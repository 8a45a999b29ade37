"""``prefetch_related``: exactly one extra query per relation path, keyed by ``IN (...)``.

Key lists larger than the backend's bind-parameter limit are split into chunks (one query per
chunk); that only happens for tens of thousands of parent rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from orm.exceptions import FieldError
from orm.fields import REFERENCE
from orm.query.compiler import in_bucket
from orm.relations import ForeignKey, ReverseRelation

if TYPE_CHECKING:
    from asyncdb import Database
    from orm.models import Model
    from orm.queryset import QuerySet

__all__ = ["Prefetch", "prefetch_related_objects"]

# Room left for the parameters of the prefetch queryset's own filters.
_RESERVED_PARAMS = 100

# Many-to-many prefetch statements (the target query joined to the link table), by (compiled
# target query, relation, IN-list size): built and compiled once, then only bound.
_LINKED_CACHE_SIZE = 256
_LINKED: dict[tuple[Any, ...], sa.Select[Any]] = {}


class Prefetch:
    """A prefetch path with its own queryset: ``Prefetch("books", Book.objects.filter(...))``.

    ``to_attr`` stores the loaded list in a plain attribute of that name instead.
    """

    def __init__(
        self, lookup: str, queryset: QuerySet[Any] | None = None, *, to_attr: str | None = None
    ) -> None:
        self.lookup = lookup
        self.queryset = queryset
        self.to_attr = to_attr
        if queryset is not None and queryset._state.sliced:
            raise FieldError(f"Prefetch({lookup!r}): the queryset cannot be sliced")

    def __repr__(self) -> str:
        return f"Prefetch({self.lookup!r})"


def _relation(model: type[Model], name: str, lookup: str) -> Any:
    meta = model._meta
    field = meta.fields.get(name)
    if field is not None and field.is_relation:
        return field
    if name in meta.related:
        return meta.related[name]
    names = [n for n, f in meta.fields.items() if f.is_relation] + list(meta.related)
    raise FieldError(
        f"prefetch_related({lookup!r}): {meta.name} has no relation {name!r}. "
        f"Valid relations: {', '.join(names) or '(none)'}."
    )


def _chunks(keys: list[Any], database: Database) -> list[list[Any]]:
    size = max(1, database.features.max_bind_params - _RESERVED_PARAMS)
    return [keys[i : i + size] for i in range(0, len(keys), size)]


async def prefetch_related_objects(
    instances: Sequence[Any],
    lookups: Sequence[str | Prefetch],
    database: Database,
    route: str | None = None,
) -> None:
    """Load ``lookups`` for ``instances`` (all of one model), one query per path; ``route``
    (``"primary"``/``"replica"``) is where the reads go, as for the parent query."""
    for lookup in lookups:
        prefetch = lookup if isinstance(lookup, Prefetch) else Prefetch(lookup)
        parts = prefetch.lookup.split("__")
        level: list[Any] = [obj for obj in instances if obj is not None]
        for depth, part in enumerate(parts):
            if not level:
                break
            last = depth == len(parts) - 1
            relation = _relation(type(level[0]), part, prefetch.lookup)
            queryset = prefetch.queryset if last else None
            cache_name = prefetch.to_attr if last and prefetch.to_attr else relation.cache_name
            if queryset is None and all(_is_loaded(obj, cache_name) for obj in level):
                level = _next_level(level, cache_name)  # loaded by an earlier path
                continue
            level = await _load(level, relation, queryset, cache_name, database, route)


def _is_loaded(obj: Any, cache_name: str) -> bool:
    value = obj.__dict__.get(cache_name, REFERENCE)
    return value is not REFERENCE and not (
        value is not None and not isinstance(value, list) and REFERENCE in value.__dict__
    )


def _next_level(level: list[Any], cache_name: str) -> list[Any]:
    found: dict[int, Any] = {}
    for obj in level:
        value = obj.__dict__.get(cache_name)
        for child in value if isinstance(value, list) else [value]:
            if child is not None:
                found[id(child)] = child
    return list(found.values())


async def _load(
    level: list[Any],
    relation: Any,
    queryset: QuerySet[Any] | None,
    cache_name: str,
    database: Database,
    route: str | None,
) -> list[Any]:
    target = relation.target_model()
    base = (queryset if queryset is not None else target.objects).using(database)
    if route is not None:
        base = base.using(route)
    if isinstance(relation, ForeignKey):
        keys = [o.__dict__.get(relation.attname) for o in level]
        keys = list(dict.fromkeys(k for k in keys if k is not None))
        by_key: dict[Any, Any] = {}
        for chunk in _chunks(keys, database):
            for found in await base.filter(pk__in=chunk).all():
                by_key[found.pk] = found
        for obj in level:
            obj.__dict__[cache_name] = by_key.get(obj.__dict__.get(relation.attname))
        return list(by_key.values())
    keys = list(dict.fromkeys(obj.pk for obj in level))
    if isinstance(relation, ReverseRelation):
        field = relation.field
        groups: dict[Any, list[Any]] = {}
        children: list[Any] = []
        for chunk in _chunks(keys, database):
            for child in await base.filter(**{f"{field.name}__in": chunk}).all():
                groups.setdefault(child.__dict__.get(field.attname), []).append(child)
                children.append(child)
        for obj in level:
            related = groups.get(obj.pk, [])
            for child in related:
                child.__dict__.setdefault(field.cache_name, obj)  # the way back, no query
            if relation.multi_valued:
                obj.__dict__[cache_name] = related
            else:
                obj.__dict__[cache_name] = related[0] if related else None
        return children
    return await _load_many_to_many(level, relation, base, keys, cache_name, database)


async def _load_many_to_many(
    level: list[Any],
    relation: Any,
    base: QuerySet[Any],
    keys: list[Any],
    cache_name: str,
    database: Database,
) -> list[Any]:
    # The target rows joined to the link table, with the link's source key as a last column
    # (hydration reads the leading columns only).
    through = relation.through_model.table
    target_table = relation.target_model().table
    source = through.c[relation.source_field.attname]
    target_key = target_table.c[relation.target_model()._meta.pk.attname]
    compiled, values = base._compile()
    groups: dict[Any, list[Any]] = {}
    unique: dict[Any, Any] = {}
    for chunk in _chunks(keys, database):
        bucket = in_bucket(chunk)
        key = (compiled, relation, bucket)
        statement = _LINKED.get(key)
        if statement is None:
            if bucket is None:
                keys_in = source.in_(sa.bindparam("orm_link", expanding=True, type_=source.type))
            else:
                binds = [sa.bindparam(f"orm_link_{i}", type_=source.type) for i in range(bucket)]
                keys_in = source.in_(binds)
            statement = (
                compiled.statement.add_columns(source)
                .join(through, through.c[relation.target_field.attname] == target_key)
                .where(keys_in)
            )
            if len(_LINKED) >= _LINKED_CACHE_SIZE:
                _LINKED.clear()
            _LINKED[key] = statement
        if bucket is None:
            params = {**values, "orm_link": chunk}
        else:
            padded = [*chunk, *[chunk[-1]] * (bucket - len(chunk))]
            params = {**values, **{f"orm_link_{i}": k for i, k in enumerate(padded)}}
        for row in await base._reader.fetch_all(statement, params):
            child = compiled.hydrator.one(row)
            child = unique.setdefault(child.pk, child)
            groups.setdefault(row[-1], []).append(child)
    for obj in level:
        obj.__dict__[cache_name] = groups.get(obj.pk, [])
    children = list(unique.values())
    if base._state.prefetch and children:
        await prefetch_related_objects(children, base._state.prefetch, database)
    return children
