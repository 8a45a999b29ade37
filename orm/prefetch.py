"""``prefetch_related``: exactly one extra query per relation path, keyed by ``IN (...)``.

Key lists larger than the backend's bind-parameter limit are split into chunks (one query per
chunk); that only happens for tens of thousands of parent rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from orm.exceptions import FieldError
from orm.fields import REFERENCE
from orm.lookups import IN_BUCKET_LIMIT, in_bucket
from orm.relations import ForeignKey, ReverseRelation

if TYPE_CHECKING:
    from asyncdb import Database
    from orm.models import Model
    from orm.query.compiler import Compiled
    from orm.queryset import QuerySet

__all__ = ["Prefetch", "prefetch_related_objects"]

# Room left for the parameters of the prefetch queryset's own filters.
_RESERVED_PARAMS = 100

# Bind names of the keys of a padded IN list (its first ``bucket`` names).
_KEY_NAMES = tuple(f"orm_key_{i}" for i in range(IN_BUCKET_LIMIT))
_EXPANDING = "orm_keys"


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
    # Parents by key, the first of several instances with one key winning (as children's way
    # back); parents sharing a key share one list.
    parents: dict[Any, Any] = {}
    for obj in level:
        parents.setdefault(obj.pk, obj)
    keys = [key for key in parents if key is not None]  # an unsaved parent has no children
    if isinstance(relation, ReverseRelation):
        groups, children = await _load_reverse(parents, relation, base, keys, database)
    else:
        groups, children = await _load_many_to_many(relation, base, keys, database)
    multi = relation.multi_valued
    for obj in level:
        related = groups.get(obj.pk)
        if related is None:
            related = []
        if multi:
            obj.__dict__[cache_name] = related
        else:
            obj.__dict__[cache_name] = related[0] if related else None
    state = base._state
    if state.prefetch and children:
        await prefetch_related_objects(children, state.prefetch, database, state.route)
    return children


def _keyed(
    compiled: Compiled,
    relation: Any,
    bucket: int | None,
    build: Callable[[sa.Select[Any], ColumnElement[bool]], sa.Select[Any]],
    column: sa.Column[Any],
) -> sa.Select[Any]:
    """The prefetch select: ``compiled``'s statement, ``column IN (keys)``, as ``build`` shapes
    it; built once per (compiled select, relation, IN-list size) and then only bound, so the
    SQL text (and the driver's prepared statement) stays the same from call to call. Kept
    with the target model's statements."""
    statements = relation.target_model()._meta.statements
    key = ("prefetch", compiled, relation, bucket)
    statement: sa.Select[Any] | None = statements.get(key)
    if statement is None:
        if bucket is None:
            keys_in = column.in_(sa.bindparam(_EXPANDING, expanding=True, type_=column.type))
        else:
            keys_in = column.in_([sa.bindparam(n, type_=column.type) for n in _KEY_NAMES[:bucket]])
        statement = statements.put(key, build(compiled.statement, keys_in))
    return statement


def _params(values: dict[str, Any], chunk: list[Any], bucket: int | None) -> dict[str, Any]:
    """The queryset's own values and the chunk's keys (padded with its last key to ``bucket``,
    which changes no result)."""
    params = dict(values)
    if bucket is None:
        params[_EXPANDING] = chunk
    else:
        padded = [*chunk, *[chunk[-1]] * (bucket - len(chunk))]
        params.update(zip(_KEY_NAMES[:bucket], padded, strict=True))
    return params


async def _load_reverse(
    parents: dict[Any, Any],
    relation: ReverseRelation,
    base: QuerySet[Any],
    keys: list[Any],
    database: Database,
) -> tuple[dict[Any, list[Any]], list[Any]]:
    """Children of a reverse foreign key grouped by parent key, each child's forward cache
    (``book.author``) set to its parent unless the queryset loaded it already."""
    field = relation.field
    column = relation.target_model().table.c[field.attname]
    compiled, values = base._compile()
    # The key column is read from the row: where the select has it, or as an extra last
    # column when the queryset leaves it out (only()/defer()).
    selected = list(compiled.statement.selected_columns)
    index = next((i for i, c in enumerate(selected) if c is column), -1)

    def build(statement: sa.Select[Any], keys_in: ColumnElement[bool]) -> sa.Select[Any]:
        return (statement if index >= 0 else statement.add_columns(column)).where(keys_in)

    cache = field.cache_name
    groups: dict[Any, list[Any]] = {}
    children: list[Any] = []
    reader = base._reader
    for chunk in _chunks(keys, database):
        bucket = in_bucket(chunk)
        statement = _keyed(compiled, relation, bucket, build, column)
        rows = await reader.fetch_records(statement, _params(values, chunk, bucket))
        if index >= 0:
            found = compiled.hydrator.many(rows)
        else:
            one = compiled.hydrator.one
            found = [one(row) for row in rows]
        children += found
        for child, key in zip(found, [row[index] for row in rows], strict=True):
            group = groups.get(key)
            if group is None:
                groups[key] = [child]
            else:
                group.append(child)
            state = child.__dict__
            if cache not in state:  # select_related may have loaded it
                parent = parents.get(key)
                if parent is not None:
                    state[cache] = parent  # the way back, no query
    return groups, children


async def _load_many_to_many(
    relation: Any,
    base: QuerySet[Any],
    keys: list[Any],
    database: Database,
) -> tuple[dict[Any, list[Any]], list[Any]]:
    """Targets linked to the parents, grouped by parent key: the target rows joined to the
    link table with the link's source key as a last column (hydration reads the leading
    columns). A target linked to several parents is built once and shared."""
    through = relation.through_model.table
    target_table = relation.target_model().table
    source = through.c[relation.source_field.attname]
    target_key = target_table.c[relation.target_model()._meta.pk.attname]
    compiled, values = base._compile()
    selected = list(compiled.statement.selected_columns)
    pk_index = next((i for i, c in enumerate(selected) if c is target_key), None)

    def build(statement: sa.Select[Any], keys_in: ColumnElement[bool]) -> sa.Select[Any]:
        return (
            statement.add_columns(source)
            .join(through, through.c[relation.target_field.attname] == target_key)
            .where(keys_in)
        )

    groups: dict[Any, list[Any]] = {}
    unique: dict[Any, Any] = {}
    one = compiled.hydrator.one
    reader = base._reader
    for chunk in _chunks(keys, database):
        bucket = in_bucket(chunk)
        statement = _keyed(compiled, relation, bucket, build, source)
        for row in await reader.fetch_records(statement, _params(values, chunk, bucket)):
            if pk_index is None:
                child = one(row)
                child = unique.setdefault(child.pk, child)
            else:
                child = unique.get(row[pk_index])
                if child is None:
                    child = unique[row[pk_index]] = one(row)
            group = groups.get(row[-1])
            if group is None:
                groups[row[-1]] = [child]
            else:
                group.append(child)
    return groups, list(unique.values())
